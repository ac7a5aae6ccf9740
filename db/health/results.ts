import type { HealthCheckResult } from '../../core/health';
import type { CheckKnobs } from '../../core/health-settings';
import type { Measurement } from './check';

/** A measured check as the report shows it: value, verdict, and the knobs that weigh it. */
export function checkResult(name: string, unit: string, knobs: Pick<CheckKnobs, 'weight' | 'halt'>, m: Measurement): HealthCheckResult {
  return { name, value: m.value, unit, verdict: m.verdict, weight: knobs.weight, ...(knobs.halt ? { halt: true } : {}), ...(m.detail ? { detail: m.detail } : {}) };
}

/**
 * A check that could not measure (its query failed or timed out): critical, so the backfill backs off rather than
 * work blind, and marked with the error. It never halts the run: halting is for what was measured.
 */
export function failedResult(name: string, unit: string, knobs: Pick<CheckKnobs, 'weight'>, error: unknown): HealthCheckResult {
  const message = error instanceof Error ? error.message : String(error);
  return { name, value: 0, unit, verdict: 'critical', weight: knobs.weight, detail: `check failed: ${message}`, error: message };
}
