export type Verdict = 'ok' | 'warning' | 'critical';

export interface HealthCheckResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly verdict: Verdict;
  /** How much this check counts in the weighted and fraction-failing strategies; 0 only informs. @default 1 */
  readonly weight?: number;
  /** A critical verdict on this check halts the run instead of backing off, whatever the strategy. */
  readonly halt?: boolean;
  readonly detail?: string;
  /** Set when the check could not measure (its query failed or timed out): the verdict is then critical. */
  readonly error?: string;
}

/** The evaluation of all checks: ok proceeds, warning proceeds degraded (smaller, paced), critical backs off. */
export interface HealthReport {
  readonly verdict: Verdict;
  readonly checks: readonly HealthCheckResult[];
  /** The evaluation strategy that turned the checks into the verdict. */
  readonly strategy?: string;
  /** The strategy's score, where it has one (weighted, fraction failing, custom). */
  readonly score?: number;
  /** Set when a check marked `halt` tripped: the run stops with this reason. */
  readonly halt?: string;
  readonly probedAt: string;
  readonly durationMs: number;
}

export const VERDICT_RANK: Record<Verdict, number> = { ok: 0, warning: 1, critical: 2 };

/** Higher is worse: warning at or above `warning`, critical at or above `critical`. */
export function verdictAbove(value: number, warning: number, critical: number): Verdict {
  if (value >= critical) return 'critical';
  if (value >= warning) return 'warning';
  return 'ok';
}

/** Lower is worse (a cache hit ratio, free memory): warning below `warning`, critical below `critical`. */
export function verdictBelow(value: number, warning: number, critical: number): Verdict {
  if (value < critical) return 'critical';
  if (value < warning) return 'warning';
  return 'ok';
}

export function thresholdVerdict(value: number, thresholds: { readonly warningSeconds: number; readonly criticalSeconds: number }): Verdict {
  return verdictAbove(value, thresholds.warningSeconds, thresholds.criticalSeconds);
}

/** any-critical: the report is as bad as its worst check. */
export function worstVerdict(checks: readonly HealthCheckResult[]): Verdict {
  return checks.reduce<Verdict>((worst, check) => (VERDICT_RANK[check.verdict] > VERDICT_RANK[worst] ? check.verdict : worst), 'ok');
}

/** One line naming what is not ok, e.g. "longRunningQueries 130s (critical: 1 running longer than 30s)". */
export function describeProblems(report: Pick<HealthReport, 'checks'>): string {
  const bad = report.checks.filter((check) => check.verdict !== 'ok');
  if (bad.length === 0) return 'healthy';
  return bad.map((check) => `${check.name} ${formatValue(check)} (${check.verdict}${check.detail ? `: ${check.detail}` : ''})`).join('; ');
}

function formatValue(check: HealthCheckResult): string {
  if (check.error !== undefined) return 'unmeasured';
  if (check.unit === 'seconds') return `${Math.round(check.value * 10) / 10}s`;
  const rounded = Math.abs(check.value) >= 100 ? Math.round(check.value) : Number(check.value.toPrecision(3));
  return `${rounded} ${check.unit}`;
}
