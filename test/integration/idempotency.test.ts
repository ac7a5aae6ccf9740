import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { CodeJobDefinition, JobContext } from '../../core/job';
import { resolveSettings } from '../../core/settings';
import { makeRangeItem } from '../../core/work-item';
import { upsertRun } from '../../db/runs';
import { ensureBookkeeping } from '../../db/schema';
import { makeBatchProcessorHandler } from '../../lambdas/batch-processor';
import type { HandlerDeps, RunContext } from '../../lambdas/deps';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { sendItems } from '../../queue/work-queue';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { deferred, until } from '../support/steering';
import { localDeps } from '../support/deps';

const SCHEMA = 'idempotency_test';
const settings = resolveSettings({ chunkSize: 10 });
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:local:idempotency';

describe('exactly-once effects of code jobs through ctx.withTransaction (real Postgres, local SQS)', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  let run: RunContext;
  let runSeq = 0;

  const deps = (job: CodeJobDefinition): HandlerDeps => localDeps(job, db.pool, queues, { maxReceiveCount: 5, bookkeepingSchema: SCHEMA });
  const counts = async () => (await db.pool.query<{ n: number; rows: string }>('SELECT n, count(*) AS rows FROM counted GROUP BY n ORDER BY n')).rows;
  const increment = (tx: Parameters<Parameters<JobContext['withTransaction']>[1]>[0], lo: unknown, hi: unknown) =>
    tx.query('UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2', [lo, hi]).then((r) => r.rowCount ?? 0);

  before(async () => {
    db = await openTestDatabase();
    await ensureBookkeeping(db.pool, SCHEMA);
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
  });
  beforeEach(async () => {
    // A visibility timeout of 1 s: a message held longer by a slow batch is delivered again meanwhile.
    queues = await startLocalQueues({ maxReceiveCount: 5, visibilityTimeoutSeconds: 1 });
    await db.pool.query('TRUNCATE counted');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 100) g');
    runSeq += 1;
    run = { runId: `idem-${runSeq}`, jobName: 'counter-code', settings, plannedItems: 10 };
    await upsertRun(db.pool, SCHEMA, run.runId, 'counter-code', settings);
  });
  afterEach(() => queues.close());
  after(() => db.close());

  it('changes every row exactly once when every message is sent twice and redelivered to a second processor in the middle of a batch', async () => {
    // Prepare: 10 ranges of 10 rows, every message sent twice. Processor A takes all 20 and stops inside its 5th
    // effect, its dedupe key claimed but not committed, until processor B has received the same messages again
    // (A's visibility timeout expired) and is waiting on that claim.
    const items = Array.from({ length: 10 }, (_, i) => makeRangeItem(run.runId, { lo: String(i * 10 + 1), hi: String(i * 10 + 11) }));
    await sendItems(queues.sqs, queues.queueUrl, [...items, ...items]);
    const aHolds = deferred();
    const gate = deferred();
    let processCalls = 0;
    let effectsOfA = 0;
    const job: CodeJobDefinition = {
      name: 'counter-code',
      async process(batch, ctx) {
        const call = ++processCalls;
        const outcomes = [];
        for (const item of batch) {
          outcomes.push(await ctx.withTransaction(item, async (tx) => {
            if (call === 1 && ++effectsOfA === 5) {
              aHolds.resolve();
              await gate.promise;
            }
            return increment(tx, item.range!.lo, item.range!.hi);
          }));
        }
        return outcomes;
      },
    };
    const handler = makeBatchProcessorHandler(deps(job));
    // Act
    const a = handler({ run, batchSize: 20, executionId: EXECUTION });
    await aHolds.promise;
    // B long-polls: it receives A's messages once A's visibility timeout (1 s) has expired.
    let bFinished = false;
    const b = makeBatchProcessorHandler({ ...deps(job), receiveWaitSeconds: 20 })({ run, batchSize: 20, executionId: EXECUTION }).finally(() => {
      bFinished = true;
    });
    await until('B waits on the dedupe key A holds', async () => {
      if (bFinished) throw new Error('B finished its batch without ever waiting on the dedupe key A holds');
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%done_items%'`);
      return rows[0].n > 0;
    });
    gate.resolve();
    const [resultA, resultB] = await Promise.all([a, b]);
    const last = await handler({ run, batchSize: 20, executionId: EXECUTION });
    // Assess
    assert.deepStrictEqual(await counts(), [{ n: 1, rows: '100' }]);
    assert.deepStrictEqual([processCalls, resultA.received, resultA.succeeded, resultB.received, resultB.succeeded], [2, 20, 20, 20, 20]);
    assert.deepStrictEqual([resultA.rowsAffected + resultB.rowsAffected, last.received, last.drained], [100, 0, true]);
    const done = await db.pool.query(`SELECT count(*)::int AS items, sum(rows_affected)::int AS rows FROM ${SCHEMA}.done_items WHERE run_id = $1`, [run.runId]);
    assert.deepStrictEqual(done.rows, [{ items: 10, rows: 100 }]);
    assert.deepStrictEqual([last.outcome?.itemsSucceeded, last.outcome?.rowsAffected, last.outcome?.itemsFailed], [10, 100, 0]);
  });

  it('rolls the claim back with a failed effect, so the retry applies it once; withItemTransaction is the same function', async () => {
    // Prepare: the effect on the first range throws once after changing its rows
    const items = [makeRangeItem(run.runId, { lo: '1', hi: '11' }), makeRangeItem(run.runId, { lo: '11', hi: '21' })];
    await sendItems(queues.sqs, queues.queueUrl, [...items, ...items]);
    let thrown = false;
    const aliases: boolean[] = [];
    const job: CodeJobDefinition = {
      name: 'counter-code',
      async process(batch, ctx) {
        aliases.push(ctx.withItemTransaction === ctx.withTransaction);
        return Promise.all(batch.map((item) => ctx.withTransaction(item, async (tx) => {
          const rows = await increment(tx, item.range!.lo, item.range!.hi);
          if (item.range!.lo === '1' && !thrown) {
            thrown = true;
            throw new Error('connection reset after the update');
          }
          return rows;
        }).catch((error: Error) => ({ status: 'retry' as const, reason: error.message }))));
      },
    };
    const handler = makeBatchProcessorHandler(deps(job));
    // Act: the retried message comes back after its delay (1 s)
    const first = await handler({ run, batchSize: 10, executionId: EXECUTION });
    let drained = false;
    await until('the queue is drained', async () => {
      drained = (await handler({ run, batchSize: 10, executionId: EXECUTION })).drained;
      return drained;
    });
    // Assess
    assert.equal(first.received, 4);
    assert.deepStrictEqual([thrown, drained, aliases.every(Boolean)], [true, true, true]);
    assert.deepStrictEqual(await counts(), [{ n: 0, rows: '80' }, { n: 1, rows: '20' }]);
  });
});
