import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadJob } from '../../local/load-job';
import { runLocal, type CompletionEvent } from '../../local/run-local';
import { openTestDatabase, type TestDatabase } from '../support/database';

const COUNTER = join(import.meta.dirname, '..', 'fixtures', 'counter-job.ts');

describe('a database that goes away mid-run (embedded runtime)', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  let name: string;

  /** The database stops taking connections, and every session on it is cut (a failover, a restart). */
  const goAway = async () => {
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  };
  const comeBack = () => admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);

  before(async () => {
    db = await openTestDatabase();
    const url = new URL(db.url);
    name = url.pathname.slice(1);
    // The outage is caused from another database on the same server, as an operator (or RDS) would.
    url.pathname = '/postgres';
    admin = new pg.Client({ connectionString: url.toString(), application_name: 'test-admin' });
    await admin.connect();
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 2000) g');
  });
  after(async () => {
    await comeBack();
    await admin.end();
    await db.close();
  });

  it('backs off while the database refuses connections, then finishes with every row changed exactly once', async () => {
    // Prepare: 20 items of 100 rows, 2 per batch; after the second batch the database goes away, and comes back
    // once two probes have found it gone
    const { job, path } = await loadJob(COUNTER);
    let batches = 0;
    let down = false;
    const duringOutage: Array<[string, string]> = [];
    const completions: CompletionEvent[] = [];
    // Act
    const summary = await runLocal({
      job,
      jobPath: path,
      databaseUrl: db.url,
      input: { runId: 'outage', chunkSize: 100, batch: { initialSize: 2, maxSize: 2 }, backoff: { baseSeconds: 1, maxSeconds: 2 } },
      timeScale: 0.05,
      onEvent: async (event) => {
        if (event.type === 'completion') completions.push(event.event);
        if (event.type === 'batch' && ++batches === 2) {
          await goAway();
          down = true;
        }
        if (event.type === 'decision' && down) {
          duringOutage.push([event.control.action, event.control.reason]);
          if (duringOutage.length === 2) {
            await comeBack();
            down = false;
          }
        }
      },
    });
    // Assess
    assert.deepStrictEqual(duringOutage.map(([action]) => action), ['backoff', 'backoff']);
    for (const [, reason] of duringOutage) {
      assert.match(reason, /^probe unmeasured \(critical: probe failed: reading the run's flags and knobs failed: (database "\w+" is not currently accepting connections|terminating connection due to administrator command|Connection terminated unexpectedly)\)$/);
    }
    assert.deepStrictEqual([summary.status, summary.itemsPlanned, summary.itemsSucceeded, summary.itemsDeadLettered, summary.rowsRemaining, summary.executions], ['succeeded', 20, 20, 0, 0, 1]);
    assert.deepStrictEqual(summary.waits.slice(0, 2).map((w) => w.reason), duringOutage.map(([, reason]) => reason));
    const { rows } = await db.pool.query<{ n: number; rows: string }>('SELECT n, count(*) AS rows FROM counted GROUP BY n');
    assert.deepStrictEqual(rows, [{ n: 1, rows: '2000' }]);
    assert.deepStrictEqual(completions.map((c) => [c.detail.status, c.detail.itemsSucceeded, c.detail.rowsAffected]), [['succeeded', 20, 2000]]);
  });
});
