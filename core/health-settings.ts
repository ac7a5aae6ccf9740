import { InvalidInputError } from './errors';

/**
 * The health knobs: JSON, validated, layered like every other knob (built-in defaults < job `settings.health` <
 * construct `defaults` < execution input < live knobs). What a check *is* (custom SQL, functions, metrics) lives
 * in the job module's `health` field instead: code, never input.
 */

/** What every check has: whether it runs, how much it counts, and whether its critical verdict halts the run. */
export interface CheckKnobs {
  readonly enabled: boolean;
  /** Weight in the weighted and fraction-failing strategies; 0 makes the check informational everywhere. */
  readonly weight: number;
  /** A critical verdict on this check halts the run (fails the execution) instead of backing off. */
  readonly halt: boolean;
}

export interface ThresholdSettings extends CheckKnobs {
  readonly warningSeconds: number;
  readonly criticalSeconds: number;
}

export interface LockWaitSettings extends ThresholdSettings {
  /** A lock wait that involves the backfill (a session blocked by it, or the backfill blocked) is critical from this age. */
  readonly backfillCriticalSeconds: number;
}

export interface CacheHitSettings extends CheckKnobs {
  /** Warning when the share of block reads served from shared buffers since the previous probe is below this. */
  readonly warningBelow: number;
  readonly criticalBelow: number;
  /** Fewer block accesses than this since the previous probe say nothing: the check stays ok. */
  readonly minBlocks: number;
}

export interface TempFileSettings extends CheckKnobs {
  readonly warningBytesPerSecond: number;
  readonly criticalBytesPerSecond: number;
}

export interface ConnectionSettings extends CheckKnobs {
  /** Client backends / max_connections. */
  readonly warningRatio: number;
  readonly criticalRatio: number;
}

export interface CheckpointSettings extends CheckKnobs {
  /** Requested (not timed) checkpoints since the previous probe. */
  readonly warningRequested: number;
  readonly criticalRequested: number;
}

export interface SessionCountSettings extends CheckKnobs {
  readonly warningSessions: number;
  readonly criticalSessions: number;
}

export interface ProbeLatencySettings extends CheckKnobs {
  /** Warning when the canary's median round trip is this many times its recent best. */
  readonly warningRatio: number;
  readonly criticalRatio: number;
  /** ...and at least this many milliseconds above it (sub-millisecond jitter is no signal). */
  readonly minExtraMs: number;
  /** Round trips per probe; the median counts. */
  readonly samples: number;
}

export interface PercentSettings extends CheckKnobs {
  readonly warningPercent: number;
  readonly criticalPercent: number;
}

export interface FreeMemorySettings extends CheckKnobs {
  readonly warningBelowBytes: number;
  readonly criticalBelowBytes: number;
}

/** Tunes a check defined in the job module (by its name); any field left out keeps the job's value. */
export interface CustomCheckKnobs {
  readonly enabled?: boolean;
  readonly weight?: number;
  readonly halt?: boolean;
  readonly warning?: number;
  readonly critical?: number;
}

export const STRATEGIES = ['any-critical', 'weighted', 'fraction-failing', 'custom'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface WeightedSettings {
  /** Score = sum over checks of check weight x the weight of its verdict (ok counts 0). */
  readonly warningWeight: number;
  readonly criticalWeight: number;
  /** The report is a warning from this score, critical from the next. */
  readonly warningScore: number;
  readonly criticalScore: number;
}

export interface FractionFailingSettings {
  /** Share of the counted checks (weight > 0) that are not ok. */
  readonly warningFraction: number;
  readonly criticalFraction: number;
}

export interface HealthSettings {
  /**
   * statement_timeout of each check's query: a sick database must not hang the probe. At most MAX_PROBE_TIMEOUT_MS,
   * so the whole probe fits in the HealthProbe function's timeout (lambdas/probe-timing.ts).
   */
  readonly probeTimeoutMs: number;
  readonly strategy: StrategyName;
  readonly weighted: WeightedSettings;
  readonly fractionFailing: FractionFailingSettings;
  readonly longRunningQueries: ThresholdSettings;
  readonly longTransactions: ThresholdSettings;
  readonly lockWaits: LockWaitSettings;
  readonly cacheHitRatio: CacheHitSettings;
  readonly tempFiles: TempFileSettings;
  readonly replicationLag: ThresholdSettings;
  readonly vacuum: ThresholdSettings;
  readonly connections: ConnectionSettings;
  readonly checkpoints: CheckpointSettings;
  readonly activeSessions: SessionCountSettings;
  readonly probeLatency: ProbeLatencySettings;
  /** The commit-latency canary (db/health/checks/commit-latency.ts), between batches; inside them latency.* steers. */
  readonly commitLatency: ProbeLatencySettings;
  readonly rdsCpuUtilization: PercentSettings;
  readonly rdsDbLoad: SessionCountSettings;
  readonly rdsReplicaLag: ThresholdSettings;
  readonly rdsFreeableMemory: FreeMemorySettings;
  /** Knobs for the job's own checks, by name. */
  readonly custom: Readonly<Record<string, CustomCheckKnobs>>;
}

const ON = { enabled: true, weight: 1, halt: false } as const;
const MIB = 1024 * 1024;

export const DEFAULT_HEALTH_SETTINGS: HealthSettings = {
  probeTimeoutMs: 2000,
  strategy: 'any-critical',
  weighted: { warningWeight: 1, criticalWeight: 3, warningScore: 1, criticalScore: 3 },
  fractionFailing: { warningFraction: 0.2, criticalFraction: 0.5 },
  longRunningQueries: { ...ON, warningSeconds: 30, criticalSeconds: 120 },
  longTransactions: { ...ON, warningSeconds: 120, criticalSeconds: 600 },
  lockWaits: { ...ON, warningSeconds: 5, criticalSeconds: 30, backfillCriticalSeconds: 1 },
  cacheHitRatio: { ...ON, warningBelow: 0.5, criticalBelow: 0.2, minBlocks: 1000 },
  tempFiles: { ...ON, warningBytesPerSecond: 8 * MIB, criticalBytesPerSecond: 64 * MIB },
  replicationLag: { ...ON, warningSeconds: 5, criticalSeconds: 30 },
  vacuum: { ...ON, warningSeconds: 0, criticalSeconds: 600 },
  connections: { ...ON, warningRatio: 0.8, criticalRatio: 0.95 },
  checkpoints: { ...ON, warningRequested: 1, criticalRequested: 3 },
  activeSessions: { ...ON, warningSessions: 25, criticalSessions: 50 },
  probeLatency: { ...ON, enabled: false, warningRatio: 3, criticalRatio: 6, minExtraMs: 2, samples: 5 },
  commitLatency: { ...ON, enabled: false, warningRatio: 3, criticalRatio: 6, minExtraMs: 2, samples: 5 },
  rdsCpuUtilization: { ...ON, warningPercent: 70, criticalPercent: 90 },
  rdsDbLoad: { ...ON, warningSessions: 8, criticalSessions: 16 },
  rdsReplicaLag: { ...ON, warningSeconds: 5, criticalSeconds: 30 },
  rdsFreeableMemory: { ...ON, warningBelowBytes: 256 * MIB, criticalBelowBytes: 64 * MIB },
  custom: {},
};

/** The names of the built-in checks, as reports and knobs spell them. */
export const BUILT_IN_CHECKS = [
  'longRunningQueries', 'longTransactions', 'lockWaits', 'cacheHitRatio', 'tempFiles', 'replicationLag', 'vacuum', 'connections',
  'checkpoints', 'activeSessions', 'probeLatency', 'commitLatency', 'rdsCpuUtilization', 'rdsDbLoad', 'rdsReplicaLag', 'rdsFreeableMemory',
] as const;
export type BuiltInCheckName = (typeof BUILT_IN_CHECKS)[number];

/** Names a custom check may not take: the built-ins, the other health knobs, and the probe's own failure. */
export const RESERVED_CHECK_NAMES: readonly string[] = [...BUILT_IN_CHECKS, 'probeTimeoutMs', 'strategy', 'weighted', 'fractionFailing', 'custom', 'probe'];

/** The largest probeTimeoutMs: the probe's budget is a few of these, and it must fit the HealthProbe function's timeout. */
export const MAX_PROBE_TIMEOUT_MS = 5000;
/** The Postgres part of a probe is abandoned after this many probeTimeoutMs (db/health-probe.ts probeBudgetMs). */
export const PROBE_BUDGET_TIMEOUTS = 4;

const num = (min: number, max: number, integer = false) => ({ min, max, integer });
const BOOL = { boolean: true } as const;
const KNOB_RULES = { enabled: BOOL, weight: num(0, 100), halt: BOOL };
const SECONDS = { ...KNOB_RULES, warningSeconds: num(0, 86_400), criticalSeconds: num(0, 86_400) };
const RATIO = num(0, 1);

/** Letters, digits and _ (a custom check's name, as it appears in `health.custom`). */
export const CHECK_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/** The allowed shape and range of every health knob (see core/settings.ts for the rule kinds). */
export const HEALTH_RULES = {
  probeTimeoutMs: num(10, MAX_PROBE_TIMEOUT_MS, true),
  strategy: { oneOf: STRATEGIES },
  weighted: { warningWeight: num(0, 1000), criticalWeight: num(0, 1000), warningScore: num(0, 100_000), criticalScore: num(0, 100_000) },
  fractionFailing: { warningFraction: RATIO, criticalFraction: RATIO },
  longRunningQueries: SECONDS,
  longTransactions: SECONDS,
  lockWaits: { ...SECONDS, backfillCriticalSeconds: num(0, 86_400) },
  cacheHitRatio: { ...KNOB_RULES, warningBelow: RATIO, criticalBelow: RATIO, minBlocks: num(0, 1e12, true) },
  tempFiles: { ...KNOB_RULES, warningBytesPerSecond: num(0, 1e15), criticalBytesPerSecond: num(0, 1e15) },
  replicationLag: SECONDS,
  vacuum: SECONDS,
  connections: { ...KNOB_RULES, warningRatio: RATIO, criticalRatio: RATIO },
  checkpoints: { ...KNOB_RULES, warningRequested: num(1, 1e6, true), criticalRequested: num(1, 1e6, true) },
  activeSessions: { ...KNOB_RULES, warningSessions: num(0, 1e6), criticalSessions: num(0, 1e6) },
  probeLatency: { ...KNOB_RULES, warningRatio: num(1, 1000), criticalRatio: num(1, 1000), minExtraMs: num(0, 60_000), samples: num(1, 20, true) },
  commitLatency: { ...KNOB_RULES, warningRatio: num(1, 1000), criticalRatio: num(1, 1000), minExtraMs: num(0, 60_000), samples: num(1, 20, true) },
  rdsCpuUtilization: { ...KNOB_RULES, warningPercent: num(0, 100), criticalPercent: num(0, 100) },
  rdsDbLoad: { ...KNOB_RULES, warningSessions: num(0, 1e6), criticalSessions: num(0, 1e6) },
  rdsReplicaLag: SECONDS,
  rdsFreeableMemory: { ...KNOB_RULES, warningBelowBytes: num(0, 1e15), criticalBelowBytes: num(0, 1e15) },
  custom: { keys: CHECK_NAME, keyHint: 'a custom check name (a letter, then letters, digits or _)', each: { ...KNOB_RULES, warning: num(-1e15, 1e15), critical: num(-1e15, 1e15) } },
} as const;

/** Higher-is-worse pairs (warning <= critical) and lower-is-worse pairs (warning >= critical), per check. */
const ABOVE: ReadonlyArray<[keyof HealthSettings, string, string]> = [
  ['longRunningQueries', 'warningSeconds', 'criticalSeconds'],
  ['longTransactions', 'warningSeconds', 'criticalSeconds'],
  ['lockWaits', 'warningSeconds', 'criticalSeconds'],
  ['tempFiles', 'warningBytesPerSecond', 'criticalBytesPerSecond'],
  ['replicationLag', 'warningSeconds', 'criticalSeconds'],
  ['vacuum', 'warningSeconds', 'criticalSeconds'],
  ['connections', 'warningRatio', 'criticalRatio'],
  ['checkpoints', 'warningRequested', 'criticalRequested'],
  ['activeSessions', 'warningSessions', 'criticalSessions'],
  ['probeLatency', 'warningRatio', 'criticalRatio'],
  ['commitLatency', 'warningRatio', 'criticalRatio'],
  ['rdsCpuUtilization', 'warningPercent', 'criticalPercent'],
  ['rdsDbLoad', 'warningSessions', 'criticalSessions'],
  ['rdsReplicaLag', 'warningSeconds', 'criticalSeconds'],
  ['weighted', 'warningScore', 'criticalScore'],
  ['fractionFailing', 'warningFraction', 'criticalFraction'],
];
const BELOW: ReadonlyArray<[keyof HealthSettings, string, string]> = [
  ['cacheHitRatio', 'warningBelow', 'criticalBelow'],
  ['rdsFreeableMemory', 'warningBelowBytes', 'criticalBelowBytes'],
];

/** Checks that every warning threshold comes before its critical one; throws naming the field. */
export function assertCoherentHealth(health: HealthSettings): void {
  for (const [check, warning, critical] of ABOVE) {
    const t = health[check] as unknown as Record<string, number>;
    if (t[warning] > t[critical]) {
      throw new InvalidInputError(`health.${check}.${warning}`, `must be <= health.${check}.${critical} (${t[critical]}); got ${t[warning]}`);
    }
  }
  for (const [check, warning, critical] of BELOW) {
    const t = health[check] as unknown as Record<string, number>;
    if (t[warning] < t[critical]) {
      throw new InvalidInputError(`health.${check}.${warning}`, `must be >= health.${check}.${critical} (${t[critical]}); lower is worse for this check; got ${t[warning]}`);
    }
  }
}
