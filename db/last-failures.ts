import type pg from 'pg';
import { quoteIdentifier } from '../core/identifiers';

export interface ItemKey {
  readonly runId: string;
  readonly dedupeKey: string;
}

export interface LastFailure extends ItemKey {
  readonly attempt: number;
  readonly error: string;
  readonly failedAt: string;
}

/**
 * The latest recorded failure of each item, from the failure audit. This is where the reason of an item that SQS
 * moved to the DLQ itself (after maxReceiveCount) is found: such a message carries no reason of its own.
 */
export async function readLastFailures(pool: pg.Pool, schema: string, keys: readonly ItemKey[]): Promise<LastFailure[]> {
  if (keys.length === 0) return [];
  const { rows } = await pool.query(
    `SELECT DISTINCT ON (f.run_id, f.dedupe_key) f.run_id, f.dedupe_key, f.attempt, f.error, f.failed_at
     FROM ${quoteIdentifier(schema)}.failures f
     JOIN jsonb_to_recordset($1::jsonb) AS k(run_id text, dedupe_key text) ON k.run_id = f.run_id AND k.dedupe_key = f.dedupe_key
     ORDER BY f.run_id, f.dedupe_key, f.id DESC`,
    [JSON.stringify(keys.map((k) => ({ run_id: k.runId, dedupe_key: k.dedupeKey })))],
  );
  return rows.map((row) => ({ runId: row.run_id, dedupeKey: row.dedupe_key, attempt: row.attempt, error: row.error, failedAt: (row.failed_at as Date).toISOString() }));
}
