import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { resolveSettings } from '../../core/settings';
import { commitLatency } from '../../db/health/checks/commit-latency';
import { calibrateCanary } from '../../db/latency/canary';
import { LatencySampler } from '../../db/latency/sampler';
import { asQueryable } from '../../db/pool';
import { ensureBookkeeping } from '../../db/schema';
import { openOtherSession, openTestDatabase, type TestDatabase } from '../support/database';

const SCHEMA = 'backfill';

/** Polls `probe` until it returns a value `done` accepts, at most `tries` times; returns the last value. */
async function pollUntil<T>(probe: () => Promise<T> | T, done: (value: T) => boolean, tries = 200, everyMs = 25): Promise<T> {
  let value = await probe();
  for (let i = 0; i < tries && !done(value); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    value = await probe();
  }
  return value;
}

/** Locks the heartbeat row in another session (the canary's next commit waits on it). */
async function lockHeartbeat(other: pg.Client): Promise<void> {
  await other.query('BEGIN');
  await other.query(`SELECT * FROM ${SCHEMA}.heartbeat WHERE id = 1 FOR UPDATE`);
}

/** Once a canary has waited on the locked heartbeat for `seconds` (by the server's clock), releases it; returns the wait seen. */
async function releaseHeartbeatAfter(db: TestDatabase, other: pg.Client, seconds: number): Promise<number> {
  const waited = await pollUntil(async () => (await db.pool.query<{ waited: number | null }>(
    `SELECT max(EXTRACT(epoch FROM now() - l.waitstart))::float8 AS waited FROM pg_locks l JOIN pg_stat_activity a USING (pid)
     WHERE NOT l.granted AND a.query LIKE '%heartbeat SET beats%'`)).rows[0].waited ?? 0, (w) => w >= seconds, 400);
  await other.query('COMMIT');
  return waited;
}

describe('the commit-latency canary on real Postgres', () => {
  let db: TestDatabase;
  let other: pg.Client;

  before(async () => {
    db = await openTestDatabase();
    await ensureBookkeeping(db.pool, SCHEMA);
    other = await openOtherSession(db.url);
  });
  after(async () => {
    await other.end();
    await db.close();
  });

  it('commitLatency rises when commits are held up, and clears when they are not', async () => {
    // Prepare: one canary commit per probe; a baseline of a few probes
    const settings = resolveSettings({ health: { commitLatency: { enabled: true, samples: 1 } } }).health;
    const client = await db.pool.connect();
    const measure = (previous: unknown) => commitLatency.measure({ db: asQueryable(client), settings, serverVersion: 150000, bookkeepingSchema: SCHEMA, previous });
    try {
      let memory: unknown;
      const first = await measure(undefined);
      memory = first.memory;
      for (let i = 0; i < 5; i += 1) memory = (await measure(memory)).memory;
      // Act: a commit held up 300 ms behind a lock on the heartbeat row (the server's clock says how long)
      await lockHeartbeat(other);
      const held = measure(memory);
      const waited = await releaseHeartbeatAfter(db, other, 0.3);
      const contended = await held;
      // ...then probes until the verdict clears (bounded)
      const cleared = await pollUntil(() => measure(contended.memory), (m) => m.verdict === 'ok', 100, 10);
      // Assess
      assert.deepStrictEqual([first.verdict, first.value, /first probe, learning the baseline$/.test(first.detail ?? '')], ['ok', 1, true]);
      assert.ok(waited >= 0.3, String(waited));
      assert.deepStrictEqual([contended.verdict, contended.value >= settings.commitLatency.criticalRatio], ['critical', true], JSON.stringify(contended));
      assert.equal(cleared.verdict, 'ok', JSON.stringify(cleared));
    } finally {
      client.release();
    }
  });

  it('the sampler\'s signal rises while commits are held up and falls back after; a long query elsewhere is critical', async () => {
    // Prepare
    const settings = resolveSettings({ health: { longRunningQueries: { warningSeconds: 0.2, criticalSeconds: 0.5 } } });
    const baseline = await calibrateCanary(db.pool, SCHEMA, 10);
    const sampler = await LatencySampler.start(db.pool, SCHEMA, settings, undefined);
    try {
      // Act: hold the heartbeat for 400 ms, reading the signal meanwhile; then wait for it to fall back
      await lockHeartbeat(other);
      const holding = releaseHeartbeatAfter(db, other, 0.4);
      const risen = await pollUntil(() => sampler.signal(), (s) => s.canaryMs >= 300, 400, 5);
      await holding;
      const fallen = await pollUntil(() => sampler.signal(), (s) => s.canaryMs < 300, 400, 25);
      const quiet = sampler.signal();
      // ...and a query of another session that runs past 0.5 s
      const slow = other.query('SELECT pg_sleep(2)');
      const critical = await pollUntil(() => sampler.signal(), (s) => s.critical !== undefined, 400, 25);
      await slow;
      // Assess
      assert.ok(baseline.p90Ms > 0 && baseline.p50Ms <= baseline.p90Ms, JSON.stringify(baseline));
      assert.ok(risen.canaryMs >= 300, JSON.stringify(risen));
      assert.ok(fallen.canaryMs < 300, JSON.stringify(fallen));
      assert.equal(quiet.critical, undefined);
      assert.match(critical.critical ?? '', /^longRunningQueries: a query has run \d+(\.\d)?s \(>= 0.5s\)$/);
    } finally {
      const summary = await sampler.stop();
      assert.ok(summary.samples >= 3, JSON.stringify(summary));
    }
  });
});
