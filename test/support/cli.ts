import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `backfill ARGS` as a child process, `input` on its stdin; no DATABASE_URL or deployment from this environment. */
export function backfill(args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'backfill.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: '', BACKFILL_STACK: '', BACKFILL_QUEUE_URL: '', BACKFILL_DLQ_URL: '', BACKFILL_STATE_MACHINE_ARN: '', ...options.env },
    });
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
