import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE } from '../lambdas/telemetry';

export interface BackfillAlarmsProps {
  /** The deployment's `service` dimension. */
  readonly serviceName: string;
  readonly deadLetterQueue: sqs.IQueue;
  readonly stateMachine: sfn.IStateMachine;
  /** Minutes of backing off, with no other decision in between, before the alarm fires. */
  readonly backoffMinutes: number;
  /** Notified when an alarm fires and when it returns to OK. */
  readonly alarmTopic?: sns.ITopic;
}

/** The backfill's own metric in the AdaptiveBackfill namespace, for this deployment. */
export function backfillMetric(serviceName: string, metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, ...props, dimensionsMap: { service: serviceName, ...props.dimensionsMap } });
}

/**
 * The three alarms: something reached the DLQ; an execution failed (a halted or aborted run, or a crash); the run
 * has done nothing but back off for `backoffMinutes`. Missing data (no run going on) is never an alarm.
 */
export class BackfillAlarms extends Construct {
  public readonly deadLetterQueueNotEmpty: cloudwatch.Alarm;
  public readonly executionFailed: cloudwatch.Alarm;
  public readonly backingOffTooLong: cloudwatch.Alarm;

  public constructor(scope: Construct, id: string, props: BackfillAlarmsProps) {
    super(scope, id);
    this.deadLetterQueueNotEmpty = new cloudwatch.Alarm(this, 'DeadLetterQueueNotEmpty', {
      alarmDescription: 'Work items are in the dead-letter queue: see their reasons with `backfill dlq list`, fix, then redrive.',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.executionFailed = new cloudwatch.Alarm(this, 'ExecutionFailed', {
      alarmDescription: 'A backfill execution failed: the controller halted the run (its cause says why), an operator aborted it, or a state failed.',
      metric: props.stateMachine.metricFailed({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // BackingOff is 1 for a backoff decision and 0 for any other: a minimum of 1 over the window means every
    // decision in it backed off. The probe runs at least every backoff.maxSeconds, so a window longer than that
    // always holds a decision while a run is going on.
    this.backingOffTooLong = new cloudwatch.Alarm(this, 'BackingOffTooLong', {
      alarmDescription: `The backfill has only backed off (the database stayed unhealthy) for ${props.backoffMinutes} minutes.`,
      metric: backfillMetric(props.serviceName, METRIC.backingOff, { period: Duration.minutes(props.backoffMinutes), statistic: cloudwatch.Stats.MINIMUM }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) {
      const action = new actions.SnsAction(props.alarmTopic);
      for (const alarm of this.all()) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }

  public all(): cloudwatch.Alarm[] {
    return [this.deadLetterQueueNotEmpty, this.executionFailed, this.backingOffTooLong];
  }
}
