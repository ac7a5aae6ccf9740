import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createDemoTable } from '../../jobs/demo-table';
import { asQueryable } from '../../db/pool';
import { readHistory, type HistoryEntry } from '../../db/history';
import { inspectPage } from '../support/chromium';
import { openOtherSession, openTestDatabase, type TestDatabase } from '../support/database';

const ROOT = join(import.meta.dirname, '..', '..');

function backfill(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin', 'backfill.js'), ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Polls until `ok` holds: waits for a state, never asserts on time. */
async function until<T>(what: string, fn: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Read in the page: what the charts draw, each point's data and whether it is laid out inside its chart. */
const READ_CHARTS = `(() => {
  const points = (series) => [...document.querySelectorAll('[data-series="' + series + '"] .point')].map((el) => {
    const box = el.getBoundingClientRect();
    const frame = el.closest('svg').getBoundingClientRect();
    const inside = box.width > 0 && box.height > 0 && box.left >= frame.left - 4 && box.right <= frame.right + 4 && box.top >= frame.top - 4 && box.bottom <= frame.bottom + 4;
    return { t: Number(el.dataset.t), v: Number(el.dataset.v), kind: el.dataset.kind ?? null, tip: el.querySelector('title').textContent, inside };
  });
  const thresholds = (chart) => [...document.querySelectorAll('[data-chart="' + chart + '"] .threshold')].map((el) => Number(el.dataset.value));
  return {
    title: document.title,
    charts: [...document.querySelectorAll('figure.chart')].map((f) => f.dataset.chart),
    rowsDone: points('rows-done'),
    backoffs: points('wait-backoff'),
    longQueries: points('health-longRunningQueries'),
    longQueryThresholds: thresholds('health-longRunningQueries'),
    criticalBands: document.querySelectorAll('[data-chart="rows-done"] .bands rect[data-verdict="critical"]').length,
    decisionRows: document.querySelectorAll('table[data-table="decisions"] tbody tr').length,
  };
})()`;

interface ChartPoint {
  readonly t: number;
  readonly v: number;
  readonly kind: string | null;
  readonly tip: string;
  readonly inside: boolean;
}

interface Charts {
  readonly title: string;
  readonly charts: string[];
  readonly rowsDone: ChartPoint[];
  readonly backoffs: ChartPoint[];
  readonly longQueries: ChartPoint[];
  readonly longQueryThresholds: number[];
  readonly criticalBands: number;
  readonly decisionRows: number;
}

describe('the HTML report, checked in headless chromium', () => {
  let db: TestDatabase;
  let dir: string;
  before(async () => {
    db = await openTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'backfill-report-'));
  });
  after(() => db.close());

  it('the browser check sees script errors, failed loads and outside requests, so an empty list means a clean page', async () => {
    // Prepare
    const file = join(dir, 'broken.html');
    writeFileSync(file, `<!DOCTYPE html><title>broken</title><img src="https://cdn.example.invalid/x.png"><script>console.error('boom'); throw new Error('bad page');</script>`);
    // Act
    const page = await inspectPage<string>(file, 'document.title');
    // Assess
    assert.equal(page.value, 'broken');
    assert.deepStrictEqual(page.requests, [pathToFileURL(file).href, 'https://cdn.example.invalid/x.png']);
    assert.deepStrictEqual(page.errors.sort(), [
      'console.error: Failed to load resource: net::ERR_NAME_NOT_RESOLVED',
      'console.error: boom',
      'exception: bad page',
      'failed load: https://cdn.example.invalid/x.png net::ERR_NAME_NOT_RESOLVED',
    ]);
  });

  it('run --local --report: the page renders cleanly and its charts hold the run history, backoff included', async () => {
    // Prepare: 12 items; another session's query is already past the job's 0.5 s critical threshold when the run starts
    await createDemoTable(asQueryable(db.pool), 3000);
    const file = join(dir, 'run.html');
    const other = await openOtherSession(db.url);
    const sleeping = other.query('SELECT pg_sleep(600)').catch((error: Error) => error);
    const { rows: [{ pid }] } = await until('the long query to turn critical', () => db.pool.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'test-traffic' AND state = 'active' AND now() - query_start > interval '0.7 seconds'`), (r) => r.rows.length === 1);
    // Act: run through the CLI; once the run has backed off, the long query is cancelled and the run goes on
    const running = backfill('run', '--local', '--job', 'test/fixtures/sensitive-demo-job.ts', '--database-url', db.url, '--run-id', 'e2e-report', '--chunk-size', '250', '--time-scale', '0.05', '--report', file);
    await until('a backoff in the history', () => readHistory(db.pool, 'backfill', 'e2e-report').catch(() => []), (h) => h.some((e) => e.kind === 'decision' && e.data.action === 'backoff'));
    await db.pool.query('SELECT pg_cancel_backend($1)', [pid]);
    const result = await running;
    await sleeping;
    await other.end();
    const page = await inspectPage<Charts>(file, READ_CHARTS);
    // Assess: the CLI
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`backfill: report written to ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`));
    // the page: no errors, nothing fetched but itself
    assert.deepStrictEqual(page.errors, []);
    assert.deepStrictEqual(page.requests, [pathToFileURL(file).href]);
    assert.equal(page.value.title, 'Backfill run e2e-report');
    // the charts against the history in Postgres: one health chart per check the reports hold, whatever the checks are
    const history = await readHistory(db.pool, 'backfill', 'e2e-report');
    const checkNames = [...new Set(history.flatMap((e) => (e.kind === 'decision' ? (e.data.health as { checks: Array<{ name: string }> }).checks.map((c) => c.name) : [])))];
    assert.ok(checkNames.includes('longRunningQueries'));
    assert.deepStrictEqual(page.value.charts, ['rows-done', 'batch-size', 'batch-duration', 'waits', 'queue-depth', ...checkNames.map((name) => `health-${name}`)]);
    const { rows: [run] } = await db.pool.query(`SELECT created_at FROM backfill.runs WHERE run_id = 'e2e-report'`);
    const start = Math.min((run.created_at as Date).getTime(), ...history.map((e) => Date.parse(e.at)));
    const since = (e: HistoryEntry) => Math.round(Date.parse(e.at) - start) / 1000;
    const batches = history.filter((e) => e.kind === 'batch');
    const decisions = history.filter((e) => e.kind === 'decision');
    const backoffs = decisions.filter((e) => e.data.action === 'backoff');
    let done = 0;
    assert.deepStrictEqual(page.value.rowsDone.map(({ t, v, inside }) => ({ t, v, inside })), batches.map((e) => ({ t: since(e), v: (done += e.data.rowsAffected as number), inside: true })));
    assert.equal(done, 3000);
    assert.ok(backoffs.length >= 1);
    assert.deepStrictEqual(page.value.backoffs.map(({ t, v, kind, inside }) => ({ t, v, kind, inside })), backoffs.map((e) => ({ t: since(e), v: e.data.waitSeconds, kind: 'backoff', inside: true })));
    assert.deepStrictEqual(page.value.backoffs.map((p) => p.tip.replace(/ at [\d.]+s: /, ': ')), backoffs.map((e) => `iteration ${e.data.iteration}: backoff ${e.data.waitSeconds}s: ${e.data.reason}`));
    assert.match(page.value.backoffs[0].tip, /^iteration 1 at [\d.]+s: backoff \d+s: longRunningQueries [\d.]+s \(critical: 1 running longer than 0\.2s\)$/);
    const longQueries = decisions.map((e) => (e.data.health as { checks: Array<{ name: string; value: number; verdict: string }> }).checks.find((c) => c.name === 'longRunningQueries')!);
    assert.deepStrictEqual(page.value.longQueries.map(({ t, v, kind, inside }) => ({ t, v, kind, inside })), decisions.map((e, i) => ({ t: since(e), v: longQueries[i].value, kind: longQueries[i].verdict, inside: true })));
    assert.deepStrictEqual(page.value.longQueryThresholds, [0.2, 0.5]);
    assert.ok(page.value.criticalBands >= 1);
    assert.equal(page.value.decisionRows, decisions.length);
  });

  it('backfill report makes the same page later from Postgres alone', async () => {
    // Prepare
    const file = join(dir, 'later.html');
    // Act
    const result = await backfill('report', 'e2e-report', '--database-url', db.url, '--out', file);
    // Assess: only the footer's time of making differs
    assert.equal(result.code, 0, result.stderr);
    const footerless = (html: string) => html.replace(/Made by adaptive-backfill at [^ ]+ /, '');
    assert.equal(footerless(readFileSync(file, 'utf8')), footerless(readFileSync(join(dir, 'run.html'), 'utf8')));
  });

  it('backfill report names what is missing before doing anything', async () => {
    // Act
    const unknown = await backfill('report', 'no-such-run', '--database-url', db.url, '--out', join(dir, 'x.html'));
    const noOut = await backfill('report', 'e2e-report', '--database-url', db.url);
    const badDir = await backfill('report', 'e2e-report', '--database-url', db.url, '--out', join(dir, 'missing', 'x.html'));
    const runBadDir = await backfill('demo', '--rows', '10', '--database-url', db.url, '--report', join(dir, 'missing', 'x.html'));
    // Assess
    assert.deepStrictEqual([unknown.code, unknown.stderr.split('\n')[0]], [1, 'backfill: RUN_ID: no run "no-such-run" in schema backfill of that database']);
    assert.deepStrictEqual([noOut.code, noOut.stderr.split('\n')[0]], [1, 'backfill: --out: is required: the HTML file to write']);
    assert.deepStrictEqual([badDir.code, badDir.stderr.split('\n')[0]], [1, `backfill: --out: the directory ${JSON.stringify(join(dir, 'missing'))} does not exist`]);
    assert.deepStrictEqual([runBadDir.code, runBadDir.stderr.split('\n')[0]], [1, `backfill: --report: the directory ${JSON.stringify(join(dir, 'missing'))} does not exist`]);
  });
});
