import assert from 'node:assert/strict';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { after, before, describe, it } from 'node:test';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { countMessages } from '../../queue/dead-letters';
import { deleteMessages, releaseMessages } from '../../queue/work-queue';

describe('settling messages that were received again during the batch (local SQS server)', () => {
  let queues: LocalQueues;
  before(async () => {
    queues = await startLocalQueues({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
  });
  after(() => queues.close());

  const receive = async (visibilityTimeout: number) => {
    const { Messages = [] } = await queues.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: visibilityTimeout }));
    return Messages[0];
  };

  it('counts a stale receipt handle instead of failing: the processor that received the message again settled it', async () => {
    // Prepare: received by A (visible again at once), then by B, which finishes first and deletes it
    await queues.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: 'm' }));
    const byA = await receive(0);
    const byB = await receive(30);
    const deletedByB = await deleteMessages(queues.sqs, queues.queueUrl, [byB]);
    // Act: A settles late, with its old handle
    const releasedByA = await releaseMessages(queues.sqs, queues.queueUrl, [{ message: byA, delaySeconds: 5 }]);
    const deletedByA = await deleteMessages(queues.sqs, queues.queueUrl, [byA]);
    // Assess
    assert.equal(byA.MessageId, byB.MessageId);
    assert.deepStrictEqual([deletedByB, releasedByA, deletedByA], [0, 1, 0]);
    assert.equal(await countMessages(queues.sqs, queues.queueUrl), 0);
  });

  it('still throws on any other failure', async () => {
    // Prepare
    await queues.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: 'm' }));
    const message = await receive(30);
    // Act: beyond SQS's 12-hour ceiling
    const error = await releaseMessages(queues.sqs, queues.queueUrl, [{ message, delaySeconds: 43_201 }]).catch((e: Error) => e);
    // Assess
    assert.match(String((error as Error).message), /^ChangeMessageVisibilityBatch failed for 1 entries: 0: /);
  });
});
