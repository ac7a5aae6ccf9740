// Reaction time: how long from a lock on the job's table (granted to another session) or a long query crossing its
// critical threshold, to the batch stopping (the sampler's verdict as the batch saw it) or the probe holding back.
// Trials run inside live adaptive runs (a trial every two batches); times on one clock.
import pg from 'pg';
import { adaptiveInput, runChild, type ChildEvent } from './load-variants';

const now = () => performance.timeOrigin + performance.now();
const TRIALS = 3;
const LONG_QUERY_CRITICAL_SECONDS = 1;

export interface Trial {
  readonly ms: number;
  /** mid-batch: the batch's sampler saw it and stopped the batch; between batches: the probe held the run back. */
  readonly where: 'mid-batch' | 'between batches';
}

export interface Reaction {
  /** From the lock granted to the batch stopped (or the probe backing off), per trial. */
  readonly lock: Trial[];
  /** From the long query crossing longRunningQueries.criticalSeconds to the batch stopped (or held back), per trial. */
  readonly longQuery: Trial[];
}

/** Runs one adaptive run and a trial every few batches: `start` begins the condition, returning when it counts from and how to end it. */
async function trials(url: string, chunkSize: number, extra: object, start: (other: pg.Client) => Promise<{ from: number; end: () => Promise<void> }>): Promise<Trial[]> {
  const other = new pg.Client({ connectionString: url, application_name: 'bench-reaction' });
  await other.connect();
  const out: Trial[] = [];
  let batchesSince = 0;
  let active: { from: number; end: () => Promise<void> } | undefined;
  let starting = false;
  const work: Array<Promise<void>> = [];
  try {
    await runChild(url, { key: 'reaction', kind: 'adaptive', budget: 1.5 }, chunkSize, adaptiveInput(1.5, chunkSize, extra), (event: ChildEvent) => {
      if (event.type === 'batch' && !active && !starting && out.length < TRIALS && ++batchesSince >= 2) {
        starting = true;
        work.push(start(other).then((a) => {
          active = a;
          starting = false;
        }));
        return;
      }
      if (!active) return;
      const reactedAt = event.type === 'batch' && event.stoppedAt !== undefined ? event.stoppedAt : event.type === 'decision' && event.action !== 'proceed' ? event.at : undefined;
      if (reactedAt === undefined || reactedAt < active.from) return;
      out.push({ ms: Math.round(reactedAt - active.from), where: event.type === 'batch' ? 'mid-batch' : 'between batches' });
      const ending = active;
      active = undefined;
      batchesSince = 0;
      work.push(ending.end());
    });
    await Promise.all(work);
    if (active) await (active as { end: () => Promise<void> }).end();
  } finally {
    await other.end();
  }
  return out;
}

export async function measureReaction(url: string, chunkSize: number, reset: () => Promise<void>): Promise<Reaction> {
  const lock = await trials(url, chunkSize, {}, async (other) => {
    await other.query('BEGIN');
    await other.query('LOCK TABLE bench_items IN ACCESS EXCLUSIVE MODE');
    return { from: now(), end: async () => { await other.query('COMMIT'); } };
  });
  await reset();
  const longQuery = await trials(url, chunkSize, { health: { longRunningQueries: { warningSeconds: 0.5, criticalSeconds: LONG_QUERY_CRITICAL_SECONDS } } }, async (other) => {
    const sent = now();
    const running = other.query('SELECT pg_sleep(3)');
    return { from: sent + LONG_QUERY_CRITICAL_SECONDS * 1000, end: async () => { await running; } };
  });
  return { lock, longQuery };
}
