import type pg from 'pg';
import type { JobDefinition } from '../../core/job';
import type { HandlerDeps } from '../../lambdas/deps';
import type { LocalQueues } from '../../local/local-sqs';

/**
 * What the handlers need in a test: the test's pool and local SQS queues (which count a ChangeMessageVisibility
 * as a receive), no long poll; the rest as given.
 */
export function localDeps(
  job: JobDefinition,
  pool: pg.Pool,
  queues: Pick<LocalQueues, 'sqs' | 'queueUrl' | 'deadLetterQueueUrl'>,
  options: { readonly bookkeepingSchema: string; readonly maxReceiveCount: number } & Partial<HandlerDeps>,
): HandlerDeps {
  return { job, getPool: async () => pool, sqs: queues.sqs, queueUrl: queues.queueUrl, deadLetterQueueUrl: queues.deadLetterQueueUrl, receiveWaitSeconds: 0, receivesPerRelease: 1, ...options };
}
