import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateChecks, type CustomEvaluator } from '../../core/evaluate';
import { describeProblems, type HealthCheckResult, type Verdict } from '../../core/health';
import { DEFAULT_HEALTH_SETTINGS } from '../../core/health-settings';

function check(name: string, verdict: Verdict, extra: Partial<HealthCheckResult> = {}): HealthCheckResult {
  return { name, value: verdict === 'ok' ? 0 : 10, unit: 'seconds', verdict, ...extra };
}

const settings = DEFAULT_HEALTH_SETTINGS;

describe('evaluateChecks', () => {
  it('any-critical (the default): as bad as the worst check that counts; weight 0 only informs', () => {
    // Prepare
    const cases: Array<[HealthCheckResult[], Verdict]> = [
      [[], 'ok'],
      [[check('a', 'ok'), check('b', 'ok')], 'ok'],
      [[check('a', 'ok'), check('b', 'warning')], 'warning'],
      [[check('a', 'warning'), check('b', 'critical')], 'critical'],
      [[check('a', 'ok'), check('b', 'critical', { weight: 0 })], 'ok'],
    ];
    // Act
    const results = cases.map(([checks]) => evaluateChecks(checks));
    // Assess
    assert.deepStrictEqual(results.map((r) => [r.verdict, r.strategy, r.score, r.halt]), cases.map(([, verdict]) => [verdict, 'any-critical', undefined, undefined]));
  });

  it('weighted: sums check weight x verdict weight, against the score thresholds', () => {
    // Prepare: defaults warning 1 / critical 3 per check of weight 1; warning from score 1, critical from 3
    const cases: Array<[HealthCheckResult[], Verdict, number]> = [
      [[check('a', 'ok'), check('b', 'ok')], 'ok', 0],
      [[check('a', 'warning')], 'warning', 1],
      [[check('a', 'warning'), check('b', 'warning')], 'warning', 2],
      [[check('a', 'warning'), check('b', 'warning'), check('c', 'warning')], 'critical', 3],
      [[check('a', 'critical')], 'critical', 3],
      [[check('a', 'critical', { weight: 0.5 })], 'warning', 1.5],
      [[check('a', 'warning', { weight: 0.5 })], 'ok', 0.5],
      [[check('a', 'critical', { weight: 0 }), check('b', 'warning', { weight: 2 })], 'warning', 2],
    ];
    // Act
    const results = cases.map(([checks]) => evaluateChecks(checks, { strategy: 'weighted', settings }));
    // Assess
    assert.deepStrictEqual(results.map((r) => [r.verdict, r.score]), cases.map(([, verdict, score]) => [verdict, score]));
  });

  it('weighted: follows tuned weights and scores', () => {
    // Act
    const result = evaluateChecks([check('a', 'warning'), check('b', 'critical')], { strategy: 'weighted', settings: { ...settings, weighted: { warningWeight: 2, criticalWeight: 5, warningScore: 4, criticalScore: 10 } } });
    // Assess
    assert.deepStrictEqual([result.verdict, result.score], ['warning', 7]);
  });

  it('fraction-failing: the weighted share of checks not ok, against the fraction thresholds', () => {
    // Prepare: defaults warning from 0.2, critical from 0.5
    const ten = (bad: Verdict, count: number) => Array.from({ length: 10 }, (_, i) => check(`c${i}`, i < count ? bad : 'ok'));
    const cases: Array<[HealthCheckResult[], Verdict, number]> = [
      [ten('critical', 0), 'ok', 0],
      [ten('critical', 1), 'ok', 0.1],
      [ten('warning', 2), 'warning', 0.2],
      [ten('critical', 4), 'warning', 0.4],
      [ten('warning', 5), 'critical', 0.5],
      [[check('a', 'critical', { weight: 3 }), check('b', 'ok')], 'critical', 0.75],
      [[check('a', 'critical', { weight: 0 }), check('b', 'ok')], 'ok', 0],
    ];
    // Act
    const results = cases.map(([checks]) => evaluateChecks(checks, { strategy: 'fraction-failing', settings }));
    // Assess
    assert.deepStrictEqual(results.map((r) => [r.verdict, r.score]), cases.map(([, verdict, score]) => [verdict, score]));
  });

  it('custom: uses the job\'s evaluator, with every check and the settings', () => {
    // Prepare
    let seen: unknown;
    const evaluator: CustomEvaluator = (checks, health) => {
      seen = [checks.map((c) => c.name), health.strategy];
      return { verdict: 'warning', score: 42 };
    };
    // Act
    const result = evaluateChecks([check('a', 'critical', { weight: 0 }), check('b', 'ok')], { strategy: 'custom', evaluator, health: { ...settings, strategy: 'custom' } });
    // Assess
    assert.deepStrictEqual([result.verdict, result.strategy, result.score, seen], ['warning', 'custom', 42, [['a', 'b'], 'custom']]);
  });

  it('custom: a throwing, wrong or missing evaluator shows up as a check of its own', () => {
    // Prepare
    const cases: Array<[CustomEvaluator | undefined, string, Verdict, string]> = [
      [() => { throw new Error('boom'); }, 'custom', 'critical', 'the job\'s evaluator threw: boom'],
      [() => 'fine' as unknown as Verdict, 'custom', 'critical', 'the job\'s evaluator returned "fine"; expected "ok", "warning", "critical" or { verdict, score?, halt? }'],
      [undefined, 'any-critical', 'ok', 'strategy "custom" was chosen, but the job defines no health.evaluate; any-critical was used'],
    ];
    // Act
    const results = cases.map(([evaluator]) => evaluateChecks([check('a', 'ok')], { strategy: 'custom', evaluator }));
    // Assess
    assert.deepStrictEqual(results.map((r) => [r.strategy, r.verdict, r.checks.at(-1)?.name, r.checks.at(-1)?.detail]), cases.map(([, strategy, verdict, detail]) => [strategy, verdict, 'evaluator', detail]));
  });

  it('halts on a critical check marked halt whatever the strategy, and names it', () => {
    // Prepare
    const checks = [check('replicationLag', 'critical', { halt: true, weight: 0, detail: 'replica far behind' }), check('b', 'ok')];
    // Act
    const results = (['any-critical', 'weighted', 'fraction-failing', 'custom'] as const).map((strategy) => evaluateChecks(checks, { strategy, settings, evaluator: () => 'ok' }));
    // Assess
    assert.deepStrictEqual(results.map((r) => r.halt), Array(4).fill('a halting check tripped: replicationLag 10s (critical: replica far behind)'));
    assert.deepStrictEqual(results.map((r) => r.verdict), ['ok', 'ok', 'ok', 'ok']);
  });

  it('does not halt on a halting check that is only a warning; lets a custom evaluator halt', () => {
    // Act
    const warning = evaluateChecks([check('a', 'warning', { halt: true })]);
    const evaluated = evaluateChecks([check('a', 'ok')], { strategy: 'custom', evaluator: () => ({ verdict: 'critical', halt: 'quota exhausted' }) });
    // Assess
    assert.deepStrictEqual([warning.verdict, warning.halt, evaluated.halt], ['warning', undefined, 'the job\'s evaluator halted the run: quota exhausted']);
  });

  it('never calls an unreachable database healthy, whatever the strategy', () => {
    // Prepare
    const unreachable = [{ name: 'probe', value: 1, unit: 'failures', verdict: 'critical' as const }];
    // Act
    const verdicts = (['any-critical', 'weighted', 'fraction-failing', 'custom'] as const).map((strategy) => evaluateChecks(unreachable, { strategy, settings: { ...settings, weighted: { ...settings.weighted, criticalScore: 100 } }, evaluator: () => 'ok' }).verdict);
    // Assess
    assert.deepStrictEqual(verdicts, ['critical', 'critical', 'critical', 'critical']);
  });
});

describe('describeProblems', () => {
  it('names each check that is not ok, with its value in its unit, or says it could not measure', () => {
    // Act
    const line = describeProblems({ checks: [
      check('a', 'ok'),
      { name: 'tempFiles', value: 12_345_678.9, unit: 'bytes/s', verdict: 'warning' },
      { name: 'cacheHitRatio', value: 0.43219, unit: 'ratio', verdict: 'critical', detail: '900 of 1000 blocks read' },
      { name: 'lockWaits', value: 0, unit: 'seconds', verdict: 'critical', detail: 'check failed: timeout', error: 'timeout' },
    ] });
    // Assess
    assert.equal(line, 'tempFiles 12345679 bytes/s (warning); cacheHitRatio 0.432 ratio (critical: 900 of 1000 blocks read); lockWaits unmeasured (critical: check failed: timeout)');
  });
});
