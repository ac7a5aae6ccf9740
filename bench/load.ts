// The load benchmark: what a backfill costs the foreground of a busy Postgres, and how fast it goes doing so.
// npm run bench -- load [--rows N] [--repeat K] [--loads 0.25,0.5,0.75] [--budgets 1.2,1.5,2] [--pauses 0,2,5,10,20,50]
//
// One Postgres (Debian's 15 when installed, else the embedded one; DATABASE_URL overrides), one run: pgbench's
// TPC-B-like script, 8 clients, open loop (-R) at each load (a fraction of the closed-loop capacity measured at the
// start), latency counted from the scheduled start (latency + schedule lag). Under each load, each variant backfills
// `touched = touched + 1, norm = lower(label)` on the same table with sparse keys (ids 11 apart): the hand loop
// (1,000-row UPDATEs) with fixed pauses (0 = the naive loop), and adaptive-backfill at each budget through the real
// local loop, each in a child process. See docs/benchmarks.md ("Load") for the method and the numbers.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { handleSessionErrors } from '../db/pool';
import { localEnv } from '../local/env';
import { measureReaction } from './load-reaction';
import { runChild, type Variant } from './load-variants';
import { frontier, summarize, type VariantRun } from './load-report';
import { startBenchServer } from './pg-server';
import { closedLoopTps, LATENCY_LIMIT_MS, OpenLoop, pgbenchInit } from './pgbench';

const ROOT = join(import.meta.dirname, '..');
const list = (s: string) => s.split(',').map(Number);
const { values } = parseArgs({
  args: process.argv.slice(3),
  options: {
    rows: { type: 'string', default: '909091' },
    repeat: { type: 'string', default: '3' },
    loads: { type: 'string', default: '0.25,0.5,0.75' },
    budgets: { type: 'string', default: '1.2,1.5,2' },
    pauses: { type: 'string', default: '0,2,5,10,20,50' },
    clients: { type: 'string', default: '8' },
    scale: { type: 'string', default: '10' },
    'baseline-seconds': { type: 'string', default: '8' },
    'chunk-size': { type: 'string', default: '1000' },
  },
});
const rows = Number(values.rows);
const repeat = Number(values.repeat);
const loads = list(values.loads);
const budgets = list(values.budgets);
const pauses = list(values.pauses);
const clients = Number(values.clients);
const baselineSeconds = Number(values['baseline-seconds']);
const chunkSize = Number(values['chunk-size']);
if (!Number.isInteger(rows) || rows < 10_000) throw new Error(`--rows must be an integer >= 10000; got ${values.rows}`);
if (!Number.isInteger(repeat) || repeat < 1 || repeat > 10) throw new Error(`--repeat must be an integer from 1 to 10; got ${values.repeat}`);
if (loads.some((l) => !(l > 0 && l < 1))) throw new Error(`--loads must be fractions of capacity in (0, 1); got ${values.loads}`);
if (budgets.some((b) => !(b >= 1.05 && b <= 100))) throw new Error(`--budgets must be factors from 1.05 to 100; got ${values.budgets}`);
if (pauses.some((p) => !(p >= 0 && p <= 10_000))) throw new Error(`--pauses must be milliseconds from 0 to 10000; got ${values.pauses}`);
if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new Error(`--chunk-size must be a positive integer; got ${values['chunk-size']}`);

const KEY_STEP = 11;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const load1 = () => Math.round(loadavg()[0] * 100) / 100;

const VARIANTS: Variant[] = [
  ...pauses.map((pauseMs): Variant => ({ key: pauseMs === 0 ? 'naive' : `pause-${pauseMs}ms`, kind: 'loop', pauseMs })),
  ...budgets.map((budget): Variant => ({ key: `adaptive-${budget}x`, kind: 'adaptive', budget })),
];

/** A fresh table for every variant: `rows` rows, ids KEY_STEP apart (sparse keys), nothing touched yet. */
async function resetTable(pool: pg.Pool): Promise<void> {
  await pool.query('DROP TABLE IF EXISTS bench_items');
  await pool.query('CREATE TABLE bench_items (id bigint PRIMARY KEY, label text NOT NULL, norm text, touched int NOT NULL DEFAULT 0)');
  await pool.query(`INSERT INTO bench_items (id, label) SELECT g * ${KEY_STEP}, 'Label-' || md5(g::text) FROM generate_series(1, $1::int) g`, [rows]);
  await pool.query('VACUUM ANALYZE bench_items');
}

/** A checkpoint, no vacuum running, a quiet second: a variant is not charged with what the one before left behind. */
async function settle(pool: pg.Pool): Promise<void> {
  await pool.query('CHECKPOINT');
  for (let waited = 0; waited < 120_000; waited += 250) {
    if ((await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_progress_vacuum')).rows[0].n === 0) break;
    await sleep(250);
  }
  await sleep(1000);
}

async function checkDone(pool: pg.Pool, key: string): Promise<void> {
  const { rows: r } = await pool.query<{ bad: number }>('SELECT count(*) FILTER (WHERE touched <> 1 OR norm IS DISTINCT FROM lower(label))::int AS bad FROM bench_items');
  if (r[0].bad !== 0) throw new Error(`${key} left ${r[0].bad} rows not changed exactly once`);
}

const server = await startBenchServer(localEnv.databaseUrl);
const pool = handleSessionErrors(new pg.Pool({ connectionString: server.url, max: 2, application_name: 'bench-admin' }));
try {
  const version = (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v;
  pgbenchInit(server.url, Number(values.scale));
  const startedAt = new Date().toISOString();
  console.log(`Postgres ${version} (${server.kind}); ${rows.toLocaleString('en-US')} rows, ids ${KEY_STEP} apart; load average ${load1()}`);

  // Idle: every variant's rows/s with no foreground load.
  const idle: Record<string, VariantRun> = {};
  for (const v of VARIANTS) {
    await resetTable(pool);
    await settle(pool);
    const r = await runChild(server.url, v, chunkSize);
    await checkDone(pool, v.key);
    idle[v.key] = { key: v.key, seconds: r.seconds, rowsPerSecond: r.rows / r.seconds, loadAverage: load1() };
    console.log(`idle ${v.key.padEnd(16)} ${r.seconds.toFixed(2).padStart(7)} s ${Math.round(r.rows / r.seconds).toLocaleString('en-US').padStart(9)} rows/s  (load ${load1()})`);
  }

  // Reaction to a lock on the job's table and to a long query, on an idle database (bench/load-reaction.ts).
  await resetTable(pool);
  await settle(pool);
  const reaction = await measureReaction(server.url, chunkSize, async () => { await resetTable(pool); await settle(pool); });
  console.log(`reaction: lock wait -> batch stopped ${reaction.lock.map((t) => `${t.ms} ms (${t.where})`).join(', ') || 'n/a'}; long query over its threshold -> stopped/held ${reaction.longQuery.map((t) => `${t.ms} ms (${t.where})`).join(', ') || 'n/a'}`);

  const capacity = closedLoopTps(server.url, clients, 10);
  console.log(`capacity: ${Math.round(capacity)} tps closed loop, ${clients} clients (load ${load1()})`);

  const perLoad: Array<ReturnType<typeof summarize> & { skippedTransactions: number; transactions: number }> = [];
  for (const fraction of loads) {
    const tps = Math.round(capacity * fraction);
    const loadGen = new OpenLoop(server.url, tps, clients);
    const baselines: Array<{ from: number; to: number; loadAverage: number }> = [];
    const runs: Array<{ variant: string; round: number; from: number; to: number; seconds: number; rows: number; loadAverage: number }> = [];
    await sleep(2000);
    for (let round = 0; round < repeat; round += 1) {
      const from = now();
      await sleep(baselineSeconds * 1000);
      baselines.push({ from, to: now(), loadAverage: load1() });
      for (const v of VARIANTS) {
        await resetTable(pool);
        await settle(pool);
        const r = await runChild(server.url, v, chunkSize);
        runs.push({ variant: v.key, round, ...r, loadAverage: load1() });
        await checkDone(pool, v.key);
        console.log(`load ${fraction} round ${round + 1} ${v.key.padEnd(16)} ${r.seconds.toFixed(2).padStart(7)} s  (load ${load1()})`);
      }
    }
    await sleep(5000);
    const samples = await loadGen.stop();
    const s = { ...summarize({ fraction, tps, samples, baselines, runs, idle, budgets, variants: VARIANTS.map((v) => v.key) }), skippedTransactions: loadGen.skipped, transactions: samples.length / 2 };
    perLoad.push(s);
    console.log(`${s.table}\n(${s.transactions} transactions logged, ${s.skippedTransactions} skipped by pgbench -L ${LATENCY_LIMIT_MS} ms, counted as ${LATENCY_LIMIT_MS} ms)`);
  }
  const table = frontier(perLoad, budgets, VARIANTS);
  console.log(`\n${table.text}`);
  writeFileSync(join(ROOT, 'bench', 'load-results.json'), `${JSON.stringify({
    benchmark: 'load-frontier',
    startedAt,
    finishedAt: new Date().toISOString(),
    postgres: version,
    server: server.kind,
    rows,
    keyStep: KEY_STEP,
    chunkSize,
    repeat,
    clients,
    capacityTps: capacity,
    idle,
    reaction,
    loads: perLoad.map(({ table: _t, ...rest }) => rest),
    frontier: table.rows,
    note: 'medians over rounds; p99 per 5 s window of the backfill; latency from the scheduled start (pgbench -R: latency + schedule lag)',
  }, null, 2)}\n`);
  console.log('wrote bench/load-results.json');
} finally {
  await pool.end();
  await server.stop();
}
process.exit(0);
