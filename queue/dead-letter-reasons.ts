import type { ItemKey, LastFailure } from '../db/last-failures';
import type { DeadLetter } from './dead-letters';

/** Where a listed reason comes from. */
export type ReasonSource = 'message' | 'failure audit' | 'none';

export interface ExplainedDeadLetter {
  readonly messageId: string;
  readonly runId?: string;
  readonly dedupeKey?: string;
  readonly reason: string;
  readonly reasonFrom: ReasonSource;
  /** The body as it came, for a message that is not a work item. */
  readonly body?: string;
}

const MOVED_BY_SQS = 'moved by SQS after maxReceiveCount receives';

/**
 * Gives every DLQ message its reason. What the batch processor dead-lettered carries its reason as an attribute.
 * What SQS moved after maxReceiveCount carries none (any attribute on it is stale, from before a redrive), so its
 * reason is the item's last failure in the audit, when a database is at hand (`lookup`).
 */
export async function explainDeadLetters(
  letters: readonly DeadLetter[],
  lookup?: (keys: readonly ItemKey[]) => Promise<LastFailure[]>,
): Promise<ExplainedDeadLetter[]> {
  const keys = letters.flatMap((l) => (l.item ? [{ runId: l.item.runId, dedupeKey: l.item.dedupeKey }] : []));
  const failures = lookup ? await lookup(keys) : [];
  const lastFailure = (l: DeadLetter) => failures.find((f) => f.runId === l.item?.runId && f.dedupeKey === l.item?.dedupeKey);
  return letters.map((l) => {
    const base = { messageId: l.messageId, ...(l.item ? { runId: l.item.runId, dedupeKey: l.item.dedupeKey } : { body: l.body }) };
    const failure = lastFailure(l);
    if (!l.movedBySqs && l.reasonAttribute !== undefined) return { ...base, reason: l.reasonAttribute, reasonFrom: 'message' };
    if (failure) return { ...base, reason: `${failure.error} (attempt ${failure.attempt}${l.movedBySqs ? `; ${MOVED_BY_SQS}` : ''})`, reasonFrom: 'failure audit' };
    const hint = lookup ? 'no failure recorded for it' : 'give --database-url to look up its last failure';
    return { ...base, reason: `${l.movedBySqs ? MOVED_BY_SQS : 'no reason on the message'}; ${hint}`, reasonFrom: 'none' };
  });
}
