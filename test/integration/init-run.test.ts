import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type pg from 'pg';
import type { JobDefinition } from '../../core/job';
import { readRun } from '../../db/controls';
import { makePool } from '../../db/pool';
import type { HandlerDeps } from '../../lambdas/deps';
import { makeInitRunHandler } from '../../lambdas/init-run';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { queueDepth } from '../../queue/work-queue';
import { openTestDatabase, type TestDatabase } from '../support/database';

const SCHEMA = 'backfill';
const ARN = 'arn:aws:states:eu-west-1:111122223333:execution:Backfill:planned-1';

const counterJob: JobDefinition = {
  name: 'counter',
  source: { table: 'counted', key: 'id' },
  sql: 'UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2',
};

describe('init run (real Postgres, local SQS)', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  const pools: pg.Pool[] = [];

  before(async () => {
    db = await openTestDatabase();
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 1000) g');
  });
  beforeEach(async () => {
    queues = await startLocalQueues({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
  });
  afterEach(() => queues.close());
  after(async () => {
    await Promise.all(pools.filter((p) => !p.ended).map((p) => p.end()));
    await db.close();
  });

  it('plans on the pool it started with, when a later getPool() would replace and close that pool', async () => {
    // Prepare: a getPool whose cache has always just expired, as the AWS entry point's does after five minutes:
    // every call opens a fresh pool and closes the one it handed out before
    const getPool = async () => {
      const previous = pools.at(-1);
      pools.push(makePool({ connectionString: db.url, max: 2 }));
      if (previous) await previous.end();
      return pools.at(-1)!;
    };
    const deps: HandlerDeps = { job: counterJob, getPool, sqs: queues.sqs, queueUrl: queues.queueUrl, deadLetterQueueUrl: queues.deadLetterQueueUrl, maxReceiveCount: 5, bookkeepingSchema: SCHEMA, receiveWaitSeconds: 0 };
    // Act
    const result = await makeInitRunHandler(deps)({ input: { job: 'counter', runId: 'planned', chunkSize: 100 }, executionName: 'planned-1', executionId: ARN });
    // Assess
    const run = await readRun(db.pool, SCHEMA, 'planned');
    assert.deepStrictEqual([result.run.plannedItems, run?.plannedItems, run?.executions, pools.length], [10, 10, [ARN], 1]);
    assert.deepStrictEqual(await queueDepth(queues.sqs, queues.queueUrl), { visible: 10, inFlight: 0, delayed: 0 });
  });
});
