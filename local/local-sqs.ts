import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { freePort } from './free-port';
import { localRuntime } from './runtime';

export interface LocalQueues {
  readonly sqs: SQSClient;
  readonly endpoint: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  close(): Promise<void>;
}

export interface LocalQueueOptions {
  readonly maxReceiveCount: number;
  readonly visibilityTimeoutSeconds: number;
}

/** An SQS-compatible server in this process, with a work queue that redrives to a DLQ like the deployed one. */
export async function startLocalQueues(options: LocalQueueOptions): Promise<LocalQueues> {
  const { createSqsServer } = await localRuntime();
  const port = await freePort();
  const server = await createSqsServer({ port, hostname: '127.0.0.1' });
  const endpoint = `http://127.0.0.1:${port}`;
  const sqs = new SQSClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: 'backfill-dlq', Attributes: { MessageRetentionPeriod: '1209600' } }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }));
  const queue = await sqs.send(new CreateQueueCommand({
    QueueName: 'backfill-work',
    Attributes: {
      VisibilityTimeout: String(options.visibilityTimeoutSeconds),
      MessageRetentionPeriod: '1209600',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount: options.maxReceiveCount }),
    },
  }));
  return {
    sqs,
    endpoint,
    queueUrl: queue.QueueUrl!,
    deadLetterQueueUrl: dlq.QueueUrl!,
    close: async () => {
      sqs.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
