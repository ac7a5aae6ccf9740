import { describeProblems, VERDICT_RANK, worstVerdict, type HealthCheckResult, type HealthReport, type Verdict } from './health';
import { DEFAULT_HEALTH_SETTINGS, type HealthSettings, type StrategyName } from './health-settings';

/** The evaluation of the checks: the overall verdict, the strategy's score, a halt reason when one applies, and
 * the checks (with an 'evaluator' entry added when a job's evaluator failed or was missing). */
export type Evaluation = Pick<HealthReport, 'verdict' | 'strategy' | 'score' | 'halt' | 'checks'>;

/** What a job's own evaluator returns: a verdict, or a verdict with a score and a halt reason. */
export type CustomEvaluation = Verdict | { readonly verdict: Verdict; readonly score?: number; readonly halt?: string };

/**
 * A job's own evaluation strategy (`health.evaluate` in the job module, chosen with strategy "custom"). Pure and
 * synchronous; it sees every check, including informational ones (weight 0). A check marked `halt` still halts.
 */
export type CustomEvaluator = (checks: readonly HealthCheckResult[], settings: HealthSettings) => CustomEvaluation;

export interface EvaluationOptions {
  readonly strategy?: StrategyName;
  readonly settings?: Pick<HealthSettings, 'weighted' | 'fractionFailing'>;
  /** The job's evaluator, for strategy "custom". */
  readonly evaluator?: CustomEvaluator;
  /** The full health settings, handed to a custom evaluator. */
  readonly health?: HealthSettings;
}

const DEFAULTS = DEFAULT_HEALTH_SETTINGS;

/**
 * Turns the checks into one verdict with the chosen strategy:
 * - any-critical (the default): as bad as the worst counted check;
 * - weighted: score = sum of (check weight x verdict weight), warning/critical from score thresholds;
 * - fraction-failing: the share of counted checks that are not ok, against fraction thresholds;
 * - custom: the job's evaluator (a failing evaluator is itself critical).
 * Checks with weight 0 only inform (custom evaluators still see them). A critical check marked `halt` stops the
 * run whatever the strategy says, and a probe that failed outright (the 'probe' check) is critical under every
 * strategy: nothing was measured.
 */
export function evaluateChecks(checks: readonly HealthCheckResult[], options: EvaluationOptions = {}): Evaluation {
  const counted = checks.filter((check) => weightOf(check) > 0);
  const { strategy, result, note } = evaluateWith(options.strategy ?? 'any-critical', checks, counted, options);
  const halting = checks.filter((check) => check.halt && check.verdict === 'critical');
  const halt = halting.length > 0 ? `a halting check tripped: ${describeProblems({ checks: halting })}` : result.halt;
  // A probe that could not reach the database measured nothing: no strategy may call that healthy.
  const unreachable = checks.some((check) => check.name === 'probe' && check.verdict === 'critical');
  return {
    verdict: unreachable ? 'critical' : result.verdict,
    strategy,
    ...(result.score !== undefined ? { score: result.score } : {}),
    ...(halt ? { halt } : {}),
    checks: note ? [...checks, note] : checks,
  };
}

interface StrategyResult {
  readonly verdict: Verdict;
  readonly score?: number;
  readonly halt?: string;
}

function evaluateWith(
  strategy: StrategyName,
  all: readonly HealthCheckResult[],
  counted: readonly HealthCheckResult[],
  options: EvaluationOptions,
): { strategy: StrategyName; result: StrategyResult; note?: HealthCheckResult } {
  switch (strategy) {
    case 'any-critical':
      return { strategy, result: { verdict: worstVerdict(counted) } };
    case 'weighted':
      return { strategy, result: weighted(counted, options.settings?.weighted ?? DEFAULTS.weighted) };
    case 'fraction-failing':
      return { strategy, result: fractionFailing(counted, options.settings?.fractionFailing ?? DEFAULTS.fractionFailing) };
    case 'custom':
      if (!options.evaluator) {
        // Only a live knob can get here (Init rejects it): say so, and fall back to the default strategy.
        const note = evaluatorNote('warning', 0, 'strategy "custom" was chosen, but the job defines no health.evaluate; any-critical was used');
        return { strategy: 'any-critical', result: { verdict: worstVerdict(counted) }, note };
      }
      return custom(all, options);
  }
}

function weightOf(check: HealthCheckResult): number {
  return check.weight ?? 1;
}

/** Score: a critical check of weight 1 adds criticalWeight, a warning adds warningWeight, ok adds nothing. */
export function weighted(checks: readonly HealthCheckResult[], w: HealthSettings['weighted']): StrategyResult {
  const verdictWeight: Record<Verdict, number> = { ok: 0, warning: w.warningWeight, critical: w.criticalWeight };
  const score = round(checks.reduce((sum, check) => sum + weightOf(check) * verdictWeight[check.verdict], 0));
  return { verdict: scoreVerdict(score, w.warningScore, w.criticalScore), score };
}

/** Share of counted checks, by weight, that are not ok. Nothing failing is healthy, whatever the thresholds. */
export function fractionFailing(checks: readonly HealthCheckResult[], f: HealthSettings['fractionFailing']): StrategyResult {
  const total = checks.reduce((sum, check) => sum + weightOf(check), 0);
  const failing = checks.filter((check) => check.verdict !== 'ok').reduce((sum, check) => sum + weightOf(check), 0);
  const score = total === 0 ? 0 : round(failing / total);
  return { verdict: failing === 0 ? 'ok' : scoreVerdict(score, f.warningFraction, f.criticalFraction), score };
}

function custom(checks: readonly HealthCheckResult[], options: EvaluationOptions): { strategy: StrategyName; result: StrategyResult; note?: HealthCheckResult } {
  const broken = (problem: string) => ({ strategy: 'custom' as const, result: { verdict: 'critical' as const }, note: evaluatorNote('critical', 1, problem) });
  let result: unknown;
  try {
    result = options.evaluator!(checks, options.health as HealthSettings);
  } catch (error) {
    return broken(`the job's evaluator threw: ${(error as Error).message}`);
  }
  if (isVerdict(result)) return { strategy: 'custom', result: { verdict: result } };
  if (typeof result === 'object' && result !== null && isVerdict((result as { verdict?: unknown }).verdict)) {
    const { verdict, score, halt } = result as { verdict: Verdict; score?: unknown; halt?: unknown };
    return {
      strategy: 'custom',
      result: {
        verdict,
        ...(typeof score === 'number' && Number.isFinite(score) ? { score } : {}),
        ...(typeof halt === 'string' && halt !== '' ? { halt: `the job's evaluator halted the run: ${halt}` } : {}),
      },
    };
  }
  return broken(`the job's evaluator returned ${JSON.stringify(result)}; expected "ok", "warning", "critical" or { verdict, score?, halt? }`);
}

function isVerdict(value: unknown): value is Verdict {
  return typeof value === 'string' && Object.hasOwn(VERDICT_RANK, value);
}

/** A failing or missing evaluator shows up as a check of its own, so the decision's reason names it. */
function evaluatorNote(verdict: Verdict, weight: number, detail: string): HealthCheckResult {
  return { name: 'evaluator', value: 0, unit: 'evaluations', verdict, weight, detail, error: detail };
}

function scoreVerdict(score: number, warning: number, critical: number): Verdict {
  if (score >= critical) return 'critical';
  if (score >= warning) return 'warning';
  return 'ok';
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
