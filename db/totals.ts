import type pg from 'pg';
import type { LastError } from '../core/controller';
import { quoteIdentifier } from '../core/identifiers';

export type { LastError };

export interface RunTotals {
  readonly itemsSucceeded: number;
  readonly rowsAffected: number;
  /** Items that failed at least once. */
  readonly itemsFailed: number;
  /** Items whose last failure was final and that never succeeded. */
  readonly itemsDeadLettered: number;
  /** Items a code job reported ok without ctx.withTransaction: done at least once, not exactly once. */
  readonly itemsAtLeastOnce: number;
  /** The run's latest item failure, and how many items failed with that very error; null when none failed. */
  readonly lastError: LastError | null;
}

/** Counts derived from the done keys and the failure audit, so they are exact even after crashes. */
export async function readRunTotals(pool: pg.Pool, schema: string, runId: string): Promise<RunTotals> {
  const s = quoteIdentifier(schema);
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM ${s}.done_items WHERE run_id = $1)::bigint AS items_succeeded,
            (SELECT COALESCE(sum(rows_affected), 0) FROM ${s}.done_items WHERE run_id = $1)::bigint AS rows_affected,
            (SELECT count(DISTINCT COALESCE(dedupe_key, message_id)) FROM ${s}.failures WHERE run_id = $1)::bigint AS items_failed,
            (SELECT count(DISTINCT COALESCE(dedupe_key, message_id)) FROM ${s}.failures f WHERE run_id = $1 AND final
               AND NOT EXISTS (SELECT 1 FROM ${s}.done_items d WHERE d.run_id = f.run_id AND d.dedupe_key = f.dedupe_key))::bigint AS items_dead_lettered,
            (SELECT count(*) FROM ${s}.done_items WHERE run_id = $1 AND at_least_once)::bigint AS items_at_least_once`,
    [runId],
  );
  const row = rows[0];
  return {
    itemsSucceeded: Number(row.items_succeeded),
    rowsAffected: Number(row.rows_affected),
    itemsFailed: Number(row.items_failed),
    itemsDeadLettered: Number(row.items_dead_lettered),
    itemsAtLeastOnce: Number(row.items_at_least_once),
    lastError: await readLastError(pool, schema, runId),
  };
}

/** Errors are cut to this length where they are shown (progress line, status, events). */
const ERROR_CHARS = 500;

/**
 * The run's latest recorded item failure, with its item, and how many items failed with exactly that error
 * (a missing column fails every range the same way; a message naming its range matches only that range).
 */
export async function readLastError(pool: pg.Pool, schema: string, runId: string): Promise<LastError | null> {
  const s = quoteIdentifier(schema);
  const { rows } = await pool.query(
    `WITH last AS (SELECT error, dedupe_key FROM ${s}.failures WHERE run_id = $1 ORDER BY id DESC LIMIT 1)
     SELECT last.error, last.dedupe_key,
            (SELECT count(DISTINCT COALESCE(f.dedupe_key, f.message_id)) FROM ${s}.failures f WHERE f.run_id = $1 AND f.error = last.error)::int AS items
     FROM last`,
    [runId],
  );
  const row = rows[0];
  if (!row) return null;
  return { error: String(row.error).slice(0, ERROR_CHARS), dedupeKey: row.dedupe_key ?? null, items: row.items };
}
