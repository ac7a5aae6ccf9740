import assert from 'node:assert/strict';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { CodeJobDefinition, JobDefinition } from '../../core/job';
import { resolveSettings } from '../../core/settings';
import { makeRangeItem } from '../../core/work-item';
import { upsertRun } from '../../db/runs';
import { ensureBookkeeping } from '../../db/schema';
import { makeBatchProcessorHandler, settleMarginMs } from '../../lambdas/batch-processor';
import { DEADLINE_REASON } from '../../lambdas/run-job';
import type { HandlerDeps, RunContext } from '../../lambdas/deps';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { queueDepth, sendItems } from '../../queue/work-queue';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { recordingTelemetry } from '../support/telemetry';
import { localDeps } from '../support/deps';

const SCHEMA = 'bookkeeping_test';
const settings = resolveSettings({ chunkSize: 10 });
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:local:test';

/** Adds 1 to every row of the range: run twice, a row would show 2. */
const counterJob: JobDefinition = {
  name: 'counter',
  source: { table: 'counted', key: 'id' },
  sql: 'UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2',
};

describe('batch processor (real Postgres, local SQS)', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  let runSeq = 0;
  let run: RunContext;

  const deps = (job: JobDefinition): HandlerDeps => localDeps(job, db.pool, queues, { maxReceiveCount: 3, bookkeepingSchema: SCHEMA });

  const deadLetters = async () => {
    const { Messages = [] } = await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.deadLetterQueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
    return Messages.map((m) => ({ body: m.Body, reason: m.MessageAttributes?.reason?.StringValue }));
  };

  before(async () => {
    db = await openTestDatabase();
    await ensureBookkeeping(db.pool, SCHEMA);
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
  });
  beforeEach(async () => {
    queues = await startLocalQueues({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 });
    await db.pool.query('TRUNCATE counted');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 100) g');
    runSeq += 1;
    run = { runId: `run-${runSeq}`, jobName: 'counter', settings, plannedItems: 10 };
    await upsertRun(db.pool, SCHEMA, run.runId, 'counter', settings);
  });
  afterEach(() => queues.close());
  after(() => db.close());

  it('changes each row exactly once when every message is delivered twice', async () => {
    // Prepare: 10 ranges of 10 rows, each sent twice
    const items = Array.from({ length: 10 }, (_, i) => makeRangeItem(run.runId, { lo: String(i * 10 + 1), hi: String(i * 10 + 11) }));
    await sendItems(queues.sqs, queues.queueUrl, [...items, ...items]);
    const handler = makeBatchProcessorHandler(deps(counterJob));
    // Act
    const first = await handler({ run, batchSize: 7, executionId: EXECUTION });
    const rest = await handler({ run, batchSize: 50, executionId: EXECUTION });
    const last = await handler({ run, batchSize: 50, executionId: EXECUTION });
    // Assess
    const { rows } = await db.pool.query<{ n: number; rows: string }>('SELECT n, count(*) AS rows FROM counted GROUP BY n');
    assert.deepStrictEqual(rows, [{ n: 1, rows: '100' }]);
    assert.deepStrictEqual([first.received, first.succeeded, rest.received, rest.succeeded, first.rowsAffected + rest.rowsAffected], [7, 7, 13, 13, 100]);
    const { finishedAt, ...outcome } = last.outcome!;
    assert.deepStrictEqual([last.received, last.drained, outcome], [0, true, {
      runId: run.runId, job: 'counter', status: 'succeeded', reason: 'drained: 10 items done, 0 dead-lettered', itemsPlanned: 10,
      itemsSucceeded: 10, rowsAffected: 100, itemsFailed: 0, itemsDeadLettered: 0, itemsAtLeastOnce: 0, lastError: null, executionId: EXECUTION,
    }]);
    assert.ok(!Number.isNaN(Date.parse(finishedAt)));
  });

  it('changes each row exactly once when two processors take the duplicates of the same items at the same time', async () => {
    // Prepare: every range twice; two concurrent batches, so duplicates meet in flight
    const items = Array.from({ length: 10 }, (_, i) => makeRangeItem(run.runId, { lo: String(i * 10 + 1), hi: String(i * 10 + 11) }));
    await sendItems(queues.sqs, queues.queueUrl, [...items, ...items]);
    const handler = makeBatchProcessorHandler(deps(counterJob));
    // Act
    const [a, b] = await Promise.all([handler({ run, batchSize: 10, executionId: EXECUTION }), handler({ run, batchSize: 10, executionId: EXECUTION })]);
    const last = await handler({ run, batchSize: 10, executionId: EXECUTION });
    // Assess
    const { rows } = await db.pool.query<{ n: number; rows: string }>('SELECT n, count(*) AS rows FROM counted GROUP BY n');
    assert.deepStrictEqual(rows, [{ n: 1, rows: '100' }]);
    assert.deepStrictEqual([a.received + b.received, a.succeeded + b.succeeded, a.rowsAffected + b.rowsAffected, last.drained], [20, 20, 100, true]);
  });

  it('sends a malformed message to the DLQ with its reason and carries on with the rest', async () => {
    // Prepare
    await sendItems(queues.sqs, queues.queueUrl, [makeRangeItem(run.runId, { lo: '1', hi: '11' })]);
    await queues.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: '{"v":1,"runId":"x","dedupeKey":"k","range":{"lo":"9","hi":"2"}}' }));
    await queues.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: 'garbage' }));
    // Act
    const stats = await makeBatchProcessorHandler(deps(counterJob))({ run, batchSize: 10, executionId: EXECUTION });
    // Assess
    assert.deepStrictEqual([stats.received, stats.succeeded, stats.deadLettered, stats.rowsAffected], [3, 1, 2, 10]);
    const dlq = (await deadLetters()).map((m) => m.reason).sort();
    assert.deepStrictEqual(dlq, ['malformed work item: body is not JSON: "garbage"', 'malformed work item: range.lo must be < range.hi; got [9, 2)']);
    const { rows } = await db.pool.query(`SELECT error, final FROM ${SCHEMA}.failures WHERE run_id = $1 ORDER BY error`, [run.runId]);
    assert.deepStrictEqual(rows, [
      { error: 'malformed work item: body is not JSON: "garbage"', final: true },
      { error: 'malformed work item: range.lo must be < range.hi; got [9, 2)', final: true },
    ]);
    assert.deepStrictEqual(await queueDepth(queues.sqs, queues.queueUrl), { visible: 0, inFlight: 0, delayed: 0 });
  });

  it('settles code-job outcomes per item: ok is deleted, retry comes back later, fail goes to the DLQ', async () => {
    // Prepare
    const job: CodeJobDefinition = {
      name: 'mixed',
      process: async (items) => items.map((item) => {
        const lo = Number(item.range!.lo);
        if (lo === 1) return { status: 'ok', rowsAffected: 3 };
        if (lo === 11) return { status: 'retry', reason: 'upstream busy' };
        return { status: 'fail', reason: 'row 21 is poisoned' };
      }),
    };
    await sendItems(queues.sqs, queues.queueUrl, ['1', '11', '21'].map((lo) => makeRangeItem(run.runId, { lo, hi: String(Number(lo) + 10) })));
    // Act
    const stats = await makeBatchProcessorHandler(deps(job))({ run, batchSize: 10, executionId: EXECUTION });
    // Assess
    assert.deepStrictEqual([stats.received, stats.succeeded, stats.retried, stats.deadLettered, stats.rowsAffected, stats.drained], [3, 1, 1, 1, 3, false]);
    assert.deepStrictEqual(await queueDepth(queues.sqs, queues.queueUrl), { visible: 1, inFlight: 1, delayed: 0 });
    assert.deepStrictEqual((await deadLetters()).map((m) => m.reason), ['row 21 is poisoned']);
    const { rows } = await db.pool.query(`SELECT dedupe_key, attempt, error, final FROM ${SCHEMA}.failures WHERE run_id = $1 ORDER BY dedupe_key`, [run.runId]);
    assert.deepStrictEqual(rows, [
      { dedupe_key: 'range:11-21', attempt: 1, error: 'upstream busy', final: false },
      { dedupe_key: 'range:21-31', attempt: 1, error: 'row 21 is poisoned', final: true },
    ]);
  });

  it('retries a range whose statement fails, leaving the other ranges done', async () => {
    // Prepare: the statement divides by zero on row 15 only
    const job: JobDefinition = { ...counterJob, name: 'divides', sql: 'UPDATE counted SET n = n + 1 / (CASE WHEN id = 15 THEN 0 ELSE 1 END) WHERE id >= $1 AND id < $2' };
    await sendItems(queues.sqs, queues.queueUrl, [makeRangeItem(run.runId, { lo: '1', hi: '11' }), makeRangeItem(run.runId, { lo: '11', hi: '21' })]);
    // Act
    const stats = await makeBatchProcessorHandler(deps(job))({ run, batchSize: 10, executionId: EXECUTION });
    // Assess
    assert.deepStrictEqual([stats.succeeded, stats.retried, stats.rowsAffected], [1, 1, 10]);
    const { rows } = await db.pool.query<{ n: number; c: string }>('SELECT n, count(*) AS c FROM counted WHERE id <= 20 GROUP BY n ORDER BY n');
    assert.deepStrictEqual(rows, [{ n: 0, c: '10' }, { n: 1, c: '10' }]);
    const failures = await db.pool.query(`SELECT dedupe_key, error, stack LIKE 'error: division by zero%' AS has_stack FROM ${SCHEMA}.failures WHERE run_id = $1`, [run.runId]);
    assert.deepStrictEqual(failures.rows, [{ dedupe_key: 'range:11-21', error: 'division by zero', has_stack: true }]);
  });

  it('records an ok without withTransaction done after the fact, and does not run it again on a later delivery', async () => {
    // Prepare: a job that changes its rows on ctx.db directly; the item is delivered twice
    const job: CodeJobDefinition = {
      name: 'no-transaction',
      process: async (items, ctx) => Promise.all(items.map(async (item) => ({ status: 'ok' as const, rowsAffected: (await ctx.db.query('UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2', [item.range!.lo, item.range!.hi])).rowCount ?? 0 }))),
    };
    const item = makeRangeItem(run.runId, { lo: '1', hi: '11' });
    await sendItems(queues.sqs, queues.queueUrl, [item]);
    const handler = makeBatchProcessorHandler(deps(job));
    // Act
    const first = await handler({ run, batchSize: 10, executionId: EXECUTION });
    await sendItems(queues.sqs, queues.queueUrl, [item]);
    const second = await handler({ run, batchSize: 10, executionId: EXECUTION });
    // Assess
    assert.deepStrictEqual([first.succeeded, first.rowsAffected, second.succeeded, second.rowsAffected], [1, 10, 1, 0]);
    const { rows } = await db.pool.query(`SELECT dedupe_key, rows_affected::int AS rows, at_least_once FROM ${SCHEMA}.done_items WHERE run_id = $1`, [run.runId]);
    assert.deepStrictEqual(rows, [{ dedupe_key: 'range:1-11', rows: 10, at_least_once: true }]);
    const counted = await db.pool.query('SELECT n, count(*)::int AS rows FROM counted GROUP BY n ORDER BY n');
    assert.deepStrictEqual(counted.rows, [{ n: 0, rows: 90 }, { n: 1, rows: 10 }]);
  });

  it('isolates the poison item when a code job throws for its batch: only it is charged, with its own error', async () => {
    // Prepare: ten ranges done one after another; the job throws naming its batch's span when it meets range 31-41
    const job: CodeJobDefinition = {
      name: 'throws-for-the-batch',
      process: async (items, ctx) => {
        const outcomes = [];
        for (const item of items) {
          if (item.range!.lo === '31') throw new Error(`boom in ${items[0].range!.lo}-${items.at(-1)!.range!.hi}`);
          outcomes.push(await ctx.withTransaction(item, async (tx) => (await tx.query('UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2', [item.range!.lo, item.range!.hi])).rowCount ?? 0));
        }
        return outcomes;
      },
    };
    await sendItems(queues.sqs, queues.queueUrl, Array.from({ length: 10 }, (_, i) => makeRangeItem(run.runId, { lo: String(i * 10 + 1), hi: String(i * 10 + 11) })));
    // Act
    const stats = await makeBatchProcessorHandler(deps(job))({ run, batchSize: 10, executionId: EXECUTION });
    // Assess: nine done exactly once (the first three twice tried, a no-op), the poison one charged alone
    assert.deepStrictEqual([stats.received, stats.succeeded, stats.retried, stats.deadLettered, stats.rowsAffected, stats.error], [10, 9, 1, 0, 90, undefined]);
    assert.deepStrictEqual(stats.lastError, { error: 'boom in 31-41', dedupeKey: 'range:31-41', items: 1 });
    const { rows } = await db.pool.query(`SELECT dedupe_key, attempt, error, final FROM ${SCHEMA}.failures WHERE run_id = $1`, [run.runId]);
    assert.deepStrictEqual(rows, [{ dedupe_key: 'range:31-41', attempt: 1, error: 'boom in 31-41', final: false }]);
    const counted = await db.pool.query('SELECT n, count(*)::int AS rows FROM counted GROUP BY n ORDER BY n');
    assert.deepStrictEqual(counted.rows, [{ n: 0, rows: 10 }, { n: 1, rows: 90 }]);
  });

  it('dead-letters a malformed message with its reason even when the job throws, and charges each good item its own try', async () => {
    // Prepare: two good items, a malformed body and an item of another run, for a job that always throws
    const job: CodeJobDefinition = { name: 'crashes', process: async () => { throw new Error('out of memory'); } };
    await sendItems(queues.sqs, queues.queueUrl, [makeRangeItem(run.runId, { lo: '1', hi: '11' }), makeRangeItem('older-run', { lo: '1', hi: '11' }), makeRangeItem(run.runId, { lo: '11', hi: '21' })]);
    await queues.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: 'garbage' }));
    // Act
    const stats = await makeBatchProcessorHandler(deps(job))({ run, batchSize: 10, executionId: EXECUTION });
    // Assess: only the two items of this run are left in the queue, each retried after failing on its own
    assert.deepStrictEqual([stats.received, stats.succeeded, stats.retried, stats.deadLettered], [4, 0, 2, 1]); // the foreign item is counted apart
    const foreign = `belongs to run older-run, not ${run.runId} (the run executing); redrive it when run older-run runs again`;
    assert.deepStrictEqual((await deadLetters()).map((m) => m.reason).sort(), [foreign, 'malformed work item: body is not JSON: "garbage"']);
    const { rows } = await db.pool.query(`SELECT run_id, dedupe_key, error, final FROM ${SCHEMA}.failures WHERE run_id IN ($1, 'older-run') ORDER BY run_id, error, dedupe_key`, [run.runId]);
    assert.deepStrictEqual(rows, [
      { run_id: 'older-run', dedupe_key: 'range:1-11', error: foreign, final: true },
      { run_id: run.runId, dedupe_key: null, error: 'malformed work item: body is not JSON: "garbage"', final: true },
      { run_id: run.runId, dedupe_key: 'range:1-11', error: 'out of memory', final: false },
      { run_id: run.runId, dedupe_key: 'range:11-21', error: 'out of memory', final: false },
    ]);
    assert.deepStrictEqual(stats.lastError, { error: 'out of memory', dedupeKey: 'range:11-21', items: 2 });
    // (local-aws-sqs counts a hidden message as visible too)
    assert.deepStrictEqual(await queueDepth(queues.sqs, queues.queueUrl), { visible: 2, inFlight: 2, delayed: 0 });
    const { Messages = [] } = await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
    const again = Messages.length < 2 ? (await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }))).Messages ?? [] : [];
    assert.deepStrictEqual([...Messages, ...again].map((m) => JSON.parse(m.Body!).dedupeKey).sort(), ['range:1-11', 'range:11-21']);
  });

  it('hands a throwing batch it could not split before the deadline back uncharged, and says so', async () => {
    // Prepare: the job throws after 800 ms; the invocation has 1.5 s left, so the deadline is 0.5 s away
    const job: CodeJobDefinition = { name: 'slow-then-throws', process: async () => { await new Promise((resolve) => setTimeout(resolve, 800)); throw new Error('out of memory'); } };
    const { telemetry, logs, flushed } = recordingTelemetry();
    await sendItems(queues.sqs, queues.queueUrl, [makeRangeItem(run.runId, { lo: '1', hi: '11' }), makeRangeItem(run.runId, { lo: '11', hi: '21' })]);
    const invokedAt = Date.now();
    // Act
    const stats = await makeBatchProcessorHandler({ ...deps(job), telemetry })({ run, batchSize: 10, executionId: EXECUTION }, { getRemainingTimeInMillis: () => invokedAt + 1500 - Date.now() });
    // Assess: no failure recorded, the batch reports its error (the controller shrinks the next), fresh copies are back
    const error = 'job slow-then-throws did not finish its batch before the deadline; its items go back uncharged and the next batch is smaller';
    assert.deepStrictEqual([stats.received, stats.succeeded, stats.retried, stats.deadLettered, stats.error], [2, 0, 0, 0, error]);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.failures WHERE run_id = $1`, [run.runId]);
    assert.deepStrictEqual(rows, [{ n: 0 }]);
    const { Messages = [] } = await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10, AttributeNames: ['All'] }));
    assert.deepStrictEqual(Messages.map((m) => [JSON.parse(m.Body!).dedupeKey, m.Attributes?.ApproximateReceiveCount]).sort(), [['range:1-11', '1'], ['range:11-21', '1']]);
    assert.deepStrictEqual(logs.filter((l) => l.level === 'error').map((l) => [l.message, l.fields?.items, l.fields?.error]), [['batch failed', 2, error]]);
    assert.deepStrictEqual(flushed.flat().filter((m) => m.name === 'BatchesFailed'), [{ name: 'BatchesFailed', unit: 'Count', value: 1 }]);
  });

  it('stops at the deadline from the invocation\'s remaining time: the running range is charged, the ranges not reached come back uncharged', async () => {
    // Prepare: each range sleeps 1.5 s; the invocation has 2 s left, so the deadline is 1 s away
    const job: JobDefinition = { ...counterJob, name: 'slow', sql: 'UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2 AND pg_sleep(1.5) IS NOT NULL' };
    await sendItems(queues.sqs, queues.queueUrl, ['1', '11', '21'].map((lo) => makeRangeItem(run.runId, { lo, hi: String(Number(lo) + 10) })));
    const invokedAt = Date.now();
    // Act
    const stats = await makeBatchProcessorHandler(deps(job))({ run, batchSize: 10, executionId: EXECUTION }, { getRemainingTimeInMillis: () => invokedAt + 2000 - Date.now() });
    // Assess: the first range had the whole invocation and is charged; the two not reached are fresh copies
    assert.equal(settleMarginMs(2000), 1000);
    assert.deepStrictEqual([stats.received, stats.succeeded, stats.retried, stats.rowsAffected], [3, 0, 1, 0]);
    const { rows } = await db.pool.query(`SELECT dedupe_key, error, final FROM ${SCHEMA}.failures WHERE run_id = $1`, [run.runId]);
    assert.deepStrictEqual(rows, [{ dedupe_key: 'range:1-11', error: DEADLINE_REASON, final: false }]);
    const counted = await db.pool.query('SELECT sum(n)::int AS n FROM counted');
    assert.deepStrictEqual(counted.rows, [{ n: 0 }]);
    const { Messages = [] } = await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10, AttributeNames: ['All'] }));
    assert.deepStrictEqual(Messages.map((m) => [JSON.parse(m.Body!).dedupeKey, m.Attributes?.ApproximateReceiveCount]).sort(), [['range:11-21', '1'], ['range:21-31', '1']]);
  });
});
