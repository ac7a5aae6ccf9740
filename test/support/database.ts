import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { makePool } from '../../db/pool';
import { startEmbeddedPostgres } from '../../local/embedded-postgres';
import { localEnv } from '../../local/env';

export interface TestDatabase {
  readonly url: string;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * A fresh database for one test file: on DATABASE_URL's server when set, else on an embedded Postgres
 * started for this file. Dropped (or the server stopped) by close(). `alwaysEmbedded` for a test that needs what
 * only the embedded server is known to have (password authentication).
 */
export async function openTestDatabase(options: { readonly alwaysEmbedded?: boolean } = {}): Promise<TestDatabase> {
  const embedded = localEnv.databaseUrl && !options.alwaysEmbedded ? undefined : await startEmbeddedPostgres();
  const serverUrl = embedded?.url ?? localEnv.databaseUrl!;
  const name = `ab_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pool = makePool({ connectionString: url.toString(), max: 6 });
  return {
    url: url.toString(),
    pool,
    close: async () => {
      await pool.end();
      if (embedded) return embedded.stop();
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

/** A second session, outside the backfill's application name, for causing load or holding locks. */
export async function openOtherSession(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'test-traffic' });
  await client.connect();
  return client;
}
