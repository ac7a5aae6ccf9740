import type pg from 'pg';
import { quoteIdentifier } from '../core/identifiers';

export interface FailureRecord {
  readonly runId: string;
  readonly dedupeKey?: string;
  readonly messageId?: string;
  readonly attempt: number;
  readonly error: string;
  readonly stack?: string;
  /** True when this item will not be tried again (it is, or is about to be, in the DLQ). */
  readonly final: boolean;
}

/** The failure audit: one row per failed attempt, with the error and its stack. */
export async function recordFailures(pool: pg.Pool, schema: string, failures: readonly FailureRecord[]): Promise<void> {
  if (failures.length === 0) return;
  await pool.query(
    `INSERT INTO ${quoteIdentifier(schema)}.failures (run_id, dedupe_key, message_id, attempt, error, stack, final)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS f(run_id text, dedupe_key text, message_id text, attempt integer, error text, stack text, final boolean)`,
    [JSON.stringify(failures.map((f) => ({ run_id: f.runId, dedupe_key: f.dedupeKey ?? null, message_id: f.messageId ?? null, attempt: f.attempt, error: f.error, stack: f.stack ?? null, final: f.final })))],
  );
}
