import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyKnobAssignments, checkKnobs, describeKnobs, parseKnobAssignments } from '../../core/live-knobs';
import { resolveSettings } from '../../core/settings';
import { executionNameFor, freshRunId } from '../../cli/run-ids';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return 'did not throw';
}

describe('live knobs (backfill set)', () => {
  it('parses assignments, sets and removes knobs, and prunes groups left empty', () => {
    // Prepare
    const current = { batch: { maxSize: 50, niceRatio: 1 }, backoff: { maxSeconds: 60 } };
    // Act
    const assignments = parseKnobAssignments(['batch.maxSize=', 'backoff.maxSeconds=', 'health.lockWaits.criticalSeconds=12.5', 'pausePollSeconds=1e1']);
    const knobs = applyKnobAssignments(current, assignments);
    const groupCleared = applyKnobAssignments(current, parseKnobAssignments(['batch=']));
    // Assess
    assert.deepStrictEqual(assignments, [
      { path: ['batch', 'maxSize'], value: null },
      { path: ['backoff', 'maxSeconds'], value: null },
      { path: ['health', 'lockWaits', 'criticalSeconds'], value: 12.5 },
      { path: ['pausePollSeconds'], value: 10 },
    ]);
    assert.deepStrictEqual(knobs, { batch: { niceRatio: 1 }, health: { lockWaits: { criticalSeconds: 12.5 } }, pausePollSeconds: 10 });
    assert.deepStrictEqual(groupCleared, { backoff: { maxSeconds: 60 } });
    assert.deepStrictEqual(current, { batch: { maxSize: 50, niceRatio: 1 }, backoff: { maxSeconds: 60 } });
    assert.deepStrictEqual(describeKnobs(knobs), ['batch.niceRatio=1', 'health.lockWaits.criticalSeconds=12.5', 'pausePollSeconds=10']);
  });

  it('refuses what no probe could obey, naming the knob and why', () => {
    // Prepare
    const settings = resolveSettings({ batch: { initialSize: 8 } });
    // Act
    const messages = [
      errorOf(() => parseKnobAssignments(['chunkSize=10'])),
      errorOf(() => parseKnobAssignments(['continueAfter=10'])),
      errorOf(() => parseKnobAssignments(['batch.maxsize=10'])),
      errorOf(() => parseKnobAssignments(['batch.maxSize.min=1'])),
      errorOf(() => parseKnobAssignments(['batch.maxSize=fast'])),
      errorOf(() => parseKnobAssignments(['batch.maxSize'])),
      errorOf(() => applyKnobAssignments({}, parseKnobAssignments(['batch=5']))),
      errorOf(() => checkKnobs(settings, { batch: { maxSize: 20_000 } })),
      errorOf(() => checkKnobs(settings, { batch: { maxSize: 4 } }, parseKnobAssignments(['batch.maxSize=4']))),
      errorOf(() => checkKnobs(settings, { health: { lockWaits: { warningSeconds: 60 } } }, parseKnobAssignments(['health.lockWaits.warningSeconds=60']))),
    ];
    // Assess
    assert.deepStrictEqual(messages, [
      'chunkSize: cannot change while a run goes on: the work items were cut to this many rows when the run was planned, and a new size cannot re-cut them; start the job over with --fresh for another size',
      "continueAfter: cannot change while a run goes on: it sizes each execution's event history below Step Functions' 25,000-event limit and is carried from one execution to the next; give it when starting a run",
      'batch.maxsize: batch.maxsize is not a known knob; allowed here: initialSize, minSize, maxSize, targetSeconds, maxConsecutiveFailures, niceRatio',
      'batch.maxSize.min: batch.maxSize.min is not a known knob; allowed here: nothing (it is an integer from 1 to 10000)',
      'batch.maxSize: must be an integer from 1 to 10000; got "fast"',
      'arguments: expected key=value (e.g. batch.maxSize=50, or batch.maxSize= to remove it); got "batch.maxSize"',
      'batch: is a group of knobs: set one of its fields (initialSize, minSize, maxSize, targetSeconds, maxConsecutiveFailures, niceRatio), or remove them all with an empty value',
      'batch.maxSize: must be an integer from 1 to 10000; got 20000',
      'batch.initialSize: must be between batch.minSize (1) and batch.maxSize (4); got 8 (not being set now: set batch.initialSize too)',
      'health.lockWaits.warningSeconds: must be <= health.lockWaits.criticalSeconds (30); got 60',
    ]);
  });

  it('reads each value by its knob\'s rule: numbers, true or false, a strategy name, a custom check\'s knobs by name', () => {
    // Prepare
    const args = [
      'health.lockWaits.enabled=false', 'health.replicationLag.halt=true', 'health.strategy=weighted', 'health.weighted.criticalScore=4',
      'health.custom.outbox_backlog.warning=-2.5', 'health.custom.outbox_backlog.critical=1e3', 'health.custom.outbox_backlog.enabled=true', 'health.custom.spare.weight=0',
    ];
    // Act
    const assignments = parseKnobAssignments(args);
    const knobs = applyKnobAssignments({}, assignments);
    const settings = checkKnobs(resolveSettings(), knobs, assignments);
    // Assess
    assert.deepStrictEqual(assignments.map((a) => [a.path.join('.'), a.value]), [
      ['health.lockWaits.enabled', false], ['health.replicationLag.halt', true], ['health.strategy', 'weighted'], ['health.weighted.criticalScore', 4],
      ['health.custom.outbox_backlog.warning', -2.5], ['health.custom.outbox_backlog.critical', 1000], ['health.custom.outbox_backlog.enabled', true], ['health.custom.spare.weight', 0],
    ]);
    assert.deepStrictEqual(knobs, { health: {
      lockWaits: { enabled: false }, replicationLag: { halt: true }, strategy: 'weighted', weighted: { criticalScore: 4 },
      custom: { outbox_backlog: { warning: -2.5, critical: 1000, enabled: true }, spare: { weight: 0 } },
    } });
    assert.deepStrictEqual(
      [settings.health.lockWaits.enabled, settings.health.replicationLag.halt, settings.health.strategy, settings.health.weighted.criticalScore, settings.health.custom],
      [false, true, 'weighted', 4, { outbox_backlog: { warning: -2.5, critical: 1000, enabled: true }, spare: { weight: 0 } }],
    );
    assert.deepStrictEqual(describeKnobs(knobs), [
      'health.lockWaits.enabled=false', 'health.replicationLag.halt=true', 'health.strategy=weighted', 'health.weighted.criticalScore=4',
      'health.custom.outbox_backlog.warning=-2.5', 'health.custom.outbox_backlog.critical=1000', 'health.custom.outbox_backlog.enabled=true', 'health.custom.spare.weight=0',
    ]);
  });

  it('removes a custom check\'s knob, or all of them, with an empty value', () => {
    // Prepare
    const current = { health: { custom: { backlog: { warning: 5, critical: 9 }, spare: { halt: true } }, strategy: 'weighted' as const } };
    // Act
    const oneKnob = applyKnobAssignments(current, parseKnobAssignments(['health.custom.backlog.warning=']));
    const oneCheck = applyKnobAssignments(current, parseKnobAssignments(['health.custom.spare=']));
    const everyCheck = applyKnobAssignments(current, parseKnobAssignments(['health.custom=', 'health.strategy=']));
    // Assess
    assert.deepStrictEqual(oneKnob, { health: { custom: { backlog: { critical: 9 }, spare: { halt: true } }, strategy: 'weighted' } });
    assert.deepStrictEqual(oneCheck, { health: { custom: { backlog: { warning: 5, critical: 9 } }, strategy: 'weighted' } });
    assert.deepStrictEqual(everyCheck, {});
  });

  it('names the knob and what it takes when a value does not fit its rule', () => {
    // Act
    const messages = [
      'health.lockWaits.enabled=no', 'health.lockWaits.enabled=1', 'health.strategy=fastest', 'health.strategy=', 'health.probeTimeoutMs=2.5',
      'batch.niceRatio=1e400', 'health.custom.1st.warning=5', 'health.custom.backlog.warnin=5', 'health.custom.backlog.warning=ten',
      'health.custom.backlog.halt=yes', 'health.custom=5', 'health.custom.backlog=5', 'health.strategy.x=1', 'health.lockWaits.enabled.x=1', 'batch.constructor=1',
    ].map((arg) => errorOf(() => parseKnobAssignments([arg])));
    // Assess
    assert.deepStrictEqual(messages, [
      'health.lockWaits.enabled: must be true or false; got "no"',
      'health.lockWaits.enabled: must be true or false; got "1"',
      'health.strategy: must be one of "any-critical", "weighted", "fraction-failing", "custom"; got "fastest"',
      'did not throw',
      'health.probeTimeoutMs: must be an integer from 10 to 5000; got 2.5',
      'batch.niceRatio: must be a number from 0 to 100; got "1e400"',
      'health.custom.1st.warning: health.custom.1st is not a known knob; allowed here: a custom check name (a letter, then letters, digits or _)',
      'health.custom.backlog.warnin: health.custom.backlog.warnin is not a known knob; allowed here: enabled, weight, halt, warning, critical',
      'health.custom.backlog.warning: must be a number from -1000000000000000 to 1000000000000000; got "ten"',
      'health.custom.backlog.halt: must be true or false; got "yes"',
      'health.custom: is a group of knobs: set one field of one check, e.g. health.custom.NAME.warning=5, or remove them all with an empty value',
      'health.custom.backlog: is a group of knobs: set one of its fields (enabled, weight, halt, warning, critical), or remove them all with an empty value',
      'health.strategy.x: health.strategy.x is not a known knob; allowed here: nothing (it is one of "any-critical", "weighted", "fraction-failing", "custom")',
      'health.lockWaits.enabled.x: health.lockWaits.enabled.x is not a known knob; allowed here: nothing (it is true or false)',
      'batch.constructor: batch.constructor is not a known knob; allowed here: initialSize, minSize, maxSize, targetSeconds, maxConsecutiveFailures, niceRatio',
    ]);
  });

  it('returns the settings the next probe will use', () => {
    // Act
    const settings = checkKnobs(resolveSettings({ batch: { maxSize: 100 } }), { batch: { maxSize: 50 }, backoff: { maxSeconds: 60 } });
    // Assess
    assert.deepStrictEqual([settings.batch.maxSize, settings.backoff.maxSeconds, settings.batch.initialSize], [50, 60, 4]);
  });
});

describe('run ids of fresh runs and execution names', () => {
  const now = new Date('2026-11-22T10:15:00.123Z');

  it('derives a fresh run id from the run it replaces, re-stamping a fresh one instead of growing', () => {
    // Act
    const ids = [freshRunId('fill-users', now), freshRunId('fill-users-20261121-090000-999', now), freshRunId('x'.repeat(80), now)];
    // Assess
    assert.deepStrictEqual(ids, ['fill-users-20261122-101500-123', 'fill-users-20261122-101500-123', `${'x'.repeat(60)}-20261122-101500-123`]);
    assert.equal(ids[2].length, 80);
  });

  it('names a resumed run\'s execution uniquely, without the colon Step Functions forbids', () => {
    // Act
    const names = [executionNameFor('fill:users', false, now), executionNameFor('fill-users-20261122-101500-123', true, now)];
    // Assess
    assert.deepStrictEqual(names, ['fill-users-20261122-101500-123', 'fill-users-20261122-101500-123']);
  });
});
