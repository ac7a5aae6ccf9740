import assert from 'node:assert/strict';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { after, before, describe, it } from 'node:test';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { countMessages } from '../../queue/dead-letters';
import { backfillWith as backfill, localSqsEnv } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';

const PRODUCER = 'test/fixtures/producer-job.ts';

describe('backfill enqueue', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  before(async () => {
    db = await openTestDatabase();
    await db.pool.query('CREATE TABLE produced (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO produced (id) SELECT g FROM generate_series(1, 5) g');
    queues = await startLocalQueues({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 });
  });
  after(async () => {
    await queues.close();
    await db.close();
  });

  it('--local records the items, and the next run of a producer-only job processes each once', async () => {
    // Prepare: five items (one sent twice, one with the runId written out), for a job with no source
    const lines = [1, 2, 3, 4, 5].map((id) => JSON.stringify({ dedupeKey: `welcome:${id}`, payload: { id: String(id) } }));
    const input = [...lines, lines[0], '', '{"v":1,"runId":"produced-1","dedupeKey":"welcome:3","payload":{"id":"3"}}'].join('\n');
    // Act
    const enqueue = await backfill(['enqueue', '--local', '--database-url', db.url, '--run-id', 'produced-1'], { input });
    const run = await backfill(['run', '--local', '--job', PRODUCER, '--database-url', db.url, '--run-id', 'produced-1', '--json']);
    const again = await backfill(['run', '--local', '--job', PRODUCER, '--database-url', db.url, '--run-id', 'produced-1', '--json']);
    // Assess
    assert.deepStrictEqual([enqueue.code, enqueue.stdout], [0,
      'recorded 5 items for run produced-1 (2 already recorded under the same dedupe key); the next `backfill run --local --job PATH --run-id ID` processes them\n']);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout);
    assert.deepStrictEqual([summary.status, summary.itemsPlanned, summary.itemsSucceeded, summary.rowsAffected, summary.rowsRemaining], ['succeeded', 0, 5, 5, 0]);
    assert.deepStrictEqual([again.code, JSON.parse(again.stdout).rowsAffected], [0, 5]);
    const { rows } = await db.pool.query('SELECT n, count(*)::int AS c FROM produced GROUP BY n');
    assert.deepStrictEqual(rows, [{ n: 1, c: 5 }]);
  });

  it('enqueues nothing when any line is bad, and names every bad line and field', async () => {
    // Prepare
    const input = ['{"dedupeKey":"a","payload":{"id":"1"}}', '{"dedupeKey":5}', 'not json', '{"runId":"other","dedupeKey":"b"}'].join('\n');
    // Act
    const local = await backfill(['enqueue', '--local', '--database-url', db.url, '--run-id', 'produced-2'], { input });
    const aws = await backfill(['enqueue', '--queue-url', queues.queueUrl, '--run-id', 'produced-2'], { input, env: localSqsEnv(queues.endpoint) });
    const badRunId = await backfill(['enqueue', '--run-id', 'has space', '--queue-url', queues.queueUrl], { input: '{"dedupeKey":"a"}' });
    // Assess
    const reason = 'backfill: stdin: 3 bad lines, nothing was enqueued: line 2: dedupeKey must be a non-empty string of at most 512 characters; got number 5; ' +
      'line 3: is not JSON: "not json"; line 4: runId "other" differs from --run-id "produced-2"';
    assert.deepStrictEqual([local.code, local.stderr.trim()], [1, reason]);
    assert.deepStrictEqual([aws.code, aws.stderr.trim()], [1, reason]);
    assert.deepStrictEqual([badRunId.code, badRunId.stderr.split('\n')[0]], [1, 'backfill: --run-id: must be letters, digits, _ . : - (at most 80); got "has space"']);
    const recorded = await db.pool.query(`SELECT to_regclass('backfill.items') IS NULL OR NOT EXISTS (SELECT 1 FROM backfill.items WHERE run_id = 'produced-2') AS none`);
    assert.deepStrictEqual([recorded.rows[0].none, await countMessages(queues.sqs, queues.queueUrl)], [true, 0]);
  });

  it('on AWS sends every item to the work queue as the message schema', async () => {
    // Prepare
    const input = '{"dedupeKey":"range:1-11","range":{"lo":"1","hi":"11"}}\n{"v":1,"runId":"aws-produced","dedupeKey":"user:7","payload":{"id":"7"}}\n';
    // Act
    const result = await backfill(['enqueue', '--queue-url', queues.queueUrl, '--run-id', 'aws-produced', '--json'], { input, env: localSqsEnv(queues.endpoint) });
    // Assess
    assert.deepStrictEqual([result.code, JSON.parse(result.stdout)], [0, { enqueued: 2, runIds: ['aws-produced'] }]);
    const { Messages = [] } = await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10 }));
    assert.deepStrictEqual(Messages.map((m) => m.Body).sort(), [
      '{"v":1,"runId":"aws-produced","dedupeKey":"range:1-11","range":{"lo":"1","hi":"11"}}',
      '{"v":1,"runId":"aws-produced","dedupeKey":"user:7","payload":{"id":"7"}}',
    ]);
  });
});
