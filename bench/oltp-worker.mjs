// The synthetic OLTP load of the load benchmark, in a worker thread with its own event loop, so the backfill
// running in the main thread does not delay how its latencies are measured.
//
// N clients, each on its own connection, run one short read/write transaction at a time. Closed loop while
// calibrating; then open loop at a fixed rate per client, each latency measured from the transaction's
// scheduled start (so a stalled database shows up as latency, not as fewer samples).
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';

const { url, clients, accounts } = workerData;
const now = () => performance.timeOrigin + performance.now();
let mode = { kind: 'idle' };
const samples = []; // [scheduledStartMs, latencyMs] pairs, flattened
let stopping = false;

function transaction(id, other, delta) {
  // One round trip: values are integers generated here, never input.
  return `BEGIN;
    UPDATE bench_accounts SET balance = balance + ${delta} WHERE id = ${id};
    INSERT INTO bench_ledger (account, delta) VALUES (${id}, ${delta});
    SELECT sum(balance) FROM bench_accounts WHERE id BETWEEN ${other} AND ${other + 10};
    COMMIT`;
}

async function client() {
  const db = new pg.Client({ connectionString: url, application_name: 'bench-oltp' });
  await db.connect();
  let next = now();
  while (!stopping) {
    if (mode.kind === 'idle') {
      await new Promise((resolve) => setTimeout(resolve, 20));
      next = now();
      continue;
    }
    if (mode.kind === 'open') {
      const wait = next - now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    } else {
      next = now();
    }
    const scheduled = next;
    const id = 1 + Math.floor(Math.random() * accounts);
    await db.query(transaction(id, 1 + Math.floor(Math.random() * (accounts - 11)), 1 + Math.floor(Math.random() * 100)));
    samples.push(scheduled, now() - scheduled);
    if (mode.kind === 'open') next = scheduled + mode.intervalMs;
  }
  await db.end();
}

parentPort.on('message', (message) => {
  if (message.cmd === 'mode') mode = message.mode;
  if (message.cmd === 'drain') {
    // Hand over what was recorded so far and start a fresh buffer.
    parentPort.postMessage({ samples: Float64Array.from(samples) });
    samples.length = 0;
  }
  if (message.cmd === 'stop') stopping = true;
});

await Promise.all(Array.from({ length: clients }, () => client()));
parentPort.postMessage({ stopped: true });
