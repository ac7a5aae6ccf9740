import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDemoTable } from '../../jobs/demo-table';
import { loadJob } from '../../local/load-job';
import { runLocal, type CompletionEvent, type RunEvent } from '../../local/run-local';
import { asQueryable } from '../../db/pool';
import { openOtherSession, openTestDatabase, type TestDatabase } from '../support/database';

const DEMO = join(import.meta.dirname, '..', '..', 'jobs', 'demo.ts');

describe('the synthesized state machine, run by the embedded runtime', () => {
  let db: TestDatabase;

  /** Runs `fn` while another session runs pg_sleep(seconds), once that query has been running for over a second. */
  async function whileOtherSessionSleeps<T>(seconds: number, fn: () => Promise<T>): Promise<T> {
    const other = await openOtherSession(db.url);
    const slow = other.query('SELECT pg_sleep($1)', [seconds]);
    try {
      // Poll instead of sleeping a fixed time: on a loaded machine the query may start late.
      for (;;) {
        const { rows } = await db.pool.query(`SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'test-traffic'
          AND state = 'active' AND now() - query_start > interval '1.1 seconds') AS ok`);
        if (rows[0].ok) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return await fn();
    } finally {
      await slow;
      await other.end();
    }
  }
  before(async () => {
    db = await openTestDatabase();
  });
  after(() => db.close());

  it('backfills every row through Init, ProbeHealth, ProcessBatch and Finish', async () => {
    // Prepare
    const { job, path } = await loadJob(DEMO);
    const events: RunEvent['type'][] = [];
    let completion: CompletionEvent | undefined;
    // Act
    const summary = await runLocal({
      job,
      jobPath: path,
      databaseUrl: db.url,
      input: { runId: 'e2e-happy', chunkSize: 250 },
      prepare: (q) => createDemoTable(q, 5000),
      onEvent: (event) => {
        events.push(event.type);
        if (event.type === 'completion') completion = event.event;
      },
    });
    // Assess
    const { durationMs, stateTransitions, batches, ...rest } = summary;
    assert.deepStrictEqual(rest, {
      status: 'succeeded',
      runId: 'e2e-happy',
      job: 'demo-lowercase-email',
      itemsPlanned: 20,
      itemsSucceeded: 20,
      rowsAffected: 5000,
      itemsFailed: 0,
      itemsDeadLettered: 0,
      itemsAtLeastOnce: 0,
      lastError: null,
      rowsRemaining: 0,
      waits: [],
      pacedSeconds: 0,
      executions: 1,
    });
    // Init, then per batch ProbeHealth + Decide + ProcessBatch + Drained?, then AnnounceSucceeded and Finish.
    assert.equal(stateTransitions, 1 + 4 * batches + 2);
    assert.ok(durationMs > 0);
    assert.deepStrictEqual([events[0], events[1], events[2], events.at(-3), events.at(-2), events.at(-1)], ['database', 'planned', 'decision', 'batch', 'completion', 'execution']);
    const { finishedAt, executionId, ...detail } = completion!.detail;
    assert.deepStrictEqual([completion!.source, completion!.detailType, detail], ['adaptive-backfill', 'Backfill Run Finished', {
      runId: 'e2e-happy', job: 'demo-lowercase-email', status: 'succeeded', reason: 'drained: 20 items done, 0 dead-lettered', itemsPlanned: 20,
      itemsSucceeded: 20, rowsAffected: 5000, itemsFailed: 0, itemsDeadLettered: 0, itemsAtLeastOnce: 0, lastError: null,
    }]);
    assert.match(executionId, /:execution:local:e2e-happy$/);
    assert.ok(!Number.isNaN(Date.parse(finishedAt)));
    const run = await db.pool.query('SELECT status, planned_items FROM backfill.runs WHERE run_id = $1', ['e2e-happy']);
    assert.deepStrictEqual(run.rows, [{ status: 'succeeded', planned_items: 20 }]);
  });

  it('resumes a finished run by its runId without planning or changing anything again', async () => {
    // Prepare
    const { job, path } = await loadJob(DEMO);
    // Act
    const summary = await runLocal({ job, jobPath: path, databaseUrl: db.url, input: { runId: 'e2e-happy', chunkSize: 250 } });
    // Assess
    assert.deepStrictEqual([summary.status, summary.itemsPlanned, summary.itemsSucceeded, summary.rowsAffected, summary.batches], ['succeeded', 20, 20, 5000, 1]);
  });

  it('backs off while another session runs a long query, then finishes', async () => {
    // Prepare: a 3-second query elsewhere; long queries are critical after 1 s
    const { job, path } = await loadJob(DEMO);
    await createDemoTable(asQueryable(db.pool), 2000);
    // Act
    const summary = await whileOtherSessionSleeps(3, () => runLocal({
      job,
      jobPath: path,
      databaseUrl: db.url,
      input: { runId: 'e2e-backoff', chunkSize: 500, health: { longRunningQueries: { warningSeconds: 0.5, criticalSeconds: 1 } } },
      timeScale: 0.1,
    }));
    // Assess
    assert.deepStrictEqual([summary.status, summary.rowsRemaining, summary.itemsSucceeded], ['succeeded', 0, 4]);
    assert.ok(summary.waits.length >= 1, JSON.stringify(summary.waits));
    assert.match(summary.waits[0].reason, /^longRunningQueries \d+(\.\d)?s \(critical: 1 running longer than 0.5s\)$/);
  });

  it('fails the execution with the reason once the backoff budget is spent', async () => {
    // Prepare
    const { job, path } = await loadJob(DEMO);
    await createDemoTable(asQueryable(db.pool), 1000);
    // Act
    const summary = await whileOtherSessionSleeps(4, () => runLocal({
      job,
      jobPath: path,
      databaseUrl: db.url,
      input: { runId: 'e2e-halt', health: { longRunningQueries: { warningSeconds: 0.5, criticalSeconds: 1 } }, backoff: { baseSeconds: 1, maxSeconds: 2, maxTotalSeconds: 3 } },
      timeScale: 0.05,
    }));
    // Assess
    assert.equal(summary.status, 'failed');
    assert.match(summary.reason ?? '', /^BackfillHalted: backoff budget of 3s spent; still unhealthy: longRunningQueries/);
    assert.equal(summary.itemsSucceeded, 0);
    const run = await db.pool.query('SELECT status FROM backfill.runs WHERE run_id = $1', ['e2e-halt']);
    assert.deepStrictEqual(run.rows, [{ status: 'failed' }]);
  });

  it('rejects bad execution input in Init before any work starts', async () => {
    // Prepare
    const { job, path } = await loadJob(DEMO);
    // Act
    const summary = await runLocal({ job, jobPath: path, databaseUrl: db.url, input: { runId: 'e2e-bad', batch: { minSize: 50, maxSize: 10 } } });
    // Assess
    assert.deepStrictEqual([summary.status, summary.reason, summary.itemsPlanned], ['failed', 'InvalidInputError: batch.minSize: must be <= batch.maxSize (10); got 50', 0]);
  });

  it('continues as new executions every few iterations and still finishes the run once', async () => {
    // Prepare: 20 items, batches of at most 3, a new execution every 2 iterations
    const { job, path } = await loadJob(DEMO);
    await createDemoTable(asQueryable(db.pool), 5000);
    // Act
    const summary = await runLocal({
      job,
      jobPath: path,
      databaseUrl: db.url,
      input: { runId: 'e2e-continue', chunkSize: 250, continueAfter: 2, batch: { initialSize: 3, maxSize: 3 } },
    });
    // Assess: 7 batches of up to 3 items plus the empty batch that sees the queue drained; 2 per execution
    assert.deepStrictEqual(
      [summary.status, summary.itemsSucceeded, summary.rowsAffected, summary.rowsRemaining, summary.batches, summary.executions],
      ['succeeded', 20, 5000, 0, 8, 4],
    );
    const run = await db.pool.query('SELECT executions FROM backfill.runs WHERE run_id = $1', ['e2e-continue']);
    assert.deepStrictEqual(run.rows[0].executions.map((arn: string) => arn.split(':').at(-1)), ['e2e-continue', 'e2e-continue-2', 'e2e-continue-3', 'e2e-continue-4']);
  });
});
