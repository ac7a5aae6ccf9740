import pg from 'pg';
import type { Queryable } from '../core/job';

/** Every session we open carries this name, so the health probe can leave our own work out. */
export const APPLICATION_NAME = 'adaptive-backfill';

export type Pool = pg.Pool;

export function makePool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool({ max: 4, connectionTimeoutMillis: 5000, idleTimeoutMillis: 10_000, ...config, application_name: APPLICATION_NAME });
  // An idle client that loses its connection emits 'error'; the next query reconnects, so only report it.
  pool.on('error', (error) => process.emitWarning(`postgres pool: ${error.message}`));
  return pool;
}

export async function withPgClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
  }
}

export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withPgClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

export function asQueryable(client: pg.Pool | pg.PoolClient): Queryable {
  return client as unknown as Queryable;
}
