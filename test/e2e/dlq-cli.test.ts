import assert from 'node:assert/strict';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { after, before, describe, it } from 'node:test';
import { resolveSettings } from '../../core/settings';
import { makeRangeItem } from '../../core/work-item';
import { upsertRun } from '../../db/runs';
import { ensureBookkeeping } from '../../db/schema';
import { makeBatchProcessorHandler } from '../../lambdas/batch-processor';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { countMessages } from '../../queue/dead-letters';
import { sendItems } from '../../queue/work-queue';
import { backfillWith as backfill, localSqsEnv } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { until } from '../support/steering';
import { breakableCounterJob } from '../support/breakable-job';
import { localDeps } from '../support/deps';

const POISONABLE = 'test/fixtures/poisonable-job.ts';

describe('backfill dlq', () => {
  let db: TestDatabase;
  before(async () => {
    db = await openTestDatabase();
  });
  after(() => db.close());

  const resetCounted = async (rows: number, poisoned: readonly number[]) => {
    await db.pool.query('DROP TABLE IF EXISTS counted');
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0, poisoned boolean NOT NULL DEFAULT false)');
    await db.pool.query('INSERT INTO counted (id, poisoned) SELECT g, g = ANY($2::int[]) FROM generate_series(1, $1::int) g', [rows, poisoned]);
  };
  const changes = async () => {
    const { rows } = await db.pool.query<{ n: number; c: string }>('SELECT n, count(*) AS c FROM counted GROUP BY n ORDER BY n');
    return Object.fromEntries(rows.map((r) => [String(r.n), Number(r.c)]));
  };

  it('rejects bad input with a one-line reason naming the flag, before any work', async () => {
    // Act
    const results = await Promise.all([
      backfill(['dlq', 'purge', '--dlq-url', 'http://127.0.0.1:1/q']),
      backfill(['dlq']),
      backfill(['dlq', 'drain']),
      backfill(['dlq', 'list', '--rate', '3']),
      backfill(['dlq', 'redrive', '--rate', '501']),
      backfill(['dlq', 'list']),
      backfill(['dlq', 'redrive', '--local', '--rate', '5', '--database-url', db.url, '--run-id', 'r1']),
      backfill(['dlq', 'list', '--local', '--run-id', 'r1']),
      backfill(['dlq', 'list', '--local', '--database-url', db.url]),
      backfill(['dlq', 'list', '--dlq-url', 'http://127.0.0.1:1/q', '--run-id', 'r1']),
    ]);
    // Assess
    assert.deepStrictEqual(results.map((r) => [r.code, r.stderr.split('\n')[0]]), [
      [1, 'backfill: --yes: is required: purge deletes every item in the dead-letter queue for good (see them first with `backfill dlq list`)'],
      [1, 'backfill: arguments: name an action: list, redrive, purge'],
      [1, 'backfill: arguments: name an action: list, redrive, purge; got "drain"'],
      [1, 'backfill: --rate: belongs to `backfill dlq redrive`, not list'],
      [1, 'backfill: --rate: must be an integer from 1 to 500; got "501"'],
      [1, 'backfill: --stack: is required to find the deadLetterQueueUrl (or give --dlq-url)'],
      [1, 'backfill: --rate: applies to AWS only: a local redrive marks the items for the next `backfill run --local --run-id ID`, whose controller paces them like any other items'],
      [1, 'backfill: --database-url: is required with --local (or set DATABASE_URL): the local queues live in the run\'s Postgres; an embedded one does not outlive its run'],
      [1, 'backfill: --run-id: is required with --local: the run whose items to work on'],
      [1, 'backfill: --run-id: applies to --local only: the AWS dead-letter queue holds every run\'s items, and list shows each item\'s run'],
    ]);
    assert.match(results[0].stderr, /usage: backfill dlq list/);
  });

  describe('on AWS (the local SQS server, driven through the AWS SDK in the CLI)', () => {
    let queues: LocalQueues;
    const SCHEMA = 'aws_bookkeeping';
    const run = { runId: 'aws-run', jobName: 'counter-code', settings: resolveSettings({}), plannedItems: 3 };
    let broken = true;
    const job = breakableCounterJob(() => broken);
    const processBatch = () => makeBatchProcessorHandler(localDeps(job, db.pool, queues, { maxReceiveCount: 1, bookkeepingSchema: SCHEMA }))({ run, batchSize: 10, executionId: 'local' });

    before(async () => {
      queues = await startLocalQueues({ maxReceiveCount: 1, visibilityTimeoutSeconds: 30 });
      await ensureBookkeeping(db.pool, SCHEMA);
      await upsertRun(db.pool, SCHEMA, run.runId, run.jobName, run.settings);
    });
    after(() => queues.close());

    it('lists with reasons, redrives at a rate with progress (rows still change once), and purges only with --yes', async () => {
      // Prepare: range 1 fails (reason on the message), range 11 is retried until SQS moves it (reason in the
      // audit), range 21 succeeds, a body that is not JSON; the processor runs in this process against the same server
      await resetCounted(30, []);
      await sendItems(queues.sqs, queues.queueUrl, ['1', '11', '21'].map((lo) => makeRangeItem(run.runId, { lo, hi: String(Number(lo) + 10) })));
      await queues.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: 'garbage' }));
      await processBatch();
      await until('SQS moved range 11 to the DLQ', async () => {
        await processBatch();
        return (await countMessages(queues.sqs, queues.deadLetterQueueUrl)) === 3;
      });
      const aws = ['--queue-url', queues.queueUrl, '--dlq-url', queues.deadLetterQueueUrl];
      const env = localSqsEnv(queues.endpoint);
      // Act
      const list = await backfill(['dlq', 'list', ...aws, '--database-url', db.url, '--schema', SCHEMA], { env });
      const listWithoutAudit = await backfill(['dlq', 'list', '--limit', '1', '--json', ...aws], { env });
      broken = false;
      const redrive = await backfill(['dlq', 'redrive', '--rate', '2', ...aws], { env });
      await until('the redriven items are processed', async () => (await processBatch()).drained);
      const refused = await backfill(['dlq', 'purge', ...aws], { env });
      const purge = await backfill(['dlq', 'purge', '--yes', ...aws], { env });
      // Assess
      assert.equal(list.code, 0, list.stderr);
      const [headline, ...lines] = list.stdout.trim().split('\n');
      assert.deepStrictEqual([headline, lines.sort()], ['3 items in the dead-letter queue:', [
        '  (not a work item) "garbage": malformed work item: body is not JSON: "garbage"',
        '  aws-run range:1-11: row 1 is poisoned',
        '  aws-run range:11-21: upstream down (attempt 1; moved by SQS after maxReceiveCount receives)',
      ]]);
      const json = JSON.parse(listWithoutAudit.stdout);
      assert.deepStrictEqual([json.count, json.items.length], [3, 1]);
      assert.deepStrictEqual([redrive.code, redrive.stdout], [0, 'redrive completed: 3 items moved back to the work queue\n']);
      assert.deepStrictEqual([redrive.stderr.split('\n')[0], redrive.stderr.trim().split('\n').at(-1)], ['redrive started: about 3 items back to the work queue, at most 2 a second', 'redrive: 3 of 3 moved (completed)']);
      assert.deepStrictEqual(await changes(), { '1': 30 });
      assert.deepStrictEqual([refused.code, refused.stderr.split('\n')[0]], [1, 'backfill: --yes: is required: purge deletes every item in the dead-letter queue for good (see them first with `backfill dlq list`)']);
      // What can never succeed (the body that is not JSON) went back to the DLQ: the purge takes it.
      assert.deepStrictEqual([purge.code, purge.stdout], [0, 'purge started: about 1 item will be deleted from the dead-letter queue within 60 seconds\n']);
      assert.doesNotMatch(list.stderr + redrive.stderr + purge.stderr, /NodeVersionSupportWarning/);
    });
  });

  describe('--local (the embedded runtime\'s DLQ, derived from Postgres)', () => {
    it('lists dead items with reasons; a redrive makes the next run process them, changing every row once', async () => {
      // Prepare: 3 items of 1000 rows; the second holds a poisoned row
      await resetCounted(3000, [1500]);
      const local = ['--local', '--database-url', db.url, '--run-id', 'cli-redrive'];
      const first = await backfill(['run', '--local', '--job', POISONABLE, '--database-url', db.url, '--run-id', 'cli-redrive', '--chunk-size', '1000']);
      // Act
      const list = await backfill(['dlq', 'list', ...local]);
      await db.pool.query('UPDATE counted SET poisoned = false');
      const redrive = await backfill(['dlq', 'redrive', ...local]);
      const second = await backfill(['run', '--local', '--job', POISONABLE, '--database-url', db.url, '--run-id', 'cli-redrive', '--json']);
      const after = await backfill(['dlq', 'list', ...local, '--json']);
      // Assess
      assert.equal(first.code, 2, first.stderr);
      assert.deepStrictEqual([list.code, list.stdout], [0,
        'run cli-redrive: 1 item in the dead-letter queue (of 3 recorded: 2 done, 0 outstanding, 0 purged):\n' +
        '  cli-redrive range:1001-2001: range 1001-2001 holds a poisoned row\n']);
      assert.deepStrictEqual([redrive.code, redrive.stdout], [0, 'run cli-redrive: 1 dead item requeued; the next `backfill run --local --job PATH --run-id cli-redrive` processes it\n']);
      assert.equal(second.code, 0, second.stderr);
      const summary = JSON.parse(second.stdout);
      assert.deepStrictEqual([summary.itemsSucceeded, summary.itemsDeadLettered, summary.rowsAffected, summary.rowsRemaining], [3, 0, 3000, 0]);
      assert.deepStrictEqual(await changes(), { '1': 3000 });
      assert.deepStrictEqual(JSON.parse(after.stdout), { count: 0, counts: { recorded: 3, done: 3, dead: 0, purged: 0, outstanding: 0 }, items: [] });
    });

    it('purges dead items with --yes: the next run leaves them alone', async () => {
      // Prepare
      await resetCounted(3000, [2500]);
      const local = ['--local', '--database-url', db.url, '--run-id', 'cli-purge'];
      const first = await backfill(['run', '--local', '--job', POISONABLE, '--database-url', db.url, '--run-id', 'cli-purge', '--chunk-size', '1000']);
      await db.pool.query('UPDATE counted SET poisoned = false');
      // Act
      const refused = await backfill(['dlq', 'purge', ...local]);
      const purge = await backfill(['dlq', 'purge', '--yes', ...local]);
      const second = await backfill(['run', '--local', '--job', POISONABLE, '--database-url', db.url, '--run-id', 'cli-purge', '--json']);
      const list = await backfill(['dlq', 'list', ...local, '--json']);
      // Assess
      assert.equal(first.code, 2, first.stderr);
      assert.deepStrictEqual([refused.code, refused.stderr.split('\n')[0]], [1, 'backfill: --yes: is required: purge deletes every item in the dead-letter queue for good (see them first with `backfill dlq list`)']);
      assert.deepStrictEqual([purge.code, purge.stdout], [0, 'run cli-purge: 1 dead item purged; it stays in the failure audit and will not be processed again\n']);
      // Still counted as dead-lettered in the run's totals (exit 2): purging drops the item, not its history.
      assert.equal(second.code, 2, second.stderr);
      assert.deepStrictEqual(await changes(), { '0': 1000, '1': 2000 });
      assert.deepStrictEqual(JSON.parse(list.stdout), { count: 0, counts: { recorded: 3, done: 2, dead: 0, purged: 1, outstanding: 0 }, items: [] });
    });
  });
});
