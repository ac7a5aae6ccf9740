import type pg from 'pg';
import { readDeadItems, readOutstandingItems } from '../db/items';
import { quoteIdentifier } from '../core/identifiers';
import { deadLetter, sendItems } from '../queue/work-queue';
import type { LocalQueues } from './local-sqs';

/**
 * The embedded runtime's queues live in memory, for one process. When a run is started again (the same runId,
 * after a crash, an abort, a halt, or a `backfill enqueue --local`), they are rebuilt from the bookkeeping tables:
 * items not yet done go back to the work queue, dead items to the DLQ with their reasons. Duplicates are harmless:
 * every effect is claimed by its dedupe key.
 */
export async function restoreLocalQueues(pool: pg.Pool, schema: string, runId: string, queues: LocalQueues): Promise<{ outstanding: number; dead: number }> {
  const exists = await pool.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${quoteIdentifier(schema)}.items`]);
  if (!exists.rows[0].ok) return { outstanding: 0, dead: 0 };
  const outstanding = await readOutstandingItems(pool, schema, runId);
  const dead = await readDeadItems(pool, schema, runId);
  await sendItems(queues.sqs, queues.queueUrl, outstanding);
  await Promise.all(dead.map((d) => deadLetter(queues.sqs, queues.deadLetterQueueUrl, { Body: JSON.stringify(d.item), MessageId: d.item.dedupeKey }, d.reason)));
  return { outstanding: outstanding.length, dead: dead.length };
}
