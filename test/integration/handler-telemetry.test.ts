import assert from 'node:assert/strict';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { initialControl } from '../../core/controller';
import type { CodeJobDefinition, JobDefinition } from '../../core/job';
import { BUILT_IN_CHECKS } from '../../core/health-settings';
import { resolveSettings } from '../../core/settings';
import { makeRangeItem } from '../../core/work-item';
import { upsertRun } from '../../db/runs';
import { ensureBookkeeping } from '../../db/schema';
import { makeBatchProcessorHandler } from '../../lambdas/batch-processor';
import type { HandlerDeps, RunContext } from '../../lambdas/deps';
import { makeHealthProbeHandler } from '../../lambdas/health-probe';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { sendItems } from '../../queue/work-queue';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { recordingTelemetry } from '../support/telemetry';
import { localDeps } from '../support/deps';

const SCHEMA = 'telemetry_test';
const settings = resolveSettings({ chunkSize: 10 });
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:local:telemetry';
const counterJob: JobDefinition = { name: 'counter', source: { table: 'counted', key: 'id' }, sql: 'UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2' };

describe('handler telemetry (real Postgres, local SQS)', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  let runSeq = 0;
  let run: RunContext;

  const deps = (job: JobDefinition, telemetry: HandlerDeps['telemetry']): HandlerDeps => localDeps(job, db.pool, queues, { maxReceiveCount: 3, bookkeepingSchema: SCHEMA, telemetry });

  before(async () => {
    db = await openTestDatabase();
    await ensureBookkeeping(db.pool, SCHEMA);
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 100) g');
  });
  beforeEach(async () => {
    queues = await startLocalQueues({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 });
    runSeq += 1;
    run = { runId: `telemetry-${runSeq}`, jobName: 'counter', settings, plannedItems: 3 };
    await upsertRun(db.pool, SCHEMA, run.runId, 'counter', settings);
  });
  afterEach(() => queues.close());
  after(() => db.close());

  it('the probe records its decision with the run id, and each check as metrics, in one flush', async () => {
    // Prepare: two checks on, the others off, so the metrics can be listed exactly
    const { telemetry, logs, flushed } = recordingTelemetry();
    const twoChecks = resolveSettings({ chunkSize: 10, health: Object.fromEntries(BUILT_IN_CHECKS.filter((name) => name !== 'longRunningQueries' && name !== 'lockWaits').map((name) => [name, { enabled: false }])) });
    // Act
    const decision = await makeHealthProbeHandler(deps(counterJob, telemetry))({ run: { ...run, settings: twoChecks }, control: initialControl(twoChecks), lastBatch: null, executionId: EXECUTION });
    // Assess
    assert.deepStrictEqual(logs.map((l) => [l.level, l.message, l.fields?.runId, l.fields?.action, l.fields?.verdict]), [['info', 'decision', run.runId, 'proceed', 'ok']]);
    assert.equal(decision.action, 'proceed');
    assert.deepStrictEqual(flushed.map((points) => points.map((p) => [p.name, p.unit, p.dimensions?.Check ?? null, p.name === 'HealthCheckValue' ? typeof p.value : p.value])), [[
      ['HealthVerdict', 'None', null, 0],
      ['HealthCheckValue', 'Seconds', 'longRunningQueries', 'number'],
      ['HealthCheckVerdict', 'None', 'longRunningQueries', 0],
      ['HealthCheckValue', 'Seconds', 'lockWaits', 'number'],
      ['HealthCheckVerdict', 'None', 'lockWaits', 0],
      ['BackingOff', 'None', null, 0],
    ]]);
  });

  it('the processor records a batch with its id, and counts DLQ arrivals', async () => {
    // Prepare: two good ranges and one malformed message
    const { telemetry, logs, flushed } = recordingTelemetry();
    await sendItems(queues.sqs, queues.queueUrl, [makeRangeItem(run.runId, { lo: '1', hi: '11' }), makeRangeItem(run.runId, { lo: '11', hi: '21' })]);
    await queues.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: 'garbage' }));
    // Act
    const stats = await makeBatchProcessorHandler(deps(counterJob, telemetry))({ run, batchSize: 10, executionId: EXECUTION });
    // Assess
    assert.deepStrictEqual(logs.map((l) => [l.level, l.message, l.fields?.runId, l.fields?.batchId]), [['info', 'batch', run.runId, stats.batchId]]);
    assert.deepStrictEqual(flushed, [[
      { name: 'BatchSize', unit: 'Count', value: 10 },
      { name: 'ItemsReceived', unit: 'Count', value: 3 },
      { name: 'ItemsProcessed', unit: 'Count', value: 2 },
      { name: 'ItemsRetried', unit: 'Count', value: 0 },
      { name: 'ItemsDeadLettered', unit: 'Count', value: 1 },
      { name: 'RowsAffected', unit: 'Count', value: 20 },
      { name: 'BatchDuration', unit: 'Milliseconds', value: stats.durationMs },
    ]]);
  });

  it('the processor counts a throwing job\'s item as retried, not the batch as failed (the throw was isolated to it)', async () => {
    // Prepare
    const { telemetry, logs, flushed } = recordingTelemetry();
    const job: CodeJobDefinition = { name: 'crashes', process: async () => { throw new Error('out of memory'); } };
    await sendItems(queues.sqs, queues.queueUrl, [makeRangeItem(run.runId, { lo: '1', hi: '11' })]);
    // Act
    const stats = await makeBatchProcessorHandler(deps(job, telemetry))({ run, batchSize: 10, executionId: EXECUTION });
    // Assess
    assert.deepStrictEqual([stats.retried, stats.error, stats.lastError], [1, undefined, { error: 'out of memory', dedupeKey: 'range:1-11', items: 1 }]);
    assert.deepStrictEqual(logs.map((l) => [l.level, l.message]), [['info', 'batch']]);
    assert.deepStrictEqual(flushed.flat().filter((m) => m.name === 'BatchesFailed' || m.name === 'ItemsRetried'), [{ name: 'ItemsRetried', unit: 'Count', value: 1 }]);
  });
});
