import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import job from '@adaptive-backfill/job';
import { validateJob } from '../../core/job';
import { makeLazyCloudWatchSource } from '../../db/health/metric-source';
import { makePool } from '../../db/pool';
import type { HandlerDeps } from '../deps';
import { config } from './config';
import { readDatabaseSecret } from './database-secret';
import { makePowertoolsTelemetry } from './powertools-telemetry';

const SECRET_TTL_MS = 5 * 60_000;
export const telemetry = makePowertoolsTelemetry({ serviceName: config.serviceName, namespace: config.metricsNamespace });
const secrets = new SecretsManagerClient({});
let cached: { pool: pg.Pool; expires: number } | undefined;

/** One pool per container, re-reading the secret every few minutes so a rotated password is picked up. */
async function getPool(): Promise<pg.Pool> {
  if (cached && cached.expires > Date.now()) return cached.pool;
  const previous = cached?.pool;
  cached = { pool: makePool(await readDatabaseSecret(secrets, config.databaseSecretArn)), expires: Date.now() + SECRET_TTL_MS };
  if (previous) previous.end().catch((error: Error) => process.emitWarning(`closing the previous pool: ${error.message}`));
  return cached.pool;
}

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
