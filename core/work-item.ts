import { createHash } from 'node:crypto';
import { InvalidInputError, MalformedWorkItemError } from './errors';
import { isTypedRange, type IntegerRange, type KeyRange, type TypedRange } from './key-range';

export type { IntegerRange, KeyRange, TypedRange };

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
const DECIMAL = /^-?\d+$/;
/** Range ends are compared with the job's key column, at most a Postgres bigint. */
const BIGINT_DIGITS = 19;
const BIGINT_MIN = -(2n ** 63n);
const BIGINT_MAX = 2n ** 63n - 1n;
/** The prefix of the planner's dedupe keys; a key with it names exactly its item's range (rangeDedupeKey). */
const RANGE_KEY_PREFIX = 'range:';

/** Checks a run id given on the command line against the same rule; the error names the flag. */
export function assertRunId(flag: string, runId: string): string {
  if (!RUN_ID.test(runId)) throw new InvalidInputError(flag, `must be letters, digits, _ . : - (at most 80); got ${JSON.stringify(runId)}`);
  return runId;
}

/** A key column's value written as an integer is, without leading zeros. */
const CANONICAL_INTEGER = /^(0|-?[1-9]\d*)$/;
/** PostgreSQL indexes take at most 32 columns, so a key has at most 32. */
export const MAX_KEY_COLUMNS = 32;

/**
 * The dedupe key that names a range, so one range always has one key. `range:LO-HI` for integers, written plainly
 * (no leading zeros), whether the range is `{lo, hi}` or one-column lists (`range:LO-` when open-ended), so the keys
 * of integer ranges are what they always were; otherwise `range:` and the JSON of `[lo, hi]`, or, when that would be
 * longer than a dedupe key may be, `range:sha256:` and its hash.
 */
export function rangeDedupeKey(range: KeyRange): string {
  if (!isTypedRange(range)) return `${RANGE_KEY_PREFIX}${BigInt(range.lo)}-${BigInt(range.hi)}`;
  const single = range.lo.length === 1 && (range.hi === null || range.hi.length === 1);
  if (single && CANONICAL_INTEGER.test(range.lo[0]) && (range.hi === null || CANONICAL_INTEGER.test(range.hi[0]))) {
    return `${RANGE_KEY_PREFIX}${range.lo[0]}-${range.hi?.[0] ?? ''}`;
  }
  const named = `${RANGE_KEY_PREFIX}${JSON.stringify([range.lo, range.hi])}`;
  return named.length <= MAX_DEDUPE_KEY_LENGTH ? named : `${RANGE_KEY_PREFIX}sha256:${createHash('sha256').update(named).digest('hex')}`;
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
    if (typeof range !== 'object' || range === null || Array.isArray(range)) {
      throw new MalformedWorkItemError(`range must be { "lo": "...", "hi": "..." } (an integer key) or { "lo": [...], "hi": [...] | null } (the key's values); ${described(range)}`);
    }
    if (Array.isArray(range.lo)) {
      checkTypedRange(range);
    } else {
      const lo = checkRangeEnd('lo', range.lo);
      const hi = checkRangeEnd('hi', range.hi);
      if (lo >= hi) throw new MalformedWorkItemError(`range.lo must be < range.hi; got [${range.lo}, ${range.hi})`);
    }
  }
  checkRangeKey(item.dedupeKey, item.range as KeyRange | undefined);
  return value as WorkItem;
}

/** A range end: an integer as a decimal string that fits a bigint, else the item is malformed at once. */
function checkRangeEnd(end: 'lo' | 'hi', value: unknown): bigint {
  if (typeof value !== 'string' || !DECIMAL.test(value)) {
    throw new MalformedWorkItemError(`range.${end} must be an integer written as a decimal string, e.g. "1001"; ${described(value)}`);
  }
  const n = value.replace('-', '').length <= BIGINT_DIGITS ? BigInt(value) : undefined;
  if (n === undefined || n < BIGINT_MIN || n > BIGINT_MAX) {
    throw new MalformedWorkItemError(`range.${end} must fit a bigint (${BIGINT_MIN} to ${BIGINT_MAX}, at most ${BIGINT_DIGITS} digits); ${described(value)}`);
  }
  return n;
}

/**
 * A range as lists of the key's values (the key's columns in order, each value its column's text form): `lo` a
 * non-empty list of strings, `hi` null (open-ended) or a list as long. Whether the values fit the key's types and
 * lo < hi is the database's to say (an empty range changes nothing); the count of columns is checked per job.
 */
function checkTypedRange(range: Record<string, unknown>): void {
  const lo = range.lo as unknown[];
  if (lo.length === 0 || lo.length > MAX_KEY_COLUMNS) throw new MalformedWorkItemError(`range.lo must list 1 to ${MAX_KEY_COLUMNS} values, one per key column; got ${lo.length}`);
  const checkValues = (end: 'lo' | 'hi', values: unknown[]) => values.forEach((value, i) => {
    if (typeof value !== 'string') throw new MalformedWorkItemError(`range.${end}[${i}] must be a string (the key column's value as text, e.g. "2026-01-31T00:00:00Z" or "42"); ${described(value)}`);
  });
  checkValues('lo', lo);
  if (range.hi === null) return;
  if (!Array.isArray(range.hi) || range.hi.length !== lo.length) {
    throw new MalformedWorkItemError(`range.hi must be null (open-ended) or a list of ${lo.length} value${lo.length === 1 ? '' : 's'} like range.lo; ${described(range.hi)}`);
  }
  checkValues('hi', range.hi);
}

/**
 * A `range:` key is the planner's and names exactly its item's range: a producer's item with another range under
 * such a key would be skipped as a duplicate of the planner's item (SQL jobs claim the key, then run the range).
 */
function checkRangeKey(dedupeKey: string, range: KeyRange | undefined): void {
  if (!dedupeKey.startsWith(RANGE_KEY_PREFIX)) return;
  const hint = 'give a producer\'s own keys another prefix';
  if (range === undefined) {
    throw new MalformedWorkItemError(`dedupeKey ${JSON.stringify(dedupeKey)} names a range, but the item has none: a "range:" key is "range:LO-HI" of its item's range; ${hint}`);
  }
  const expected = rangeDedupeKey(range);
  if (dedupeKey !== expected) {
    const shown = isTypedRange(range) ? `[${JSON.stringify(range.lo)}, ${JSON.stringify(range.hi)})` : `[${range.lo}, ${range.hi})`;
    throw new MalformedWorkItemError(`dedupeKey ${JSON.stringify(dedupeKey)} does not name the item's range ${shown}: a "range:" key must be exactly ${JSON.stringify(expected)}; ${hint}`);
  }
}
