import type pg from 'pg';
import { quoteIdentifier } from '../core/identifiers';
import type { ItemOutcome, Queryable } from '../core/job';
import type { WorkItem } from '../core/work-item';
import { asQueryable, withTransaction } from './pool';

/**
 * Runs an item's effect in a transaction that first claims its dedupe key. A second delivery of the same
 * item finds the key taken (or waits for the first to finish) and changes nothing: exactly-once effects.
 */
export async function runItemTransaction(
  pool: pg.Pool,
  schema: string,
  item: WorkItem,
  effect: (tx: Queryable) => Promise<number>,
  timeoutMs?: number,
): Promise<ItemOutcome & { duplicate?: boolean }> {
  const table = `${quoteIdentifier(schema)}.done_items`;
  return withTransaction(pool, async (client) => {
    if (timeoutMs !== undefined) await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.trunc(timeoutMs))}`);
    const claim = await client.query(
      `INSERT INTO ${table} (run_id, dedupe_key, rows_affected) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING`,
      [item.runId, item.dedupeKey],
    );
    if (claim.rowCount === 0) return { status: 'ok', rowsAffected: 0, duplicate: true };
    const rowsAffected = await effect(asQueryable(client));
    await client.query(`UPDATE ${table} SET rows_affected = $3 WHERE run_id = $1 AND dedupe_key = $2`, [item.runId, item.dedupeKey, rowsAffected]);
    return { status: 'ok', rowsAffected };
  });
}
