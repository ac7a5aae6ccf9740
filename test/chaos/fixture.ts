import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { ChaosServer } from './server';

/** The suite's own sessions: not `adaptive-backfill...`, so the probe counts them as other traffic (they are idle). */
const APPLICATION_NAME = 'chaos-suite';

/** Runs one statement on a fresh connection (a server that restarts under the suite must not break a pool). */
export async function query<Row extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url, application_name: APPLICATION_NAME, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined); // a connection cut by a restart: the query below rejects with the reason
  await client.connect();
  try {
    return (await client.query<Row>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One trial's database: `chaos_rows (id, touched)` with `rows` rows, every `touched` at 0. */
export async function createTrialDatabase(server: ChaosServer, name: string, rows: number): Promise<string> {
  await query(server.url(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await query(server.url(), `CREATE DATABASE ${name}`);
  const url = server.url(name);
  await query(url, 'CREATE TABLE chaos_rows (id bigint PRIMARY KEY, touched int NOT NULL DEFAULT 0, payload text NOT NULL)');
  await query(url, `INSERT INTO chaos_rows (id, payload) SELECT g, g::text FROM generate_series(1, $1::int) g`, [rows]);
  return url;
}

export async function dropTrialDatabase(server: ChaosServer, name: string): Promise<void> {
  await query(server.url(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

export interface RowCounts {
  readonly rows: number;
  /** touched = 1 */
  readonly once: number;
  /** touched = 0: never changed */
  readonly lost: number;
  /** touched > 1: changed more than once */
  readonly doubled: number;
}

/** How often each row was changed; `where` narrows it to some rows (e.g. those the trial expects changed). */
export async function rowCounts(url: string, where = 'true', params: unknown[] = []): Promise<RowCounts> {
  const [row] = await query<{ rows: string; once: string; lost: string; doubled: string }>(url, `SELECT count(*) AS rows,
    count(*) FILTER (WHERE touched = 1) AS once, count(*) FILTER (WHERE touched = 0) AS lost, count(*) FILTER (WHERE touched > 1) AS doubled
    FROM chaos_rows WHERE ${where}`, params);
  return { rows: Number(row.rows), once: Number(row.once), lost: Number(row.lost), doubled: Number(row.doubled) };
}

export interface RunProgress {
  /** The run's row exists. */
  readonly recorded: boolean;
  /** planned_items, once planning has finished. */
  readonly planned: number | null;
  /** Work items recorded so far (planning writes them a group at a time). */
  readonly items: number;
  readonly done: number;
}

/** Where a run is, from its bookkeeping; zeros before the schema exists or while the server is away. */
export async function runProgress(url: string, runId: string): Promise<RunProgress> {
  try {
    const [row] = await query<{ recorded: boolean; planned: number | null; items: string; done: string }>(url, `SELECT
      EXISTS (SELECT 1 FROM backfill.runs WHERE run_id = $1) AS recorded,
      (SELECT planned_items FROM backfill.runs WHERE run_id = $1) AS planned,
      (SELECT count(*) FROM backfill.items WHERE run_id = $1) AS items,
      (SELECT count(*) FROM backfill.done_items WHERE run_id = $1) AS done`, [runId]);
    return { recorded: row.recorded, planned: row.planned, items: Number(row.items), done: Number(row.done) };
  } catch {
    return { recorded: false, planned: null, items: 0, done: 0 };
  }
}

/** Where a kill landed, named from the run's progress at that moment. */
export function phaseOf(progress: RunProgress): 'start-up' | 'planning' | 'processing' | 'finishing' {
  if (!progress.recorded) return 'start-up';
  if (progress.planned === null) return 'planning';
  return progress.done < progress.planned ? 'processing' : 'finishing';
}

/** Polls until `ok` holds (true) or `timeoutMs` passes (false). */
export async function waitFor(ok: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok()) return true;
    await sleep(everyMs);
  }
  return false;
}

/** Waits until the run has done at least `share` of its planned items (false if it never gets there in time). */
export function waitForShareDone(url: string, runId: string, share: number, timeoutMs: number): Promise<boolean> {
  return waitFor(async () => {
    const p = await runProgress(url, runId);
    return p.planned !== null && p.planned > 0 && p.done >= p.planned * share;
  }, timeoutMs, 50);
}
