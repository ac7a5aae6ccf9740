import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SQSClient } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import { backoffSeconds, initialControl } from '../../core/controller';
import type { JobDefinition } from '../../core/job';
import { resolveSettings } from '../../core/settings';
import { makePool } from '../../db/pool';
import type { HandlerDeps, RunContext } from '../../lambdas/deps';
import { makeHealthProbeHandler } from '../../lambdas/health-probe';
import { freePort } from '../../local/free-port';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { recordingTelemetry } from '../support/telemetry';

const settings = resolveSettings({ chunkSize: 10 });
const run: RunContext = { runId: 'resilience', jobName: 'counter', settings, plannedItems: 3 };
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:local:resilience';
const job: JobDefinition = { name: 'counter', source: { table: 'counted', key: 'id' }, sql: 'UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2' };
const HALF = () => 0.5;

/** The probe's deps around a pool getter; the probe never touches the queues. */
function deps(getPool: () => Promise<pg.Pool>, telemetry: HandlerDeps['telemetry'], bookkeepingSchema = 'backfill'): HandlerDeps {
  return { job, getPool, sqs: new SQSClient({ region: 'us-east-1' }), queueUrl: 'unused', deadLetterQueueUrl: 'unused', maxReceiveCount: 3, bookkeepingSchema, receiveWaitSeconds: 0, random: HALF, telemetry };
}

// The probe must never fail the execution over the database: what it cannot read or write is a finding or a
// warning, and the controller backs off (or ends the run it was ending anyway).
describe('the health probe when the database fails it (handler level)', () => {
  let db: TestDatabase;
  let unreachable: pg.Pool;
  before(async () => {
    db = await openTestDatabase();
    unreachable = makePool({ connectionString: `postgres://nobody@127.0.0.1:${await freePort()}/none`, connectionTimeoutMillis: 1000 });
  });
  after(async () => {
    await unreachable.end();
    await db.close();
  });

  it('backs off on an unreachable database instead of throwing, and says the decision was not recorded', async () => {
    // Prepare
    const { telemetry, logs } = recordingTelemetry();
    // Act
    const decision = await makeHealthProbeHandler(deps(async () => unreachable, telemetry))({ run, control: initialControl(settings), lastBatch: null, executionId: EXECUTION });
    // Assess
    assert.deepStrictEqual(
      [decision.action, decision.waitSeconds, decision.backoffAttempt, decision.health.verdict, decision.health.checks.map((c) => c.name), decision.outcome],
      ['backoff', backoffSeconds(settings.backoff, 0, HALF), 1, 'critical', ['probe'], undefined],
    );
    assert.match(decision.reason, /^probe unmeasured \(critical: probe failed: reading the run's flags and knobs failed: connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/);
    assert.deepStrictEqual(logs.map((l) => [l.level, l.message]), [['warn', 'run controls not read'], ['warn', 'decision not recorded'], ['info', 'decision']]);
    assert.match(String(logs[1].fields?.error), /ECONNREFUSED/);
  });

  it('halts a run whose backoff budget is spent with its completion outcome, the totals marked unavailable', async () => {
    // Prepare: the budget is already spent, so this critical probe halts
    const { telemetry } = recordingTelemetry();
    const control = { ...initialControl(settings), totalBackoffSeconds: settings.backoff.maxTotalSeconds };
    // Act
    const decision = await makeHealthProbeHandler(deps(async () => unreachable, telemetry))({ run, control, lastBatch: null, executionId: EXECUTION });
    // Assess
    const { finishedAt, totalsUnavailable, ...outcome } = decision.outcome as NonNullable<typeof decision.outcome> & { totalsUnavailable: string };
    assert.deepStrictEqual([decision.action, outcome], ['halt', {
      runId: 'resilience', job: 'counter', status: 'failed', reason: decision.reason, itemsPlanned: 3,
      itemsSucceeded: null, rowsAffected: null, itemsFailed: null, itemsDeadLettered: null, itemsAtLeastOnce: null, lastError: null, executionId: EXECUTION,
    }]);
    assert.match(decision.reason, /^backoff budget of \d+s spent; still unhealthy: probe unmeasured/);
    assert.match(totalsUnavailable, /^reading the run's totals failed: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    assert.ok(!Number.isNaN(Date.parse(finishedAt)));
  });

  it('backs off when the run\'s flags cannot be read, though Postgres itself is healthy: the run does not go on blind', async () => {
    // Prepare: a reachable database without the bookkeeping tables
    const { telemetry, logs } = recordingTelemetry();
    // Act
    const decision = await makeHealthProbeHandler(deps(async () => db.pool, telemetry, 'no_bookkeeping'))({ run, control: initialControl(settings), lastBatch: null, executionId: EXECUTION });
    // Assess
    assert.deepStrictEqual([decision.action, decision.reason], ['backoff', 'probe unmeasured (critical: probe failed: reading the run\'s flags and knobs failed: relation "no_bookkeeping.runs" does not exist)']);
    assert.deepStrictEqual(logs.map((l) => [l.level, l.message, l.fields?.error]), [
      ['warn', 'run controls not read', 'relation "no_bookkeeping.runs" does not exist'],
      ['warn', 'decision not recorded', 'relation "no_bookkeeping.history" does not exist'],
      ['info', 'decision', undefined],
    ]);
  });

  it('backs off when no pool can be had (the secret unreadable)', async () => {
    // Prepare
    const { telemetry, logs } = recordingTelemetry();
    const noPool = async (): Promise<pg.Pool> => { throw new Error('AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue'); };
    // Act
    const decision = await makeHealthProbeHandler(deps(noPool, telemetry))({ run, control: initialControl(settings), lastBatch: null, executionId: EXECUTION });
    // Assess
    assert.deepStrictEqual([decision.action, decision.reason], ['backoff', 'probe unmeasured (critical: probe failed: reading the run\'s flags and knobs failed: AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue)']);
    assert.deepStrictEqual(logs.map((l) => [l.level, l.message, l.fields?.error]), [
      ['warn', 'run controls not read', 'AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue'],
      ['warn', 'decision not recorded', 'recording the decision: no database pool'],
      ['info', 'decision', undefined],
    ]);
  });
});
