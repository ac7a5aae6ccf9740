import assert from 'node:assert/strict';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { JobDefinition } from '../../core/job';
import { makeRangeItem } from '../../core/work-item';
import { readRun } from '../../db/controls';
import { readDeadItems } from '../../db/items';
import { makeBatchProcessorHandler } from '../../lambdas/batch-processor';
import type { HandlerDeps } from '../../lambdas/deps';
import { makeHealthProbeHandler } from '../../lambdas/health-probe';
import { makeInitRunHandler } from '../../lambdas/init-run';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { queueDepth, sendItems } from '../../queue/work-queue';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { localDeps } from '../support/deps';

const SCHEMA = 'backfill';
const ARN = (name: string) => `arn:aws:states:eu-west-1:111122223333:execution:Backfill:${name}`;

/** Adds 1 to every row of its range: a row at 2 was changed twice. */
const counterJob: JobDefinition = {
  name: 'counter',
  source: { table: 'counted', key: 'id' },
  sql: 'UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2',
};

/** Rows by how many times they were changed, e.g. { '0': 400, '1': 600 }. */
async function changes(db: TestDatabase): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ n: number; c: string }>('SELECT n, count(*) AS c FROM counted GROUP BY n ORDER BY n');
  return Object.fromEntries(rows.map((r) => [String(r.n), Number(r.c)]));
}

describe('resuming a run and the shared queue, at the handler level (real Postgres, local SQS)', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  let deps: HandlerDeps;

  before(async () => {
    db = await openTestDatabase();
  });
  beforeEach(async () => {
    queues = await startLocalQueues({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
    deps = localDeps(counterJob, db.pool, queues, { maxReceiveCount: 5, bookkeepingSchema: SCHEMA });
    await db.pool.query('DROP TABLE IF EXISTS counted');
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 1000) g');
  });
  afterEach(() => queues.close());
  after(() => db.close());

  it('a crashed run started again with the same runId is not planned again and finishes each item once', async () => {
    // Prepare: plan 10 items, do 4, then "crash" holding 2 received messages that were never settled
    const init = makeInitRunHandler(deps);
    const process = makeBatchProcessorHandler(deps);
    const input = { job: 'counter', runId: 'crashy', chunkSize: 100 };
    const first = await init({ input, executionName: 'crashy-1', executionId: ARN('crashy-1') });
    await process({ run: first.run, batchSize: 4, executionId: ARN('crashy-1') });
    const { Messages = [] } = await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 2 }));
    // The crashed invocation's messages come back once their visibility timeout ends (here: at once).
    for (const m of Messages) await queues.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queues.queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    // Act: a second execution is refused while the crashed one's lease is live; once it has lapsed (here: made to)
    // the second one takes the run over
    const refused = await init({ input, executionName: 'crashy-2', executionId: ARN('crashy-2') }).catch((error: Error) => error);
    await db.pool.query(`UPDATE backfill.leases SET expires_at = now() - interval '1 second' WHERE run_id = 'crashy'`);
    const second = await init({ input, executionName: 'crashy-2', executionId: ARN('crashy-2') });
    const depthAfterRestart = await queueDepth(queues.sqs, queues.queueUrl);
    let last = await process({ run: second.run, batchSize: 50, executionId: ARN('crashy-2') });
    while (!last.drained) last = await process({ run: second.run, batchSize: 50, executionId: ARN('crashy-2') });
    // Assess
    assert.deepStrictEqual([(refused as Error).name, (refused as Error).message.startsWith(`run crashy is being processed by ${ARN('crashy-1')} (last heartbeat `)], ['LeaseHeldError', true]);
    assert.deepStrictEqual([first.run.plannedItems, second.run.plannedItems, Messages.length], [10, 10, 2]);
    assert.deepStrictEqual(depthAfterRestart, { visible: 6, inFlight: 0, delayed: 0 });
    assert.deepStrictEqual(await changes(db), { '1': 1000 });
    const run = await readRun(db.pool, SCHEMA, 'crashy');
    assert.deepStrictEqual([run?.status, run?.plannedItems, run?.executions], ['succeeded', 10, [ARN('crashy-1'), ARN('crashy-2')]]);
    assert.deepStrictEqual([last.outcome?.itemsSucceeded, last.outcome?.itemsDeadLettered], [10, 0]);
  });

  it('an aborted run resumed under its runId goes on from what is done; a continuation keeps the operator\'s flags', async () => {
    // Prepare: a run with 3 items done, then aborted through the flag (its probe decides abort)
    const init = makeInitRunHandler(deps);
    const probe = makeHealthProbeHandler(deps);
    const process = makeBatchProcessorHandler(deps);
    const input = { job: 'counter', runId: 'steered', chunkSize: 100 };
    const first = await init({ input, executionName: 'steered-1', executionId: ARN('steered-1') });
    await process({ run: first.run, batchSize: 3, executionId: ARN('steered-1') });
    await db.pool.query(`UPDATE backfill.runs SET abort_requested = true, paused = true, knobs = '{"batch":{"maxSize":2,"initialSize":2}}' WHERE run_id = 'steered'`);
    const aborted = await probe({ run: first.run, control: first.control, lastBatch: null, executionId: ARN('steered-1') });
    // Act: a continuation (carry) keeps the flags; the operator starting the run again clears them, keeps the knobs
    const continued = await init({ input: { ...input, carry: { control: aborted, settings: {} } }, executionName: 'steered-2', executionId: ARN('steered-2') });
    const flagsAfterContinuation = await readRun(db.pool, SCHEMA, 'steered');
    // The continuation's first probe sees the abort flag too, and ends it (releasing the run's lease)
    await probe({ run: continued.run, control: continued.control, lastBatch: null, executionId: ARN('steered-2') });
    const resumed = await init({ input, executionName: 'steered-3', executionId: ARN('steered-3') });
    const flagsAfterResume = await readRun(db.pool, SCHEMA, 'steered');
    const decision = await probe({ run: resumed.run, control: resumed.control, lastBatch: null, executionId: ARN('steered-3') });
    let last = await process({ run: resumed.run, batchSize: decision.batchSize, executionId: ARN('steered-3') });
    while (!last.drained) last = await process({ run: resumed.run, batchSize: decision.batchSize, executionId: ARN('steered-3') });
    // Assess
    assert.deepStrictEqual([aborted.action, aborted.outcome?.status, aborted.outcome?.itemsSucceeded], ['abort', 'aborted', 3]);
    assert.deepStrictEqual([continued.run.plannedItems, continued.control.generation], [10, 2]);
    assert.deepStrictEqual([flagsAfterContinuation?.paused, flagsAfterContinuation?.abortRequested], [true, true]);
    assert.deepStrictEqual([flagsAfterResume?.paused, flagsAfterResume?.abortRequested, flagsAfterResume?.knobs], [false, false, { batch: { maxSize: 2, initialSize: 2 } }]);
    assert.deepStrictEqual([decision.action, decision.batchSize], ['proceed', 2]);
    assert.deepStrictEqual(await changes(db), { '1': 1000 });
    assert.deepStrictEqual(last.outcome?.itemsSucceeded, 10);
  });

  it('a fresh run sends the messages an older run left in the shared queue to the DLQ, untouched, with the reason', async () => {
    // Prepare: an older run planned 10 items and was abandoned after 4; then a fresh run is started
    const init = makeInitRunHandler(deps);
    const process = makeBatchProcessorHandler(deps);
    const older = await init({ input: { job: 'counter', runId: 'rehearsal-1', chunkSize: 100 }, executionName: 'rehearsal-1', executionId: ARN('rehearsal-1') });
    await process({ run: older.run, batchSize: 4, executionId: ARN('rehearsal-1') });
    await db.pool.query('UPDATE counted SET n = 0');
    // Act
    const fresh = await init({ input: { job: 'counter', runId: 'rehearsal-2', chunkSize: 100 }, executionName: 'rehearsal-2', executionId: ARN('rehearsal-2') });
    const batches = [await process({ run: fresh.run, batchSize: 50, executionId: ARN('rehearsal-2') })];
    while (!batches.at(-1)!.drained) batches.push(await process({ run: fresh.run, batchSize: 50, executionId: ARN('rehearsal-2') }));
    // Assess: every row changed once, by the fresh run; the older run's 6 items wait in the DLQ, recorded as its own
    assert.deepStrictEqual(await changes(db), { '1': 1000 });
    const outcome = batches.at(-1)!.outcome!;
    assert.deepStrictEqual([outcome.runId, outcome.itemsSucceeded, outcome.itemsDeadLettered, outcome.itemsFailed], ['rehearsal-2', 10, 0, 0]);
    assert.deepStrictEqual(batches.reduce((n, b) => n + b.deadLettered, 0), 0);
    const reason = 'belongs to run rehearsal-1, not rehearsal-2 (the run executing); redrive it when run rehearsal-1 runs again';
    const { Messages = [] } = await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.deadLetterQueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
    assert.deepStrictEqual(Messages.map((m) => [JSON.parse(m.Body!).runId, m.MessageAttributes?.reason?.StringValue]), Array(6).fill(['rehearsal-1', reason]));
    const dead = await readDeadItems(db.pool, SCHEMA, 'rehearsal-1');
    assert.deepStrictEqual(dead.map((d) => d.reason), Array(6).fill(reason));
    const { rows } = await db.pool.query(`SELECT data->>'foreign' AS foreign FROM backfill.history WHERE run_id = 'rehearsal-2' AND kind = 'batch' ORDER BY id`);
    assert.deepStrictEqual([batches.length, rows.map((r) => r.foreign)], [2, ['6']]);
  });

  it('sends a message of another run that reached a run by hand (an enqueue) to the DLQ as well, never running it', async () => {
    // Prepare: one item of this run and one of a run that does not exist
    const init = makeInitRunHandler(deps);
    const process = makeBatchProcessorHandler(deps);
    const { run } = await init({ input: { job: 'counter', runId: 'solo', chunkSize: 1000 }, executionName: 'solo', executionId: ARN('solo') });
    await sendItems(queues.sqs, queues.queueUrl, [makeRangeItem('ghost', { lo: '1', hi: '1001' })]);
    // Act
    const batch = await process({ run, batchSize: 10, executionId: ARN('solo') });
    // Assess: the ghost's range was not worked on (the run's own item changed each row once)
    assert.deepStrictEqual([batch.received, batch.succeeded, batch.deadLettered], [2, 1, 0]);
    assert.deepStrictEqual(await changes(db), { '1': 1000 });
  });
});
