import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JobDefinition } from '../../core/job';
import { probeHealth } from '../../db/health-probe';
import { makePool } from '../../db/pool';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { healthSettings, only } from '../support/health';
import { startStallingProxy, type StallingProxy } from '../support/stalling-proxy';

/** Each check as [name, verdict, error]: what the budget did to it. */
const outcomes = (checks: ReadonlyArray<{ name: string; verdict: string; error?: string }>) => checks.map((c) => [c.name, c.verdict, c.error]);

// A database that stops answering (a dropped route, a failover) never cancels a statement itself: only the probe's
// own wall-clock budget ends the probe. Without it these probes would hang until the test's timeout.
describe('the probe\'s wall-clock budget (real Postgres behind a proxy that stops passing bytes on)', () => {
  let db: TestDatabase;
  let proxy: StallingProxy;
  before(async () => {
    db = await openTestDatabase();
  });
  after(() => db.close());

  it('abandons a session that stops answering mid-probe: finished checks stand, the running one and the rest are critical', { timeout: 30_000 }, async () => {
    // Prepare: statement timeout 1 s, so a budget of 4 s; the job's first check cuts the route, its second then hangs
    proxy = await startStallingProxy(db.url);
    const pool = makePool({ connectionString: proxy.url, max: 1 });
    const job: JobDefinition = {
      name: 'stalls',
      process: async () => [],
      health: {
        checks: {
          cutsTheRoute: { measure: async () => { proxy.stall(); return 0; }, warning: 1, critical: 2 },
          hangs: { sql: 'SELECT 1', warning: 5, critical: 9 },
          neverStarts: { sql: 'SELECT 2', warning: 5, critical: 9 },
        },
      },
    };
    try {
      // Act
      const { report, memory } = await probeHealth(pool, healthSettings(only('longRunningQueries'), { probeTimeoutMs: 1000 }), { job, memory: { kept: 1 } });
      // Assess
      assert.deepStrictEqual([report.verdict, outcomes(report.checks)], ['critical', [
        ['longRunningQueries', 'ok', undefined],
        ['cutsTheRoute', 'ok', undefined],
        ['hangs', 'critical', 'not finished: the probe spent its budget of 4000 ms'],
        ['neverStarts', 'critical', 'not run: the probe spent its budget of 4000 ms'],
      ]]);
      assert.deepStrictEqual(memory, { kept: 1 });
      // The abandoned session was closed, not handed back to the pool.
      assert.deepStrictEqual([pool.totalCount, pool.idleCount], [0, 0]);
    } finally {
      await pool.end();
      await proxy.close();
    }
  });

  it('abandons a pooled session that stopped answering before the probe began: every check is reported not run', { timeout: 30_000 }, async () => {
    // Prepare: one idle session in the pool, then the route goes; budget 4 x 250 ms
    proxy = await startStallingProxy(db.url);
    const pool = makePool({ connectionString: proxy.url, max: 1 });
    await pool.query('SELECT 1');
    proxy.stall();
    try {
      // Act
      const { report } = await probeHealth(pool, healthSettings(only('longRunningQueries', 'activeSessions'), { probeTimeoutMs: 250 }));
      // Assess
      assert.deepStrictEqual([report.verdict, outcomes(report.checks)], ['critical', [
        ['longRunningQueries', 'critical', 'not run: the probe spent its budget of 1000 ms'],
        ['activeSessions', 'critical', 'not run: the probe spent its budget of 1000 ms'],
      ]]);
      assert.deepStrictEqual([pool.totalCount, pool.idleCount], [0, 0]);
    } finally {
      await pool.end();
      await proxy.close();
    }
  });
});
