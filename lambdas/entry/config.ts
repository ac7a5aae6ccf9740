import { required } from './env';

/** The backfill functions' configuration: read once, here and in env.ts only. */

export const config = {
  queueUrl: required('QUEUE_URL'),
  deadLetterQueueUrl: required('DEAD_LETTER_QUEUE_URL'),
  maxReceiveCount: Number(required('MAX_RECEIVE_COUNT')),
  databaseSecretArn: required('DATABASE_SECRET_ARN'),
  bookkeepingSchema: required('BOOKKEEPING_SCHEMA'),
  /** Powertools' own variable names: the `service` of every log line and metric (the deployment). */
  serviceName: required('POWERTOOLS_SERVICE_NAME'),
  metricsNamespace: required('POWERTOOLS_METRICS_NAMESPACE'),
};
