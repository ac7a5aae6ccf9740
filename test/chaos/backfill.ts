import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export interface Exit {
  /** The exit status; null when a signal ended it (signal says which). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  /** What it printed on stderr (the progress line's carriage returns as newlines), its last 20,000 characters. */
  readonly stderr: string;
  readonly ms: number;
}

export interface Process {
  readonly pid: number;
  readonly args: readonly string[];
  readonly exited: Promise<Exit>;
  /** SIGKILL: no handler runs, nothing is flushed (a crash, an OOM kill, a lost host). */
  kill9(): void;
  /** The last lines it has printed so far (what a hung process was showing). */
  lastOutput(): string;
}

/** No DATABASE_URL, deployment or schema from the suite's environment: every command says what it talks to. */
const CLEAN_ENV = { DATABASE_URL: '', BACKFILL_SCHEMA: '', BACKFILL_STACK: '', BACKFILL_QUEUE_URL: '', BACKFILL_DLQ_URL: '', BACKFILL_STATE_MACHINE_ARN: '' };

/** The real CLI as a child process: `node bin/backfill.js ARGS`, with `input` on its stdin. */
export function startBackfill(args: readonly string[], input = ''): Process {
  const started = Date.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'backfill.js'), ...args], { cwd: ROOT, env: { ...process.env, ...CLEAN_ENV } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout = (stdout + chunk).slice(-20_000)));
  child.stderr.on('data', (chunk) => (stderr = (stderr + String(chunk).replaceAll('\r', '\n')).slice(-20_000)));
  const exited = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
  });
  child.stdin.end(input);
  const lastOutput = () => lastLines({ code: null, signal: null, stdout, stderr, ms: 0 });
  return { pid: child.pid!, args, exited, kill9: () => void child.kill('SIGKILL'), lastOutput };
}

/** Its exit, or 'hung' when it is still running after `ms` (it is then killed, and that counts as a manual action). */
export async function exitWithin(process: Process, ms: number): Promise<Exit | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)));
  const outcome = await Promise.race([process.exited, hung]);
  clearTimeout(timer);
  if (outcome === 'hung') {
    process.kill9();
    await process.exited;
  }
  return outcome;
}

/** The last few meaningful lines a process printed, for the results (why it failed, what it refused). */
export function lastLines(exit: Exit | 'hung', n = 3): string {
  if (exit === 'hung') return 'hung';
  const lines = `${exit.stderr}\n${exit.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.slice(-n).join(' | ').slice(0, 600);
}

export function describeExit(exit: Exit | 'hung'): string {
  if (exit === 'hung') return 'hung';
  return exit.code === null ? `killed by ${exit.signal}` : `exit ${exit.code}`;
}
