import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { WorkItem } from '../core/work-item';

/** SQS takes at most 10 entries per batch call. */
const SQS_BATCH = 10;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function assertNoFailures(operation: string, failed: ReadonlyArray<{ Id?: string; Message?: string }> | undefined): void {
  if (failed && failed.length > 0) {
    throw new Error(`${operation} failed for ${failed.length} entries: ${failed.map((f) => `${f.Id}: ${f.Message}`).join('; ')}`);
  }
}

/**
 * A receipt handle goes stale when the message's visibility timeout expired and it was received again (by another
 * processor, in the middle of this batch) or became visible again. Nothing is lost: the message is still in the
 * queue, and its next processing finds the effect claimed. So these entries are counted, never thrown.
 */
const STALE_HANDLE = /ReceiptHandleIsInvalid|MessageNotInflight/;

function staleEntries(operation: string, failed: ReadonlyArray<{ Id?: string; Code?: string; Message?: string }> | undefined): number {
  const stale = (failed ?? []).filter((f) => STALE_HANDLE.test(f.Code ?? ''));
  assertNoFailures(operation, (failed ?? []).filter((f) => !stale.includes(f)));
  return stale.length;
}

export async function sendItems(sqs: SQSClient, queueUrl: string, items: readonly WorkItem[]): Promise<void> {
  await Promise.all(
    chunks(items, SQS_BATCH).map(async (group) => {
      const result = await sqs.send(new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: group.map((item, i) => ({ Id: String(i), MessageBody: JSON.stringify(item) })),
      }));
      assertNoFailures('SendMessageBatch', result.Failed);
    }),
  );
}

/** Receive calls in flight at once: one call returns at most 10 messages, and each call costs a round trip. */
const PARALLEL_RECEIVES = 10;

/**
 * Receives up to `max` messages with up to PARALLEL_RECEIVES concurrent calls of 10, stopping once a call comes
 * back short (the queue has nothing more visible right now). Only the first round long-polls.
 */
export async function receiveMessages(sqs: SQSClient, queueUrl: string, max: number, waitTimeSeconds: number): Promise<Message[]> {
  const messages: Message[] = [];
  let first = true;
  while (messages.length < max) {
    const wanted = max - messages.length;
    const sizes = Array.from({ length: Math.min(PARALLEL_RECEIVES, Math.ceil(wanted / SQS_BATCH)) }, (_, i) => Math.min(SQS_BATCH, wanted - i * SQS_BATCH));
    const rounds = await Promise.all(sizes.map(async (size) => {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: size,
        WaitTimeSeconds: first ? waitTimeSeconds : 0,
        // local-aws-sqs reads AttributeNames only (where 'All' covers the receive count); real SQS reads both.
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }));
      return { size, received: Messages };
    }));
    first = false;
    for (const round of rounds) messages.push(...round.received);
    if (rounds.some((round) => round.received.length < round.size)) break;
  }
  return messages;
}

export function receiveCount(message: Message): number {
  return Number(message.Attributes?.ApproximateReceiveCount ?? '1');
}

/** Deletes messages; returns how many had stale receipt handles (received again elsewhere: see STALE_HANDLE). */
export async function deleteMessages(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<number> {
  const stale = await Promise.all(
    chunks(messages, SQS_BATCH).map(async (group) => {
      const result = await sqs.send(new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: group.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }));
      return staleEntries('DeleteMessageBatch', result.Failed);
    }),
  );
  return stale.reduce((a, b) => a + b, 0);
}

/** Hands messages back for a later try, each after its own delay; returns how many had stale receipt handles. */
export async function releaseMessages(sqs: SQSClient, queueUrl: string, releases: ReadonlyArray<{ message: Message; delaySeconds: number }>): Promise<number> {
  const stale = await Promise.all(
    chunks(releases, SQS_BATCH).map(async (group) => {
      const result = await sqs.send(new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: group.map((r, i) => ({ Id: String(i), ReceiptHandle: r.message.ReceiptHandle, VisibilityTimeout: r.delaySeconds })),
      }));
      return staleEntries('ChangeMessageVisibilityBatch', result.Failed);
    }),
  );
  return stale.reduce((a, b) => a + b, 0);
}

/**
 * Hands messages back without charging a receive: each goes back as a fresh copy (receive count 0, visible after
 * `delaySeconds`) and only then is the original deleted. For items that were never tried (ranges not reached
 * before the deadline, a batch handed back unworked): their SQS receive count drives maxReceiveCount, and
 * throttling must not use it up. Copy before delete: a crash in between leaves two copies, never none, and the
 * dedupe key makes the second one change nothing. Returns how many originals had stale receipt handles (received
 * again elsewhere meanwhile; that copy is settled there, and this one changes nothing twice).
 */
export async function handBackUncharged(sqs: SQSClient, queueUrl: string, messages: readonly Message[], delaySeconds = 0): Promise<number> {
  if (messages.length === 0) return 0;
  await Promise.all(
    chunks(messages, SQS_BATCH).map(async (group) => {
      const result = await sqs.send(new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: group.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '', ...(delaySeconds > 0 ? { DelaySeconds: delaySeconds } : {}) })),
      }));
      assertNoFailures('SendMessageBatch', result.Failed);
    }),
  );
  return deleteMessages(sqs, queueUrl, messages);
}

/** Moves a message that can never succeed to the DLQ at once, with its reason as an attribute. */
export async function deadLetter(sqs: SQSClient, deadLetterQueueUrl: string, message: Message, reason: string): Promise<void> {
  await sqs.send(new SendMessageCommand({
    QueueUrl: deadLetterQueueUrl,
    MessageBody: message.Body ?? '',
    MessageAttributes: {
      reason: { DataType: 'String', StringValue: reason.slice(0, 1000) },
      sourceMessageId: { DataType: 'String', StringValue: message.MessageId ?? 'unknown' },
    },
  }));
}

export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({
    QueueUrl: queueUrl,
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
  }));
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}
