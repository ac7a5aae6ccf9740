import type pg from 'pg';
import { quoteIdentifier } from '../core/identifiers';
import type { RunSettings } from '../core/settings';
import { withTransaction } from './pool';

export type RunStatus = 'running' | 'backing-off' | 'succeeded' | 'failed';

export interface RunRecord {
  readonly runId: string;
  readonly job: string;
  readonly status: RunStatus;
  readonly plannedItems: number | null;
}

export interface RunTotals {
  readonly itemsSucceeded: number;
  readonly rowsAffected: number;
  readonly itemsFailed: number;
  readonly itemsDeadLettered: number;
}

/** Creates the bookkeeping schema and tables if missing; serialized so concurrent starts do not race. */
export async function ensureBookkeeping(pool: pg.Pool, schema: string): Promise<void> {
  const s = quoteIdentifier(schema);
  await withTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('adaptive-backfill:' || $1))`, [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.runs (
      run_id text PRIMARY KEY,
      job text NOT NULL,
      status text NOT NULL,
      settings jsonb NOT NULL,
      planned_items integer,
      reason text,
      last_health jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz)`);
    await client.query(`ALTER TABLE ${s}.runs ADD COLUMN IF NOT EXISTS executions text[] NOT NULL DEFAULT '{}'`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.done_items (
      run_id text NOT NULL,
      dedupe_key text NOT NULL,
      rows_affected bigint NOT NULL,
      done_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (run_id, dedupe_key))`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.failures (
      id bigserial PRIMARY KEY,
      run_id text NOT NULL,
      dedupe_key text,
      message_id text,
      attempt integer NOT NULL,
      error text NOT NULL,
      stack text,
      final boolean NOT NULL,
      failed_at timestamptz NOT NULL DEFAULT now())`);
    await client.query(`CREATE INDEX IF NOT EXISTS failures_run_id ON ${s}.failures (run_id)`);
  });
}

/** Inserts the run if new; an existing run (a resume) keeps its plan and counters. */
export async function upsertRun(pool: pg.Pool, schema: string, runId: string, job: string, settings: RunSettings): Promise<RunRecord> {
  const s = quoteIdentifier(schema);
  const { rows } = await pool.query(
    `INSERT INTO ${s}.runs (run_id, job, status, settings) VALUES ($1, $2, 'running', $3)
     ON CONFLICT (run_id) DO UPDATE SET status = 'running', reason = NULL, settings = EXCLUDED.settings, updated_at = now(), finished_at = NULL
     RETURNING run_id, job, status, planned_items`,
    [runId, job, JSON.stringify(settings)],
  );
  const row = rows[0];
  if (row.job !== job) {
    throw new Error(`runId ${runId} belongs to job ${row.job}, not ${job}; choose another runId`);
  }
  return { runId: row.run_id, job: row.job, status: row.status, plannedItems: row.planned_items };
}

/**
 * A synchronous commit on the run's row. WAL is flushed in order, so once this returns every earlier commit
 * of the batch (made with synchronous_commit off) is durable too: only then may the batch's messages go.
 */
export async function flushBatch(pool: pg.Pool, schema: string, runId: string): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query(`SET LOCAL synchronous_commit = on`);
    await client.query(`UPDATE ${quoteIdentifier(schema)}.runs SET updated_at = now() WHERE run_id = $1`, [runId]);
  });
}

/** Records the chain of executions a run has gone through (continue-as-new, resumes). */
export async function appendExecution(pool: pg.Pool, schema: string, runId: string, executionId: string): Promise<void> {
  await pool.query(`UPDATE ${quoteIdentifier(schema)}.runs SET executions = array_append(executions, $2), updated_at = now() WHERE run_id = $1`, [runId, executionId]);
}

export async function markPlanned(pool: pg.Pool, schema: string, runId: string, plannedItems: number): Promise<void> {
  await pool.query(`UPDATE ${quoteIdentifier(schema)}.runs SET planned_items = $2, updated_at = now() WHERE run_id = $1`, [runId, plannedItems]);
}

export async function recordRunStatus(pool: pg.Pool, schema: string, runId: string, status: RunStatus, reason: string, lastHealth?: unknown): Promise<void> {
  await pool.query(
    `UPDATE ${quoteIdentifier(schema)}.runs
     SET status = $2, reason = $3, last_health = COALESCE($4, last_health), updated_at = now(),
         finished_at = CASE WHEN $2 IN ('succeeded', 'failed') THEN now() ELSE finished_at END
     WHERE run_id = $1`,
    [runId, status, reason, lastHealth === undefined ? null : JSON.stringify(lastHealth)],
  );
}

export interface FailureRecord {
  readonly runId: string;
  readonly dedupeKey?: string;
  readonly messageId?: string;
  readonly attempt: number;
  readonly error: string;
  readonly stack?: string;
  /** True when this item will not be tried again (it is, or is about to be, in the DLQ). */
  readonly final: boolean;
}

export async function recordFailures(pool: pg.Pool, schema: string, failures: readonly FailureRecord[]): Promise<void> {
  if (failures.length === 0) return;
  await pool.query(
    `INSERT INTO ${quoteIdentifier(schema)}.failures (run_id, dedupe_key, message_id, attempt, error, stack, final)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS f(run_id text, dedupe_key text, message_id text, attempt integer, error text, stack text, final boolean)`,
    [JSON.stringify(failures.map((f) => ({ run_id: f.runId, dedupe_key: f.dedupeKey ?? null, message_id: f.messageId ?? null, attempt: f.attempt, error: f.error, stack: f.stack ?? null, final: f.final })))],
  );
}

/** Counts derived from the done keys and the failure audit, so they are exact even after crashes. */
export async function readRunTotals(pool: pg.Pool, schema: string, runId: string): Promise<RunTotals> {
  const s = quoteIdentifier(schema);
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM ${s}.done_items WHERE run_id = $1)::bigint AS items_succeeded,
            (SELECT COALESCE(sum(rows_affected), 0) FROM ${s}.done_items WHERE run_id = $1)::bigint AS rows_affected,
            (SELECT count(DISTINCT COALESCE(dedupe_key, message_id)) FROM ${s}.failures WHERE run_id = $1)::bigint AS items_failed,
            (SELECT count(DISTINCT COALESCE(dedupe_key, message_id)) FROM ${s}.failures f WHERE run_id = $1 AND final
               AND NOT EXISTS (SELECT 1 FROM ${s}.done_items d WHERE d.run_id = f.run_id AND d.dedupe_key = f.dedupe_key))::bigint AS items_dead_lettered`,
    [runId],
  );
  const row = rows[0];
  return {
    itemsSucceeded: Number(row.items_succeeded),
    rowsAffected: Number(row.rows_affected),
    itemsFailed: Number(row.items_failed),
    itemsDeadLettered: Number(row.items_dead_lettered),
  };
}
