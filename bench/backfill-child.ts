// Runs one backfill variant in its own process, for the load benchmark: started under `nice`, so the control plane
// (the embedded runtime's interpreter, local SQS, JSON) does not take CPU from Postgres. On AWS that work runs in
// Step Functions, Lambda and SQS, not on the database host. Prints JSON lines: {"ready"} once the process is up,
// {"event"} while running (the run's decisions and batches, with times on the shared clock), then {"result"}.
import '../cli/sdk-node-warning';
import { makePool } from '../db/pool';
import { adaptive, handBatched } from './variants';

const [variant, databaseUrl, inputJson = '{}'] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

// Node and tsx are up: the measured window starts here, for both variants.
print({ ready: now() });
if (variant === 'hand') {
  const pool = makePool({ connectionString: databaseUrl, max: 2 });
  try {
    print({ result: await handBatched(pool) });
  } finally {
    await pool.end();
  }
} else if (variant === 'adaptive') {
  const input = JSON.parse(inputJson);
  const result = await adaptive(databaseUrl, input.chunkSize ?? 1000, new URL('../jobs/demo.ts', import.meta.url).pathname, input, (event) => {
    if (event.type === 'decision') print({ event: { type: 'decision', at: now(), action: event.control.action, reason: event.control.reason, batchSize: event.control.batchSize, paceSeconds: event.control.paceSeconds } });
    if (event.type === 'batch') print({ event: { type: 'batch', at: now(), received: event.stats.received, durationMs: event.stats.durationMs } });
  });
  print({ result });
} else {
  throw new Error(`variant must be hand or adaptive; got ${variant}`);
}
process.exit(0);
