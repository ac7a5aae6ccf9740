import type pg from 'pg';
import { InvalidInputError } from '../core/errors';
import { quoteIdentifier, quoteQualifiedName } from '../core/identifiers';
import type { JobSource } from '../core/job';
import { KEY_TYPES, type IntegerRange, type KeyColumn, type KeyRange, type TypedRange } from '../core/key-range';

export { assertPlannableSource } from './keys';

/** The largest value of each integer type: a range {lo, hi} cannot end past it. */
const INTEGER_MAX: Readonly<Record<string, bigint>> = { smallint: 2n ** 15n - 1n, integer: 2n ** 31n - 1n, bigint: 2n ** 63n - 1n };

/**
 * The form of the planned ranges. `typed`: `{ lo: [...], hi: [...] | null }` over any key, the last range open-ended.
 * `integer`: the first form, `{ lo, hi }` over one integer column, the last range ending one past the largest key, for
 * jobs written against it (a SQL job's $1/$2, a code job reading range.lo and range.hi).
 */
export type RangeForm = 'typed' | 'integer';

/**
 * The query that finds the next boundary: the key `chunkSize` rows on from `lo`, walking the key's index
 * (`WHERE (cols) >= (lo...) ORDER BY cols LIMIT 1 OFFSET n`, as Spirit's composite chunker and pt-osc's nibbles do).
 * Values come back as text that casts back exactly (to_json: timestamps in ISO 8601 whatever the DateStyle).
 */
export function boundaryQuery(table: string, columns: readonly KeyColumn[]): { first: string; next: string } {
  const cols = columns.map((c) => quoteIdentifier(c.name));
  // The text form is taken of the one row found, outside the scan: the OFFSET's skipped rows are not converted.
  const inner = cols.map((col, i) => `${col} AS k${i}`).join(', ');
  const select = cols.map((_, i) => `to_json(k${i}) #>> '{}' AS k${i}`).join(', ');
  const row = (items: readonly string[]) => (items.length === 1 ? items[0] : `(${items.join(', ')})`);
  const params = columns.map((c, i) => `$${i + 1}::${KEY_TYPES[c.type]}`);
  const from = `FROM ${quoteQualifiedName('source.table', table)}`;
  return {
    first: `SELECT ${select} FROM (SELECT ${inner} ${from} ORDER BY ${cols.join(', ')} LIMIT 1) AS b`,
    next: `SELECT ${select} FROM (SELECT ${inner} ${from} WHERE ${row(cols)} >= ${row(params)} ORDER BY ${cols.join(', ')} LIMIT 1 OFFSET $${columns.length + 1}) AS b`,
  };
}

/**
 * Yields [lo, hi) ranges of exactly `chunkSize` existing rows each (the last one up to that), in key order, one
 * boundary query at a time (memory stays bounded, whatever the table's size): sparse or skewed keys give full chunks,
 * never empty ones. The walk runs on one session with sequential scans and sorts turned off, so Postgres walks the
 * key's unique index (assertPlannableSource checked it exists) even where its statistics are missing or stale:
 * the FORCE INDEX of the MySQL tools.
 */
export async function* planRanges(pool: pg.Pool, source: JobSource, columns: readonly KeyColumn[], chunkSize: number, form: RangeForm = 'typed'): AsyncGenerator<KeyRange> {
  const client = await pool.connect();
  try {
    await client.query('SET enable_seqscan = off; SET enable_sort = off');
    const { first, next } = boundaryQuery(source.table, columns);
    const values = (row: Record<string, string>) => columns.map((_, i) => row[`k${i}`]);
    const start = await client.query(first);
    if (start.rows.length === 0) return;
    let lo: string[] = values(start.rows[0]);
    for (;;) {
      const found = await client.query(next, [...lo, chunkSize]);
      const hi = found.rows.length > 0 ? values(found.rows[0]) : null;
      yield form === 'typed' ? ({ lo, hi } satisfies TypedRange) : ({ lo: lo[0], hi: hi?.[0] ?? (await integerEnd(client, source, columns[0])) } satisfies IntegerRange);
      if (hi === null) return;
      lo = hi;
    }
  } finally {
    // A session whose RESET failed is dropped rather than handed back with the settings still on.
    await client.query('RESET enable_seqscan; RESET enable_sort').then(() => client.release(), (error: Error) => client.release(error));
  }
}

/** The first form's last range ends one past the largest key, which the maximum of the column's type does not have. */
async function integerEnd(client: pg.PoolClient, source: JobSource, column: KeyColumn): Promise<string> {
  const { rows } = await client.query(`SELECT max(${quoteIdentifier(column.name)})::text AS max FROM ${quoteQualifiedName('source.table', source.table)}`);
  const max = BigInt(rows[0].max);
  if (max >= INTEGER_MAX[column.type]) {
    throw new InvalidInputError('source.key', `the largest ${column.name} of ${source.table} is the ${column.type} maximum (${max}), which a range {lo, hi} cannot end past; write {{range}} in the job's sql, or name the key as a list (key: [${JSON.stringify(column.name)}]) for ranges whose last one is open-ended (docs/keys.md)`);
  }
  return String(max + 1n);
}
