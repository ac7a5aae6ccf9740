import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jobStatement, rangeCondition, rangeStatementSettings, type TypedRange } from '../../core/key-range';
import { assertPlannableSource } from '../../db/planner';
import { withPgClient } from '../../db/pool';
import { openTestDatabase, type TestDatabase } from '../support/database';

describe('the statement a {{range}} SQL job runs over a composite key (real Postgres)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await openTestDatabase();
    // Three tenants: Postgres estimates a row comparison from its leading column alone, as a third of the table.
    await db.pool.query('CREATE TABLE skewed (tenant text NOT NULL, seq bigint NOT NULL, n int NOT NULL DEFAULT 0, PRIMARY KEY (tenant, seq))');
    await db.pool.query(`INSERT INTO skewed (tenant, seq) SELECT (ARRAY['acme', 'beta', 'zeta'])[1 + g % 3], g FROM generate_series(1, 300000) g`);
    await db.pool.query('ANALYZE skewed');
  });
  after(() => db.close());

  /** The plan's node types for the job's statement over `range`, in a transaction with `settings` first. */
  async function planOf(range: TypedRange, settings: string | undefined): Promise<string[]> {
    const columns = await assertPlannableSource(db.pool, { table: 'skewed', key: ['tenant', 'seq'] });
    const statement = jobStatement('UPDATE skewed SET n = n + 1 WHERE {{range}}', range, (alias) => rangeCondition(range, columns, 1, alias));
    return withPgClient(db.pool, async (client) => {
      await client.query('BEGIN');
      try {
        if (settings) await client.query(settings);
        const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${statement.text}`, [...statement.params]);
        const walk = (node: { 'Node Type': string; Plans?: unknown[] }): string[] => [node['Node Type'], ...(node.Plans ?? []).flatMap((c) => walk(c as typeof node))];
        return walk(rows[0]['QUERY PLAN'][0].Plan);
      } finally {
        await client.query('ROLLBACK');
      }
    });
  }

  it('reads the key\'s index for a range spanning two tenants, where Postgres alone would scan the whole table', async () => {
    // Prepare: 1,000 rows that straddle beta and zeta
    const range: TypedRange = { lo: ['beta', '298500'], hi: ['zeta', '1500'] };
    // Act
    const unguided = await planOf(range, undefined);
    const guided = await planOf(range, rangeStatementSettings(range));
    // Assess: the control shows the misestimate is real; the job's settings avoid it
    assert.equal(unguided.includes('Seq Scan'), true, unguided.join(' > '));
    assert.deepStrictEqual([guided.includes('Seq Scan'), guided.some((t) => /Index/.test(t))], [false, true], guided.join(' > '));
    assert.deepStrictEqual([rangeStatementSettings(range), rangeStatementSettings({ lo: ['1'], hi: null }), rangeStatementSettings({ lo: '1', hi: '2' })],
      ['SET LOCAL enable_seqscan = off', undefined, undefined]);
  });
});
