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
import { retryDelaySeconds, settle, type ParsedMessage } from './settle';
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

    const settlement = settle(run.runId, parsed, outcomes, deps.maxReceiveCount);
    // Dead letters are copied before their originals are deleted, and effects are made durable before any
    // delete: a crash in between can duplicate a message, never lose one.
    await Promise.all(settlement.deadLetters.map((d) => deadLetter(deps.sqs, deps.deadLetterQueueUrl, d.message, d.reason)));
    await recordFailures(pool, deps.bookkeepingSchema, settlement.failures);
    await flushBatch(pool, deps.bookkeepingSchema, run.runId);
    await deleteMessages(deps.sqs, deps.queueUrl, settlement.done);
    await releaseMessages(deps.sqs, deps.queueUrl, settlement.retries);

    const depth = await queueDepth(deps.sqs, deps.queueUrl);
    const drained = messages.length === 0 && depth.visible + depth.inFlight + depth.delayed === 0;
    const stats: BatchResult = {
      received: messages.length,
      succeeded: settlement.succeeded,
      retried: settlement.retries.length,
      deadLettered: settlement.deadLettered,
      rowsAffected: settlement.rowsAffected,
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

function parseMessage(message: Message): ParsedMessage {
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
