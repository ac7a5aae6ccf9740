import type pg from 'pg';
import { quoteIdentifier } from '../core/identifiers';
import { readHistory, type HistoryEntry } from './history';
import { readLeaseIfAny, stalledSince } from './lease';
import type { RunStatus } from './runs';
import { readRunTotals, type RunTotals } from './totals';

/** The run's row, as the report needs it. */
export interface ReportRun {
  readonly runId: string;
  readonly job: string;
  readonly status: RunStatus;
  readonly reason: string | null;
  readonly settings: Record<string, unknown>;
  /** Live knobs (`backfill set`) as they are now. */
  readonly knobs: Record<string, unknown>;
  readonly plannedItems: number | null;
  readonly executions: readonly string[];
  readonly createdAt: string;
  readonly finishedAt: string | null;
  /** The last heartbeat of an unfinished run no processor works on any more (lease.ts stalledSince); else null. */
  readonly stalledSince?: string | null;
}

/** Everything a report is made from: the same for a local run and a run on AWS. */
export interface ReportSource {
  readonly run: ReportRun;
  readonly totals: RunTotals;
  readonly history: readonly HistoryEntry[];
}

/** What the HTML report is made from: the run's row, its totals and its history; undefined when there is no such run. */
export async function readReportSource(pool: pg.Pool, schema: string, runId: string): Promise<ReportSource | undefined> {
  const row = await readReportRun(pool, schema, runId);
  if (!row) return undefined;
  const [totals, history, lease] = await Promise.all([readRunTotals(pool, schema, runId), readHistory(pool, schema, runId), readLeaseIfAny(pool, schema, runId)]);
  const stalled = stalledSince(lease, row.status);
  const run = stalled === null ? row : { ...row, stalledSince: stalled };
  return { run, totals, history };
}

async function readReportRun(pool: pg.Pool, schema: string, runId: string): Promise<ReportRun | undefined> {
  const { rows } = await pool.query(
    `SELECT run_id, job, status, reason, settings, knobs, planned_items, executions, created_at, finished_at
     FROM ${quoteIdentifier(schema)}.runs WHERE run_id = $1`,
    [runId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    runId: row.run_id,
    job: row.job,
    status: row.status,
    reason: row.reason,
    settings: row.settings,
    knobs: row.knobs,
    plannedItems: row.planned_items,
    executions: row.executions,
    createdAt: (row.created_at as Date).toISOString(),
    finishedAt: row.finished_at ? (row.finished_at as Date).toISOString() : null,
  };
}
