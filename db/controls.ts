import type pg from 'pg';
import type { ControlState } from '../core/controller';
import type { HealthReport } from '../core/health';
import { quoteIdentifier } from '../core/identifiers';
import type { RunSettings, RunSettingsOverrides } from '../core/settings';
import { withTransaction } from './pool';
import { FINISHED_STATUSES, type RunStatus } from './runs';

/** A run's row as the operator commands see it (status, pause, abort, set). */
export interface RunView {
  readonly runId: string;
  readonly job: string;
  readonly status: RunStatus;
  readonly reason: string | null;
  readonly settings: RunSettings;
  readonly plannedItems: number | null;
  readonly lastHealth: HealthReport | null;
  /** The controller's latest decision (batch size, action, waits). */
  readonly control: (ControlState & { readonly health?: unknown }) | null;
  readonly executions: readonly string[];
  readonly paused: boolean;
  readonly abortRequested: boolean;
  readonly knobs: RunSettingsOverrides;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
}

const COLUMNS = `run_id, job, status, reason, settings, planned_items, last_health, control, executions, paused, abort_requested, knobs, created_at, updated_at, finished_at`;

function toView(row: Record<string, unknown>): RunView {
  const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : null);
  return {
    runId: row.run_id as string,
    job: row.job as string,
    status: row.status as RunStatus,
    reason: (row.reason as string | null) ?? null,
    settings: row.settings as RunSettings,
    plannedItems: (row.planned_items as number | null) ?? null,
    lastHealth: (row.last_health as HealthReport | null) ?? null,
    control: (row.control as RunView['control']) ?? null,
    executions: (row.executions as string[]) ?? [],
    paused: row.paused as boolean,
    abortRequested: row.abort_requested as boolean,
    knobs: (row.knobs as RunSettingsOverrides) ?? {},
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    finishedAt: iso(row.finished_at),
  };
}

/** Whether the bookkeeping tables exist: a database nothing has run against has no runs to steer. */
export async function hasRunTable(pool: pg.Pool, schema: string): Promise<boolean> {
  const { rows } = await pool.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${quoteIdentifier(schema)}.runs`]);
  return rows[0].ok as boolean;
}

export async function readRun(pool: pg.Pool, schema: string, runId: string): Promise<RunView | undefined> {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM ${quoteIdentifier(schema)}.runs WHERE run_id = $1`, [runId]);
  return rows[0] ? toView(rows[0]) : undefined;
}

/** The runs touched most recently first. */
export async function listRecentRuns(pool: pg.Pool, schema: string, limit: number): Promise<RunView[]> {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM ${quoteIdentifier(schema)}.runs ORDER BY updated_at DESC, run_id LIMIT $1`, [limit]);
  return rows.map(toView);
}

/**
 * Sets or clears the pause flag of a run that has not finished; the next probe reads it. Returns the run as it
 * is now, or undefined when no unfinished run has that id (the caller says which of the two it was).
 */
export async function setPaused(pool: pg.Pool, schema: string, runId: string, paused: boolean): Promise<RunView | undefined> {
  const { rows } = await pool.query(
    `UPDATE ${quoteIdentifier(schema)}.runs SET paused = $2, updated_at = now()
     WHERE run_id = $1 AND status <> ALL($3::text[]) RETURNING ${COLUMNS}`,
    [runId, paused, FINISHED_STATUSES],
  );
  return rows[0] ? toView(rows[0]) : undefined;
}

/**
 * Asks an unfinished run to abort: its next probe decides 'abort'. With `markAborted` (the caller has stopped
 * the execution itself, on AWS) the row says aborted at once, since no probe of that execution will.
 */
export async function requestAbort(pool: pg.Pool, schema: string, runId: string, markAborted: boolean, reason: string): Promise<RunView | undefined> {
  const { rows } = await pool.query(
    `UPDATE ${quoteIdentifier(schema)}.runs
     SET abort_requested = true, updated_at = now(),
         status = CASE WHEN $2::boolean THEN 'aborted' ELSE status END,
         reason = CASE WHEN $2::boolean THEN $3::text ELSE reason END,
         finished_at = CASE WHEN $2::boolean THEN now() ELSE finished_at END
     WHERE run_id = $1 AND status <> ALL($4::text[]) RETURNING ${COLUMNS}`,
    [runId, markAborted, reason, FINISHED_STATUSES],
  );
  return rows[0] ? toView(rows[0]) : undefined;
}

/**
 * Changes a run's live knobs under a row lock, so two operators setting knobs at once cannot lose one's change:
 * `change` sees the run as it is and returns the knobs to store (it may throw to refuse).
 */
export async function updateKnobs(
  pool: pg.Pool,
  schema: string,
  runId: string,
  change: (run: RunView) => RunSettingsOverrides,
): Promise<{ readonly before: RunView; readonly knobs: RunSettingsOverrides } | undefined> {
  const s = quoteIdentifier(schema);
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query(`SELECT ${COLUMNS} FROM ${s}.runs WHERE run_id = $1 FOR UPDATE`, [runId]);
    if (!rows[0]) return undefined;
    const before = toView(rows[0]);
    const knobs = change(before);
    await client.query(`UPDATE ${s}.runs SET knobs = $2::jsonb, updated_at = now() WHERE run_id = $1`, [runId, JSON.stringify(knobs)]);
    return { before, knobs };
  });
}

export interface BatchEntry {
  readonly at: string;
  readonly received: number;
  readonly succeeded: number;
  readonly deadLettered: number;
  readonly rowsAffected: number;
  readonly durationMs: number;
}

/** The run's latest batches (oldest first), for its rate and ETA. */
export async function readRecentBatches(pool: pg.Pool, schema: string, runId: string, limit: number): Promise<BatchEntry[]> {
  const { rows } = await pool.query(
    `SELECT at, data FROM (SELECT id, at, data FROM ${quoteIdentifier(schema)}.history WHERE run_id = $1 AND kind = 'batch' ORDER BY id DESC LIMIT $2) recent ORDER BY id`,
    [runId, limit],
  );
  return rows.map((row) => ({
    at: (row.at as Date).toISOString(),
    received: Number(row.data.received ?? 0),
    succeeded: Number(row.data.succeeded ?? 0),
    deadLettered: Number(row.data.deadLettered ?? 0),
    rowsAffected: Number(row.data.rowsAffected ?? 0),
    durationMs: Number(row.data.durationMs ?? 0),
  }));
}

/**
 * The queue depth the batch processor saw after the run's latest batch (decisions carry the batch before them;
 * the first decision of a continued execution carries none, so the latest one that does).
 */
export async function readLastQueueSeen(pool: pg.Pool, schema: string, runId: string): Promise<{ readonly at: string; readonly visible: number; readonly inFlight: number } | undefined> {
  const { rows } = await pool.query(
    `SELECT at, data->'lastBatch'->'queue' AS queue FROM ${quoteIdentifier(schema)}.history
     WHERE run_id = $1 AND kind = 'decision' AND jsonb_typeof(data->'lastBatch'->'queue') = 'object' ORDER BY id DESC LIMIT 1`,
    [runId],
  );
  const row = rows[0];
  return row ? { at: (row.at as Date).toISOString(), visible: Number(row.queue.visible), inFlight: Number(row.queue.inFlight) } : undefined;
}
