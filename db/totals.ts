import type pg from 'pg';
import { quoteIdentifier } from '../core/identifiers';

export interface RunTotals {
  readonly itemsSucceeded: number;
  readonly rowsAffected: number;
  /** Items that failed at least once. */
  readonly itemsFailed: number;
  /** Items whose last failure was final and that never succeeded. */
  readonly itemsDeadLettered: number;
}

/** Counts derived from the done keys and the failure audit, so they are exact even after crashes. */
export async function readRunTotals(pool: pg.Pool, schema: string, runId: string): Promise<RunTotals> {
  const s = quoteIdentifier(schema);
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM ${s}.done_items WHERE run_id = $1)::bigint AS items_succeeded,
            (SELECT COALESCE(sum(rows_affected), 0) FROM ${s}.done_items WHERE run_id = $1)::bigint AS rows_affected,
            (SELECT count(DISTINCT COALESCE(dedupe_key, message_id)) FROM ${s}.failures WHERE run_id = $1)::bigint AS items_failed,
            (SELECT count(DISTINCT COALESCE(dedupe_key, message_id)) FROM ${s}.failures f WHERE run_id = $1 AND final
               AND NOT EXISTS (SELECT 1 FROM ${s}.done_items d WHERE d.run_id = f.run_id AND d.dedupe_key = f.dedupe_key))::bigint AS items_dead_lettered`,
    [runId],
  );
  const row = rows[0];
  return {
    itemsSucceeded: Number(row.items_succeeded),
    rowsAffected: Number(row.rows_affected),
    itemsFailed: Number(row.items_failed),
    itemsDeadLettered: Number(row.items_dead_lettered),
  };
}
