export type Verdict = 'ok' | 'warning' | 'critical';

export interface HealthCheckResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly verdict: Verdict;
  /** How much this check counts in the weighted strategy. @default 1 */
  readonly weight?: number;
  /** A critical verdict on this check halts the run instead of backing off. */
  readonly halt?: boolean;
  readonly detail?: string;
}

/** The evaluation of all checks: ok proceeds, warning proceeds degraded (smaller, paced), critical backs off. */
export interface HealthReport {
  readonly verdict: Verdict;
  readonly checks: readonly HealthCheckResult[];
  /** The evaluation strategy that turned the checks into the verdict. */
  readonly strategy?: string;
  /** The strategy's score, where it has one (weighted, fraction failing). */
  readonly score?: number;
  /** Set when a check marked `halt` tripped: the run stops with this reason. */
  readonly halt?: string;
  readonly probedAt: string;
  readonly durationMs: number;
}

const RANK: Record<Verdict, number> = { ok: 0, warning: 1, critical: 2 };

export function thresholdVerdict(value: number, thresholds: { readonly warningSeconds: number; readonly criticalSeconds: number }): Verdict {
  if (value >= thresholds.criticalSeconds) return 'critical';
  if (value >= thresholds.warningSeconds) return 'warning';
  return 'ok';
}

/** any-critical: the report is as bad as its worst check. */
export function worstVerdict(checks: readonly HealthCheckResult[]): Verdict {
  return checks.reduce<Verdict>((worst, check) => (RANK[check.verdict] > RANK[worst] ? check.verdict : worst), 'ok');
}

/** One line naming what is not ok, e.g. "longRunningQueries 130s (critical: 1 running longer than 30s)". */
export function describeProblems(report: Pick<HealthReport, 'checks'>): string {
  const bad = report.checks.filter((check) => check.verdict !== 'ok');
  if (bad.length === 0) return 'healthy';
  return bad.map((check) => `${check.name} ${formatValue(check)} (${check.verdict}${check.detail ? `: ${check.detail}` : ''})`).join('; ');
}

function formatValue(check: HealthCheckResult): string {
  return `${Math.round(check.value * 10) / 10}${check.unit === 'seconds' ? 's' : ` ${check.unit}`}`;
}
