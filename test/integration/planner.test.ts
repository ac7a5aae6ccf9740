import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertPlannableSource, planRanges } from '../../db/planner';
import { openTestDatabase, type TestDatabase } from '../support/database';

describe('planner (real Postgres)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await openTestDatabase();
    // Sparse, skewed keys: a dense run, a huge gap, negatives, and bigints beyond 2^53.
    await db.pool.query('CREATE TABLE sparse (id bigint PRIMARY KEY, label text)');
    await db.pool.query(`INSERT INTO sparse (id) SELECT g FROM generate_series(1, 25) g
      UNION ALL SELECT g * 1000000 FROM generate_series(1, 7) g
      UNION ALL SELECT -g FROM generate_series(1, 3) g
      UNION ALL SELECT 9007199254740993 + g FROM generate_series(0, 4) g`);
    await db.pool.query('CREATE TABLE texty (code text PRIMARY KEY)');
  });
  after(() => db.close());

  it('covers every existing key exactly once, in full chunks, with exclusive upper bounds', async () => {
    // Act
    const ranges = [];
    for await (const range of planRanges(db.pool, { table: 'sparse', key: 'id' }, 10)) ranges.push(range);
    // Assess: 40 keys in chunks of 10
    assert.deepStrictEqual(ranges, [
      { lo: '-3', hi: '8' },
      { lo: '8', hi: '18' },
      { lo: '18', hi: '3000000' },
      { lo: '3000000', hi: '9007199254740998' },
    ]);
    const { rows } = await db.pool.query<{ lo: string; n: string }>(
      `SELECT r.lo, (SELECT count(*) FROM sparse WHERE id >= r.lo::bigint AND id < r.hi::bigint) AS n
       FROM jsonb_to_recordset($1::jsonb) AS r(lo text, hi text)`,
      [JSON.stringify(ranges)],
    );
    assert.deepStrictEqual(rows.map((r) => Number(r.n)), [10, 10, 10, 10]);
  });

  it('plans nothing for an empty table', async () => {
    // Prepare
    await db.pool.query('CREATE TABLE empty_t (id int PRIMARY KEY)');
    // Act
    const ranges = [];
    for await (const range of planRanges(db.pool, { table: 'empty_t', key: 'id' }, 10)) ranges.push(range);
    // Assess
    assert.deepStrictEqual(ranges, []);
  });

  it('rejects a missing table, a missing column and a non-integer key, naming the field', async () => {
    // Act
    const messages = await Promise.all([
      assertPlannableSource(db.pool, { table: 'nope', key: 'id' }).catch((e: Error) => e.message),
      assertPlannableSource(db.pool, { table: 'sparse', key: 'nope' }).catch((e: Error) => e.message),
      assertPlannableSource(db.pool, { table: 'texty', key: 'code' }).catch((e: Error) => e.message),
      assertPlannableSource(db.pool, { table: 'public.sparse', key: 'id' }).then(() => 'ok'),
    ]);
    // Assess
    assert.deepStrictEqual(messages, [
      'source.table: table nope does not exist',
      'source.key: column nope does not exist in sparse',
      'source.key: must be an integer column (smallint, integer, bigint); code is text',
      'ok',
    ]);
  });
});
