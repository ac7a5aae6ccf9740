import pg from 'pg';
import type { Queryable } from '../core/job';

/** Every session we open carries this name, so the health probe can leave our own work out. */
export const APPLICATION_NAME = 'adaptive-backfill';

export type Pool = pg.Pool;

/** The error a session's connection died of, once it has; such a session goes back to the pool with it (discarded). */
const lostConnections = new WeakMap<pg.ClientBase, Error>();

/** Why `client`'s connection is gone (a restart, a failover, a cut network), or undefined while it is usable. */
export function connectionLost(client: pg.ClientBase): Error | undefined {
  return lostConnections.get(client);
}

/**
 * A pool whose sessions can never crash the process. pg emits 'error' on a client whose connection dies (the server
 * restarted or went away): on an idle client the pool handles it, but a checked-out client has no listener of its
 * own, and an unhandled 'error' kills the process ("Connection terminated unexpectedly ... Emitted 'error' event on
 * Client instance"). So every session gets a listener for its whole life: the error is remembered (connectionLost),
 * and the statement in flight, if any, fails with it as usual; the code that holds the session sees a failed query
 * and releases the session with the error, so the pool discards it.
 */
export function makePool(config: pg.PoolConfig): pg.Pool {
  return handleSessionErrors(new pg.Pool({ max: 4, connectionTimeoutMillis: 5000, idleTimeoutMillis: 10_000, ...config, application_name: APPLICATION_NAME }));
}

/** What makePool does for its sessions, for a pool made otherwise (the benchmarks' other traffic). */
export function handleSessionErrors(pool: pg.Pool): pg.Pool {
  pool.on('connect', (client) => {
    client.on('error', (error) => {
      if (!lostConnections.has(client)) lostConnections.set(client, error);
    });
  });
  // An idle client that loses its connection emits 'error' here too; the pool drops it and the next query reconnects.
  pool.on('error', (error) => process.emitWarning(`postgres pool: ${error.message}`));
  return pool;
}

/**
 * Runs `fn` with a session of `pool` and releases it: as it came when it is still usable, with the error (so the
 * pool discards it) when its connection died or `fn` left it in an unknown state (`broken`).
 */
export async function withPgClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (error) {
    if (isConnectionError(error)) broken = error as Error;
    throw error;
  } finally {
    client.release(connectionLost(client) ?? broken);
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
      await rollback(client);
      throw error;
    }
  });
}

/**
 * Rolls back, keeping the caller's error the one thrown. A ROLLBACK that fails (the connection is gone) marks the
 * session lost, so withPgClient discards it rather than hand a session in an open transaction to the next caller.
 */
export async function rollback(client: pg.PoolClient): Promise<void> {
  try {
    await client.query('ROLLBACK');
  } catch (error) {
    if (!lostConnections.has(client)) lostConnections.set(client, error as Error);
  }
}

/**
 * Errors that mean the session (not the statement) failed: the connection closed or reset, or the server is
 * shutting down or restarting (SQLSTATE class 08 connection exceptions, 57P01-57P03 admin shutdown, crash shutdown,
 * cannot connect now). A batch that meets one fails as a whole and its items come back.
 */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code.startsWith('08') || ['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code)) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|not queryable|connection timeout|Client was closed/i.test(message);
}

export function asQueryable(client: pg.Pool | pg.PoolClient): Queryable {
  return client as unknown as Queryable;
}
