import { BatchFailedError, KeyRangeError } from '../core/errors';
import { jobStatement, rangeStatementSettings } from '../core/key-range';
import { isSqlJob, type ItemOutcome, type JobContext, type JobDefinition } from '../core/job';
import type { WorkItem } from '../core/work-item';

export const DEADLINE_REASON = 'batch deadline reached before this item finished';

/**
 * Runs the job on a batch before `ctx.deadline`. A SQL job runs its statement per range, each in its own item
 * transaction (bounded by the time left), so a failing range is retried alone and ranges not reached in time
 * come back later. A code job that is still running at the deadline fails the batch as a whole.
 */
export async function runJob(job: JobDefinition, items: readonly WorkItem[], ctx: JobContext): Promise<readonly ItemOutcome[]> {
  if (items.length === 0) return [];
  if (!isSqlJob(job)) return runCodeJob(job.name, () => job.process(items, ctx), items.length, ctx.deadline);
  const outcomes: ItemOutcome[] = [];
  for (const item of items) {
    if (!item.range) {
      outcomes.push({ status: 'fail', reason: 'a sql job needs items with a key range' });
    } else if (Date.now() >= ctx.deadline) {
      outcomes.push({ status: 'retry', reason: DEADLINE_REASON });
    } else {
      try {
        // {{range}} becomes the range's condition over the key; without it, $1 = lo and $2 = hi.
        const statement = jobStatement(job.sql, item.range, (alias) => ctx.rangeCondition(item, 1, alias));
        const settings = rangeStatementSettings(item.range);
        outcomes.push(await ctx.withTransaction(item, async (tx) => {
          if (settings) await tx.query(settings);
          return (await tx.query(statement.text, [...statement.params])).rowCount ?? 0;
        }));
      } catch (error) {
        if (error instanceof KeyRangeError) {
          outcomes.push({ status: 'fail', reason: error.message });
          continue;
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
