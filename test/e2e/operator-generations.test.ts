import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { loadJob } from '../../local/load-job';
import { runLocal } from '../../local/run-local';
import { backfillInProcess, type CliResult } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';

const COUNTER = join(import.meta.dirname, '..', 'fixtures', 'counter-job.ts');

interface Decision {
  readonly generation: number;
  readonly action: string;
  readonly batchSize: number;
}

describe('operator commands on a run that continues as new executions (embedded runtime, steered from onEvent)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await openTestDatabase();
  });
  beforeEach(async () => {
    await db.pool.query('DROP TABLE IF EXISTS counted');
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 3000) g');
  });
  after(() => db.close());

  it('a knob set mid-run takes effect at the next probe and survives every generation change after it', async () => {
    // Prepare: 30 items, 3 per batch, 3 iterations per execution; after the second batch the operator caps batches at 1
    const { job, path } = await loadJob(COUNTER);
    const decisions: Decision[] = [];
    let batches = 0;
    let set: CliResult | undefined;
    let decisionsBeforeSet = 0;
    // Act
    const summary = await runLocal({
      job,
      jobPath: path,
      databaseUrl: db.url,
      input: { runId: 'gen-knob', chunkSize: 100, continueAfter: 3, batch: { initialSize: 3, maxSize: 3 } },
      onEvent: async (event) => {
        if (event.type === 'decision') decisions.push({ generation: event.control.generation, action: event.control.action, batchSize: event.control.batchSize });
        if (event.type === 'batch' && ++batches === 2) {
          decisionsBeforeSet = decisions.length;
          set = await backfillInProcess('set', 'gen-knob', 'batch.maxSize=1', 'batch.initialSize=1', '--database-url', db.url);
        }
      },
    });
    // Assess: the set, and every decision after it
    assert.deepStrictEqual([set?.code, set?.stdout], [0, 'run gen-knob: live knobs batch.maxSize=1 batch.initialSize=1 (read by its next probe)\n  batch.maxSize: 3 -> 1\n  batch.initialSize: 3 -> 1\n']);
    const before = decisions.slice(0, decisionsBeforeSet);
    const afterSet = decisions.slice(decisionsBeforeSet);
    assert.deepStrictEqual(before, [{ generation: 1, action: 'proceed', batchSize: 3 }, { generation: 1, action: 'proceed', batchSize: 3 }]);
    assert.deepStrictEqual([...new Set(afterSet.filter((d) => d.action === 'proceed').map((d) => d.batchSize))], [1]);
    const generations = [...new Set(afterSet.map((d) => d.generation))];
    assert.deepStrictEqual(generations, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Assess: the run
    assert.deepStrictEqual([summary.status, summary.itemsSucceeded, summary.rowsRemaining, summary.executions], ['succeeded', 30, 0, 9]);
    const { rows } = await db.pool.query(`SELECT knobs, cardinality(executions) AS executions FROM backfill.runs WHERE run_id = 'gen-knob'`);
    assert.deepStrictEqual(rows, [{ knobs: { batch: { maxSize: 1, initialSize: 1 } }, executions: 9 }]);
    const sizes = await db.pool.query(`SELECT (data->>'received')::int AS received FROM backfill.history WHERE run_id = 'gen-knob' AND kind = 'batch' ORDER BY id`);
    assert.deepStrictEqual(sizes.rows.map((r) => r.received), [3, 3, ...Array(24).fill(1)]);
  });

  it('a pause holds across a generation change, status shows it, and resume lets the run finish', async () => {
    // Prepare: 10 items, 2 per batch, 2 iterations per execution; paused after the first batch
    await db.pool.query('DELETE FROM counted WHERE id > 1000');
    const { job, path } = await loadJob(COUNTER);
    const decisions: Decision[] = [];
    const commands: CliResult[] = [];
    let status: CliResult | undefined;
    let batches = 0;
    // Act
    const summary = await runLocal({
      job,
      jobPath: path,
      databaseUrl: db.url,
      input: { runId: 'gen-pause', chunkSize: 100, continueAfter: 2, pausePollSeconds: 1, batch: { initialSize: 2, maxSize: 2 } },
      timeScale: 0.01,
      onEvent: async (event) => {
        if (event.type === 'batch' && ++batches === 1) commands.push(await backfillInProcess('pause', 'gen-pause', '--database-url', db.url));
        if (event.type !== 'decision') return;
        decisions.push({ generation: event.control.generation, action: event.control.action, batchSize: event.control.batchSize });
        if (event.control.action === 'pause' && event.control.generation === 2 && status === undefined) {
          status = await backfillInProcess('status', 'gen-pause', '--database-url', db.url, '--json');
          commands.push(await backfillInProcess('resume', 'gen-pause', '--database-url', db.url));
        }
      },
    });
    // Assess
    assert.deepStrictEqual(commands.map((c) => [c.code, c.stdout.split('.')[0]]), [[0, 'run gen-pause: paused'], [0, 'run gen-pause: resumed']]);
    assert.deepStrictEqual(decisions.slice(0, 4), [
      { generation: 1, action: 'proceed', batchSize: 2 },
      { generation: 1, action: 'pause', batchSize: 2 },
      { generation: 1, action: 'continue', batchSize: 2 },
      { generation: 2, action: 'pause', batchSize: 2 },
    ]);
    const report = JSON.parse(status!.stdout);
    const { at: queueSeenAt, ...queue } = report.queue;
    assert.ok(Date.parse(queueSeenAt) > 0);
    assert.deepStrictEqual(
      [report.status, report.paused, report.progress, report.batchSize, report.decision, queue, report.executions.count, report.etaSeconds, report.health.verdict],
      ['paused', true, { items: 10, done: 2, deadLettered: 0, outstanding: 8, percent: 20, rows: 200 }, 2, { action: 'pause', reason: 'paused by the operator' }, { source: 'last-batch', visible: 8, inFlight: 0 }, 2, null, 'ok'],
    );
    assert.deepStrictEqual([summary.status, summary.itemsSucceeded, summary.rowsRemaining], ['succeeded', 10, 0]);
    const { rows } = await db.pool.query<{ n: number; c: string }>('SELECT n, count(*) AS c FROM counted GROUP BY n');
    assert.deepStrictEqual(rows, [{ n: 1, c: '1000' }]);
  });
});
