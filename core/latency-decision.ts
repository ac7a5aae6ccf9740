import { backoffSeconds, freshBatch, type BatchStats, type ControlState } from './controller';
import { initialLatency, isLatencyState, withBaseline, type LatencyState } from './latency-controller';
import type { RunSettings } from './settings';

/** What a batch reports about its duty cycle (BatchStats.latency). */
export interface BatchLatency {
  /** The controller's state after the batch's last statement: the next batch starts from it. */
  readonly state: LatencyState;
  readonly statements: number;
  /** Milliseconds slept between statements. */
  readonly pausedMs: number;
  /** Sampler samples taken during the batch, and the largest signal seen (ms). */
  readonly samples: number;
  readonly maxSignalMs: number;
  /** Set when a critical verdict stopped the batch: why, and how many items went back to the queue uncharged. */
  readonly stopped?: { readonly reason: string; readonly handedBack: number; /** When the batch saw the verdict. */ readonly at?: string };
}

/**
 * Applied to every decision after decide(): the latency state is carried on (from the batch that just ran, else
 * from the previous decision; each report once, by its batchId, as decide() does), and a batch that a critical
 * verdict stopped is followed by a backoff of whole seconds (the Step Functions Wait state), never by another batch
 * at once: the next probe and batch see whether the condition has passed. Those waits spend the backoff budget like any other backoff, never a retry.
 */
export function withLatency(settings: RunSettings, control: ControlState, next: ControlState, last: BatchStats | null, random: () => number = Math.random): ControlState {
  const previous = isLatencyState(control.latency) ? control.latency : initialLatency();
  // A report already acted on (the same lastBatch after a wait) is not acted on twice: decide()'s rule (freshBatch).
  const report = freshBatch(control, last)?.latency;
  const fresh = report !== undefined && isLatencyState(report.state);
  const carried = fresh ? report.state : previous;
  const stopped = fresh ? report.stopped : undefined;
  if (next.action !== 'proceed' || stopped === undefined) return { ...next, latency: carried };
  const waitSeconds = backoffSeconds(settings.backoff, control.backoffAttempt, random);
  const totalBackoffSeconds = control.totalBackoffSeconds + waitSeconds;
  const why = `the last batch stopped: ${stopped.reason}; ${stopped.handedBack} items handed back uncharged`;
  if (totalBackoffSeconds > settings.backoff.maxTotalSeconds) {
    return { ...next, latency: carried, action: 'halt', paceSeconds: 0, reason: `backoff budget of ${settings.backoff.maxTotalSeconds}s spent; ${why}` };
  }
  return { ...next, latency: carried, action: 'backoff', waitSeconds, paceSeconds: 0, backoffAttempt: control.backoffAttempt + 1, totalBackoffSeconds, reason: why };
}

/** A baseline is refreshed while paused or backing off once it is this old. */
export const BASELINE_REFRESH_SECONDS = 30;

/**
 * Whether this decision should (re)calibrate the baseline: before the first batch, and while paused or backing off
 * (nothing of the backfill's writes then) once the baseline is BASELINE_REFRESH_SECONDS old.
 */
export function needsCalibration(settings: RunSettings, next: ControlState, now: number = Date.now()): boolean {
  if (!settings.latency.enabled || next.action === 'halt' || next.action === 'abort') return false;
  const latency = next.latency ?? initialLatency();
  if (latency.baselineMs === 0 || latency.baselineAt === undefined) return true;
  const age = (now - Date.parse(latency.baselineAt)) / 1000;
  return (next.action === 'backoff' || next.action === 'pause') && !(age < BASELINE_REFRESH_SECONDS);
}

/** The decision with its new baseline. */
export function calibrated(next: ControlState, baselineMs: number, at: string): ControlState {
  return { ...next, latency: withBaseline(next.latency ?? initialLatency(), baselineMs, at) };
}
