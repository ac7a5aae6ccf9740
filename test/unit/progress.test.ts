import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialControl } from '../../core/controller';
import { initialLatency } from '../../core/latency-controller';
import { resolveSettings } from '../../core/settings';
import type { HealthProbeResult } from '../../lambdas/health-probe';
import { ProgressReporter } from '../../local/progress';

const settings = resolveSettings();
const health = { verdict: 'ok' as const, checks: [], probedAt: '2026-01-01T00:00:00.000Z', durationMs: 1 };
const decision = (action: HealthProbeResult['action'], waitSeconds: number, reason: string, batchSize = 4): HealthProbeResult => ({ ...initialControl(settings), action, waitSeconds, reason, batchSize, health, memory: {} });
const batch = (succeeded: number, rows: number) => ({ received: succeeded, succeeded, retried: 0, deadLettered: 0, rowsAffected: rows, durationMs: 10, queue: { visible: 0, inFlight: 0 }, drained: false });

describe('ProgressReporter (not a terminal)', () => {
  it('prints a line per state change with rows, rate, batch size and why it backs off', () => {
    // Prepare
    const lines: string[] = [];
    const out = { isTTY: false, write: (text: string) => lines.push(...text.trimEnd().split('\n')) } as unknown as NodeJS.WriteStream;
    let now = 0;
    const progress = new ProgressReporter(out, () => now);
    // Act
    progress.handle({ type: 'planned', run: { runId: 'r1', jobName: 'j', settings, plannedItems: 4 } });
    progress.handle({ type: 'decision', control: decision('proceed', 0, 'healthy') });
    progress.handle({ type: 'batch', stats: batch(2, 2000) });
    now = 1000;
    progress.handle({ type: 'decision', control: decision('backoff', 8, 'lockWaits 31s (critical)') });
    now = 1500;
    progress.handle({ type: 'batch', stats: batch(2, 2000) });
    // Assess
    assert.deepStrictEqual(lines, [
      'run r1: 4 work items of up to 1000 rows',
      '[........................]   0.0% 0 rows · 0 rows/s · batch 4 items · processing',
      '[############............]  50.0% 2,000 rows · 2,000 rows/s · batch 4 items · backing off 8s: lockWaits 31s (critical)',
    ]);
  });

  it('shows the last error, its item and how many items share it', () => {
    // Prepare
    const lines: string[] = [];
    const out = { isTTY: false, write: (text: string) => lines.push(...text.trimEnd().split('\n')) } as unknown as NodeJS.WriteStream;
    const progress = new ProgressReporter(out, () => 0);
    const lastError = { error: 'column "nope" of relation "counted" does not exist', dedupeKey: 'range:1-51', items: 3 };
    // Act
    progress.handle({ type: 'planned', run: { runId: 'r1', jobName: 'j', settings, plannedItems: 4 } });
    progress.handle({ type: 'decision', control: decision('proceed', 0, 'healthy') });
    progress.handle({ type: 'batch', stats: { ...batch(0, 0), received: 3, retried: 3, lastError } });
    // Assess
    assert.deepStrictEqual(lines.at(-1), '[........................]   0.0% 0 rows · 0 rows/s · batch 4 items · processing · last error (3 items): column "nope" of relation "counted" does not exist [range:1-51]');
  });
});

describe('ProgressReporter: the latency controller on the line', () => {
  it('shows the duty cycle, pause and reason of the last steered batch while processing, and a stopped batch\'s hand-back', () => {
    // Prepare
    const lines: string[] = [];
    const out = { isTTY: false, write: (text: string) => lines.push(...text.trimEnd().split('\n')) } as unknown as NodeJS.WriteStream;
    let now = 0;
    const progress = new ProgressReporter(out, () => now);
    const state = { ...initialLatency(), duty: 0.47, pauseMs: 11, reason: 'slow down: commit latency 3.1 ms vs baseline 2 ms, budget 1.5x = 3 ms (u 0.8, slow); duty 47%, pause 11 ms' };
    const steered = { ...batch(2, 2000), latency: { state, statements: 2, pausedMs: 11, samples: 3, maxSignalMs: 3.1 } };
    const stopped = { ...batch(1, 1000), received: 4, latency: { state, statements: 1, pausedMs: 0, samples: 2, maxSignalMs: 3, stopped: { reason: 'lockWaits: pid 9 waits on a lock held by the backfill for 120 ms (>= 100 ms)', handedBack: 3 } } };
    // Act
    progress.handle({ type: 'planned', run: { runId: 'r1', jobName: 'j', settings, plannedItems: 8 } });
    progress.handle({ type: 'batch', stats: steered });
    now = 1000;
    progress.handle({ type: 'decision', control: decision('proceed', 0, 'healthy') });
    now = 1500;
    progress.handle({ type: 'batch', stats: stopped });
    // Assess
    assert.deepStrictEqual(lines.slice(1), [
      '[######..................]  25.0% 2,000 rows · 0 rows/s · batch 0 items · processing · duty 47%, pause 11 ms · slow down: commit latency 3.1 ms vs baseline 2 ms, budget 1.5x = 3 ms (u 0.8, slow); duty 47%, pause 11 ms',
      // (the decision after it keeps the same state: no new line)
      '[#########...............]  37.5% 3,000 rows · 2,000 rows/s · batch 4 items · batch stopped after 1 statements, 3 items handed back uncharged: lockWaits: pid 9 waits on a lock held by the backfill for 120 ms (>= 100 ms)',
    ]);
  });
});
