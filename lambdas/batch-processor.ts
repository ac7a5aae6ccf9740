import { randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import type { BatchStats } from '../core/controller';
import { BatchFailedError, LeaseLostError, MalformedWorkItemError } from '../core/errors';
import type { JobContext } from '../core/job';
import type { LatencyState } from '../core/latency-controller';
import { parseWorkItem } from '../core/work-item';
import { readDoneKeys, recordDoneAfterTheFact } from '../db/done-items';
import { recordFailures } from '../db/failures';
import { releaseLease, renewLease } from '../db/lease';
import { readLastError } from '../db/totals';
import { flushBatch, recordRunStatus } from '../db/runs';
import { runItemTransaction } from '../db/item-transaction';
import { makeRangeConditioner, type KeyColumn } from '../core/key-range';
import { readKeyColumns } from '../db/keys';
import { asQueryable, type Pool } from '../db/pool';
import { deadLetter, deleteMessages, handBackUncharged, queueDepth, receiveCount, receiveMessages, releaseMessages } from '../queue/work-queue';
import type { HandlerDeps, RunContext } from './deps';
import { leaseOf } from './lease';
import { makeOutcome, type RunOutcome } from './outcome';
import { retryDelaySeconds, settle, triage, type ParsedMessage, type RunnableMessage, type Triage } from './settle';
import { historyLatency, startSteering } from './steering';
import { asError, runJob, type JobRun } from './run-job';
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
    const valid = sorted.toRun;
    let staleUnneeded: number;
    try {
      staleUnneeded = await settleUnneeded(deps, pool, run.runId, sorted);
    } catch (error) {
      throw await unsettledBatch(deps, valid, 'dead-lettering its malformed or foreign messages failed', error);
    }
    const abort = new AbortController();
    const abortAtDeadline = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
    // The dedupe keys withTransaction claimed (or found done), with the rows this batch changed under each: an
    // `ok` without one is at-least-once (see below); a key done twice while isolating poison counts its rows once.
    const claimed = new Map<string, number>();
    // Items recorded done already (a duplicate delivery, a redelivery after a crash) are not run again: they settle
    // as done. This is what keeps a code job's `ok` without withTransaction from repeating its effect on a later
    // delivery; withTransaction would find them done anyway.
    let done: Awaited<ReturnType<typeof readDoneKeys>>;
    let key: readonly KeyColumn[] | undefined;
    try {
      done = await readDoneKeys(pool, deps.bookkeepingSchema, run.runId, valid.map((p) => p.item.dedupeKey));
      // The key's column types, read for each batch: ctx.rangeCondition and {{range}} cast bounds to them.
      key = deps.job.source && valid.length > 0 ? await readKeyColumns(asQueryable(pool), deps.job.source) : undefined;
    } catch (error) {
      clearTimeout(abortAtDeadline);
      throw await unsettledBatch(deps, valid, 'reading which of its items are done (and its key columns) failed', error);
    }
    for (const key of done) claimed.set(key, 0);
    const toRun = valid.filter((p) => !done.has(p.item.dedupeKey));
    // A SQL job's duty cycle (latency.enabled): pauses between statements, and a stop on a critical verdict.
    const steering = await startSteering(deps, pool, run.settings, event.latency, toRun.length);
    let jobRun: JobRun;
    try {
      // Never throws over the job: a code job's throw is isolated to its items (isolatePoison), a SQL range's error
      // is that range's. What else throws (the database, SQS) fails the batch: its messages are handed back, each
      // after its retry delay, and BatchFailed hands the error to the controller.
      const ran = await runJob(deps.job, toRun.map((p) => p.item), makeJobContext(pool, deps.bookkeepingSchema, run.runId, deadline, abort.signal, claimed, key), steering);
      const byMessage = new Map(toRun.map((p, i) => [p.message, ran.outcomes[i]]));
      jobRun = { ...ran, outcomes: valid.map((p) => byMessage.get(p.message) ?? { status: 'ok', rowsAffected: 0 }) };
    } catch (error) {
      await steering?.finish(0).catch(() => undefined);
      throw await unsettledBatch(deps, valid, 'running the job failed', error);
    } finally {
      clearTimeout(abortAtDeadline);
    }
    if (jobRun.incomplete) {
      telemetry.log('error', 'batch failed', { runId: run.runId, batchId, items: valid.length, error: jobRun.incomplete });
      recordBatchFailed(telemetry);
    }

    const { outcomes } = jobRun;
    const settlement = settle(run.runId, valid, outcomes, deps.maxReceiveCount, deps.receivesPerRelease);
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
    // A critical verdict stopped the batch: its untouched items are 'untried' with the verdict as their reason.
    const stop = steering?.stopReason();
    const latency = steering ? await steering.finish(outcomes.filter((o) => o.status === 'untried' && o.reason === stop).length) : undefined;
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
        ...(latency ? { latency: historyLatency(latency) } : {}),
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

function makeJobContext(pool: Pool, schema: string, runId: string, deadline: number, signal: AbortSignal, claimed: Map<string, number>, key: readonly KeyColumn[] | undefined): JobContext {
  const withTransaction: JobContext['withTransaction'] = async (item, fn) => {
    const outcome = await runItemTransaction(pool, schema, item, fn, deadline - Date.now());
    if (outcome.status === 'ok') claimed.set(item.dedupeKey, (claimed.get(item.dedupeKey) ?? 0) + (outcome.duplicate ? 0 : outcome.rowsAffected ?? 0));
    return outcome;
  };
  return { runId, db: asQueryable(pool), deadline, signal, withTransaction, withItemTransaction: withTransaction, rangeCondition: makeRangeConditioner(key) };
}
