import type pg from 'pg';
import { createDemoTable } from '../jobs/demo-table';
import { asQueryable } from '../db/pool';
import { loadJob } from '../local/load-job';
import type { ExecutionInput } from '../core/execution-input';
import { runLocal, type RunEvent } from '../local/run-local';

const UPDATE = 'UPDATE demo_items SET email_lower = lower(email) WHERE email_lower IS DISTINCT FROM lower(email)';

export interface Measured {
  readonly seconds: number;
  readonly detail?: Record<string, number>;
}

/** Recreates the same table for every variant and checkpoints, so each starts from identical data and a clean WAL. */
export async function resetTable(pool: pg.Pool, rows: number): Promise<void> {
  await createDemoTable(asQueryable(pool), rows);
  await pool.query('CHECKPOINT');
}

export async function remainingRows(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM demo_items WHERE email_lower IS DISTINCT FROM lower(email)');
  return Number(rows[0].n);
}

/** (a) one set-based statement. */
export async function setBased(pool: pg.Pool): Promise<Measured> {
  const started = performance.now();
  await pool.query(UPDATE);
  return { seconds: (performance.now() - started) / 1000 };
}

/** (b) the loop people write by hand: keyset over id, 10,000-row statements, each its own transaction, no checks. */
export async function handBatched(pool: pg.Pool, batchRows = 10_000): Promise<Measured> {
  const started = performance.now();
  let lo: string | null = (await pool.query<{ lo: string | null }>('SELECT min(id)::text AS lo FROM demo_items')).rows[0].lo;
  let statements = 0;
  while (lo !== null) {
    const next = await pool.query<{ k: string }>('SELECT id::text AS k FROM demo_items WHERE id >= $1 ORDER BY id OFFSET $2 LIMIT 1', [lo, batchRows]);
    const hi = next.rows[0]?.k ?? null;
    await pool.query(`${UPDATE} AND id >= $1${hi === null ? '' : ' AND id < $2'}`, hi === null ? [lo] : [lo, hi]);
    statements += 1;
    lo = hi;
  }
  return { seconds: (performance.now() - started) / 1000, detail: { statements } };
}

/** (c) adaptive-backfill through the full local loop: synthesized machine, local SQS, probe before every batch. */
export async function adaptive(
  databaseUrl: string,
  chunkSize: number,
  jobPath: string,
  input: Omit<ExecutionInput, 'job'> = {},
  onEvent?: (event: RunEvent) => void,
): Promise<Measured> {
  const loaded = await loadJob(jobPath);
  // Without remaining(): the runner would scan the whole table after the run, inside the timing; the benchmark
  // checks the rows itself afterwards, outside it, as it does for the other variants.
  const { remaining: _remaining, ...job } = loaded.job;
  const path = loaded.path;
  let plannedAt = 0;
  const started = performance.now();
  const summary = await runLocal({
    job,
    jobPath: path,
    databaseUrl,
    input: { ...input, chunkSize },
    onEvent: (event) => {
      if (event.type === 'planned') plannedAt = performance.now();
      onEvent?.(event);
    },
  });
  const finished = performance.now();
  if (summary.status !== 'succeeded') throw new Error(`adaptive run failed: ${summary.reason}`);
  return {
    seconds: (finished - started) / 1000,
    detail: {
      setupAndPlanSeconds: (plannedAt - started) / 1000,
      loopSeconds: (finished - plannedAt) / 1000,
      batches: summary.batches,
      items: summary.itemsSucceeded,
      stateTransitions: summary.stateTransitions,
    },
  };
}
