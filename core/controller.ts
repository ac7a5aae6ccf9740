import { describeProblems, type HealthReport } from './health';
import type { BackoffSettings, BatchSettings, RunSettings } from './settings';

export type Action = 'proceed' | 'backoff' | 'halt' | 'continue';

/** What one batch did, as the batch processor reports it. */
export interface BatchStats {
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
  /** Whole seconds: the Step Functions Wait state takes integers. */
  readonly waitSeconds: number;
  readonly reason: string;
}

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
    reason: 'starting',
  };
}

/** Full jitter: uniform in [1, min(cap, base * multiplier^attempt)], rounded up to whole seconds. */
export function backoffSeconds(backoff: BackoffSettings, attempt: number, random: () => number): number {
  const ceiling = Math.min(backoff.maxSeconds, backoff.baseSeconds * backoff.multiplier ** attempt);
  return Math.max(1, Math.ceil(random() * ceiling));
}

/** Moves the batch size toward the size that would take `targetSeconds`, growing by at most MAX_GROWTH. */
export function nextBatchSize(batch: BatchSettings, current: number, last: BatchStats | null): number {
  if (last === null || last.received === 0 || last.durationMs <= 0) return current;
  const perItemMs = last.durationMs / last.received;
  const ideal = (batch.targetSeconds * 1000) / perItemMs;
  // Halfway toward the ideal smooths out one noisy batch; shrinking is not capped, growth is.
  const smoothed = current + (ideal - current) / 2;
  const grown = Math.min(smoothed, Math.max(current + 1, current * MAX_GROWTH));
  return clamp(Math.round(grown), batch.minSize, batch.maxSize);
}

/**
 * Turns the latest health report and the last batch into the next decision. Pure: all I/O happens elsewhere.
 * Unhealthy probes back off and never count as failures; a batch that failed as a whole shrinks the next one.
 */
export function decide(
  settings: RunSettings,
  control: ControlState,
  last: BatchStats | null,
  report: HealthReport,
  random: () => number = Math.random,
): ControlState {
  const iteration = control.iteration + 1;
  const executionIterations = control.executionIterations + 1;
  const consecutiveFailures = last?.error ? control.consecutiveFailures + 1 : last ? 0 : control.consecutiveFailures;
  if (consecutiveFailures >= settings.batch.maxConsecutiveFailures) {
    return { ...control, iteration, executionIterations, consecutiveFailures, action: 'halt', waitSeconds: 0, reason: `${consecutiveFailures} batches in a row failed; last error: ${last?.error}` };
  }
  if (control.executionIterations >= settings.continueAfter) {
    // The state machine starts a fresh execution with this state; its first probe decides again.
    return { ...control, consecutiveFailures, action: 'continue', waitSeconds: 0, reason: `continuing as execution ${control.generation + 1} after ${control.executionIterations} iterations` };
  }
  let batchSize = last?.error ? Math.max(settings.batch.minSize, Math.floor(control.batchSize / 2)) : nextBatchSize(settings.batch, control.batchSize, last);

  if (report.verdict === 'critical') {
    const waitSeconds = backoffSeconds(settings.backoff, control.backoffAttempt, random);
    const totalBackoffSeconds = control.totalBackoffSeconds + waitSeconds;
    const problems = describeProblems(report);
    if (totalBackoffSeconds > settings.backoff.maxTotalSeconds) {
      return { ...control, iteration, executionIterations, consecutiveFailures, action: 'halt', waitSeconds: 0, reason: `backoff budget of ${settings.backoff.maxTotalSeconds}s spent; still unhealthy: ${problems}` };
    }
    return { ...control, iteration, executionIterations, batchSize, backoffAttempt: control.backoffAttempt + 1, totalBackoffSeconds, consecutiveFailures, action: 'backoff', waitSeconds, reason: problems };
  }

  // Health is back: let the backoff exponent decay instead of snapping to zero.
  const backoffAttempt = Math.max(0, control.backoffAttempt - 1);
  if (last !== null && !last.error && last.received === 0 && !last.drained) {
    // Nothing visible, but items are in flight (waiting out a retry delay): wait for them, no penalty.
    return { ...control, iteration, executionIterations, batchSize, backoffAttempt, consecutiveFailures, action: 'backoff', waitSeconds: 1, reason: `waiting for ${last.queue.inFlight} in-flight items` };
  }
  if (report.verdict === 'warning') batchSize = Math.max(settings.batch.minSize, Math.floor(batchSize / 2));
  const reason = report.verdict === 'warning' ? `degraded, smaller batch: ${describeProblems(report)}` : 'healthy';
  return { ...control, iteration, executionIterations, batchSize, backoffAttempt, consecutiveFailures, action: 'proceed', waitSeconds: 0, reason };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
