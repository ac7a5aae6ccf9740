import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffSeconds, decide, failureRatioProblem, freshBatch, initialControl, NO_REQUESTS, nextBatchSize, type BatchStats, type ControlState } from '../../core/controller';
import { evaluateChecks } from '../../core/evaluate';
import { initialLatency } from '../../core/latency-controller';
import type { HealthCheckResult, HealthReport, Verdict } from '../../core/health';
import type { StrategyName } from '../../core/health-settings';
import { DEFAULT_SETTINGS, resolveSettings } from '../../core/settings';

const settings = resolveSettings({ batch: { initialSize: 10, minSize: 1, maxSize: 100, targetSeconds: 1, maxConsecutiveFailures: 3 }, backoff: { baseSeconds: 2, maxSeconds: 30, multiplier: 2, maxTotalSeconds: 60 } });

function report(verdict: Verdict): HealthReport {
  const value = verdict === 'critical' ? 200 : verdict === 'warning' ? 40 : 1;
  return { verdict, checks: [{ name: 'longRunningQueries', value, unit: 'seconds', verdict }], probedAt: '2026-01-01T00:00:00.000Z', durationMs: 1 };
}

function batch(received: number, durationMs: number, extra: Partial<BatchStats> = {}): BatchStats {
  return { received, succeeded: received, retried: 0, deadLettered: 0, rowsAffected: received * 1000, durationMs, queue: { visible: 100, inFlight: 0 }, drained: false, ...extra };
}

describe('backoffSeconds', () => {
  it('is full jitter in whole seconds, at least 1, capped', () => {
    // Prepare
    const backoff = settings.backoff;
    // Act
    const rows = [0, 1, 2, 3, 10].map((attempt) => [attempt, backoffSeconds(backoff, attempt, () => 0), backoffSeconds(backoff, attempt, () => 0.5), backoffSeconds(backoff, attempt, () => 0.999999)]);
    // Assess
    assert.deepStrictEqual(rows, [
      [0, 1, 1, 2],
      [1, 1, 2, 4],
      [2, 1, 4, 8],
      [3, 1, 8, 16],
      [10, 1, 15, 30],
    ]);
  });
});

describe('nextBatchSize', () => {
  it('grows by at most x1.2 toward the target duration, shrinks freely, stays within bounds', () => {
    // Prepare: the target is 1 s per batch
    const cases: Array<[number, BatchStats | null, number]> = [
      [10, null, 10], // no batch yet
      [10, batch(10, 100), 12], // 10 ms per item -> ideal 100, growth capped at 12
      [10, batch(10, 1000), 10], // exactly on target
      [10, batch(10, 4000), 6], // 400 ms per item -> ideal 2.5, halfway from 10 is 6.25
      [2, batch(2, 100_000), 1], // never below minSize
      [95, batch(95, 95), 100], // never above maxSize
      [10, batch(0, 5), 10], // an empty batch says nothing about speed
    ];
    // Act
    const sizes = cases.map(([current, last]) => nextBatchSize(settings.batch, current, last));
    // Assess
    assert.deepStrictEqual(sizes, cases.map(([, , expected]) => expected));
  });
});

describe('decide', () => {
  it('turns a sequence of reports into proceed, backoff with growing waits, decay, and proceed again', () => {
    // Prepare
    const sequence: Array<[Verdict, BatchStats | null]> = [
      ['ok', null],
      ['ok', batch(10, 500)],
      ['critical', batch(12, 600)],
      ['critical', null],
      ['critical', null],
      ['ok', null],
      ['warning', batch(12, 600)],
    ];
    // Act
    let control: ControlState = initialControl(settings);
    const decisions = sequence.map(([verdict, last]) => {
      control = decide(settings, control, last, report(verdict), NO_REQUESTS, () => 0.999999);
      return [control.action, control.waitSeconds, control.batchSize, control.backoffAttempt];
    });
    // Assess
    assert.deepStrictEqual(decisions, [
      ['proceed', 0, 10, 0],
      ['proceed', 0, 12, 0],
      ['backoff', 2, 14, 1],
      ['backoff', 4, 14, 2],
      ['backoff', 8, 14, 3],
      ['proceed', 0, 14, 2],
      ['proceed', 0, 8, 1],
    ]);
  });

  it('never counts an unhealthy probe as a batch failure', () => {
    // Prepare
    let control: ControlState = initialControl(settings);
    // Act
    for (let i = 0; i < 5; i += 1) control = decide(settings, control, null, report('critical'), NO_REQUESTS, () => 0);
    // Assess
    assert.deepStrictEqual([control.action, control.consecutiveFailures, control.totalBackoffSeconds], ['backoff', 0, 5]);
  });

  it('halts once the backoff budget is spent, naming the problem', () => {
    // Prepare: every wait is the cap (30 s); the budget is 60 s
    let control: ControlState = { ...initialControl(settings), backoffAttempt: 10 };
    // Act
    const actions = [1, 2, 3].map(() => {
      control = decide(settings, control, null, report('critical'), NO_REQUESTS, () => 0.999999);
      return control.action;
    });
    // Assess
    assert.deepStrictEqual(actions, ['backoff', 'backoff', 'halt']);
    assert.match(control.reason, /^backoff budget of 60s spent; still unhealthy: longRunningQueries 200s \(critical\)$/);
  });

  it('halves the batch after a failed batch and halts after maxConsecutiveFailures in a row', () => {
    // Prepare
    const failed = batch(0, 0, { error: 'BatchFailedError: database went away' });
    let control: ControlState = { ...initialControl(settings), batchSize: 40 };
    // Act
    const steps = [failed, failed, failed].map((last) => {
      control = decide(settings, control, last, report('ok'), NO_REQUESTS, Math.random);
      return [control.action, control.batchSize, control.consecutiveFailures];
    });
    // Assess
    assert.deepStrictEqual(steps, [
      ['proceed', 20, 1],
      ['proceed', 10, 2],
      ['halt', 10, 3],
    ]);
    assert.equal(control.reason, '3 batches in a row failed; last error: BatchFailedError: database went away');
  });

  it('waits without penalty when nothing is visible but items are in flight', () => {
    // Prepare
    const last = batch(0, 3, { queue: { visible: 0, inFlight: 4 } });
    // Act
    const next = decide(settings, initialControl(settings), last, report('ok'));
    // Assess
    assert.deepStrictEqual([next.action, next.waitSeconds, next.reason, next.backoffAttempt, next.totalBackoffSeconds], ['backoff', 1, 'waiting for 4 in-flight items', 0, 0]);
  });
});

describe('decide: each batch report is consumed once', () => {
  it('after waiting for in-flight items, runs a batch again instead of waiting on the same report forever', () => {
    // Prepare: the state machine hands the same $.lastBatch back after every Backoff (only ProcessBatch replaces it)
    const retried = batch(3, 300, { batchId: 'b1', succeeded: 0, retried: 3, rowsAffected: 0, queue: { visible: 0, inFlight: 3 } });
    const empty2 = batch(0, 5, { batchId: 'b2', queue: { visible: 0, inFlight: 3 } });
    const empty3 = batch(0, 5, { batchId: 'b3', queue: { visible: 0, inFlight: 3 } });
    const back = batch(3, 300, { batchId: 'b4', queue: { visible: 0, inFlight: 0 } });
    const reports = [retried, empty2, empty2, empty3, empty3, back];
    // Act
    let control: ControlState = initialControl(settings);
    const steps = reports.map((last) => {
      control = decide(settings, control, last, report('ok'));
      return [control.action, control.waitSeconds, control.inFlightWaits, control.lastBatchId];
    });
    // Assess: the wait grows 1 s, 2 s; each stale report leads to a batch; a batch that receives resets the wait
    assert.deepStrictEqual(steps, [
      ['proceed', 0, 0, 'b1'],
      ['backoff', 1, 1, 'b2'],
      ['proceed', 0, 1, 'b2'],
      ['backoff', 2, 2, 'b3'],
      ['proceed', 0, 2, 'b3'],
      ['proceed', 0, 0, 'b4'],
    ]);
  });

  it('caps the wait for in-flight items at MAX_IN_FLIGHT_WAIT_SECONDS', () => {
    // Prepare
    let control: ControlState = initialControl(settings);
    // Act
    const waits = [1, 2, 3, 4, 5, 6].map((i) => {
      control = decide(settings, control, batch(0, 5, { batchId: `e${i}`, queue: { visible: 0, inFlight: 1 } }), report('ok'));
      return control.waitSeconds;
    });
    // Assess
    assert.deepStrictEqual(waits, [1, 2, 4, 8, 8, 8]);
  });

  it('counts a failed batch once, however many probes see its report', () => {
    // Prepare: BatchFailed's report, then two backoffs (unhealthy) that hand it back
    const failed = batch(0, 0, { batchId: 'f1', error: 'BatchFailedError: database went away' });
    let control: ControlState = { ...initialControl(settings), batchSize: 40 };
    // Act
    const steps = (['critical', 'critical', 'ok'] as const).map((verdict) => {
      control = decide(settings, control, failed, report(verdict), NO_REQUESTS, () => 0);
      return [control.action, control.batchSize, control.consecutiveFailures];
    });
    // Assess: halved once, counted once
    assert.deepStrictEqual(steps, [['backoff', 20, 1], ['backoff', 20, 1], ['proceed', 20, 1]]);
  });

  it('learns the batch size from a report once, and keeps the exact state on a stale one', () => {
    // Prepare: 10 ms per item would grow the batch each time the report was read
    const fast = batch(10, 100, { batchId: 'b1' });
    const first = decide(settings, initialControl(settings), fast, report('ok'));
    // Act
    const again = decide(settings, first, fast, report('ok'));
    // Assess
    assert.deepStrictEqual(freshBatch(first, fast), null);
    assert.deepStrictEqual(again, {
      ...first,
      iteration: 2,
      executionIterations: 2,
    });
    assert.deepStrictEqual(first, {
      iteration: 1,
      executionIterations: 1,
      generation: 1,
      batchSize: 12,
      backoffAttempt: 0,
      totalBackoffSeconds: 0,
      consecutiveFailures: 0,
      action: 'proceed',
      waitSeconds: 0,
      paceSeconds: 0,
      reason: 'healthy',
      lastBatchId: 'b1',
      inFlightWaits: 0,
      itemsSucceeded: 10,
      itemsDeadLettered: 0,
      // The in-batch latency controller's state rides along from initialControl (ProcessBatch reads it).
      latency: initialLatency(),
    });
  });

  it('takes a report without an id as fresh (no id to remember)', () => {
    // Prepare
    const control = { ...initialControl(settings), lastBatchId: 'b1' };
    const last = batch(1, 10);
    // Act
    const fresh = freshBatch(control, last);
    // Assess
    assert.deepStrictEqual(fresh, last);
  });
});

describe('decide: the failure-ratio halt (failures.haltRatio, failures.minItems)', () => {
  it('halts with the last error once more than haltRatio of at least minItems settled items were dead-lettered', () => {
    // Prepare: defaults 0.5 after 50; batches of 10 items, 6 of them dead-lettered each
    const s = resolveSettings();
    const lastError = { error: 'column "nope" does not exist', dedupeKey: 'range:0-100', items: 30 };
    let control: ControlState = initialControl(s);
    // Act
    const steps = [1, 2, 3, 4, 5].map((i) => {
      control = decide(s, control, batch(10, 100, { batchId: `b${i}`, succeeded: 4, deadLettered: 6, lastError }), report('ok'));
      return [control.action, control.itemsSucceeded, control.itemsDeadLettered];
    });
    // Assess: the fifth batch reaches 50 settled items, 30 of them dead
    assert.deepStrictEqual(steps, [['proceed', 4, 6], ['proceed', 8, 12], ['proceed', 12, 18], ['proceed', 16, 24], ['halt', 20, 30]]);
    assert.equal(control.reason, '30 of 50 settled items were dead-lettered (more than failures.haltRatio 0.5 after at least failures.minItems 50); last error: column "nope" does not exist');
  });

  it('does not halt at exactly the ratio, below minItems, or with haltRatio 1', () => {
    // Act
    const problems = [
      failureRatioProblem(resolveSettings(), 25, 25, 'x'),
      failureRatioProblem(resolveSettings(), 0, 49, 'x'),
      failureRatioProblem(resolveSettings({ failures: { haltRatio: 1 } }), 0, 1000, 'x'),
      failureRatioProblem(resolveSettings({ failures: { haltRatio: 0, minItems: 1 } }), 10, 1, 'x'),
    ];
    // Assess
    assert.deepStrictEqual(problems, [undefined, undefined, undefined, '1 of 11 settled items were dead-lettered (more than failures.haltRatio 0 after at least failures.minItems 1); last error: x']);
  });

  it('uses the defaults when nothing is overridden', () => {
    // Act
    const control = initialControl(resolveSettings());
    // Assess
    assert.equal(control.batchSize, DEFAULT_SETTINGS.batch.initialSize);
  });

  it('continues as a new execution after continueAfter iterations, unless it must halt', () => {
    // Prepare
    const short = resolveSettings({ continueAfter: 2 });
    let control: ControlState = initialControl(short);
    // Act
    const actions = [1, 2, 3].map(() => {
      control = decide(short, control, batch(4, 100), report('ok'));
      return [control.action, control.executionIterations, control.iteration];
    });
    const halting = decide(resolveSettings({ continueAfter: 2, batch: { maxConsecutiveFailures: 1 } }), { ...control, action: 'proceed' }, batch(0, 0, { error: 'boom' }), report('ok'));
    // Assess
    assert.deepStrictEqual(actions, [['proceed', 1, 1], ['proceed', 2, 2], ['continue', 2, 2]]);
    assert.equal(control.reason, 'continuing as execution 2 after 2 iterations');
    assert.equal(halting.action, 'halt');
  });
});

describe('decide, table-driven: evaluated reports in, decisions out', () => {
  // Real reports: checks evaluated by the run's strategy, as the probe does.
  const evaluated = (checks: HealthCheckResult[], strategy: StrategyName = 'any-critical'): HealthReport => ({
    ...evaluateChecks(checks, { strategy, settings: settings.health }),
    probedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1,
  });
  const lag = (verdict: Verdict, extra: Partial<HealthCheckResult> = {}): HealthCheckResult => ({ name: 'replicationLag', value: verdict === 'ok' ? 0 : 45, unit: 'seconds', verdict, ...extra });
  type Step = [HealthReport, BatchStats | null];
  type Decision = [ControlState['action'], number, number, number, number];

  /** Runs the steps from a fresh run; each decision as [action, batchSize, paceSeconds, waitSeconds, backoffAttempt]. */
  function run(steps: Step[]): { decisions: Decision[]; last: ControlState } {
    let control: ControlState = initialControl(settings);
    const decisions = steps.map(([health, last]) => {
      control = decide(settings, control, last, health, NO_REQUESTS, () => 0.999999);
      return [control.action, control.batchSize, control.paceSeconds, control.waitSeconds, control.backoffAttempt] as Decision;
    });
    return { decisions, last: control };
  }

  it('healthy -> degraded (smaller, paced) -> unhealthy (growing waits) -> recovery (exponent decays)', () => {
    // Prepare: 100 ms per item against a 1 s target; waits at the cap of full jitter
    const steps: Step[] = [
      [evaluated([lag('ok')]), null],
      [evaluated([lag('warning')]), batch(10, 1000)],
      [evaluated([lag('critical')]), batch(5, 500)],
      [evaluated([lag('critical')]), null],
      [evaluated([lag('critical')]), null],
      [evaluated([lag('ok')]), null],
      [evaluated([lag('ok')]), batch(6, 600)],
      [evaluated([lag('critical')]), null],
    ];
    // Act
    const { decisions } = run(steps);
    // Assess
    assert.deepStrictEqual(decisions, [
      ['proceed', 10, 0, 0, 0],
      ['proceed', 5, 1, 0, 0], // degraded: half the batch, a pause as long as the last batch (nice ratio 1)
      ['backoff', 6, 0, 2, 1],
      ['backoff', 6, 0, 4, 2],
      ['backoff', 6, 0, 8, 3],
      ['proceed', 6, 0, 0, 2], // healthy again: the exponent decays by one per probe
      ['proceed', 7, 0, 0, 1], // growth capped at x1.2
      ['backoff', 7, 0, 4, 2], // a relapse waits 4 s, not 16
    ]);
  });

  it('halts when a check marked halt turns critical, whatever the strategy, with the reason', () => {
    // Prepare
    const tripped = [lag('critical', { halt: true }), { name: 'connections', value: 0.1, unit: 'ratio', verdict: 'ok' as const }];
    const results = (['any-critical', 'weighted', 'fraction-failing'] as const).map((strategy) => run([[evaluated([lag('ok', { halt: true })], strategy), null], [evaluated(tripped, strategy), null]]));
    // Assess
    assert.deepStrictEqual(results.map((r) => r.decisions.map((d) => d[0])), Array(3).fill(['proceed', 'halt']));
    assert.deepStrictEqual(results.map((r) => r.last.reason), Array(3).fill('a halting check tripped: replicationLag 45s (critical)'));
  });

  it('decides by the strategy: the same checks back off, proceed degraded, or proceed', () => {
    // Prepare: three warnings; one critical among ten checks
    const warnings = ['a', 'b', 'c'].map((name) => lag('warning', { name }));
    const oneOfTen = [lag('critical'), ...Array.from({ length: 9 }, (_, i) => lag('ok', { name: `ok${i}` }))];
    const cases: Array<[HealthCheckResult[], StrategyName, ControlState['action'], string]> = [
      [warnings, 'any-critical', 'proceed', 'degraded, smaller batch: a 45s (warning); b 45s (warning); c 45s (warning)'],
      [warnings, 'weighted', 'backoff', 'a 45s (warning); b 45s (warning); c 45s (warning)'],
      [oneOfTen, 'any-critical', 'backoff', 'replicationLag 45s (critical)'],
      [oneOfTen, 'fraction-failing', 'proceed', 'healthy'],
    ];
    // Act
    const outcomes = cases.map(([checks, strategy]) => run([[evaluated(checks, strategy), null]]).last);
    // Assess
    assert.deepStrictEqual(outcomes.map((c) => [c.action, c.reason]), cases.map(([, , action, reason]) => [action, reason]));
  });

  it('treats a check that could not measure as unhealthy (backoff), never as a failed batch', () => {
    // Prepare
    const unmeasured: HealthCheckResult = { name: 'lockWaits', value: 0, unit: 'seconds', verdict: 'critical', detail: 'check failed: canceling statement due to statement timeout', error: 'canceling statement due to statement timeout' };
    // Act
    const { decisions, last } = run([[evaluated([unmeasured]), null], [evaluated([unmeasured]), null]]);
    // Assess
    assert.deepStrictEqual(decisions.map((d) => d[0]), ['backoff', 'backoff']);
    assert.deepStrictEqual([last.consecutiveFailures, last.reason], [0, 'lockWaits unmeasured (critical: check failed: canceling statement due to statement timeout)']);
  });
});
