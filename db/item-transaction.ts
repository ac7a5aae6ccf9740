import type pg from 'pg';
import { quoteIdentifier } from '../core/identifiers';
import type { ItemOutcome, Queryable } from '../core/job';
import type { WorkItem } from '../core/work-item';
import { asQueryable, rollback, withPgClient } from './pool';

/**
 * Runs an item's effect in a transaction that first claims its dedupe key. A second delivery of the same
 * item finds the key taken (or waits for the first to finish) and changes nothing: exactly-once effects.
 *
 * The commit does not wait for its WAL flush (synchronous_commit off, this transaction only): the batch
 * processor makes the whole batch durable with one synchronous commit (flushBatch) before it deletes any
 * message, so a crash can only lose effects whose messages are still in the queue, and they are redone.
 * One flush per batch instead of one per item also spares the database's disk.
 *
 * Three round trips per item: the prelude (begin, settings, claim) and the finale (record, commit) each go as
 * one multi-statement simple query, their values escaped by the driver; the effect runs with its parameters.
 */
export async function runItemTransaction(
  pool: pg.Pool,
  schema: string,
  item: WorkItem,
  effect: (tx: Queryable) => Promise<number>,
  timeoutMs?: number,
): Promise<ItemOutcome & { duplicate?: boolean }> {
  const table = `${quoteIdentifier(schema)}.done_items`;
  return withPgClient(pool, async (client) => {
    const runId = client.escapeLiteral(item.runId);
    const dedupeKey = client.escapeLiteral(item.dedupeKey);
    // Without a deadline the database's own statement_timeout stays in force.
    const timeout = timeoutMs === undefined ? '' : `SET LOCAL statement_timeout = ${Math.max(1, Math.trunc(timeoutMs))};`;
    const lo = item.range ? `${client.escapeLiteral(item.range.lo)}::numeric` : 'NULL';
    const hi = item.range ? `${client.escapeLiteral(item.range.hi)}::numeric` : 'NULL';
    // Overlapping work (db/overlaps.ts does it at enqueue and planning time): done ranges of the run do not overlap
    // one another, so the only one that can overlap [lo, hi) is the done range starting last before hi.
    const overlap = item.range
      ? `; SELECT dedupe_key, lo::text AS lo, hi::text AS hi FROM (SELECT dedupe_key, lo, hi FROM ${table}
           WHERE run_id = ${runId} AND dedupe_key <> ${dedupeKey} AND lo < ${hi} ORDER BY lo DESC LIMIT 1) nearest WHERE hi > ${lo}`
      : '';
    try {
      const prelude = (await client.query(
        `BEGIN; SET LOCAL synchronous_commit = off; ${timeout}
         INSERT INTO ${table} (run_id, dedupe_key, rows_affected, lo, hi) VALUES (${runId}, ${dedupeKey}, 0, ${lo}, ${hi}) ON CONFLICT DO NOTHING${overlap}`,
      )) as unknown as pg.QueryResult[];
      if (prelude.at(item.range ? -2 : -1)!.rowCount === 0) {
        await client.query('ROLLBACK');
        return { status: 'ok', rowsAffected: 0, duplicate: true };
      }
      const done = item.range ? prelude.at(-1)!.rows[0] : undefined;
      if (done) {
        // Work sent around the checks (straight to SQS) that covers keys already done: refused, never applied twice.
        await client.query('ROLLBACK');
        return { status: 'fail', reason: `overlaps work already done for run ${item.runId}: ${item.dedupeKey} [${item.range!.lo}, ${item.range!.hi}) overlaps ${done.dedupe_key} [${done.lo}, ${done.hi}); refused, so no row is changed twice` };
      }
      const rowsAffected = await effect(asQueryable(client));
      if (!Number.isSafeInteger(rowsAffected) || rowsAffected < 0) throw new Error(`the item's effect must return a row count; got ${JSON.stringify(rowsAffected)}`);
      await client.query(`UPDATE ${table} SET rows_affected = ${rowsAffected} WHERE run_id = ${runId} AND dedupe_key = ${dedupeKey}; COMMIT`);
      return { status: 'ok', rowsAffected };
    } catch (error) {
      // A lost connection (a restart mid-item) fails the item; withPgClient discards the session.
      await rollback(client);
      throw error;
    }
  });
}
