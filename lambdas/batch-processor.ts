import type { Message } from '@aws-sdk/client-sqs';
import type { BatchStats } from '../core/controller';
import { BatchFailedError, MalformedWorkItemError } from '../core/errors';
import type { ItemOutcome, JobContext } from '../core/job';
import { parseWorkItem, type WorkItem } from '../core/work-item';
import { flushBatch, readRunTotals, recordFailures, recordRunStatus, type FailureRecord, type RunTotals } from '../db/bookkeeping';
import { runItemTransaction } from '../db/item-transaction';
import { asQueryable, type Pool } from '../db/pool';
import { deadLetter, deleteMessages, queueDepth, receiveCount, receiveMessages, releaseMessages } from '../queue/work-queue';
import type { HandlerDeps, RunContext } from './deps';
import { runJob } from './run-job';

export interface BatchProcessorEvent {
  readonly run: RunContext;
  readonly batchSize: number;
}

export interface BatchResult extends BatchStats {
  /** Set once the queue is drained: the run's final counts, read from the bookkeeping tables. */
  readonly totals?: RunTotals;
}

/** The part of the Lambda context the processor uses; the local runtime supplies it from the function's timeout. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/** Time kept back from the invocation's remaining time to settle messages and record results. */
export function settleMarginMs(remainingMs: number): number {
  return Math.min(10_000, Math.max(1_000, remainingMs * 0.1));
}

/** Delay before a retried item is visible again: doubles with each receive, capped at a minute. */
export function retryDelaySeconds(attempt: number): number {
  return Math.min(60, 2 ** Math.max(0, attempt - 1));
}

/** Receives up to batchSize items, runs the job on them, and settles each message: delete, retry later, or DLQ. */
export function makeBatchProcessorHandler(deps: HandlerDeps) {
  return async (event: BatchProcessorEvent, invocation?: InvocationContext): Promise<BatchResult> => {
    const started = Date.now();
    const remainingMs = invocation?.getRemainingTimeInMillis() ?? 15 * 60_000;
    const deadline = started + remainingMs - settleMarginMs(remainingMs);
    const { run } = event;
    const pool = await deps.getPool();
    let messages: Message[];
    try {
      messages = await receiveMessages(deps.sqs, deps.queueUrl, event.batchSize, deps.receiveWaitSeconds);
    } catch (error) {
      throw new BatchFailedError(`receiving from the work queue failed: ${(error as Error).message}`, { cause: error });
    }
    const parsed = messages.map((message) => parseMessage(message));
    const valid = parsed.filter((p): p is { message: Message; item: WorkItem } => 'item' in p);
    let outcomes: readonly ItemOutcome[];
    const abort = new AbortController();
    const abortAtDeadline = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
    try {
      outcomes = await runJob(deps.job, valid.map((p) => p.item), makeJobContext(pool, deps.bookkeepingSchema, run.runId, deadline, abort.signal));
    } catch (error) {
      // The batch failed as a whole: its items become visible again after their delay; the run goes on.
      await releaseMessages(deps.sqs, deps.queueUrl, valid.map((p) => ({ message: p.message, delaySeconds: retryDelaySeconds(receiveCount(p.message)) })));
      await recordFailures(pool, deps.bookkeepingSchema, valid.map((p) => failureOf(run.runId, p.message, p.item, error, receiveCount(p.message) >= deps.maxReceiveCount)));
      throw new BatchFailedError(`batch of ${valid.length} items failed: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(abortAtDeadline);
    }

    const done: Message[] = [];
    const retries: Array<{ message: Message; delaySeconds: number }> = [];
    const failures: FailureRecord[] = [];
    let rowsAffected = 0;
    let deadLettered = 0;
    for (const p of parsed) {
      if ('reason' in p) {
        await deadLetter(deps.sqs, deps.deadLetterQueueUrl, p.message, p.reason);
        done.push(p.message);
        failures.push({ runId: run.runId, messageId: p.message.MessageId, attempt: receiveCount(p.message), error: p.reason, final: true });
        deadLettered += 1;
      }
    }
    valid.forEach(({ message, item }, i) => {
      const outcome = outcomes[i];
      const attempt = receiveCount(message);
      if (outcome.status === 'ok') {
        rowsAffected += outcome.rowsAffected ?? 0;
        done.push(message);
      } else if (outcome.status === 'fail') {
        failures.push({ runId: run.runId, dedupeKey: item.dedupeKey, messageId: message.MessageId, attempt, error: outcome.reason, final: true });
      } else {
        const final = attempt >= deps.maxReceiveCount;
        retries.push({ message, delaySeconds: retryDelaySeconds(attempt) });
        failures.push({ runId: run.runId, dedupeKey: item.dedupeKey, messageId: message.MessageId, attempt, error: outcome.reason, final });
        if (final) deadLettered += 1;
      }
    });
    for (const [i, { message }] of valid.entries()) {
      const outcome = outcomes[i];
      if (outcome.status === 'fail') {
        await deadLetter(deps.sqs, deps.deadLetterQueueUrl, message, outcome.reason);
        done.push(message);
        deadLettered += 1;
      }
    }
    await recordFailures(pool, deps.bookkeepingSchema, failures);
    // Effects first made durable, then messages deleted: never the other way round.
    await flushBatch(pool, deps.bookkeepingSchema, run.runId);
    await deleteMessages(deps.sqs, deps.queueUrl, done);
    await releaseMessages(deps.sqs, deps.queueUrl, retries);

    const depth = await queueDepth(deps.sqs, deps.queueUrl);
    const drained = messages.length === 0 && depth.visible + depth.inFlight + depth.delayed === 0;
    const stats: BatchResult = {
      received: messages.length,
      succeeded: valid.length - retries.length - outcomes.filter((o) => o.status === 'fail').length,
      retried: retries.length,
      deadLettered,
      rowsAffected,
      durationMs: Date.now() - started,
      queue: { visible: depth.visible, inFlight: depth.inFlight + depth.delayed },
      drained,
    };
    if (!drained) return stats;
    const totals = await readRunTotals(pool, deps.bookkeepingSchema, run.runId);
    await recordRunStatus(pool, deps.bookkeepingSchema, run.runId, 'succeeded', `drained: ${totals.itemsSucceeded} items done, ${totals.itemsDeadLettered} dead-lettered`);
    return { ...stats, totals };
  };
}

function parseMessage(message: Message): { message: Message; item: WorkItem } | { message: Message; reason: string } {
  try {
    return { message, item: parseWorkItem(message.Body) };
  } catch (error) {
    if (error instanceof MalformedWorkItemError) return { message, reason: `malformed work item: ${error.message}` };
    throw error;
  }
}

function failureOf(runId: string, message: Message, item: WorkItem, error: unknown, final: boolean): FailureRecord {
  const e = error as Error;
  return { runId, dedupeKey: item.dedupeKey, messageId: message.MessageId, attempt: receiveCount(message), error: e.message ?? String(error), stack: e.stack, final };
}

function makeJobContext(pool: Pool, schema: string, runId: string, deadline: number, signal: AbortSignal): JobContext {
  return {
    runId,
    db: asQueryable(pool),
    deadline,
    signal,
    withItemTransaction: (item, fn) => runItemTransaction(pool, schema, item, fn, deadline - Date.now()),
  };
}
