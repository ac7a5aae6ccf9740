import { BatchFailedError } from '../core/errors';
import { isSqlJob, type ItemOutcome, type JobContext, type JobDefinition } from '../core/job';
import type { WorkItem } from '../core/work-item';
import type { BatchOutcome } from './settle';
import type { BatchSteering } from './steering';

export const DEADLINE_REASON = 'batch deadline reached before this item finished';

/**
 * Runs the job on a batch before `ctx.deadline`. A SQL job runs its statement per range, each in its own item
 * transaction (bounded by the time left), so a failing range is retried alone and ranges not reached in time
 * come back later. A code job that is still running at the deadline fails the batch as a whole.
 *
 * With `steering` (a SQL job, latency.enabled), the batch pauses between statements for the time the latency
 * controller chose, and a critical verdict of the sampler stops it: the items not started (and the one whose
 * statement the sampler cancelled in a lock wait) are handed back, with no retry charged.
 */
export async function runJob(job: JobDefinition, items: readonly WorkItem[], ctx: JobContext, steering?: BatchSteering): Promise<readonly BatchOutcome[]> {
  if (items.length === 0) return [];
  if (!isSqlJob(job)) return runCodeJob(job.name, () => job.process(items, ctx), items.length, ctx.deadline);
  const outcomes: BatchOutcome[] = [];
  for (const [index, item] of items.entries()) {
    const stop = steering ? await steering.beforeStatement(index === 0) : undefined;
    if (stop !== undefined) {
      for (let i = index; i < items.length; i += 1) outcomes.push({ status: 'handBack', reason: stop });
      break;
    }
    if (!item.range) {
      outcomes.push({ status: 'fail', reason: 'a sql job needs items with a key range' });
    } else if (Date.now() >= ctx.deadline) {
      outcomes.push({ status: 'retry', reason: DEADLINE_REASON });
    } else {
      const { lo, hi } = item.range;
      const started = Date.now();
      try {
        outcomes.push(await ctx.withTransaction(item, async (tx) => {
          steering?.watch((tx as { processID?: number }).processID);
          try {
            return (await tx.query(job.sql, [lo, hi])).rowCount ?? 0;
          } finally {
            steering?.watch(undefined);
          }
        }));
        steering?.afterStatement(Date.now() - started);
      } catch (error) {
        const stopped = steering?.stopReason();
        if (stopped !== undefined && (error as { code?: string }).code === '57014') {
          // The sampler cancelled this statement in a critical lock wait: it rolled back, so it goes back uncharged too.
          for (let i = index; i < items.length; i += 1) outcomes.push({ status: 'handBack', reason: stopped });
          break;
        }
        const reason = (error as { code?: string }).code === '57014' && Date.now() >= ctx.deadline ? DEADLINE_REASON : (error as Error).message;
        outcomes.push({ status: 'retry', reason, stack: (error as Error).stack });
      }
    }
  }
  return outcomes;
}

async function runCodeJob(name: string, process: () => Promise<readonly ItemOutcome[]>, count: number, deadline: number): Promise<readonly ItemOutcome[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BatchFailedError(`job ${name} did not finish its batch before the deadline`)), Math.max(0, deadline - Date.now()));
  });
  try {
    const outcomes = await Promise.race([process(), timeout]);
    if (!Array.isArray(outcomes) || outcomes.length !== count) {
      throw new Error(`job ${name}: process() must return one outcome per item (${count}); got ${Array.isArray(outcomes) ? outcomes.length : typeof outcomes}`);
    }
    return outcomes;
  } finally {
    clearTimeout(timer);
  }
}
