import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { DIMENSION, METRIC, METRICS_NAMESPACE } from '../lambdas/telemetry';
import { backfillMetric } from './alarms';

export interface BackfillDashboardProps {
  /** The deployment's `service` dimension. */
  readonly serviceName: string;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly stateMachine: sfn.IStateMachine;
  readonly alarms: cloudwatch.IAlarm[];
}

const PERIOD = Duration.minutes(1);
const WIDTH = 8;
const HEIGHT = 6;

/**
 * One dashboard per deployment: throughput, batch size, waits, health (each check), queue and DLQ depth,
 * executions, and the alarms. Health checks are found with a SEARCH on the Check dimension, so checks added later
 * (or by a job) show up without a redeploy.
 */
export function makeBackfillDashboard(scope: Construct, id: string, props: BackfillDashboardProps): cloudwatch.Dashboard {
  const metric = (name: string, statistic: string, label: string, dimensionsMap: Record<string, string> = {}) =>
    backfillMetric(props.serviceName, name, { period: PERIOD, statistic, label, dimensionsMap });
  const perCheck = (name: string, statistic: string) =>
    new cloudwatch.MathExpression({
      expression: `SEARCH('{${METRICS_NAMESPACE},${DIMENSION.check},service} MetricName="${name}" service="${props.serviceName}"', '${statistic}', ${PERIOD.toSeconds()})`,
      usingMetrics: {},
      label: '',
      period: PERIOD,
    });
  const waits = (['backoff', 'pause', 'pace'] as const).map((kind) => metric(METRIC.waitSeconds, cloudwatch.Stats.SUM, `${kind} seconds`, { [DIMENSION.wait]: kind }));
  const machine = props.stateMachine;

  const dashboard = new cloudwatch.Dashboard(scope, id, { defaultInterval: Duration.hours(3) });
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Throughput (per minute)',
      left: [metric(METRIC.itemsProcessed, cloudwatch.Stats.SUM, 'items done')],
      right: [metric(METRIC.rowsAffected, cloudwatch.Stats.SUM, 'rows affected')],
      width: WIDTH,
      height: HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Batch size and duration',
      left: [metric(METRIC.batchSize, cloudwatch.Stats.AVERAGE, 'batch size asked'), metric(METRIC.itemsReceived, cloudwatch.Stats.AVERAGE, 'items received')],
      right: [metric(METRIC.batchDuration, cloudwatch.Stats.AVERAGE, 'batch ms (avg)'), metric(METRIC.batchDuration, cloudwatch.Stats.p(90), 'batch ms (p90)')],
      width: WIDTH,
      height: HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Waits (seconds chosen per minute)',
      left: waits,
      right: [metric(METRIC.backingOff, cloudwatch.Stats.MAXIMUM, 'backing off (1 = yes)')],
      stacked: true,
      width: WIDTH,
      height: HEIGHT,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Health verdict (0 ok, 1 warning, 2 critical)',
      left: [metric(METRIC.healthVerdict, cloudwatch.Stats.MAXIMUM, 'report'), perCheck(METRIC.healthCheckVerdict, cloudwatch.Stats.MAXIMUM)],
      leftYAxis: { min: 0, max: 2 },
      width: WIDTH,
      height: HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Health checks (measured values)',
      left: [perCheck(METRIC.healthCheckValue, cloudwatch.Stats.MAXIMUM)],
      width: WIDTH,
      height: HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Failures',
      left: [
        metric(METRIC.itemsRetried, cloudwatch.Stats.SUM, 'items retried'),
        metric(METRIC.itemsDeadLettered, cloudwatch.Stats.SUM, 'items dead-lettered'),
        metric(METRIC.batchesFailed, cloudwatch.Stats.SUM, 'batches failed'),
      ],
      width: WIDTH,
      height: HEIGHT,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Work queue depth',
      left: [
        props.queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: cloudwatch.Stats.MAXIMUM, label: 'waiting' }),
        props.queue.metricApproximateNumberOfMessagesNotVisible({ period: PERIOD, statistic: cloudwatch.Stats.MAXIMUM, label: 'in flight / retrying' }),
      ],
      width: WIDTH,
      height: HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Dead-letter queue depth',
      left: [props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: cloudwatch.Stats.MAXIMUM, label: 'dead letters' })],
      width: WIDTH,
      height: HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Executions',
      left: [
        machine.metricStarted({ period: PERIOD, label: 'started' }),
        machine.metricSucceeded({ period: PERIOD, label: 'succeeded' }),
        machine.metricFailed({ period: PERIOD, label: 'failed' }),
        machine.metricAborted({ period: PERIOD, label: 'aborted' }),
      ],
      width: WIDTH,
      height: HEIGHT,
    }),
  );
  dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: props.alarms, width: 3 * WIDTH, height: 3 }));
  return dashboard;
}
