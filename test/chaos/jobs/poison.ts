import { defineJob } from '../../../core/job';
import type { IntegerRange } from '../../../core/work-item';
import { CHAOS_SETTINGS, untouched } from './settings';

/**
 * A code job whose process() throws for the whole batch when the batch holds a range with a row listed in
 * `chaos_poison (id bigint)`: the poison item. Deleting that row from chaos_poison is the fix.
 */
export default defineJob({
  name: 'chaos-poison',
  source: { table: 'chaos_rows', key: 'id' },
  settings: CHAOS_SETTINGS,
  remaining: untouched,
  async process(items, ctx) {
    const { rows } = await ctx.db.query<{ id: string }>('SELECT id::text FROM chaos_poison');
    for (const item of items) {
      const poisoned = rows.find((r) => BigInt(r.id) >= BigInt((item.range as IntegerRange).lo) && BigInt(r.id) < BigInt((item.range as IntegerRange).hi));
      if (poisoned) throw new Error(`poisoned row ${poisoned.id}`);
    }
    return Promise.all(items.map((item) => ctx.withTransaction(item, async (tx) => (await tx.query('UPDATE chaos_rows SET touched = touched + 1 WHERE id >= $1 AND id < $2', [item.range!.lo, item.range!.hi])).rowCount ?? 0)));
  },
});
