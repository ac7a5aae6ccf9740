import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { JobDefinition } from '../../core/job';
import { rangeValues } from '../../core/key-range';
import { requeueDeadItems } from '../../db/items';
import { loadJob } from '../../local/load-job';
import { runLocal, type RunSummary } from '../../local/run-local';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { until } from '../support/steering';

const ROOT = join(import.meta.dirname, '..', '..');
const COMPOSITE_JOB = join(ROOT, 'test', 'fixtures', 'composite-counter-job.ts');
const UUID_JOB = join(ROOT, 'test', 'fixtures', 'uuid-counter-job.ts');

/** A SQL job adding 1 to every row of its range over `key`: a row that ends at 2 was changed twice. */
function counter(table: string, key: string | string[]): JobDefinition {
  return { name: `counter-${table}`, source: { table, key }, sql: `UPDATE ${table} SET n = n + 1 WHERE {{range}}` };
}

describe('exactly once over every key type, through the whole local loop (real Postgres, local SQS, the ASL interpreter)', () => {
  let db: TestDatabase;

  /** Rows by how many times they were changed, e.g. { '1': 3000 }. */
  async function changes(table: string): Promise<Record<string, number>> {
    const { rows } = await db.pool.query<{ n: number; c: string }>(`SELECT n, count(*) AS c FROM ${table} GROUP BY n ORDER BY n`);
    return Object.fromEntries(rows.map((r) => [String(r.n), Number(r.c)]));
  }

  function run(job: JobDefinition, runId: string, chunkSize: number, extra: Partial<Parameters<typeof runLocal>[0]> = {}): Promise<RunSummary> {
    return runLocal({ job, jobPath: COMPOSITE_JOB, databaseUrl: db.url, input: { runId, chunkSize }, timeScale: 0, ...extra });
  }

  before(async () => {
    db = await openTestDatabase();
    // Text under an ICU collation that orders otherwise than the database's C default.
    await db.pool.query('CREATE TABLE k_text (code text COLLATE "en-x-icu" PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query(`INSERT INTO k_text (code) SELECT (ARRAY['a', 'B', '_', 'b', 'A', 'é', 'Z', ' '])[1 + g % 8] || md5(g::text) FROM generate_series(1, 2000) g`);
    // Skewed: one tenant holds most rows, others a handful; many rows per leading value.
    await db.pool.query('CREATE TABLE k_comp (tenant text NOT NULL, seq int NOT NULL, n int NOT NULL DEFAULT 0, PRIMARY KEY (tenant, seq))');
    await db.pool.query(`INSERT INTO k_comp (tenant, seq) SELECT 'big', g FROM generate_series(1, 1500) g
                         UNION ALL SELECT 'small' || t, g FROM generate_series(1, 20) t, generate_series(1, 1 + t % 4) g`);
    await db.pool.query('CREATE TABLE k_uuid (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO k_uuid SELECT FROM generate_series(1, 2000)');
    await db.pool.query('CREATE TABLE k_ts (at timestamptz PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query(`INSERT INTO k_ts (at) SELECT timestamptz '2020-02-29 00:00:00.000001+00' + g * interval '1 hour 0.000007 seconds' FROM generate_series(1, 1500) g`);
    await db.pool.query('CREATE TABLE k_num (amount numeric PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO k_num (amount) SELECT (g ^ 3) / 13.0 - 50000 FROM generate_series(1, 1500) g');
    // Sparse bigints: a dense run, huge gaps, beyond 2^53, and the bigint maximum itself.
    await db.pool.query('CREATE TABLE k_big (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query(`INSERT INTO k_big (id) SELECT g FROM generate_series(1, 700) g
                         UNION ALL SELECT g::bigint * 1000000007 FROM generate_series(1, 300) g
                         UNION ALL SELECT 9007199254740993 + g FROM generate_series(0, 298) g
                         UNION ALL SELECT 9223372036854775807`);
  });
  after(() => db.close());

  it('changes every row once for text (ICU), composite (skewed), timestamptz, numeric and sparse bigint keys up to the bigint maximum', async () => {
    // Prepare
    const cases: Array<[JobDefinition, number, number]> = [
      [counter('k_text', 'code'), 2000, 150],
      [counter('k_comp', ['tenant', 'seq']), 1550, 100],
      [counter('k_ts', 'at'), 1500, 100],
      [counter('k_num', 'amount'), 1500, 100],
      [counter('k_big', ['id']), 1300, 100],
    ];
    for (const [job, rows, chunkSize] of cases) {
      // Act
      const summary = await run(job, `keys-${job.source!.table}`, chunkSize);
      // Assess
      const items = Math.ceil(rows / chunkSize);
      assert.deepStrictEqual([summary.status, summary.itemsPlanned, summary.itemsSucceeded, summary.rowsAffected, summary.itemsDeadLettered],
        ['succeeded', items, items, rows, 0], job.name);
      assert.deepStrictEqual(await changes(job.source!.table), { '1': rows }, job.name);
    }
  });

  it('a code job over a uuid key, with ctx.rangeCondition: every row once, rows above the planned maximum in the open last range', async () => {
    // Prepare
    const { job } = await loadJob(UUID_JOB);
    // Act: a row is inserted once the run is planned, above every planned key.
    const summary = await run(job, 'keys-uuid', 100, {
      onEvent: async (event) => {
        if (event.type === 'planned') await db.pool.query(`INSERT INTO k_uuid (id) VALUES ('ffffffff-ffff-ffff-ffff-ffffffffffff')`);
      },
    });
    // Assess
    assert.deepStrictEqual([summary.status, summary.itemsPlanned, summary.rowsAffected], ['succeeded', 20, 2001]);
    assert.deepStrictEqual(await changes('k_uuid'), { '1': 2001 });
  });

  it('a run killed with SIGKILL mid-way and started again under its runId finishes each composite range once', async () => {
    // Prepare
    await db.pool.query('UPDATE k_comp SET n = 0');
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'backfill.js'), 'run', '--local', '--job', COMPOSITE_JOB, '--database-url', db.url,
      '--run-id', 'keys-killed', '--chunk-size', '25'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: '' }, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const done = async () => Number((await db.pool.query(`SELECT count(*) AS n FROM backfill.done_items WHERE run_id = 'keys-killed'`).catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n);
    await until('the child has done a few ranges', async () => (await done()) >= 5);
    // Act
    child.kill('SIGKILL');
    await exited;
    const doneAtKill = await done();
    const { job } = await loadJob(COMPOSITE_JOB);
    const summary = await run(job, 'keys-killed', 25);
    // Assess: killed mid-way (not all 62 ranges done), then finished with no range twice.
    assert.ok(doneAtKill >= 5 && doneAtKill < 62, `done at kill: ${doneAtKill}`);
    assert.deepStrictEqual([summary.status, summary.itemsPlanned, summary.itemsSucceeded, summary.rowsRemaining], ['succeeded', 62, 62, 0]);
    assert.deepStrictEqual(await changes('k_comp'), { '1': 1550 });
  });

  it('a dead-lettered typed range is redriven locally and done once on the next start', async () => {
    // Prepare: the range starting at the third boundary fails for good on the first start.
    await db.pool.query('UPDATE k_ts SET n = 0');
    let poisoned: string | undefined;
    const job: JobDefinition = {
      name: 'ts-breakable',
      source: { table: 'k_ts', key: 'at' },
      async process(items, ctx) {
        return Promise.all(items.map((item) => {
          const lo = rangeValues(item.range!).lo[0];
          if (poisoned === undefined && item.dedupeKey.includes('2020-03-0')) poisoned = lo;
          if (lo === poisoned && broken) return { status: 'fail' as const, reason: `range from ${lo} is poisoned` };
          return ctx.withTransaction(item, async (tx) => {
            const range = ctx.rangeCondition(item);
            return (await tx.query(`UPDATE k_ts SET n = n + 1 WHERE ${range.sql}`, [...range.params])).rowCount ?? 0;
          });
        }));
      },
    };
    let broken = true;
    const first = await run(job, 'keys-redrive', 100);
    // Act
    const requeued = await requeueDeadItems(db.pool, 'backfill', 'keys-redrive');
    broken = false;
    const second = await run(job, 'keys-redrive', 100);
    // Assess
    assert.deepStrictEqual([first.status, first.itemsDeadLettered, first.rowsAffected, requeued], ['succeeded', 1, 1400, 1]);
    assert.deepStrictEqual([second.status, second.itemsPlanned, second.itemsDeadLettered, second.rowsAffected], ['succeeded', 15, 0, 1500]);
    assert.deepStrictEqual(await changes('k_ts'), { '1': 1500 });
  });
});
