import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JobSource } from '../../core/job';
import { rangeCondition, type KeyRange, type TypedRange } from '../../core/key-range';
import { assertPlannableSource, boundaryQuery, planRanges, type RangeForm } from '../../db/planner';
import type pg from 'pg';
import { makePool } from '../../db/pool';
import { openTestDatabase, type TestDatabase } from '../support/database';

describe('planner (real Postgres)', () => {
  let db: TestDatabase;
  /** Sessions under DateStyle 'SQL, DMY' and time zone Asia/Kolkata: timestamps must still cast back exactly. */
  let pool: pg.Pool;

  async function plan(source: JobSource, chunkSize: number, form: RangeForm = 'typed'): Promise<KeyRange[]> {
    const columns = await assertPlannableSource(pool, source);
    const ranges: KeyRange[] = [];
    for await (const range of planRanges(pool, source, columns, chunkSize, form)) ranges.push(range);
    return ranges;
  }

  /** Rows of each range, counted with the very condition {{range}} becomes; and the table's row count. */
  async function rowsPerRange(source: JobSource, ranges: readonly KeyRange[]): Promise<{ perRange: number[]; total: number }> {
    const columns = await assertPlannableSource(pool, source);
    const perRange: number[] = [];
    for (const range of ranges) {
      const condition = rangeCondition(range, columns);
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${source.table} WHERE ${condition.sql}`, [...condition.params]);
      perRange.push(rows[0].n);
    }
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${source.table}`);
    return { perRange, total: rows[0].n };
  }

  /** Each range starts where the one before ended, the first at the smallest key, the last open: every row in exactly one. */
  function assertContiguous(ranges: readonly TypedRange[]): void {
    ranges.slice(1).forEach((range, i) => assert.deepStrictEqual(range.lo, ranges[i].hi));
    assert.equal(ranges.at(-1)!.hi, null);
    ranges.slice(0, -1).forEach((range) => assert.notEqual(range.hi, null));
  }

  function nodeTypes(plan: { 'Node Type': string; Plans?: unknown[] }): string[] {
    return [plan['Node Type'], ...(plan.Plans ?? []).flatMap((child) => nodeTypes(child as typeof plan))];
  }

  before(async () => {
    db = await openTestDatabase();
    const name = new URL(db.url).pathname.slice(1);
    await db.pool.query(`ALTER DATABASE ${name} SET datestyle = 'SQL, DMY'`);
    await db.pool.query(`ALTER DATABASE ${name} SET timezone = 'Asia/Kolkata'`);
    pool = makePool({ connectionString: db.url, max: 4 });
    // Sparse, skewed keys: a dense run, a huge gap, negatives, and bigints beyond 2^53.
    await pool.query('CREATE TABLE sparse (id bigint PRIMARY KEY, label text)');
    await pool.query(`INSERT INTO sparse (id) SELECT g FROM generate_series(1, 25) g
      UNION ALL SELECT g * 1000000 FROM generate_series(1, 7) g
      UNION ALL SELECT -g FROM generate_series(1, 3) g
      UNION ALL SELECT 9007199254740993 + g FROM generate_series(0, 4) g`);
    // Text under an ICU collation, where punctuation, case and digits sort otherwise than under C.
    await pool.query(`CREATE TABLE words (code text COLLATE "en-x-icu" PRIMARY KEY)`);
    await pool.query(`INSERT INTO words SELECT (ARRAY['a', 'B', '_', 'b', 'A', 'é', 'Z'])[1 + g % 7] || g FROM generate_series(1, 95) g`);
    // A composite key with many rows per leading value: 3 tenants of 40 rows.
    await pool.query('CREATE TABLE orders (tenant text NOT NULL, n integer NOT NULL, PRIMARY KEY (tenant, n))');
    await pool.query(`INSERT INTO orders SELECT t, g FROM unnest(ARRAY['acme', 'Beta', 'zeta']) t, generate_series(1, 40) g`);
    await pool.query('CREATE TABLE docs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body jsonb)');
    await pool.query('INSERT INTO docs (body) SELECT jsonb_build_object(\'g\', g) FROM generate_series(1, 95) g');
    // Microseconds and far-apart instants; numerics with long fractions.
    await pool.query('CREATE TABLE events (at timestamptz PRIMARY KEY, amount numeric(30, 12) NOT NULL UNIQUE, day date NOT NULL UNIQUE)');
    await pool.query(`INSERT INTO events SELECT timestamptz '1999-12-31 23:59:59.999999+00' + g * interval '37 days 1.000001 seconds',
                                                   g / 7.0, date '2000-01-01' + g FROM generate_series(1, 60) g`);
    await pool.query(`CREATE TABLE misc (v varchar(12) NOT NULL UNIQUE, c char(6) NOT NULL UNIQUE, s smallint NOT NULL UNIQUE,
                                         i integer NOT NULL UNIQUE, ts timestamp NOT NULL UNIQUE)`);
    await pool.query(`INSERT INTO misc SELECT 'v' || g, 'c' || g, g - 30, g * 1000, timestamp '2024-02-29 12:00:00.5' + g * interval '1 day 1 microsecond'
                      FROM generate_series(1, 50) g`);
  });
  after(async () => {
    await pool.end();
    await db.close();
  });

  it('covers every existing integer key exactly once, in full chunks, in the first form ({lo, hi}, hi one past the last key)', async () => {
    // Act
    const ranges = await plan({ table: 'sparse', key: 'id' }, 10, 'integer');
    // Assess: 40 keys in chunks of 10
    assert.deepStrictEqual(ranges, [
      { lo: '-3', hi: '8' },
      { lo: '8', hi: '18' },
      { lo: '18', hi: '3000000' },
      { lo: '3000000', hi: '9007199254740998' },
    ]);
    assert.deepStrictEqual(await rowsPerRange({ table: 'sparse', key: 'id' }, ranges), { perRange: [10, 10, 10, 10], total: 40 });
  });

  it('plans typed ranges over bigints beyond 2^53 exactly, the last one open-ended', async () => {
    // Act
    const ranges = await plan({ table: 'sparse', key: ['id'] }, 15);
    // Assess
    assert.deepStrictEqual(ranges, [
      { lo: ['-3'], hi: ['13'] },
      { lo: ['13'], hi: ['3000000'] },
      { lo: ['3000000'], hi: null },
    ]);
    assert.deepStrictEqual(await rowsPerRange({ table: 'sparse', key: ['id'] }, ranges), { perRange: [15, 15, 10], total: 40 });
  });

  it('walks text under its column\'s ICU collation, a composite key across leading values, uuid, timestamptz, numeric, date, varchar, char, smallint, integer and timestamp keys', async () => {
    // Prepare: ICU order is not C order here, so a planner comparing bytes would cut wrong ranges.
    const { rows: orderCheck } = await pool.query('SELECT array_agg(code ORDER BY code) = array_agg(code ORDER BY code COLLATE "C") AS same FROM words');
    assert.equal(orderCheck[0].same, false);
    const cases: Array<[JobSource, number, number[]]> = [
      [{ table: 'words', key: 'code' }, 10, [10, 10, 10, 10, 10, 10, 10, 10, 10, 5]],
      [{ table: 'orders', key: ['tenant', 'n'] }, 7, [...Array(17).fill(7), 1]],
      [{ table: 'docs', key: 'id' }, 20, [20, 20, 20, 20, 15]],
      [{ table: 'events', key: 'at' }, 11, [11, 11, 11, 11, 11, 5]],
      [{ table: 'events', key: 'amount' }, 25, [25, 25, 10]],
      [{ table: 'events', key: ['day'] }, 30, [30, 30]],
      [{ table: 'misc', key: 'v' }, 20, [20, 20, 10]],
      [{ table: 'misc', key: 'c' }, 20, [20, 20, 10]],
      [{ table: 'misc', key: 's' }, 20, [20, 20, 10]],
      [{ table: 'misc', key: ['i'] }, 20, [20, 20, 10]],
      [{ table: 'misc', key: 'ts' }, 20, [20, 20, 10]],
    ];
    for (const [source, chunkSize, expected] of cases) {
      // Act
      const ranges = (await plan(source, chunkSize)) as TypedRange[];
      // Assess
      assertContiguous(ranges);
      assert.deepStrictEqual(await rowsPerRange(source, ranges), { perRange: expected, total: expected.reduce((a, b) => a + b, 0) }, source.table);
    }
    const composite = (await plan({ table: 'orders', key: ['tenant', 'n'] }, 7)) as TypedRange[];
    // Under the database's default collation (C here) 'Beta' sorts before 'acme'; a chunk spans two tenants.
    assert.deepStrictEqual(composite.slice(5, 7), [{ lo: ['Beta', '36'], hi: ['acme', '3'] }, { lo: ['acme', '3'], hi: ['acme', '10'] }]);
    const events = (await plan({ table: 'events', key: 'at' }, 11)) as TypedRange[];
    assert.match(events[1].lo[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+05:30$/);
  });

  it('plans nothing for an empty table', async () => {
    // Prepare
    await pool.query('CREATE TABLE empty_t (id int PRIMARY KEY)');
    // Act + Assess
    assert.deepStrictEqual(await plan({ table: 'empty_t', key: 'id' }, 10, 'integer'), []);
    assert.deepStrictEqual(await plan({ table: 'empty_t', key: ['id'] }, 10), []);
  });

  it('finds each boundary with an index scan, never a sort of the table', async () => {
    // Prepare: enough rows, analysed, that a sort of the table would be a real choice for Postgres.
    await pool.query('CREATE TABLE big (tenant text COLLATE "en-x-icu" NOT NULL, n bigint NOT NULL, id uuid NOT NULL DEFAULT gen_random_uuid(), other int, PRIMARY KEY (tenant, n))');
    await pool.query('CREATE UNIQUE INDEX big_id ON big (id)');
    await pool.query(`INSERT INTO big (tenant, n, other) SELECT 't' || (g % 50), g, g % 977 FROM generate_series(1, 50000) g`);
    await pool.query('ANALYZE big');
    const explain = async (source: JobSource, orderBy?: string) => {
      const columns = await assertPlannableSource(pool, source);
      let { next } = boundaryQuery(source.table, columns);
      if (orderBy) next = next.replace(/ORDER BY .* LIMIT/, `ORDER BY ${orderBy} LIMIT`);
      const lo = columns.map((c) => (c.type === 'uuid' ? '00000000-0000-0000-0000-000000000000' : c.type === 'text' ? 't1' : '0'));
      const { rows } = await pool.query(`EXPLAIN (FORMAT JSON) ${next}`, [...lo, 1000]);
      return nodeTypes(rows[0]['QUERY PLAN'][0].Plan);
    };
    // Act
    const composite = await explain({ table: 'big', key: ['tenant', 'n'] });
    const uuid = await explain({ table: 'big', key: 'id' });
    const control = await explain({ table: 'big', key: 'id' }, 'other');
    // Assess: the control shows the check sees a sort when there is one.
    assert.deepStrictEqual([composite.includes('Sort'), composite.some((t) => /^Index (Only )?Scan$/.test(t))], [false, true]);
    assert.deepStrictEqual([uuid.includes('Sort'), uuid.some((t) => /^Index (Only )?Scan$/.test(t))], [false, true]);
    assert.equal(control.includes('Sort') || control.includes('Incremental Sort'), true);
  });

  it('rejects keys it cannot plan over, naming the field, the column, its type and what would do', async () => {
    // Prepare
    await pool.query('CREATE TABLE loose (a int, b int, doc json, f float8 NOT NULL UNIQUE)');
    await pool.query('CREATE TABLE half (a int NOT NULL, b int NOT NULL, c int NOT NULL, UNIQUE (a, b, c), UNIQUE (b))');
    await pool.query('CREATE UNIQUE INDEX half_a_partial ON half (a) WHERE a > 0');
    await pool.query('CREATE TABLE patterned (code text NOT NULL)');
    await pool.query('CREATE UNIQUE INDEX patterned_code ON patterned (code text_pattern_ops)');
    await pool.query('CREATE TABLE maxed (id bigint PRIMARY KEY)');
    await pool.query('INSERT INTO maxed VALUES (1), (9223372036854775807)');
    const allowed = 'smallint, integer, bigint, numeric, text, varchar, char, uuid, date, timestamp, timestamptz';
    // Act
    const messages = await Promise.all([
      assertPlannableSource(pool, { table: 'nope', key: 'id' }).catch((e: Error) => e.message),
      assertPlannableSource(pool, { table: 'sparse', key: ['id', 'nope'] }).catch((e: Error) => e.message),
      assertPlannableSource(pool, { table: 'loose', key: 'doc' }).catch((e: Error) => e.message),
      assertPlannableSource(pool, { table: 'loose', key: 'f' }).catch((e: Error) => e.message),
      assertPlannableSource(pool, { table: 'loose', key: 'a' }).catch((e: Error) => e.message),
      assertPlannableSource(pool, { table: 'half', key: ['a', 'b'] }).catch((e: Error) => e.message),
      assertPlannableSource(pool, { table: 'half', key: 'a' }).catch((e: Error) => e.message),
      assertPlannableSource(pool, { table: 'patterned', key: 'code' }).catch((e: Error) => e.message),
      plan({ table: 'maxed', key: 'id' }, 10, 'integer').catch((e: Error) => e.message),
      plan({ table: 'maxed', key: ['id'] }, 10).then((ranges) => JSON.stringify(ranges)),
      assertPlannableSource(pool, { table: 'public.sparse', key: 'id' }).then((key) => JSON.stringify(key)),
    ]);
    // Assess
    assert.deepStrictEqual(messages, [
      'source.table: table nope does not exist',
      'source.key: column nope does not exist in sparse',
      `source.key: column doc of loose is json, which has no btree ordering; a key column must be one of: ${allowed}`,
      `source.key: column f of loose is double precision, which is not supported as a key; a key column must be one of: ${allowed}`,
      'source.key: column a of loose is nullable: a row whose key is NULL is in no range (NULL compares as unknown) and would be skipped; make it NOT NULL (ALTER TABLE loose ALTER COLUMN a SET NOT NULL, after filling its NULLs), or use another key',
      'source.key: (a, b) is not backed by a primary key or unique index on exactly these columns in this order; the unique keys of half are (a, b, c), (b): name one of them as source.key, or create one: CREATE UNIQUE INDEX CONCURRENTLY ON half (a, b)',
      'source.key: (a) has a unique index, but it cannot return rows in key order: half_a_partial is partial (it leaves rows out); create one that can: CREATE UNIQUE INDEX CONCURRENTLY ON half (a)',
      'source.key: (code) has a unique index, but it cannot return rows in key order: patterned_code uses a non-default operator class (e.g. text_pattern_ops); create one that can: CREATE UNIQUE INDEX CONCURRENTLY ON patterned (code)',
      'source.key: the largest id of maxed is the bigint maximum (9223372036854775807), which a range {lo, hi} cannot end past; write {{range}} in the job\'s sql, or name the key as a list (key: ["id"]) for ranges whose last one is open-ended (docs/keys.md)',
      '[{"lo":["1"],"hi":null}]',
      '[{"name":"id","type":"bigint"}]',
    ]);
  });

  it('refuses a table with no primary key or unique index, naming the options', async () => {
    // Prepare
    await pool.query('CREATE TABLE heap_only (id bigint NOT NULL, v text)');
    // Act
    const message = await assertPlannableSource(pool, { table: 'heap_only', key: 'id' }).catch((e: Error) => e.message);
    // Assess
    assert.equal(message, 'source.key: table heap_only has no primary key or unique index, so it cannot be split into key ranges: add one (ALTER TABLE heap_only ADD PRIMARY KEY (...), or CREATE UNIQUE INDEX CONCURRENTLY ON heap_only (...) over NOT NULL columns) and name its columns as source.key, or publish your own work items from a job without source (docs/keys.md)');
  });
});
