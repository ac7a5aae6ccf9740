import type { Verdict } from '../../../core/health';
import type { BuiltInCheck } from '../check';

/**
 * A canary: a statement with a small, fixed amount of CPU work, timed from here. A bare SELECT 1 barely notices a
 * busy CPU (the scheduler favours a waking process); a few milliseconds of work stretch with the CPU share the
 * backend gets, as foreground statements do.
 */
export const CANARY_SQL = 'SELECT sum(g) FROM (SELECT generate_series(1, 20000) AS g) AS s';
/** How many recent probes the baseline remembers; a slowdown that lasts this long becomes the new normal. */
export const BASELINE_WINDOW = 30;

interface LatencyMemory {
  readonly recent: readonly number[];
}

/**
 * The canary's median round trip now, as a multiple of the best median of the recent probes (the baseline kept
 * in the probe's memory). Relative, so one setting fits a laptop and a cross-AZ RDS connection. Off by default:
 * on a shared machine other tenants' load moves it too.
 */
export const probeLatency: BuiltInCheck = {
  name: 'probeLatency',
  unit: 'x best',
  async measure({ db, settings, previous }) {
    const t = settings.probeLatency;
    const times: number[] = [];
    for (let i = 0; i < t.samples; i += 1) {
      const started = process.hrtime.bigint();
      await db.query(CANARY_SQL);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    const median = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
    const recent = Array.isArray((previous as LatencyMemory | undefined)?.recent) ? (previous as LatencyMemory).recent.filter((n) => typeof n === 'number' && n > 0) : [];
    const memory: LatencyMemory = { recent: [...recent, round(median)].slice(-BASELINE_WINDOW) };
    if (recent.length === 0) return { value: 1, verdict: 'ok', detail: `median ${round(median)} ms; first probe, learning the baseline`, memory };
    const best = Math.min(...recent);
    const ratio = median / best;
    const extra = median - best;
    const verdict: Verdict = extra < t.minExtraMs ? 'ok' : ratio >= t.criticalRatio ? 'critical' : ratio >= t.warningRatio ? 'warning' : 'ok';
    return { value: round(ratio), verdict, detail: `median ${round(median)} ms, best of the last ${recent.length} probes ${best} ms`, memory };
  },
};

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
