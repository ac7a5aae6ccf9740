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
  /** Sent to the DLQ now, plus retries on their last receive (SQS moves those itself); not counting `foreign`. */
  readonly deadLettered: number;
  /** Items of another run, sent to the DLQ untouched (see foreignRunReason). */
  readonly foreign: number;
}

/**
 * The work queue is shared by the deployment's runs, one at a time. A message of another run (left in the queue
 * when that run was aborted or crashed, and a fresh run started) must not be worked on here: its dedupe key is
 * its own run's, so working it would repeat an effect this run makes under its own key, and its progress would
 * count nowhere. Nor may it stay, or this run would never drain. It goes to the DLQ untouched, with this reason
 * and a final failure recorded under its own run: visible there, and redrivable when that run is resumed.
 */
export function foreignRunReason(runId: string, item: WorkItem): string | undefined {
  if (item.runId === runId) return undefined;
  return `belongs to run ${item.runId}, not ${runId} (the run executing); redrive it when run ${item.runId} runs again`;
}

/** The items the job runs on: parsed, and of this run. settle() pairs its outcomes with them, in order. */
export function itemsToRun(runId: string, parsed: readonly ParsedMessage[]): Array<{ readonly message: Message; readonly item: WorkItem }> {
  return parsed.filter((p): p is { message: Message; item: WorkItem } => 'item' in p && foreignRunReason(runId, p.item) === undefined);
}

/** Delay before a retried item is visible again: doubles with each receive, capped at a minute. */
export function retryDelaySeconds(attempt: number): number {
  return Math.min(60, 2 ** Math.max(0, attempt - 1));
}

/** Pairs each parsed message with its outcome (the itemsToRun, in order) and decides its fate. */
export function settle(runId: string, parsed: readonly ParsedMessage[], outcomes: readonly ItemOutcome[], maxReceiveCount: number): Settlement {
  const s: { -readonly [K in keyof Settlement]: Settlement[K] } = { done: [], deadLetters: [], retries: [], failures: [], succeeded: 0, rowsAffected: 0, deadLettered: 0, foreign: 0 };
  let next = 0;
  for (const p of parsed) {
    const attempt = receiveCount(p.message);
    const base = { runId, messageId: p.message.MessageId, attempt };
    if ('reason' in p) {
      s.deadLetters.push({ message: p.message, reason: p.reason });
      s.failures.push({ ...base, error: p.reason, final: true });
      continue;
    }
    const foreign = foreignRunReason(runId, p.item);
    if (foreign !== undefined) {
      s.deadLetters.push({ message: p.message, reason: foreign });
      s.failures.push({ ...base, runId: p.item.runId, dedupeKey: p.item.dedupeKey, error: foreign, final: true });
      s.foreign += 1;
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
  s.deadLettered += s.deadLetters.length - s.foreign;
  return s;
}
