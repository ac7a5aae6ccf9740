import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { probeHealth as probe } from '../../db/health-probe';
import { makePool } from '../../db/pool';
import { resolveSettings } from '../../core/settings';
import { openOtherSession, openTestDatabase, type TestDatabase } from '../support/database';
import { freePort } from '../../local/free-port';

/** The report alone: these checks keep no memory between probes. */
const probeHealth = async (...args: Parameters<typeof probe>) => (await probe(...args)).report;

const health = resolveSettings({ health: { longRunningQueries: { warningSeconds: 0.5, criticalSeconds: 1 }, lockWaits: { warningSeconds: 0.3, criticalSeconds: 0.8 } } }).health;

function verdicts(report: Awaited<ReturnType<typeof probeHealth>>): Record<string, string> {
  return Object.fromEntries(report.checks.map((c) => [c.name, c.verdict]));
}

async function until<T>(what: string, fn: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

describe('health probe (real Postgres)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await openTestDatabase();
    await db.pool.query('CREATE TABLE hot (id int PRIMARY KEY, v int)');
    await db.pool.query('INSERT INTO hot VALUES (1, 0)');
  });
  after(() => db.close());

  it('is healthy on an idle database', async () => {
    // Act
    const report = await probeHealth(db.pool, health);
    // Assess
    assert.deepStrictEqual([report.verdict, verdicts(report)], ['ok', { longRunningQueries: 'ok', lockWaits: 'ok' }]);
  });

  it('turns critical while another session runs a long query, and clears when it ends', async () => {
    // Prepare
    const other = await openOtherSession(db.url);
    const query = other.query('SELECT pg_sleep(2.5)');
    try {
      // Act
      const during = await until('a critical long query', () => probeHealth(db.pool, health), (r) => r.verdict === 'critical');
      await query;
      const afterwards = await probeHealth(db.pool, health);
      // Assess
      assert.deepStrictEqual(verdicts(during), { longRunningQueries: 'critical', lockWaits: 'ok' });
      assert.ok(during.checks[0].value >= 1, `value ${during.checks[0].value}`);
      assert.deepStrictEqual(verdicts(afterwards), { longRunningQueries: 'ok', lockWaits: 'ok' });
    } finally {
      await other.end();
    }
  });

  it('sees a session waiting on a held lock, and clears when the lock is released', async () => {
    // Prepare: one session holds the row lock, another waits for it
    const holder = await openOtherSession(db.url);
    const waiter = await openOtherSession(db.url);
    try {
      await holder.query('BEGIN');
      await holder.query('UPDATE hot SET v = v + 1 WHERE id = 1');
      const blocked = waiter.query('UPDATE hot SET v = v + 1 WHERE id = 1');
      // Act
      const during = await until('a critical lock wait', () => probeHealth(db.pool, health), (r) => verdicts(r).lockWaits === 'critical');
      await holder.query('COMMIT');
      await blocked;
      const afterwards = await probeHealth(db.pool, health);
      // Assess
      assert.equal(verdicts(during).lockWaits, 'critical');
      assert.match(during.checks[1].detail ?? '', /^1 sessions waiting on locks$/);
      assert.deepStrictEqual(verdicts(afterwards), { longRunningQueries: 'ok', lockWaits: 'ok' });
    } finally {
      await holder.end();
      await waiter.end();
    }
  });

  it('leaves the backfill\'s own sessions out', async () => {
    // Prepare: a long query under the backfill's application name
    const own = await db.pool.connect();
    const query = own.query('SELECT pg_sleep(1.5)');
    try {
      await sleep(1200);
      // Act
      const report = await probeHealth(db.pool, health);
      // Assess
      assert.equal(report.verdict, 'ok');
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
      const report = await probeHealth(unreachable, health);
      // Assess
      assert.equal(report.verdict, 'critical');
      assert.equal(report.checks[0].name, 'probe');
      assert.match(report.checks[0].detail ?? '', /^probe failed: .*ECONNREFUSED/);
    } finally {
      await unreachable.end();
    }
  });
});
