import { InvalidInputError, MalformedWorkItemError } from './errors';

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

/** The fields a work item may carry; producers (`backfill enqueue`) may use no others. */
export const WORK_ITEM_FIELDS = ['v', 'runId', 'dedupeKey', 'range', 'payload'] as const;

export const MAX_DEDUPE_KEY_LENGTH = 512;

/** The execution input's runId rule: an item names a run that can be started. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$/;
const INTEGER = /^-?\d{1,20}$/;

/** Checks a run id given on the command line against the same rule; the error names the flag. */
export function assertRunId(flag: string, runId: string): string {
  if (!RUN_ID.test(runId)) throw new InvalidInputError(flag, `must be letters, digits, _ . : - (at most 80); got ${JSON.stringify(runId)}`);
  return runId;
}

export function rangeDedupeKey(range: KeyRange): string {
  return `range:${range.lo}-${range.hi}`;
}

export function makeRangeItem(runId: string, range: KeyRange): WorkItem {
  return { v: 1, runId, dedupeKey: rangeDedupeKey(range), range };
}

/** `missing` or `got <type> <value>`, for error messages that say what arrived. */
function described(value: unknown): string {
  if (value === undefined) return 'missing';
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  const text = JSON.stringify(value) ?? String(value);
  return `got ${type} ${text.length > 60 ? `${text.slice(0, 60)}...` : text}`;
}

/** Parses a message body; anything that can never be processed throws MalformedWorkItemError with the reason. */
export function parseWorkItem(body: string | undefined): WorkItem {
  let value: unknown;
  try {
    value = JSON.parse(body ?? '');
  } catch {
    throw new MalformedWorkItemError(`body is not JSON: ${JSON.stringify((body ?? '').slice(0, 80))}`);
  }
  return checkWorkItem(value);
}

/** Checks a parsed body against the work item schema; the error names the field, what is allowed and what came. */
export function checkWorkItem(value: unknown): WorkItem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedWorkItemError(`body must be a JSON object; ${described(value)}`);
  const item = value as Record<string, unknown>;
  if (item.v !== 1) throw new MalformedWorkItemError(`v must be 1; ${described(item.v)}`);
  if (typeof item.runId !== 'string' || !RUN_ID.test(item.runId)) {
    throw new MalformedWorkItemError(`runId must be a string of letters, digits, _ . : - (at most 80); ${described(item.runId)}`);
  }
  if (typeof item.dedupeKey !== 'string' || item.dedupeKey === '' || item.dedupeKey.length > MAX_DEDUPE_KEY_LENGTH) {
    const got = typeof item.dedupeKey === 'string' && item.dedupeKey.length > MAX_DEDUPE_KEY_LENGTH ? `got ${item.dedupeKey.length} characters` : described(item.dedupeKey);
    throw new MalformedWorkItemError(`dedupeKey must be a non-empty string of at most ${MAX_DEDUPE_KEY_LENGTH} characters; ${got}`);
  }
  if (item.range !== undefined) {
    const range = item.range as Record<string, unknown>;
    if (typeof range !== 'object' || range === null || Array.isArray(range)) throw new MalformedWorkItemError(`range must be { "lo": "...", "hi": "..." }; ${described(range)}`);
    for (const end of ['lo', 'hi'] as const) {
      if (typeof range[end] !== 'string' || !INTEGER.test(range[end] as string)) {
        throw new MalformedWorkItemError(`range.${end} must be an integer written as a decimal string, e.g. "1001"; ${described(range[end])}`);
      }
    }
    if (BigInt(range.lo as string) >= BigInt(range.hi as string)) throw new MalformedWorkItemError(`range.lo must be < range.hi; got [${range.lo}, ${range.hi})`);
  }
  return value as WorkItem;
}
