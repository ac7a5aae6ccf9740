import type { CodeJobDefinition, ItemOutcome } from '../../core/job';

/**
 * A counter job on `counted (id bigint, n int)` whose range 1 fails for good and range 11 asks for a retry while
 * `broken()` says so; every other range (and these once mended) adds 1 to its rows exactly once.
 */
export function breakableCounterJob(broken: () => boolean): CodeJobDefinition {
  return {
    name: 'counter-code',
    process: async (items, ctx) => Promise.all(items.map((item): Promise<ItemOutcome> => {
      if (broken() && item.range!.lo === '1') return Promise.resolve({ status: 'fail', reason: 'row 1 is poisoned' });
      if (broken() && item.range!.lo === '11') return Promise.resolve({ status: 'retry', reason: 'upstream down' });
      return ctx.withTransaction(item, async (tx) => (await tx.query('UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2', [item.range!.lo, item.range!.hi])).rowCount ?? 0);
    })),
  };
}
