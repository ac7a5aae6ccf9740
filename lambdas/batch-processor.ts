import { randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import type { BatchStats } from '../core/controller';
import { BatchFailedError, LeaseLostError, MalformedWorkItemError } from '../core/errors';
import { isSqlJob, type JobContext } from '../core/job';
import { initialLatency, isLatencyState, type LatencyState } from '../core/latency-controller';
import type { RunSettings } from '../core/settings';
import { LatencySampler } from '../db/latency/sampler';
import { parseWorkItem } from '../core/work-item';
import { readDoneKeys, recordDoneAfterTheFact } from '../db/done-items';
import { recordFailures } from '../db/failures';
import { releaseLease, renewLease } from '../db/lease';
import { readLastError } from '../db/totals';
import { flushBatch, recordRunStatus } from '../db/runs';
import { runItemTransaction } from '../db/item-transaction';
import { asQueryable, type Pool } from '../db/pool';
import { deadLetter, deleteMessages, handBackUncharged, queueDepth, receiveCount, receiveMessages, releaseMessages } from '../queue/work-queue';
import type { HandlerDeps, RunContext } from './deps';
import { leaseOf } from './lease';
import { makeOutcome, type RunOutcome } from './outcome';
import { retryDelaySeconds, settle, triage, type ParsedMessage, type RunnableMessage, type Triage } from './settle';
import { asError, runJob, type JobRun } from './run-job';
import { BatchSteering } from './steering';
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
    await renewRunLease(deps, pool, run, event.executionId);
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
    const abort = new AbortController();
    const abortAtDeadline = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
    // The dedupe keys withTransaction claimed (or found done), with the rows this batch changed under each: an
    // `ok` without one is at-least-once (see below); a key done twice while isolating poison counts its rows once.
    const claimed = new Map<string, number>();
    // Items recorded done already (a duplicate delivery, a redelivery after a crash) are not run again: they settle
    // as done. This is what keeps a code job's `ok` without withTransaction from repeating its effect on a later
    // delivery; withTransaction would find them done anyway.
    const done = await readDoneKeys(pool, deps.bookkeepingSchema, run.runId, valid.map((p) => p.item.dedupeKey));
    for (const key of done) claimed.set(key, 0);
    let jobRun: JobRun;
    const steering = await startSteering(deps, pool, run.settings, event.latency, valid.length - done.size);
    try {
      // Never throws over the job: a code job's throw is isolated to its items (isolatePoison), a SQL range's error
      // is that range's. What else throws (the database, SQS) fails the batch: its messages come back after their
      // visibility timeout, and BatchFailed hands the error to the controller.
      const toRun = valid.filter((p) => !done.has(p.item.dedupeKey));
      const ran = await runJob(deps.job, toRun.map((p) => p.item), makeJobContext(pool, deps.bookkeepingSchema, run.runId, deadline, abort.signal, claimed), steering);
      const byMessage = new Map(toRun.map((p, i) => [p.message, ran.outcomes[i]]));
      jobRun = { ...ran, outcomes: valid.map((p) => byMessage.get(p.message) ?? { status: 'ok', rowsAffected: 0 }) };
    } catch (error) {
      await steering?.finish(batchId, 0).catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(abortAtDeadline);
    }
    if (jobRun.incomplete) {
      telemetry.log('error', 'batch failed', { runId: run.runId, batchId, items: valid.length, error: jobRun.incomplete });
      recordBatchFailed(telemetry);
    }

    const { outcomes } = jobRun;
    const settlement = settle(run.runId, valid, outcomes, deps.maxReceiveCount, deps.receivesPerRelease);
    const latency = steering ? await steering.finish(batchId, settlement.untried.length) : undefined;
    // `ok` from a code job that never called ctx.withTransaction for the item: its effect ran outside the dedupe
    // claim, so it is recorded done now, marked at-least-once (a redelivery before this point runs it again).
    const atLeastOnce = [...new Map(valid.flatMap((p, i) => {
      const outcome = outcomes[i];
      return outcome.status === 'ok' && !claimed.has(p.item.dedupeKey) ? [[p.item.dedupeKey, { runId: run.runId, dedupeKey: p.item.dedupeKey, rowsAffected: outcome.rowsAffected ?? 0 }] as const] : [];
    })).values()];
    // Each key's rows once: a batch may hold two deliveries of one item.
    const okKeys = new Set(valid.flatMap((p, i) => (outcomes[i].status === 'ok' ? [p.item.dedupeKey] : [])));
    const rowsAffected = [...okKeys].reduce((n, key) => n + (claimed.get(key) ?? 0), 0) + atLeastOnce.reduce((n, d) => n + d.rowsAffected, 0);
    const deadLettered = sorted.malformed + settlement.deadLettered;
    let lastError: Awaited<ReturnType<typeof readLastError>> = null;
    try {
      // Dead letters are copied before their originals are deleted, and effects are made durable before any
      // delete: a crash in between can duplicate a message, never lose one.
      await Promise.all(settlement.deadLetters.map((d) => deadLetter(deps.sqs, deps.deadLetterQueueUrl, d.message, d.reason)));
      await recordFailures(pool, deps.bookkeepingSchema, settlement.failures);
      await recordDoneAfterTheFact(pool, deps.bookkeepingSchema, atLeastOnce);
      lastError = settlement.failures.length > 0 ? await readLastError(pool, deps.bookkeepingSchema, run.runId) : null;
      const entry = messages.length === 0 ? undefined : {
        batchId,
        batchSize: event.batchSize,
        received: messages.length,
        succeeded: settlement.succeeded,
        retried: settlement.retries.length,
        deadLettered,
        ...(sorted.foreign > 0 ? { foreign: sorted.foreign } : {}),
        ...(settlement.untried.length > 0 ? { untried: settlement.untried.length } : {}),
        ...(atLeastOnce.length > 0 ? { atLeastOnce: atLeastOnce.length } : {}),
        rowsAffected,
        durationMs: Date.now() - started,
        ...(jobRun.incomplete ? { error: jobRun.incomplete } : {}),
        ...(lastError ? { lastError } : {}),
        ...(latency ? { latency: { duty: latency.state.duty, pauseMs: latency.state.pauseMs, u: latency.state.u, zone: latency.state.zone, signalMs: latency.state.signalMs, baselineMs: latency.state.baselineMs, reason: latency.state.reason, pausedMs: latency.pausedMs, samples: latency.samples, ...(latency.stopped ? { stopped: latency.stopped } : {}) } } : {}),
      };
      await flushBatch(pool, deps.bookkeepingSchema, run.runId, entry);
    } catch (error) {
      // The database went away while the batch was settled (a restart): nothing is deleted, since the effects may
      // not be durable; every item comes back after its delay (done ones are skipped by their claimed dedupe key).
      throw await unsettledBatch(deps, valid, 'settling the batch failed', error);
    }
    const stale = staleUnneeded
      + (await deleteMessages(deps.sqs, deps.queueUrl, settlement.done))
      + (await releaseMessages(deps.sqs, deps.queueUrl, settlement.retries))
      + (await handBackUncharged(deps.sqs, deps.queueUrl, settlement.untried));
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
      rowsAffected,
      durationMs: Date.now() - started,
      queue: { visible: depth.visible, inFlight: depth.inFlight + depth.delayed },
      drained,
      // The batch ran, but its failing items could not all be isolated in time: the controller shrinks the next.
      ...(jobRun.incomplete ? { error: jobRun.incomplete } : {}),
      ...(lastError ? { lastError } : {}),
      ...(latency ? { latency } : {}),
    };
    telemetry.log('info', 'batch', { runId: run.runId, ...stats });
    recordBatchMetrics(telemetry, event.batchSize, stats);
    telemetry.flush();
    if (!drained) return stats;
    const outcome = await makeOutcome(pool, deps.bookkeepingSchema, run, 'succeeded', 'the work queue is drained', event.executionId);
    const reason = `drained: ${outcome.itemsSucceeded} items done, ${outcome.itemsDeadLettered} dead-lettered`;
    await recordRunStatus(pool, deps.bookkeepingSchema, run.runId, 'succeeded', reason);
    // The run's work is done: its lease is free for the next start at once.
    await releaseLease(pool, deps.bookkeepingSchema, run.runId, leaseOf(deps, event.executionId, run.settings).holder.holder);
    return { ...stats, outcome: { ...outcome, reason } };
  };
}

/**
 * Renews the run's lease before anything is received, for the batch and the probe after it. Another processor
 * holding it now stops this execution (LeaseLostError); a database that cannot be reached fails the batch.
 */
async function renewRunLease(deps: HandlerDeps, pool: Pool, run: RunContext, executionId: string): Promise<void> {
  const lease = leaseOf(deps, executionId, run.settings);
  try {
    await renewLease(pool, deps.bookkeepingSchema, run.runId, lease.holder, lease.ttlSeconds);
  } catch (error) {
    if (error instanceof LeaseLostError) throw error;
    throw new BatchFailedError(`renewing the run's lease failed, nothing was received: ${asError(error).message}`, { cause: error });
  }
}

/**
 * The error for a batch whose bookkeeping failed (its database went away): its items are handed back to the
 * queue, each after its retry delay, rather than left invisible for the whole visibility timeout.
 */
async function unsettledBatch(deps: HandlerDeps, valid: readonly RunnableMessage[], step: string, error: unknown): Promise<BatchFailedError> {
  const released = await releaseMessages(deps.sqs, deps.queueUrl, valid.map((p) => ({ message: p.message, delaySeconds: retryDelaySeconds(receiveCount(p.message)) })))
    .then(() => '', (release: unknown) => `; releasing its messages failed too (they come back after the visibility timeout): ${asError(release).message}`);
  return new BatchFailedError(`${step}, its ${valid.length} items come back: ${asError(error).message}${released}`, { cause: error });
}

/**
 * The duty cycle of a SQL job's batch (latency.enabled): a sampler on its own session, and the controller state the
 * last decision carried. A sampler that cannot start leaves the batch unsteered for once, and says so in the log.
 */
async function startSteering(deps: HandlerDeps, pool: Pool, settings: RunSettings, state: LatencyState | undefined, items: number): Promise<BatchSteering | undefined> {
  if (!settings.latency?.enabled || !isSqlJob(deps.job) || items <= 0) return undefined;
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

function makeJobContext(pool: Pool, schema: string, runId: string, deadline: number, signal: AbortSignal, claimed: Map<string, number>): JobContext {
  const withTransaction: JobContext['withTransaction'] = async (item, fn) => {
    const outcome = await runItemTransaction(pool, schema, item, fn, deadline - Date.now());
    if (outcome.status === 'ok') claimed.set(item.dedupeKey, (claimed.get(item.dedupeKey) ?? 0) + (outcome.duplicate ? 0 : outcome.rowsAffected ?? 0));
    return outcome;
  };
  return { runId, db: asQueryable(pool), deadline, signal, withTransaction, withItemTransaction: withTransaction };
}
