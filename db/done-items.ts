import type pg from 'pg';
import { quoteIdentifier } from '../core/identifiers';

export interface DoneAfterTheFact {
  readonly runId: string;
  readonly dedupeKey: string;
  readonly rowsAffected: number;
}

/**
 * Records items done that a code job reported `ok` without calling ctx.withTransaction: their effect ran outside
 * the dedupe claim, so it is at-least-once (a redelivery before this record runs it again). Marked so, and counted
 * in the run's totals (itemsAtLeastOnce). An item already done keeps its record.
 */
export async function recordDoneAfterTheFact(pool: pg.Pool, schema: string, items: readonly DoneAfterTheFact[]): Promise<void> {
  if (items.length === 0) return;
  await pool.query(
    `INSERT INTO ${quoteIdentifier(schema)}.done_items (run_id, dedupe_key, rows_affected, at_least_once)
     SELECT run_id, dedupe_key, rows_affected, true FROM jsonb_to_recordset($1::jsonb) AS d(run_id text, dedupe_key text, rows_affected bigint)
     ON CONFLICT (run_id, dedupe_key) DO NOTHING`,
    [JSON.stringify(items.map((i) => ({ run_id: i.runId, dedupe_key: i.dedupeKey, rows_affected: i.rowsAffected })))],
  );
}

/** Which of these dedupe keys of a run are recorded done already (their effect committed, or was recorded after the fact). */
export async function readDoneKeys(pool: pg.Pool, schema: string, runId: string, dedupeKeys: readonly string[]): Promise<Set<string>> {
  if (dedupeKeys.length === 0) return new Set();
  const { rows } = await pool.query<{ dedupe_key: string }>(
    `SELECT dedupe_key FROM ${quoteIdentifier(schema)}.done_items WHERE run_id = $1 AND dedupe_key = ANY($2::text[])`,
    [runId, [...new Set(dedupeKeys)]],
  );
  return new Set(rows.map((row) => row.dedupe_key));
}
