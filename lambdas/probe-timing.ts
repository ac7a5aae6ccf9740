import { TimeLimitError } from '../core/errors';
import { MAX_PROBE_TIMEOUT_MS, PROBE_BUDGET_TIMEOUTS } from '../core/health-settings';

/**
 * How long one probe invocation can take, from limits the code enforces, so the HealthProbe function's timeout can
 * be computed rather than hoped for (lib/adaptive-backfill.ts; test/unit/probe-timing.test.ts checks the template):
 *
 *   the Postgres probe, abandoned at PROBE_BUDGET_TIMEOUTS x probeTimeoutMs     4 x 5,000 ms (the knob's maximum)  20,000 ms
 *     (its connect included; CloudWatch is read alongside, within probeTimeoutMs; activeSessions' 3 queries and
 *     probeLatency's up to 20 samples are inside the budget, since the budget cuts whatever is running)
 *   3 bookkeeping steps, each given up after BOOKKEEPING_STEP_MS                 3 x 10,000 ms                     30,000 ms
 *     (the pool and the run's flags and knobs; the totals, when the run ends; recording the decision)
 *   calibrating the latency baseline (before the first batch, paused, backing off), CALIBRATION_STEP_MS   5,000 ms
 *                                                                                                         worst case 55,000 ms
 * The function gets HEALTH_PROBE_TIMEOUT_SECONDS = 60 s: the worst case and 5 s for the rest (deciding, logging,
 * flushing metrics). A timeout or crash beyond that is retried by ProbeHealth's Retry (lib/state-machine.ts).
 */
export const BOOKKEEPING_STEP_MS = 10_000;
export const BOOKKEEPING_STEPS = 3;
export const CALIBRATION_STEP_MS = 5_000;
export const MAX_PROBE_BUDGET_MS = PROBE_BUDGET_TIMEOUTS * MAX_PROBE_TIMEOUT_MS;
export const PROBE_WORST_CASE_MS = MAX_PROBE_BUDGET_MS + BOOKKEEPING_STEPS * BOOKKEEPING_STEP_MS + CALIBRATION_STEP_MS;
export const HEALTH_PROBE_TIMEOUT_SECONDS = 60;

/**
 * `fn()`'s result, or a TimeLimitError once `limitMs` have passed. A step given up on is not awaited further: its
 * late result or error is dropped (a pool session it holds comes back when its statement ends).
 */
export async function withinTimeLimit<T>(what: string, limitMs: number, fn: () => Promise<T>): Promise<T> {
  const work = fn();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeLimitError(what, limitMs)), limitMs);
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}
