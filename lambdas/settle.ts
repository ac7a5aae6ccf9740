import type { Message } from '@aws-sdk/client-sqs';
import type { WorkItem } from '../core/work-item';
import type { FailureRecord } from '../db/failures';
import { receiveCount } from '../queue/work-queue';
import type { JobOutcome } from './run-job';

export type ParsedMessage = { readonly message: Message; readonly item: WorkItem } | { readonly message: Message; readonly reason: string };
export type RunnableMessage = { readonly message: Message; readonly item: WorkItem };
export type DeadLetter = { readonly message: Message; readonly reason: string };

/**
 * A batch sorted before the job runs: the items it runs on, and the messages it never needs (malformed, or of
 * another run). Those are settled first, so they end in the DLQ with their reason whatever happens to the job.
 */
export interface Triage {
  /** The items the job runs on: parsed, and of this run, in the batch's order. settle() pairs its outcomes with them. */
  readonly toRun: RunnableMessage[];
  /** Copy to the DLQ with the reason, then delete: they can never succeed here. */
  readonly deadLetters: DeadLetter[];
  /** One final failure per dead letter (a foreign item's under its own run). */
  readonly failures: FailureRecord[];
  /** Malformed bodies among the dead letters. */
  readonly malformed: number;
  /** Items of another run among the dead letters (see foreignRunReason). */
  readonly foreign: number;
}

/** What to do with every message the job ran on, decided from its outcome without I/O. */
export interface Settlement {
  /** Delete from the work queue: succeeded, or already copied to the DLQ. */
  readonly done: Message[];
  /** Copy to the DLQ with the reason first (they can never succeed). */
  readonly deadLetters: DeadLetter[];
  /** Hand back for a later try, each after its delay. */
  readonly retries: Array<{ readonly message: Message; readonly delaySeconds: number }>;
  /** Hand back uncharged (a fresh copy, then delete): never tried in earnest, so no retry is used up. */
  readonly untried: Message[];
  readonly failures: FailureRecord[];
  readonly succeeded: number;
  readonly rowsAffected: number;
  /** Sent to the DLQ now, plus retries on their last receive (SQS moves those itself). */
  readonly deadLettered: number;
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

/** Sorts a batch into the items the job runs on and the dead letters it never needs, without I/O. */
export function triage(runId: string, parsed: readonly ParsedMessage[]): Triage {
  const t: { -readonly [K in keyof Triage]: Triage[K] } = { toRun: [], deadLetters: [], failures: [], malformed: 0, foreign: 0 };
  for (const p of parsed) {
    const base = { runId, messageId: p.message.MessageId, attempt: receiveCount(p.message) };
    if ('reason' in p) {
      t.deadLetters.push({ message: p.message, reason: p.reason });
      t.failures.push({ ...base, error: p.reason, final: true });
      t.malformed += 1;
      continue;
    }
    const foreign = foreignRunReason(runId, p.item);
    if (foreign === undefined) {
      t.toRun.push(p);
      continue;
    }
    t.deadLetters.push({ message: p.message, reason: foreign });
    t.failures.push({ ...base, runId: p.item.runId, dedupeKey: p.item.dedupeKey, error: foreign, final: true });
    t.foreign += 1;
  }
  return t;
}

/** Delay before a retried item is visible again: doubles with each receive, capped at a minute. */
export function retryDelaySeconds(attempt: number): number {
  return Math.min(60, 2 ** Math.max(0, attempt - 1));
}

/**
 * Pairs each item the job ran on (triage's toRun, in order) with its outcome and decides its fate. A retry is
 * final when the queue moves it to the DLQ before its next receive: its receives, plus what handing it back
 * counts (`receivesPerRelease`, see HandlerDeps), reach maxReceiveCount.
 */
export function settle(runId: string, toRun: readonly RunnableMessage[], outcomes: readonly JobOutcome[], maxReceiveCount: number, receivesPerRelease = 0): Settlement {
  const s: { -readonly [K in keyof Settlement]: Settlement[K] } = { done: [], deadLetters: [], retries: [], untried: [], failures: [], succeeded: 0, rowsAffected: 0, deadLettered: 0 };
  toRun.forEach((p, i) => {
    const outcome = outcomes[i];
    const attempt = receiveCount(p.message);
    const failure = { runId, messageId: p.message.MessageId, attempt, dedupeKey: p.item.dedupeKey };
    if (outcome.status === 'ok') {
      s.done.push(p.message);
      s.succeeded += 1;
      s.rowsAffected += outcome.rowsAffected ?? 0;
    } else if (outcome.status === 'untried') {
      s.untried.push(p.message);
    } else if (outcome.status === 'fail') {
      s.deadLetters.push({ message: p.message, reason: outcome.reason });
      s.failures.push({ ...failure, error: outcome.reason, stack: outcome.stack, final: true });
    } else {
      const final = attempt + receivesPerRelease >= maxReceiveCount;
      s.retries.push({ message: p.message, delaySeconds: retryDelaySeconds(attempt) });
      s.failures.push({ ...failure, error: outcome.reason, stack: outcome.stack, final });
      if (final) s.deadLettered += 1;
    }
  });
  s.done.push(...s.deadLetters.map((d) => d.message));
  s.deadLettered += s.deadLetters.length;
  return s;
}
