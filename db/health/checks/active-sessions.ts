import { setTimeout as sleep } from 'node:timers/promises';
import { verdictAbove } from '../../../core/health';
import { OTHER_CLIENTS, OWN_SESSIONS, type BuiltInCheck } from '../check';

/** Statements of other sessions running right now (gh-ost's and pt-online-schema-change's Threads_running). */
const SQL = `SELECT count(*)::int AS active FROM pg_stat_activity WHERE ${OTHER_CLIENTS} AND state = 'active'`;

/**
 * Samples this many times, this far apart, and keeps the median: one sample catches a burst as often as a trend.
 * The gap is short on purpose: the probe runs before every batch, and the timer, not the query, was most of its cost.
 */
export const ACTIVE_SAMPLES = 3;
const SAMPLE_GAP_MS = 1;

/**
 * How many statements of other sessions are running at once. When foreground work queues for CPU or I/O, each
 * statement takes longer, so more are in flight at any instant (Little's law): the count rises with foreground
 * latency, for any workload, without knowing the workload. Sampled between batches, it sees the foreground and
 * what the last batch left behind, not the batch itself.
 */
export const activeSessions: BuiltInCheck = {
  name: 'activeSessions',
  unit: 'sessions',
  async measure({ db, settings }) {
    const t = settings.activeSessions;
    const samples: number[] = [];
    for (let i = 0; i < ACTIVE_SAMPLES; i += 1) {
      if (i > 0) await sleep(SAMPLE_GAP_MS);
      const { rows } = await db.query<{ active: number }>(SQL, [OWN_SESSIONS]);
      samples.push(rows[0].active);
    }
    const median = [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)];
    return { value: median, verdict: verdictAbove(median, t.warningSessions, t.criticalSessions), detail: `samples ${samples.join(', ')}` };
  },
};
