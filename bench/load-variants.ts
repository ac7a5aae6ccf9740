import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** A backfill variant of the load benchmark: the hand loop with a fixed pause, or adaptive-backfill at a budget. */
export interface Variant {
  readonly key: string;
  readonly kind: 'loop' | 'adaptive';
  readonly pauseMs?: number;
  readonly budget?: number;
}

/** What the adaptive child reports while it runs (times on the shared wall clock). */
export interface ChildEvent {
  readonly type: 'decision' | 'batch';
  readonly at: number;
  readonly action?: string;
  readonly reason?: string;
  readonly received?: number;
  readonly duty?: number;
  readonly pauseMs?: number;
  readonly u?: number;
  readonly baselineMs?: number;
  readonly stoppedAt?: number;
  readonly stopped?: string;
}

const now = () => performance.timeOrigin + performance.now();

export function adaptiveInput(budget: number, chunkSize: number, extra: object = {}): object {
  return { chunkSize, latency: { budget: { p99Factor: budget } }, ...extra };
}

/** Runs a variant in a child process under `nice`; resolves with its window on the shared clock and its result. */
export function runChild(url: string, variant: Variant, chunkSize: number, input?: object, onEvent?: (event: ChildEvent) => void): Promise<{ from: number; to: number; seconds: number; rows: number }> {
  const args = variant.kind === 'loop' ? ['loop', url, String(variant.pauseMs)] : ['adaptive', url, JSON.stringify(input ?? adaptiveInput(variant.budget!, chunkSize))];
  return new Promise((resolve, reject) => {
    const child = spawn('nice', ['-n', '10', process.execPath, '--import', 'tsx', join(import.meta.dirname, 'load-child.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let ready = now();
    let result: { seconds: number; rows: number } | undefined;
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffered.slice(0, newline)) as { ready?: number; started?: number; event?: ChildEvent; result?: { seconds: number; rows: number } };
        buffered = buffered.slice(newline + 1);
        if (line.ready) ready = line.ready;
        if (line.started) ready = line.started;
        if (line.event) onEvent?.(line.event);
        if (line.result) result = line.result;
      }
    });
    child.on('error', reject);
    // seconds: the window [from, to) on the shared clock (for the adaptive run, from the moment it is planned).
    child.on('exit', (code) => {
      const to = now();
      if (code === 0 && result) resolve({ from: ready, to, rows: result.rows, seconds: (to - ready) / 1000 });
      else reject(new Error(`load-child ${variant.key} exited with ${code}`));
    });
  });
}
