import type pg from 'pg';
import { evaluateChecks } from '../core/evaluate';
import { thresholdVerdict, type HealthCheckResult, type HealthReport } from '../core/health';
import type { JobDefinition } from '../core/job';
import type { HealthSettings } from '../core/settings';
import { APPLICATION_NAME, withTransaction } from './pool';

/** Client sessions other than our own; idle sessions are not a load. */
const OTHER_ACTIVE_SESSIONS = `backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND application_name NOT LIKE '${APPLICATION_NAME}%' AND state = 'active'`;

const PROBE_SQL = `
SELECT
  COALESCE(max(EXTRACT(epoch FROM now() - query_start)) FILTER (WHERE wait_event_type IS DISTINCT FROM 'Lock'), 0)::float8 AS longest_query_seconds,
  count(*) FILTER (WHERE wait_event_type IS DISTINCT FROM 'Lock' AND now() - query_start > make_interval(secs => $1))::int AS long_queries,
  COALESCE(max(EXTRACT(epoch FROM now() - query_start)) FILTER (WHERE wait_event_type = 'Lock'), 0)::float8 AS longest_lock_wait_seconds,
  count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS lock_waiters
FROM pg_stat_activity
WHERE ${OTHER_ACTIVE_SESSIONS}`;

/** What a probe remembers for the next one (counters, to turn lifetime totals into rates). Opaque JSON. */
export type ProbeMemory = Record<string, unknown>;

export interface ProbeOptions {
  /** The job: its source table, custom checks and evaluator. */
  readonly job?: JobDefinition;
  /** What the previous probe of this run remembered. */
  readonly memory?: ProbeMemory;
  readonly now?: () => number;
}

export interface ProbeResult {
  readonly report: HealthReport;
  readonly memory: ProbeMemory;
}

/**
 * Reads pg_stat_activity under a statement_timeout, so a sick database yields a critical report instead of a hang.
 * The probe never throws: a failed probe is itself a critical finding.
 */
export async function probeHealth(pool: pg.Pool, settings: HealthSettings, options: ProbeOptions = {}): Promise<ProbeResult> {
  const now = options.now ?? Date.now;
  const started = now();
  let checks: HealthCheckResult[];
  try {
    const row = await withTransaction(pool, async (client) => {
      await client.query(`SET LOCAL statement_timeout = ${Math.trunc(settings.probeTimeoutMs)}`);
      const { rows } = await client.query(PROBE_SQL, [settings.longRunningQueries.warningSeconds]);
      return rows[0];
    });
    checks = [
      {
        name: 'longRunningQueries',
        value: row.longest_query_seconds,
        unit: 'seconds',
        verdict: thresholdVerdict(row.longest_query_seconds, settings.longRunningQueries),
        ...(row.long_queries > 0 ? { detail: `${row.long_queries} running longer than ${settings.longRunningQueries.warningSeconds}s` } : {}),
      },
      {
        name: 'lockWaits',
        value: row.longest_lock_wait_seconds,
        unit: 'seconds',
        verdict: thresholdVerdict(row.longest_lock_wait_seconds, settings.lockWaits),
        ...(row.lock_waiters > 0 ? { detail: `${row.lock_waiters} sessions waiting on locks` } : {}),
      },
    ];
  } catch (error) {
    checks = [{ name: 'probe', value: 1, unit: 'failures', verdict: 'critical', detail: `probe failed: ${(error as Error).message}` }];
  }
  return { report: { ...evaluateChecks(checks), checks, probedAt: new Date(started).toISOString(), durationMs: now() - started }, memory: {} };
}
