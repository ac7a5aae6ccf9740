/** The only place the Lambda functions read process.env. */
function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set (the AdaptiveBackfill construct sets it)`);
  return value;
}

function optional(name: string): string | undefined {
  return process.env[name] || undefined;
}

const rdsInstance = optional('RDS_DB_INSTANCE_ID');
const rdsCluster = optional('RDS_DB_CLUSTER_ID');

export const config = {
  queueUrl: required('QUEUE_URL'),
  deadLetterQueueUrl: required('DEAD_LETTER_QUEUE_URL'),
  maxReceiveCount: Number(required('MAX_RECEIVE_COUNT')),
  databaseSecretArn: required('DATABASE_SECRET_ARN'),
  bookkeepingSchema: required('BOOKKEEPING_SCHEMA'),
  /** The RDS instance or Aurora cluster whose CloudWatch metrics the probe reads (the health probe only). */
  rdsDatabase: rdsInstance ? { kind: 'instance' as const, identifier: rdsInstance } : rdsCluster ? { kind: 'cluster' as const, identifier: rdsCluster } : undefined,
  /** Whether the function may read CloudWatch (GetMetricData) at all: the database's metrics, or the job's own. */
  cloudWatchMetrics: optional('CLOUDWATCH_METRICS') === 'true',
};
