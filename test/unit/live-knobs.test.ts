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
      'batch.maxSize.min: batch.maxSize.min is not a known knob; allowed here: nothing (it is a number)',
      'batch.maxSize: must be a number; got "fast"',
      'arguments: expected key=value (e.g. batch.maxSize=50, or batch.maxSize= to remove it); got "batch.maxSize"',
      'batch: is a group of knobs: set one of its fields (e.g. batch.maxSize=50), or remove them all with an empty value',
      'batch.maxSize: must be an integer from 1 to 10000; got 20000',
      'batch.initialSize: must be between batch.minSize (1) and batch.maxSize (4); got 8 (not being set now: set batch.initialSize too)',
      'health.lockWaits.warningSeconds: must be <= health.lockWaits.criticalSeconds (30); got 60',
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
