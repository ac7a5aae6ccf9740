// The load benchmark: what a backfill costs the foreground traffic of a busy database.
// npm run bench -- load [--rows N] [--clients N] [--load F] [--seconds S] [--repeat K] [--input JSON]
//
// An OLTP load (N clients, short read/write transactions on other tables, in a worker thread) runs against the
// same Postgres throughout. Measured: its p50/p99 latency at baseline and while (a) a hand-written batched loop and
// (b) adaptive-backfill each backfill the same rows; each backfill's throughput, and (b)'s idle throughput; and the
// reaction time of (b) to a long-running query (to the first batch held back, and from its end to the first batch
// resumed).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { handleSessionErrors, makePool } from '../db/pool';
import type { ExecutionInput } from '../core/execution-input';
import { resolveSettings, validateOverrides } from '../core/settings';
import { startEmbeddedPostgres } from '../local/embedded-postgres';
import { localEnv } from '../local/env';
import { latencyStats, type LatencyStats } from './latency';
import { remainingRows, resetTable, type Measured } from './variants';

const ROOT = join(import.meta.dirname, '..');
const P99_TARGET = 1.2;
const THROUGHPUT_TARGET = 0.5;

const { values } = parseArgs({
  args: process.argv.slice(3),
  options: {
    rows: { type: 'string', default: '1000000' },
    clients: { type: 'string', default: '8' },
    load: { type: 'string', default: '0.5' },
    seconds: { type: 'string', default: '10' },
    input: { type: 'string', default: '{}' },
    repeat: { type: 'string', default: '1' },
  },
});
const rows = Number(values.rows);
const clients = Number(values.clients);
const loadFraction = Number(values.load);
const baselineSeconds = Number(values.seconds);
if (!Number.isInteger(rows) || rows < 1000) throw new Error(`--rows must be an integer >= 1000; got ${values.rows}`);
if (!Number.isInteger(clients) || clients < 1 || clients > 64) throw new Error(`--clients must be an integer from 1 to 64; got ${values.clients}`);
if (!(loadFraction > 0 && loadFraction <= 1)) throw new Error(`--load must be a fraction of capacity in (0, 1]; got ${values.load}`);
if (!(baselineSeconds >= 2 && baselineSeconds <= 600)) throw new Error(`--seconds must be from 2 to 600; got ${values.seconds}`);
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1 || repeat > 10) throw new Error(`--repeat must be an integer from 1 to 10; got ${values.repeat}`);

const ACCOUNTS = 100_000;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The OLTP load in its worker: switch its mode, and take the samples it recorded. */
class OltpLoad {
  private readonly worker: Worker;
  private samples: Float64Array[] = [];

  public constructor(url: string) {
    this.worker = new Worker(new URL('./oltp-worker.mjs', import.meta.url), { workerData: { url, clients, accounts: ACCOUNTS } });
    this.worker.on('error', (error) => {
      throw error;
    });
  }

  public closedLoop(): void {
    this.worker.postMessage({ cmd: 'mode', mode: { kind: 'closed' } });
  }

  public openLoop(totalTps: number): void {
    this.worker.postMessage({ cmd: 'mode', mode: { kind: 'open', intervalMs: (1000 * clients) / totalTps } });
  }

  public idle(): void {
    this.worker.postMessage({ cmd: 'mode', mode: { kind: 'idle' } });
  }

  /** Every sample recorded so far. */
  public async collect(): Promise<Float64Array> {
    const drained = new Promise<Float64Array>((resolve) => this.worker.once('message', (m: { samples: Float64Array }) => resolve(m.samples)));
    this.worker.postMessage({ cmd: 'drain' });
    this.samples.push(await drained);
    const all = new Float64Array(this.samples.reduce((n, s) => n + s.length, 0));
    let offset = 0;
    for (const s of this.samples) {
      all.set(s, offset);
      offset += s.length;
    }
    return all;
  }

  public async stop(): Promise<void> {
    const stopped = new Promise((resolve) => this.worker.once('message', resolve));
    this.worker.postMessage({ cmd: 'stop' });
    await stopped;
    await this.worker.terminate();
  }
}

async function createOltpTables(pool: pg.Pool): Promise<void> {
  await pool.query('DROP TABLE IF EXISTS bench_accounts, bench_ledger');
  await pool.query('CREATE TABLE bench_accounts (id int PRIMARY KEY, balance bigint NOT NULL DEFAULT 0)');
  await pool.query('CREATE TABLE bench_ledger (id bigserial PRIMARY KEY, account int NOT NULL, delta int NOT NULL, at timestamptz NOT NULL DEFAULT now())');
  await pool.query('INSERT INTO bench_accounts (id) SELECT g FROM generate_series(1, $1::int) g', [ACCOUNTS]);
  await pool.query('VACUUM ANALYZE bench_accounts');
}

/**
 * Lets the database settle before a measured phase: a checkpoint, then no (auto)vacuum running and a quiet second,
 * so a phase is not charged with what the previous one left behind (setup's bulk load, the last backfill's dead rows).
 */
async function settle(pool: pg.Pool): Promise<void> {
  await pool.query('CHECKPOINT');
  for (let waited = 0; waited < 120_000; waited += 250) {
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_progress_vacuum');
    if (rows[0].n === 0) break;
    await sleep(250);
  }
  await sleep(1000);
}

/**
 * Runs `fn` and returns its window [from, to) on the shared clock with its result. A child's window starts once
 * its process is up (readyAt), so neither variant is charged with starting Node.
 */
async function window<T>(fn: () => Promise<T>): Promise<{ from: number; to: number; result: T }> {
  const from = now();
  const result = await fn();
  const readyAt = (result as { readyAt?: number } | undefined)?.readyAt;
  return { from: readyAt ?? from, to: now(), result };
}

type Window<T> = { from: number; to: number; result: T };

interface Round {
  readonly baseline: Window<unknown>;
  readonly a: Window<Measured>;
  readonly afterA: Window<unknown>;
  readonly b: Window<Measured>;
  readonly afterB: Window<unknown>;
  readonly events: ChildEvent[];
}

function median(xs: number[]): number {
  return [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
}

export interface ChildEvent {
  readonly type: 'decision' | 'batch';
  readonly at: number;
  readonly action?: string;
  readonly reason?: string;
  readonly received?: number;
}

/**
 * Runs a variant in a child process under `nice` (see backfill-child.ts), both the hand loop and adaptive-backfill,
 * so neither one's client-side work competes with Postgres at the same priority. `onEvent` sees the run's events.
 */
function runChild(variant: 'hand' | 'adaptive', url: string, input: object = {}, onEvent?: (event: ChildEvent) => void): Promise<Measured & { readyAt: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('nice', ['-n', '10', process.execPath, '--import', 'tsx', join(import.meta.dirname, 'backfill-child.ts'), variant, url, JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let result: Measured | undefined;
    let readyAt = now();
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffered.slice(0, newline)) as { ready?: number; event?: ChildEvent; result?: Measured };
        buffered = buffered.slice(newline + 1);
        if (line.ready) readyAt = line.ready;
        if (line.event) onEvent?.(line.event);
        if (line.result) result = line.result;
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && result ? resolve({ ...result, readyAt }) : reject(new Error(`backfill-child ${variant} exited with ${code}`))));
  });
}

/** The knobs adaptive-backfill runs with here: the defaults, plus --input (execution input JSON, checked first). */
const ADAPTIVE_INPUT: Omit<ExecutionInput, 'job'> = JSON.parse(values.input);
resolveSettings(validateOverrides('--input', ADAPTIVE_INPUT));

const embedded = localEnv.databaseUrl ? undefined : await startEmbeddedPostgres();
const databaseUrl = localEnv.databaseUrl ?? embedded!.url;
const pool = makePool({ connectionString: databaseUrl, max: 2 });
const load = new OltpLoad(databaseUrl);
try {
  const version = (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v;
  await createOltpTables(pool);
  await resetTable(pool, rows);

  // (b) idle: adaptive-backfill's throughput with no foreground load.
  const idleRun = await window(() => runChild('adaptive', databaseUrl, ADAPTIVE_INPUT));
  const idleThroughput = rows / idleRun.result.seconds;
  console.log(`b idle: ${idleRun.result.seconds.toFixed(2)} s, ${Math.round(idleThroughput).toLocaleString('en-US')} rows/s`);

  // Capacity: the load's closed-loop throughput; then an open loop at a fraction of it.
  load.closedLoop();
  await sleep(1000);
  const calibration = await window(() => sleep(4000));
  const capacity = latencyStats(await load.collect(), calibration.from, calibration.to).tps;
  const targetTps = capacity * loadFraction;
  load.openLoop(targetTps);
  console.log(`load: ${clients} clients, capacity ${Math.round(capacity)} tps, running at ${Math.round(targetTps)} tps (${loadFraction * 100}%)`);
  await settle(pool);

  // Measured rounds: baseline, (a), what (a) left behind, (b), what (b) left behind; each backfill on a fresh table
  // after the database settled. Medians over the rounds: one checkpoint or autovacuum can move a single p99.
  const rounds: Round[] = [];
  for (let i = 0; i < repeat; i += 1) {
    const baseline = await window(() => sleep(baselineSeconds * 1000));
    await resetTable(pool, rows);
    await settle(pool);
    const a = await window(() => runChild('hand', databaseUrl));
    if ((await remainingRows(pool)) !== 0) throw new Error('the hand loop left rows');
    const afterA = await window(() => sleep(Math.min(5, baselineSeconds) * 1000));
    await resetTable(pool, rows);
    await settle(pool);
    const events: ChildEvent[] = [];
    const b = await window(() => runChild('adaptive', databaseUrl, ADAPTIVE_INPUT, (event) => events.push(event)));
    if ((await remainingRows(pool)) !== 0) throw new Error('adaptive-backfill left rows');
    const afterB = await window(() => sleep(Math.min(5, baselineSeconds) * 1000));
    rounds.push({ baseline, a, afterA, b, afterB, events });
    await settle(pool);
  }

  // Reaction: a long-running query starts during a run and ends a few seconds later.
  await resetTable(pool, rows);
  await settle(pool);
  const reaction = await measureReaction(databaseUrl);

  const samples = await load.collect();
  // The load's p99 per second over the last round, with its phases and adaptive-backfill's decisions, to see what
  // the latency did when (bench/load-timeline.json).
  const last = rounds.at(-1)!;
  writeFileSync(join(ROOT, 'bench', 'load-timeline.json'), `${JSON.stringify({
    phases: { baseline: last.baseline, a: last.a, afterA: last.afterA, b: last.b, after: last.afterB },
    decisions: last.events,
    p99PerSecond: perSecond(samples, last.baseline.from, last.afterB.to),
  })}\n`);
  const measured = rounds.map((r) => {
    const stats = {
      baseline: latencyStats(samples, r.baseline.from, r.baseline.to),
      a: latencyStats(samples, r.a.from, r.a.to),
      afterA: latencyStats(samples, r.afterA.from, r.afterA.to),
      b: latencyStats(samples, r.b.from, r.b.to),
      afterB: latencyStats(samples, r.afterB.from, r.afterB.to),
    };
    const throughput = { a: rows / r.a.result.seconds, b: rows / r.b.result.seconds, bIdle: idleThroughput };
    return {
      stats,
      seconds: { baseline: (r.baseline.to - r.baseline.from) / 1000, a: r.a.result.seconds, afterA: (r.afterA.to - r.afterA.from) / 1000, b: r.b.result.seconds, afterB: (r.afterB.to - r.afterB.from) / 1000 },
      throughput,
      ratios: {
        'p99(a)/p99(baseline)': stats.a.p99Ms / stats.baseline.p99Ms,
        'p99(b)/p99(baseline)': stats.b.p99Ms / stats.baseline.p99Ms,
        'throughput(b)/throughput(b idle)': throughput.b / throughput.bIdle,
        'throughput(b)/throughput(a)': throughput.b / throughput.a,
      },
    };
  });
  const med = (pick: (m: (typeof measured)[number]) => number) => median(measured.map(pick));
  const phases = ['baseline', 'a', 'afterA', 'b', 'afterB'] as const;
  const stats = Object.fromEntries(phases.map((p) => [p, {
    transactions: med((m) => m.stats[p].transactions), tps: med((m) => m.stats[p].tps), p50Ms: med((m) => m.stats[p].p50Ms), p99Ms: med((m) => m.stats[p].p99Ms), maxMs: med((m) => m.stats[p].maxMs),
  }])) as Record<(typeof phases)[number], LatencyStats>;
  const seconds = Object.fromEntries(phases.map((p) => [p, med((m) => m.seconds[p])])) as Record<(typeof phases)[number], number>;
  const throughput = { a: med((m) => m.throughput.a), b: med((m) => m.throughput.b), bIdle: idleThroughput };
  const ratios = Object.fromEntries(Object.keys(measured[0].ratios).map((k) => [k, med((m) => m.ratios[k as keyof typeof m.ratios])])) as (typeof measured)[number]['ratios'];
  console.log(`\n${rows.toLocaleString('en-US')} rows; Postgres ${version}; ${clients} clients at ${Math.round(targetTps)} tps; median of ${repeat} round${repeat === 1 ? '' : 's'}`);
  console.log('phase       seconds   tps     p50 ms   p99 ms   backfill rows/s');
  const line = (name: string, s: LatencyStats, secs: number, rate?: number) =>
    console.log(`${name.padEnd(10)} ${secs.toFixed(1).padStart(7)} ${s.tps.toFixed(0).padStart(6)} ${s.p50Ms.toFixed(2).padStart(8)} ${s.p99Ms.toFixed(2).padStart(8)}   ${rate ? Math.round(rate).toLocaleString('en-US') : '-'}`);
  line('baseline', stats.baseline, seconds.baseline);
  line('a (hand)', stats.a, seconds.a, throughput.a);
  line('after a', stats.afterA, seconds.afterA);
  line('b (adapt)', stats.b, seconds.b, throughput.b);
  line('after b', stats.afterB, seconds.afterB);
  for (const [name, ratio] of Object.entries(ratios)) console.log(`${name.padEnd(34)} ${ratio.toFixed(2)}   (rounds: ${measured.map((m) => m.ratios[name as keyof typeof m.ratios].toFixed(2)).join(', ')})`);
  console.log(`reaction: long query started -> first batch held back ${fmt(reaction.holdSeconds)} s (threshold ${reaction.criticalSeconds} s); ended -> first batch resumed ${fmt(reaction.resumeSeconds)} s`);
  const met = { p99: ratios['p99(b)/p99(baseline)'] <= P99_TARGET, throughput: ratios['throughput(b)/throughput(b idle)'] >= THROUGHPUT_TARGET };
  console.log(`target p99(b) <= ${P99_TARGET} x baseline: ${met.p99 ? 'PASS' : 'MISS'}; throughput(b) >= ${THROUGHPUT_TARGET} x idle: ${met.throughput ? 'PASS' : 'MISS'}`);
  writeFileSync(join(ROOT, 'bench', 'load-results.json'), `${JSON.stringify({
    benchmark: 'load',
    date: new Date().toISOString(),
    rows,
    clients,
    repeat,
    node: process.version,
    postgres: version,
    database: embedded ? 'embedded' : 'DATABASE_URL',
    capacityTps: capacity,
    targetTps,
    adaptiveInput: ADAPTIVE_INPUT,
    latency: stats,
    seconds: { ...seconds, bIdle: idleRun.result.seconds },
    throughputRowsPerSecond: throughput,
    ratios,
    rounds: measured,
    reaction,
    targets: { 'p99(b)/p99(baseline)': P99_TARGET, 'throughput(b)/throughput(b idle)': THROUGHPUT_TARGET, met },
  }, null, 2)}\n`);
  console.log('wrote bench/load-results.json');
} finally {
  await load.stop();
  await pool.end();
  await embedded?.stop();
}
process.exit(0);

/** [second since `from`, transactions, p99 ms] for each second of [from, to). */
function perSecond(samples: Float64Array, from: number, to: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let t = from; t < to; t += 1000) {
    const s = latencyStats(samples, t, t + 1000);
    out.push([Math.round((t - from) / 1000), s.transactions, Math.round(s.p99Ms * 10) / 10]);
  }
  return out;
}

function fmt(seconds: number | null): string {
  return seconds === null ? 'n/a' : seconds.toFixed(2);
}

/**
 * Starts a run, waits for its first batches, then holds a query open in another session for `holdFor` seconds.
 * Held back: the first decision after the query started that is not a plain proceed. Resumed: the first batch
 * after the query ended.
 */
async function measureReaction(url: string): Promise<{ criticalSeconds: number; holdSeconds: number | null; resumeSeconds: number | null }> {
  const criticalSeconds = 2;
  const holdFor = 6;
  // Not makePool: that names every session as the backfill's own, which the probe leaves out.
  const other = handleSessionErrors(new pg.Pool({ connectionString: url, max: 1, application_name: 'bench-long-query' }));
  let queryStarted: number | undefined;
  let queryEnded: number | undefined;
  let heldBackAt: number | undefined;
  let resumedAt: number | undefined;
  let batches = 0;
  let longQuery: Promise<unknown> | undefined;
  try {
    await runChild('adaptive', url, {
      ...ADAPTIVE_INPUT,
      batch: { ...ADAPTIVE_INPUT.batch, maxSize: 20 },
      health: { ...ADAPTIVE_INPUT.health, longRunningQueries: { warningSeconds: criticalSeconds, criticalSeconds } },
    }, (event) => {
      if (event.type === 'batch' && ++batches === 3 && longQuery === undefined) {
        queryStarted = now();
        longQuery = other.query('SELECT pg_sleep($1)', [holdFor]).then(() => {
          queryEnded = now();
        });
      }
      // The child stamps each event when it happens, on the same clock (performance.timeOrigin is wall time).
      if (event.type === 'decision' && queryStarted !== undefined && event.at >= queryStarted && heldBackAt === undefined && event.action !== 'proceed') heldBackAt = event.at;
      if (event.type === 'batch' && queryEnded !== undefined && event.at >= queryEnded && resumedAt === undefined && (event.received ?? 0) > 0) resumedAt = event.at;
    });
    await longQuery;
  } finally {
    await other.end();
  }
  return {
    criticalSeconds,
    holdSeconds: queryStarted && heldBackAt ? (heldBackAt - queryStarted) / 1000 : null,
    resumeSeconds: queryEnded && resumedAt ? (resumedAt - queryEnded) / 1000 : null,
  };
}
