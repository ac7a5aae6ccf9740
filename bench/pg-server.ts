// A throwaway Postgres server for the load benchmark: Debian's Postgres 15 when installed (the version the external
// acceptance test uses), else the embedded one. DATABASE_URL overrides both. Run as root, the server runs as the
// postgres user, which owns its data directory.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../local/embedded-postgres';
import { freePort } from '../local/free-port';

export const PG15_BIN = '/usr/lib/postgresql/15/bin';

export interface BenchServer {
  readonly url: string;
  readonly kind: string;
  stop(): Promise<void>;
}

function asPostgres(cmd: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const result = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' }) : spawnSync(cmd, args, { stdio: 'pipe' });
  if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr?.toString()}`);
}

export async function startBenchServer(databaseUrl: string | undefined): Promise<BenchServer> {
  if (databaseUrl) return { url: databaseUrl, kind: 'DATABASE_URL', stop: async () => undefined };
  if (!existsSync(join(PG15_BIN, 'postgres'))) {
    const embedded = await startEmbeddedPostgres();
    return { url: embedded.url, kind: 'embedded', stop: () => embedded.stop() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'ab-bench-pg15-'));
  if (process.getuid?.() === 0) {
    const ids = execFileSync('id', ['-u', 'postgres']).toString().trim();
    const gid = execFileSync('id', ['-g', 'postgres']).toString().trim();
    chownSync(dir, Number(ids), Number(gid));
  }
  const port = await freePort();
  asPostgres(join(PG15_BIN, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
  // Settings of a small production box: the defaults, with room for the WAL a backfill writes between checkpoints.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_buffers=256MB -c max_wal_size=2GB -c max_connections=100`;
  asPostgres(join(PG15_BIN, 'pg_ctl'), ['-D', join(dir, 'data'), '-l', join(dir, 'server.log'), '-o', options, '-w', 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    kind: 'postgres 15 (Debian)',
    stop: async () => {
      asPostgres(join(PG15_BIN, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
