import { MalformedWorkItemError } from './errors';

/** [lo, hi) over the job's key column; integers carried as decimal strings so bigint keys stay exact. */
export interface KeyRange {
  readonly lo: string;
  readonly hi: string;
}

/**
 * The message body on the work queue. The dedupe key names the effect: two messages with the same
 * dedupe key in the same run change the database once.
 */
export interface WorkItem {
  readonly v: 1;
  readonly runId: string;
  readonly dedupeKey: string;
  readonly range?: KeyRange;
  readonly payload?: unknown;
}

const INTEGER = /^-?\d{1,20}$/;

export function rangeDedupeKey(range: KeyRange): string {
  return `range:${range.lo}-${range.hi}`;
}

export function makeRangeItem(runId: string, range: KeyRange): WorkItem {
  return { v: 1, runId, dedupeKey: rangeDedupeKey(range), range };
}

/** Parses a message body; anything that can never be processed throws MalformedWorkItemError with the reason. */
export function parseWorkItem(body: string | undefined): WorkItem {
  let value: unknown;
  try {
    value = JSON.parse(body ?? '');
  } catch {
    throw new MalformedWorkItemError(`body is not JSON: ${JSON.stringify((body ?? '').slice(0, 80))}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedWorkItemError('body must be a JSON object');
  const item = value as Record<string, unknown>;
  if (item.v !== 1) throw new MalformedWorkItemError(`v must be 1; got ${JSON.stringify(item.v)}`);
  if (typeof item.runId !== 'string' || item.runId === '') throw new MalformedWorkItemError('runId must be a non-empty string');
  if (typeof item.dedupeKey !== 'string' || item.dedupeKey === '' || item.dedupeKey.length > 512) {
    throw new MalformedWorkItemError('dedupeKey must be a non-empty string of at most 512 characters');
  }
  if (item.range !== undefined) {
    const range = item.range as Record<string, unknown>;
    if (typeof range !== 'object' || range === null) throw new MalformedWorkItemError('range must be { lo, hi }');
    for (const end of ['lo', 'hi'] as const) {
      if (typeof range[end] !== 'string' || !INTEGER.test(range[end] as string)) {
        throw new MalformedWorkItemError(`range.${end} must be an integer written as a string; got ${JSON.stringify(range[end])}`);
      }
    }
    if (BigInt(range.lo as string) >= BigInt(range.hi as string)) throw new MalformedWorkItemError(`range.lo must be < range.hi; got [${range.lo}, ${range.hi})`);
  }
  return value as WorkItem;
}
