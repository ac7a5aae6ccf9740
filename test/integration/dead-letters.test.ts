import assert from 'node:assert/strict';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { resolveSettings } from '../../core/settings';
import { makeRangeItem, type WorkItem } from '../../core/work-item';
import { readLastFailures } from '../../db/last-failures';
import { upsertRun } from '../../db/runs';
import { ensureBookkeeping } from '../../db/schema';
import { makeBatchProcessorHandler } from '../../lambdas/batch-processor';
import type { RunContext } from '../../lambdas/deps';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { explainDeadLetters } from '../../queue/dead-letter-reasons';
import { countMessages, followRedrive, peekDeadLetters, purgeDeadLetters, startRedrive, type MoveTaskProgress } from '../../queue/dead-letters';
import { deadLetter, sendItems } from '../../queue/work-queue';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { until } from '../support/steering';
import { breakableCounterJob } from '../support/breakable-job';
import { localDeps } from '../support/deps';

const SCHEMA = 'dead_letters_test';

describe('DLQ operations on SQS (real Postgres, local SQS server)', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  let run: RunContext;
  let runSeq = 0;
  /** While true, range 1 is poisoned and range 11's upstream is down; the rest succeed, each exactly once. */
  let broken = true;

  const job = breakableCounterJob(() => broken);
  const handler = () => makeBatchProcessorHandler(localDeps(job, db.pool, queues, { maxReceiveCount: 1, bookkeepingSchema: SCHEMA }))({ run, batchSize: 10, executionId: 'local' });
  const item = (lo: number): WorkItem => makeRangeItem(run.runId, { lo: String(lo), hi: String(lo + 10) });
  const counts = async () => (await db.pool.query<{ n: number; c: string }>('SELECT n, count(*) AS c FROM counted GROUP BY n ORDER BY n')).rows;

  /**
   * Four items end in the DLQ: range 1 (fail: the processor dead-letters it with its reason), range 11 (retried
   * until SQS moves it after maxReceiveCount = 1: no reason on the message), a body that is not JSON, and a
   * duplicate copy of range 21, whose effect is already done.
   */
  async function fillDeadLetterQueue(): Promise<void> {
    await sendItems(queues.sqs, queues.queueUrl, [item(1), item(11), item(21)]);
    await queues.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: 'garbage' }));
    await handler();
    await until('SQS moved range 11 to the DLQ', async () => {
      await handler();
      return (await countMessages(queues.sqs, queues.deadLetterQueueUrl)) === 3;
    });
    await deadLetter(queues.sqs, queues.deadLetterQueueUrl, { Body: JSON.stringify(item(21)), MessageId: 'copy-of-21' }, 'a duplicate copy');
  }

  before(async () => {
    db = await openTestDatabase();
    await ensureBookkeeping(db.pool, SCHEMA);
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
  });
  beforeEach(async () => {
    queues = await startLocalQueues({ maxReceiveCount: 1, visibilityTimeoutSeconds: 30 });
    await db.pool.query('TRUNCATE counted');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 30) g');
    runSeq += 1;
    run = { runId: `dlq-${runSeq}`, jobName: 'counter-code', settings: resolveSettings({}), plannedItems: 3 };
    await upsertRun(db.pool, SCHEMA, run.runId, run.jobName, run.settings);
    broken = true;
    await fillDeadLetterQueue();
  });
  afterEach(() => queues.close());
  after(() => db.close());

  it('lists the count and the items with their reasons, from the message or, for what SQS moved, from the failure audit, without consuming them', async () => {
    // Act
    const count = await countMessages(queues.sqs, queues.deadLetterQueueUrl);
    const letters = await peekDeadLetters(queues.sqs, queues.deadLetterQueueUrl, 10, 0);
    const explained = await explainDeadLetters(letters, (keys) => readLastFailures(db.pool, SCHEMA, keys));
    const again = await peekDeadLetters(queues.sqs, queues.deadLetterQueueUrl, 10, 0);
    const two = await peekDeadLetters(queues.sqs, queues.deadLetterQueueUrl, 2, 0);
    // Assess
    assert.equal(count, 4);
    const shown = explained.map(({ messageId: _id, ...rest }) => rest).sort((a, b) => String(a.dedupeKey).localeCompare(String(b.dedupeKey)));
    assert.deepStrictEqual(shown, [
      { runId: run.runId, dedupeKey: 'range:1-11', reason: 'row 1 is poisoned', reasonFrom: 'message' },
      { runId: run.runId, dedupeKey: 'range:11-21', reason: 'upstream down (attempt 1; moved by SQS after maxReceiveCount receives)', reasonFrom: 'failure audit' },
      { runId: run.runId, dedupeKey: 'range:21-31', reason: 'a duplicate copy', reasonFrom: 'message' },
      { body: 'garbage', reason: 'malformed work item: body is not JSON: "garbage"', reasonFrom: 'message' },
    ]);
    assert.deepStrictEqual([letters.filter((l) => l.movedBySqs).map((l) => l.item?.dedupeKey), again.length, two.length], [['range:11-21'], 4, 2]);
    assert.equal(await countMessages(queues.sqs, queues.deadLetterQueueUrl), 4);
  });

  it('redrives to the work queue at the given rate, reports progress, and the redriven items change every row exactly once', async () => {
    // Prepare
    broken = false;
    const progress: MoveTaskProgress[] = [];
    // Act
    const redrive = await startRedrive(queues.sqs, queues.deadLetterQueueUrl, queues.queueUrl, 2);
    const second = await startRedrive(queues.sqs, queues.deadLetterQueueUrl, queues.queueUrl).catch((e: Error) => e.message);
    const last = await followRedrive(queues.sqs, redrive, { pollMs: 100, onProgress: (p) => progress.push(p) });
    let drained = false;
    await until('the redriven items are processed', async () => {
      drained = (await handler()).drained;
      return drained;
    });
    // Assess
    assert.match(String(second), /^a redrive of this DLQ is already running \(\d of 4 moved\); SQS runs one at a time/);
    assert.deepStrictEqual([last.status, last.moved, last.toMove, last.maxPerSecond], ['COMPLETED', 4, 4, 2]);
    assert.deepStrictEqual([progress.at(0)?.status, progress.at(-1)?.status], ['RUNNING', 'COMPLETED']);
    assert.deepStrictEqual(await counts(), [{ n: 1, c: '30' }]);
    const done = await db.pool.query(`SELECT dedupe_key FROM ${SCHEMA}.done_items WHERE run_id = $1 ORDER BY dedupe_key`, [run.runId]);
    assert.deepStrictEqual(done.rows.map((r) => r.dedupe_key), ['range:1-11', 'range:11-21', 'range:21-31']);
    // The body that is not JSON can never succeed: it is back in the DLQ, with its reason.
    const back = await explainDeadLetters(await peekDeadLetters(queues.sqs, queues.deadLetterQueueUrl, 10, 0));
    assert.deepStrictEqual(back.map((l) => [l.body, l.reason]), [['garbage', 'malformed work item: body is not JSON: "garbage"']]);
  });

  it('purges the DLQ: SQS takes one purge a minute and deletes the messages within it', async (t) => {
    // Act: the local server, like SQS, deletes within 60 s; its timer runs on a mocked clock
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const purged = await purgeDeadLetters(queues.sqs, queues.deadLetterQueueUrl);
    const second = await purgeDeadLetters(queues.sqs, queues.deadLetterQueueUrl).catch((e: Error) => e.message);
    t.mock.timers.tick(60_000);
    t.mock.timers.reset();
    // Assess
    assert.deepStrictEqual([purged, second], [4, 'a purge of the DLQ is already in progress: SQS takes one purge per queue every 60 seconds']);
    assert.equal(await countMessages(queues.sqs, queues.deadLetterQueueUrl), 0);
  });
});
