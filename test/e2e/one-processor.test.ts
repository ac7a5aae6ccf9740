import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backfill, startBackfill } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { until } from '../support/steering';

const GATED_JOB = 'test/fixtures/gated-job.ts';

describe('one active processor per run: two processes, and a dead one (the backfill command as child processes)', () => {
  let db: TestDatabase;
  const query = async <R>(sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows as R[];

  before(async () => {
    db = await openTestDatabase();
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 2000) g');
    await db.pool.query('CREATE TABLE gate (open boolean NOT NULL, waiting int NOT NULL)');
    await db.pool.query('INSERT INTO gate VALUES (false, 0)');
  });
  after(() => db.close());

  it('a second process refuses naming the holder; the killed one shows as stalled; the same command takes the run up again', async () => {
    // Prepare: process A holds its first batch at the gate
    const args = ['run', '--local', '--job', GATED_JOB, '--database-url', db.url, '--run-id', 'solo', '--chunk-size', '100', '--time-scale', '0.05'];
    const first = startBackfill(...args);
    await until('a batch of the first process is held at the gate', async () => (await query<{ waiting: number }>('SELECT waiting FROM gate'))[0].waiting > 0, 120_000);
    // Act 1: a second process on the same run
    const second = await backfill(...args);
    // Act 2: the first process dies (kill -9) with its batch in flight
    first.kill('SIGKILL');
    const killed = await first.exited;
    const status = await backfill('status', 'solo', '--database-url', db.url);
    const statusJson = JSON.parse((await backfill('status', 'solo', '--database-url', db.url, '--json')).stdout);
    const list = await backfill('status', '--database-url', db.url);
    const pause = await backfill('pause', 'solo', '--database-url', db.url);
    const resume = await backfill('resume', 'solo', '--database-url', db.url);
    // Act 3: the same command again, with the gate open: the dead holder is provably gone (same host, no such pid)
    await db.pool.query('UPDATE gate SET open = true');
    const again = await backfill(...args);
    // Assess
    assert.equal(second.code, 1, second.stderr);
    const holder = `local:${(await query<{ host: string }>('SELECT host FROM backfill.leases'))[0].host}:${first.pid}:`;
    assert.match(second.stderr, new RegExp(`^backfill: run solo is being processed by ${holder}\\w{8} \\(last heartbeat \\S+\\); its lease lapses at \\S+ unless it heartbeats again\\.`, 'm'));
    assert.deepStrictEqual(killed.code, 1);
    assert.match(status.stdout, /^run +solo · job gated-counter · stalled \(no heartbeat since \S+\); last recorded running/m);
    assert.match(status.stdout, /^processor +local:\S+ · last heartbeat \S+ · its process is gone: nothing works on this run; backfill run --local --job PATH --run-id solo takes it up again$/m);
    assert.deepStrictEqual([statusJson.etaSeconds, statusJson.processor.state, typeof statusJson.stalledSince], [null, 'gone', 'string']);
    assert.match(list.stdout, /^solo +stalled /m);
    assert.match(pause.stdout, /^run solo: the pause flag is recorded, but the run is stalled \(no heartbeat since \S+\): no processor works on it, so nothing was running to pause\./);
    assert.match(resume.stdout, /^run solo: the pause flag is cleared, but the run is stalled \(no heartbeat since \S+\): no processor works on it, so it goes on only when started again: backfill run --local --job PATH --run-id solo$/m);
    assert.equal(again.code, 0, again.stderr);
    assert.deepStrictEqual(await query('SELECT n, count(*)::int AS c FROM counted GROUP BY n'), [{ n: 1, c: 2000 }]);
    const [lease] = await query<{ released: boolean; pid: number }>('SELECT released_at IS NOT NULL AS released, pid FROM backfill.leases WHERE run_id = $1', ['solo']);
    assert.deepStrictEqual([lease.released, lease.pid === first.pid], [true, false]);
    assert.match((await backfill('status', 'solo', '--database-url', db.url)).stdout, /^run +solo · job gated-counter · succeeded/m);
  });
});
