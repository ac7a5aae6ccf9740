import { describeProblems, worstVerdict, type HealthCheckResult, type HealthReport, type Verdict } from './health';

/** What an evaluation adds to the checks: the overall verdict, and a halt reason when a halting check tripped. */
export type Evaluation = Pick<HealthReport, 'verdict' | 'strategy' | 'score' | 'halt'>;

/**
 * Turns the checks into one verdict. any-critical (the default): as bad as the worst check. A critical check
 * marked `halt` stops the run whatever the strategy says.
 */
export function evaluateChecks(checks: readonly HealthCheckResult[]): Evaluation {
  const verdict: Verdict = worstVerdict(checks);
  const halting = checks.filter((check) => check.halt && check.verdict === 'critical');
  return {
    verdict,
    strategy: 'any-critical',
    ...(halting.length > 0 ? { halt: `a halting check tripped: ${describeProblems({ checks: halting })}` } : {}),
  };
}
