import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '../../core/errors';
import { createDemoTable } from '../../jobs/demo-table';
import { localEnv } from '../../local/env';
import { loadJob } from '../../local/load-job';
import { describeLastError, ProgressReporter } from '../../local/progress';
import { runLocal, type LocalRunOptions, type RunSummary } from '../../local/run-local';
import { writeRunReport } from '../../local/report/write-report';
import { numberFlag, parseFlags } from '../args';
import { schemaOf } from '../run-database';
import { freshRunId } from '../run-ids';
import type { Command } from '../command';
import { outputFileFlag } from './report';

const DEMO_JOB = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'jobs', 'demo.ts');

const COMMON_USAGE = `options:
  --database-url URL   Postgres to use (else DATABASE_URL, else an embedded Postgres is started)
  --chunk-size N       rows per work item (default 1000)
  --run-id ID          run id; the same id resumes a run (default: a new one)
  --fresh              start the job over under a new run id derived from --run-id (or the job's name), printed
  --time-scale F       multiply backoff, pause and pacing waits by F (local runs only; default 1)
  --continue-after N   iterations per execution before it continues as a new one (default 1250)
  --summary FILE       write the run summary as JSON to FILE
  --report FILE.html   write the run's HTML report (charts over time, every decision and why) to FILE
  --schema NAME        the bookkeeping schema (default BACKFILL_SCHEMA, else backfill)
  --json               print the summary as JSON on stdout

exit status: 0 every item succeeded, 2 the run finished but items were dead-lettered, 1 the run failed or was aborted`;

const OPTIONS = {
  local: { type: 'boolean' },
  job: { type: 'string' },
  rows: { type: 'string' },
  'database-url': { type: 'string' },
  'chunk-size': { type: 'string' },
  'run-id': { type: 'string' },
  fresh: { type: 'boolean' },
  'time-scale': { type: 'string' },
  'continue-after': { type: 'string' },
  summary: { type: 'string' },
  report: { type: 'string' },
  schema: { type: 'string' },
  json: { type: 'boolean' },
} as const;

type Flags = ReturnType<typeof parseFlags<typeof OPTIONS>>['values'];

/** The options every local run takes, checked before any work starts. */
function commonOptions(values: Flags): Omit<LocalRunOptions, 'job' | 'jobPath'> {
  const chunkSize = numberFlag('chunk-size', values['chunk-size'], 1, 1_000_000, true);
  const timeScale = numberFlag('time-scale', values['time-scale'], 0, 1000, false);
  const continueAfter = numberFlag('continue-after', values['continue-after'], 1, 1250, true);
  outputFileFlag('report', values.report);
  return {
    databaseUrl: values['database-url'] ?? localEnv.databaseUrl,
    bookkeepingSchema: schemaOf(values),
    input: { ...(chunkSize ? { chunkSize } : {}), ...(continueAfter ? { continueAfter } : {}), ...(values['run-id'] ? { runId: values['run-id'] } : {}) },
    timeScale,
  };
}

/** --fresh: the run id becomes a new one derived from the given one (or the job's name), printed. */
function withFresh(options: LocalRunOptions, values: Flags): LocalRunOptions {
  if (!values.fresh) return options;
  const runId = freshRunId(options.input?.runId ?? options.job.name);
  console.error(`fresh run: ${runId}`);
  return { ...options, input: { ...options.input, runId } };
}

/** Runs through the embedded runtime with a progress line, then prints the outcome; returns the exit status. */
async function runWithProgress(given: LocalRunOptions, values: Flags): Promise<number> {
  const options = withFresh(given, values);
  const reportFile = values.report;
  const progress = new ProgressReporter();
  let reportWritten = false;
  // The report is read from the run's database before the run closes it (an embedded Postgres stops with the run).
  const afterRun: LocalRunOptions['afterRun'] = reportFile ? async ({ summary, pool, schema }) => { reportWritten = await writeRunReport(pool, schema, summary.runId, reportFile); } : undefined;
  const summary = await runLocal({ ...options, onEvent: (event) => progress.handle(event), afterRun });
  progress.finish(summary);
  const status = report(summary, values.summary, values.json ?? false);
  if (reportFile) console.error(reportWritten ? `backfill: report written to ${reportFile}` : `backfill: no report: run ${summary.runId} was never recorded`);
  return status;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the embedded demo: backfill demo_items.email_lower (npm start)',
  usage: `usage: backfill demo [--rows N] [options]\n\n  --rows N             rows in demo_items (default 1,000,000)\n${COMMON_USAGE}`,
  async run(argv) {
    const { values } = parseFlags(argv, OPTIONS);
    if (values.job || values.local) throw new InvalidInputError('demo', 'takes no --job or --local; use `backfill run --local --job PATH` for your own job');
    const common = commonOptions(values);
    const rows = numberFlag('rows', values.rows, 1, 100_000_000, true) ?? 1_000_000;
    const { job, path } = await loadJob(DEMO_JOB);
    console.error(`demo: backfilling demo_items.email_lower over ${rows.toLocaleString('en-US')} rows`);
    return runWithProgress({ ...common, job, jobPath: path, prepare: (db) => createDemoTable(db, rows) }, values);
  },
};

export const runCommand: Command = {
  name: 'run',
  summary: 'run any job through the embedded runtime: backfill run --local --job PATH',
  usage: `usage: backfill run --local --job PATH [options]\n\n  --local              run in this process (embedded runtime); on AWS use backfill start\n  --job PATH           the job module (.ts or .js)\n${COMMON_USAGE}`,
  async run(argv) {
    const { values } = parseFlags(argv, OPTIONS);
    if (!values.local) throw new InvalidInputError('--local', 'is required: `run` runs in this process; on AWS, start an execution (see the README)');
    if (!values.job) throw new InvalidInputError('--job', 'is required: the path of a .ts or .js job module');
    if (values.rows) throw new InvalidInputError('--rows', 'belongs to `backfill demo` only');
    const common = commonOptions(values);
    const { job, path } = await loadJob(values.job);
    return runWithProgress({ ...common, job, jobPath: path }, values);
  },
};

/** Prints the outcome and returns the exit status. */
function report(summary: RunSummary, summaryFile: string | undefined, json: boolean): number {
  if (summaryFile) writeFileSync(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  if (json) console.log(JSON.stringify(summary));
  if (summary.lastError) console.error(`backfill: ${describeLastError(summary.lastError)}`);
  if (summary.itemsAtLeastOnce > 0) console.error(`backfill: ${summary.itemsAtLeastOnce} items were done at least once, not exactly once: the job returned ok without ctx.withTransaction (docs/reliability.md)`);
  const seconds = (summary.durationMs / 1000).toFixed(1);
  if (summary.status !== 'succeeded') {
    console.error(`backfill: run ${summary.runId} ${summary.status}: ${summary.reason}`);
    return 1;
  }
  if (summary.rowsRemaining !== null && summary.rowsRemaining > 0 && summary.itemsDeadLettered === 0) {
    console.error(`backfill: run ${summary.runId} finished but ${summary.rowsRemaining} rows still need the backfill`);
    return 1;
  }
  const waited = summary.waits.reduce((total, wait) => total + wait.seconds, 0);
  console.error(
    `backfill: run ${summary.runId} ${summary.itemsDeadLettered > 0 ? 'finished with dead-lettered items' : 'succeeded'} in ${seconds}s: ` +
      `${summary.rowsAffected.toLocaleString('en-US')} rows in ${summary.itemsSucceeded}/${summary.itemsPlanned} items, ${summary.batches} batches, ` +
      `${summary.waits.length} waits (${waited}s), ${summary.itemsDeadLettered} dead-lettered, ${summary.executions} execution${summary.executions === 1 ? '' : 's'}, ${summary.stateTransitions} state transitions` +
      (summary.rowsRemaining !== null ? `, ${summary.rowsRemaining} rows remaining` : ''),
  );
  return summary.itemsDeadLettered > 0 ? 2 : 0;
}
