import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchStats } from '../../core/controller';
import { loadJob } from '../../local/load-job';
import { runLocal } from '../../local/run-local';
import { openOtherSession, openTestDatabase, type TestDatabase } from '../support/database';

const COUNTER = join(import.meta.dirname, '..', 'fixtures', 'counter-job.ts');
const ROWS = 60_000;

describe('steering inside the batch (latency sampler, duty cycle)', () => {
  let db: TestDatabase;

  before(async () => {
    db = await openTestDatabase();
  });
  after(() => db.close());

  it('stops a batch within one statement when another session locks the job\'s table mid-batch, hands its untouched items back uncharged, and finishes exactly once', async () => {
    // Prepare: 120 items of 500 rows, batches of 40; another session will lock the table once the first item is done
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query(`INSERT INTO counted (id) SELECT g FROM generate_series(1, ${ROWS}) g`);
    const { job, path } = await loadJob(COUNTER);
    const other = await openOtherSession(db.url);
    let markStopped: (stats: BatchStats) => void = () => undefined;
    const stoppedBatch = new Promise<BatchStats>((resolve) => { markStopped = resolve; });
    const batches: BatchStats[] = [];
    let locked = false;
    const locker = (async () => {
      // Poll (bounded) for the first item done: the run is in its first batch.
      for (let i = 0; i < 6000; i += 1) {
        const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_catalog.pg_tables WHERE schemaname = 'backfill' AND tablename = 'done_items'`);
        if (rows[0].n === 1 && (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM backfill.done_items WHERE run_id = 'latency-lock'`)).rows[0].n >= 1) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await other.query('BEGIN');
      await other.query('LOCK TABLE counted IN ACCESS EXCLUSIVE MODE');
      locked = true;
      await stoppedBatch;
      await other.query('COMMIT');
    })();
    // Act
    const summary = await runLocal({
      job,
      jobPath: path,
      databaseUrl: db.url,
      input: { runId: 'latency-lock', chunkSize: 500, batch: { initialSize: 40, maxSize: 40 }, latency: { enabled: true } },
      timeScale: 0.05,
      onEvent: (event) => {
        if (event.type !== "batch") return;
        batches.push(event.stats);
        if (event.stats.latency?.stopped) markStopped(event.stats);
      },
    });
    await locker;
    await other.end();
    // Assess: every row changed once, nothing failed, nothing dead-lettered
    const counts = await db.pool.query<{ n: number; rows: string }>('SELECT n, count(*) AS rows FROM counted GROUP BY n');
    assert.deepStrictEqual(counts.rows, [{ n: 1, rows: String(ROWS) }]);
    assert.deepStrictEqual([summary.status, summary.itemsSucceeded, summary.itemsDeadLettered, summary.rowsRemaining, locked], ['succeeded', 120, 0, 0, true]);
    // The stopped batch: each item it received either committed or went back untouched; none was retried or failed.
    const stopped = await stoppedBatch;
    const handedBack = stopped.latency!.stopped!.handedBack;
    assert.match(stopped.latency!.stopped!.reason, /^lockWaits: /);
    assert.deepStrictEqual([stopped.retried, stopped.deadLettered, stopped.succeeded + handedBack, handedBack > 0], [0, 0, stopped.received, true]);
    // No retry was charged: no failure recorded, and no item was received more often than hand-backs explain.
    const failures = await db.pool.query(`SELECT count(*)::int AS n FROM backfill.failures WHERE run_id = 'latency-lock'`);
    assert.deepStrictEqual(failures.rows, [{ n: 0 }]);
    assert.deepStrictEqual(batches.reduce((sum, b) => sum + b.retried, 0), 0);
    // The decision after it says why it waited.
    assert.ok(summary.waits.some((w) => w.reason.startsWith('the last batch stopped: lockWaits: ')), JSON.stringify(summary.waits));
    // Every batch that ran statements reported its duty cycle and a reason with the signal in it.
    const steered = batches.filter((b) => b.received > 0);
    assert.ok(steered.every((b) => b.latency !== undefined && /commit latency [\d.]+ ms vs (baseline [\d.]+ ms|[\d.]+ ms while pausing)|^stop: /.test(b.latency.state.reason)), JSON.stringify(steered.map((b) => b.latency?.state.reason)));
  });
});
