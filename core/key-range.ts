import { InvalidInputError, KeyRangeError } from './errors';
import { assertIdentifier, quoteIdentifier } from './identifiers';

/**
 * The key types a range can be planned over: each has a btree ordering and a text form that casts back exactly.
 * The value is the name bound parameters are cast to (no length or precision, so a cast never truncates; `bpchar`,
 * not `character`, which would mean char(1)).
 */
export const KEY_TYPES = {
  smallint: 'smallint',
  integer: 'integer',
  bigint: 'bigint',
  numeric: 'numeric',
  text: 'text',
  varchar: 'varchar',
  char: 'bpchar',
  uuid: 'uuid',
  date: 'date',
  timestamp: 'timestamp',
  timestamptz: 'timestamptz',
} as const;

export type KeyType = keyof typeof KEY_TYPES;

/** Postgres's own type names (pg_type.typname) of the key types. */
export const KEY_TYPE_BY_TYPNAME: Readonly<Record<string, KeyType>> = {
  int2: 'smallint', int4: 'integer', int8: 'bigint', numeric: 'numeric', text: 'text', varchar: 'varchar', bpchar: 'char',
  uuid: 'uuid', date: 'date', timestamp: 'timestamp', timestamptz: 'timestamptz',
};

export const INTEGER_KEY_TYPES: readonly KeyType[] = ['smallint', 'integer', 'bigint'];

/** One column of the job's key, in key order. */
export interface KeyColumn {
  readonly name: string;
  readonly type: KeyType;
}

/** [lo, hi) over one integer key column, integers as decimal strings so bigint keys stay exact: the first form. */
export interface IntegerRange {
  readonly lo: string;
  readonly hi: string;
}

/**
 * [lo, hi) over the key's columns in key order, compared as a row (`(a, b) >= (lo...)` and `< (hi...)`) under each
 * column's collation. Values are the columns' text forms (timestamps in ISO 8601), cast back to the columns' types in
 * SQL. `hi: null` is open-ended: the last range of a plan, so rows above the planned maximum are in it too.
 */
export interface TypedRange {
  readonly lo: readonly string[];
  readonly hi: readonly string[] | null;
}

export type KeyRange = IntegerRange | TypedRange;

export function isTypedRange(range: KeyRange): range is TypedRange {
  return Array.isArray(range.lo);
}

/** Any range as lo and hi value lists (an integer range is one column). */
export function rangeValues(range: KeyRange): TypedRange {
  return isTypedRange(range) ? range : { lo: [(range as IntegerRange).lo], hi: [(range as IntegerRange).hi] };
}

/** A SQL condition over the key and the parameters it binds, in order. */
export interface RangeCondition {
  readonly sql: string;
  readonly params: readonly string[];
}

/**
 * The condition that selects exactly the rows of `range`: `"id" >= $1::bigint AND "id" < $2::bigint` for one column,
 * `("a", "b") >= ($1::text, $2::integer) AND ("a", "b") < ($3::text, $4::integer)` for several (one lower and one
 * upper bound, which Postgres turns into one index range scan), without the upper bound when the range is open.
 * Values are bound as parameters from `$startParam` on, never written into the text; `alias` qualifies the columns.
 */
export function rangeCondition(range: KeyRange, columns: readonly KeyColumn[], startParam = 1, alias?: string): RangeCondition {
  if (!Number.isSafeInteger(startParam) || startParam < 1) throw new KeyRangeError(`startParam must be a positive integer; got ${JSON.stringify(startParam)}`);
  const { lo, hi } = rangeValues(range);
  const names = columns.map((c) => c.name).join(', ');
  if (!isTypedRange(range) && (columns.length !== 1 || !INTEGER_KEY_TYPES.includes(columns[0].type))) {
    throw new KeyRangeError(`range {lo, hi} of integers fits a key of one integer column; this job's key is (${names}) of type (${columns.map((c) => c.type).join(', ')}): give range.lo and range.hi as lists of the key's values`);
  }
  if (lo.length !== columns.length || (hi !== null && hi.length !== columns.length)) {
    throw new KeyRangeError(`range has ${lo.length} lower and ${hi === null ? 'no' : hi.length} upper values; this job's key (${names}) has ${columns.length} column${columns.length === 1 ? '' : 's'}`);
  }
  const prefix = alias === undefined ? '' : `${quoteIdentifier(assertIdentifier('alias', alias))}.`;
  const cols = columns.map((c) => `${prefix}${quoteIdentifier(c.name)}`);
  const row = (items: readonly string[]) => (items.length === 1 ? items[0] : `(${items.join(', ')})`);
  const placeholders = (from: number) => columns.map((c, i) => `$${from + i}::${KEY_TYPES[c.type]}`);
  const lower = `${row(cols)} >= ${row(placeholders(startParam))}`;
  if (hi === null) return { sql: lower, params: [...lo] };
  return { sql: `${lower} AND ${row(cols)} < ${row(placeholders(startParam + columns.length))}`, params: [...lo, ...hi] };
}

/** `{{range}}`, or `{{range:alias}}` with the key's columns qualified by a table alias. */
const PLACEHOLDER = /\{\{\s*range(?:\s*:\s*([A-Za-z_][A-Za-z0-9_]*))?\s*\}\}/g;
const ANY_BRACES = /\{\{[^}]*\}\}/g;
const POSITIONAL = /\$\d/;

export function usesRangePlaceholder(sql: string): boolean {
  return new RegExp(PLACEHOLDER.source).test(sql);
}

/** What is wrong with a job's `sql` placeholders, or undefined: unknown `{{...}}`, or `{{range}}` mixed with `$1`. */
export function rangeSqlProblem(sql: string): string | undefined {
  const unknown = (sql.match(ANY_BRACES) ?? []).filter((m) => !new RegExp(`^${PLACEHOLDER.source}$`).test(m));
  if (unknown.length > 0) return `sql: unknown placeholder ${unknown[0]}; the only one is {{range}} (or {{range:alias}} to qualify the key's columns)`;
  if (usesRangePlaceholder(sql) && POSITIONAL.test(sql)) return 'sql: use either {{range}} (its parameters are bound for you) or $1/$2 (lo and hi of an integer key), not both';
  return undefined;
}

/**
 * The statement a SQL job runs for one range. With `{{range}}`, every placeholder becomes the range's condition
 * (the same parameters); without, the first form: `$1` = lo and `$2` = hi of a single-column range.
 */
export function jobStatement(sql: string, range: KeyRange, condition: (alias?: string) => RangeCondition): { readonly text: string; readonly params: readonly string[] } {
  if (usesRangePlaceholder(sql)) {
    const text = sql.replace(PLACEHOLDER, (_, alias: string | undefined) => condition(alias).sql);
    return { text, params: condition().params };
  }
  const { lo, hi } = rangeValues(range);
  if (lo.length !== 1) throw new KeyRangeError(`range has ${lo.length} values per bound; the job's sql binds $1 = lo and $2 = hi of one column: write {{range}} where the range condition belongs`);
  if (hi === null) throw new KeyRangeError('range has no upper end (the last range of a plan); the job\'s sql binds $2 = hi: write {{range}} where the range condition belongs');
  return { text: sql, params: [lo[0], hi[0]] };
}

/**
 * Which form of range a job is planned in. The first form (`{lo, hi}`, the last range closed) for what was written
 * against it: a key of one integer column named as a string, for a code job or a SQL job with $1/$2. Every other job
 * gets typed ranges, the last one open-ended; a SQL job then needs `{{range}}` (checked here, before planning).
 */
export function planForm(job: { readonly sql?: string; readonly source?: { readonly key: string | readonly string[] } }, columns: readonly KeyColumn[]): 'typed' | 'integer' {
  const placeholder = typeof job.sql === 'string' && usesRangePlaceholder(job.sql);
  const legacy = typeof job.source?.key === 'string' && columns.length === 1 && INTEGER_KEY_TYPES.includes(columns[0].type) && !placeholder;
  if (legacy) return 'integer';
  if (typeof job.sql === 'string' && !placeholder) {
    throw new InvalidInputError('sql', `the key (${columns.map((c) => `${c.name} ${c.type}`).join(', ')}) is planned as typed ranges, the last one open-ended, which $1/$2 cannot bind: write {{range}} where the range condition belongs (UPDATE t SET ... WHERE {{range}}); $1/$2 fit a key of one integer column named as a string`);
  }
  return 'typed';
}

/** `ctx.rangeCondition` over the key's columns as read for this batch (none when the job has no source). */
export function makeRangeConditioner(columns: readonly KeyColumn[] | undefined) {
  return (item: { readonly dedupeKey: string; readonly range?: KeyRange }, startParam?: number, alias?: string): RangeCondition => {
    if (columns === undefined) throw new KeyRangeError('the job has no source.key, so an item\'s range has no condition');
    if (item.range === undefined) throw new KeyRangeError(`item ${item.dedupeKey} has no range`);
    return rangeCondition(item.range, columns, startParam, alias);
  };
}

/**
 * Postgres estimates a row comparison from its leading column alone, so a range of a composite key whose leading
 * column has few values (3 tenants) looks like a third of the table and gets a sequential scan: every range would
 * read the whole table. For composite keys the range's statement runs with sequential scans off in its own
 * transaction (SET LOCAL), the FORCE INDEX that Spirit and pt-osc put on their chunk statements.
 */
export function rangeStatementSettings(range: KeyRange): string | undefined {
  return rangeValues(range).lo.length > 1 ? 'SET LOCAL enable_seqscan = off' : undefined;
}
