import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import type { JobDefinition } from '../../core/job';
import { makeCloudWatchSource } from '../../db/health/cloudwatch-source';
import { makeLazyCloudWatchSource } from '../../db/health/metric-source';
import { probeHealth } from '../../db/health-probe';
import { openOtherSession, openTestDatabase, type TestDatabase } from '../support/database';
import { checkOf, healthSettings, makeProber, only, until } from '../support/health';

const AT = new Date('2026-01-01T00:00:00.000Z');

/** A job with one check of each kind, so the probe runs them all against real Postgres. */
function jobWithChecks(extra: Partial<JobDefinition> = {}): JobDefinition {
  return {
    name: 'custom-health',
    source: { table: 'queue_items', key: 'id' },
    sql: 'SELECT $1::bigint, $2::bigint',
    health: {
      checks: {
        backlog: { sql: `SELECT count(*) FROM queue_items WHERE state = 'pending'`, unit: 'rows', warning: 3, critical: 5 },
        spare: { measure: async (db) => Number((await db.query<{ n: string }>(`SELECT 10 - count(*) AS n FROM queue_items WHERE state = 'pending'`)).rows[0].n), unit: 'slots', warning: 7, critical: 5, worseWhen: 'below' },
        queueAge: { metric: { namespace: 'AWS/SQS', name: 'ApproximateAgeOfOldestMessage', dimensions: { QueueName: 'orders' }, stat: 'Maximum' }, unit: 'seconds', warning: 60, critical: 300 },
      },
    },
    ...extra,
  };
}

describe('custom checks and CloudWatch metrics (real Postgres; CloudWatch mocked at the SDK)', () => {
  let db: TestDatabase;
  const cloudWatch = mockClient(CloudWatchClient);
  before(async () => {
    db = await openTestDatabase();
    await db.pool.query(`CREATE TABLE queue_items (id int PRIMARY KEY, state text)`);
  });
  after(() => db.close());

  it('judges a job\'s SQL and function checks against their thresholds as the condition comes and goes', async () => {
    // Prepare
    const probe = makeProber(db.pool, healthSettings(only()), { job: jobWithChecks() });
    const idle = await probe();
    const traffic = await openOtherSession(db.url);
    try {
      // Act
      await traffic.query(`INSERT INTO queue_items SELECT g, 'pending' FROM generate_series(1, 6) g`);
      const busy = await probe();
      await traffic.query(`UPDATE queue_items SET state = 'done'`);
      const drained = await probe();
      // Assess
      const view = (r: typeof idle) => r.checks.map((c) => [c.name, c.value, c.unit, c.verdict]);
      assert.deepStrictEqual(view(idle), [['backlog', 0, 'rows', 'ok'], ['spare', 10, 'slots', 'ok'], ['queueAge', 0, 'seconds', 'ok']]);
      assert.deepStrictEqual(view(busy), [['backlog', 6, 'rows', 'critical'], ['spare', 4, 'slots', 'critical'], ['queueAge', 0, 'seconds', 'ok']]);
      assert.deepStrictEqual(view(drained), view(idle));
      assert.deepStrictEqual(checkOf(idle, 'queueAge'), { name: 'queueAge', value: 0, unit: 'seconds', verdict: 'ok', weight: 0, detail: 'not measured: no CloudWatch in this runtime' });
    } finally {
      await traffic.end();
    }
  });

  it('makes a failing, hanging or non-numeric check critical on its own, and the probe goes on', async () => {
    // Prepare
    const job = jobWithChecks({
      health: {
        checks: {
          broken: { sql: 'SELECT * FROM no_such_table', warning: 1, critical: 2 },
          slow: { sql: 'SELECT pg_sleep(5)::text::int', warning: 1, critical: 2 },
          hangs: { measure: () => new Promise<number>(() => undefined), warning: 1, critical: 2 },
          words: { measure: () => 'many' as unknown as number, warning: 1, critical: 2 },
          fine: { sql: 'SELECT 0', warning: 1, critical: 2 },
        },
      },
    });
    // Act
    const { report } = await probeHealth(db.pool, healthSettings(only(), { probeTimeoutMs: 300 }), { job });
    // Assess
    assert.deepStrictEqual(report.checks.map((c) => [c.name, c.verdict, c.detail]), [
      ['broken', 'critical', 'check failed: relation "no_such_table" does not exist'],
      ['slow', 'critical', 'check failed: canceling statement due to statement timeout'],
      ['hangs', 'critical', 'check failed: did not return within 300 ms'],
      ['words', 'critical', 'check failed: measure() returned "many", not a number'],
      ['fine', 'ok', undefined],
    ]);
    assert.equal(report.verdict, 'critical');
  });

  it('reads RDS metrics and a job\'s metric in one GetMetricData call, and judges them', async () => {
    // Prepare
    cloudWatch.reset();
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'rdsCpuUtilization', Timestamps: [AT], Values: [93.5] },
        { Id: 'rdsDbLoad', Timestamps: [AT], Values: [2] },
        { Id: 'rdsReplicaLag', Timestamps: [], Values: [] },
        { Id: 'rdsFreeableMemory', Timestamps: [AT], Values: [200 * 1024 * 1024] },
        { Id: 'custom0', Timestamps: [AT, new Date('2025-12-31T23:59:00.000Z')], Values: [120, 1] },
      ],
    });
    const metrics = makeCloudWatchSource({ client: new CloudWatchClient({ region: 'us-east-1' }), database: { kind: 'instance', identifier: 'prod-db' }, now: () => AT.getTime() + 60_000 });
    // Act
    const { report } = await probeHealth(db.pool, healthSettings(only()), { job: jobWithChecks(), metrics });
    // Assess
    const calls = cloudWatch.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input);
    assert.equal(calls.length, 1);
    assert.deepStrictEqual({ ...calls[0], MetricDataQueries: calls[0].MetricDataQueries?.map((q) => [q.Id, q.MetricStat?.Metric?.MetricName, q.MetricStat?.Metric?.Dimensions, q.MetricStat?.Stat, q.MetricStat?.Period]) }, {
      MetricDataQueries: [
        ['rdsCpuUtilization', 'CPUUtilization', [{ Name: 'DBInstanceIdentifier', Value: 'prod-db' }], 'Average', 60],
        ['rdsDbLoad', 'DBLoad', [{ Name: 'DBInstanceIdentifier', Value: 'prod-db' }], 'Average', 60],
        ['rdsReplicaLag', 'ReplicaLag', [{ Name: 'DBInstanceIdentifier', Value: 'prod-db' }], 'Maximum', 60],
        ['rdsFreeableMemory', 'FreeableMemory', [{ Name: 'DBInstanceIdentifier', Value: 'prod-db' }], 'Minimum', 60],
        ['custom0', 'ApproximateAgeOfOldestMessage', [{ Name: 'QueueName', Value: 'orders' }], 'Maximum', 60],
      ],
      StartTime: new Date(AT.getTime() - 540_000),
      EndTime: new Date(AT.getTime() + 60_000),
      ScanBy: 'TimestampDescending',
      NextToken: undefined,
    });
    assert.deepStrictEqual(report.checks.filter((c) => c.name.startsWith('rds') || c.name === 'queueAge').map((c) => [c.name, c.value, c.unit, c.verdict, c.detail]), [
      ['rdsCpuUtilization', 93.5, 'percent', 'critical', 'CPUUtilization at 2026-01-01T00:00:00.000Z'],
      ['rdsDbLoad', 2, 'sessions', 'ok', 'DBLoad at 2026-01-01T00:00:00.000Z'],
      ['rdsReplicaLag', 0, 'seconds', 'ok', 'no datapoint of AWS/RDS ReplicaLag in the last 10 minutes'],
      ['rdsFreeableMemory', 200 * 1024 * 1024, 'bytes', 'warning', 'FreeableMemory at 2026-01-01T00:00:00.000Z'],
      ['queueAge', 120, 'seconds', 'warning', 'datapoint of 2026-01-01T00:00:00.000Z'],
    ]);
  });

  it('reads an Aurora cluster\'s writer and its largest replica lag (milliseconds to seconds)', async () => {
    // Prepare
    cloudWatch.reset();
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'rdsReplicaLag', Timestamps: [AT], Values: [45_000] }] });
    const metrics = makeCloudWatchSource({ client: new CloudWatchClient({ region: 'us-east-1' }), database: { kind: 'cluster', identifier: 'aurora-1' } });
    // Act
    const { report } = await probeHealth(db.pool, healthSettings(only(), { rdsCpuUtilization: { enabled: false }, rdsDbLoad: { enabled: false }, rdsFreeableMemory: { enabled: false } }), { metrics });
    // Assess
    const query = cloudWatch.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries?.map((q) => [q.Id, q.MetricStat?.Metric?.MetricName, q.MetricStat?.Metric?.Dimensions]);
    assert.deepStrictEqual(query, [['rdsReplicaLag', 'AuroraReplicaLagMaximum', [{ Name: 'DBClusterIdentifier', Value: 'aurora-1' }]]]);
    assert.deepStrictEqual(report.checks.map((c) => [c.name, c.value, c.verdict]), [['rdsReplicaLag', 45, 'critical']]);
  });

  it('makes every CloudWatch check critical, with the error, when GetMetricData fails, and the Postgres checks still run', async () => {
    // Prepare
    cloudWatch.reset();
    cloudWatch.on(GetMetricDataCommand).rejects(new Error('Rate exceeded'));
    const metrics = makeCloudWatchSource({ client: new CloudWatchClient({ region: 'us-east-1' }), database: { kind: 'instance', identifier: 'prod-db' } });
    // Act
    const { report } = await probeHealth(db.pool, healthSettings(only('connections'), { rdsDbLoad: { enabled: false }, rdsReplicaLag: { enabled: false }, rdsFreeableMemory: { enabled: false } }), { job: jobWithChecks(), metrics });
    // Assess
    assert.deepStrictEqual(report.checks.map((c) => [c.name, c.verdict, c.error]), [
      ['connections', 'ok', undefined],
      ['rdsCpuUtilization', 'critical', 'GetMetricData failed: Rate exceeded'],
      ['backlog', 'ok', undefined],
      ['spare', 'ok', undefined],
      ['queueAge', 'critical', 'GetMetricData failed: Rate exceeded'],
    ]);
  });

  it('loads the CloudWatch client only when a metric is first read', async () => {
    // Prepare
    cloudWatch.reset();
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'rdsCpuUtilization', Timestamps: [AT], Values: [10] }] });
    const lazy = makeLazyCloudWatchSource({ kind: 'instance', identifier: 'prod-db' });
    // Act: the mock replaces the client's send for every CloudWatchClient, including the one the lazy source makes
    const points = await lazy.latest([{ id: 'rdsCpuUtilization', namespace: 'AWS/RDS', name: 'CPUUtilization', dimensions: {}, stat: 'Average', periodSeconds: 60 }], AbortSignal.timeout(1000));
    // Assess
    assert.deepStrictEqual([...points.entries()], [['rdsCpuUtilization', { value: 10, at: AT }]]);
  });

  it('evaluates with the job\'s own evaluator when the strategy is custom', async () => {
    // Prepare: the evaluator calls the database critical only when both of its checks are
    const job = jobWithChecks({ health: { ...jobWithChecks().health, evaluate: (checks) => (checks.filter((c) => c.verdict === 'critical').length >= 2 ? { verdict: 'critical', score: 2 } : 'ok') } });
    const probe = makeProber(db.pool, healthSettings(only(), { strategy: 'custom' }), { job });
    const traffic = await openOtherSession(db.url);
    try {
      // Act
      await traffic.query(`INSERT INTO queue_items SELECT g, 'pending' FROM generate_series(101, 105) g`);
      const oneCritical = await probe();
      await traffic.query(`INSERT INTO queue_items SELECT g, 'pending' FROM generate_series(106, 106) g`);
      const twoCritical = await until('both critical', probe, (r) => r.verdict === 'critical');
      // Assess
      assert.deepStrictEqual([oneCritical.strategy, oneCritical.verdict, oneCritical.checks.map((c) => c.verdict)], ['custom', 'ok', ['critical', 'warning', 'ok']]);
      assert.deepStrictEqual([twoCritical.strategy, twoCritical.verdict, twoCritical.score], ['custom', 'critical', 2]);
    } finally {
      await traffic.query('DELETE FROM queue_items');
      await traffic.end();
    }
  });
});
