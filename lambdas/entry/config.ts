import { optional, required } from './env';

/** The backfill functions' configuration: read once, here and in env.ts only. */

const rdsInstance = optional('RDS_DB_INSTANCE_ID');
const rdsCluster = optional('RDS_DB_CLUSTER_ID');

export const config = {
  queueUrl: required('QUEUE_URL'),
  deadLetterQueueUrl: required('DEAD_LETTER_QUEUE_URL'),
  maxReceiveCount: Number(required('MAX_RECEIVE_COUNT')),
  databaseSecretArn: required('DATABASE_SECRET_ARN'),
  bookkeepingSchema: required('BOOKKEEPING_SCHEMA'),
  /** Powertools' own variable names: the `service` of every log line and metric (the deployment). */
  serviceName: required('POWERTOOLS_SERVICE_NAME'),
  metricsNamespace: required('POWERTOOLS_METRICS_NAMESPACE'),
  /** The RDS instance or Aurora cluster whose CloudWatch metrics the probe reads (the health probe only). */
  rdsDatabase: rdsInstance ? { kind: 'instance' as const, identifier: rdsInstance } : rdsCluster ? { kind: 'cluster' as const, identifier: rdsCluster } : undefined,
  /** Whether the function may read CloudWatch (GetMetricData) at all: the database's metrics, or the job's own. */
  cloudWatchMetrics: optional('CLOUDWATCH_METRICS') === 'true',
};
