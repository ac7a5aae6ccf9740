import { JobDeadlineError, KeyRangeError } from '../core/errors';
import { jobStatement, rangeStatementSettings } from '../core/key-range';
import { isSqlJob, type ItemOutcome, type JobContext, type JobDefinition } from '../core/job';
import type { WorkItem } from '../core/work-item';
import type { BatchSteering } from './steering';

export const DEADLINE_REASON = 'batch deadline reached before this item finished';

/**
 * An item the batch did not get to try in earnest (not reached before the deadline, cut off by it while sharing
 * the invocation, or not started, or cancelled, once a critical latency verdict stopped the batch): it goes back
 * uncharged (see handBackUncharged), so throttling never uses up retries.
 */
export interface Untried {
  readonly status: 'untried';
  readonly reason: string;
}

export type JobOutcome = ItemOutcome | Untried;

export interface JobRun {
  /** One per item, in order. */
  readonly outcomes: readonly JobOutcome[];
  /** Set when a code job's failing batch could not be split down to its poison items before the deadline. */
  readonly incomplete?: string;
}

/**
 * Runs the job on a batch before `ctx.deadline`. A SQL job runs its statement per range, each in its own item
 * transaction (bounded by the time left), so a failing range is retried alone and ranges not reached in time
 * come back later, uncharged. A code job whose process() throws for the batch is split (isolatePoison) until each
 * failure is an item's own.
 *
 * With `steering` (a SQL job, latency.enabled), the batch pauses between statements for the time the latency
 * controller chose, and a critical verdict of the sampler stops it: the items not started (and the one whose
 * statement the sampler cancelled in a lock wait) are 'untried', handed back with no retry charged.
 */
export async function runJob(job: JobDefinition, items: readonly WorkItem[], ctx: JobContext, steering?: BatchSteering): Promise<JobRun> {
  if (items.length === 0) return { outcomes: [] };
  if (!isSqlJob(job)) return isolatePoison(job.name, (group) => job.process(group, ctx), items, ctx.deadline);
  const outcomes: JobOutcome[] = [];
  for (const [i, item] of items.entries()) {
    const stop = steering ? await steering.beforeStatement(i === 0) : undefined;
    if (stop !== undefined) {
      for (let j = i; j < items.length; j += 1) outcomes.push({ status: 'untried', reason: stop });
      break;
    }
    if (!item.range) {
      outcomes.push({ status: 'fail', reason: 'a sql job needs items with a key range' });
    } else if (Date.now() >= ctx.deadline) {
      outcomes.push({ status: 'untried', reason: DEADLINE_REASON });
    } else {
      const started = Date.now();
      try {
        // {{range}} becomes the range's condition over the key; without it, $1 = lo and $2 = hi.
        const statement = jobStatement(job.sql, item.range, (alias) => ctx.rangeCondition(item, 1, alias));
        const settings = rangeStatementSettings(item.range);
        outcomes.push(await ctx.withTransaction(item, async (tx) => {
          if (settings) await tx.query(settings);
          steering?.watch((tx as { processID?: number }).processID);
          try {
            return (await tx.query(statement.text, [...statement.params])).rowCount ?? 0;
          } finally {
            steering?.watch(undefined);
          }
        }));
        steering?.afterStatement(Date.now() - started);
      } catch (error) {
        if (error instanceof KeyRangeError) {
          outcomes.push({ status: 'fail', reason: error.message });
          continue;
        }
        const stopped = steering?.stopReason();
        if (stopped !== undefined && (error as { code?: string }).code === '57014') {
          // The sampler cancelled this statement in a critical lock wait: it rolled back, so it goes back uncharged too.
          for (let j = i; j < items.length; j += 1) outcomes.push({ status: 'untried', reason: stopped });
          break;
        }
        const cutOff = (error as { code?: string }).code === '57014' && Date.now() >= ctx.deadline;
        // Cut off by the deadline: the first range had the whole invocation and is charged; a later one was
        // only late, and goes back uncharged.
        if (cutOff && i > 0) outcomes.push({ status: 'untried', reason: DEADLINE_REASON });
        else outcomes.push({ status: 'retry', reason: cutOff ? DEADLINE_REASON : (error as Error).message, stack: (error as Error).stack });
      }
    }
  }
  return { outcomes };
}

/**
 * Runs a code job's process() on the batch; when it throws (or breaks its contract) for the batch as a whole, the
 * batch is split in halves and each half run again, down to single items, as GitLab splits a failing batched
 * migration job. Good items then succeed (those already done are a no-op: withTransaction's dedupe) and only a bad
 * item is charged, with its own error. Once the deadline passes, what is not isolated goes back uncharged, and
 * `incomplete` says so (the controller shrinks the next batch); an item that had the invocation to itself and
 * did not finish is charged.
 */
export async function isolatePoison(name: string, process: (items: readonly WorkItem[]) => Promise<readonly ItemOutcome[]>, items: readonly WorkItem[], deadline: number): Promise<JobRun> {
  let incomplete: string | undefined;
  const run = async (group: readonly WorkItem[]): Promise<JobOutcome[]> => {
    if (Date.now() >= deadline) {
      incomplete ??= `job ${name}: the batch's failing items could not be isolated before the deadline`;
      return group.map(() => ({ status: 'untried', reason: DEADLINE_REASON }));
    }
    try {
      return [...(await runCodeJob(name, () => process(group), group.length, deadline))];
    } catch (error) {
      const e = asError(error);
      if (group.length === 1 && (!(error instanceof JobDeadlineError) || items.length === 1)) return [{ status: 'retry', reason: e.message, stack: e.stack }];
      if (error instanceof JobDeadlineError) {
        incomplete ??= `${e.message}; its items go back uncharged and the next batch is smaller`;
        return group.map(() => ({ status: 'untried', reason: DEADLINE_REASON }));
      }
      const half = Math.ceil(group.length / 2);
      return [...(await run(group.slice(0, half))), ...(await run(group.slice(half)))];
    }
  };
  const outcomes = await run(items);
  return incomplete === undefined ? { outcomes } : { outcomes, incomplete };
}

async function runCodeJob(name: string, process: () => Promise<readonly ItemOutcome[]>, count: number, deadline: number): Promise<readonly ItemOutcome[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new JobDeadlineError(name)), Math.max(0, deadline - Date.now()));
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

/** Anything thrown, as an Error (a job may throw a string, or nothing at all). */
export function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}
