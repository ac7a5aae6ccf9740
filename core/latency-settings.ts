/**
 * The latency knobs: how much the backfill may slow the foreground, and how the in-batch sampler watches it.
 * Layered like every other knob (core/settings.ts); the controller that uses them is core/latency-controller.ts.
 */

export interface LatencyBudget {
  /**
   * The foreground may be this many times slower than its baseline (the commit-latency canary's p90 measured before
   * the run started, and again whenever the run is paused or backing off). @default 1.5
   */
  readonly p99Factor: number;
  /** An absolute budget in milliseconds for the canary's p90 instead of the factor; 0 uses p99Factor. @default 0 */
  readonly ms: number;
  /** WAL bytes per second the database may write while the backfill runs (pg_current_wal_lsn deltas); 0: no WAL budget. */
  readonly walBytesPerSecond: number;
}

export interface LatencySettings {
  /** Steer on foreground latency inside each batch (SQL jobs). false: statements back to back, checks between batches only. */
  readonly enabled: boolean;
  readonly budget: LatencyBudget;
  /** The sampler's period while a batch runs: canary, critical checks, WAL position. At most 250. */
  readonly sampleIntervalMs: number;
  /** A lock wait that involves the backfill or its table stops the batch once it has lasted this long. */
  readonly lockWaitMs: number;
  /** The longest pause between two statements of a batch; longer waits are the Step Functions Wait state's. */
  readonly maxPauseMs: number;
  /** Canary commits measured to calibrate the baseline. */
  readonly calibrationSamples: number;
}

export const DEFAULT_LATENCY_SETTINGS: LatencySettings = {
  enabled: false,
  budget: { p99Factor: 1.5, ms: 0, walBytesPerSecond: 0 },
  sampleIntervalMs: 100,
  lockWaitMs: 100,
  maxPauseMs: 1000,
  calibrationSamples: 20,
};

const num = (min: number, max: number, integer = false) => ({ min, max, integer });

/** The allowed shape and range of every latency knob (see core/settings.ts for the rule kinds). */
export const LATENCY_RULES = {
  enabled: { boolean: true },
  budget: { p99Factor: num(1.05, 100), ms: num(0, 60_000), walBytesPerSecond: num(0, 1e12) },
  sampleIntervalMs: num(20, 250, true),
  lockWaitMs: num(0, 60_000, true),
  maxPauseMs: num(0, 10_000, true),
  calibrationSamples: num(3, 200, true),
} as const;
