import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import type { JobDefinition } from '../../core/job';
import { openOtherSession, openTestDatabase, type TestDatabase } from '../support/database';
import { checkOf, healthSettings, makeProber, only, until } from '../support/health';

/** A job whose source table the table-bound checks watch. */
const jobOn = (table: string): JobDefinition => ({ name: 'io-test', source: { table, key: 'id' }, sql: 'SELECT $1::bigint, $2::bigint' });

/** The I/O family: cache hits on the job's table, temp files, vacuum on the job's table, checkpoints, the canary. */
describe('health checks on I/O and background work (real Postgres)', () => {
  let db: TestDatabase;
  let traffic: pg.Client;
  before(async () => {
    db = await openTestDatabase();
    traffic = await openOtherSession(db.url);
  });
  after(async () => {
    await traffic.end();
    await db.close();
  });

  it('cacheHitRatio turns critical when reads of the job\'s table miss shared buffers, from deltas, and clears on cached reads', async () => {
    // Prepare: a table bigger than a quarter of shared_buffers, written through the bulk-write ring, so most of its
    // pages are not in shared buffers and a sequential scan (through its own small ring) reads them from outside.
    await db.pool.query(`SELECT set_config('work_mem', '64MB', false)`);
    const { rows } = await db.pool.query<{ bytes: string }>(`SELECT pg_size_bytes(current_setting('shared_buffers')) AS bytes`);
    const rowsNeeded = Math.ceil((Number(rows[0].bytes) / 4) * 1.5 / 240);
    await db.pool.query(`CREATE TABLE cold AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, ${rowsNeeded}) g`);
    await db.pool.query('ALTER TABLE cold ADD PRIMARY KEY (id)');
    const probe = makeProber(db.pool, healthSettings(only('cacheHitRatio'), { cacheHitRatio: { warningBelow: 0.9, criticalBelow: 0.5, minBlocks: 100 } }), { job: jobOn('cold') });
    const first = await probe();
    // Act: cold reads, then (once seen) only reads of a few cached pages
    const during = await until('cold reads', async () => {
      await traffic.query('SELECT count(*) FROM cold');
      await traffic.query('SELECT pg_stat_force_next_flush()');
      return probe();
    }, (r) => r.verdict === 'critical');
    await traffic.query('SET enable_seqscan = off');
    const afterwards = await until('cached reads only', async () => {
      for (let i = 0; i < 100; i += 1) await traffic.query('SELECT pad FROM cold WHERE id = $1', [1 + (i % 50)]);
      await traffic.query('SELECT pg_stat_force_next_flush()');
      return probe();
    }, (r) => r.verdict === 'ok' && /^\d+ of \d+ blocks/.test(checkOf(r, 'cacheHitRatio').detail ?? ''));
    // Assess
    assert.equal(checkOf(first, 'cacheHitRatio').detail, 'first probe: counting block reads from now');
    assert.ok(checkOf(during, 'cacheHitRatio').value < 0.5, JSON.stringify(checkOf(during, 'cacheHitRatio')));
    assert.ok(checkOf(afterwards, 'cacheHitRatio').value >= 0.9, JSON.stringify(checkOf(afterwards, 'cacheHitRatio')));
  });

  it('tempFiles turns critical while sorts spill past a tiny work_mem, as a rate since the previous probe, and clears', async () => {
    // Prepare
    const probe = makeProber(db.pool, healthSettings(only('tempFiles'), { tempFiles: { warningBytesPerSecond: 1, criticalBytesPerSecond: 1024 } }));
    await probe();
    await traffic.query(`SET work_mem = '64kB'`);
    // Act
    const during = await until('spilled sorts', async () => {
      await traffic.query('SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC) s');
      await traffic.query('SELECT pg_stat_force_next_flush()');
      return probe();
    }, (r) => r.verdict === 'critical');
    await traffic.query('RESET work_mem');
    const afterwards = await until('no more spills', probe, (r) => r.verdict === 'ok');
    // Assess
    assert.match(checkOf(during, 'tempFiles').detail ?? '', /^\d+ temporary files, \d+ bytes in \d+\.\ds$/);
    assert.ok(checkOf(during, 'tempFiles').value >= 1024);
    assert.deepStrictEqual([checkOf(afterwards, 'tempFiles').value, checkOf(afterwards, 'tempFiles').verdict], [0, 'ok']);
  });

  it('vacuum sees a VACUUM running on the job\'s table, and clears when it stops', async () => {
    // Prepare: a table autovacuum leaves alone, and a VACUUM slowed to a crawl by cost-based delay
    await db.pool.query(`CREATE TABLE vac WITH (autovacuum_enabled = false) AS SELECT g AS id, repeat('v', 100) AS pad FROM generate_series(1, 50000) g`);
    await db.pool.query('DELETE FROM vac WHERE id % 2 = 0');
    const probe = makeProber(db.pool, healthSettings(only('vacuum'), { vacuum: { warningSeconds: 0, criticalSeconds: 0.5 } }), { job: jobOn('vac') });
    const vacuumer = await openOtherSession(db.url);
    try {
      await vacuumer.query('SET vacuum_cost_delay = 100');
      await vacuumer.query('SET vacuum_cost_limit = 1');
      const vacuuming = vacuumer.query('VACUUM vac').catch((error: Error) => error.message);
      // Act
      const during = await until('a running VACUUM', probe, (r) => r.verdict === 'critical');
      await db.pool.query(`SELECT pg_cancel_backend(pid) FROM pg_stat_progress_vacuum WHERE relid = 'vac'::regclass`);
      const ended = await vacuuming;
      // The cancel reaches the client before the backend has ended its progress entry (the error is sent, then the
      // transaction aborts), so a probe right after may still see it: wait for the verdict to clear, within a bound.
      const afterwards = await until('the cancelled VACUUM gone', probe, (r) => r.verdict === 'ok');
      // Assess
      assert.match(checkOf(during, 'vacuum').detail ?? '', /^VACUUM on vac, /);
      assert.equal(ended, 'canceling statement due to user request');
      assert.deepStrictEqual([checkOf(afterwards, 'vacuum').value, checkOf(afterwards, 'vacuum').verdict], [0, 'ok']);
    } finally {
      await vacuumer.end();
    }
  });

  it('checkpoints turns critical on a requested checkpoint since the previous probe, and clears at the next', async () => {
    // Prepare
    const probe = makeProber(db.pool, healthSettings(only('checkpoints'), { checkpoints: { warningRequested: 1, criticalRequested: 1 } }));
    await probe();
    await traffic.query('CREATE TABLE IF NOT EXISTS dirty (v int)');
    await traffic.query('INSERT INTO dirty SELECT generate_series(1, 1000)');
    // Act
    await traffic.query('CHECKPOINT');
    const during = await until('the requested checkpoint', probe, (r) => r.verdict === 'critical');
    const afterwards = await probe();
    // Assess
    assert.match(checkOf(during, 'checkpoints').detail ?? '', /^1 requested and 0 timed checkpoints in \d+\.\ds$/);
    assert.deepStrictEqual([checkOf(afterwards, 'checkpoints').value, checkOf(afterwards, 'checkpoints').verdict], [0, 'ok']);
  });

  it('probeLatency turns critical while other sessions keep the CPU busy, against its own recent best, and clears', async () => {
    // Prepare: a baseline from a few quiet probes, then more CPU-bound sessions than cores
    const probe = makeProber(db.pool, healthSettings(only('probeLatency'), { probeLatency: { enabled: true, warningRatio: 1.5, criticalRatio: 2, minExtraMs: 0.5, samples: 5 } }));
    for (let i = 0; i < 5; i += 1) await probe();
    const hogs = await Promise.all([1, 2, 3, 4, 5, 6].map(() => openOtherSession(db.url)));
    try {
      const burning = hogs.map((h) => h.query(`SET statement_timeout = '60s'`).then(() => h.query('SELECT sum(g) FROM (SELECT generate_series(1, 2000000000) AS g) s')).catch(() => undefined));
      // Act
      const during = await until('a slow canary', probe, (r) => r.verdict === 'critical', 40_000);
      await db.pool.query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'test-traffic' AND query LIKE '%2000000000%' AND pid <> pg_backend_pid()`);
      await Promise.all(burning);
      const afterwards = await until('the canary back to normal', probe, (r) => r.verdict === 'ok', 40_000);
      // Assess
      assert.ok(checkOf(during, 'probeLatency').value >= 2, JSON.stringify(checkOf(during, 'probeLatency')));
      assert.equal(checkOf(afterwards, 'probeLatency').verdict, 'ok');
    } finally {
      await Promise.all(hogs.map((h) => h.end()));
    }
  });
});
