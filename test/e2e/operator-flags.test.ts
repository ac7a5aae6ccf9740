import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadJob } from '../../local/load-job';
import { runLocal, type CompletionEvent } from '../../local/run-local';
import { openTestDatabase, type TestDatabase } from '../support/database';

const COUNTER = join(import.meta.dirname, '..', 'fixtures', 'counter-job.ts');

/** Rows by how many times they were changed, e.g. { '0': 1200, '1': 1800 }. */
async function changes(db: TestDatabase): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ n: number; c: string }>('SELECT n, count(*) AS c FROM counted GROUP BY n ORDER BY n');
  return Object.fromEntries(rows.map((r) => [String(r.n), Number(r.c)]));
}

describe('operator flags read by every probe (embedded runtime)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await openTestDatabase();
  });
  after(() => db.close());

  const resetCounted = async (rows: number) => {
    await db.pool.query('DROP TABLE IF EXISTS counted');
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, $1::int) g', [rows]);
  };

  it('aborts at the next probe, announces it, and a restart under the same runId finishes from what is done', async () => {
    // Prepare: 30 items of 100 rows, 2 per batch; the abort flag is set after the third batch
    await resetCounted(3000);
    const { job, path } = await loadJob(COUNTER);
    const input = { runId: 'abort-then-resume', chunkSize: 100, batch: { initialSize: 2, maxSize: 2 } };
    let batches = 0;
    const completions: CompletionEvent[] = [];
    // Act
    const aborted = await runLocal({
      job,
      jobPath: path,
      databaseUrl: db.url,
      input,
      onEvent: async (event) => {
        if (event.type === 'completion') completions.push(event.event);
        if (event.type === 'batch' && ++batches === 3) await db.pool.query(`UPDATE backfill.runs SET abort_requested = true WHERE run_id = 'abort-then-resume'`);
      },
    });
    const afterAbort = await changes(db);
    const resumed = await runLocal({ job, jobPath: path, databaseUrl: db.url, input, onEvent: (event) => void (event.type === 'completion' && completions.push(event.event)) });
    // Assess
    assert.deepStrictEqual([aborted.status, aborted.reason], ['aborted', 'BackfillAborted: aborted by the operator']);
    assert.equal(aborted.itemsSucceeded, 6);
    assert.deepStrictEqual(afterAbort, { '0': 3000 - aborted.itemsSucceeded * 100, '1': aborted.itemsSucceeded * 100 });
    assert.deepStrictEqual([resumed.status, resumed.itemsSucceeded, resumed.rowsRemaining, resumed.itemsPlanned], ['succeeded', 30, 0, 30]);
    assert.deepStrictEqual(await changes(db), { '1': 3000 });
    assert.deepStrictEqual(completions.map((c) => [c.detail.status, c.detail.itemsSucceeded]), [['aborted', aborted.itemsSucceeded], ['succeeded', 30]]);
    const run = await db.pool.query(`SELECT status, abort_requested, cardinality(executions) AS executions FROM backfill.runs WHERE run_id = 'abort-then-resume'`);
    assert.deepStrictEqual(run.rows, [{ status: 'succeeded', abort_requested: false, executions: 2 }]);
  });

  it('waits while paused without receiving anything, and goes on when resumed', async () => {
    // Prepare: pause after the second batch; resume after two pause decisions
    await resetCounted(1000);
    const { job, path } = await loadJob(COUNTER);
    let batches = 0;
    let pauses = 0;
    const actions: string[] = [];
    const flag = (paused: boolean) => db.pool.query(`UPDATE backfill.runs SET paused = $1 WHERE run_id = 'pause-resume'`, [paused]);
    // Act
    const summary = await runLocal({
      job,
      jobPath: path,
      databaseUrl: db.url,
      input: { runId: 'pause-resume', chunkSize: 100, pausePollSeconds: 1, batch: { initialSize: 1, maxSize: 1 } },
      timeScale: 0.05,
      onEvent: async (event) => {
        if (event.type === 'batch' && ++batches === 2) await flag(true);
        if (event.type === 'decision') {
          actions.push(event.control.action);
          if (event.control.action === 'pause' && ++pauses === 2) await flag(false);
        }
      },
    });
    // Assess
    assert.deepStrictEqual([summary.status, summary.itemsSucceeded, summary.rowsRemaining], ['succeeded', 10, 0]);
    assert.deepStrictEqual(summary.waits, [{ seconds: 1, reason: 'paused by the operator' }, { seconds: 1, reason: 'paused by the operator' }]);
    assert.deepStrictEqual(actions.slice(0, 5), ['proceed', 'proceed', 'pause', 'pause', 'proceed']);
    assert.deepStrictEqual(await changes(db), { '1': 1000 });
    const { rows } = await db.pool.query(`SELECT data->>'action' AS action, count(*)::int AS n FROM backfill.history WHERE run_id = 'pause-resume' AND kind = 'decision' GROUP BY 1 ORDER BY 1`);
    assert.deepStrictEqual(rows, [{ action: 'pause', n: 2 }, { action: 'proceed', n: 11 }]);
  });
});
