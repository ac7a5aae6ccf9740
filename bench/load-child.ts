// Runs one backfill variant of the load benchmark in its own process (under `nice`, as the control plane runs off
// the database host on AWS). Prints JSON lines: {"ready"} once up, {"event"} while running, then {"result"}.
//   loop <url> <pauseMs> <rows per statement>: the hand-written loop, keyset over id, each UPDATE its own transaction
//   adaptive <url> <input JSON>: adaptive-backfill through the real local loop (runLocal), bench/bench-job.ts
import pg from 'pg';
import { loadJob } from '../local/load-job';
import { runLocal } from '../local/run-local';

const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  if (!String(warning).startsWith('NodeVersionSupportWarning')) (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

const [variant, url, arg = '{}', statementRows = '1000'] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

print({ ready: now() });
const started = now();
if (variant === 'loop') {
  const pauseMs = Number(arg);
  const client = new pg.Client({ connectionString: url, application_name: 'bench-hand-loop' });
  await client.connect();
  let lo = -1n;
  let statements = 0;
  let rows = 0;
  for (;;) {
    const next = await client.query<{ id: string }>('SELECT id::text FROM bench_items WHERE id > $1 ORDER BY id OFFSET $2 LIMIT 1', [lo.toString(), Number(statementRows) - 1]);
    const hi = next.rows[0]?.id;
    const r = await client.query(`UPDATE bench_items SET touched = touched + 1, norm = lower(label) WHERE id > $1${hi === undefined ? '' : ' AND id <= $2'}`, hi === undefined ? [lo.toString()] : [lo.toString(), hi]);
    rows += r.rowCount ?? 0;
    statements += 1;
    if (hi === undefined) break;
    lo = BigInt(hi);
    if (pauseMs > 0) await sleep(pauseMs);
  }
  await client.end();
  print({ result: { seconds: (now() - started) / 1000, rows, statements } });
} else if (variant === 'adaptive') {
  const input = JSON.parse(arg);
  const loaded = await loadJob(new URL('./bench-job.ts', import.meta.url).pathname);
  let rows = 0;
  const summary = await runLocal({
    job: loaded.job,
    jobPath: loaded.path,
    databaseUrl: url,
    input,
    onEvent: (event) => {
      // The backfill's window starts once the run is planned (before: synthesizing the app and starting the local queues).
      if (event.type === 'planned') print({ started: now() });
      if (event.type === 'decision') print({ event: { type: 'decision', at: now(), action: event.control.action, reason: event.control.reason } });
      if (event.type === 'batch') {
        rows += event.stats.rowsAffected;
        const l = event.stats.latency;
        print({ event: { type: 'batch', at: now(), received: event.stats.received, durationMs: event.stats.durationMs, ...(l ? { duty: l.state.duty, pauseMs: l.state.pauseMs, u: l.state.u, reason: l.state.reason, baselineMs: l.state.baselineMs, ...(l.stopped ? { stoppedAt: Date.parse(l.stopped.at ?? ''), stopped: l.stopped.reason } : {}) } : {}) } });
      }
    },
  });
  if (summary.status !== 'succeeded') throw new Error(`adaptive run ${summary.status}: ${summary.reason}`);
  print({ result: { seconds: (now() - started) / 1000, rows, batches: summary.batches } });
} else {
  throw new Error(`variant must be loop or adaptive; got ${variant}`);
}
process.exit(0);
