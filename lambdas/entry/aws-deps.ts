import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import job from '@adaptive-backfill/job';
import { validateJob } from '../../core/job';
import { makeLazyCloudWatchSource } from '../../db/health/metric-source';
import type { HandlerDeps } from '../deps';
import { config } from './config';
import { makePowertoolsTelemetry } from './powertools-telemetry';
import { makeSecretPool } from './secret-pool';

export const telemetry = makePowertoolsTelemetry({ serviceName: config.serviceName, namespace: config.metricsNamespace });
/** One pool per container, re-made from the secret every few minutes or at once when its password is refused. */
const getPool = makeSecretPool({ secrets: new SecretsManagerClient({}), secretArn: config.databaseSecretArn });

export const awsDeps: HandlerDeps = {
  job: validateJob(job, 'bundled job module'),
  getPool,
  // Endpoints come from the standard resolution (AWS_ENDPOINT_URL[_SQS] where set, e.g. in LocalStack): the queue
  // URL's host is not used as the endpoint, so a LocalStack-style queue URL does not redirect calls or warn.
  sqs: new SQSClient({ useQueueUrlAsEndpoint: false }),
  queueUrl: config.queueUrl,
  deadLetterQueueUrl: config.deadLetterQueueUrl,
  maxReceiveCount: config.maxReceiveCount,
  bookkeepingSchema: config.bookkeepingSchema,
  receiveWaitSeconds: 1,
  telemetry,
  ...(config.cloudWatchMetrics ? { metrics: makeLazyCloudWatchSource(config.rdsDatabase) } : {}),
};
