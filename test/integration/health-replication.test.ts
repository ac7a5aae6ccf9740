import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { makePool } from '../../db/pool';
import { checkOf, healthSettings, makeProber, only, until } from '../support/health';
import { startPrimaryWithStandby, type PrimaryWithStandby } from '../support/standby';

/** replicationLag on a real primary and a real hot standby (always embedded Postgres: a standby needs its data directory). */
describe('replicationLag with a streaming standby (real Postgres)', () => {
  let servers: PrimaryWithStandby;
  let primary: pg.Pool;
  let standby: pg.Pool;
  let writer: pg.Client;
  let standbyAdmin: pg.Client;
  before(async () => {
    servers = await startPrimaryWithStandby();
    primary = makePool({ connectionString: servers.primaryUrl });
    standby = makePool({ connectionString: servers.standbyUrl });
    writer = new pg.Client({ connectionString: servers.primaryUrl, application_name: 'test-traffic' });
    standbyAdmin = new pg.Client({ connectionString: servers.standbyUrl, application_name: 'test-traffic' });
    await writer.connect();
    await standbyAdmin.connect();
    await writer.query('CREATE TABLE ticks (at timestamptz DEFAULT now())');
  });
  after(async () => {
    await writer?.end();
    await standbyAdmin?.end();
    await primary?.end();
    await standby?.end();
    await servers?.stop();
  });

  it('turns critical on the primary (replay_lag) and on the replica (its own replay) while replay is paused, and clears when it resumes', async () => {
    // Prepare
    const settings = healthSettings(only('replicationLag'), { replicationLag: { warningSeconds: 0.5, criticalSeconds: 1 } });
    const probePrimary = makeProber(primary, settings);
    const probeStandby = makeProber(standby, settings);
    const write = () => writer.query('INSERT INTO ticks DEFAULT VALUES');
    // A transaction replayed on the standby first, so its lag is measured from a known commit.
    await write();
    await until('the standby replayed a write', () => standbyAdmin.query<{ n: number }>('SELECT count(*)::int AS n FROM ticks').then((r) => r.rows[0].n, () => 0), (n) => n >= 1);
    const before = [await probePrimary(), await probeStandby()];
    // Act: the standby receives WAL but stops applying it
    await standbyAdmin.query('SELECT pg_wal_replay_pause()');
    const lagging = await until('lag on both sides', async () => {
      await write();
      return [await probePrimary(), await probeStandby()];
    }, (reports) => reports.every((r) => r.verdict === 'critical'), 30_000);
    await standbyAdmin.query('SELECT pg_wal_replay_resume()');
    const caughtUp = await until('the standby caught up', async () => {
      await write();
      return [await probePrimary(), await probeStandby()];
    }, (reports) => reports.every((r) => r.verdict === 'ok'), 30_000);
    // Assess
    assert.deepStrictEqual(before.map((r) => [r.verdict, checkOf(r, 'replicationLag').detail]), [['ok', '1 streaming replicas'], ['ok', 'this server is a replica: lag of its own replay']]);
    assert.ok(lagging.every((r) => checkOf(r, 'replicationLag').value >= 1), JSON.stringify(lagging.map((r) => checkOf(r, 'replicationLag'))));
    assert.ok(caughtUp.every((r) => checkOf(r, 'replicationLag').value < 0.5), JSON.stringify(caughtUp.map((r) => checkOf(r, 'replicationLag'))));
  });
});
