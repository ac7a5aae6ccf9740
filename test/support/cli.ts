import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../cli/main';

const ROOT = join(import.meta.dirname, '..', '..');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `backfill ARGS` in this process, capturing what it prints (console.log -> stdout, console.error ->
 * stderr). For steering a run from its own onEvent, and for commands whose AWS calls are mocked.
 */
export async function backfillInProcess(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => void out.push(`${parts.join(' ')}\n`);
  console.error = (...parts: unknown[]) => void err.push(`${parts.join(' ')}\n`);
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** No DATABASE_URL or deployment from this environment: each test says what the command talks to. */
const CLEAN_ENV = { DATABASE_URL: '', BACKFILL_STACK: '', BACKFILL_QUEUE_URL: '', BACKFILL_DLQ_URL: '', BACKFILL_STATE_MACHINE_ARN: '' };

/** A `backfill` child process (the real CLI, bin/backfill.js); `exited` settles when it ends. */
export function startBackfill(...args: string[]): { readonly exited: Promise<CliResult>; readonly pid: number; kill(signal: NodeJS.Signals): void } {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'backfill.js'), ...args], { cwd: ROOT, env: { ...process.env, ...CLEAN_ENV } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
  return { exited, pid: child.pid!, kill: (signal) => void child.kill(signal) };
}

/** Runs `backfill ARGS` as a child process to its end. */
export function backfill(...args: string[]): Promise<CliResult> {
  return startBackfill(...args).exited;
}

/** Runs `backfill ARGS` as a child process with `input` on its stdin and extra environment (e.g. localSqsEnv). */
export function backfillWith(args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'backfill.js'), ...args], { cwd: ROOT, env: { ...process.env, ...CLEAN_ENV, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** The environment that points the AWS SDK in a child process at a local SQS server. */
export function localSqsEnv(endpoint: string): Record<string, string> {
  return { AWS_ENDPOINT_URL_SQS: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };
}
