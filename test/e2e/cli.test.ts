import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDemoTable } from '../../jobs/demo-table';
import { asQueryable } from '../../db/pool';
import { openTestDatabase, type TestDatabase } from '../support/database';

const ROOT = join(import.meta.dirname, '..', '..');

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function backfill(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin', 'backfill.js'), ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('the backfill command', () => {
  let db: TestDatabase;
  let dir: string;
  before(async () => {
    db = await openTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'backfill-cli-'));
  });
  after(() => db.close());

  it('runs the demo, prints the summary as JSON on stdout, and exits 0', async () => {
    // Act
    const result = await backfill('demo', '--rows', '3000', '--database-url', db.url, '--json', '--run-id', 'cli-demo');
    // Assess
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.deepStrictEqual([summary.status, summary.runId, summary.rowsAffected, summary.rowsRemaining, summary.itemsDeadLettered], ['succeeded', 'cli-demo', 3000, 0, 0]);
    assert.match(result.stderr, /backfill: run cli-demo succeeded in [\d.]+s: 3,000 rows in 3\/3 items/);
    assert.doesNotMatch(result.stderr + result.stdout, /NodeVersionSupportWarning|LOG: {2}/);
  });

  it('exits 2 and writes the summary when the run finished with dead-lettered items', async () => {
    // Prepare
    await createDemoTable(asQueryable(db.pool), 2000);
    const summaryFile = join(dir, 'summary.json');
    // Act
    const result = await backfill('run', '--local', '--job', 'test/fixtures/poison-job.ts', '--database-url', db.url, '--summary', summaryFile, '--run-id', 'cli-poison');
    // Assess
    assert.equal(result.code, 2, result.stderr);
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
    assert.deepStrictEqual(
      [summary.status, summary.itemsPlanned, summary.itemsSucceeded, summary.itemsFailed, summary.itemsDeadLettered, summary.rowsAffected],
      ['succeeded', 2, 1, 1, 1, 1000],
    );
    for (const field of ['batches', 'waits', 'executions', 'stateTransitions', 'durationMs']) assert.ok(field in summary, field);
  });

  it('rejects bad input with a one-line reason naming the field, before any work', async () => {
    // Act
    const results = await Promise.all([
      backfill('demo', '--chunk-size', '0'),
      backfill('run', '--local', '--job', 'missing-job.ts'),
      backfill('run', '--job', 'jobs/demo.ts'),
      backfill('run', '--local'),
      backfill('demo', '--time-scale', 'fast'),
      backfill('explode'),
      backfill('demo', '--bogus'),
    ]);
    // Assess
    assert.deepStrictEqual(results.map((r) => [r.code, r.stderr.trim().split('\n')[0].replace(/(Unknown option '--bogus')\..*/, '$1')]), [
      [1, 'backfill: --chunk-size: must be an integer from 1 to 1000000; got "0"'],
      [1, 'backfill: --job: missing-job.ts does not exist'],
      [1, 'backfill: --local: is required: `run` runs in this process; on AWS, start an execution (see the README)'],
      [1, 'backfill: --job: is required: the path of a .ts or .js job module'],
      [1, 'backfill: --time-scale: must be a number from 0 to 1000; got "fast"'],
      [1, 'backfill: command: unknown command "explode"; known: demo, run, start, status, pause, resume, set, abort, dlq, enqueue, report, schema'],
      [1, "backfill: Unknown option '--bogus'"],
    ]);
  });
});
