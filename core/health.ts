import type { ThresholdSettings } from './settings';

export type Verdict = 'ok' | 'warning' | 'critical';

export interface HealthCheckResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly verdict: Verdict;
  readonly detail?: string;
}

export interface HealthReport {
  readonly verdict: Verdict;
  readonly checks: readonly HealthCheckResult[];
  readonly probedAt: string;
  readonly durationMs: number;
}

const RANK: Record<Verdict, number> = { ok: 0, warning: 1, critical: 2 };

export function thresholdVerdict(value: number, thresholds: ThresholdSettings): Verdict {
  if (value >= thresholds.criticalSeconds) return 'critical';
  if (value >= thresholds.warningSeconds) return 'warning';
  return 'ok';
}

/** any-critical: the report is as bad as its worst check. */
export function worstVerdict(checks: readonly HealthCheckResult[]): Verdict {
  return checks.reduce<Verdict>((worst, check) => (RANK[check.verdict] > RANK[worst] ? check.verdict : worst), 'ok');
}

/** One line naming what is not ok, e.g. "longRunningQueries 130s >= 120s (critical)". */
export function describeProblems(report: HealthReport): string {
  const bad = report.checks.filter((check) => check.verdict !== 'ok');
  if (bad.length === 0) return 'healthy';
  return bad.map((check) => `${check.name} ${formatValue(check)} (${check.verdict}${check.detail ? `: ${check.detail}` : ''})`).join('; ');
}

function formatValue(check: HealthCheckResult): string {
  return `${Math.round(check.value * 10) / 10}${check.unit === 'seconds' ? 's' : ` ${check.unit}`}`;
}
