import type { Message } from '@aws-sdk/client-sqs';
import type { ItemOutcome } from '../core/job';
import type { WorkItem } from '../core/work-item';
import type { FailureRecord } from '../db/failures';
import { receiveCount } from '../queue/work-queue';

export type ParsedMessage = { readonly message: Message; readonly item: WorkItem } | { readonly message: Message; readonly reason: string };

/** What to do with every message of a batch, decided without I/O. */
export interface Settlement {
  /** Delete from the work queue: succeeded, or already copied to the DLQ. */
  readonly done: Message[];
  /** Copy to the DLQ with the reason first (they can never succeed). */
  readonly deadLetters: Array<{ readonly message: Message; readonly reason: string }>;
  /** Hand back for a later try, each after its delay. */
  readonly retries: Array<{ readonly message: Message; readonly delaySeconds: number }>;
  readonly failures: FailureRecord[];
  readonly succeeded: number;
  readonly rowsAffected: number;
  /** Sent to the DLQ now, plus retries on their last receive (SQS moves those itself). */
  readonly deadLettered: number;
}

/** Delay before a retried item is visible again: doubles with each receive, capped at a minute. */
export function retryDelaySeconds(attempt: number): number {
  return Math.min(60, 2 ** Math.max(0, attempt - 1));
}

/** Pairs each parsed message with its outcome (valid items in order) and decides its fate. */
export function settle(runId: string, parsed: readonly ParsedMessage[], outcomes: readonly ItemOutcome[], maxReceiveCount: number): Settlement {
  const s: { -readonly [K in keyof Settlement]: Settlement[K] } = { done: [], deadLetters: [], retries: [], failures: [], succeeded: 0, rowsAffected: 0, deadLettered: 0 };
  let next = 0;
  for (const p of parsed) {
    const attempt = receiveCount(p.message);
    const base = { runId, messageId: p.message.MessageId, attempt };
    if ('reason' in p) {
      s.deadLetters.push({ message: p.message, reason: p.reason });
      s.failures.push({ ...base, error: p.reason, final: true });
      continue;
    }
    const outcome = outcomes[next++];
    const failure = { ...base, dedupeKey: p.item.dedupeKey };
    if (outcome.status === 'ok') {
      s.done.push(p.message);
      s.succeeded += 1;
      s.rowsAffected += outcome.rowsAffected ?? 0;
    } else if (outcome.status === 'fail') {
      s.deadLetters.push({ message: p.message, reason: outcome.reason });
      s.failures.push({ ...failure, error: outcome.reason, stack: outcome.stack, final: true });
    } else {
      const final = attempt >= maxReceiveCount;
      s.retries.push({ message: p.message, delaySeconds: retryDelaySeconds(attempt) });
      s.failures.push({ ...failure, error: outcome.reason, stack: outcome.stack, final });
      if (final) s.deadLettered += 1;
    }
  }
  s.done.push(...s.deadLetters.map((d) => d.message));
  s.deadLettered += s.deadLetters.length;
  return s;
}
