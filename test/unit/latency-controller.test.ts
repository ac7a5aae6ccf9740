import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialControl, type BatchStats, type ControlState } from '../../core/controller';
import {
  initialLatency,
  isLatencyState,
  observeStatement,
  pauseFor,
  quantile,
  steer,
  utilization,
  withBaseline,
  zoneOf,
  type LatencyState,
} from '../../core/latency-controller';
import { needsCalibration, withLatency } from '../../core/latency-decision';
import { DEFAULT_LATENCY_SETTINGS, type LatencySettings } from '../../core/latency-settings';
import { resolveSettings } from '../../core/settings';

const L = DEFAULT_LATENCY_SETTINGS;
const calibrated = (): LatencyState => observeStatement(withBaseline(initialLatency(), 2, '2026-01-01T00:00:00.000Z'), 10, L);

describe('utilization and zones', () => {
  it('is the excess over the baseline as a share of the budget\'s excess, and its zone', () => {
    // Prepare: baseline 2 ms, budget 1.5x = 3 ms
    const canary = [1.5, 2, 2.5, 2.8, 3, 3.2];
    // Act
    const rows = canary.map((canaryMs) => {
      const { u, limit } = utilization(L, 2, { seq: 0, canaryMs }, 0);
      return [canaryMs, Math.round(u * 1000) / 1000, zoneOf(u), limit];
    });
    // Assess
    assert.deepStrictEqual(rows, [
      [1.5, 0, 'speed-up', 'latency'],
      [2, 0, 'speed-up', 'latency'],
      [2.5, 0.5, 'hold', 'latency'],
      [2.8, 0.8, 'slow', 'latency'],
      [3, 1, 'cut', 'latency'],
      [3.2, 1.2, 'cut', 'latency'],
    ]);
  });

  it('takes the absolute ms budget, the WAL budget and replica lag, the highest deciding', () => {
    // Prepare
    const settings: LatencySettings = { ...L, budget: { p99Factor: 1.5, ms: 10, walBytesPerSecond: 1048576 } };
    // Act
    const latencyOnly = utilization(settings, 2, { seq: 0, canaryMs: 6 }, 5);
    const wal = utilization(settings, 2, { seq: 0, canaryMs: 6, walBytesPerSecond: 2 * 1048576 }, 5);
    const lag = utilization(settings, 2, { seq: 0, canaryMs: 6, walBytesPerSecond: 0, replicationLagSeconds: 4 }, 5);
    const unknown = utilization(L, 0, { seq: 0, canaryMs: 6 }, 0);
    // Commits measured while the batch paused are the reference when there are some: ambient load cancels out.
    const paused = utilization(L, 2, { seq: 0, canaryMs: 6, idleMs: 5 }, 0);
    // Assess
    assert.deepStrictEqual(latencyOnly, { u: 0.5, limit: 'latency', because: 'commit latency 6 ms vs baseline 2 ms, budget 10 ms' });
    assert.deepStrictEqual(wal, { u: 2, limit: 'wal', because: 'WAL 2 MiB/s vs budget 1 MiB/s' });
    assert.deepStrictEqual(lag, { u: 0.8, limit: 'replicationLag', because: 'replica lag 4 s vs 5 s' });
    assert.deepStrictEqual(unknown, { u: 0, limit: 'none', because: 'no baseline yet' });
    assert.deepStrictEqual(paused, { u: 0.4, limit: 'latency', because: 'commit latency 6 ms vs 5 ms while pausing, budget 1.5x = 7.5 ms' });
  });
});

describe('steer', () => {
  it('speeds up after calm samples, holds, slows, cuts hard with a cooldown, and raises toward the last cut only halfway', () => {
    // Prepare: baseline 2 ms, budget 3 ms, statements of 10 ms, starting at duty 0.5
    const canary = [2, 2, 2, 2.5, 2.8, 2.8, 2.8, 2.8, 3.2, 3.4, 3.4, 3.4, 3.4, 3.4, 2, 2, 2];
    let state = calibrated();
    // Act: each step as [zone, duty, pauseMs, cooldown, calm, ceiling]
    const steps = canary.map((canaryMs, seq) => {
      state = steer(L, state, { seq, canaryMs }, 0);
      return [state.zone, state.duty, state.pauseMs, state.cooldown, state.calm, state.ceiling];
    });
    // Assess
    assert.deepStrictEqual(steps, [
      ['speed-up', 0.5, 10, 0, 1, 1],
      ['speed-up', 0.5, 10, 0, 2, 1],
      ['speed-up', 0.645, 6, 0, 0, 1], // third calm sample: 0.5 x 1.25 + 0.02
      ['hold', 0.645, 6, 0, 0, 1],
      ['slow', 0.548, 8, 3, 0, 1], // x 0.85
      ['slow', 0.548, 8, 2, 0, 1], // cooling down: the window has not seen the new duty yet
      ['slow', 0.548, 8, 1, 0, 1],
      ['slow', 0.466, 11, 3, 0, 1],
      ['cut', 0.466, 11, 2, 0, 1], // over budget, still cooling
      ['cut', 0.466, 11, 1, 0, 1],
      ['cut', 0.233, 33, 5, 0, 0.466], // cut hard: half, and the ceiling is the duty that was too much
      ['cut', 0.233, 33, 4, 0, 0.466],
      ['cut', 0.233, 33, 3, 0, 0.466],
      ['cut', 0.233, 33, 2, 0, 0.466],
      ['speed-up', 0.233, 33, 1, 1, 0.489], // the ceiling creeps up while calm
      ['speed-up', 0.233, 33, 0, 2, 0.513],
      ['speed-up', 0.311, 22, 0, 0, 0.539], // raised x1.25 + 0.02, under the halfway cap toward the ceiling (0.396)
    ]);
    assert.equal(state.reason, 'speed up: commit latency 2 ms vs baseline 2 ms, budget 1.5x = 3 ms (u 0, speed-up); duty 31%, pause 22 ms');
  });

  it('acts once per sample, stops on a critical signal, and never goes below the least duty or above full speed', () => {
    // Prepare
    const start = calibrated();
    // Act
    const once = steer(L, start, { seq: 7, canaryMs: 3.4 }, 0);
    const again = steer(L, once, { seq: 7, canaryMs: 3.4 }, 0);
    const stopped = steer(L, start, { seq: 8, canaryMs: 2, critical: 'lockWaits: pid 42 waits on a lock of the job\'s table for 120 ms (>= 100 ms)' }, 0);
    let low: LatencyState = { ...start, duty: 0.03 };
    low = steer(L, low, { seq: 1, canaryMs: 9 }, 0);
    let high: LatencyState = { ...start, duty: 1, calm: 5 };
    high = steer(L, high, { seq: 1, canaryMs: 2 }, 0);
    // Assess
    assert.equal(again, once);
    assert.deepStrictEqual([stopped.zone, stopped.duty, stopped.reason], ['stop', 0.5, 'stop: lockWaits: pid 42 waits on a lock of the job\'s table for 120 ms (>= 100 ms)']);
    assert.deepStrictEqual([low.zone, low.duty, low.pauseMs], ['cut', 0.02, 490]);
    assert.deepStrictEqual([high.zone, high.duty, high.pauseMs, high.reason.split(':')[0]], ['speed-up', 1, 0, 'full speed']);
  });

  it('turns a duty into a pause from the statement time, capped; averages statement times', () => {
    // Act
    const pauses = [[1, 10], [0.5, 10], [0.25, 10], [0.02, 100], [0.5, 0]].map(([duty, ms]) => pauseFor(duty, ms, 1000));
    const averaged = observeStatement(observeStatement(initialLatency(), 10, L), 20, L);
    // Assess
    assert.deepStrictEqual(pauses, [0, 10, 30, 1000, 0]);
    assert.deepStrictEqual([averaged.statementMs, averaged.pauseMs], [13, 13]);
    assert.deepStrictEqual([quantile([5, 1, 4, 2, 3], 0.8), quantile([], 0.8), quantile([7], 0.5)], [4, 0, 7]);
  });

  it('recognises a carried state and refuses a malformed one', () => {
    // Assess
    assert.deepStrictEqual([isLatencyState(calibrated()), isLatencyState({ ...calibrated(), duty: 2 }), isLatencyState({ duty: 0.5 }), isLatencyState(null)], [true, false, false, false]);
  });
});

describe('withLatency and needsCalibration', () => {
  const settings = resolveSettings({ backoff: { baseSeconds: 1, maxSeconds: 8, multiplier: 2, maxTotalSeconds: 20 }, latency: { enabled: true } });
  const batch = (extra: Partial<BatchStats> = {}): BatchStats => ({ received: 4, succeeded: 1, retried: 0, deadLettered: 0, rowsAffected: 1000, durationMs: 300, queue: { visible: 3, inFlight: 0 }, drained: false, ...extra });
  // As decide() does: the decision records the id of the report it consumed (lastBatchId, see freshBatch).
  const proceed = (control: ControlState, last: BatchStats | null = null): ControlState => ({ ...control, iteration: control.iteration + 1, action: 'proceed', reason: 'healthy', lastBatchId: last?.batchId ?? control.lastBatchId });

  it('carries the batch\'s state on, and turns a proceed after a stopped batch into a backoff that names why', () => {
    // Prepare
    const control = initialControl(settings);
    const state = { ...calibrated(), duty: 0.3 };
    const stopped = batch({ batchId: 'b2', latency: { state, statements: 1, pausedMs: 12, samples: 3, maxSignalMs: 2.5, stopped: { reason: 'lockWaits: the backfill (pid 7) waits on a lock held by pid 9 for 150 ms (>= 100 ms)', handedBack: 3 } } });
    // Act
    const ran = batch({ batchId: 'b1', latency: { state, statements: 4, pausedMs: 40, samples: 5, maxSignalMs: 2.1 } });
    const carried = withLatency(settings, control, proceed(control, ran), ran, () => 0.999);
    const held = withLatency(settings, control, proceed(control, stopped), stopped, () => 0.999);
    const fresh = withLatency(settings, control, proceed(control), null);
    const again = withLatency(settings, held, proceed(held, stopped), stopped, () => 0.999);
    // Assess
    assert.deepStrictEqual([carried.action, carried.latency], ['proceed', state]);
    // The same stopped batch seen again (no batch ran since) is not acted on twice.
    assert.deepStrictEqual([again.action, again.latency], ['proceed', state]);
    assert.deepStrictEqual([held.action, held.waitSeconds, held.backoffAttempt, held.totalBackoffSeconds, held.reason, held.latency], [
      'backoff', 1, 1, 1, 'the last batch stopped: lockWaits: the backfill (pid 7) waits on a lock held by pid 9 for 150 ms (>= 100 ms); 3 items handed back uncharged', state,
    ]);
    assert.deepStrictEqual(fresh.latency, initialLatency());
  });

  it('calibrates before the first batch, and refreshes while paused or backing off once the baseline is 30 s old', () => {
    // Prepare
    const at = Date.parse('2026-01-01T00:00:00.000Z');
    const base = { ...initialControl(settings), latency: calibrated() };
    // Act
    const cases = [
      needsCalibration(settings, { ...base, latency: initialLatency(), action: 'proceed' }, at),
      needsCalibration(settings, { ...base, action: 'proceed' }, at + 60_000),
      needsCalibration(settings, { ...base, action: 'backoff' }, at + 10_000),
      needsCalibration(settings, { ...base, action: 'backoff' }, at + 31_000),
      needsCalibration(settings, { ...base, action: 'pause' }, at + 31_000),
      needsCalibration(settings, { ...base, action: 'halt' }, at + 31_000),
      needsCalibration(resolveSettings({ latency: { enabled: false } }), { ...base, latency: initialLatency(), action: 'proceed' }, at),
    ];
    // Assess
    assert.deepStrictEqual(cases, [true, false, false, true, true, false, false]);
  });
});
