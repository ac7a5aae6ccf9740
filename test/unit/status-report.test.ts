import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, formatRunList, formatStatusReport, makeStatusReport, recentRate } from '../../cli/status-report';
import { resolveSettings } from '../../core/settings';
import type { BatchEntry, RunView } from '../../db/controls';

const batch = (at: string, succeeded: number, durationMs: number, rowsAffected = succeeded * 100): BatchEntry => ({ at, received: succeeded, succeeded, deadLettered: 0, rowsAffected, durationMs });

const RUN: RunView = {
  runId: 'r1',
  job: 'demo',
  status: 'running',
  reason: 'healthy',
  settings: resolveSettings(),
  plannedItems: 100,
  lastHealth: null,
  control: null,
  executions: ['arn:aws:states:us-east-1:123456789012:execution:local:r1'],
  paused: false,
  abortRequested: false,
  knobs: {},
  createdAt: '2026-11-22T10:00:00.000Z',
  updatedAt: '2026-11-22T10:10:00.000Z',
  finishedAt: null,
};
const TOTALS = { itemsSucceeded: 40, rowsAffected: 4000, itemsFailed: 0, itemsDeadLettered: 0, itemsAtLeastOnce: 0, lastError: null };
const ITEMS = { recorded: 100, done: 40, dead: 0, outstanding: 60, purged: 0 };

describe('status report', () => {
  it('measures the rate over the last five minutes of batches, counting the first batch\'s own time', () => {
    // Prepare: an old batch outside the window, then 3 batches over 9 s (the first took 1 s)
    const batches = [batch('2026-11-22T09:00:00.000Z', 50, 1000), batch('2026-11-22T10:00:01.000Z', 4, 1000), batch('2026-11-22T10:00:05.000Z', 3, 1000), batch('2026-11-22T10:00:10.000Z', 3, 1000)];
    // Act
    const rates = [recentRate(batches), recentRate([]), recentRate([batch('2026-11-22T10:00:00.000Z', 2, 0)])];
    // Assess
    assert.deepStrictEqual(rates, [{ itemsPerSecond: 1, rowsPerSecond: 100, overSeconds: 10 }, null, null]);
  });

  it('gives an ETA only while the run moves', () => {
    // Prepare: 2 items/s; 60 items to do
    const batches = [batch('2026-11-22T10:00:05.000Z', 10, 5000)];
    // Act
    const moving = makeStatusReport({ run: RUN, totals: TOTALS, items: ITEMS, batches, queue: null });
    const paused = makeStatusReport({ run: { ...RUN, paused: true }, totals: TOTALS, items: ITEMS, batches, queue: null });
    const ended = makeStatusReport({ run: { ...RUN, status: 'aborted' }, totals: TOTALS, items: ITEMS, batches, queue: null });
    // Assess
    assert.deepStrictEqual([moving.etaSeconds, paused.etaSeconds, ended.etaSeconds], [30, null, null]);
    assert.deepStrictEqual(moving.progress, { items: 100, done: 40, deadLettered: 0, outstanding: 60, percent: 40, rows: 4000 });
    assert.deepStrictEqual(makeStatusReport({ run: { ...RUN, plannedItems: null }, totals: TOTALS, items: { ...ITEMS, recorded: 0 }, batches: [], queue: null }).progress.percent, null);
  });

  it('formats durations and the list of recent runs', () => {
    // Act
    const durations = [0, 59, 75, 3599, 7300, 90_000].map(formatDuration);
    const list = formatRunList([
      { run: { ...RUN, paused: true }, items: ITEMS },
      { run: { ...RUN, runId: 'older-run', status: 'succeeded', updatedAt: '2026-11-21T08:00:00.000Z' }, items: { ...ITEMS, done: 100, outstanding: 0 } },
    ]);
    // Assess
    assert.deepStrictEqual(durations, ['0s', '59s', '1m 15s', '59m 59s', '2h 1m', '1d 1h']);
    assert.deepStrictEqual(list.split('\n'), [
      'RUN        STATUS       PROGRESS  UPDATED                   JOB',
      'r1         paused          40.0%  2026-11-22T10:10:00.000Z  demo',
      'older-run  succeeded      100.0%  2026-11-21T08:00:00.000Z  demo',
    ]);
  });

  it('shows the last error, its item and how many items share it, and the items done at least once', () => {
    // Prepare
    const lastError = { error: 'column "nope" of relation "counted" does not exist', dedupeKey: 'range:1-51', items: 4 };
    // Act
    const report = makeStatusReport({ run: RUN, totals: { ...TOTALS, lastError, itemsAtLeastOnce: 2 }, items: ITEMS, batches: [], queue: null });
    const clean = formatStatusReport(makeStatusReport({ run: RUN, totals: TOTALS, items: ITEMS, batches: [], queue: null }));
    // Assess
    assert.deepStrictEqual([report.lastError, report.itemsAtLeastOnce], [lastError, 2]);
    const lines = formatStatusReport(report).split('\n');
    assert.deepStrictEqual(lines.filter((l) => /^(last error|semantics) /.test(l)), [
      'last error  column "nope" of relation "counted" does not exist · item range:1-51 · 4 items with this error',
      'semantics   2 items done at least once (ok without ctx.withTransaction; see docs/reliability.md)',
    ]);
    assert.deepStrictEqual(clean.split('\n').filter((l) => /^(last error|semantics) /.test(l)), []);
  });
});
