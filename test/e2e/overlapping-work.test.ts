import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeRangeItem } from '../../core/work-item';
import { makeBatchProcessorHandler } from '../../lambdas/batch-processor';
import { makeInitRunHandler } from '../../lambdas/init-run';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { countMessages } from '../../queue/dead-letters';
import { queueDepth, sendItems } from '../../queue/work-queue';
import { backfillWith as backfill, localSqsEnv } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { localDeps } from '../support/deps';

const COUNTER = 'test/fixtures/counter-job.ts';
const line = (key: string, lo: number, hi: number) => JSON.stringify({ dedupeKey: key, range: { lo: String(lo), hi: String(hi) } });

describe('overlapping work is never applied twice (the backfill command as child processes, real Postgres, local SQS)', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  const query = async <R>(sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows as R[];
  const changes = () => query('SELECT n, count(*)::int AS c FROM counted GROUP BY n ORDER BY n');
  /** Pairs of the run's recorded items whose ranges share a key: none may exist. */
  const overlappingPairs = (runId: string) => query(
    `SELECT a.dedupe_key AS a, b.dedupe_key AS b FROM backfill.items a JOIN backfill.items b ON a.run_id = b.run_id AND a.dedupe_key < b.dedupe_key
     AND (a.body->'range'->>'lo')::numeric < (b.body->'range'->>'hi')::numeric AND (b.body->'range'->>'lo')::numeric < (a.body->'range'->>'hi')::numeric
     WHERE a.run_id = $1`, [runId]);
  before(async () => {
    db = await openTestDatabase();
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 2000) g');
    queues = await startLocalQueues({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 });
  });
  after(async () => {
    await queues.close();
    await db.close();
  });

  it('producer items overlapping a run\'s planned ranges are refused with the overlapping keys, locally and on AWS; nothing is enqueued', async () => {
    // Prepare: a run planned and done, 20 ranges of 100 rows
    const run = await backfill(['run', '--local', '--job', COUNTER, '--database-url', db.url, '--run-id', 'planned', '--chunk-size', '100']);
    const input = [line('fix:50-150', 50, 150), line('extra:5000-5100', 5000, 5100)].join('\n');
    // Act
    const local = await backfill(['enqueue', '--local', '--database-url', db.url, '--run-id', 'planned'], { input });
    const aws = await backfill(['enqueue', '--queue-url', queues.queueUrl, '--database-url', db.url, '--run-id', 'planned'], { input, env: localSqsEnv(queues.endpoint) });
    const again = await backfill(['run', '--local', '--job', COUNTER, '--database-url', db.url, '--run-id', 'planned', '--json']);
    // Assess
    assert.equal(run.code, 0, run.stderr);
    const refusal = 'backfill: stdin: 1 item overlaps work already recorded for the run, nothing was enqueued (an overlapping range would change its rows twice): fix:50-150 [50, 150) overlaps range:1-101 [1, 101)';
    assert.deepStrictEqual([local.code, local.stderr.trim()], [1, refusal]);
    assert.deepStrictEqual([aws.code, aws.stderr.trim(), await countMessages(queues.sqs, queues.queueUrl)], [1, refusal, 0]);
    assert.deepStrictEqual(await query(`SELECT count(*)::int AS c FROM backfill.items WHERE run_id = 'planned'`), [{ c: 20 }]);
    assert.deepStrictEqual([again.code, JSON.parse(again.stdout).rowsAffected], [0, 2000]);
    assert.deepStrictEqual(await changes(), [{ n: 1, c: 2000 }]);
  });

  it('planning leaves out the keys that producer items enqueued before it cover, and overlapping lines are refused together', async () => {
    // Prepare
    await db.pool.query('UPDATE counted SET n = 0');
    const overlappingLines = [line('a:1-300', 1, 300), line('b:250-400', 250, 400)].join('\n');
    // Act
    const refused = await backfill(['enqueue', '--local', '--database-url', db.url, '--run-id', 'mixed'], { input: overlappingLines });
    const enqueue = await backfill(['enqueue', '--local', '--database-url', db.url, '--run-id', 'mixed'], { input: [line('p:1-251', 1, 251), line('p:1001-1051', 1001, 1051)].join('\n') });
    const run = await backfill(['run', '--local', '--job', COUNTER, '--database-url', db.url, '--run-id', 'mixed', '--chunk-size', '100', '--json']);
    // Assess
    assert.deepStrictEqual([refused.code, refused.stderr.trim()], [1,
      'backfill: stdin: 2 items overlap work already recorded for the run, nothing was enqueued (an overlapping range would change its rows twice): a:1-300 [1, 300) overlaps b:250-400 [250, 400); b:250-400 [250, 400) overlaps a:1-300 [1, 300)']);
    assert.equal(enqueue.code, 0, enqueue.stderr);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout);
    const [{ c: recorded }] = await query<{ c: number }>(`SELECT count(*)::int AS c FROM backfill.items WHERE run_id = 'mixed'`);
    assert.deepStrictEqual([summary.status, summary.itemsSucceeded, summary.itemsDeadLettered, summary.rowsAffected], ['succeeded', recorded, 0, 2000]);
    assert.deepStrictEqual(await overlappingPairs('mixed'), []);
    assert.deepStrictEqual(await query(`SELECT dedupe_key FROM backfill.items WHERE run_id = 'mixed' AND (body->'range'->>'lo')::numeric < 260 ORDER BY (body->'range'->>'lo')::numeric`),
      [{ dedupe_key: 'p:1-251' }, { dedupe_key: 'range:251-301' }]);
    assert.deepStrictEqual(await changes(), [{ n: 1, c: 2000 }]);
  });

  it('an item sent straight to SQS that overlaps work already done is refused at processing time, with its own reason', async () => {
    // Prepare: a run's 10 planned items done through the handlers the Lambdas run
    await db.pool.query('UPDATE counted SET n = 0');
    const deps = localDeps({ name: 'counter', source: { table: 'counted', key: 'id' }, sql: 'UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2' }, db.pool, queues, { maxReceiveCount: 3, bookkeepingSchema: 'backfill' });
    const executionId = 'arn:aws:states:us-east-1:111122223333:execution:Backfill:direct';
    const { run } = await makeInitRunHandler(deps)({ input: { job: 'counter', runId: 'direct', chunkSize: 200 }, executionName: 'direct', executionId });
    const process = makeBatchProcessorHandler(deps);
    let last = await process({ run, batchSize: 50, executionId });
    while (!last.drained) last = await process({ run, batchSize: 50, executionId });
    // Act: a producer sends ranges straight to the queue, around every check but the item transaction's
    await sendItems(queues.sqs, queues.queueUrl, [{ v: 1, runId: 'direct', dedupeKey: 'late:150-250', range: { lo: '150', hi: '250' } }, makeRangeItem('direct', { lo: '2001', hi: '2101' })]);
    const batch = await process({ run, batchSize: 50, executionId });
    // Assess
    assert.deepStrictEqual([batch.received, batch.succeeded, batch.deadLettered], [2, 1, 1]);
    assert.deepStrictEqual(await query(`SELECT error, final FROM backfill.failures WHERE run_id = 'direct'`), [{
      error: 'overlaps work already done for run direct: late:150-250 [150, 250) overlaps range:201-401 [201, 401); refused, so no row is changed twice', final: true,
    }]);
    assert.deepStrictEqual(await changes(), [{ n: 1, c: 2000 }]);
    assert.deepStrictEqual(await queueDepth(queues.sqs, queues.queueUrl), { visible: 0, inFlight: 0, delayed: 0 });
  });
});
