import { describeProblems, type HealthReport } from './health';
import { initialLatency, type LatencyState } from './latency-controller';
import type { BatchLatency } from './latency-decision';
import type { BackoffSettings, BatchSettings, RunSettings } from './settings';

/**
 * proceed: run a batch (after `paceSeconds`, when pacing). backoff: wait `waitSeconds`, then probe again.
 * pause: the operator paused the run; wait `waitSeconds` and read the flag again. halt: fail the run with the
 * reason. abort: the operator aborted the run. continue: go on as a new execution.
 */
export type Action = 'proceed' | 'backoff' | 'pause' | 'halt' | 'abort' | 'continue';

/** The operator's requests, as the probe reads them from the run's row. */
export interface OperatorRequests {
  readonly paused: boolean;
  readonly abortRequested: boolean;
}

export const NO_REQUESTS: OperatorRequests = { paused: false, abortRequested: false };

/** The latest item failure of a run: its error, the item it came from, and how many items failed with that very error. */
export interface LastError {
  readonly error: string;
  /** The item's dedupe key (absent for a message that was not a work item). */
  readonly dedupeKey: string | null;
  /** Items of the run whose failures include this exact error. */
  readonly items: number;
}

/** What one batch did, as the batch processor reports it. */
export interface BatchStats {
  /**
   * Unique per report (the batch processor's batchId; BatchFailed makes one with States.UUID()). The controller
   * remembers the last one it consumed and never decides twice on the same report (see decide()).
   */
  readonly batchId?: string;
  readonly received: number;
  readonly succeeded: number;
  readonly retried: number;
  readonly deadLettered: number;
  readonly rowsAffected: number;
  readonly durationMs: number;
  /** Items still in the work queue after this batch: visible, and in flight (waiting for a retry). */
  readonly queue: { readonly visible: number; readonly inFlight: number };
  readonly drained: boolean;
  /** Set when the batch failed as a whole (its items come back for another try). */
  readonly error?: string;
  /** Set when items failed in this batch: the run's latest item failure (see LastError). */
  readonly lastError?: LastError;
  /** The batch's duty cycle: pauses, samples, and whether a critical verdict stopped it (core/latency-decision.ts). */
  readonly latency?: BatchLatency;
}

/** The controller's state, carried by the state machine from one iteration to the next. */
export interface ControlState {
  /** Iterations over the whole run, across executions. */
  readonly iteration: number;
  /** Iterations in the current execution; reset when the run continues as a new execution. */
  readonly executionIterations: number;
  /** 1 for the first execution of a run, then one more per continue-as-new. */
  readonly generation: number;
  readonly batchSize: number;
  readonly backoffAttempt: number;
  readonly totalBackoffSeconds: number;
  readonly consecutiveFailures: number;
  readonly action: Action;
  /** Whole seconds to wait before probing again (backoff, pause): the Step Functions Wait state takes integers. */
  readonly waitSeconds: number;
  /** Whole seconds to wait before the next batch (pacing: nice ratio, degraded health). */
  readonly paceSeconds: number;
  readonly reason: string;
  /** The id of the last batch report consumed; a report with this id is stale (see decide()). */
  readonly lastBatchId?: string;
  /** Waits in a row for in-flight items (nothing visible yet); each one is longer, up to MAX_IN_FLIGHT_WAIT_SECONDS. */
  readonly inFlightWaits: number;
  /** Items settled in the batches this chain of executions reported: for the failure-ratio halt (failures.*). */
  readonly itemsSucceeded: number;
  readonly itemsDeadLettered: number;
  /** The latest item error a batch reported, for the halt reason. */
  readonly lastError?: string;
  /** The in-batch latency controller's state (duty cycle, baseline), carried batch to batch; set by withLatency. */
  readonly latency?: LatencyState;
}

/** Waiting for in-flight items (a retry delay running out) doubles from 1 s up to this: seconds, not minutes. */
export const MAX_IN_FLIGHT_WAIT_SECONDS = 8;

/** Growth per step is capped so a lucky fast batch cannot make the next one huge. */
export const MAX_GROWTH = 1.2;

export function initialControl(settings: RunSettings): ControlState {
  return {
    iteration: 0,
    executionIterations: 0,
    generation: 1,
    batchSize: settings.batch.initialSize,
    backoffAttempt: 0,
    totalBackoffSeconds: 0,
    consecutiveFailures: 0,
    action: 'proceed',
    waitSeconds: 0,
    paceSeconds: 0,
    reason: 'starting',
    inFlightWaits: 0,
    itemsSucceeded: 0,
    itemsDeadLettered: 0,
    // Present from the start, so every decision carries it (ProcessBatch reads $.control.latency).
    latency: initialLatency(),
  };
}

/**
 * The batch report, if the controller has not consumed it yet; null when it is stale. A state machine only
 * replaces $.lastBatch in ProcessBatch (or BatchFailed), so after a Backoff, Paused or a probe that did not
 * proceed, the same report comes back: deciding on it again would wait for the same in-flight items forever, count
 * the same failed batch twice, and grow the batch size twice from one timing. A report without an id is fresh.
 */
export function freshBatch(control: ControlState, last: BatchStats | null): BatchStats | null {
  if (last === null) return null;
  return last.batchId !== undefined && last.batchId === control.lastBatchId ? null : last;
}

/** The failure-ratio halt's reason, or undefined: more than haltRatio of at least minItems settled items were dead-lettered. */
export function failureRatioProblem(settings: RunSettings, succeeded: number, deadLettered: number, lastError: string | undefined): string | undefined {
  const settled = succeeded + deadLettered;
  const { haltRatio, minItems } = settings.failures;
  if (settled < minItems || deadLettered <= haltRatio * settled) return undefined;
  return `${deadLettered} of ${settled} settled items were dead-lettered (more than failures.haltRatio ${haltRatio} after at least failures.minItems ${minItems}); last error: ${lastError ?? 'unknown'}`;
}

/** Full jitter: uniform in [1, min(cap, base * multiplier^attempt)], rounded up to whole seconds. */
export function backoffSeconds(backoff: BackoffSettings, attempt: number, random: () => number): number {
  const ceiling = Math.min(backoff.maxSeconds, backoff.baseSeconds * backoff.multiplier ** attempt);
  return Math.max(1, Math.ceil(random() * ceiling));
}

/** Moves the batch size toward the size that would take `targetSeconds`, growing by at most MAX_GROWTH. */
export function nextBatchSize(batch: BatchSettings, current: number, last: BatchStats | null): number {
  // No timing to learn from: keep the size, within the bounds (a live knob may have just moved them).
  if (last === null || last.received === 0 || last.durationMs <= 0) return clamp(current, batch.minSize, batch.maxSize);
  const perItemMs = last.durationMs / last.received;
  const ideal = (batch.targetSeconds * 1000) / perItemMs;
  // Halfway toward the ideal smooths out one noisy batch; shrinking is not capped, growth is.
  const smoothed = current + (ideal - current) / 2;
  const grown = Math.min(smoothed, Math.max(current + 1, current * MAX_GROWTH));
  return clamp(Math.round(grown), batch.minSize, batch.maxSize);
}

/** Seconds to pause after a batch of `durationMs` at `ratio` (gh-ost's nice-ratio): whole, at least 1, capped. */
export function paceSeconds(ratio: number, last: BatchStats | null, capSeconds: number): number {
  if (ratio <= 0 || last === null || last.received === 0) return 0;
  return Math.min(capSeconds, Math.max(1, Math.ceil((ratio * last.durationMs) / 1000)));
}

/**
 * Turns the latest health report, the last batch and the operator's requests into the next decision. Pure: all
 * I/O happens elsewhere. Unhealthy probes back off and never count as failures, and nothing is received from the
 * queue while backing off or paused, so throttling never uses up a work item's retries. A batch that failed as a
 * whole shrinks the next one.
 */
export function decide(
  settings: RunSettings,
  control: ControlState,
  lastReport: BatchStats | null,
  report: HealthReport,
  requests: OperatorRequests = NO_REQUESTS,
  random: () => number = Math.random,
): ControlState {
  // Decide on each batch report once: after a wait the same report comes back (see freshBatch).
  const last = freshBatch(control, lastReport);
  const iteration = control.iteration + 1;
  const executionIterations = control.executionIterations + 1;
  const consecutiveFailures = last?.error ? control.consecutiveFailures + 1 : last ? 0 : control.consecutiveFailures;
  const itemsSucceeded = (control.itemsSucceeded ?? 0) + (last?.succeeded ?? 0);
  const itemsDeadLettered = (control.itemsDeadLettered ?? 0) + (last?.deadLettered ?? 0);
  const lastError = last?.lastError?.error ?? control.lastError;
  const received = last !== null && last.received > 0;
  const base: ControlState = {
    ...control, iteration, executionIterations, consecutiveFailures, waitSeconds: 0, paceSeconds: 0,
    lastBatchId: lastReport?.batchId ?? control.lastBatchId,
    inFlightWaits: received ? 0 : control.inFlightWaits ?? 0,
    itemsSucceeded, itemsDeadLettered,
    ...(lastError !== undefined ? { lastError } : {}),
  };
  if (requests.abortRequested) return { ...base, action: 'abort', reason: 'aborted by the operator' };
  if (consecutiveFailures >= settings.batch.maxConsecutiveFailures) {
    return { ...base, action: 'halt', reason: `${consecutiveFailures} batches in a row failed; last error: ${last?.error}` };
  }
  const failing = failureRatioProblem(settings, itemsSucceeded, itemsDeadLettered, lastError);
  if (failing) return { ...base, action: 'halt', reason: failing };
  if (control.executionIterations >= settings.continueAfter) {
    // The state machine starts a fresh execution with this state; its first probe decides again.
    return { ...base, iteration: control.iteration, executionIterations: control.executionIterations, action: 'continue', reason: `continuing as execution ${control.generation + 1} after ${control.executionIterations} iterations` };
  }
  let batchSize = last?.error ? Math.max(settings.batch.minSize, Math.floor(control.batchSize / 2)) : nextBatchSize(settings.batch, control.batchSize, last);
  if (requests.paused) {
    // A pause spends no backoff budget and no retries: nothing is received until the operator resumes.
    return { ...base, batchSize, action: 'pause', waitSeconds: settings.pausePollSeconds, reason: 'paused by the operator' };
  }
  if (report.halt) return { ...base, action: 'halt', reason: report.halt };

  if (report.verdict === 'critical') {
    const waitSeconds = backoffSeconds(settings.backoff, control.backoffAttempt, random);
    const totalBackoffSeconds = control.totalBackoffSeconds + waitSeconds;
    const problems = describeProblems(report);
    if (totalBackoffSeconds > settings.backoff.maxTotalSeconds) {
      return { ...base, action: 'halt', reason: `backoff budget of ${settings.backoff.maxTotalSeconds}s spent; still unhealthy: ${problems}` };
    }
    return { ...base, batchSize, backoffAttempt: control.backoffAttempt + 1, totalBackoffSeconds, action: 'backoff', waitSeconds, reason: problems };
  }

  // Health is back: let the backoff exponent decay instead of snapping to zero.
  const backoffAttempt = Math.max(0, control.backoffAttempt - 1);
  if (last !== null && !last.error && last.received === 0 && !last.drained) {
    // Nothing visible, but items are in flight (waiting out a retry delay): wait for them, no penalty. The wait
    // grows from 1 s while nothing comes back, and the next probe, seeing this report stale, runs a batch again.
    const waitSeconds = Math.min(MAX_IN_FLIGHT_WAIT_SECONDS, 2 ** base.inFlightWaits);
    return { ...base, batchSize, backoffAttempt, inFlightWaits: base.inFlightWaits + 1, action: 'backoff', waitSeconds, reason: `waiting for ${last.queue.inFlight} in-flight items` };
  }
  const cap = settings.backoff.maxSeconds;
  if (report.verdict === 'warning') {
    batchSize = Math.max(settings.batch.minSize, Math.floor(batchSize * settings.degraded.sizeFactor));
    const pace = Math.max(paceSeconds(settings.degraded.niceRatio, last, cap), paceSeconds(settings.batch.niceRatio, last, cap));
    return { ...base, batchSize, backoffAttempt, action: 'proceed', paceSeconds: pace, reason: `degraded, smaller batch${pace > 0 ? ` after a ${pace}s pause` : ''}: ${describeProblems(report)}` };
  }
  return { ...base, batchSize, backoffAttempt, action: 'proceed', paceSeconds: paceSeconds(settings.batch.niceRatio, last, cap), reason: 'healthy' };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
