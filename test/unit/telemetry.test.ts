import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Context } from 'aws-lambda';
import type { HealthReport } from '../../core/health';
import { instrument } from '../../lambdas/entry/instrument';
import { makePowertoolsTelemetry } from '../../lambdas/entry/powertools-telemetry';
import { MAX_CHECK_METRICS, checkDimension, recordBatchMetrics, recordDecisionMetrics } from '../../lambdas/telemetry';
import { captureJsonLines, recordingTelemetry } from '../support/telemetry';

const report = (checks: HealthReport['checks'], verdict: HealthReport['verdict']): HealthReport => ({ verdict, checks, probedAt: '2026-01-01T00:00:00.000Z', durationMs: 3 });

/** An EMF document without its timestamp. */
function emf(doc: Record<string, any>) {
  const { _aws: { Timestamp, ...aws }, ...values } = doc;
  assert.equal(typeof Timestamp, 'number');
  return { aws, values };
}

describe('decision and batch metrics', () => {
  it('records each check\'s value and verdict with a Check dimension, the verdict, and the backoff wait', () => {
    // Prepare
    const { telemetry, flushed } = recordingTelemetry();
    const checks = [
      { name: 'longRunningQueries', value: 130, unit: 'seconds', verdict: 'critical' as const },
      { name: 'replica lag/us-east-1', value: 12, unit: 'widgets', verdict: 'ok' as const },
    ];
    // Act
    recordDecisionMetrics(telemetry, { action: 'backoff', waitSeconds: 8, paceSeconds: 0 }, report(checks, 'critical'));
    telemetry.flush();
    // Assess
    assert.deepStrictEqual(flushed, [[
      { name: 'HealthVerdict', unit: 'None', value: 2 },
      { name: 'HealthCheckValue', unit: 'Seconds', value: 130, dimensions: { Check: 'longRunningQueries' } },
      { name: 'HealthCheckVerdict', unit: 'None', value: 2, dimensions: { Check: 'longRunningQueries' } },
      { name: 'HealthCheckValue', unit: 'None', value: 12, dimensions: { Check: 'replica_lag_us-east-1' } },
      { name: 'HealthCheckVerdict', unit: 'None', value: 0, dimensions: { Check: 'replica_lag_us-east-1' } },
      { name: 'BackingOff', unit: 'None', value: 1 },
      { name: 'WaitSeconds', unit: 'Seconds', value: 8, dimensions: { Wait: 'backoff' } },
    ]]);
  });

  it('records a pace wait on proceed, a pause wait, and no wait for a halt', () => {
    // Prepare
    const { telemetry, flushed } = recordingTelemetry();
    const healthy = report([], 'ok');
    // Act
    for (const decision of [
      { action: 'proceed' as const, waitSeconds: 0, paceSeconds: 3 },
      { action: 'proceed' as const, waitSeconds: 0, paceSeconds: 0 },
      { action: 'pause' as const, waitSeconds: 30, paceSeconds: 0 },
      { action: 'halt' as const, waitSeconds: 0, paceSeconds: 0 },
    ]) {
      recordDecisionMetrics(telemetry, decision, healthy);
      telemetry.flush();
    }
    // Assess
    const waits = flushed.map((points) => points.filter((p) => p.name !== 'HealthVerdict'));
    assert.deepStrictEqual(waits, [
      [{ name: 'BackingOff', unit: 'None', value: 0 }, { name: 'WaitSeconds', unit: 'Seconds', value: 3, dimensions: { Wait: 'pace' } }],
      [{ name: 'BackingOff', unit: 'None', value: 0 }],
      [{ name: 'BackingOff', unit: 'None', value: 0 }, { name: 'WaitSeconds', unit: 'Seconds', value: 30, dimensions: { Wait: 'pause' } }],
      [{ name: 'BackingOff', unit: 'None', value: 0 }],
    ]);
  });

  it('bounds the Check dimension: at most MAX_CHECK_METRICS checks per probe, names of at most 64 plain characters', () => {
    // Prepare
    const { telemetry, flushed } = recordingTelemetry();
    const many = Array.from({ length: MAX_CHECK_METRICS + 5 }, (_, i) => ({ name: `c${i}`, value: i, unit: 'count', verdict: 'ok' as const }));
    // Act
    recordDecisionMetrics(telemetry, { action: 'proceed', waitSeconds: 0, paceSeconds: 0 }, report(many, 'ok'));
    telemetry.flush();
    // Assess
    const checkNames = new Set(flushed[0].filter((p) => p.dimensions?.Check).map((p) => p.dimensions!.Check));
    assert.deepStrictEqual(checkNames.size, MAX_CHECK_METRICS);
    assert.deepStrictEqual([checkDimension('x'.repeat(100)).length, checkDimension(''), checkDimension('a b')], [64, 'unnamed', 'a_b']);
  });

  it('records a non-empty batch\'s items, rows, size and duration, and nothing for an empty one', () => {
    // Prepare
    const { telemetry, flushed } = recordingTelemetry();
    const stats = { received: 5, succeeded: 3, retried: 1, deadLettered: 1, rowsAffected: 300, durationMs: 1234, queue: { visible: 2, inFlight: 1 }, drained: false };
    // Act
    recordBatchMetrics(telemetry, 8, stats);
    telemetry.flush();
    recordBatchMetrics(telemetry, 8, { ...stats, received: 0, succeeded: 0, retried: 0, deadLettered: 0, rowsAffected: 0 });
    telemetry.flush();
    // Assess
    assert.deepStrictEqual(flushed, [[
      { name: 'BatchSize', unit: 'Count', value: 8 },
      { name: 'ItemsReceived', unit: 'Count', value: 5 },
      { name: 'ItemsProcessed', unit: 'Count', value: 3 },
      { name: 'ItemsRetried', unit: 'Count', value: 1 },
      { name: 'ItemsDeadLettered', unit: 'Count', value: 1 },
      { name: 'RowsAffected', unit: 'Count', value: 300 },
      { name: 'BatchDuration', unit: 'Milliseconds', value: 1234 },
    ], []]);
  });
});

describe('Powertools telemetry (the Lambda functions\')', () => {
  it('writes one EMF document per dimension set, in the AdaptiveBackfill namespace with the service dimension', async () => {
    // Prepare
    const telemetry = makePowertoolsTelemetry({ serviceName: 'deployment-1', namespace: 'AdaptiveBackfill' });
    // Act
    const lines = await captureJsonLines(() => {
      telemetry.metric('ItemsProcessed', 'Count', 3);
      telemetry.metric('HealthCheckValue', 'Seconds', 1.5, { Check: 'lockWaits' });
      telemetry.metric('ItemsProcessed', 'Count', 4);
      telemetry.metric('HealthCheckVerdict', 'None', 1, { Check: 'lockWaits' });
      telemetry.flush();
      telemetry.flush(); // nothing left: writes nothing
    });
    // Assess
    assert.deepStrictEqual(lines.map(emf), [
      {
        aws: { CloudWatchMetrics: [{ Namespace: 'AdaptiveBackfill', Dimensions: [['service']], Metrics: [{ Name: 'ItemsProcessed', Unit: 'Count' }] }] },
        values: { service: 'deployment-1', ItemsProcessed: [3, 4] },
      },
      {
        aws: { CloudWatchMetrics: [{ Namespace: 'AdaptiveBackfill', Dimensions: [['service', 'Check']], Metrics: [{ Name: 'HealthCheckValue', Unit: 'Seconds' }, { Name: 'HealthCheckVerdict', Unit: 'None' }] }] },
        values: { service: 'deployment-1', Check: 'lockWaits', HealthCheckValue: 1.5, HealthCheckVerdict: 1 },
      },
    ]);
  });

  it('logs JSON lines carrying runId and batchId, with credential-like fields redacted', async () => {
    // Prepare
    const telemetry = makePowertoolsTelemetry({ serviceName: 'deployment-1', namespace: 'AdaptiveBackfill' });
    // Act
    const [line] = await captureJsonLines(() => telemetry.log('info', 'batch', { runId: 'run-1', batchId: 'b-1', received: 4, password: 'hunter2', connection: { host: 'db', secretString: '{...}' } }));
    // Assess
    const { timestamp, sampling_rate: _, ...rest } = line;
    assert.ok(!Number.isNaN(Date.parse(timestamp)));
    assert.deepStrictEqual(rest, { level: 'INFO', message: 'batch', service: 'deployment-1', runId: 'run-1', batchId: 'b-1', received: 4, password: '[redacted]', connection: { host: 'db', secretString: '[redacted]' } });
  });

  it('skips a value that is not a finite number, saying so, instead of failing the invocation', async () => {
    // Prepare
    const telemetry = makePowertoolsTelemetry({ serviceName: 'deployment-1', namespace: 'AdaptiveBackfill' });
    // Act
    const lines = await captureJsonLines(() => {
      telemetry.metric('BatchDuration', 'Milliseconds', Number.NaN);
      telemetry.flush();
    });
    // Assess
    assert.deepStrictEqual(lines.map((l) => [l.level, l.message, l.metric, l.value]), [['WARN', 'metric skipped: value is not a finite number', 'BatchDuration', 'NaN']]);
  });
});

describe('instrument (the Lambda entry wrapper)', () => {
  const context = { functionName: 'probe', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:probe', memoryLimitInMB: '512', awsRequestId: 'req-1' } as Context;

  it('logs a failure with its run and the request id, flushes the metrics, and rethrows', async () => {
    // Prepare
    const telemetry = makePowertoolsTelemetry({ serviceName: 'deployment-1', namespace: 'AdaptiveBackfill' });
    const failing = async () => {
      telemetry.metric('BatchesFailed', 'Count', 1);
      throw new Error('database unreachable');
    };
    const handler = instrument('health probe', failing, telemetry);
    // Act
    let message: unknown;
    const all = await captureJsonLines(async () => { message = await handler({ run: { runId: 'run-7' } }, context).catch((e: Error) => e.message); });
    // Assess
    assert.equal(message, 'database unreachable');
    assert.deepStrictEqual(all.filter((l) => l.level === 'ERROR').map((l) => [l.message, l.runId, l.error, l.function_request_id]), [['health probe failed', 'run-7', 'database unreachable', 'req-1']]);
    assert.deepStrictEqual(all.filter((l) => l._aws).map((l) => l.BatchesFailed), [1]);
  });
});
