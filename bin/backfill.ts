import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InvalidInputError } from '../core/errors';
import { createDemoTable } from '../jobs/demo-table';
import { localEnv } from '../local/env';
import { loadJob } from '../local/load-job';
import { ProgressReporter } from '../local/progress';
import { runLocal, type LocalRunOptions, type RunSummary } from '../local/run-local';

const DEMO_JOB = join(dirname(fileURLToPath(import.meta.url)), '..', 'jobs', 'demo.ts');

const USAGE = `usage:
  backfill demo [--rows N] [common options]            the embedded demo (npm start)
  backfill run --local --job PATH [common options]     run any job through the embedded runtime

common options:
  --database-url URL   Postgres to use (else DATABASE_URL, else an embedded Postgres is started)
  --chunk-size N       rows per work item (default 1000)
  --run-id ID          run id; the same id resumes a run (default: a new one)
  --time-scale F       multiply backoff waits by F (local runs only; default 1)
  --continue-after N   iterations per execution before it continues as a new one (default 1000)
  --summary FILE       write the run summary as JSON to FILE
  --json               print the summary as JSON on stdout

exit status: 0 every item succeeded, 2 the run finished but items were dead-lettered, 1 the run failed`;

const OPTIONS = {
  local: { type: 'boolean' },
  job: { type: 'string' },
  rows: { type: 'string' },
  'database-url': { type: 'string' },
  'chunk-size': { type: 'string' },
  'run-id': { type: 'string' },
  'time-scale': { type: 'string' },
  'continue-after': { type: 'string' },
  summary: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function numberFlag(flag: string, raw: string | undefined, min: number, max: number, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new InvalidInputError(`--${flag}`, `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}; got ${JSON.stringify(raw)}`);
  }
  return value;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    const command = positionals[0];
    if (values.help || command === undefined) {
      console.log(USAGE);
      return command === undefined && !values.help ? 1 : 0;
    }
    if (positionals.length > 1) throw new InvalidInputError('arguments', `unexpected ${JSON.stringify(positionals.slice(1).join(' '))}`);
    const chunkSize = numberFlag('chunk-size', values['chunk-size'], 1, 1_000_000, true);
    const timeScale = numberFlag('time-scale', values['time-scale'], 0, 1000, false);
    const continueAfter = numberFlag('continue-after', values['continue-after'], 1, 1200, true);
    const common: Omit<LocalRunOptions, 'job' | 'jobPath'> = {
      databaseUrl: values['database-url'] ?? localEnv.databaseUrl,
      input: { ...(chunkSize ? { chunkSize } : {}), ...(continueAfter ? { continueAfter } : {}), ...(values['run-id'] ? { runId: values['run-id'] } : {}) },
      timeScale,
    };
    let options: LocalRunOptions;
    if (command === 'demo') {
      if (values.job || values.local) throw new InvalidInputError('demo', 'takes no --job or --local; use `backfill run --local --job PATH` for your own job');
      const rows = numberFlag('rows', values.rows, 1, 100_000_000, true) ?? 1_000_000;
      const { job, path } = await loadJob(DEMO_JOB);
      options = { ...common, job, jobPath: path, prepare: (db) => createDemoTable(db, rows) };
      console.error(`demo: backfilling demo_items.email_lower over ${rows.toLocaleString('en-US')} rows`);
    } else if (command === 'run') {
      if (!values.local) throw new InvalidInputError('--local', 'is required: only local runs are built so far; on AWS, start an execution (see the README)');
      if (!values.job) throw new InvalidInputError('--job', 'is required: the path of a .ts or .js job module');
      if (values.rows) throw new InvalidInputError('--rows', 'belongs to `backfill demo` only');
      const { job, path } = await loadJob(values.job);
      options = { ...common, job, jobPath: path };
    } else {
      throw new InvalidInputError('command', `unknown command ${JSON.stringify(command)}; known: demo, run\n${USAGE}`);
    }
    const progress = new ProgressReporter();
    const summary = await runLocal({ ...options, onEvent: (event) => progress.handle(event) });
    progress.finish(summary);
    return report(summary, values.summary, values.json ?? false);
  } catch (error) {
    console.error(`backfill: ${oneLine(error)}`);
    return 1;
  }
}

/** Prints the outcome and returns the exit status. */
function report(summary: RunSummary, summaryFile: string | undefined, json: boolean): number {
  if (summaryFile) writeFileSync(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  if (json) console.log(JSON.stringify(summary));
  const seconds = (summary.durationMs / 1000).toFixed(1);
  if (summary.status === 'failed') {
    console.error(`backfill: run ${summary.runId} failed: ${summary.reason}`);
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
      `${summary.waits.length} waits (${waited}s), ${summary.itemsDeadLettered} dead-lettered, ${summary.executions} execution${summary.executions === 1 ? "" : "s"}, ${summary.stateTransitions} state transitions` +
      (summary.rowsRemaining !== null ? `, ${summary.rowsRemaining} rows remaining` : ''),
  );
  return summary.itemsDeadLettered > 0 ? 2 : 0;
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}
