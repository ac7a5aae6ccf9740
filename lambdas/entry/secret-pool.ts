import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type pg from 'pg';
import { makePool } from '../../db/pool';
import { readDatabaseSecret } from './database-secret';

/** SQLSTATE invalid_password: the database no longer takes the password the pool was made with (a rotation). */
export const INVALID_PASSWORD = '28P01';

export interface SecretPoolOptions {
  readonly secrets: SecretsManagerClient;
  readonly secretArn: string;
  /** How long a pool is used before the secret is read again. @default 5 minutes */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/**
 * One pool per container, made from the database secret and made again from a fresh read every `ttlMs`, so a
 * rotated password is picked up. A connection refused for its password drops the pool at once: the next call reads
 * the secret again instead of failing until the TTL runs out. The pool it replaces is closed then, not earlier, so
 * work still holding it in this invocation is not cut off.
 */
export function makeSecretPool(options: SecretPoolOptions): () => Promise<pg.Pool> {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  let cached: { pool: pg.Pool; expires: number } | undefined;
  return async () => {
    if (cached && cached.expires > now()) return cached.pool;
    const previous = cached?.pool;
    const pool = makePool(await readDatabaseSecret(options.secrets, options.secretArn));
    onConnectError(pool, (error) => {
      if ((error as { code?: string }).code === INVALID_PASSWORD && cached?.pool === pool) cached = { pool, expires: 0 };
    });
    cached = { pool, expires: now() + ttlMs };
    if (previous) previous.end().catch((error: Error) => process.emitWarning(`closing the previous pool: ${error.message}`));
    return pool;
  };
}

type ConnectCallback = (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void;

/**
 * Calls `listener` with every error of opening or taking a session from `pool`. pg.Pool's query() goes through
 * connect() with a callback, so wrapping connect() sees both ways in.
 */
function onConnectError(pool: pg.Pool, listener: (error: Error) => void): void {
  const connect = pool.connect.bind(pool) as (callback?: ConnectCallback) => Promise<pg.PoolClient> | undefined;
  const watched = (callback?: ConnectCallback) => {
    if (callback) {
      return connect((error, client, done) => {
        if (error) listener(error);
        callback(error, client, done);
      });
    }
    return connect()!.catch((error: Error) => {
      listener(error);
      throw error;
    });
  };
  (pool as { connect: unknown }).connect = watched;
}
