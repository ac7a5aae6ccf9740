import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { CodeJobDefinition, ItemOutcome, JobDefinition, Queryable, SqlJobDefinition } from '../../core/job';
import { readDeadItems } from '../../db/items';
import { runLocal, type CompletionEvent, type RunEvent } from '../../local/run-local';
import { backfillInProcess } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';

/** Only bundled into the synthesized construct; each test runs its own job object. */
const JOB_PATH = join(import.meta.dirname, '..', 'fixtures', 'counter-job.ts');
/** A stall (the bug these tests guard against) fails the test instead of hanging the suite. */
const STALL = { timeout: 180_000 };
const SOURCE = { table: 'counted', key: 'id' };

async function remaining(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM counted WHERE n <> 1');
  return Number(rows[0].n);
}

function addOne(ctx: Parameters<CodeJobDefinition['process']>[1], item: Parameters<CodeJobDefinition['process']>[0][number]): Promise<ItemOutcome> {
  return ctx.withTransaction(item, async (tx) => (await tx.query('UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2', [item.range!.lo, item.range!.hi])).rowCount ?? 0);
}

describe('runs finish through item faults (the synthesized state machine, embedded runtime)', () => {
  let db: TestDatabase;

  const counts = async () => (await db.pool.query<{ n: number; rows: number }>('SELECT n, count(*)::int AS rows FROM counted GROUP BY n ORDER BY n')).rows;
  const run = (job: JobDefinition, runId: string, input: Record<string, unknown> = {}, maxReceiveCount = 3, onEvent?: (event: RunEvent) => void) => runLocal({
    job,
    jobPath: JOB_PATH,
    databaseUrl: db.url,
    maxReceiveCount,
    timeScale: 0.2,
    input: { runId, chunkSize: 50, batch: { initialSize: 6, maxSize: 6 }, ...input },
    onEvent,
  });

  before(async () => {
    db = await openTestDatabase();
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
  });
  beforeEach(async () => {
    // 12 ranges of 50 rows
    await db.pool.query('TRUNCATE counted');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 600) g');
  });
  after(() => db.close());

  it('a code job that asks for a retry once for some items: they come back and every row changes exactly once', STALL, async () => {
    // Prepare: four of the twelve ranges ask for a retry the first time they are seen
    const asked = new Set<string>();
    const job: CodeJobDefinition = {
      name: 'retry-once',
      source: SOURCE,
      remaining,
      process: async (items, ctx) => Promise.all(items.map((item): Promise<ItemOutcome> => {
        if (['1', '151', '301', '451'].includes(item.range!.lo) && !asked.has(item.dedupeKey)) {
          asked.add(item.dedupeKey);
          return Promise.resolve({ status: 'retry', reason: 'upstream busy' });
        }
        return addOne(ctx, item);
      })),
    };
    // Act
    const summary = await run(job, 'retry-once');
    // Assess
    assert.deepStrictEqual(await counts(), [{ n: 1, rows: 600 }]);
    assert.deepStrictEqual(
      [summary.status, summary.itemsPlanned, summary.itemsSucceeded, summary.itemsFailed, summary.itemsDeadLettered, summary.rowsAffected, summary.rowsRemaining, summary.lastError?.error, summary.lastError?.items],
      ['succeeded', 12, 12, 4, 0, 600, 0, 'upstream busy', 4],
    );
    // It waited for the retried items (1, 2, 4 or 8 s each; the growth is in the controller's unit tests), and went on
    const inFlightWaits = summary.waits.filter((w) => /^waiting for \d+ in-flight items$/.test(w.reason));
    assert.ok(inFlightWaits.length > 0);
    assert.deepStrictEqual(inFlightWaits.filter((w) => ![1, 2, 4, 8].includes(w.seconds)), []);
  });

  it('a job that throws for its batch because of one poison item: only that item is dead-lettered, with its own error', STALL, async () => {
    // Prepare: the job throws naming its batch's span whenever the batch holds range 201-251
    const job: CodeJobDefinition = {
      name: 'poison-throws',
      source: SOURCE,
      remaining,
      process: async (items, ctx) => {
        if (items.some((item) => item.range!.lo === '201')) throw new Error(`boom in ${items[0].range!.lo}-${items.at(-1)!.range!.hi}`);
        return Promise.all(items.map((item) => addOne(ctx, item)));
      },
    };
    // Act
    const summary = await run(job, 'poison-throws', {}, 3);
    // Assess
    assert.deepStrictEqual(await counts(), [{ n: 0, rows: 50 }, { n: 1, rows: 550 }]);
    assert.deepStrictEqual(
      [summary.status, summary.itemsSucceeded, summary.itemsFailed, summary.itemsDeadLettered, summary.rowsRemaining, summary.lastError],
      ['succeeded', 11, 1, 1, 50, { error: 'boom in 201-251', dedupeKey: 'range:201-251', items: 1 }],
    );
    const dead = await readDeadItems(db.pool, 'backfill', 'poison-throws');
    assert.deepStrictEqual(dead.map((d) => [d.item.dedupeKey, d.reason]), [['range:201-251', 'boom in 201-251']]);
    const { rows } = await db.pool.query(`SELECT dedupe_key, attempt, error, final FROM backfill.failures WHERE run_id = 'poison-throws' ORDER BY id`);
    // (local-aws-sqs counts handing a message back as a receive: the second try is its third receive)
    assert.deepStrictEqual(rows, [
      { dedupe_key: 'range:201-251', attempt: 1, error: 'boom in 201-251', final: false },
      { dedupe_key: 'range:201-251', attempt: 3, error: 'boom in 201-251', final: true },
    ]);
  });

  it('a SQL job whose statement errors: its items are dead-lettered and the Postgres error is in the summary, the event and status', STALL, async () => {
    // Prepare: four ranges; the statement names a column that does not exist
    await db.pool.query('DELETE FROM counted WHERE id > 200');
    const job: SqlJobDefinition = { name: 'bad-sql', source: SOURCE, sql: 'UPDATE counted SET nope = 1 WHERE id >= $1 AND id < $2' };
    const completions: CompletionEvent[] = [];
    const postgresError = 'column "nope" of relation "counted" does not exist';
    // Act
    const summary = await run(job, 'bad-sql', {}, 2, (event) => void (event.type === 'completion' && completions.push(event.event)));
    const status = await backfillInProcess('status', 'bad-sql', '--json', '--database-url', db.url);
    // Assess
    assert.deepStrictEqual([summary.status, summary.itemsSucceeded, summary.itemsFailed, summary.itemsDeadLettered, summary.lastError?.error, summary.lastError?.items], ['succeeded', 0, 4, 4, postgresError, 4]);
    assert.match(summary.lastError!.dedupeKey!, /^range:\d+-\d+$/);
    assert.deepStrictEqual(completions.map((c) => c.detail.lastError), [summary.lastError]);
    const report = JSON.parse(status.stdout);
    assert.deepStrictEqual([status.code, report.lastError, report.progress.deadLettered], [0, summary.lastError, 4]);
    const text = await backfillInProcess('status', 'bad-sql', '--database-url', db.url);
    assert.match(text.stdout, new RegExp(`^last error  ${postgresError} · item range:\\d+-\\d+ · 4 items with this error$`, 'm'));
  });

  it('a run where most items fail the same way halts with that error (failures.haltRatio, failures.minItems)', STALL, async () => {
    // Prepare: every range fails, each on its one receive; the run may halt after 4 settled items
    const job: SqlJobDefinition = { name: 'mostly-failing', source: SOURCE, sql: 'UPDATE counted SET nope = 1 WHERE id >= $1 AND id < $2' };
    const completions: CompletionEvent[] = [];
    // Act
    const summary = await run(job, 'mostly-failing', { batch: { initialSize: 4, maxSize: 4 }, failures: { haltRatio: 0.5, minItems: 4 } }, 1, (event) => void (event.type === 'completion' && completions.push(event.event)));
    // Assess: the first batch's four items are settled (dead-lettered), and the next probe halts
    const postgresError = 'column "nope" of relation "counted" does not exist';
    const reason = `4 of 4 settled items were dead-lettered (more than failures.haltRatio 0.5 after at least failures.minItems 4); last error: ${postgresError}`;
    assert.deepStrictEqual([summary.status, summary.reason, summary.itemsSucceeded, summary.itemsDeadLettered, summary.lastError?.error], ['failed', `BackfillHalted: ${reason}`, 0, 4, postgresError]);
    assert.deepStrictEqual(completions.map((c) => [c.detail.status, c.detail.reason, c.detail.lastError?.error]), [['failed', reason, postgresError]]);
    assert.deepStrictEqual(await counts(), [{ n: 0, rows: 600 }]);
  });

  it('a code job that returns ok without ctx.withTransaction: counted done, at least once, and said so', STALL, async () => {
    // Prepare: the effect runs on ctx.db directly
    const job: CodeJobDefinition = {
      name: 'no-transaction',
      source: SOURCE,
      remaining,
      process: async (items, ctx) => Promise.all(items.map(async (item): Promise<ItemOutcome> => {
        const { rowCount } = await ctx.db.query('UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2', [item.range!.lo, item.range!.hi]);
        return { status: 'ok', rowsAffected: rowCount ?? 0 };
      })),
    };
    // Act
    const summary = await run(job, 'no-transaction');
    const status = await backfillInProcess('status', 'no-transaction', '--json', '--database-url', db.url);
    // Assess
    assert.deepStrictEqual(await counts(), [{ n: 1, rows: 600 }]);
    assert.deepStrictEqual([summary.status, summary.itemsSucceeded, summary.itemsAtLeastOnce, summary.rowsAffected, summary.rowsRemaining, summary.lastError], ['succeeded', 12, 12, 600, 0, null]);
    assert.deepStrictEqual(JSON.parse(status.stdout).itemsAtLeastOnce, 12);
  });
});
