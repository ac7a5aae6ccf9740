import { InvalidInputError } from './errors';
import type { CustomEvaluator } from './evaluate';
import { CHECK_NAME, RESERVED_CHECK_NAMES, STRATEGIES, type HealthSettings } from './health-settings';
import type { Queryable } from './job';

/** What every custom check has besides how it measures. */
interface CustomCheckBase {
  /** Shown with the value in reports, e.g. 'rows', 'percent'. @default 'value' */
  readonly unit?: string;
  readonly warning: number;
  readonly critical: number;
  /** 'above': higher is worse (warning at >= warning). 'below': lower is worse (warning at < warning). @default 'above' */
  readonly worseWhen?: 'above' | 'below';
  /** @default true */
  readonly enabled?: boolean;
  /** @default 1 */
  readonly weight?: number;
  /** A critical verdict halts the run. @default false */
  readonly halt?: boolean;
}

/** A query returning one number (first column of the first row; no row is 0), run under the probe's timeout. */
export interface SqlHealthCheck extends CustomCheckBase {
  readonly sql: string;
}

/** A CloudWatch metric, read with GetMetricData: the latest datapoint of the last few minutes. */
export interface MetricHealthCheck extends CustomCheckBase {
  readonly metric: {
    readonly namespace: string;
    readonly name: string;
    readonly dimensions?: Readonly<Record<string, string>>;
    /** @default 'Average' */
    readonly stat?: string;
    /** @default 60 */
    readonly periodSeconds?: number;
  };
}

/** Code that measures: gets the database (its statements bounded by the probe's timeout) and returns a number. */
export interface FunctionHealthCheck extends CustomCheckBase {
  measure(db: Queryable): Promise<number> | number;
}

export type CustomHealthCheck = SqlHealthCheck | MetricHealthCheck | FunctionHealthCheck;

/** A job's own health definitions: code, deployed with the job; execution input may only tune them by name. */
export interface JobHealth {
  /** Custom checks by name (a letter, then letters, digits or _; not a built-in name). */
  readonly checks?: Readonly<Record<string, CustomHealthCheck>>;
  /** The evaluator used when `settings.health.strategy` is "custom". */
  readonly evaluate?: CustomEvaluator;
}

export function isSqlCheck(check: CustomHealthCheck): check is SqlHealthCheck {
  return typeof (check as SqlHealthCheck).sql === 'string';
}

export function isMetricCheck(check: CustomHealthCheck): check is MetricHealthCheck {
  return typeof (check as MetricHealthCheck).metric === 'object';
}

/** Checks a job module's `health` field; returns the problem, or undefined when it is fine. */
export function jobHealthProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'health must be { checks?, evaluate? }';
  const { checks, evaluate, ...rest } = value as { checks?: unknown; evaluate?: unknown };
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `health has unknown fields ${unknown.join(', ')}; allowed: checks, evaluate`;
  if (evaluate !== undefined && typeof evaluate !== 'function') return 'health.evaluate must be a function (checks, settings) => verdict';
  if (checks === undefined) return undefined;
  if (typeof checks !== 'object' || checks === null || Array.isArray(checks)) return 'health.checks must be an object of checks by name';
  for (const [name, check] of Object.entries(checks)) {
    const problem = checkProblem(name, check);
    if (problem) return `health.checks.${name}: ${problem}`;
  }
  return undefined;
}

function checkProblem(name: string, value: unknown): string | undefined {
  if (!CHECK_NAME.test(name)) return 'the name must be a letter, then letters, digits or _ (at most 63)';
  // Execution input rejects any key that mentions SQL, and a continued run carries these names in its settings.
  if (/sql/i.test(name)) return 'the name must not contain "sql" (execution input, which tunes checks by name, rejects such keys)';
  if (RESERVED_CHECK_NAMES.includes(name)) return `the name is taken by a built-in; reserved: ${RESERVED_CHECK_NAMES.join(', ')}`;
  if (typeof value !== 'object' || value === null) return 'must be an object { sql | metric | measure, warning, critical, ... }';
  const check = value as Record<string, unknown>;
  const kinds = ['sql', 'metric', 'measure'].filter((kind) => check[kind] !== undefined);
  if (kinds.length !== 1) return 'define exactly one of sql (a query returning a number), metric (a CloudWatch metric) or measure (db) => number';
  if (check.sql !== undefined && (typeof check.sql !== 'string' || check.sql.trim() === '')) return 'sql must be a non-empty string';
  if (check.measure !== undefined && typeof check.measure !== 'function') return 'measure must be a function (db) => number';
  if (check.metric !== undefined) {
    const metric = check.metric as Record<string, unknown>;
    if (typeof metric !== 'object' || metric === null || typeof metric.namespace !== 'string' || typeof metric.name !== 'string') {
      return 'metric must be { namespace, name, dimensions?, stat?, periodSeconds? }';
    }
    const dims = metric.dimensions;
    if (dims !== undefined && (typeof dims !== 'object' || dims === null || Object.values(dims).some((d) => typeof d !== 'string'))) return 'metric.dimensions must map names to strings';
    if (metric.stat !== undefined && typeof metric.stat !== 'string') return 'metric.stat must be a statistic such as "Average" or "p99"';
    const period = metric.periodSeconds;
    if (period !== undefined && !(typeof period === 'number' && Number.isInteger(period) && period >= 1 && (period < 60 || period % 60 === 0))) {
      return 'metric.periodSeconds must be 1, 5, 10, 30 or a multiple of 60';
    }
  }
  for (const field of ['warning', 'critical'] as const) {
    if (typeof check[field] !== 'number' || !Number.isFinite(check[field])) return `${field} must be a number; got ${JSON.stringify(check[field])}`;
  }
  if (check.worseWhen !== undefined && check.worseWhen !== 'above' && check.worseWhen !== 'below') return 'worseWhen must be "above" or "below"';
  if (check.unit !== undefined && typeof check.unit !== 'string') return 'unit must be a string';
  for (const field of ['enabled', 'halt'] as const) {
    if (check[field] !== undefined && typeof check[field] !== 'boolean') return `${field} must be true or false`;
  }
  if (check.weight !== undefined && !(typeof check.weight === 'number' && check.weight >= 0 && check.weight <= 100)) return 'weight must be a number from 0 to 100';
  return thresholdOrderProblem(check.warning as number, check.critical as number, (check.worseWhen as 'above' | 'below') ?? 'above');
}

function thresholdOrderProblem(warning: number, critical: number, worseWhen: 'above' | 'below'): string | undefined {
  if (worseWhen === 'above' && warning > critical) return `warning (${warning}) must be <= critical (${critical}) when higher is worse`;
  if (worseWhen === 'below' && warning < critical) return `warning (${warning}) must be >= critical (${critical}) when lower is worse (worseWhen: "below")`;
  return undefined;
}

/** A custom check with the run's knobs (health.custom.NAME) applied over the job's definition. */
export function tunedCheck(check: CustomHealthCheck, knobs: HealthSettings['custom'][string] | undefined): CustomHealthCheck {
  return knobs ? { ...check, ...knobs } : check;
}

/**
 * What only the job can tell about the resolved health settings: strategy "custom" needs the job's evaluator, and
 * every `health.custom` entry must name one of the job's checks, with thresholds still in order. Run at Init.
 */
export function assertHealthFitsJob(health: HealthSettings, jobName: string, jobHealth: JobHealth | undefined): void {
  if (health.strategy === 'custom' && !jobHealth?.evaluate) {
    const others = STRATEGIES.filter((s) => s !== 'custom').map((s) => JSON.stringify(s)).join(', ');
    throw new InvalidInputError('health.strategy', `"custom" needs health.evaluate in the job module, and job ${jobName} has none; allowed: ${others}`);
  }
  const defined = jobHealth?.checks ?? {};
  for (const [name, knobs] of Object.entries(health.custom)) {
    const check = defined[name];
    if (!check) {
      const names = Object.keys(defined);
      throw new InvalidInputError(`health.custom.${name}`, `is not a check of job ${jobName}; ${names.length > 0 ? `its checks: ${names.join(', ')}` : 'it defines no custom checks'}`);
    }
    const tuned = tunedCheck(check, knobs);
    const problem = thresholdOrderProblem(tuned.warning, tuned.critical, tuned.worseWhen ?? 'above');
    if (problem) throw new InvalidInputError(`health.custom.${name}`, problem);
  }
}
