import type pg from 'pg';
import { InvalidInputError } from '../core/errors';
import { quoteIdentifier } from '../core/identifiers';
import { uncoveredParts } from '../core/range-gaps';
import { makeRangeItem, type KeyRange, type WorkItem } from '../core/work-item';
import { recordItems } from './items';
import { withTransaction } from './pool';

/** A new item whose key range shares keys with work already recorded for the run (or with another new item). */
export interface Overlap {
  readonly dedupeKey: string;
  readonly range: KeyRange;
  /** The recorded (or other new) item it overlaps. */
  readonly overlapsKey: string;
  readonly overlapsRange: KeyRange;
}

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/**
 * THE overlap test of key ranges, in SQL, in one place: [lo, hi) and [lo2, hi2) share a key when their half-open
 * numeric ranges intersect (numrange's default bounds are [)). Range ends are integers carried as decimal strings,
 * exact as numeric for any bigint. When keys become typed (uuid, text, composite), this and recordedRange are what
 * to generalize: a range type over the key's type, or row comparisons.
 */
export function rangesOverlapSql(range: string, lo2: string, hi2: string): string {
  return `${range} && numrange((${lo2})::numeric, (${hi2})::numeric)`;
}

/** The range of a recorded item (items.body of `alias`), the expression the GiST index items_range (schema.ts) is on. */
export function recordedRange(alias?: string): string {
  const body = alias ? `${alias}.body` : 'body';
  return `numrange((${body}->'range'->>'lo')::numeric, (${body}->'range'->>'hi')::numeric)`;
}

/**
 * The items of `items` (those with a range) whose keys overlap an item already recorded for their run in
 * `schema`.items under another dedupe key, or another item of `items`: the first overlap of each, by key. The same
 * dedupe key is the same item (recorded once), never an overlap. Items without a range are not compared: their
 * effect is the job's to define.
 */
export async function findOverlaps(db: Queryable, schema: string, runId: string, items: readonly WorkItem[]): Promise<Overlap[]> {
  const ranged = items.filter((item) => item.range !== undefined).map((item) => ({ k: item.dedupeKey, lo: item.range!.lo, hi: item.range!.hi }));
  if (ranged.length === 0) return [];
  const { rows } = await db.query(
    `WITH new AS (SELECT DISTINCT ON (n->>'k') n->>'k' AS k, n->>'lo' AS lo, n->>'hi' AS hi FROM jsonb_array_elements($2::jsonb) AS n),
     hits AS (
       SELECT n.k, n.lo, n.hi, r.dedupe_key AS ok, r.body->'range'->>'lo' AS olo, r.body->'range'->>'hi' AS ohi
       FROM new n JOIN ${quoteIdentifier(schema)}.items r
         ON r.run_id = $1 AND r.body ? 'range' AND r.dedupe_key <> n.k AND ${rangesOverlapSql(recordedRange('r'), 'n.lo', 'n.hi')}
       UNION ALL
       SELECT n.k, n.lo, n.hi, m.k, m.lo, m.hi FROM new n JOIN new m ON m.k <> n.k AND ${rangesOverlapSql('numrange(m.lo::numeric, m.hi::numeric)', 'n.lo', 'n.hi')})
     SELECT DISTINCT ON (k) k, lo, hi, ok, olo, ohi FROM hits ORDER BY k, olo::numeric, ok`,
    [runId, JSON.stringify(ranged)],
  );
  return rows.map((r) => ({ dedupeKey: r.k, range: { lo: r.lo, hi: r.hi }, overlapsKey: r.ok, overlapsRange: { lo: r.olo, hi: r.ohi } }));
}

/** The recorded ranges of the run that overlap [lo, hi), in key order: what a planned range must leave out. */
export async function recordedRangesWithin(db: Queryable, schema: string, runId: string, range: KeyRange): Promise<Array<KeyRange & { readonly dedupeKey: string }>> {
  const { rows } = await db.query(
    `SELECT dedupe_key, body->'range'->>'lo' AS lo, body->'range'->>'hi' AS hi FROM ${quoteIdentifier(schema)}.items
     WHERE run_id = $1 AND body ? 'range' AND ${rangesOverlapSql(recordedRange(), '$2', '$3')}
     ORDER BY (body->'range'->>'lo')::numeric`,
    [runId, range.lo, range.hi],
  );
  return rows.map((r) => ({ dedupeKey: r.dedupe_key, lo: r.lo, hi: r.hi }));
}

/** `key [lo, hi) overlaps key2 [lo2, hi2)`, for the first few overlaps, and how many more there are. */
export function describeOverlaps(overlaps: readonly Overlap[], listed = 10): string {
  const shown = overlaps.slice(0, listed).map((o) => `${o.dedupeKey} [${o.range.lo}, ${o.range.hi}) overlaps ${o.overlapsKey} [${o.overlapsRange.lo}, ${o.overlapsRange.hi})`);
  return `${shown.join('; ')}${overlaps.length > listed ? `; and ${overlaps.length - listed} more` : ''}`;
}

/** Serializes the recording of one run's items (enqueue, planning), so two of them cannot both pass the check. */
async function lockRunItems(client: pg.PoolClient, schema: string, runId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('adaptive-backfill:items:' || $1 || ':' || $2))`, [schema, runId]);
}

/**
 * Records producer items (`backfill enqueue`) for their run unless one overlaps work already recorded for it (or
 * another of them): then nothing is recorded, and the error lists the overlapping keys. Refused rather than split:
 * a producer's item is one effect under one dedupe key (its payload may mean the whole range), which the producer,
 * not this tool, can cut up. Returns how many items were new.
 */
export async function recordItemsRefusingOverlaps(pool: pg.Pool, schema: string, items: readonly WorkItem[]): Promise<number> {
  return withTransaction(pool, async (client) => {
    const runIds = [...new Set(items.map((item) => item.runId))].sort();
    for (const runId of runIds) await lockRunItems(client, schema, runId);
    const overlaps = (await Promise.all(runIds.map((runId) => findOverlaps(client, schema, runId, items.filter((i) => i.runId === runId))))).flat();
    if (overlaps.length > 0) {
      throw new InvalidInputError('stdin', `${overlaps.length} item${overlaps.length === 1 ? ' overlaps' : 's overlap'} work already recorded for the run, nothing was enqueued (an overlapping range would change its rows twice): ${describeOverlaps(overlaps)}`);
    }
    let recorded = 0;
    for (let i = 0; i < items.length; i += 1000) recorded += await recordItems(client, schema, items.slice(i, i + 1000));
    return recorded;
  });
}

/**
 * Records a group of planned ranges, leaving out the keys that recorded work of the run already covers (producer
 * items, or ranges of an earlier planning that was interrupted before the table changed): each planned range
 * becomes its uncovered parts, each part an item of its own. Planning never records overlapping ranges. Returns
 * the items recorded (to be sent).
 */
export async function recordPlannedRanges(pool: pg.Pool, schema: string, runId: string, ranges: readonly KeyRange[]): Promise<WorkItem[]> {
  if (ranges.length === 0) return [];
  return withTransaction(pool, async (client) => {
    await lockRunItems(client, schema, runId);
    const span = { lo: ranges[0].lo, hi: ranges.at(-1)!.hi };
    const recorded = await recordedRangesWithin(client, schema, runId, span);
    const items = ranges.flatMap((range) => {
      // A range recorded before under its own key is that same item again (an interrupted planning): kept once.
      const item = makeRangeItem(runId, range);
      if (recorded.some((r) => r.dedupeKey === item.dedupeKey)) return [item];
      return uncoveredParts(range, recorded).map((part) => makeRangeItem(runId, part));
    });
    await recordItems(client, schema, items);
    return items;
  });
}
