import type pg from 'pg';
import { evaluateChecks } from '../core/evaluate';
import type { HealthCheckResult, HealthReport } from '../core/health';
import type { HealthSettings } from '../core/health-settings';
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
}

export interface ProbeResult {
  readonly report: HealthReport;
  readonly memory: ProbeMemory;
}

/** However sick the database, a probe stops starting checks after this many statement timeouts' worth of time. */
export const PROBE_BUDGET_TIMEOUTS = 4;

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
    ({ checks, memory } = await probePostgres(pool, settings, options.job, custom, previous, () => now() - started));
  } catch (error) {
    checks = [{ name: 'probe', value: 1, unit: 'failures', verdict: 'critical', detail: `probe failed: ${(error as Error).message}`, error: (error as Error).message }];
  }
  const metricChecks = await cloudWatch;
  // Report order: Postgres built-ins, rds*, then the job's checks as the job lists them.
  const isCustom = (c: HealthCheckResult) => custom.some((k) => k.name === c.name);
  const customResults = custom.map((k) => [...checks, ...metricChecks].find((c) => c.name === k.name)).filter((c): c is HealthCheckResult => c !== undefined);
  const all = [...checks.filter((c) => !isCustom(c)), ...metricChecks.filter((c) => !isCustom(c)), ...customResults];
  const evaluation = evaluateChecks(all, { strategy: settings.strategy, settings, evaluator: options.job?.health?.evaluate, health: settings });
  return { report: { ...evaluation, probedAt: new Date(started).toISOString(), durationMs: now() - started }, memory };
}

async function probePostgres(
  pool: pg.Pool,
  settings: HealthSettings,
  job: JobDefinition | undefined,
  custom: readonly NamedCheck[],
  previous: ProbeMemory,
  elapsedMs: () => number,
): Promise<{ checks: HealthCheckResult[]; memory: ProbeMemory }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(`SET statement_timeout = ${Math.trunc(settings.probeTimeoutMs)}`);
    const source = job?.source ? quoteQualifiedName('source.table', job.source.table) : null;
    const { rows } = await client.query<{ version: number; source: string | null }>(PREAMBLE, [source]);
    const db = asQueryable(client);
    const base = { db, settings, serverVersion: rows[0].version, ...(rows[0].source !== null ? { sourceTable: { name: job!.source!.table, oid: Number(rows[0].source) } } : {}) };
    const budgetMs = PROBE_BUDGET_TIMEOUTS * settings.probeTimeoutMs;
    const outOfTime = () => elapsedMs() > budgetMs;
    const notRun = new Error(`not run: the probe spent its budget of ${budgetMs} ms`);
    const checks: HealthCheckResult[] = [];
    const memory: ProbeMemory = { ...previous };
    for (const check of POSTGRES_CHECKS) {
      const knobs = settings[check.name];
      if (!knobs.enabled || (check.needsSourceTable && !base.sourceTable)) continue;
      if (outOfTime()) {
        checks.push(failedResult(check.name, check.unit, knobs, notRun));
        continue;
      }
      const ctx: CheckContext = { ...base, previous: previous[check.name] };
      try {
        const measured = await check.measure(ctx);
        checks.push(checkResult(check.name, check.unit, knobs, measured));
        if (measured.memory !== undefined) memory[check.name] = measured.memory;
      } catch (error) {
        checks.push(failedResult(check.name, check.unit, knobs, error));
      }
    }
    for (const { name, check } of custom) {
      if (isMetricCheck(check)) continue;
      if (outOfTime()) checks.push(failedResult(name, check.unit ?? 'value', { weight: check.weight ?? 1 }, notRun));
      else if (isSqlCheck(check)) checks.push(await measureSqlCheck(db, name, check));
      else checks.push(await measureFunctionCheck(db, name, check as FunctionHealthCheck, settings.probeTimeoutMs));
    }
    return { checks, memory };
  } catch (error) {
    broken = error as Error;
    throw error;
  } finally {
    // The session goes back to the pool as it came, or not at all.
    let releaseWith = broken;
    if (!releaseWith) await client.query('RESET statement_timeout').catch((error: Error) => { releaseWith = error; });
    client.release(releaseWith);
  }
}
