import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeExit, exitWithin, lastLines, startBackfill, type Exit, type Process } from './backfill';
import { createTrialDatabase, dropTrialDatabase, rowCounts } from './fixture';
import type { ChaosServer } from './server';

export interface SuiteOptions {
  readonly server: ChaosServer;
  readonly short: boolean;
  /** Passed to every run as --time-scale: backoff and pacing waits, shortened. */
  readonly timeScale: number;
  /** How long one process may run before it counts as hung (it is then killed). */
  readonly hangMs: number;
  log(line: string): void;
}

export interface TrialResult {
  readonly kind: string;
  readonly name: string;
  readonly passed: boolean;
  /** Every row of the table ended with touched = 1. */
  readonly exactlyOnce: boolean;
  /** Rows never changed (touched = 0) at the end. */
  readonly lost: number;
  /** Rows changed more than once (touched > 1) at the end. */
  readonly doubled: number;
  /** What the suite had to do beyond the trial's own steps (a re-run after a crash or a hang, ...). */
  readonly manualActions: readonly string[];
  /** Each command the trial ran, in order, with how it ended. */
  readonly steps: readonly string[];
  /** Checks that failed, besides rows and manual actions. */
  readonly problems: readonly string[];
  readonly details: Readonly<Record<string, unknown>>;
  readonly ms: number;
}

export interface TrialKind {
  readonly kind: string;
  /** How many trials, in a full and in a --short run. */
  readonly trials: { readonly full: number; readonly short: number };
  run(trial: Trial, index: number, suite: SuiteOptions): Promise<void>;
}

const JOBS = join(import.meta.dirname, 'jobs');

/** Attempts a process may make to end with its documented exit after a failure, each a manual action. */
const MANUAL_RERUNS = 1;

/** What the same command prints when another process holds the run (its lease): re-running it later is a resume. */
const LEASE_REFUSAL = /lease/i;

/** One trial: its database and run id, the command it resumes with, and what it found. */
export class Trial {
  readonly steps: string[] = [];
  readonly problems: string[] = [];
  readonly manualActions: string[] = [];
  readonly details: Record<string, unknown> = {};
  readonly runId: string;
  url = '';
  private readonly started = Date.now();

  constructor(
    readonly kind: string,
    readonly name: string,
    private readonly database: string,
    readonly suite: SuiteOptions,
  ) {
    this.runId = `chaos-${database.replaceAll('_', '-')}`;
  }

  async open(rows: number): Promise<void> {
    this.url = await createTrialDatabase(this.suite.server, this.database, rows);
  }

  /** `backfill run --local --job JOB --run-id R --database-url URL ...`: the command a resume repeats. */
  runArgs(job: string, chunkSize: number): string[] {
    return ['run', '--local', '--job', join(JOBS, `${job}.ts`), '--run-id', this.runId, '--database-url', this.url, '--chunk-size', String(chunkSize), '--time-scale', String(this.suite.timeScale)];
  }

  /** Any other backfill command against this trial's run (`dlq redrive --local`, `enqueue --local`, `status`). */
  async command(label: string, args: readonly string[], input = ''): Promise<Exit | 'hung'> {
    const exit = await exitWithin(startBackfill(args, input), 60_000);
    this.steps.push(`${label}: ${describeExit(exit)}${exit !== 'hung' && exit.code !== 0 ? ` (${lastLines(exit, 2)})` : ''}`);
    return exit;
  }

  start(args: readonly string[]): Process {
    return startBackfill(args);
  }

  /** Waits for a started run; re-runs the same command while a lease held by another (dead) process refuses it. */
  async ended(label: string, process: Process, args: readonly string[]): Promise<Exit | 'hung'> {
    let exit = await exitWithin(process, this.suite.hangMs);
    this.steps.push(`${label}: ${describeExit(exit)}${exit === 'hung' ? ` (showing: ${process.lastOutput()})` : ''}`);
    const deadline = Date.now() + 120_000;
    while (exit !== 'hung' && exit.code !== 0 && LEASE_REFUSAL.test(exit.stderr) && Date.now() < deadline) {
      this.details.leaseRefusals = [...((this.details.leaseRefusals as string[] | undefined) ?? []), lastLines(exit, 1)];
      await sleep(2000);
      const again = startBackfill(args);
      exit = await exitWithin(again, this.suite.hangMs);
      this.steps.push(`${label}, same command again after a lease refusal: ${describeExit(exit)}${exit === 'hung' ? ` (showing: ${again.lastOutput()})` : ''}`);
    }
    return exit;
  }

  /** Runs the command to its end (see ended). */
  async runToEnd(label: string, args: readonly string[]): Promise<Exit | 'hung'> {
    return this.ended(label, startBackfill(args), args);
  }

  /**
   * The run must end with `expected` by itself. If it crashed, hung or ended otherwise, the suite does what a user
   * would (re-run the same command, at most MANUAL_RERUNS times), and each such re-run is a manual action.
   */
  async settle(label: string, exit: Exit | 'hung', args: readonly string[], expected: number): Promise<Exit | 'hung'> {
    let current = exit;
    for (let i = 0; i < MANUAL_RERUNS && (current === 'hung' || current.code !== expected); i += 1) {
      this.manualActions.push(`re-ran \`${label}\` after it ${current === 'hung' ? `hung for ${this.suite.hangMs / 1000}s (killed)` : `ended with ${describeExit(current)}: ${lastLines(current)}`}`);
      current = await this.runToEnd(`${label} (manual re-run)`, args);
    }
    if (current === 'hung' || current.code !== expected) this.problems.push(`${label} ended with ${describeExit(current)}, expected exit ${expected}: ${lastLines(current)}`);
    return current;
  }

  check(ok: boolean, problem: string): void {
    if (!ok) this.problems.push(problem);
  }

  /** Counts every row, drops the database, and gives the verdict. */
  async finish(): Promise<TrialResult> {
    const rows = await rowCounts(this.url);
    await dropTrialDatabase(this.suite.server, this.database);
    const exactlyOnce = rows.once === rows.rows;
    const passed = exactlyOnce && this.problems.length === 0 && this.manualActions.length === 0;
    return {
      kind: this.kind,
      name: this.name,
      passed,
      exactlyOnce,
      lost: rows.lost,
      doubled: rows.doubled,
      manualActions: this.manualActions,
      steps: this.steps,
      problems: this.problems,
      details: this.details,
      ms: Date.now() - this.started,
    };
  }
}
