import type { LatencySettings } from './latency-settings';

/**
 * The in-batch latency controller: pure, no I/O. Between two statements of a batch it turns the latest sample of
 * the foreground signal into the share of wall-clock time the batch may spend writing (its duty cycle), and so into
 * a pause in milliseconds before the next statement.
 *
 * Utilization zones, as Spirit's autoscaler uses them, on u = how much of the latency budget is used:
 * u = (signal - baseline) / (target - baseline), so 0 is "no visible impact" and 1 is "at the budget".
 *   u < 0.4 speed up; 0.4 <= u < 0.7 hold; 0.7 <= u < 1 slow down; u >= 1 cut hard.
 * Why zones and not a PI loop: the signal is largely self-induced and noisy (one commit's latency on a shared
 * machine), and a PI loop on it either oscillates or needs per-database tuning of two gains. The hold band gives
 * a dead zone where noise does nothing, the cut is fast (multiplicative, at once) and raises are slow (only after
 * a few calm samples, and halfway toward the duty of the last cut: Vitess's rule that stops the sawtooth of AIMD).
 */

export type Zone = 'speed-up' | 'hold' | 'slow' | 'cut' | 'stop';

/** Zone boundaries on u. */
export const ZONE_LIMITS = { hold: 0.4, slow: 0.7, cut: 1 } as const;
/** The least duty cycle: the batch always makes some progress while nothing is critical. */
export const MIN_DUTY = 0.02;
/** The duty a run starts at before any sample (the first batch learns from there). */
export const INITIAL_DUTY = 0.5;
/** Samples in the speed-up zone in a row before a raise. */
export const CALM_SAMPLES = 3;
/** Samples after a cut (slow) before the next cut or slow-down: the sampler's window must see the new duty first. */
export const CUT_COOLDOWN = 5;
export const SLOW_COOLDOWN = 3;
/** Multipliers per step. */
export const RAISE = 1.25;
export const SLOW = 0.85;
export const CUT = 0.5;
/** Each calm sample lets the ceiling (the duty of the last cut) creep up by this factor, so the frontier is re-probed. */
export const CEILING_CREEP = 1.05;
/** Weight of the newest statement in the statement-time average. */
export const STATEMENT_WEIGHT = 0.3;

/** What the sampler measured, as the batch reads it between statements. */
export interface LatencySignal {
  /** Grows with every sample: steering acts once per new sample, however many statements run in between. */
  readonly seq: number;
  /** The canary's commit latency (ms): a high quantile of the sampler's recent window, or the one still in flight if longer. */
  readonly canaryMs: number;
  /**
   * The same quantile of the canary commits taken while the batch was pausing, when there are enough: the reference
   * the signal is compared with (instead of the calibrated baseline), so load that is not the backfill's cancels out.
   */
  readonly idleMs?: number;
  /** WAL written per second over the window (pg_current_wal_lsn deltas), when measured. */
  readonly walBytesPerSecond?: number;
  /** The largest replica lag (seconds), when the replicationLag check is on and there are replicas. */
  readonly replicationLagSeconds?: number;
  /** Set when a critical check tripped (a long query, a lock wait involving the backfill or its table): the batch stops. */
  readonly critical?: string;
}

/** The controller's state: carried from statement to statement, batch to batch (in ControlState.latency), run to run. */
export interface LatencyState {
  /** Share of wall-clock time spent writing, MIN_DUTY..1; 1 runs statements back to back. */
  readonly duty: number;
  /** The duty at the last cut: raises toward it go at most halfway. */
  readonly ceiling: number;
  /** Speed-up samples in a row. */
  readonly calm: number;
  /** Samples left before another slow-down or cut may act. */
  readonly cooldown: number;
  /** The canary's baseline p90 (ms), calibrated before the run and while paused or backing off; 0 until then. */
  readonly baselineMs: number;
  readonly baselineAt?: string;
  /** Average statement time (ms), to turn the duty into a pause. */
  readonly statementMs: number;
  /** The last sample acted on. */
  readonly seq: number;
  /** Last decision: utilization, its zone, the pause it chose, the signal it read, and why, in words. */
  readonly u: number;
  readonly zone: Zone;
  readonly pauseMs: number;
  readonly signalMs: number;
  readonly reason: string;
}

export function initialLatency(): LatencyState {
  return { duty: INITIAL_DUTY, ceiling: 1, calm: 0, cooldown: 0, baselineMs: 0, statementMs: 0, seq: -1, u: 0, zone: 'hold', pauseMs: 0, signalMs: 0, reason: 'not steered yet' };
}

/** The canary latency the budget allows (ms): the absolute budget, or the factor times the baseline; 0 when unknown. */
export function targetMs(settings: LatencySettings, baselineMs: number): number {
  if (settings.budget.ms > 0) return settings.budget.ms;
  return baselineMs > 0 ? settings.budget.p99Factor * baselineMs : 0;
}

export interface Utilization {
  readonly u: number;
  /** What limits: latency, wal or replicationLag; and the comparison, in words. */
  readonly limit: 'latency' | 'wal' | 'replicationLag' | 'none';
  readonly because: string;
}

/**
 * How much of each budget the signal uses, and the highest. Latency: the excess over the baseline as a share of
 * the allowed excess (below the baseline is 0). WAL: bytes/s over its budget. Replica lag: lag over its warning
 * threshold (lagWarningSeconds; 0 leaves lag out).
 */
export function utilization(settings: LatencySettings, baselineMs: number, signal: LatencySignal, lagWarningSeconds: number): Utilization {
  // The reference: commits measured while the batch paused, else the baseline calibrated while nothing ran.
  const reference = signal.idleMs !== undefined && signal.idleMs > 0 ? signal.idleMs : baselineMs;
  const target = targetMs(settings, reference);
  const parts: Utilization[] = [];
  if (target > 0) {
    const u = reference > 0 && target > reference ? (signal.canaryMs - reference) / (target - reference) : signal.canaryMs / target;
    const budget = settings.budget.ms > 0 ? `budget ${round(target)} ms` : `budget ${settings.budget.p99Factor}x = ${round(target)} ms`;
    const against = signal.idleMs !== undefined && signal.idleMs > 0 ? `${round(reference)} ms while pausing` : `baseline ${round(reference)} ms`;
    parts.push({ u: Math.max(0, u), limit: 'latency', because: `commit latency ${round(signal.canaryMs)} ms vs ${against}, ${budget}` });
  }
  if (settings.budget.walBytesPerSecond > 0 && signal.walBytesPerSecond !== undefined) {
    parts.push({ u: signal.walBytesPerSecond / settings.budget.walBytesPerSecond, limit: 'wal', because: `WAL ${mib(signal.walBytesPerSecond)} MiB/s vs budget ${mib(settings.budget.walBytesPerSecond)} MiB/s` });
  }
  if (lagWarningSeconds > 0 && signal.replicationLagSeconds !== undefined) {
    parts.push({ u: signal.replicationLagSeconds / lagWarningSeconds, limit: 'replicationLag', because: `replica lag ${round(signal.replicationLagSeconds)} s vs ${lagWarningSeconds} s` });
  }
  if (parts.length === 0) return { u: 0, limit: 'none', because: 'no baseline yet' };
  return parts.reduce((worst, part) => (part.u > worst.u ? part : worst));
}

export function zoneOf(u: number): Exclude<Zone, 'stop'> {
  if (u >= ZONE_LIMITS.cut) return 'cut';
  if (u >= ZONE_LIMITS.slow) return 'slow';
  if (u >= ZONE_LIMITS.hold) return 'hold';
  return 'speed-up';
}

/** The pause (ms) before the next statement that makes writing `duty` of the time, capped at maxPauseMs. */
export function pauseFor(duty: number, statementMs: number, maxPauseMs: number): number {
  if (duty >= 1 || statementMs <= 0) return 0;
  return Math.min(maxPauseMs, Math.round((statementMs * (1 - duty)) / duty));
}

/** Folds one statement's duration into the average the pause is computed from. */
export function observeStatement(state: LatencyState, ms: number, settings: LatencySettings): LatencyState {
  const statementMs = state.statementMs > 0 ? state.statementMs + STATEMENT_WEIGHT * (ms - state.statementMs) : ms;
  return { ...state, statementMs: round(statementMs), pauseMs: pauseFor(state.duty, statementMs, settings.maxPauseMs) };
}

/**
 * One steering step on a new sample (a sample already acted on changes nothing). A critical signal stops the
 * batch; otherwise the zone of u moves the duty cycle as the module comment says, and the pause follows.
 */
export function steer(settings: LatencySettings, state: LatencyState, signal: LatencySignal, lagWarningSeconds: number): LatencyState {
  if (signal.seq === state.seq) return state;
  const seq = signal.seq;
  if (signal.critical !== undefined) {
    return { ...state, seq, calm: 0, zone: 'stop', u: round(state.u), signalMs: round(signal.canaryMs), reason: `stop: ${signal.critical}` };
  }
  const { u, because } = utilization(settings, state.baselineMs, signal, lagWarningSeconds);
  const zone = zoneOf(u);
  const cooling = Math.max(0, state.cooldown - 1);
  let { duty, ceiling, calm } = state;
  let cooldown = cooling;
  let action: string;
  if (zone === 'speed-up') {
    calm += 1;
    ceiling = Math.min(1, ceiling * CEILING_CREEP);
    if (calm >= CALM_SAMPLES && duty < 1) {
      const raised = duty * RAISE + 0.02;
      // Toward the duty of the last cut only halfway; past it freely.
      duty = duty < ceiling ? Math.min(raised, duty + (ceiling - duty) / 2 + 0.01) : raised;
      calm = 0;
      action = 'speed up';
    } else {
      action = duty >= 1 ? 'full speed' : 'calm, about to speed up';
    }
  } else if (zone === 'hold') {
    calm = 0;
    action = 'hold';
  } else if (cooling > 0) {
    calm = 0;
    action = `${zone === 'cut' ? 'over budget' : 'near budget'}, waiting for the last change to show`;
  } else if (zone === 'slow') {
    calm = 0;
    duty *= SLOW;
    cooldown = SLOW_COOLDOWN;
    action = 'slow down';
  } else {
    calm = 0;
    ceiling = duty;
    duty *= CUT;
    cooldown = CUT_COOLDOWN;
    action = 'cut hard';
  }
  duty = round(Math.min(1, Math.max(MIN_DUTY, duty)));
  const pauseMs = pauseFor(duty, state.statementMs, settings.maxPauseMs);
  const reason = `${action}: ${because} (u ${round(u)}, ${zone}); duty ${Math.round(duty * 100)}%, pause ${pauseMs} ms`;
  return { ...state, duty, ceiling: round(ceiling), calm, cooldown, seq, u: round(u), zone, pauseMs, signalMs: round(signal.canaryMs), reason };
}

/** A new baseline (calibrated before the run, refreshed while paused or backing off). */
export function withBaseline(state: LatencyState, baselineMs: number, at: string): LatencyState {
  return { ...state, baselineMs: round(baselineMs), baselineAt: at };
}

/** The state as the next batch starts: its sample sequence is the new sampler's. */
export function forNextBatch(state: LatencyState): LatencyState {
  return { ...state, seq: -1, calm: 0, cooldown: 0 };
}

/** p-quantile (0..1) of some numbers, nearest rank; 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Checks a carried latency state (it comes back through execution input on continue-as-new). */
export function isLatencyState(value: unknown): value is LatencyState {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const finite = (key: string) => typeof v[key] === 'number' && Number.isFinite(v[key]);
  return ['duty', 'ceiling', 'calm', 'cooldown', 'baselineMs', 'statementMs', 'seq', 'u', 'pauseMs', 'signalMs'].every(finite)
    && (v.duty as number) >= MIN_DUTY && (v.duty as number) <= 1 && typeof v.zone === 'string' && typeof v.reason === 'string';
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function mib(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}
