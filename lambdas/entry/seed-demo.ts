import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvalidInputError } from '../../core/errors';
import { createDemoTable } from '../../jobs/demo-table';
import { asQueryable, makePool } from '../../db/pool';
import { readDatabaseSecret } from './database-secret';
import { required } from './env';

/** At most this many rows: the seed runs in one invocation (15 minutes). */
export const MAX_SEED_ROWS = 10_000_000;

export interface SeedDemoEvent {
  /** Rows in demo_items. @default 100000 */
  readonly rows?: number;
}

export function seedRows(event: SeedDemoEvent | null | undefined): number {
  const rows = event?.rows ?? 100_000;
  if (!Number.isInteger(rows) || rows < 1 || rows > MAX_SEED_ROWS) throw new InvalidInputError('rows', `must be an integer from 1 to ${MAX_SEED_ROWS}; got ${JSON.stringify(rows)}`);
  return rows;
}

/**
 * The RDS example stack's seed function: (re)creates demo_items, the demo job's table, in the database of the
 * secret. Invoked by hand once, because nothing outside the VPC reaches that database.
 */
export async function handler(event: SeedDemoEvent | null): Promise<{ table: string; rows: number }> {
  const rows = seedRows(event);
  const pool = makePool(await readDatabaseSecret(new SecretsManagerClient({}), required('DATABASE_SECRET_ARN')));
  try {
    await createDemoTable(asQueryable(pool), rows);
  } finally {
    await pool.end();
  }
  return { table: 'demo_items', rows };
}
