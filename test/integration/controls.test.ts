import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InvalidInputError } from '../../core/errors';
import { resolveSettings } from '../../core/settings';
import { makeRangeItem } from '../../core/work-item';
import { requestAbort, setPaused, updateKnobs } from '../../db/controls';
import { countItems } from '../../db/items';
import { recordFailures } from '../../db/failures';
import { readDeadItems, readOutstandingItems, recordItems } from '../../db/items';
import { recordRunStatus, upsertRun } from '../../db/runs';
import { ensureBookkeeping } from '../../db/schema';
import { openTestDatabase, type TestDatabase } from '../support/database';

const SCHEMA = 'backfill';

describe('the run table as the operator commands steer it (real Postgres)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await openTestDatabase();
    await ensureBookkeeping(db.pool, SCHEMA);
  });
  after(() => db.close());

  it('counts a run\'s items exactly as the lists the local runtime restores from', async () => {
    // Prepare: 6 items: 2 done, 1 dead, 1 dead then redriven, 1 purged, 1 that failed but will be retried
    await upsertRun(db.pool, SCHEMA, 'counted-run', 'job', resolveSettings());
    const items = Array.from({ length: 6 }, (_, i) => makeRangeItem('counted-run', { lo: String(i * 10), hi: String(i * 10 + 10) }));
    await recordItems(db.pool, SCHEMA, items);
    await db.pool.query(`INSERT INTO backfill.done_items (run_id, dedupe_key, rows_affected) VALUES ('counted-run', $1, 10), ('counted-run', $2, 10)`, [items[0].dedupeKey, items[1].dedupeKey]);
    const failure = (i: number, final: boolean) => ({ runId: 'counted-run', dedupeKey: items[i].dedupeKey, attempt: 1, error: 'boom', final });
    await recordFailures(db.pool, SCHEMA, [failure(2, true), failure(3, true), failure(5, false)]);
    await db.pool.query(`UPDATE backfill.items SET requeued_at = now() + interval '1 second' WHERE dedupe_key = $1`, [items[3].dedupeKey]);
    await db.pool.query(`UPDATE backfill.items SET purged_at = now() WHERE dedupe_key = $1`, [items[4].dedupeKey]);
    // Act
    const counts = await countItems(db.pool, SCHEMA, 'counted-run');
    const outstanding = await readOutstandingItems(db.pool, SCHEMA, 'counted-run');
    const dead = await readDeadItems(db.pool, SCHEMA, 'counted-run');
    // Assess
    assert.deepStrictEqual(counts, { recorded: 6, done: 2, dead: 1, outstanding: 2, purged: 1 });
    assert.deepStrictEqual([outstanding.length, dead.length], [counts.outstanding, counts.dead]);
  });

  it('pauses and aborts only runs that have not ended', async () => {
    // Prepare
    await upsertRun(db.pool, SCHEMA, 'going', 'job', resolveSettings());
    await upsertRun(db.pool, SCHEMA, 'ended', 'job', resolveSettings());
    await recordRunStatus(db.pool, SCHEMA, 'ended', 'succeeded', 'drained');
    // Act
    const paused = await setPaused(db.pool, SCHEMA, 'going', true);
    const pausedEnded = await setPaused(db.pool, SCHEMA, 'ended', true);
    const flagged = await requestAbort(db.pool, SCHEMA, 'going', false, 'r');
    const marked = await requestAbort(db.pool, SCHEMA, 'going', true, 'stopped by the operator');
    const abortedEnded = await requestAbort(db.pool, SCHEMA, 'ended', true, 'r');
    // Assess
    assert.deepStrictEqual([paused?.paused, pausedEnded], [true, undefined]);
    assert.deepStrictEqual([flagged?.status, flagged?.abortRequested, flagged?.finishedAt], ['running', true, null]);
    assert.deepStrictEqual([marked?.status, marked?.reason, typeof marked?.finishedAt], ['aborted', 'stopped by the operator', 'string']);
    assert.deepStrictEqual(abortedEnded, undefined);
  });

  it('refuses to start a run under the run id of another job\'s run, leaving that run\'s row as it was', async () => {
    // Prepare: job a's run, ended, paused and with an abort requested, knobs and its own settings
    await upsertRun(db.pool, SCHEMA, 'taken', 'a', resolveSettings({ batch: { maxSize: 7 } }));
    await recordRunStatus(db.pool, SCHEMA, 'taken', 'failed', 'halted: replicationLag');
    await db.pool.query(`UPDATE backfill.runs SET paused = true, abort_requested = true, knobs = '{"backoff":{"maxSeconds":60}}' WHERE run_id = 'taken'`);
    const readRow = async () => (await db.pool.query(`SELECT * FROM backfill.runs WHERE run_id = 'taken'`)).rows[0];
    const before = await readRow();
    // Act
    const error = await upsertRun(db.pool, SCHEMA, 'taken', 'b', resolveSettings({ batch: { maxSize: 9 } })).then(() => undefined, (e: InvalidInputError) => e);
    // Assess
    const after = await readRow();
    assert.deepStrictEqual(after, before);
    assert.deepStrictEqual(
      [after.job, after.status, after.reason, after.settings.batch.maxSize, after.paused, after.abort_requested, after.knobs, after.finished_at instanceof Date],
      ['a', 'failed', 'halted: replicationLag', 7, true, true, { backoff: { maxSeconds: 60 } }, true],
    );
    assert.deepStrictEqual([error?.name, error?.field, error?.message], ['InvalidInputError', 'runId', 'runId: run taken belongs to job a, not b; choose another runId (or start with --fresh)']);
  });

  it('serializes concurrent knob changes: neither operator\'s knob is lost', async () => {
    // Prepare
    await upsertRun(db.pool, SCHEMA, 'knobbed', 'job', resolveSettings());
    // Act: two changes at once, each adding its own knob to what it read
    await Promise.all([
      updateKnobs(db.pool, SCHEMA, 'knobbed', (run) => ({ ...run.knobs, backoff: { maxSeconds: 60 } })),
      updateKnobs(db.pool, SCHEMA, 'knobbed', (run) => ({ ...run.knobs, batch: { maxSize: 50 } })),
    ]);
    const missing = await updateKnobs(db.pool, SCHEMA, 'no-such-run', () => ({}));
    // Assess
    const { rows } = await db.pool.query(`SELECT knobs FROM backfill.runs WHERE run_id = 'knobbed'`);
    assert.deepStrictEqual([rows[0].knobs, missing], [{ backoff: { maxSeconds: 60 }, batch: { maxSize: 50 } }, undefined]);
  });
});
