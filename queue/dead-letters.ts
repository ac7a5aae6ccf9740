import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  StartMessageMoveTaskCommand,
  type ListMessageMoveTasksResultEntry,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { BackfillError } from '../core/errors';
import { parseWorkItem, type WorkItem } from '../core/work-item';
import { queueDepth } from './work-queue';

/** SQS's ceiling for MaxNumberOfMessagesPerSecond of a message move task. */
export const MAX_REDRIVE_RATE = 500;
/** How long peeked messages stay hidden while a listing collects them; they are handed back at once after. */
const PEEK_VISIBILITY_SECONDS = 30;

/** One message in the DLQ, as `backfill dlq list` shows it. */
export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  /** The work item, when the body is one (a malformed body is kept as it came). */
  readonly item?: WorkItem;
  /** The `reason` attribute the batch processor puts on what it dead-letters itself (fail outcome, malformed body). */
  readonly reasonAttribute?: string;
  /** SQS moved it after maxReceiveCount receives (it names the source queue); such a message has no reason of its own. */
  readonly movedBySqs: boolean;
}

/** Messages in the queue: visible, in flight and delayed (SQS's approximate counts). */
export async function countMessages(sqs: SQSClient, queueUrl: string): Promise<number> {
  const depth = await queueDepth(sqs, queueUrl);
  return depth.visible + depth.inFlight + depth.delayed;
}

/**
 * Reads up to `limit` DLQ messages without consuming them: they are received (hidden meanwhile, so one listing
 * does not see a message twice) and then made visible again. Stops early when SQS returns nothing new.
 * The first receive long-polls `waitSeconds`, since a short poll of a nearly empty queue on AWS can miss.
 */
export async function peekDeadLetters(sqs: SQSClient, deadLetterQueueUrl: string, limit: number, waitSeconds = 1): Promise<DeadLetter[]> {
  const seen = new Map<string, Message>();
  const received: Message[] = [];
  try {
    let first = true;
    while (seen.size < limit) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MaxNumberOfMessages: Math.min(10, limit - seen.size),
        VisibilityTimeout: PEEK_VISIBILITY_SECONDS,
        WaitTimeSeconds: first ? waitSeconds : 0,
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }));
      first = false;
      received.push(...Messages);
      const fresh = Messages.filter((m) => !seen.has(m.MessageId!));
      if (fresh.length === 0) break;
      for (const m of fresh) seen.set(m.MessageId!, m);
    }
  } finally {
    await handBack(sqs, deadLetterQueueUrl, received);
  }
  return [...seen.values()].slice(0, limit).map(describeDeadLetter);
}

async function handBack(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const group = messages.slice(i, i + 10);
    const { Failed = [] } = await sqs.send(new ChangeMessageVisibilityBatchCommand({
      QueueUrl: queueUrl,
      Entries: group.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
    }));
    // A handle received twice in one listing is stale; its newer handle is handed back too. Anything else comes
    // back by itself after PEEK_VISIBILITY_SECONDS, so it is reported, not fatal.
    const real = Failed.filter((f) => !/ReceiptHandleIsInvalid|MessageNotInflight/.test(f.Code ?? ''));
    if (real.length > 0) process.emitWarning(`dlq: ${real.length} messages stay hidden for ${PEEK_VISIBILITY_SECONDS}s: ${real[0].Message}`);
  }
}

function describeDeadLetter(message: Message): DeadLetter {
  let item: WorkItem | undefined;
  try {
    item = parseWorkItem(message.Body);
  } catch {
    item = undefined;
  }
  return {
    messageId: message.MessageId!,
    body: message.Body ?? '',
    ...(item ? { item } : {}),
    ...(message.MessageAttributes?.reason?.StringValue !== undefined ? { reasonAttribute: message.MessageAttributes.reason.StringValue } : {}),
    movedBySqs: message.Attributes?.DeadLetterQueueSourceArn !== undefined,
  };
}

export async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  if (!Attributes.QueueArn) throw new BackfillError(`queue ${queueUrl} did not report its ARN`);
  return Attributes.QueueArn;
}

/** A message move task as ListMessageMoveTasks reports it. */
export interface MoveTaskProgress {
  readonly status: string;
  readonly moved: number;
  readonly toMove: number;
  readonly maxPerSecond?: number;
  readonly failureReason?: string;
  readonly startedAt: number;
}

function progressOf(entry: ListMessageMoveTasksResultEntry): MoveTaskProgress {
  return {
    status: entry.Status ?? 'UNKNOWN',
    moved: entry.ApproximateNumberOfMessagesMoved ?? 0,
    toMove: entry.ApproximateNumberOfMessagesToMove ?? 0,
    ...(entry.MaxNumberOfMessagesPerSecond !== undefined ? { maxPerSecond: entry.MaxNumberOfMessagesPerSecond } : {}),
    ...(entry.FailureReason ? { failureReason: entry.FailureReason } : {}),
    startedAt: entry.StartedTimestamp ?? 0,
  };
}

async function listMoveTasks(sqs: SQSClient, sourceArn: string): Promise<ListMessageMoveTasksResultEntry[]> {
  const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }));
  return [...Results].sort((a, b) => (b.StartedTimestamp ?? 0) - (a.StartedTimestamp ?? 0));
}

export interface Redrive {
  readonly sourceArn: string;
  readonly destinationArn: string;
  readonly taskHandle: string;
}

/**
 * Starts a message move task from the DLQ back to the work queue, at most `maxPerSecond` messages a second
 * (SQS's default, about 500, when absent). The destination is always named: messages the batch processor
 * dead-lettered itself have no source SQS could work out. SQS runs one task per DLQ at a time.
 */
export async function startRedrive(sqs: SQSClient, deadLetterQueueUrl: string, queueUrl: string, maxPerSecond?: number): Promise<Redrive> {
  const [sourceArn, destinationArn] = await Promise.all([queueArn(sqs, deadLetterQueueUrl), queueArn(sqs, queueUrl)]);
  const running = (await listMoveTasks(sqs, sourceArn)).find((t) => t.Status === 'RUNNING');
  if (running) {
    const p = progressOf(running);
    throw new BackfillError(`a redrive of this DLQ is already running (${p.moved} of ${p.toMove} moved); SQS runs one at a time: wait for it, or cancel it with aws sqs cancel-message-move-task`);
  }
  const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({
    SourceArn: sourceArn,
    DestinationArn: destinationArn,
    ...(maxPerSecond !== undefined ? { MaxNumberOfMessagesPerSecond: maxPerSecond } : {}),
  }));
  return { sourceArn, destinationArn, taskHandle: TaskHandle! };
}

export interface FollowOptions {
  /** Called whenever the reported progress changes. */
  readonly onProgress?: (progress: MoveTaskProgress) => void;
  readonly pollMs?: number;
}

/**
 * Polls ListMessageMoveTasks until the redrive is no longer RUNNING and returns its last state. A finished task
 * loses its handle in the listing, so it is recognised by its start time once seen, else it is the latest task.
 */
export async function followRedrive(sqs: SQSClient, redrive: Redrive, options: FollowOptions = {}): Promise<MoveTaskProgress> {
  let startedAt: number | undefined;
  let last: string | undefined;
  for (;;) {
    const tasks = await listMoveTasks(sqs, redrive.sourceArn);
    const entry = tasks.find((t) => t.TaskHandle === redrive.taskHandle) ?? (startedAt !== undefined ? tasks.find((t) => t.StartedTimestamp === startedAt) : tasks[0]);
    if (!entry) throw new BackfillError(`the redrive task of ${redrive.sourceArn} is no longer listed`);
    const progress = progressOf(entry);
    startedAt = progress.startedAt;
    const shown = JSON.stringify([progress.status, progress.moved, progress.toMove]);
    if (shown !== last) options.onProgress?.(progress);
    last = shown;
    if (progress.status !== 'RUNNING') return progress;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
}

/**
 * Purges the DLQ and returns about how many messages it held. SQS deletes them within 60 seconds and takes one
 * purge per queue per 60 seconds.
 */
export async function purgeDeadLetters(sqs: SQSClient, deadLetterQueueUrl: string): Promise<number> {
  const count = await countMessages(sqs, deadLetterQueueUrl);
  try {
    await sqs.send(new PurgeQueueCommand({ QueueUrl: deadLetterQueueUrl }));
  } catch (error) {
    if ((error as Error).name === 'PurgeQueueInProgress') {
      throw new BackfillError('a purge of the DLQ is already in progress: SQS takes one purge per queue every 60 seconds', { cause: error });
    }
    throw error;
  }
  return count;
}
