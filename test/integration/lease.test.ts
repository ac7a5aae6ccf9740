import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { JobDefinition } from '../../core/job';
import { awsLeaseSeconds } from '../../core/lease';
import { DEFAULT_SETTINGS } from '../../core/settings';
import { readRun } from '../../db/controls';
import { readLease } from '../../db/lease';
import { makeBatchProcessorHandler } from '../../lambdas/batch-processor';
import type { HandlerDeps } from '../../lambdas/deps';
import { makeHealthProbeHandler } from '../../lambdas/health-probe';
import { makeInitRunHandler } from '../../lambdas/init-run';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { queueDepth } from '../../queue/work-queue';
import { backfillInProcess } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { localDeps } from '../support/deps';

const SCHEMA = 'backfill';
const ARN = (name: string) => `arn:aws:states:eu-west-1:111122223333:execution:Backfill:${name}`;
const counterJob: JobDefinition = { name: 'counter', source: { table: 'counted', key: 'id' }, sql: 'UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2' };

describe('the run lease of executions on AWS (handlers as the Lambdas run them; real Postgres, local SQS)', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  let deps: HandlerDeps;
  before(async () => {
    db = await openTestDatabase();
  });
  beforeEach(async () => {
    queues = await startLocalQueues({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
    deps = localDeps(counterJob, db.pool, queues, { maxReceiveCount: 5, bookkeepingSchema: SCHEMA });
    await db.pool.query('DROP SCHEMA IF EXISTS backfill CASCADE');
    await db.pool.query('DROP TABLE IF EXISTS counted');
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 1000) g');
  });
  afterEach(() => queues.close());
  after(() => db.close());

  it('a second execution of a live run refuses at Init, naming the holder and the lapse, and leaves the run as it was', async () => {
    // Prepare
    const init = makeInitRunHandler(deps);
    const input = { job: 'counter', runId: 'twice', chunkSize: 100 };
    await init({ input, executionName: 'twice-1', executionId: ARN('twice-1') });
    const lease = (await readLease(db.pool, SCHEMA, 'twice'))!;
    // Act
    const refused = await init({ input: { ...input, batch: { initialSize: 3, maxSize: 3 } }, executionName: 'twice-2', executionId: ARN('twice-2') }).catch((error: Error) => error);
    // Assess
    assert.deepStrictEqual([(refused as Error).name, (refused as Error).message], ['LeaseHeldError',
      `run twice is being processed by ${ARN('twice-1')} (last heartbeat ${lease.heartbeatAt}); its lease lapses at ${lease.expiresAt} unless it heartbeats again. One processor per run: wait for it to finish, or stop it (backfill abort twice) and start this run again once its lease has lapsed`]);
    const run = await readRun(db.pool, SCHEMA, 'twice');
    assert.deepStrictEqual([run?.executions, run?.settings.batch.maxSize, run?.plannedItems], [[ARN('twice-1')], DEFAULT_SETTINGS.batch.maxSize, 10]);
    assert.deepStrictEqual([(Date.parse(lease.expiresAt) - Date.parse(lease.heartbeatAt)) / 1000, awsLeaseSeconds(DEFAULT_SETTINGS)], [1334, 1334]);
  });

  it('an execution that died shows as stalled once its lease lapsed; abort frees the run, and the next execution starts at once', async () => {
    // Prepare: execution 1 took the run and died (no probe since); its lease lapsed (made to, instead of 22 minutes)
    const init = makeInitRunHandler(deps);
    const input = { job: 'counter', runId: 'died', chunkSize: 100 };
    await init({ input, executionName: 'died-1', executionId: ARN('died-1') });
    await db.pool.query(`UPDATE backfill.leases SET expires_at = now() - interval '1 second' WHERE run_id = 'died'`);
    const { heartbeatAt } = (await readLease(db.pool, SCHEMA, 'died'))!;
    // Act
    const status = await backfillInProcess('status', 'died', '--database-url', db.url);
    const abort = await backfillInProcess('abort', 'died', '--database-url', db.url);
    const next = await init({ input, executionName: 'died-2', executionId: ARN('died-2') });
    // Assess
    assert.match(status.stdout, new RegExp(`^run +died · job counter · stalled \\(no heartbeat since ${heartbeatAt.replaceAll('.', '\\.')}\\); last recorded running$`, 'm'));
    assert.match(status.stdout, /^processor +arn:\S+:died-1 · last heartbeat \S+ · its lease lapsed at \S+: nothing works on this run; backfill start --job counter --run-id died takes it up again$/m);
    assert.deepStrictEqual([abort.code, abort.stdout.trim()], [0, `run died was stalled (no heartbeat since ${heartbeatAt}): no processor works on it, so it is marked aborted now. Unfinished items stay recorded: backfill start --job counter --run-id died resumes from what is done.`]);
    assert.deepStrictEqual([(await readLease(db.pool, SCHEMA, 'died'))?.holder, next.run.plannedItems], [ARN('died-2'), 10]);
  });

  it('a continuation takes the lease over from its parent; the parent then stops at its next probe or batch, touching nothing', async () => {
    // Prepare: execution 1 decided to continue as new; execution 2 starts with the carried state and the lineage field
    const init = makeInitRunHandler(deps);
    const probe = makeHealthProbeHandler(deps);
    const process = makeBatchProcessorHandler(deps);
    const input = { job: 'counter', runId: 'chain', chunkSize: 100 };
    const first = await init({ input, executionName: 'chain-1', executionId: ARN('chain-1') });
    // Act
    const second = await init({ input: { ...input, carry: { control: first.control, settings: {} }, AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: ARN('chain-1') }, executionName: 'chain-2', executionId: ARN('chain-2') });
    const lease = await readLease(db.pool, SCHEMA, 'chain');
    const parentProbe = await probe({ run: first.run, control: first.control, lastBatch: null, executionId: ARN('chain-1') }).catch((error: Error) => error);
    const parentBatch = await process({ run: first.run, batchSize: 5, executionId: ARN('chain-1') }).catch((error: Error) => error);
    const depth = await queueDepth(queues.sqs, queues.queueUrl);
    let last = await process({ run: second.run, batchSize: 50, executionId: ARN('chain-2') });
    while (!last.drained) last = await process({ run: second.run, batchSize: 50, executionId: ARN('chain-2') });
    // Assess
    assert.deepStrictEqual([lease?.holder, second.control.generation], [ARN('chain-2'), 2]);
    for (const error of [parentProbe, parentBatch]) {
      assert.deepStrictEqual([(error as Error).name, (error as Error).message.split(' took it over at ')[0]], ['LeaseLostError', `run chain: this processor (${ARN('chain-1')}) no longer holds the run's lease: ${ARN('chain-2')}`]);
    }
    assert.deepStrictEqual(depth, { visible: 10, inFlight: 0, delayed: 0 });
    assert.deepStrictEqual((await db.pool.query('SELECT n, count(*)::int AS c FROM counted GROUP BY n')).rows, [{ n: 1, c: 1000 }]);
    const released = await readLease(db.pool, SCHEMA, 'chain');
    assert.deepStrictEqual([released?.holder, released?.releasedAt !== null, released?.expired], [ARN('chain-2'), true, true]);
  });
});
