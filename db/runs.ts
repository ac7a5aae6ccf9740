import type pg from 'pg';
import { InvalidInputError } from '../core/errors';
import { quoteIdentifier } from '../core/identifiers';
import type { RunSettings, RunSettingsOverrides } from '../core/settings';
import { withTransaction } from './pool';

export type RunStatus = 'running' | 'backing-off' | 'paused' | 'succeeded' | 'failed' | 'aborted';

/** Statuses after which a run does nothing until it is started again. */
export const FINISHED_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'aborted'];

export interface RunRecord {
  readonly runId: string;
  readonly job: string;
  readonly status: RunStatus;
  readonly plannedItems: number | null;
}

/** What an operator can change while a run goes on; every probe reads it. */
export interface RunControls {
  readonly paused: boolean;
  readonly abortRequested: boolean;
  /** Live knobs (`backfill set`), layered over the run's settings. */
  readonly knobs: RunSettingsOverrides;
}

/**
 * Inserts the run if new. An existing run (a resume) keeps its plan, counters and live knobs; starting it again
 * clears a pause or abort request, since starting is the operator asking it to go. A continuation (the run going
 * on as a new execution, continue-as-new) is not the operator starting it: it keeps the pause and abort flags.
 * A run id that belongs to another job is refused, and that run's row is left as it was.
 */
export async function upsertRun(
  pool: pg.Pool,
  schema: string,
  runId: string,
  job: string,
  settings: RunSettings,
  options: { readonly continuation?: boolean } = {},
): Promise<RunRecord> {
  const s = quoteIdentifier(schema);
  const { rows } = await pool.query(
    `INSERT INTO ${s}.runs AS r (run_id, job, status, settings) VALUES ($1, $2, 'running', $3)
     ON CONFLICT (run_id) DO UPDATE SET status = 'running', reason = NULL, settings = EXCLUDED.settings,
       paused = r.paused AND $4, abort_requested = r.abort_requested AND $4, updated_at = now(), finished_at = NULL
     WHERE r.job = EXCLUDED.job
     RETURNING run_id, job, status, planned_items`,
    [runId, job, JSON.stringify(settings), options.continuation ?? false],
  );
  const row = rows[0];
  if (!row) throw await otherJobsRun(pool, s, runId, job);
  return { runId: row.run_id, job: row.job, status: row.status, plannedItems: row.planned_items };
}

/** The error for a run id taken by another job (the conflicting row was not updated, so none came back). */
async function otherJobsRun(pool: pg.Pool, quotedSchema: string, runId: string, job: string): Promise<InvalidInputError> {
  const { rows } = await pool.query<{ job: string }>(`SELECT job FROM ${quotedSchema}.runs WHERE run_id = $1`, [runId]);
  const owner = rows[0] ? `job ${rows[0].job}` : 'another job (its row was removed meanwhile: start again)';
  return new InvalidInputError('runId', `run ${runId} belongs to ${owner}, not ${job}; choose another runId (or start with --fresh)`);
}

/**
 * True for a run `backfill abort` has marked aborted (after stopping its execution on AWS). A Lambda of that
 * execution still in flight when it was stopped must not write its decision over that.
 */
export const ABORTED_BY_OPERATOR = `(status = 'aborted' AND abort_requested)`;

export async function markPlanned(pool: pg.Pool, schema: string, runId: string, plannedItems: number): Promise<void> {
  await pool.query(`UPDATE ${quoteIdentifier(schema)}.runs SET planned_items = $2, updated_at = now() WHERE run_id = $1`, [runId, plannedItems]);
}

/** Records the chain of executions a run has gone through (continue-as-new, resumes). */
export async function appendExecution(pool: pg.Pool, schema: string, runId: string, executionId: string): Promise<void> {
  await pool.query(`UPDATE ${quoteIdentifier(schema)}.runs SET executions = array_append(executions, $2), updated_at = now() WHERE run_id = $1`, [runId, executionId]);
}

/** The operator's flags and knobs for a run; a run that does not exist has none. */
export async function readRunControls(pool: pg.Pool, schema: string, runId: string): Promise<RunControls> {
  const { rows } = await pool.query(`SELECT paused, abort_requested, knobs FROM ${quoteIdentifier(schema)}.runs WHERE run_id = $1`, [runId]);
  const row = rows[0];
  return { paused: row?.paused ?? false, abortRequested: row?.abort_requested ?? false, knobs: row?.knobs ?? {} };
}

/** Records how a run ended; a run the operator aborted (ABORTED_BY_OPERATOR) stays aborted until started again. */
export async function recordRunStatus(pool: pg.Pool, schema: string, runId: string, status: RunStatus, reason: string): Promise<void> {
  await pool.query(
    `UPDATE ${quoteIdentifier(schema)}.runs
     SET status = $2, reason = $3, updated_at = now(),
         finished_at = CASE WHEN $2 = ANY($4::text[]) THEN now() ELSE finished_at END
     WHERE run_id = $1 AND NOT ${ABORTED_BY_OPERATOR}`,
    [runId, status, reason, FINISHED_STATUSES],
  );
}

/**
 * A synchronous commit on the run's row, with the batch's history entry. WAL is flushed in order, so once this
 * returns every earlier commit of the batch (made with synchronous_commit off) is durable too: only then may the
 * batch's messages go.
 */
export async function flushBatch(pool: pg.Pool, schema: string, runId: string, batch?: Record<string, unknown>): Promise<void> {
  const s = quoteIdentifier(schema);
  await withTransaction(pool, async (client) => {
    await client.query(`SET LOCAL synchronous_commit = on`);
    await client.query(
      `WITH entry AS (INSERT INTO ${s}.history (run_id, kind, data) SELECT $1, 'batch', $2::jsonb WHERE $2::jsonb IS NOT NULL)
       UPDATE ${s}.runs SET updated_at = now() WHERE run_id = $1`,
      [runId, batch === undefined ? null : JSON.stringify(batch)],
    );
  });
}
