import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveSettings } from '../../core/settings';
import { makeRangeItem } from '../../core/work-item';
import { recordFailures } from '../../db/failures';
import { recordItems } from '../../db/items';
import { upsertRun } from '../../db/runs';
import { ensureBookkeeping } from '../../db/schema';
import { backfillWith as backfill } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';

/** BACKFILL_SCHEMA is the default --schema of every command that reads or writes a run's bookkeeping. */
describe('BACKFILL_SCHEMA (the CLI as a child process, real Postgres)', () => {
  const SCHEMA = 'ops_bookkeeping';
  const env = { BACKFILL_SCHEMA: SCHEMA };
  let db: TestDatabase;
  let dir: string;
  before(async () => {
    db = await openTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'backfill-schema-env-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.close();
  });

  it('dlq, enqueue, report and status all use it when --schema is not given', async () => {
    // Prepare: a run recorded only in the non-default schema, with one dead item
    await ensureBookkeeping(db.pool, SCHEMA);
    await upsertRun(db.pool, SCHEMA, 'ops-run', 'counter', resolveSettings());
    const dead = makeRangeItem('ops-run', { lo: '1', hi: '11' });
    await recordItems(db.pool, SCHEMA, [dead]);
    await recordFailures(db.pool, SCHEMA, [{ runId: 'ops-run', dedupeKey: dead.dedupeKey, attempt: 1, error: 'row 1 is poisoned', final: true }]);
    const local = ['--local', '--database-url', db.url, '--run-id', 'ops-run'];
    const out = join(dir, 'ops-run.html');
    // Act
    const [list, enqueue, report, status] = await Promise.all([
      backfill(['dlq', 'list', ...local, '--json'], { env }),
      backfill(['enqueue', ...local], { env, input: '{"dedupeKey":"range:11-21","range":{"lo":"11","hi":"21"}}\n' }),
      backfill(['report', 'ops-run', '--out', out, '--database-url', db.url], { env }),
      backfill(['status', 'ops-run', '--database-url', db.url, '--json'], { env }),
    ]);
    // Assess
    assert.equal(list.code, 0, list.stderr);
    assert.deepStrictEqual(JSON.parse(list.stdout).items.map((i: { dedupeKey: string; reason: string }) => [i.dedupeKey, i.reason]), [['range:1-11', 'row 1 is poisoned']]);
    assert.deepStrictEqual([enqueue.code, enqueue.stderr], [0, '']);
    const { rows } = await db.pool.query(`SELECT dedupe_key FROM ${SCHEMA}.items WHERE run_id = 'ops-run' ORDER BY dedupe_key`);
    assert.deepStrictEqual(rows.map((r) => r.dedupe_key), ['range:1-11', 'range:11-21']);
    assert.deepStrictEqual([report.code, report.stderr, existsSync(out)], [0, `backfill: report of run ops-run written to ${out}\n`, true]);
    assert.deepStrictEqual([status.code, JSON.parse(status.stdout).runId], [0, 'ops-run']);
    const { rows: schemas } = await db.pool.query(`SELECT nspname FROM pg_namespace WHERE nspname = 'backfill'`);
    assert.deepStrictEqual(schemas, []);
  });

  it('a local run keeps its bookkeeping there too, so status finds it', async () => {
    // Act
    const run = await backfill(['demo', '--rows', '2000', '--database-url', db.url, '--run-id', 'ops-demo', '--json'], { env });
    const status = await backfill(['status', 'ops-demo', '--database-url', db.url, '--json'], { env });
    // Assess
    assert.equal(run.code, 0, run.stderr);
    assert.deepStrictEqual([status.code, JSON.parse(status.stdout).runId, JSON.parse(status.stdout).status], [0, 'ops-demo', 'succeeded']);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.done_items WHERE run_id = 'ops-demo'`);
    assert.deepStrictEqual(rows, [{ n: 2 }]);
    const { rows: schemas } = await db.pool.query(`SELECT nspname FROM pg_namespace WHERE nspname = 'backfill'`);
    assert.deepStrictEqual(schemas, []);
  });
});
