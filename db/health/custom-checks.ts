import { verdictAbove, verdictBelow, type HealthCheckResult } from '../../core/health';
import type { HealthSettings } from '../../core/health-settings';
import type { Queryable } from '../../core/job';
import { tunedCheck, type CustomHealthCheck, type FunctionHealthCheck, type JobHealth, type MetricHealthCheck } from '../../core/job-health';
import { checkResult, failedResult } from './results';
import type { MetricDatapoint, MetricQuery } from './metric-source';

/** A job's check with the run's knobs applied, under its name. */
export interface NamedCheck {
  readonly name: string;
  readonly check: CustomHealthCheck;
}

/** The job's enabled checks, tuned by settings.health.custom. */
export function enabledCustomChecks(jobHealth: JobHealth | undefined, settings: HealthSettings): NamedCheck[] {
  return Object.entries(jobHealth?.checks ?? {})
    .map(([name, check]) => ({ name, check: tunedCheck(check, settings.custom[name]) }))
    .filter(({ check }) => check.enabled !== false);
}

function judged(name: string, check: CustomHealthCheck, value: number, detail?: string): HealthCheckResult {
  const verdict = (check.worseWhen ?? 'above') === 'above' ? verdictAbove(value, check.warning, check.critical) : verdictBelow(value, check.warning, check.critical);
  return checkResult(name, check.unit ?? 'value', { weight: check.weight ?? 1, halt: check.halt ?? false }, { value, verdict, ...(detail ? { detail } : {}) });
}

function failed(name: string, check: CustomHealthCheck, error: unknown): HealthCheckResult {
  return failedResult(name, check.unit ?? 'value', { weight: check.weight ?? 1 }, error);
}

function asNumber(value: unknown, what: string): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`${what} returned ${JSON.stringify(value)}, not a number`);
  return n;
}

/** First column of the first row; no row, or NULL, is 0. */
export async function measureSqlCheck(db: Queryable, name: string, check: CustomHealthCheck & { sql: string }): Promise<HealthCheckResult> {
  try {
    const { rows } = await db.query<Record<string, unknown>>(check.sql);
    const first = rows[0] === undefined ? null : Object.values(rows[0])[0];
    return judged(name, check, first === null || first === undefined ? 0 : asNumber(first, 'the query'));
  } catch (error) {
    return failed(name, check, error);
  }
}

/**
 * Runs the job's function with the probe's session (statements bounded by its statement_timeout) and a time limit:
 * a function that hangs becomes a critical result, and its session handle stops working once its time is up.
 */
export async function measureFunctionCheck(db: Queryable, name: string, check: FunctionHealthCheck, timeoutMs: number): Promise<HealthCheckResult> {
  let open = true;
  const guarded: Queryable = {
    query: (sql, params) => (open ? db.query(sql, params) : Promise.reject(new Error(`health check ${name} used the database after its time was up`))),
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not return within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const value = await Promise.race([Promise.resolve().then(() => check.measure(guarded)), timeout]);
    return judged(name, check, asNumber(value, 'measure()'));
  } catch (error) {
    return failed(name, check, error);
  } finally {
    open = false;
    clearTimeout(timer);
  }
}

/** The GetMetricData query of a job's metric check; ids are derived from the position, names are free text. */
export function customMetricQuery(index: number, check: MetricHealthCheck): MetricQuery {
  return {
    id: `custom${index}`,
    namespace: check.metric.namespace,
    name: check.metric.name,
    dimensions: check.metric.dimensions ?? {},
    stat: check.metric.stat ?? 'Average',
    periodSeconds: check.metric.periodSeconds ?? 60,
  };
}

export function judgeMetric(name: string, check: MetricHealthCheck, datapoint: MetricDatapoint | undefined): HealthCheckResult {
  if (!datapoint) return { ...judged(name, check, 0), verdict: 'ok', detail: `no datapoint of ${check.metric.namespace} ${check.metric.name} in the last 10 minutes` };
  return judged(name, check, datapoint.value, `datapoint of ${datapoint.at.toISOString()}`);
}

export function metricFailed(name: string, check: MetricHealthCheck, error: unknown): HealthCheckResult {
  return failed(name, check, error);
}

