import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExecutionInput } from '../../core/execution-input';
import { assertHealthFitsJob } from '../../core/job-health';
import { validateJob } from '../../core/job';
import { resolveSettings } from '../../core/settings';

function errorOf(fn: () => unknown): { name: string; message: string } {
  try {
    fn();
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  return { name: 'none', message: 'did not throw' };
}

describe('health knobs in execution input', () => {
  it('accepts every kind of health knob: numbers, booleans, a strategy, custom checks by name', () => {
    // Prepare
    const health = {
      strategy: 'weighted',
      weighted: { criticalScore: 5 },
      longRunningQueries: { warningSeconds: 10, criticalSeconds: 60, weight: 2 },
      replicationLag: { halt: true },
      probeLatency: { enabled: true },
      custom: { backlog: { warning: 100, critical: 1000, enabled: false } },
    };
    // Act
    const parsed = parseExecutionInput({ job: 'demo', health }, 'exec');
    const settings = resolveSettings(parsed.overrides);
    // Assess
    assert.deepStrictEqual(parsed.overrides, { health });
    assert.deepStrictEqual([settings.health.strategy, settings.health.weighted, settings.health.longRunningQueries, settings.health.replicationLag.halt, settings.health.custom], [
      'weighted',
      { warningWeight: 1, criticalWeight: 3, warningScore: 1, criticalScore: 5 },
      { enabled: true, weight: 2, halt: false, warningSeconds: 10, criticalSeconds: 60 },
      true,
      { backlog: { warning: 100, critical: 1000, enabled: false } },
    ]);
  });

  it('names the field and what is allowed for every bad health knob, before any work', () => {
    // Prepare
    const cases: Array<[unknown, string]> = [
      [{ strategy: 'majority' }, 'input.health.strategy: must be one of "any-critical", "weighted", "fraction-failing", "custom"; got "majority"'],
      [{ lockWaits: { enabled: 'yes' } }, 'input.health.lockWaits.enabled: must be true or false; got "yes"'],
      [{ vacuum: { halt: 1 } }, 'input.health.vacuum.halt: must be true or false; got 1'],
      [{ tempFiles: { weight: -1 } }, 'input.health.tempFiles.weight: must be a number from 0 to 100; got -1'],
      [{ cacheHitRatio: { warningBelow: 1.5 } }, 'input.health.cacheHitRatio.warningBelow: must be a number from 0 to 1; got 1.5'],
      [{ checkpoints: { warningRequested: 0 } }, 'input.health.checkpoints.warningRequested: must be an integer from 1 to 1000000; got 0'],
      [{ probeLatency: { samples: 50 } }, 'input.health.probeLatency.samples: must be an integer from 1 to 20; got 50'],
      [{ connections: { limit: 3 } }, 'input.health.connections.limit: is not a known field; allowed: enabled, weight, halt, warningRatio, criticalRatio'],
      [{ custom: { 'bad name': { warning: 1 } } }, 'input.health.custom.bad name: must be a custom check name (a letter, then letters, digits or _)'],
      [{ custom: { backlog: { query: 'x' } } }, 'input.health.custom.backlog.query: is not a known field; allowed: enabled, weight, halt, warning, critical'],
      [{ custom: { backlog: { sql: 'DELETE FROM t' } } }, 'health.custom.backlog.sql: raw SQL is never accepted in execution input: jobs are deployed code, select one by "job"'],
      [{ custom: { mysqlLag: { warning: 1 } } }, 'health.custom.mysqlLag: raw SQL is never accepted in execution input: jobs are deployed code, select one by "job"'],
    ];
    // Act
    const errors = cases.map(([health]) => errorOf(() => parseExecutionInput({ job: 'demo', health }, 'exec')));
    // Assess
    assert.deepStrictEqual(errors, cases.map(([, message]) => ({ name: 'InvalidInputError', message })));
  });

  it('rejects a key mentioning SQL at any depth, carry included', () => {
    // Act
    const errors = [
      errorOf(() => parseExecutionInput({ job: 'demo', batch: { SQL: 1 } }, 'exec')),
      errorOf(() => parseExecutionInput({ job: 'demo', runId: 'r', carry: { control: {}, settings: { health: { custom: { x: { sqlText: 'y' } } } } } }, 'exec')),
    ];
    // Assess
    assert.deepStrictEqual(errors.map((e) => e.message), [
      'batch.SQL: raw SQL is never accepted in execution input: jobs are deployed code, select one by "job"',
      'carry.settings.health.custom.x.sqlText: raw SQL is never accepted in execution input: jobs are deployed code, select one by "job"',
    ]);
  });

  it('rejects thresholds out of order, for higher-is-worse and lower-is-worse checks', () => {
    // Act
    const errors = [
      errorOf(() => resolveSettings({ health: { longTransactions: { warningSeconds: 700 } } })),
      errorOf(() => resolveSettings({ health: { cacheHitRatio: { warningBelow: 0.1 } } })),
      errorOf(() => resolveSettings({ health: { weighted: { warningScore: 9 } } })),
    ];
    // Assess
    assert.deepStrictEqual(errors.map((e) => e.message), [
      'health.longTransactions.warningSeconds: must be <= health.longTransactions.criticalSeconds (600); got 700',
      'health.cacheHitRatio.warningBelow: must be >= health.cacheHitRatio.criticalBelow (0.2); lower is worse for this check; got 0.1',
      'health.weighted.warningScore: must be <= health.weighted.criticalScore (3); got 9',
    ]);
  });
});

describe('a job\'s health definitions', () => {
  const base = { name: 'j', source: { table: 't', key: 'id' }, sql: 'UPDATE t SET x = 1 WHERE id >= $1 AND id < $2' };

  it('accepts SQL, metric and function checks and an evaluator', () => {
    // Prepare
    const job = { ...base, health: { checks: {
      backlog: { sql: 'SELECT count(*) FROM jobs', warning: 10, critical: 100 },
      queueAge: { metric: { namespace: 'AWS/SQS', name: 'ApproximateAgeOfOldestMessage', dimensions: { QueueName: 'q' } }, warning: 60, critical: 300 },
      headroom: { measure: () => 5, warning: 3, critical: 1, worseWhen: 'below' },
    }, evaluate: () => 'ok' }, settings: { health: { strategy: 'custom' } } };
    // Act + Assess
    assert.equal(validateJob(job, 'job.ts'), job);
  });

  it('explains what is wrong with a job\'s health field and its settings', () => {
    // Prepare
    const cases: Array<[unknown, string]> = [
      [{ checks: { lockWaits: { sql: 'SELECT 1', warning: 1, critical: 2 } } }, 'job.ts: health.checks.lockWaits: the name is taken by a built-in; reserved: longRunningQueries, longTransactions, lockWaits, cacheHitRatio, tempFiles, replicationLag, vacuum, connections, checkpoints, activeSessions, probeLatency, commitLatency, rdsCpuUtilization, rdsDbLoad, rdsReplicaLag, rdsFreeableMemory, probeTimeoutMs, strategy, weighted, fractionFailing, custom, probe'],
      [{ checks: { mysqlLag: { sql: 'SELECT 1', warning: 1, critical: 2 } } }, 'job.ts: health.checks.mysqlLag: the name must not contain "sql" (execution input, which tunes checks by name, rejects such keys)'],
      [{ checks: { both: { sql: 'SELECT 1', measure: () => 1, warning: 1, critical: 2 } } }, 'job.ts: health.checks.both: define exactly one of sql (a query returning a number), metric (a CloudWatch metric) or measure (db) => number'],
      [{ checks: { x: { sql: 'SELECT 1', warning: 5, critical: 2 } } }, 'job.ts: health.checks.x: warning (5) must be <= critical (2) when higher is worse'],
      [{ checks: { x: { measure: () => 1, warning: 1, critical: 2, worseWhen: 'below' } } }, 'job.ts: health.checks.x: warning (1) must be >= critical (2) when lower is worse (worseWhen: "below")'],
      [{ checks: { x: { metric: { namespace: 'A' }, warning: 1, critical: 2 } } }, 'job.ts: health.checks.x: metric must be { namespace, name, dimensions?, stat?, periodSeconds? }'],
      [{ checks: { x: { sql: 'SELECT 1', critical: 2 } } }, 'job.ts: health.checks.x: warning must be a number; got undefined'],
      [{ evaluate: 'worst' }, 'job.ts: health.evaluate must be a function (checks, settings) => verdict'],
      [{ rules: [] }, 'job.ts: health has unknown fields rules; allowed: checks, evaluate'],
    ];
    // Act
    const errors = cases.map(([health]) => errorOf(() => validateJob({ ...base, health }, 'job.ts')).message);
    const badSettings = errorOf(() => validateJob({ ...base, settings: { health: { strategy: 'best' } } }, 'job.ts')).message;
    // Assess
    assert.deepStrictEqual(errors, cases.map(([, message]) => message));
    assert.equal(badSettings, 'job.ts: settings.health.strategy: must be one of "any-critical", "weighted", "fraction-failing", "custom"; got "best"');
  });

  it('checks at Init what only the job can tell: the custom strategy needs an evaluator, custom knobs need a check', () => {
    // Prepare
    const checks = { backlog: { sql: 'SELECT 1', warning: 10, critical: 100 } };
    // Act
    const errors = [
      errorOf(() => assertHealthFitsJob(resolveSettings({ health: { strategy: 'custom' } }).health, 'j', { checks })),
      errorOf(() => assertHealthFitsJob(resolveSettings({ health: { custom: { backlg: { warning: 5 } } } }).health, 'j', { checks })),
      errorOf(() => assertHealthFitsJob(resolveSettings({ health: { custom: { backlog: { warning: 500 } } } }).health, 'j', { checks })),
      errorOf(() => assertHealthFitsJob(resolveSettings({ health: { custom: { backlog: { warning: 50 } } } }).health, 'j', { checks })),
    ];
    // Assess
    assert.deepStrictEqual(errors, [
      { name: 'InvalidInputError', message: 'health.strategy: "custom" needs health.evaluate in the job module, and job j has none; allowed: "any-critical", "weighted", "fraction-failing"' },
      { name: 'InvalidInputError', message: 'health.custom.backlg: is not a check of job j; its checks: backlog' },
      { name: 'InvalidInputError', message: 'health.custom.backlog: warning (500) must be <= critical (100) when higher is worse' },
      { name: 'none', message: 'did not throw' },
    ]);
  });
});

describe('checkpoint counters by server version', () => {
  it('reads pg_stat_checkpointer on Postgres 17+ and pg_stat_bgwriter before', async () => {
    // Prepare
    const { checkpointSql } = await import('../../db/health/checks/checkpoints');
    // Act
    const sql = [checkpointSql(170002), checkpointSql(150020)];
    // Assess
    assert.deepStrictEqual(sql, [
      'SELECT num_timed::float8 AS timed, num_requested::float8 AS requested, EXTRACT(epoch FROM clock_timestamp())::float8 AS at FROM pg_stat_checkpointer',
      'SELECT checkpoints_timed::float8 AS timed, checkpoints_req::float8 AS requested, EXTRACT(epoch FROM clock_timestamp())::float8 AS at FROM pg_stat_bgwriter',
    ]);
  });
});
