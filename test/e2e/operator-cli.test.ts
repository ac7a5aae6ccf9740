import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { backfill, backfillInProcess, startBackfill } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';

const GATED_JOB = 'test/fixtures/gated-job.ts';

/** Polls until `probe` returns a value (not undefined); a long limit, since the machine may be busy. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 120_000): Promise<T> {
  const until = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}

/** The JSON of the completion event the progress reporter printed. */
function completionEvent(stderr: string): { source: string; 'detail-type': string; detail: Record<string, unknown> } {
  const line = stderr.split('\n').find((l) => l.startsWith('completion event: '));
  assert.ok(line, `no completion event in:\n${stderr}`);
  return JSON.parse(line.slice('completion event: '.length));
}

describe('steering a local run from other processes with the backfill command', () => {
  let db: TestDatabase;
  const query = async <R>(sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows as R[];
  const changes = async () => Object.fromEntries((await query<{ n: number; c: number }>('SELECT n, count(*)::int AS c FROM counted GROUP BY n ORDER BY n')).map((r) => [String(r.n), r.c]));
  const waitForBatchInFlight = () => waitFor('a batch held at the gate', async () => ((await query<{ waiting: number }>('SELECT waiting FROM gate'))[0].waiting > 0 ? true : undefined));
  const waitForStatus = (runId: string, status: string) =>
    waitFor(`run ${runId} to be ${status}`, async () => ((await query<{ status: string }>('SELECT status FROM backfill.runs WHERE run_id = $1', [runId]))[0]?.status === status ? true : undefined));

  before(async () => {
    db = await openTestDatabase();
  });
  beforeEach(async () => {
    await db.pool.query('DROP SCHEMA IF EXISTS backfill CASCADE');
    await db.pool.query('DROP TABLE IF EXISTS counted, gate');
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 2000) g');
    await db.pool.query('CREATE TABLE gate (open boolean NOT NULL, waiting int NOT NULL)');
    await db.pool.query('INSERT INTO gate VALUES (false, 0)');
  });
  after(() => db.close());

  it('pause holds the run once the batch in flight finishes; status shows it; set and resume take effect; each row changes once', async () => {
    // Prepare: 20 items of 100 rows; the first batch (4 items) is held at the gate
    const run = startBackfill('run', '--local', '--job', GATED_JOB, '--database-url', db.url, '--run-id', 'cli-steer', '--chunk-size', '100', '--time-scale', '0.05', '--json');
    await waitForBatchInFlight();
    // Act: pause while the batch is in flight, then let the batch finish
    const paused = await backfill('pause', 'cli-steer', '--database-url', db.url);
    const flagsBeforeProbe = await backfillInProcess('status', 'cli-steer', '--database-url', db.url, '--json');
    await db.pool.query('UPDATE gate SET open = true');
    await waitForStatus('cli-steer', 'paused');
    const whilePaused = await backfillInProcess('status', 'cli-steer', '--database-url', db.url, '--json');
    const [{ last }] = await query<{ last: string }>(`SELECT max(id) AS last FROM backfill.history`);
    const set = await backfill('set', 'cli-steer', 'batch.minSize=2', 'batch.maxSize=2', 'batch.initialSize=2', '--database-url', db.url);
    // A probe that read the knobs just before the set may still record its decision after it; the one after obeys.
    await waitFor('a decision with the new knobs', async () => ((await query(`SELECT 1 FROM backfill.history WHERE kind = 'decision' AND id > $1 AND (data->>'batchSize')::int = 2`, [last])).length > 0 ? true : undefined));
    const human = await backfillInProcess('status', 'cli-steer', '--database-url', db.url);
    const resumed = await backfill('resume', 'cli-steer', '--database-url', db.url);
    const finished = await run.exited;
    // Assess: the commands
    assert.deepStrictEqual([paused.code, paused.stdout.split('.')[0]], [0, 'run cli-steer: paused']);
    assert.deepStrictEqual(JSON.parse(flagsBeforeProbe.stdout).paused, true);
    const report = JSON.parse(whilePaused.stdout);
    const { at: queueSeenAt, ...queue } = report.queue;
    assert.ok(Date.parse(queueSeenAt) > 0);
    assert.deepStrictEqual(
      [report.status, report.paused, report.abortRequested, report.progress, queue, report.decision.action, report.executions.count, report.etaSeconds],
      ['paused', true, false, { items: 20, done: 4, deadLettered: 0, outstanding: 16, percent: 20, rows: 400 }, { source: 'last-batch', visible: 16, inFlight: 0 }, 'pause', 1, null],
    );
    assert.deepStrictEqual([set.code, set.stdout.split('\n')[0]], [0, 'run cli-steer: live knobs batch.minSize=2 batch.maxSize=2 batch.initialSize=2 (read by its next probe)']);
    assert.deepStrictEqual(human.stdout.trimEnd().split('\n').map((line) => line.slice(0, 11).trim()), ['run', 'progress', 'rate', 'batch', 'health', 'queue', 'controls', 'knobs', 'executions', 'processor', 'updated']);
    assert.match(human.stdout, /^batch {7}2 items · last decision: pause: paused by the operator$/m);
    assert.match(human.stdout, /^controls {4}PAUSED \(backfill resume to go on\) · no abort requested$/m);
    assert.deepStrictEqual([resumed.code, resumed.stdout.trim()], [0, 'run cli-steer: resumed. It goes on at its next probe, within 10s (pausePollSeconds).']);
    // Assess: the run lost nothing and did nothing twice; no batch ran while it was paused
    assert.equal(finished.code, 0, finished.stderr);
    const summary = JSON.parse(finished.stdout);
    assert.deepStrictEqual([summary.status, summary.itemsSucceeded, summary.itemsDeadLettered, summary.rowsRemaining], ['succeeded', 20, 0, 0]);
    assert.deepStrictEqual(await changes(), { '1': 2000 });
    const timeline = await query<{ kind: string; action: string | null; received: number | null }>(
      `SELECT kind, data->>'action' AS action, (data->>'received')::int AS received FROM backfill.history WHERE run_id = 'cli-steer' ORDER BY id`,
    );
    assert.deepStrictEqual(timeline.filter((e) => e.kind === 'batch').map((e) => e.received), [4, 2, 2, 2, 2, 2, 2, 2, 2]);
    const firstPause = timeline.findIndex((e) => e.action === 'pause');
    const nextProceed = timeline.findIndex((e, i) => i > firstPause && e.action === 'proceed');
    assert.deepStrictEqual(timeline.slice(firstPause, nextProceed).filter((e) => e.kind === 'batch'), []);
    assert.deepStrictEqual(completionEvent(finished.stderr).detail.status, 'succeeded');
  });

  it('abort stops the run after the batch in flight, prints the completion event; the run resumes from what is done, and --fresh starts it over', async () => {
    // Prepare
    const run = startBackfill('run', '--local', '--job', GATED_JOB, '--database-url', db.url, '--run-id', 'cli-abort', '--chunk-size', '100', '--json');
    await waitForBatchInFlight();
    // Act
    const abort = await backfill('abort', 'cli-abort', '--database-url', db.url);
    await db.pool.query('UPDATE gate SET open = true');
    const aborted = await run.exited;
    const statusAfterAbort = await backfillInProcess('status', 'cli-abort', '--database-url', db.url, '--json');
    const pauseAborted = await backfillInProcess('pause', 'cli-abort', '--database-url', db.url);
    const abortAgain = await backfillInProcess('abort', 'cli-abort', '--database-url', db.url);
    const resumed = await backfill('run', '--local', '--job', GATED_JOB, '--database-url', db.url, '--run-id', 'cli-abort', '--json');
    const rowsAfterResume = await changes();
    const fresh = await backfill('run', '--local', '--job', GATED_JOB, '--database-url', db.url, '--run-id', 'cli-abort', '--fresh', '--chunk-size', '100', '--json');
    const list = await backfillInProcess('status', '--database-url', db.url);
    // Assess: the abort and its event
    assert.deepStrictEqual([abort.code, abort.stdout.split('.')[0]], [0, 'run cli-abort: abort requested'], abort.stderr);
    assert.equal(aborted.code, 1);
    assert.match(aborted.stderr, /^backfill: run cli-abort aborted: BackfillAborted: aborted by the operator$/m);
    const event = completionEvent(aborted.stderr);
    const { finishedAt, executionId, ...detail } = event.detail;
    assert.deepStrictEqual([event.source, event['detail-type'], typeof finishedAt, String(executionId).endsWith(':cli-abort')], ['adaptive-backfill', 'Backfill Run Finished', 'string', true]);
    assert.deepStrictEqual(detail, { runId: 'cli-abort', job: 'gated-counter', status: 'aborted', reason: 'aborted by the operator', itemsPlanned: 20, itemsSucceeded: 4, rowsAffected: 400, itemsFailed: 0, itemsDeadLettered: 0, itemsAtLeastOnce: 0, lastError: null });
    const report = JSON.parse(statusAfterAbort.stdout);
    assert.deepStrictEqual([report.status, report.abortRequested, report.progress.done, report.progress.outstanding], ['aborted', true, 4, 16]);
    assert.deepStrictEqual([pauseAborted.code, pauseAborted.stderr.split('\n')[0]], [1, 'backfill: RUN: run cli-abort has ended (aborted): nothing to pause. Starting it again with the same run id resumes its work']);
    assert.deepStrictEqual([abortAgain.code, abortAgain.stdout.trim()], [0, 'run cli-abort is already aborted; nothing changed']);
    // Assess: resumed from what was done, then rehearsed again under a new run id
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepStrictEqual([JSON.parse(resumed.stdout).itemsSucceeded, JSON.parse(resumed.stdout).executions], [20, 1]);
    assert.deepStrictEqual(rowsAfterResume, { '1': 2000 });
    assert.equal(fresh.code, 0, fresh.stderr);
    const freshSummary = JSON.parse(fresh.stdout);
    assert.match(freshSummary.runId, /^cli-abort-\d{8}-\d{6}-\d{3}$/);
    assert.match(fresh.stderr, new RegExp(`^fresh run: ${freshSummary.runId}$`, 'm'));
    assert.deepStrictEqual([freshSummary.itemsPlanned, freshSummary.itemsSucceeded], [20, 20]);
    assert.deepStrictEqual(await changes(), { '2': 2000 });
    assert.deepStrictEqual(list.stdout.trimEnd().split('\n').slice(1).map((line) => line.split(/\s+/).slice(0, 3)), [[freshSummary.runId, 'succeeded', '100.0%'], ['cli-abort', 'succeeded', '100.0%']]);
  });

  it('rejects bad operator input with a one-line reason naming the field', async () => {
    // Prepare: a run to steer
    await backfill('run', '--local', '--job', 'test/fixtures/counter-job.ts', '--database-url', db.url, '--run-id', 'cli-errors', '--chunk-size', '1000');
    // Act: the commands in this process, one after the other (they print through console), and one child
    // process that must not find a database (the test's own DATABASE_URL is not passed to children)
    const cases = [
      ['set', 'cli-errors', 'chunkSize=5'],
      ['set', 'cli-errors', 'batch.maxSiz=5'],
      ['set', 'cli-errors', 'batch.maxSize=0', '--database-url', db.url],
      ['set', 'cli-errors', 'batch.maxSize=2', '--database-url', db.url],
      ['set', 'cli-errors', 'batch.minSize=50', 'batch.maxSize=10', '--database-url', db.url],
      ['status', 'nope', '--database-url', db.url],
      ['start', '--job', 'counter', '--input', '{"batch":{"maxSize":0}}'],
      ['start', '--job', 'counter', '--input', '{"sql":"DELETE FROM users"}'],
      ['start', '--local', '--job', 'counter'],
      ['start', '--job', 'counter'],
    ];
    const results = [];
    for (const args of cases) results.push(await backfillInProcess(...args));
    results.push(await backfill('pause', 'cli-errors'));
    // Assess
    assert.deepStrictEqual(results.map((r) => [r.code, r.stderr.split('\n')[0]]), [
      [1, "backfill: chunkSize: cannot change while a run goes on: the work items were cut to this many rows when the run was planned, and a new size cannot re-cut them; start the job over with --fresh for another size"],
      [1, 'backfill: batch.maxSiz: batch.maxSiz is not a known knob; allowed here: initialSize, minSize, maxSize, targetSeconds, maxConsecutiveFailures, niceRatio'],
      [1, 'backfill: batch.maxSize: must be an integer from 1 to 10000; got 0'],
      [1, 'backfill: batch.initialSize: must be between batch.minSize (1) and batch.maxSize (2); got 4 (not being set now: set batch.initialSize too)'],
      [1, 'backfill: batch.minSize: must be <= batch.maxSize (10); got 50'],
      [1, 'backfill: RUN: no run "nope" in backfill.runs; recent runs: cli-errors'],
      [1, 'backfill: input.batch.maxSize: must be an integer from 1 to 10000; got 0'],
      [1, 'backfill: sql: raw SQL is never accepted in execution input: jobs are deployed code, select one by "job"'],
      [1, 'backfill: --local: `start` starts an execution on AWS; to run in this process use `backfill run --local --job PATH` (with --run-id and --fresh as here)'],
      [1, 'backfill: --stack: is required to find the stateMachineArn (or give --state-machine-arn)'],
      [1, 'backfill: --database-url: is required to reach the run table (or --secret-arn ARN, or DATABASE_URL / BACKFILL_DATABASE_SECRET_ARN)'],
    ]);
    const { rows } = await db.pool.query(`SELECT knobs FROM backfill.runs WHERE run_id = 'cli-errors'`);
    assert.deepStrictEqual(rows, [{ knobs: {} }]);
  });
});
