// Benchmark v0: the cost of adaptive-backfill's safety on an idle database, against the two usual ways.
// npm run bench [-- --rows N --repeat K]
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  if (!String(warning).startsWith('NodeVersionSupportWarning')) (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

if (process.argv[2] === 'keys') {
  // npm run bench -- keys [...]: planning and rows/s over key types (bench/keys.ts).
  await import('./keys');
  process.exit(0);
}

if (process.argv[2] === 'load') {
  // npm run bench -- load [...]: the load benchmark (bench/load.ts) instead of the idle one.
  await import('./load');
  process.exit(0);
}

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makePool } from '../db/pool';
import { startEmbeddedPostgres } from '../local/embedded-postgres';
import { localEnv } from '../local/env';
import { adaptive, handBatched, remainingRows, resetTable, setBased, type Measured } from './variants';

const ROOT = join(import.meta.dirname, '..');
const TARGET = 1.25;

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, repeat: { type: 'string', default: '1' } } });
const rows = Number(values.rows);
const repeat = Number(values.repeat);
if (!Number.isInteger(rows) || rows < 1000) throw new Error(`--rows must be an integer >= 1000; got ${values.rows}`);
if (!Number.isInteger(repeat) || repeat < 1 || repeat > 10) throw new Error(`--repeat must be an integer from 1 to 10; got ${values.repeat}`);

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

const embedded = localEnv.databaseUrl ? undefined : await startEmbeddedPostgres();
const databaseUrl = localEnv.databaseUrl ?? embedded!.url;
const pool = makePool({ connectionString: databaseUrl, max: 2 });
try {
  const version = (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v;
  const variants: Array<[string, string, () => Promise<Measured>]> = [
    ['a', 'one set-based UPDATE', () => setBased(pool)],
    ['b', 'hand-written loop, 10,000-row statements, no checks', () => handBatched(pool)],
    ['b1k', 'hand-written loop, 1,000-row statements, no checks (c\'s statement size)', () => handBatched(pool, 1000)],
    ['c', 'adaptive-backfill, full local loop, chunkSize 1,000 (default)', () => adaptive(databaseUrl, 1000, join(ROOT, 'jobs', 'demo.ts'))],
    ['c2', 'adaptive-backfill, full local loop, chunkSize 10,000 (b\'s statement size)', () => adaptive(databaseUrl, 10_000, join(ROOT, 'jobs', 'demo.ts'))],
  ];
  const results: Record<string, { label: string; runs: Measured[]; seconds: number }> = {};
  for (const [key, label, run] of variants) {
    const runs: Measured[] = [];
    for (let i = 0; i < repeat; i += 1) {
      await resetTable(pool, rows);
      runs.push(await run());
      const left = await remainingRows(pool);
      if (left !== 0) throw new Error(`variant ${key} left ${left} rows not backfilled`);
    }
    results[key] = { label, runs, seconds: median(runs.map((r) => r.seconds)) };
    console.log(`${key.padEnd(3)} ${results[key].seconds.toFixed(2).padStart(7)} s  ${label}`);
  }
  const a = results.a.seconds;
  const b = results.b.seconds;
  const best = Math.min(a, b);
  const ratios = {
    'c/a': results.c.seconds / a,
    'c/b': results.c.seconds / b,
    'c/min(a,b)': results.c.seconds / best,
    'c2/min(a,b)': results.c2.seconds / best,
    // Like for like: the same statement size without queue, probes or bookkeeping.
    'c/b1k': results.c.seconds / results.b1k.seconds,
    'c2/b': results.c2.seconds / b,
  };
  console.log(`\n${rows.toLocaleString('en-US')} rows, median of ${repeat}; Postgres ${version}`);
  for (const [name, ratio] of Object.entries(ratios)) console.log(`${name.padEnd(12)} ${ratio.toFixed(2)}`);
  const detail = results.c.runs.at(-1)?.detail ?? {};
  console.log(`c: ${detail.setupAndPlanSeconds?.toFixed(2)} s synthesis + queues + planning, ${detail.loopSeconds?.toFixed(2)} s loop, ${detail.batches} batches`);
  const met = ratios['c/min(a,b)'] <= TARGET;
  console.log(`target c <= ${TARGET} x min(a, b): ${met ? 'PASS' : 'MISS'}`);
  writeFileSync(join(ROOT, 'bench', 'results.json'), `${JSON.stringify({
    benchmark: 'v0-idle',
    date: new Date().toISOString(),
    rows,
    repeat,
    node: process.version,
    postgres: version,
    database: embedded ? 'embedded' : 'DATABASE_URL',
    seconds: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.seconds])),
    runs: results,
    ratios,
    target: { 'c/min(a,b)': TARGET, met },
  }, null, 2)}\n`);
  console.log('wrote bench/results.json');
} finally {
  await pool.end();
  await embedded?.stop();
}
process.exit(0);
