import type { Verdict } from '../../../core/health';
import type { BuiltInCheck } from '../check';
import { canaryCommit } from '../../latency/canary';

/** How many recent probes the baseline remembers; a slowdown that lasts this long becomes the new normal. */
export const COMMIT_BASELINE_WINDOW = 30;

interface CommitMemory {
  readonly recent: readonly number[];
}

/**
 * The commit-latency canary (db/latency/canary.ts) between batches: the median of a few synchronous one-row commits
 * on the heartbeat table, as a multiple of the best median of the recent probes. It sees what the WAL flush and the
 * CPU do to every commit, on any Postgres. Off by default: inside a batch the sampler steers on the same canary
 * against the run's latency budget (latency.*), which is what keeps the foreground within it; this check adds a
 * verdict between batches for those who want one.
 */
export const commitLatency: BuiltInCheck = {
  name: 'commitLatency',
  unit: 'x best',
  async measure({ db, settings, previous, bookkeepingSchema }) {
    const t = settings.commitLatency;
    const times: number[] = [];
    for (let i = 0; i < t.samples; i += 1) times.push(await canaryCommit(db, bookkeepingSchema));
    const median = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
    const recent = Array.isArray((previous as CommitMemory | undefined)?.recent) ? (previous as CommitMemory).recent.filter((n) => typeof n === 'number' && n > 0) : [];
    const memory: CommitMemory = { recent: [...recent, round(median)].slice(-COMMIT_BASELINE_WINDOW) };
    if (recent.length === 0) return { value: 1, verdict: 'ok', detail: `commit ${round(median)} ms; first probe, learning the baseline`, memory };
    const best = Math.min(...recent);
    const ratio = median / best;
    const verdict: Verdict = median - best < t.minExtraMs ? 'ok' : ratio >= t.criticalRatio ? 'critical' : ratio >= t.warningRatio ? 'warning' : 'ok';
    return { value: round(ratio), verdict, detail: `commit ${round(median)} ms, best of the last ${recent.length} probes ${best} ms`, memory };
  },
};

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
