import { InvalidInputError } from './errors';
import { assertCoherentHealth, DEFAULT_HEALTH_SETTINGS, HEALTH_RULES, type HealthSettings } from './health-settings';
import { DEFAULT_LATENCY_SETTINGS, LATENCY_RULES, type LatencySettings } from './latency-settings';

export type { HealthSettings, ThresholdSettings } from './health-settings';
export type { LatencySettings } from './latency-settings';

/** Batch sizes count work items (each item is one key range of `chunkSize` rows). */
export interface BatchSettings {
  readonly initialSize: number;
  readonly minSize: number;
  readonly maxSize: number;
  /** The controller grows or shrinks the batch toward this duration. */
  readonly targetSeconds: number;
  /** A run halts after this many batches in a row failed as a whole. */
  readonly maxConsecutiveFailures: number;
  /**
   * Pause after every batch for this multiple of its duration (gh-ost's nice-ratio): 0 runs batches back to
   * back, 1 leaves the database idle half the time. Waits are whole seconds.
   */
  readonly niceRatio: number;
}

/** How a degraded database (warnings, nothing critical) is treated: smaller batches, paced. */
export interface DegradedSettings {
  /** The batch size is multiplied by this while degraded. */
  readonly sizeFactor: number;
  /** Pause after each batch for this multiple of its duration while degraded (at least 1 s when above 0). */
  readonly niceRatio: number;
}

export interface BackoffSettings {
  readonly baseSeconds: number;
  readonly maxSeconds: number;
  readonly multiplier: number;
  /** Halt the run once this much time was spent backing off. */
  readonly maxTotalSeconds: number;
}

/**
 * When a run halts because most of its items fail (GitLab fails a batched background migration when more than 50%
 * of its jobs fail, after at least 50): the dead-lettered share of the settled items (done + dead-lettered).
 */
export interface FailureSettings {
  /** Halt once more than this share of the settled items were dead-lettered; 1 never halts. */
  readonly haltRatio: number;
  /** ...but only after at least this many items were settled. */
  readonly minItems: number;
}

export interface RunSettings {
  readonly chunkSize: number;
  /**
   * Iterations (probe + batch or wait) per Step Functions execution before it continues as a new one. A
   * Standard execution fails at 25,000 history events; see EVENTS_PER_ITERATION for the default.
   */
  readonly continueAfter: number;
  /** While an operator has paused the run, it re-reads the pause flag this often. */
  readonly pausePollSeconds: number;
  readonly batch: BatchSettings;
  readonly degraded: DegradedSettings;
  readonly backoff: BackoffSettings;
  readonly failures: FailureSettings;
  readonly health: HealthSettings;
  /** The foreground-latency budget and the in-batch sampler (core/latency-settings.ts). */
  readonly latency: LatencySettings;
}

/**
 * History events one loop iteration writes at most, without Lambda retries: ProbeHealth (a Lambda Task: 5),
 * Decide (Choice: 2), Pace (Wait: 2), ProcessBatch (5), then Drained? or BatchFailed (2). A test counts them on
 * the synthesized definition.
 */
export const EVENTS_PER_ITERATION = 16;
/** A generation stays under this many events, leaving room below the 25,000 limit for retries and start-up. */
export const EVENTS_PER_GENERATION = 20_000;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type RunSettingsOverrides = DeepPartial<RunSettings>;

export const DEFAULT_SETTINGS: RunSettings = {
  chunkSize: 1000,
  continueAfter: Math.floor(EVENTS_PER_GENERATION / EVENTS_PER_ITERATION),
  pausePollSeconds: 10,
  batch: { initialSize: 4, minSize: 1, maxSize: 200, targetSeconds: 2, maxConsecutiveFailures: 5, niceRatio: 0 },
  degraded: { sizeFactor: 0.5, niceRatio: 1 },
  backoff: { baseSeconds: 1, maxSeconds: 120, multiplier: 2, maxTotalSeconds: 3600 },
  failures: { haltRatio: 0.5, minItems: 50 },
  health: DEFAULT_HEALTH_SETTINGS,
  latency: DEFAULT_LATENCY_SETTINGS,
};

export interface NumberRule {
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
}

/** true or false (enabling a check, marking it halt). */
export interface BooleanRule {
  readonly boolean: true;
}

/** One of a few strings (a strategy name). */
export interface EnumRule {
  readonly oneOf: readonly string[];
}

/** An object whose keys are names (custom checks), each checked against the same rules. */
export interface MapRule {
  readonly keys: RegExp;
  readonly keyHint: string;
  readonly each: object;
}

/** The shape of RunSettings, with the allowed value of every knob (also the source of the JSON Schema). */
export const RULES = {
  chunkSize: { min: 1, max: 1_000_000, integer: true },
  continueAfter: { min: 1, max: Math.floor(EVENTS_PER_GENERATION / EVENTS_PER_ITERATION), integer: true },
  pausePollSeconds: { min: 1, max: 3600, integer: true },
  batch: {
    initialSize: { min: 1, max: 10_000, integer: true },
    minSize: { min: 1, max: 10_000, integer: true },
    maxSize: { min: 1, max: 10_000, integer: true },
    targetSeconds: { min: 0.05, max: 600, integer: false },
    maxConsecutiveFailures: { min: 1, max: 1000, integer: true },
    niceRatio: { min: 0, max: 100, integer: false },
  },
  degraded: {
    sizeFactor: { min: 0.01, max: 1, integer: false },
    niceRatio: { min: 0, max: 100, integer: false },
  },
  backoff: {
    baseSeconds: { min: 1, max: 3600, integer: true },
    maxSeconds: { min: 1, max: 86_400, integer: true },
    multiplier: { min: 1, max: 10, integer: false },
    maxTotalSeconds: { min: 1, max: 31_536_000, integer: true },
  },
  failures: {
    haltRatio: { min: 0, max: 1, integer: false },
    minItems: { min: 1, max: 100_000_000, integer: true },
  },
  health: HEALTH_RULES,
  latency: LATENCY_RULES,
} as const;

/** The top-level knob names, as execution input and `backfill set` accept them. */
export const SETTINGS_FIELDS: readonly string[] = Object.keys(RULES);

function isRule(node: object): node is NumberRule {
  return 'integer' in node;
}

function isBooleanRule(node: object): node is BooleanRule {
  return 'boolean' in node;
}

function isMapRule(node: object): node is MapRule {
  return 'each' in node;
}

/** What a node of RULES is: one knob's rule (a number, true/false, one of a few strings), a map by name, or a group. */
export function ruleKind(node: object): 'number' | 'boolean' | 'oneOf' | 'map' | 'group' {
  if (isRule(node)) return 'number';
  if (isBooleanRule(node)) return 'boolean';
  if ('oneOf' in node) return 'oneOf';
  return isMapRule(node) ? 'map' : 'group';
}

/** Checks one knob's value against its rule (a leaf of RULES); throws naming the field and what is allowed. */
export function checkKnobValue(field: string, value: unknown, rule: object): void {
  if (isRule(rule)) checkNumber(field, value, rule);
  else if (isBooleanRule(rule)) checkBoolean(field, value);
  else if ('oneOf' in rule) checkOneOf(field, value, (rule as EnumRule).oneOf);
  else throw new Error(`${field}: not a single knob`);
}

/** Checks a partial settings object against RULES; throws naming the first bad field. */
export function validateOverrides(field: string, value: unknown, rules: object = RULES): RunSettingsOverrides {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError(field, `must be an object; got ${JSON.stringify(value)}`);
  }
  if (isMapRule(rules)) {
    for (const [key, child] of Object.entries(value)) {
      if (!rules.keys.test(key)) throw new InvalidInputError(`${field}.${key}`, `must be ${rules.keyHint}`);
      validateOverrides(`${field}.${key}`, child, rules.each);
    }
    return value as RunSettingsOverrides;
  }
  const allowed = Object.keys(rules);
  for (const [key, child] of Object.entries(value)) {
    const path = `${field}.${key}`;
    const rule = (rules as Record<string, object>)[key];
    if (rule === undefined) throw new InvalidInputError(path, `is not a known field; allowed: ${allowed.join(', ')}`);
    const kind = ruleKind(rule);
    if (kind === 'group' || kind === 'map') validateOverrides(path, child, rule);
    else checkKnobValue(path, child, rule);
  }
  return value as RunSettingsOverrides;
}

function checkBoolean(field: string, value: unknown): void {
  if (typeof value !== 'boolean') throw new InvalidInputError(field, `must be true or false; got ${JSON.stringify(value)}`);
}

function checkOneOf(field: string, value: unknown, allowed: readonly string[]): void {
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new InvalidInputError(field, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}; got ${JSON.stringify(value)}`);
  }
}

function checkNumber(field: string, value: unknown, rule: NumberRule): void {
  const ok = typeof value === 'number' && Number.isFinite(value) && (!rule.integer || Number.isInteger(value));
  if (!ok || (value as number) < rule.min || (value as number) > rule.max) {
    const kind = rule.integer ? 'an integer' : 'a number';
    throw new InvalidInputError(field, `must be ${kind} from ${rule.min} to ${rule.max}; got ${JSON.stringify(value)}`);
  }
}

function merge<T>(base: T, override: unknown): T {
  if (override === undefined || override === null) return base;
  if (typeof base !== 'object' || base === null) return override as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(override as Record<string, unknown>)) {
    out[key] = merge((base as Record<string, unknown>)[key], value);
  }
  return out as T;
}

/** Layers overrides (later wins) on the defaults, then checks that the result is coherent. */
export function resolveSettings(...layers: ReadonlyArray<RunSettingsOverrides | undefined>): RunSettings {
  const settings = layers.reduce<RunSettings>((acc, layer) => merge(acc, layer), DEFAULT_SETTINGS);
  const { batch, backoff } = settings;
  if (batch.minSize > batch.maxSize) throw new InvalidInputError('batch.minSize', `must be <= batch.maxSize (${batch.maxSize}); got ${batch.minSize}`);
  if (batch.initialSize < batch.minSize || batch.initialSize > batch.maxSize) {
    throw new InvalidInputError('batch.initialSize', `must be between batch.minSize (${batch.minSize}) and batch.maxSize (${batch.maxSize}); got ${batch.initialSize}`);
  }
  if (backoff.baseSeconds > backoff.maxSeconds) throw new InvalidInputError('backoff.baseSeconds', `must be <= backoff.maxSeconds (${backoff.maxSeconds}); got ${backoff.baseSeconds}`);
  assertCoherentHealth(settings.health);
  return settings;
}
