import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeRangeItem } from '../../core/work-item';
import { recordFailures } from '../../db/failures';
import { countItems, purgeDeadItems, readDeadItems, readOutstandingItems, recordItems, requeueDeadItems } from '../../db/items';
import { ensureBookkeeping } from '../../db/schema';
import { openTestDatabase, type TestDatabase } from '../support/database';

const SCHEMA = 'local_dlq_test';

describe('the local DLQ, derived from the run\'s items in Postgres', () => {
  let db: TestDatabase;
  before(async () => {
    db = await openTestDatabase();
    await ensureBookkeeping(db.pool, SCHEMA);
  });
  after(() => db.close());

  const item = (runId: string, lo: number) => makeRangeItem(runId, { lo: String(lo), hi: String(lo + 10) });
  const keys = (items: ReadonlyArray<{ dedupeKey: string }>) => items.map((i) => i.dedupeKey);
  const fail = (runId: string, lo: number, error: string, final: boolean) =>
    recordFailures(db.pool, SCHEMA, [{ runId, dedupeKey: item(runId, lo).dedupeKey, attempt: 1, error, final }]);

  /** Five items: range 1 done, 11 and 21 dead, 31 retried but not final (outstanding), 41 untouched (outstanding). */
  async function prepareRun(runId: string): Promise<number[]> {
    const recorded = await recordItems(db.pool, SCHEMA, [1, 11, 21, 31, 41].map((lo) => item(runId, lo)));
    const again = await recordItems(db.pool, SCHEMA, [item(runId, 1)]);
    await db.pool.query(`INSERT INTO ${SCHEMA}.done_items (run_id, dedupe_key, rows_affected) VALUES ($1, 'range:1-11', 10)`, [runId]);
    await fail(runId, 11, 'row 11 is poisoned', true);
    await fail(runId, 21, 'row 21 is poisoned', true);
    await fail(runId, 31, 'busy', false);
    return [recorded, again];
  }

  it('counts every item in exactly one place and lists the dead ones with their last final failure', async () => {
    // Prepare
    const recorded = await prepareRun('counts');
    // Act
    const counts = await countItems(db.pool, SCHEMA, 'counts');
    const dead = await readDeadItems(db.pool, SCHEMA, 'counts');
    const first = await readDeadItems(db.pool, SCHEMA, 'counts', 1);
    // Assess
    assert.deepStrictEqual(recorded, [5, 0]);
    assert.deepStrictEqual(counts, { recorded: 5, done: 1, dead: 2, purged: 0, outstanding: 2 });
    assert.deepStrictEqual(dead.map((d) => [d.item.dedupeKey, d.reason]), [['range:11-21', 'row 11 is poisoned'], ['range:21-31', 'row 21 is poisoned']]);
    assert.deepStrictEqual(keys(first.map((d) => d.item)), ['range:11-21']);
  });

  it('requeues dead items: they are outstanding again, so the next local run puts them on the work queue', async () => {
    // Prepare
    await prepareRun('requeue');
    // Act
    const requeued = await requeueDeadItems(db.pool, SCHEMA, 'requeue');
    const again = await requeueDeadItems(db.pool, SCHEMA, 'requeue');
    // Assess
    assert.deepStrictEqual([requeued, again], [2, 0]);
    assert.deepStrictEqual(await countItems(db.pool, SCHEMA, 'requeue'), { recorded: 5, done: 1, dead: 0, purged: 0, outstanding: 4 });
    assert.deepStrictEqual(keys(await readOutstandingItems(db.pool, SCHEMA, 'requeue')), ['range:11-21', 'range:21-31', 'range:31-41', 'range:41-51']);
  });

  it('makes a requeued item dead again when it fails for good again, and purges dead items for good', async () => {
    // Prepare
    await prepareRun('purge');
    await requeueDeadItems(db.pool, SCHEMA, 'purge');
    await fail('purge', 21, 'row 21 is still poisoned', true);
    const deadAgain = await readDeadItems(db.pool, SCHEMA, 'purge');
    // Act
    const purged = await purgeDeadItems(db.pool, SCHEMA, 'purge');
    const purgedAgain = await purgeDeadItems(db.pool, SCHEMA, 'purge');
    const requeued = await requeueDeadItems(db.pool, SCHEMA, 'purge');
    // Assess
    assert.deepStrictEqual(deadAgain.map((d) => [d.item.dedupeKey, d.reason]), [['range:21-31', 'row 21 is still poisoned']]);
    assert.deepStrictEqual([purged, purgedAgain, requeued], [1, 0, 0]);
    assert.deepStrictEqual(await countItems(db.pool, SCHEMA, 'purge'), { recorded: 5, done: 1, dead: 0, purged: 1, outstanding: 3 });
    assert.deepStrictEqual(keys(await readOutstandingItems(db.pool, SCHEMA, 'purge')), ['range:11-21', 'range:31-41', 'range:41-51']);
    assert.deepStrictEqual(await readDeadItems(db.pool, SCHEMA, 'purge'), []);
  });

  it('leaves other runs alone', async () => {
    // Prepare
    await prepareRun('run-a');
    await prepareRun('run-b');
    // Act
    const requeued = await requeueDeadItems(db.pool, SCHEMA, 'run-a');
    // Assess
    assert.equal(requeued, 2);
    assert.deepStrictEqual([(await countItems(db.pool, SCHEMA, 'run-a')).dead, (await countItems(db.pool, SCHEMA, 'run-b')).dead], [0, 2]);
  });
});
