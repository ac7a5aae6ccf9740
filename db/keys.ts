import { InvalidInputError } from '../core/errors';
import { quoteQualifiedName } from '../core/identifiers';
import { keyColumnNames, type JobSource, type Queryable } from '../core/job';
import { KEY_TYPE_BY_TYPNAME, KEY_TYPES, type KeyColumn } from '../core/key-range';

const ALLOWED = Object.keys(KEY_TYPES).join(', ');

interface ColumnRow {
  name: string;
  typname: string;
  type_text: string;
  not_null: boolean;
  has_btree: boolean;
}

/** The key's columns with their types, in key order, as the catalog has them now (one query; every batch reads it). */
export async function readKeyColumns(db: Queryable, source: JobSource): Promise<KeyColumn[]> {
  const { columns } = await readColumns(db, source);
  return columns.map((column) => ({ name: column.name, type: keyType(source, column) }));
}

async function readColumns(db: Queryable, source: JobSource): Promise<{ table: string; columns: ColumnRow[] }> {
  const table = quoteQualifiedName('source.table', source.table);
  const names = keyColumnNames(source);
  const { rows } = await db.query<{ table_exists: boolean; columns: Array<ColumnRow | null> | null }>(
    `SELECT to_regclass($1) IS NOT NULL AS table_exists,
            (SELECT json_agg((SELECT row_to_json(c) FROM (
                SELECT a.attname AS name, t.typname, format_type(a.atttypid, a.atttypmod) AS type_text, a.attnotnull AS not_null,
                       EXISTS (SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
                               WHERE am.amname = 'btree' AND oc.opcdefault AND oc.opcintype = a.atttypid) AS has_btree
                FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                WHERE a.attrelid = to_regclass($1) AND a.attname = k.name AND a.attnum > 0 AND NOT a.attisdropped) c) ORDER BY k.ord)
             FROM unnest($2::text[]) WITH ORDINALITY AS k(name, ord)) AS columns`,
    [table, names],
  );
  if (!rows[0].table_exists) throw new InvalidInputError('source.table', `table ${source.table} does not exist`);
  const columns = rows[0].columns ?? [];
  const missing = names.filter((_, i) => columns[i] === null);
  if (missing.length > 0) throw new InvalidInputError('source.key', `column ${missing.join(', ')} does not exist in ${source.table}`);
  return { table, columns: columns as ColumnRow[] };
}

function keyType(source: JobSource, column: ColumnRow): KeyColumn['type'] {
  const type = KEY_TYPE_BY_TYPNAME[column.typname];
  if (type !== undefined) return type;
  const why = column.has_btree ? 'which is not supported as a key' : 'which has no btree ordering';
  throw new InvalidInputError('source.key', `column ${column.name} of ${source.table} is ${column.type_text}, ${why}; a key column must be one of: ${ALLOWED}`);
}

interface IndexRow {
  name: string;
  primary: boolean;
  columns: string[];
  partial: boolean;
  expressions: boolean;
  valid: boolean;
  btree: boolean;
  default_ops: boolean;
  column_collations: boolean;
  one_direction: boolean;
}

/**
 * Checks the key before anything is planned, naming the field and what would do: the table and columns exist, their
 * types are ones a range can be planned over, none is nullable (a NULL key falls outside every range: NULL compares
 * as unknown), and a primary key or unique index has exactly these columns, in this order, able to return them in
 * their order (btree, valid, not partial, the columns' default operator classes and collations, one direction).
 * Returns the key's columns with their types.
 */
export async function assertPlannableSource(db: Queryable, source: JobSource): Promise<KeyColumn[]> {
  const { table, columns } = await readColumns(db, source);
  const key = columns.map((column) => ({ name: column.name, type: keyType(source, column) }));
  const nullable = columns.find((column) => !column.not_null);
  if (nullable) {
    throw new InvalidInputError('source.key', `column ${nullable.name} of ${source.table} is nullable: a row whose key is NULL is in no range (NULL compares as unknown) and would be skipped; make it NOT NULL (ALTER TABLE ${source.table} ALTER COLUMN ${nullable.name} SET NOT NULL, after filling its NULLs), or use another key`);
  }
  const { rows: indexes } = await db.query<IndexRow>(
    `SELECT c.relname AS name, i.indisprimary AS primary, i.indpred IS NOT NULL AS partial, i.indexprs IS NOT NULL AS expressions,
            i.indisvalid AS valid, am.amname = 'btree' AS btree,
            ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                  LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) AS columns,
            (SELECT bool_and(oc.opcdefault) FROM unnest(i.indclass::oid[]) AS k(opclass) JOIN pg_opclass oc ON oc.oid = k.opclass) AS default_ops,
            (SELECT bool_and(k.coll = a.attcollation) FROM unnest(i.indkey::int2[], i.indcollation::oid[]) WITH ORDINALITY k(attnum, coll, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE k.ord <= i.indnkeyatts) AS column_collations,
            (SELECT count(DISTINCT (k.opt & 1)) <= 1 FROM unnest(i.indoption::int2[]) WITH ORDINALITY k(opt, ord) WHERE k.ord <= i.indnkeyatts) AS one_direction
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
     WHERE i.indrelid = $1::regclass AND i.indisunique
     ORDER BY i.indisprimary DESC, c.relname`,
    [table],
  );
  const names = key.map((column) => column.name);
  const matching = indexes.filter((index) => index.columns.length === names.length && index.columns.every((name, i) => name === names[i]));
  if (matching.some((index) => unusable(index) === undefined)) return key;
  const shown = `(${names.join(', ')})`;
  if (matching.length > 0) {
    throw new InvalidInputError('source.key', `${shown} has a unique index, but it cannot return rows in key order: ${matching.map((index) => `${index.name} ${unusable(index)}`).join('; ')}; create one that can: CREATE UNIQUE INDEX CONCURRENTLY ON ${source.table} ${shown}`);
  }
  const keys = indexes.filter((index) => unusable(index) === undefined && index.columns.every((name) => name !== null));
  if (keys.length === 0) {
    throw new InvalidInputError('source.key', `table ${source.table} has no primary key or unique index, so it cannot be split into key ranges: add one (ALTER TABLE ${source.table} ADD PRIMARY KEY (...), or CREATE UNIQUE INDEX CONCURRENTLY ON ${source.table} (...) over NOT NULL columns) and name its columns as source.key, or publish your own work items from a job without source (docs/keys.md)`);
  }
  throw new InvalidInputError('source.key', `${shown} is not backed by a primary key or unique index on exactly these columns in this order; the unique keys of ${source.table} are ${keys.map((index) => `(${index.columns.join(', ')})`).join(', ')}: name one of them as source.key, or create one: CREATE UNIQUE INDEX CONCURRENTLY ON ${source.table} ${shown}`);
}

/** Why a unique index on the key's columns cannot serve the planner's ORDER BY, or undefined when it can. */
function unusable(index: IndexRow): string | undefined {
  if (!index.btree) return 'is not a btree index';
  if (!index.valid) return 'is not valid (a CREATE INDEX CONCURRENTLY that failed?)';
  if (index.partial) return 'is partial (it leaves rows out)';
  if (index.expressions) return 'is on expressions';
  if (!index.default_ops) return 'uses a non-default operator class (e.g. text_pattern_ops)';
  if (!index.column_collations) return 'uses another collation than its columns';
  if (!index.one_direction) return 'mixes ASC and DESC columns';
  return undefined;
}
