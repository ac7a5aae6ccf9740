import { randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import type { BatchStats } from '../core/controller';
import { BatchFailedError, MalformedWorkItemError } from '../core/errors';
import type { ItemOutcome, JobContext } from '../core/job';
import { parseWorkItem, type WorkItem } from '../core/work-item';
import { recordFailures, type FailureRecord } from '../db/failures';
import { flushBatch, recordRunStatus } from '../db/runs';
import { runItemTransaction } from '../db/item-transaction';
import { asQueryable, type Pool } from '../db/pool';
import { deadLetter, deleteMessages, queueDepth, receiveCount, receiveMessages, releaseMessages } from '../queue/work-queue';
import type { HandlerDeps, RunContext } from './deps';
import { makeOutcome, type RunOutcome } from './outcome';
import { itemsToRun, retryDelaySeconds, settle, type ParsedMessage } from './settle';
import { runJob } from './run-job';
import { recordBatchFailed, recordBatchMetrics, silentTelemetry } from './telemetry';

export interface BatchProcessorEvent {
  readonly run: RunContext;
  readonly batchSize: number;
  readonly executionId: string;
}

export interface BatchResult extends BatchStats {
  /** This invocation's id, in its logs and history entry. */
  readonly batchId: string;
  /** Set once the queue is drained: how the run ended, with its final counts (what the completion event carries). */
  readonly outcome?: RunOutcome;
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
  const telemetry = deps.telemetry ?? silentTelemetry;
  return async (event: BatchProcessorEvent, invocation?: InvocationContext): Promise<BatchResult> => {
    const started = Date.now();
    const batchId = randomUUID();
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
    const valid = itemsToRun(run.runId, parsed);
    let outcomes: readonly ItemOutcome[];
    const abort = new AbortController();
    const abortAtDeadline = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
    try {
      outcomes = await runJob(deps.job, valid.map((p) => p.item), makeJobContext(pool, deps.bookkeepingSchema, run.runId, deadline, abort.signal));
    } catch (error) {
      // The batch failed as a whole: its items become visible again after their delay; the run goes on.
      await releaseMessages(deps.sqs, deps.queueUrl, valid.map((p) => ({ message: p.message, delaySeconds: retryDelaySeconds(receiveCount(p.message)) })));
      await recordFailures(pool, deps.bookkeepingSchema, valid.map((p) => failureOf(run.runId, p.message, p.item, error, receiveCount(p.message) >= deps.maxReceiveCount)));
      telemetry.log('error', 'batch failed', { runId: run.runId, batchId, items: valid.length, error: (error as Error).message, stack: (error as Error).stack });
      recordBatchFailed(telemetry);
      telemetry.flush();
      throw new BatchFailedError(`batch of ${valid.length} items failed: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(abortAtDeadline);
    }

    const settlement = settle(run.runId, parsed, outcomes, deps.maxReceiveCount);
    // Dead letters are copied before their originals are deleted, and effects are made durable before any
    // delete: a crash in between can duplicate a message, never lose one.
    await Promise.all(settlement.deadLetters.map((d) => deadLetter(deps.sqs, deps.deadLetterQueueUrl, d.message, d.reason)));
    await recordFailures(pool, deps.bookkeepingSchema, settlement.failures);
    const entry = messages.length === 0 ? undefined : {
      batchId,
      batchSize: event.batchSize,
      received: messages.length,
      succeeded: settlement.succeeded,
      retried: settlement.retries.length,
      deadLettered: settlement.deadLettered,
      ...(settlement.foreign > 0 ? { foreign: settlement.foreign } : {}),
      rowsAffected: settlement.rowsAffected,
      durationMs: Date.now() - started,
    };
    await flushBatch(pool, deps.bookkeepingSchema, run.runId, entry);
    const stale = (await deleteMessages(deps.sqs, deps.queueUrl, settlement.done)) + (await releaseMessages(deps.sqs, deps.queueUrl, settlement.retries));
    // Redelivered to another processor while this batch ran: that processor settles them (their effects are claimed).
    if (stale > 0) telemetry.log('warn', 'messages received again during the batch', { runId: run.runId, batchId, stale });

    const depth = await queueDepth(deps.sqs, deps.queueUrl);
    const drained = messages.length === 0 && depth.visible + depth.inFlight + depth.delayed === 0;
    const stats: BatchResult = {
      batchId,
      received: messages.length,
      succeeded: settlement.succeeded,
      retried: settlement.retries.length,
      deadLettered: settlement.deadLettered,
      rowsAffected: settlement.rowsAffected,
      durationMs: Date.now() - started,
      queue: { visible: depth.visible, inFlight: depth.inFlight + depth.delayed },
      drained,
    };
    telemetry.log('info', 'batch', { runId: run.runId, ...stats });
    recordBatchMetrics(telemetry, event.batchSize, stats);
    telemetry.flush();
    if (!drained) return stats;
    const outcome = await makeOutcome(pool, deps.bookkeepingSchema, run, 'succeeded', 'the work queue is drained', event.executionId);
    const reason = `drained: ${outcome.itemsSucceeded} items done, ${outcome.itemsDeadLettered} dead-lettered`;
    await recordRunStatus(pool, deps.bookkeepingSchema, run.runId, 'succeeded', reason);
    return { ...stats, outcome: { ...outcome, reason } };
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
  const withTransaction: JobContext['withTransaction'] = (item, fn) => runItemTransaction(pool, schema, item, fn, deadline - Date.now());
  return { runId, db: asQueryable(pool), deadline, signal, withTransaction, withItemTransaction: withTransaction };
}
