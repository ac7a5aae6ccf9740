import type pg from 'pg';
import { InvalidInputError } from '../core/errors';
import { quoteIdentifier, quoteQualifiedName } from '../core/identifiers';
import type { JobSource } from '../core/job';
import type { KeyRange } from '../core/work-item';

const INTEGER_TYPES = ['smallint', 'integer', 'bigint'];

/** Fails early, naming the field, when the table or key column is missing or the key is not an integer. */
export async function assertPlannableSource(pool: pg.Pool, source: JobSource): Promise<void> {
  const { rows } = await pool.query(
    `SELECT to_regclass($1) IS NOT NULL AS table_exists,
            (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
              WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped) AS key_type`,
    [quoteQualifiedName('source.table', source.table), source.key],
  );
  if (!rows[0].table_exists) throw new InvalidInputError('source.table', `table ${source.table} does not exist`);
  const keyType: string | null = rows[0].key_type;
  if (keyType === null) throw new InvalidInputError('source.key', `column ${source.key} does not exist in ${source.table}`);
  if (!INTEGER_TYPES.includes(keyType)) {
    throw new InvalidInputError('source.key', `must be an integer column (${INTEGER_TYPES.join(', ')}); ${source.key} is ${keyType}`);
  }
}

/**
 * Yields [lo, hi) ranges of at most `chunkSize` existing rows each, walking the key column's index
 * (keyset pagination): sparse or skewed keys give full chunks, never empty ones.
 */
export async function* planRanges(pool: pg.Pool, source: JobSource, chunkSize: number): AsyncGenerator<KeyRange> {
  const table = quoteQualifiedName('source.table', source.table);
  const key = quoteIdentifier(source.key);
  const first = await pool.query(`SELECT min(${key})::text AS lo, (max(${key}) + 1)::text AS end FROM ${table}`);
  let lo: string | null = first.rows[0].lo;
  const end: string = first.rows[0].end;
  while (lo !== null) {
    const next = await pool.query(`SELECT ${key}::text AS k FROM ${table} WHERE ${key} >= $1 ORDER BY ${key} OFFSET $2 LIMIT 1`, [lo, chunkSize]);
    const hi: string = next.rows[0]?.k ?? end;
    yield { lo, hi };
    lo = next.rows.length > 0 ? hi : null;
  }
}
