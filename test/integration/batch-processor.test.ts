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
      itemsSucceeded: 10, rowsAffected: 100, itemsFailed: 0, itemsDeadLettered: 0, executionId: EXECUTION,
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

  it('fails the whole batch when the job throws, releasing its items for another try', async () => {
    // Prepare
    const job: CodeJobDefinition = { name: 'crashes', process: async () => { throw new Error('out of memory'); } };
    await sendItems(queues.sqs, queues.queueUrl, [makeRangeItem(run.runId, { lo: '1', hi: '11' })]);
    // Act
    const error = await makeBatchProcessorHandler(deps(job))({ run, batchSize: 10, executionId: EXECUTION }).catch((e: Error) => e);
    // Assess
    assert.deepStrictEqual([(error as Error).name, (error as Error).message], ['BatchFailedError', 'batch of 1 items failed: out of memory']);
    const { rows } = await db.pool.query(`SELECT attempt, error, final, stack IS NOT NULL AS has_stack FROM ${SCHEMA}.failures WHERE run_id = $1`, [run.runId]);
    assert.deepStrictEqual(rows, [{ attempt: 1, error: 'out of memory', final: false, has_stack: true }]);
    assert.deepStrictEqual(await queueDepth(queues.sqs, queues.queueUrl), { visible: 1, inFlight: 1, delayed: 0 });
  });

  it('dead-letters a malformed message with its reason even when the job crashes, and releases the good items', async () => {
    // Prepare: two good items, a malformed body and an item of another run, for a job that throws
    const job: CodeJobDefinition = { name: 'crashes', process: async () => { throw new Error('out of memory'); } };
    await sendItems(queues.sqs, queues.queueUrl, [makeRangeItem(run.runId, { lo: '1', hi: '11' }), makeRangeItem('older-run', { lo: '1', hi: '11' }), makeRangeItem(run.runId, { lo: '11', hi: '21' })]);
    await queues.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: 'garbage' }));
    // Act
    const error = await makeBatchProcessorHandler(deps(job))({ run, batchSize: 10, executionId: EXECUTION }).catch((e: Error) => e);
    // Assess: the job's error is thrown; only the two good items are left in the queue, released for another try
    assert.deepStrictEqual([(error as Error).name, (error as Error).message], ['BatchFailedError', 'batch of 2 items failed: out of memory']);
    const foreign = `belongs to run older-run, not ${run.runId} (the run executing); redrive it when run older-run runs again`;
    assert.deepStrictEqual((await deadLetters()).map((m) => m.reason).sort(), [foreign, 'malformed work item: body is not JSON: "garbage"']);
    const { rows } = await db.pool.query(`SELECT run_id, dedupe_key, error, final FROM ${SCHEMA}.failures WHERE run_id IN ($1, 'older-run') ORDER BY run_id, error, dedupe_key`, [run.runId]);
    assert.deepStrictEqual(rows, [
      { run_id: 'older-run', dedupe_key: 'range:1-11', error: foreign, final: true },
      { run_id: run.runId, dedupe_key: null, error: 'malformed work item: body is not JSON: "garbage"', final: true },
      { run_id: run.runId, dedupe_key: 'range:1-11', error: 'out of memory', final: false },
      { run_id: run.runId, dedupe_key: 'range:11-21', error: 'out of memory', final: false },
    ]);
    // (local-aws-sqs counts a hidden message as visible too)
    assert.deepStrictEqual(await queueDepth(queues.sqs, queues.queueUrl), { visible: 2, inFlight: 2, delayed: 0 });
    const { Messages = [] } = await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
    const again = Messages.length < 2 ? (await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }))).Messages ?? [] : [];
    assert.deepStrictEqual([...Messages, ...again].map((m) => JSON.parse(m.Body!).dedupeKey).sort(), ['range:1-11', 'range:11-21']);
  });

  it('throws the job\'s own error when settling the failed batch fails too, and logs the cleanup\'s error', async () => {
    // Prepare: a job that takes the failures table away, then throws; so recording its failures fails
    const job: CodeJobDefinition = {
      name: 'crashes-and-breaks',
      process: async (_items, ctx) => {
        await ctx.db.query(`ALTER TABLE ${SCHEMA}.failures RENAME TO failures_away`);
        throw new Error('out of memory');
      },
    };
    const { telemetry, logs } = recordingTelemetry();
    await sendItems(queues.sqs, queues.queueUrl, [makeRangeItem(run.runId, { lo: '1', hi: '11' })]);
    // Act
    const error = await makeBatchProcessorHandler({ ...deps(job), telemetry })({ run, batchSize: 10, executionId: EXECUTION }).catch((e: Error) => e);
    await db.pool.query(`ALTER TABLE ${SCHEMA}.failures_away RENAME TO failures`);
    // Assess: the job's error is thrown (with its cause), the cleanup's is logged, and the item was still released
    assert.deepStrictEqual([(error as Error).name, (error as Error).message, ((error as Error).cause as Error | undefined)?.message], ['BatchFailedError', 'batch of 1 items failed: out of memory', 'out of memory']);
    assert.deepStrictEqual(logs.map((l) => [l.level, l.message, l.fields?.step, l.fields?.error]), [
      ['error', 'batch failed', undefined, 'out of memory'],
      ['error', 'settling the failed batch failed', 'recording its failures', `relation "${SCHEMA}.failures" does not exist`],
    ]);
    assert.deepStrictEqual(await queueDepth(queues.sqs, queues.queueUrl), { visible: 1, inFlight: 1, delayed: 0 });
  });

  it('stops at the deadline from the invocation\'s remaining time: the running range is cancelled, the rest come back', async () => {
    // Prepare: each range sleeps 1.5 s; the invocation has 2 s left, so the deadline is 1 s away
    const job: JobDefinition = { ...counterJob, name: 'slow', sql: 'UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2 AND pg_sleep(1.5) IS NOT NULL' };
    await sendItems(queues.sqs, queues.queueUrl, ['1', '11', '21'].map((lo) => makeRangeItem(run.runId, { lo, hi: String(Number(lo) + 10) })));
    const invokedAt = Date.now();
    // Act
    const stats = await makeBatchProcessorHandler(deps(job))({ run, batchSize: 10, executionId: EXECUTION }, { getRemainingTimeInMillis: () => invokedAt + 2000 - Date.now() });
    // Assess
    assert.equal(settleMarginMs(2000), 1000);
    assert.deepStrictEqual([stats.received, stats.succeeded, stats.retried, stats.rowsAffected], [3, 0, 3, 0]);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n, min(error) AS error, bool_or(final) AS final FROM ${SCHEMA}.failures WHERE run_id = $1`, [run.runId]);
    assert.deepStrictEqual(rows, [{ n: 3, error: DEADLINE_REASON, final: false }]);
    const counted = await db.pool.query('SELECT sum(n)::int AS n FROM counted');
    assert.deepStrictEqual(counted.rows, [{ n: 0 }]);
  });
});
