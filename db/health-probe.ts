import type pg from 'pg';
import { evaluateChecks } from '../core/evaluate';
import type { HealthCheckResult, HealthReport } from '../core/health';
import { PROBE_BUDGET_TIMEOUTS, type HealthSettings } from '../core/health-settings';
import { quoteQualifiedName } from '../core/identifiers';
import type { JobDefinition } from '../core/job';
import { isMetricCheck, isSqlCheck, type FunctionHealthCheck } from '../core/job-health';
import type { CheckContext } from './health/check';
import { readCloudWatchChecks } from './health/cloudwatch-checks';
import { enabledCustomChecks, measureFunctionCheck, measureSqlCheck, type NamedCheck } from './health/custom-checks';
import type { MetricSource } from './health/metric-source';
import { POSTGRES_CHECKS } from './health/registry';
import { checkResult, failedResult } from './health/results';
import { asQueryable } from './pool';

/** What a probe remembers for the next one (counters, to turn lifetime totals into rates), by check. Opaque JSON. */
export type ProbeMemory = Record<string, unknown>;

export interface ProbeOptions {
  /** The job: its source table, custom checks and evaluator. */
  readonly job?: JobDefinition;
  /** What the previous probe of this run remembered. */
  readonly memory?: ProbeMemory;
  /** CloudWatch, when configured (the AWS entry points, given the database): rds* and metric checks. */
  readonly metrics?: MetricSource;
  readonly now?: () => number;
  /** The bookkeeping schema: the commit-latency canary updates its heartbeat table. */
  readonly bookkeepingSchema?: string;
}

export interface ProbeResult {
  readonly report: HealthReport;
  readonly memory: ProbeMemory;
}

/**
 * The Postgres part of a probe gets PROBE_BUDGET_TIMEOUTS statement timeouts of wall-clock time, its connect
 * included. When they are spent the probe abandons its session (closes it; the server cancels the statement at its
 * statement_timeout at the latest) and reports every check not finished as critical. So however sick the database,
 * and whatever a check does (activeSessions samples 3 times, probeLatency up to 20 times), the Postgres part costs at
 * most this: the HealthProbe function's timeout is computed from it (lambdas/probe-timing.ts).
 */
export function probeBudgetMs(settings: Pick<HealthSettings, 'probeTimeoutMs'>): number {
  return PROBE_BUDGET_TIMEOUTS * settings.probeTimeoutMs;
}

const PREAMBLE = `SELECT current_setting('server_version_num')::int AS version, to_regclass($1)::oid::int8 AS source`;

/**
 * Runs every enabled check (Postgres statistics under a statement_timeout, CloudWatch, the job's own) and
 * evaluates them with the run's strategy. Never throws: a check that cannot measure is critical on its own, and a
 * database that cannot be reached at all is one critical 'probe' finding.
 */
export async function probeHealth(pool: pg.Pool, settings: HealthSettings, options: ProbeOptions = {}): Promise<ProbeResult> {
  const now = options.now ?? Date.now;
  const started = now();
  const previous = options.memory ?? {};
  const custom = enabledCustomChecks(options.job?.health, settings);
  // CloudWatch answers while Postgres is being probed.
  const cloudWatch = readCloudWatchChecks(options.metrics, settings, custom, settings.probeTimeoutMs);
  let checks: HealthCheckResult[];
  let memory: ProbeMemory = { ...previous };
  try {
    const budgetMs = probeBudgetMs(settings);
    ({ checks, memory } = await probePostgres(pool, settings, options.job, custom, previous, budgetMs, budgetMs - (now() - started), options.bookkeepingSchema));
  } catch (error) {
    checks = [probeFailure(error)];
  }
  const metricChecks = await cloudWatch;
  // Report order: Postgres built-ins, rds*, then the job's checks as the job lists them.
  const isCustom = (c: HealthCheckResult) => custom.some((k) => k.name === c.name);
  const customResults = custom.map((k) => [...checks, ...metricChecks].find((c) => c.name === k.name)).filter((c): c is HealthCheckResult => c !== undefined);
  const all = [...checks.filter((c) => !isCustom(c)), ...metricChecks.filter((c) => !isCustom(c)), ...customResults];
  const evaluation = evaluateChecks(all, { strategy: settings.strategy, settings, evaluator: options.job?.health?.evaluate, health: settings });
  return { report: { ...evaluation, probedAt: new Date(started).toISOString(), durationMs: now() - started }, memory };
}

/**
 * The report of a probe that could not start (its database, or the run's own row, could not be read): the one
 * critical 'probe' finding, which every strategy calls critical. The memory is carried on unchanged.
 */
export function unprobedResult(settings: HealthSettings, error: unknown, options: ProbeOptions = {}): ProbeResult {
  const at = (options.now ?? Date.now)();
  const evaluation = evaluateChecks([probeFailure(error)], { strategy: settings.strategy, settings, evaluator: options.job?.health?.evaluate, health: settings });
  return { report: { ...evaluation, probedAt: new Date(at).toISOString(), durationMs: 0 }, memory: { ...(options.memory ?? {}) } };
}

function probeFailure(error: unknown): HealthCheckResult {
  const message = error instanceof Error ? error.message : String(error);
  return { name: 'probe', value: 1, unit: 'failures', verdict: 'critical', detail: `probe failed: ${message}`, error: message };
}

/** A check the probe means to run: what its report entry needs when it cannot run. */
interface PlannedCheck {
  readonly name: string;
  readonly unit: string;
  readonly weight: number;
  readonly needsSourceTable: boolean;
}

function planChecks(settings: HealthSettings, job: JobDefinition | undefined, custom: readonly NamedCheck[]): PlannedCheck[] {
  const builtIn = POSTGRES_CHECKS.filter((check) => settings[check.name].enabled && (!check.needsSourceTable || job?.source !== undefined))
    .map((check) => ({ name: check.name, unit: check.unit, weight: settings[check.name].weight, needsSourceTable: check.needsSourceTable ?? false }));
  const own = custom.filter(({ check }) => !isMetricCheck(check))
    .map(({ name, check }) => ({ name, unit: check.unit ?? 'value', weight: check.weight ?? 1, needsSourceTable: false }));
  return [...builtIn, ...own];
}

/**
 * Runs the Postgres checks on one session, within `budgetMs` of wall-clock time. When the budget is spent the
 * session is abandoned and the checks not finished are reported critical; a connect or preamble that fails throws
 * (the caller reports the one 'probe' finding).
 */
async function probePostgres(
  pool: pg.Pool,
  settings: HealthSettings,
  job: JobDefinition | undefined,
  custom: readonly NamedCheck[],
  previous: ProbeMemory,
  budgetMs: number,
  remainingMs: number,
  bookkeepingSchema?: string,
): Promise<{ checks: HealthCheckResult[]; memory: ProbeMemory }> {
  let planned = planChecks(settings, job, custom);
  const results = new Map<string, HealthCheckResult>();
  const memory: ProbeMemory = { ...previous };
  let abandoned = false;
  let running: string | undefined;
  let client: pg.PoolClient | undefined;
  let released = false;
  // The session goes back to the pool as it came, or is closed; once either way.
  const release = (error?: Error) => {
    if (client && !released) {
      released = true;
      client.release(error);
    }
  };
  const record = (result: HealthCheckResult) => {
    if (!abandoned) results.set(result.name, result);
  };

  const work = (async () => {
    client = await pool.connect();
    if (abandoned) return release(new Error('abandoned'));
    let broken: Error | undefined;
    try {
      await client.query(`SET statement_timeout = ${Math.trunc(settings.probeTimeoutMs)}`);
      const source = job?.source ? quoteQualifiedName('source.table', job.source.table) : null;
      const { rows } = await client.query<{ version: number; source: string | null }>(PREAMBLE, [source]);
      const db = asQueryable(client);
      const base = { db, settings, serverVersion: rows[0].version, ...(bookkeepingSchema !== undefined ? { bookkeepingSchema } : {}), ...(rows[0].source !== null ? { sourceTable: { name: job!.source!.table, oid: Number(rows[0].source) } } : {}) };
      if (!base.sourceTable) planned = planned.filter((check) => !check.needsSourceTable);
      for (const check of POSTGRES_CHECKS) {
        const knobs = settings[check.name];
        if (!knobs.enabled || (check.needsSourceTable && !base.sourceTable)) continue;
        if (abandoned) return;
        running = check.name;
        try {
          const measured = await check.measure({ ...base, previous: previous[check.name] } satisfies CheckContext);
          record(checkResult(check.name, check.unit, knobs, measured));
          if (measured.memory !== undefined && !abandoned) memory[check.name] = measured.memory;
        } catch (error) {
          record(failedResult(check.name, check.unit, knobs, error));
        }
      }
      for (const { name, check } of custom) {
        if (isMetricCheck(check)) continue;
        if (abandoned) return;
        running = name;
        record(isSqlCheck(check) ? await measureSqlCheck(db, name, check) : await measureFunctionCheck(db, name, check as FunctionHealthCheck, settings.probeTimeoutMs));
      }
      running = undefined;
    } catch (error) {
      broken = error as Error;
      throw error;
    } finally {
      if (!abandoned) {
        if (!broken) await client.query('RESET statement_timeout').catch((error: Error) => { broken = error; });
        release(broken);
      }
    }
  })();

  let timer: NodeJS.Timeout | undefined;
  const spent = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, remainingMs));
  });
  let finished: boolean;
  try {
    finished = await Promise.race([work.then(() => true), spent]);
  } finally {
    clearTimeout(timer);
  }
  if (!finished) {
    abandoned = true;
    // The abandoned work ends with an error once its session is closed: nobody waits for it any more.
    work.catch(() => undefined);
    release(new Error(`abandoned: the probe spent its budget of ${budgetMs} ms`));
  }
  const notRun = new Error(`not run: the probe spent its budget of ${budgetMs} ms`);
  const cut = new Error(`not finished: the probe spent its budget of ${budgetMs} ms`);
  const checks = planned.map((check) => results.get(check.name) ?? failedResult(check.name, check.unit, { weight: check.weight }, check.name === running ? cut : notRun));
  return { checks, memory: { ...memory } };
}
