import { defineJob, type ItemOutcome } from '../../../core/job';
import { CHAOS_SETTINGS, untouched } from './settings';

/**
 * A code job whose items starting at a key listed in `chaos_retry (lo bigint)` ask for a retry the first time they
 * are seen (remembered in `chaos_retry_seen`), then succeed; every other item succeeds at once.
 */
export default defineJob({
  name: 'chaos-retry-once',
  source: { table: 'chaos_rows', key: 'id' },
  settings: CHAOS_SETTINGS,
  remaining: untouched,
  async process(items, ctx) {
    return Promise.all(items.map(async (item): Promise<ItemOutcome> => {
      const first = await ctx.db.query(`INSERT INTO chaos_retry_seen (lo) SELECT lo FROM chaos_retry WHERE lo = $1 ON CONFLICT DO NOTHING`, [item.range!.lo]);
      if (first.rowCount === 1) return { status: 'retry', reason: `range ${item.range!.lo} asks for a retry once` };
      return ctx.withTransaction(item, async (tx) => (await tx.query('UPDATE chaos_rows SET touched = touched + 1 WHERE id >= $1 AND id < $2', [item.range!.lo, item.range!.hi])).rowCount ?? 0);
    }));
  },
});
