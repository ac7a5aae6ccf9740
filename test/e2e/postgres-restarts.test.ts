import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import type { CodeJobDefinition, ItemOutcome } from '../../core/job';
import { makePool } from '../../db/pool';
import { makeSecretPool } from '../../lambdas/entry/secret-pool';
import { makeInitRunHandler } from '../../lambdas/init-run';
import { startLocalQueues } from '../../local/local-sqs';
import { localDeps } from '../support/deps';
import { runLocal, type RunEvent } from '../../local/run-local';
import { startRestartablePostgres, type RestartablePostgres } from '../support/restartable-postgres';

const COUNTER = join(import.meta.dirname, '..', 'fixtures', 'counter-job.ts');
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:restarts-AbCdEf';
const OUTAGE_SECONDS = 30;

/**
 * A counter job on `counted` that causes `fault` from inside the transaction of its `atItem`-th item (first time
 * only): the item's session is checked out and in a transaction when the server goes, the case that crashed runs.
 */
function faultingCounterJob(fault: () => Promise<void>, atItem: number, errors: string[] = []): CodeJobDefinition {
  let seen = 0;
  return {
    name: 'counter-code',
    source: { table: 'counted', key: 'id' },
    remaining: async (db) => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM counted WHERE n <> 1')).rows[0].n),
    process: async (items, ctx) => {
      const outcomes: ItemOutcome[] = [];
      for (const item of items) {
        // What the job sees of the fault is recorded (errors), then thrown on as a job would.
        outcomes.push(await ctx.withTransaction(item, async (tx) => {
          seen += 1;
          if (seen === atItem) await fault();
          return (await tx.query('UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2', [item.range!.lo, item.range!.hi])).rowCount ?? 0;
        }).catch((error: Error) => {
          errors.push(error.message);
          throw error;
        }));
      }
      return outcomes;
    },
  };
}

type Fault = 'restart -m fast' | 'restart -m immediate' | `${number} s outage`;

describe('Postgres restarts and outages mid-batch (embedded runtime, real server restarted with pg_ctl)', () => {
  let server: RestartablePostgres;
  const secrets = mockClient(SecretsManagerClient);
  before(async () => {
    server = await startRestartablePostgres();
  });
  after(async () => {
    secrets.restore();
    await server.stop();
  });

  /** A fresh database with `counted` (2,000 rows at n = 0). */
  const freshDatabase = async () => {
    const name = `restarts_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const pool = makePool({ connectionString: server.urlOf(name), max: 2 });
    await pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await pool.query('INSERT INTO counted (id) SELECT g FROM generate_series(1, 2000) g');
    return { name, pool };
  };

  const faultOf = (fault: Fault, outageOver: Array<Promise<void>>, marks: { down?: number; upCalled?: number; up?: number }) => async () => {
    if (fault === 'restart -m fast') return server.restart('fast');
    if (fault === 'restart -m immediate') return server.restart('immediate');
    await server.down('fast');
    marks.down = Date.now();
    // The outage's length is the fault itself; the run is left to find the server gone and back on its own.
    outageOver.push(new Promise<void>((resolve) => setTimeout(resolve, OUTAGE_SECONDS * 1000)).then(() => {
      marks.upCalled = Date.now();
      return server.up();
    }).then(() => { marks.up = Date.now(); }));
  };

  it('Init while the server is down fails with DatabaseUnavailableError, which its Retry tries again; once the server is back it plans the run', async () => {
    // Prepare
    const { name, pool } = await freshDatabase();
    const queues = await startLocalQueues({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
    const lambdaPool = makePool({ connectionString: server.urlOf(name), max: 2 });
    const init = makeInitRunHandler(localDeps(faultingCounterJob(async () => undefined, 0), lambdaPool, queues, { maxReceiveCount: 5, bookkeepingSchema: 'backfill' }));
    const event = { input: { job: 'counter-code', runId: 'init-down', chunkSize: 100 }, executionName: 'init-down', executionId: 'arn:aws:states:us-east-1:111122223333:execution:Backfill:init-down' };
    // Act
    await server.down('immediate');
    const down = await init(event).catch((error: Error) => error);
    await server.up();
    const up = await init(event);
    // Assess
    assert.deepStrictEqual([(down as Error).name, (down as Error).message.startsWith('the database is unavailable: ')], ['DatabaseUnavailableError', true]);
    assert.deepStrictEqual(up.run.plannedItems, 20);
    await Promise.all([pool.end(), lambdaPool.end(), queues.close()]);
  });

  for (const path of ['local pool', 'Lambda secret pool'] as const) {
    for (const fault of ['restart -m fast', 'restart -m immediate', `${OUTAGE_SECONDS} s outage`] as Fault[]) {
      it(`${path}: ${fault} inside an item's transaction: no crash, its items come back, and every row is changed exactly once`, async () => {
        // Prepare: 20 items of 100 rows, 2 per batch; the fault comes from inside the 5th item's transaction
        const { name, pool } = await freshDatabase();
        const outageOver: Array<Promise<void>> = [];
        const marks: { down?: number; upCalled?: number; up?: number } = {};
        const jobErrors: string[] = [];
        const job = faultingCounterJob(faultOf(fault, outageOver, marks), 5, jobErrors);
        secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ host: '127.0.0.1', port: new URL(server.url).port, username: 'postgres', password: 'restartable', dbname: name, ssl: false }) });
        const getPool = path === 'Lambda secret pool' ? makeSecretPool({ secrets: new SecretsManagerClient({ region: 'us-east-1' }), secretArn: SECRET_ARN }) : undefined;
        const events: Array<{ at: number; event: RunEvent }> = [];
        const outage = fault.endsWith('outage');
        // Act
        const summary = await runLocal({
          job,
          jobPath: COUNTER,
          databaseUrl: server.urlOf(name),
          ...(getPool ? { getPool } : {}),
          input: { runId: `restart-${randomUUID().slice(0, 8)}`, chunkSize: 100, batch: { initialSize: 2, maxSize: 2 }, backoff: { baseSeconds: 1, maxSeconds: outage ? 4 : 1 } },
          timeScale: outage ? 1 : 0.05,
          onEvent: (event) => void events.push({ at: Date.now(), event }),
        });
        await Promise.all(outageOver);
        // Assess
        // The item's session was cut inside its transaction: the job saw its statement fail (a crash before). Whether
        // the batch then fails as a whole or isolates the item (poison isolation retries it alone) is the loop's
        // business; the run must end with every item done, and every row changed exactly once.
        assert.match(jobErrors[0] ?? 'no error', /not queryable|Connection terminated|terminating connection/);
        assert.deepStrictEqual([summary.status, summary.itemsPlanned, summary.itemsSucceeded, summary.itemsDeadLettered, summary.rowsRemaining], ['succeeded', 20, 20, 0, 0]);
        const { rows } = await pool.query<{ n: number; rows: string }>('SELECT n, count(*) AS rows FROM counted GROUP BY n');
        assert.deepStrictEqual(rows, [{ n: 1, rows: '2000' }]);
        if (outage) {
          // While the server was away the probe found it gone and backed off; no batch ran. A probe counts when it
          // started after the server was down and was decided before it was started again (one that began just
          // before the fault, or ran once the server was back, may rightly proceed).
          const during = events.filter(({ at }) => at > marks.down! && at < marks.up!).map(({ event }) => event);
          const decisions = events.flatMap(({ at, event }) => (event.type === 'decision' && Date.parse(event.control.health.probedAt) > marks.down! && at < marks.upCalled! ? [event.control] : []));
          assert.equal(decisions.length >= 2, true, `the probe ran during the outage (${decisions.length} decisions)`);
          for (const control of decisions) {
            assert.equal(control.action, 'backoff');
            assert.match(control.reason, /^probe unmeasured \(critical: probe failed: /);
          }
          assert.deepStrictEqual(during.filter((event) => event.type === 'batch' && !event.stats.error).length, 0);
        }
        await pool.end();
        if (getPool) await (await getPool()).end();
      });
    }
  }
});
