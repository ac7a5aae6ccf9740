import assert from 'node:assert/strict';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { after, before, describe, it } from 'node:test';
import type { JobDefinition } from '../../core/job';
import { resolveSettings } from '../../core/settings';
import { makeRangeItem } from '../../core/work-item';
import { upsertRun } from '../../db/runs';
import { ensureBookkeeping } from '../../db/schema';
import { makeBatchProcessorHandler } from '../../lambdas/batch-processor';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { queueDepth } from '../../queue/work-queue';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { localDeps } from '../support/deps';

const SCHEMA = 'bad_input_test';
const RUN = { runId: 'bad-input', jobName: 'counter', settings: resolveSettings({}), plannedItems: 3 };
const counterJob: JobDefinition = { name: 'counter', source: { table: 'counted', key: 'id' }, sql: 'UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2' };

describe('bad input in a batch (real Postgres, local SQS)', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  before(async () => {
    db = await openTestDatabase();
    await ensureBookkeeping(db.pool, SCHEMA);
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 30) g');
    await upsertRun(db.pool, SCHEMA, RUN.runId, RUN.jobName, RUN.settings);
    queues = await startLocalQueues({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 });
  });
  after(async () => {
    await queues.close();
    await db.close();
  });

  it('sends each bad item to the DLQ with a reason naming the field, and the rest of the batch carries on', async () => {
    // Prepare: three good ranges between a malformed body, a missing key, keys of the wrong type, and an item a SQL job cannot run
    const good = ['1', '11', '21'].map((lo) => JSON.stringify(makeRangeItem(RUN.runId, { lo, hi: String(Number(lo) + 10) })));
    const bodies = [
      good[0],
      '{"v":1,"runId":"bad-input","dedupeKey":"k1"',
      '{"v":1,"runId":"bad-input","range":{"lo":"1","hi":"2"}}',
      good[1],
      '{"v":1,"runId":"bad-input","dedupeKey":42}',
      '{"v":1,"runId":"bad-input","dedupeKey":"k4","range":{"lo":31,"hi":"41"}}',
      '{"v":1,"runId":["bad-input"],"dedupeKey":"k5"}',
      '{"v":1,"runId":"bad-input","dedupeKey":"k6","payload":{"id":1}}',
      good[2],
    ];
    await queues.sqs.send(new SendMessageBatchCommand({ QueueUrl: queues.queueUrl, Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })) }));
    // Act
    const stats = await makeBatchProcessorHandler(localDeps(counterJob, db.pool, queues, { maxReceiveCount: 3, bookkeepingSchema: SCHEMA }))({ run: RUN, batchSize: 20, executionId: 'local' });
    // Assess
    assert.deepStrictEqual([stats.received, stats.succeeded, stats.deadLettered, stats.retried, stats.rowsAffected], [9, 3, 6, 0, 30]);
    const { rows } = await db.pool.query<{ n: number; c: string }>('SELECT n, count(*) AS c FROM counted GROUP BY n');
    assert.deepStrictEqual(rows, [{ n: 1, c: '30' }]);
    const { Messages = [] } = await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.deadLetterQueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
    const reasons = Messages.map((m) => [m.Body, m.MessageAttributes?.reason?.StringValue]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    assert.deepStrictEqual(reasons, [
      ['{"v":1,"runId":"bad-input","dedupeKey":"k1"', 'malformed work item: body is not JSON: "{\\"v\\":1,\\"runId\\":\\"bad-input\\",\\"dedupeKey\\":\\"k1\\""'],
      ['{"v":1,"runId":"bad-input","dedupeKey":"k4","range":{"lo":31,"hi":"41"}}', 'malformed work item: range.lo must be an integer written as a decimal string, e.g. "1001"; got number 31'],
      ['{"v":1,"runId":"bad-input","dedupeKey":"k6","payload":{"id":1}}', 'a sql job needs items with a key range'],
      ['{"v":1,"runId":"bad-input","dedupeKey":42}', 'malformed work item: dedupeKey must be a non-empty string of at most 512 characters; got number 42'],
      ['{"v":1,"runId":"bad-input","range":{"lo":"1","hi":"2"}}', 'malformed work item: dedupeKey must be a non-empty string of at most 512 characters; missing'],
      ['{"v":1,"runId":["bad-input"],"dedupeKey":"k5"}', 'malformed work item: runId must be a string of letters, digits, _ . : - (at most 80); got array ["bad-input"]'],
    ]);
    const failures = await db.pool.query(`SELECT count(*)::int AS n, bool_and(final) AS final FROM ${SCHEMA}.failures WHERE run_id = $1`, [RUN.runId]);
    assert.deepStrictEqual(failures.rows, [{ n: 6, final: true }]);
    assert.deepStrictEqual(await queueDepth(queues.sqs, queues.queueUrl), { visible: 0, inFlight: 0, delayed: 0 });
  });
});
