// Benchmark: planning time and rows/s over key types, as ratios to a bigint key, measured in the same run.
// npm run bench -- keys [--rows N] [--rounds K] [--chunk-size C]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import type { JobDefinition } from '../core/job';
import { assertPlannableSource, planRanges, type RangeForm } from '../db/planner';
import { makePool } from '../db/pool';
import { startEmbeddedPostgres } from '../local/embedded-postgres';
import { localEnv } from '../local/env';
import { runLocal } from '../local/run-local';

const ROOT = join(import.meta.dirname, '..');
const TARGET = 1.3;

const { values } = parseArgs({
  args: process.argv.slice(3),
  options: { rows: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '3' }, 'chunk-size': { type: 'string', default: '1000' } },
});
const rows = Number(values.rows);
const rounds = Number(values.rounds);
const chunkSize = Number(values['chunk-size']);
if (!Number.isInteger(rows) || rows < 10_000) throw new Error(`--rows must be an integer >= 10000; got ${values.rows}`);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) throw new Error(`--rounds must be an integer from 1 to 10; got ${values.rounds}`);
if (!Number.isInteger(chunkSize) || chunkSize < 100) throw new Error(`--chunk-size must be an integer >= 100; got ${values['chunk-size']}`);

interface Variant {
  readonly label: string;
  readonly table: string;
  readonly key: string | string[];
  readonly form: RangeForm;
  readonly sql: string;
  /** Creates the table with `rows` rows and n = 0 (the job adds 1; every row must end at 1). */
  readonly create: string;
}

/** `ordered`: the heap written in key order (as after CLUSTER), which isolates the key's own cost from the heap's layout. */
const tables = (name: string, columns: string, select: string, ordered = false): string =>
  `DROP TABLE IF EXISTS ${name}; CREATE TABLE ${name} (${columns}, payload text NOT NULL, n int NOT NULL DEFAULT 0);
   INSERT INTO ${name} SELECT ${select}, md5(g::text) FROM generate_series(1, ${rows}) g${ordered ? ` ORDER BY ${select.split(', ').map((_, i) => i + 1).join(', ')}` : ''};`;

// Every variant runs the same statement shape through {{range}}; bigint-legacy is the first form ($1/$2), for reference.
const VARIANTS: Record<string, Variant> = {
  bigint: { label: 'bigint key, {{range}}', table: 'kb_bigint', key: ['id'], form: 'typed', sql: 'UPDATE kb_bigint SET n = n + 1 WHERE {{range}}',
    create: tables('kb_bigint', 'id bigint PRIMARY KEY', 'g * 7') },
  uuid: { label: 'uuid key (random v4, heap in insertion order)', table: 'kb_uuid', key: 'id', form: 'typed', sql: 'UPDATE kb_uuid SET n = n + 1 WHERE {{range}}',
    create: tables('kb_uuid', 'id uuid PRIMARY KEY', 'gen_random_uuid()') },
  'uuid-ordered': { label: 'uuid key, heap in key order', table: 'kb_uuid', key: 'id', form: 'typed', sql: 'UPDATE kb_uuid SET n = n + 1 WHERE {{range}}',
    create: tables('kb_uuid', 'id uuid PRIMARY KEY', 'gen_random_uuid()', true) },
  text: { label: 'text key (database default collation)', table: 'kb_text', key: 'code', form: 'typed', sql: 'UPDATE kb_text SET n = n + 1 WHERE {{range}}',
    create: tables('kb_text', 'code text PRIMARY KEY', `'user-' || md5(g::text)`) },
  composite: { label: '(tenant bigint, seq bigint), 1,000 tenants', table: 'kb_comp', key: ['tenant', 'seq'], form: 'typed', sql: 'UPDATE kb_comp SET n = n + 1 WHERE {{range}}',
    create: tables('kb_comp', 'tenant bigint NOT NULL, seq bigint NOT NULL, PRIMARY KEY (tenant, seq)', 'g % 1000, g / 1000') },
  'composite-ordered': { label: '(tenant bigint, seq bigint), heap in key order', table: 'kb_comp', key: ['tenant', 'seq'], form: 'typed', sql: 'UPDATE kb_comp SET n = n + 1 WHERE {{range}}',
    create: tables('kb_comp', 'tenant bigint NOT NULL, seq bigint NOT NULL, PRIMARY KEY (tenant, seq)', 'g % 1000, g / 1000', true) },
  'bigint-legacy': { label: 'bigint key, $1/$2 (the first form)', table: 'kb_bigint', key: 'id', form: 'integer', sql: 'UPDATE kb_bigint SET n = n + 1 WHERE id >= $1 AND id < $2',
    create: tables('kb_bigint', 'id bigint PRIMARY KEY', 'g * 7') },
};

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function planSeconds(pool: pg.Pool, variant: Variant): Promise<{ seconds: number; ranges: number }> {
  const source = { table: variant.table, key: variant.key };
  const started = performance.now();
  const columns = await assertPlannableSource(pool, source);
  let ranges = 0;
  for await (const _ of planRanges(pool, source, columns, chunkSize, variant.form)) ranges += 1;
  return { seconds: (performance.now() - started) / 1000, ranges };
}

async function loopSeconds(databaseUrl: string, variant: Variant, runId: string): Promise<number> {
  const job: JobDefinition = { name: `bench-${variant.table}`, source: { table: variant.table, key: variant.key }, sql: variant.sql };
  let plannedAt = 0;
  const summary = await runLocal({
    job, jobPath: join(ROOT, 'bench', 'keys.ts'), databaseUrl, input: { runId, chunkSize },
    onEvent: (event) => {
      if (event.type === 'planned') plannedAt = performance.now();
    },
  });
  const finished = performance.now();
  if (summary.status !== 'succeeded' || summary.rowsAffected !== rows) throw new Error(`${variant.table}: ${summary.status} ${summary.reason ?? ''}, ${summary.rowsAffected} rows`);
  return (finished - plannedAt) / 1000;
}

const embedded = localEnv.databaseUrl ? undefined : await startEmbeddedPostgres();
const databaseUrl = localEnv.databaseUrl ?? embedded!.url;
const pool = makePool({ connectionString: databaseUrl, max: 2 });
try {
  const version = (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v;
  const names = Object.keys(VARIANTS);
  const measured: Record<string, { plan: number[]; loop: number[]; rowsPerSecond: number[]; ranges: number }> = Object.fromEntries(names.map((n) => [n, { plan: [], loop: [], rowsPerSecond: [], ranges: 0 }]));
  for (let round = 0; round < rounds; round += 1) {
    // The order rotates every round, so drift on the shared machine spreads over all variants.
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) {
      const variant = VARIANTS[name];
      await pool.query(variant.create);
      await pool.query(`VACUUM ANALYZE ${variant.table}`);
      await pool.query('CHECKPOINT');
      const plan = await planSeconds(pool, variant);
      const loop = await loopSeconds(databaseUrl, variant, `bench-keys-${name}-${round}-${Date.now()}`);
      const { rows: check } = await pool.query<{ wrong: string }>(`SELECT count(*) FILTER (WHERE n <> 1) AS wrong FROM ${variant.table}`);
      if (Number(check[0].wrong) !== 0) throw new Error(`${name}: ${check[0].wrong} rows not changed exactly once`);
      const m = measured[name];
      m.plan.push(plan.seconds);
      m.loop.push(loop);
      m.rowsPerSecond.push(rows / loop);
      m.ranges = plan.ranges;
      console.log(`round ${round + 1} ${name.padEnd(13)} plan ${plan.seconds.toFixed(3)} s (${plan.ranges} ranges), loop ${loop.toFixed(2)} s, ${Math.round(rows / loop)} rows/s`);
    }
  }
  const summary = Object.fromEntries(names.map((name) => {
    const m = measured[name];
    return [name, {
      label: VARIANTS[name].label,
      ranges: m.ranges,
      planSeconds: { median: median(m.plan), min: Math.min(...m.plan), max: Math.max(...m.plan), runs: m.plan },
      rowsPerSecond: { median: median(m.rowsPerSecond), min: Math.min(...m.rowsPerSecond), max: Math.max(...m.rowsPerSecond), runs: m.rowsPerSecond },
    }];
  }));
  const base = summary.bigint;
  // Ratios as "times slower than bigint": planning time / bigint's, and bigint's rows/s / this one's (1.0 = as fast);
  // of the medians, and the median (min, max) of the ratios within each round (the load on a shared machine drifts
  // between rounds; bigint-legacy does the same work as bigint, so its spread is the noise).
  const perRound = (xs: readonly number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs });
  const ratios = Object.fromEntries(names.filter((n) => n !== 'bigint').map((name) => [name, {
    plan: summary[name].planSeconds.median / base.planSeconds.median,
    loop: base.rowsPerSecond.median / summary[name].rowsPerSecond.median,
    planPerRound: perRound(measured[name].plan.map((x, i) => x / measured.bigint.plan[i])),
    loopPerRound: perRound(measured[name].rowsPerSecond.map((x, i) => measured.bigint.rowsPerSecond[i] / x)),
  }]));
  console.log(`\n${rows.toLocaleString('en-US')} rows, chunkSize ${chunkSize}, median of ${rounds}; Postgres ${version}; shared machine`);
  const spread = (r: { median: number; min: number; max: number }) => `${r.median.toFixed(2)} (${r.min.toFixed(2)}-${r.max.toFixed(2)})`;
  for (const [name, r] of Object.entries(ratios)) {
    console.log(`${name.padEnd(17)} planning ${r.plan.toFixed(2)}x bigint, loop ${r.loop.toFixed(2)}x bigint (time); within rounds: planning ${spread(r.planPerRound)}, loop ${spread(r.loopPerRound)}`);
  }
  const met = ['uuid', 'composite'].every((n) => ratios[n].loop <= TARGET);
  const metOrdered = ['uuid-ordered', 'composite-ordered'].every((n) => ratios[n].loop <= TARGET);
  console.log(`target: uuid and composite loops <= ${TARGET}x bigint: ${met ? 'PASS' : 'MISS'}; with the heap in key order: ${metOrdered ? 'PASS' : 'MISS'}`);
  writeFileSync(join(ROOT, 'bench', 'keys-results.json'), `${JSON.stringify({
    benchmark: 'keys',
    date: new Date().toISOString(),
    rows,
    rounds,
    chunkSize,
    node: process.version,
    postgres: version,
    database: embedded ? 'embedded' : 'DATABASE_URL',
    note: 'shared machine (2 cores, other sessions running); ratios are measured within this run',
    variants: summary,
    ratios,
    target: { 'uuid and composite loop / bigint': TARGET, met, metWithHeapInKeyOrder: metOrdered },
  }, null, 2)}\n`);
  console.log('wrote bench/keys-results.json');
} finally {
  await pool.end();
  await embedded?.stop();
}
