import { randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import type { BatchStats } from '../core/controller';
import { BatchFailedError, MalformedWorkItemError } from '../core/errors';
import { isSqlJob, type JobContext } from '../core/job';
import { initialLatency, isLatencyState, type LatencyState } from '../core/latency-controller';
import type { RunSettings } from '../core/settings';
import { LatencySampler } from '../db/latency/sampler';
import { parseWorkItem, type WorkItem } from '../core/work-item';
import { recordFailures, type FailureRecord } from '../db/failures';
import { flushBatch, recordRunStatus } from '../db/runs';
import { runItemTransaction } from '../db/item-transaction';
import { asQueryable, type Pool } from '../db/pool';
import { deadLetter, deleteMessages, handBackUncharged, queueDepth, receiveCount, receiveMessages, releaseMessages } from '../queue/work-queue';
import type { HandlerDeps, RunContext } from './deps';
import { makeOutcome, type RunOutcome } from './outcome';
import { retryDelaySeconds, settle, triage, type BatchOutcome, type ParsedMessage, type RunnableMessage, type Triage } from './settle';
import { BatchSteering } from './steering';
import { runJob } from './run-job';
import { recordBatchFailed, recordBatchMetrics, silentTelemetry } from './telemetry';

export interface BatchProcessorEvent {
  readonly run: RunContext;
  readonly batchSize: number;
  readonly executionId: string;
  /** The latency controller's state from the last decision: the duty cycle this batch starts at. */
  readonly latency?: LatencyState;
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
    const sorted = triage(run.runId, messages.map((message) => parseMessage(message)));
    // Settled before the job runs, so a batch that fails as a whole still leaves them in the DLQ with their reason.
    const staleUnneeded = await settleUnneeded(deps, pool, run.runId, sorted);
    const valid = sorted.toRun;
    let outcomes: readonly BatchOutcome[];
    const abort = new AbortController();
    const abortAtDeadline = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
    const steering = await startSteering(deps, pool, run.settings, event.latency, valid.length);
    try {
      outcomes = await runJob(deps.job, valid.map((p) => p.item), makeJobContext(pool, deps.bookkeepingSchema, run.runId, deadline, abort.signal), steering);
    } catch (error) {
      await steering?.finish(batchId, 0).catch(() => undefined);
      // The batch failed as a whole: its items become visible again after their delay; the run goes on.
      const cleanupErrors = await releaseFailedBatch(deps, pool, run.runId, valid, error);
      const e = asError(error);
      telemetry.log('error', 'batch failed', { runId: run.runId, batchId, items: valid.length, deadLettered: sorted.malformed, ...(sorted.foreign > 0 ? { foreign: sorted.foreign } : {}), error: e.message, stack: e.stack });
      // The job's error stays the one thrown: a failing cleanup is logged, never put in its place.
      for (const cleanup of cleanupErrors) telemetry.log('error', 'settling the failed batch failed', { runId: run.runId, batchId, step: cleanup.step, error: cleanup.error.message, stack: cleanup.error.stack });
      recordBatchFailed(telemetry, sorted.malformed);
      telemetry.flush();
      throw new BatchFailedError(`batch of ${valid.length} items failed: ${e.message}`, { cause: error });
    } finally {
      clearTimeout(abortAtDeadline);
    }

    const settlement = settle(run.runId, valid, outcomes, deps.maxReceiveCount);
    const latency = steering ? await steering.finish(batchId, settlement.handBack.length) : undefined;
    // Dead letters are copied before their originals are deleted, and effects are made durable before any
    // delete: a crash in between can duplicate a message, never lose one.
    await Promise.all(settlement.deadLetters.map((d) => deadLetter(deps.sqs, deps.deadLetterQueueUrl, d.message, d.reason)));
    await recordFailures(pool, deps.bookkeepingSchema, settlement.failures);
    const deadLettered = sorted.malformed + settlement.deadLettered;
    const entry = messages.length === 0 ? undefined : {
      batchId,
      batchSize: event.batchSize,
      received: messages.length,
      succeeded: settlement.succeeded,
      retried: settlement.retries.length,
      deadLettered,
      ...(sorted.foreign > 0 ? { foreign: sorted.foreign } : {}),
      rowsAffected: settlement.rowsAffected,
      durationMs: Date.now() - started,
      ...(latency ? { latency: { duty: latency.state.duty, pauseMs: latency.state.pauseMs, u: latency.state.u, zone: latency.state.zone, signalMs: latency.state.signalMs, baselineMs: latency.state.baselineMs, reason: latency.state.reason, pausedMs: latency.pausedMs, samples: latency.samples, ...(latency.stopped ? { stopped: latency.stopped } : {}) } } : {}),
    };
    await flushBatch(pool, deps.bookkeepingSchema, run.runId, entry);
    const stale = staleUnneeded + (await deleteMessages(deps.sqs, deps.queueUrl, settlement.done)) + (await releaseMessages(deps.sqs, deps.queueUrl, settlement.retries))
      + (settlement.handBack.length > 0 ? await handBackUncharged(deps.sqs, deps.queueUrl, settlement.handBack) : 0);
    // Redelivered to another processor while this batch ran: that processor settles them (their effects are claimed).
    if (stale > 0) telemetry.log('warn', 'messages received again during the batch', { runId: run.runId, batchId, stale });

    const depth = await queueDepth(deps.sqs, deps.queueUrl);
    const drained = messages.length === 0 && depth.visible + depth.inFlight + depth.delayed === 0;
    const stats: BatchResult = {
      batchId,
      received: messages.length,
      succeeded: settlement.succeeded,
      retried: settlement.retries.length,
      deadLettered,
      rowsAffected: settlement.rowsAffected,
      durationMs: Date.now() - started,
      queue: { visible: depth.visible, inFlight: depth.inFlight + depth.delayed },
      drained,
      ...(latency ? { latency } : {}),
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

/**
 * The duty cycle of a SQL job's batch (latency.enabled): a sampler on its own session, and the controller state the
 * last decision carried. A sampler that cannot start leaves the batch unsteered for once, and says so in the log.
 */
async function startSteering(deps: HandlerDeps, pool: Pool, settings: RunSettings, state: LatencyState | undefined, items: number): Promise<BatchSteering | undefined> {
  if (!settings.latency?.enabled || !isSqlJob(deps.job) || items === 0) return undefined;
  try {
    const sampler = await LatencySampler.start(pool, deps.bookkeepingSchema, settings, deps.job.source?.table);
    return new BatchSteering(settings, sampler, isLatencyState(state) ? state : initialLatency());
  } catch (error) {
    (deps.telemetry ?? silentTelemetry).log('warn', 'latency sampler not started; this batch runs unsteered', { error: (error as Error).message });
    return undefined;
  }
}

function parseMessage(message: Message): ParsedMessage {
  try {
    return { message, item: parseWorkItem(message.Body) };
  } catch (error) {
    if (error instanceof MalformedWorkItemError) return { message, reason: `malformed work item: ${error.message}` };
    throw error;
  }
}

/**
 * Dead-letters the messages the job never needs (malformed, or of another run) before it runs: each is copied to
 * the DLQ with its reason and its failure made durable before its original is deleted. Returns the stale handles.
 */
async function settleUnneeded(deps: HandlerDeps, pool: Pool, runId: string, sorted: Triage): Promise<number> {
  if (sorted.deadLetters.length === 0) return 0;
  await Promise.all(sorted.deadLetters.map((d) => deadLetter(deps.sqs, deps.deadLetterQueueUrl, d.message, d.reason)));
  await recordFailures(pool, deps.bookkeepingSchema, sorted.failures);
  await flushBatch(pool, deps.bookkeepingSchema, runId);
  return deleteMessages(deps.sqs, deps.queueUrl, sorted.deadLetters.map((d) => d.message));
}

/**
 * Hands a failed batch's items back, each after its delay, and records the job's error against each. Both steps
 * are tried whatever the other does; what fails is returned for the log, so the job's own error stays the one thrown.
 */
async function releaseFailedBatch(deps: HandlerDeps, pool: Pool, runId: string, valid: readonly RunnableMessage[], error: unknown): Promise<Array<{ step: string; error: Error }>> {
  const steps = {
    'releasing its messages': async () => releaseMessages(deps.sqs, deps.queueUrl, valid.map((p) => ({ message: p.message, delaySeconds: retryDelaySeconds(receiveCount(p.message)) }))),
    'recording its failures': async () => recordFailures(pool, deps.bookkeepingSchema, valid.map((p) => failureOf(runId, p.message, p.item, error, receiveCount(p.message) >= deps.maxReceiveCount))),
  };
  const results = await Promise.allSettled(Object.values(steps).map((step) => step()));
  return Object.keys(steps).flatMap((step, i) => {
    const result = results[i];
    return result.status === 'rejected' ? [{ step, error: asError(result.reason) }] : [];
  });
}

/** Anything thrown, as an Error (a job may throw a string, or nothing at all). */
function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

function failureOf(runId: string, message: Message, item: WorkItem, error: unknown, final: boolean): FailureRecord {
  const e = asError(error);
  return { runId, dedupeKey: item.dedupeKey, messageId: message.MessageId, attempt: receiveCount(message), error: e.message, stack: e.stack, final };
}

function makeJobContext(pool: Pool, schema: string, runId: string, deadline: number, signal: AbortSignal): JobContext {
  const withTransaction: JobContext['withTransaction'] = (item, fn) => runItemTransaction(pool, schema, item, fn, deadline - Date.now());
  return { runId, db: asQueryable(pool), deadline, signal, withTransaction, withItemTransaction: withTransaction };
}
