import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { initialControl } from '../../core/controller';
import type { JobDefinition } from '../../core/job';
import { resolveSettings } from '../../core/settings';
import { upsertRun } from '../../db/runs';
import { ensureBookkeeping } from '../../db/schema';
import type { RunContext } from '../../lambdas/deps';
import { makeHealthProbeHandler } from '../../lambdas/health-probe';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { backfillInProcess } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { only } from '../support/health';
import { localDeps } from '../support/deps';

/** A job whose one check counts unsent rows: 4 are waiting, a warning by its own thresholds. */
const outboxJob: JobDefinition = {
  name: 'outbox',
  source: { table: 'outbox', key: 'id' },
  sql: 'UPDATE outbox SET sent_at = now() WHERE id >= $1 AND id < $2',
  health: { checks: { backlog: { sql: 'SELECT count(*) FROM outbox WHERE sent_at IS NULL', unit: 'rows', warning: 3, critical: 5 } } },
};

describe('live knobs from `backfill set` as the next probe reads them (real Postgres)', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  before(async () => {
    db = await openTestDatabase();
    queues = await startLocalQueues({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 });
    await ensureBookkeeping(db.pool, 'backfill');
    await db.pool.query('CREATE TABLE outbox (id int PRIMARY KEY, sent_at timestamptz)');
    await db.pool.query('INSERT INTO outbox (id) SELECT g FROM generate_series(1, 4) g');
  });
  after(async () => {
    await queues.close();
    await db.close();
  });

  it('takes booleans, the strategy and a custom check\'s thresholds; a custom check the job lacks is ignored, and the decision says so', async () => {
    // Prepare: a run of the job with lockWaits as its only built-in check
    const settings = resolveSettings({ health: only('lockWaits') });
    const run: RunContext = { runId: 'knobbed-outbox', jobName: 'outbox', settings, plannedItems: 0 };
    await upsertRun(db.pool, 'backfill', run.runId, 'outbox', settings);
    const probe = makeHealthProbeHandler(localDeps(outboxJob, db.pool, queues, { maxReceiveCount: 3, bookkeepingSchema: 'backfill' }));
    const next = () => probe({ run, control: initialControl(settings), lastBatch: null, executionId: 'local' });
    const view = (result: Awaited<ReturnType<typeof next>>) => [result.health.strategy, result.health.checks.map((c) => [c.name, c.verdict])];
    const set = (...args: string[]) => backfillInProcess('set', run.runId, ...args, '--database-url', db.url);
    // Act
    const before = await next();
    const tuned = await set('health.lockWaits.enabled=false', 'health.strategy=weighted', 'health.custom.backlog.warning=10', 'health.custom.backlog.critical=20');
    const afterTuning = await next();
    const typo = await set('health.custom.backlg.warning=1');
    const afterTypo = await next();
    // Assess
    assert.deepStrictEqual(view(before), ['any-critical', [['lockWaits', 'ok'], ['backlog', 'warning']]]);
    assert.deepStrictEqual([tuned.code, tuned.stderr, tuned.stdout.split('\n')], [0, '', [
      'run knobbed-outbox: live knobs health.lockWaits.enabled=false health.strategy=weighted health.custom.backlog.warning=10 health.custom.backlog.critical=20 (read by its next probe)',
      '  health.lockWaits.enabled: true -> false',
      '  health.strategy: "any-critical" -> "weighted"',
      '  health.custom.backlog.warning: the job\'s value -> 10',
      '  health.custom.backlog.critical: the job\'s value -> 20',
      '',
    ]]);
    assert.deepStrictEqual(view(afterTuning), ['weighted', [['backlog', 'ok']]]);
    assert.deepStrictEqual(typo.code, 0);
    assert.deepStrictEqual(view(afterTypo), ['any-critical', [['lockWaits', 'ok'], ['backlog', 'warning']]]);
    assert.match(afterTypo.reason, / \(live knobs ignored: health\.custom\.backlg: is not a check of job outbox; its checks: backlog\)$/);
  });
});
