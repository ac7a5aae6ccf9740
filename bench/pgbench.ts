// pgbench as the foreground load: TPC-B-like transactions, 8 clients, open loop at a rate (-R), every transaction
// logged (-l) with its schedule lag, so latency counts from the scheduled start (latency + lag), as a user sees it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PGBENCH = existsSync('/usr/lib/postgresql/15/bin/pgbench') ? '/usr/lib/postgresql/15/bin/pgbench' : 'pgbench';

export function pgbenchInit(url: string, scale: number): void {
  const r = spawnSync(PGBENCH, ['-i', '-q', '-s', String(scale), url], { stdio: 'pipe' });
  if (r.status !== 0) throw new Error(`pgbench -i failed: ${r.stderr.toString()}`);
}

/** Closed-loop capacity: tps of `clients` clients back to back for `seconds`. */
export function closedLoopTps(url: string, clients: number, seconds: number): number {
  const r = spawnSync(PGBENCH, ['-n', '-c', String(clients), '-j', '2', '-T', String(seconds), url], { stdio: 'pipe' });
  if (r.status !== 0) throw new Error(`pgbench failed: ${r.stderr.toString()}`);
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(r.stdout.toString());
  if (!m) throw new Error(`no tps in pgbench output: ${r.stdout.toString()}`);
  return Number(m[1]);
}

/** One transaction: when it was scheduled to start (epoch ms) and its latency from then (ms). */
export type Samples = Float64Array;

/**
 * Transactions later than this (ms, from their scheduled start) are skipped by pgbench (-L) instead of run: without
 * it an open loop that falls behind (a shared machine that got busier) runs late forever. A skipped transaction
 * counts as this late (a lower bound) in the latencies, and is counted.
 */
export const LATENCY_LIMIT_MS = 2000;

/** An open-loop pgbench at `tps` until stop(); stop() returns every transaction it logged, as [scheduled ms, latency ms] pairs. */
export class OpenLoop {
  private readonly dir = mkdtempSync(join(tmpdir(), 'ab-pgbench-'));
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  public constructor(url: string, tps: number, clients: number) {
    this.child = spawn(PGBENCH, ['-n', '-c', String(clients), '-j', '2', '-R', String(tps), '-L', String(LATENCY_LIMIT_MS), '-T', '36000', '-l', `--log-prefix=${join(this.dir, 'tx')}`, url], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  /** Stops the load (SIGINT; the last buffered lines may be lost, so measured windows end a few seconds before). */
  /** Transactions pgbench skipped (too late to start within LATENCY_LIMIT_MS), set by stop(). */
  public skipped = 0;

  public async stop(): Promise<Samples> {
    this.child.kill('SIGINT');
    await this.exited;
    const pairs: number[] = [];
    for (const file of readdirSync(this.dir)) {
      for (const line of readFileSync(join(this.dir, file), 'utf8').split('\n')) {
        // client tx time_us script epoch_s epoch_us lag_us
        const f = line.trim().split(/\s+/);
        if (f.length < 7) continue;
        const lagUs = Number(f[6]);
        const atMs = Number(f[4]) * 1000 + Number(f[5]) / 1000;
        if (f[2] === 'skipped') {
          // Logged when skipped: its scheduled start was lag ago.
          this.skipped += 1;
          if (Number.isFinite(lagUs)) pairs.push(atMs - lagUs / 1000, LATENCY_LIMIT_MS);
          continue;
        }
        const timeUs = Number(f[2]);
        if (!Number.isFinite(timeUs) || !Number.isFinite(lagUs)) continue;
        pairs.push(atMs - timeUs / 1000 - lagUs / 1000, (timeUs + lagUs) / 1000);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    return Float64Array.from(pairs);
  }
}
