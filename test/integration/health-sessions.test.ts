import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { lockWaits } from '../../db/health/checks/lock-waits';
import { probeHealth } from '../../db/health-probe';
import { asQueryable, makePool } from '../../db/pool';
import { freePort } from '../../local/free-port';
import { openOtherSession, openTestDatabase, type TestDatabase } from '../support/database';
import { checkOf, healthSettings, makeProber, only, until, verdicts } from '../support/health';

/** The sessions family: long queries and transactions, lock waits, active sessions, connections. */
describe('health checks on sessions (real Postgres)', () => {
  let db: TestDatabase;
  const others: pg.Client[] = [];
  const other = async () => {
    const client = await openOtherSession(db.url);
    others.push(client);
    return client;
  };
  before(async () => {
    db = await openTestDatabase();
    await db.pool.query('CREATE TABLE hot (id int PRIMARY KEY, v int)');
    await db.pool.query('INSERT INTO hot VALUES (1, 0), (2, 0)');
  });
  after(async () => {
    await Promise.all(others.map((c) => c.end().catch(() => undefined)));
    await db.close();
  });

  it('is healthy on an idle database, with every Postgres check that needs no source table', async () => {
    // Act
    const report = await makeProber(db.pool, healthSettings())();
    // Assess
    assert.deepStrictEqual([report.verdict, report.strategy, verdicts(report)], ['ok', 'any-critical', {
      longRunningQueries: 'ok', longTransactions: 'ok', lockWaits: 'ok', tempFiles: 'ok', replicationLag: 'ok', connections: 'ok', checkpoints: 'ok', activeSessions: 'ok',
    }]);
    assert.deepStrictEqual(checkOf(report, 'replicationLag'), { name: 'replicationLag', value: 0, unit: 'seconds', verdict: 'ok', weight: 1, detail: '0 streaming replicas' });
  });

  it('longRunningQueries turns critical while another session runs a long query, and clears when it ends', async () => {
    // Prepare
    const probe = makeProber(db.pool, healthSettings(only('longRunningQueries'), { longRunningQueries: { warningSeconds: 0.5, criticalSeconds: 1 } }));
    const sleeper = await other();
    const query = sleeper.query('SELECT pg_sleep(2.5)');
    // Act
    const during = await until('a critical long query', probe, (r) => r.verdict === 'critical');
    await query;
    const afterwards = await probe();
    // Assess
    const check = checkOf(during, 'longRunningQueries');
    assert.deepStrictEqual([check.verdict, check.detail], ['critical', '1 running longer than 0.5s']);
    assert.ok(check.value >= 1, `value ${check.value}`);
    assert.deepStrictEqual(verdicts(afterwards), { longRunningQueries: 'ok' });
  });

  it('longTransactions sees a session idle in transaction (it holds back vacuum), and clears when it commits', async () => {
    // Prepare
    const probe = makeProber(db.pool, healthSettings(only('longTransactions'), { longTransactions: { warningSeconds: 0.3, criticalSeconds: 0.8 } }));
    const idle = await other();
    await idle.query('BEGIN');
    await idle.query('SELECT v FROM hot WHERE id = 2');
    // Act
    const during = await until('a critical idle transaction', probe, (r) => r.verdict === 'critical');
    await idle.query('COMMIT');
    const afterwards = await probe();
    // Assess
    assert.deepStrictEqual([checkOf(during, 'longTransactions').verdict, checkOf(during, 'longTransactions').detail], ['critical', '1 open longer than 0.3s, 1 of them idle in transaction']);
    assert.deepStrictEqual(verdicts(afterwards), { longTransactions: 'ok' });
  });

  it('lockWaits sees a session waiting on a held lock, and clears when the lock is released', async () => {
    // Prepare: one session holds the row lock, another waits for it
    const probe = makeProber(db.pool, healthSettings(only('lockWaits'), { lockWaits: { warningSeconds: 0.3, criticalSeconds: 0.8 } }));
    const holder = await other();
    const waiter = await other();
    await holder.query('BEGIN');
    await holder.query('UPDATE hot SET v = v + 1 WHERE id = 1');
    const blocked = waiter.query('UPDATE hot SET v = v + 1 WHERE id = 1');
    // Act
    const during = await until('a critical lock wait', probe, (r) => r.verdict === 'critical');
    await holder.query('COMMIT');
    await blocked;
    const afterwards = await probe();
    // Assess
    assert.deepStrictEqual([checkOf(during, 'lockWaits').verdict, checkOf(during, 'lockWaits').detail], ['critical', '1 sessions waiting on locks']);
    assert.deepStrictEqual(verdicts(afterwards), { lockWaits: 'ok' });
  });

  it('lockWaits escalates a session blocked by the backfill to critical long before its own thresholds', async () => {
    // Prepare: a backfill session (the pool's application name) holds a row lock, as a stalled batch would
    const probe = makeProber(db.pool, healthSettings(only('lockWaits'), { lockWaits: { warningSeconds: 60, criticalSeconds: 120, backfillCriticalSeconds: 0.3 } }));
    const backfill = await db.pool.connect();
    const waiter = await other();
    try {
      await backfill.query('BEGIN');
      await backfill.query('UPDATE hot SET v = v + 1 WHERE id = 2');
      const blocked = waiter.query('UPDATE hot SET v = v + 1 WHERE id = 2');
      // Act
      const during = await until('a session blocked by the backfill', probe, (r) => r.verdict === 'critical');
      await backfill.query('COMMIT');
      await blocked;
      const afterwards = await probe();
      // Assess
      const check = checkOf(during, 'lockWaits');
      assert.match(check.detail ?? '', /^1 sessions waiting on locks; 1 blocked by the backfill \(pid \d+\)$/);
      assert.ok(check.value < 60, `value ${check.value}`);
      assert.deepStrictEqual(verdicts(afterwards), { lockWaits: 'ok' });
    } finally {
      backfill.release();
    }
  });

  it('lockWaits escalates the backfill blocked by another session, and clears when it gets the lock', async () => {
    // Prepare: another session holds the lock a backfill session needs
    const probe = makeProber(db.pool, healthSettings(only('lockWaits'), { lockWaits: { warningSeconds: 60, criticalSeconds: 120, backfillCriticalSeconds: 0.3 } }));
    const holder = await other();
    const backfill = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('UPDATE hot SET v = v + 1 WHERE id = 1');
      const blocked = backfill.query('UPDATE hot SET v = v + 1 WHERE id = 1');
      // Act
      const during = await until('the backfill blocked', probe, (r) => r.verdict === 'critical');
      await holder.query('COMMIT');
      await blocked;
      const afterwards = await probe();
      // Assess
      assert.match(checkOf(during, 'lockWaits').detail ?? '', /^the backfill blocked by another session \(backfill pid \d+\)$/);
      assert.deepStrictEqual(verdicts(afterwards), { lockWaits: 'ok' });
    } finally {
      backfill.release();
    }
  });

  it('lockWaits measures on Postgres before 14 (no pg_locks.waitstart) from the statement\'s start, which bounds the wait from above', async () => {
    // Prepare: the waiter's one statement sleeps 0.6 s, then blocks on a held row lock; the older branch is forced on this server
    const settings = healthSettings(only('lockWaits'), { lockWaits: { warningSeconds: 0.3, criticalSeconds: 60 } });
    const measureAs = (serverVersion: number) => lockWaits.measure({ db: asQueryable(db.pool), settings, serverVersion, previous: undefined });
    const { rows } = await db.pool.query<{ server_version_num: string }>('SHOW server_version_num');
    const holder = await other();
    const waiter = await other();
    await holder.query('BEGIN');
    await holder.query('UPDATE hot SET v = v + 1 WHERE id = 1');
    const blocked = waiter.query('DO $$ BEGIN PERFORM pg_sleep(0.6); UPDATE hot SET v = v + 1 WHERE id = 1; END $$');
    // Act: this server's branch first, then the one for Postgres 13
    const current = await until('the waiter blocked', () => measureAs(Number(rows[0].server_version_num)), (m) => m.detail !== undefined);
    const older = await measureAs(130016);
    await holder.query('COMMIT');
    await blocked;
    const afterwards = await measureAs(130016);
    // Assess: both see the waiter; the older one also counts the 0.6 s its statement ran before it blocked
    assert.deepStrictEqual([current.detail, older.detail, older.verdict], ['1 sessions waiting on locks', '1 sessions waiting on locks', 'warning']);
    assert.ok(older.value - current.value >= 0.6, `before 14: ${older.value}s, 14+: ${current.value}s`);
    assert.deepStrictEqual(afterwards, { value: 0, verdict: 'ok' });
  });

  it('activeSessions counts statements running in other sessions at once, and clears when they end', async () => {
    // Prepare: three sessions busy at the same time
    const probe = makeProber(db.pool, healthSettings(only('activeSessions'), { activeSessions: { warningSessions: 2, criticalSessions: 3 } }));
    const busy = await Promise.all([other(), other(), other()]);
    const queries = busy.map((c) => c.query('SELECT pg_sleep(2)'));
    // Act
    const during = await until('three active sessions', probe, (r) => r.verdict === 'critical');
    await Promise.all(queries);
    const afterwards = await probe();
    // Assess
    assert.deepStrictEqual([checkOf(during, 'activeSessions').value, checkOf(during, 'activeSessions').verdict], [3, 'critical']);
    assert.deepStrictEqual([checkOf(afterwards, 'activeSessions').value, checkOf(afterwards, 'activeSessions').verdict], [0, 'ok']);
  });

  it('connections turns critical as connections are opened past the threshold, and clears when they close', async () => {
    // Prepare: thresholds just above what is open now
    const baseline = checkOf(await makeProber(db.pool, healthSettings(only('connections')))(), 'connections');
    const [open, max] = (baseline.detail ?? '').match(/^(\d+) of (\d+) connections$/)!.slice(1).map(Number);
    const probe = makeProber(db.pool, healthSettings(only('connections'), { connections: { warningRatio: (open + 2) / max, criticalRatio: (open + 4) / max } }));
    // Act
    const extra = await Promise.all([other(), other(), other(), other()]);
    const during = await probe();
    await Promise.all(extra.map((c) => c.end()));
    const afterwards = await until('the connections closed', probe, (r) => r.verdict === 'ok');
    // Assess
    assert.deepStrictEqual([checkOf(during, 'connections').verdict, checkOf(during, 'connections').detail], ['critical', `${open + 4} of ${max} connections`]);
    assert.equal(checkOf(afterwards, 'connections').detail, `${open} of ${max} connections`);
  });

  it('leaves the backfill\'s own sessions out', async () => {
    // Prepare: a long query under the backfill's application name
    const probe = makeProber(db.pool, healthSettings({ longRunningQueries: { warningSeconds: 0.3, criticalSeconds: 0.6 }, activeSessions: { warningSessions: 1, criticalSessions: 1 } }));
    const own = await db.pool.connect();
    const query = own.query('SELECT pg_sleep(1.5)');
    try {
      // Act: probe while it has certainly run past the thresholds
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const report = await probe();
      // Assess
      assert.deepStrictEqual([report.verdict, checkOf(report, 'longRunningQueries').value, checkOf(report, 'activeSessions').value], ['ok', 0, 0]);
    } finally {
      await query;
      own.release();
    }
  });

  it('reports an unreachable database as critical instead of throwing or hanging', async () => {
    // Prepare
    const unreachable = makePool({ connectionString: `postgres://nobody@127.0.0.1:${await freePort()}/none`, connectionTimeoutMillis: 1000 });
    try {
      // Act
      const { report, memory } = await probeHealth(unreachable, healthSettings(), { memory: { tempFiles: { at: 1, counters: { bytes: 0, files: 0 } } } });
      // Assess
      assert.deepStrictEqual([report.verdict, report.checks.map((c) => c.name)], ['critical', ['probe']]);
      assert.match(report.checks[0].detail ?? '', /^probe failed: .*ECONNREFUSED/);
      assert.deepStrictEqual(memory, { tempFiles: { at: 1, counters: { bytes: 0, files: 0 } } });
    } finally {
      await unreachable.end();
    }
  });
});
