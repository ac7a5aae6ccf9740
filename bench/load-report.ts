// The load benchmark's numbers: per variant and load, p50/p99 over the backfill's window, p99 per 5 s window, rows/s
// and the fraction of its idle rows/s (medians over rounds, with min-max spreads); and the frontier table.
import { latencyStats } from './latency';
import type { Variant } from './load-variants';

export const WINDOW_MS = 5000;

export interface VariantRun {
  readonly key: string;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  readonly loadAverage: number;
}

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface VariantSummary {
  readonly variant: string;
  readonly rounds: number;
  readonly seconds: Spread;
  readonly rowsPerSecond: Spread;
  /** rows/s under this load / rows/s of the same variant on the idle database. */
  readonly fractionOfIdle: Spread;
  readonly p50Ms: Spread;
  readonly p99Ms: Spread;
  /** p99 over the backfill's window / the baseline's p99 (no backfill, same load). */
  readonly p99Ratio: Spread;
  /** Per budget: the share of the backfill's 5 s windows whose p99 is within budget x baseline p99. */
  readonly windowsWithin: Record<string, Spread>;
  /** p99 (ms) of each 5 s window of the backfill, per round. */
  readonly p99PerWindow: number[][];
  readonly loadAverage: Spread;
}

export interface LoadSummary {
  readonly fraction: number;
  readonly tps: number;
  readonly baseline: { readonly p50Ms: Spread; readonly p99Ms: Spread; readonly tps: Spread; readonly loadAverage: Spread };
  readonly variants: VariantSummary[];
  readonly table: string;
}

function spread(xs: number[]): Spread {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN };
  return { median: round(s[Math.floor(s.length / 2)]), min: round(s[0]), max: round(s.at(-1)!) };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** p99 of each 5 s window of [from, to); a last partial window counts when it is at least half a window. */
export function windowP99s(samples: Float64Array, from: number, to: number): number[] {
  const out: number[] = [];
  for (let t = from; t < to; t += WINDOW_MS) {
    const end = Math.min(to, t + WINDOW_MS);
    if (end - t < WINDOW_MS / 2 && out.length > 0) break;
    out.push(round(latencyStats(samples, t, end).p99Ms));
  }
  return out;
}

export function summarize(input: {
  fraction: number;
  tps: number;
  samples: Float64Array;
  baselines: ReadonlyArray<{ from: number; to: number; loadAverage: number }>;
  runs: ReadonlyArray<{ variant: string; round: number; from: number; to: number; seconds: number; rows: number; loadAverage: number }>;
  idle: Record<string, VariantRun>;
  budgets: readonly number[];
  variants: readonly string[];
}): LoadSummary {
  const base = input.baselines.map((b) => latencyStats(input.samples, b.from, b.to));
  const baselineP99 = spread(base.map((b) => b.p99Ms)).median;
  const variants = input.variants.map((key): VariantSummary => {
    const runs = input.runs.filter((r) => r.variant === key);
    const stats = runs.map((r) => latencyStats(input.samples, r.from, r.to));
    const windows = runs.map((r) => windowP99s(input.samples, r.from, r.to));
    const rps = runs.map((r) => r.rows / r.seconds);
    return {
      variant: key,
      rounds: runs.length,
      seconds: spread(runs.map((r) => r.seconds)),
      rowsPerSecond: spread(rps),
      fractionOfIdle: spread(rps.map((x) => x / input.idle[key].rowsPerSecond)),
      p50Ms: spread(stats.map((s) => s.p50Ms)),
      p99Ms: spread(stats.map((s) => s.p99Ms)),
      p99Ratio: spread(stats.map((s) => s.p99Ms / baselineP99)),
      windowsWithin: Object.fromEntries(input.budgets.map((b) => [`${b}x`, spread(windows.map((w) => w.filter((p) => p <= b * baselineP99).length / Math.max(1, w.length)))])),
      p99PerWindow: windows,
      loadAverage: spread(runs.map((r) => r.loadAverage)),
    };
  });
  const baseline = {
    p50Ms: spread(base.map((b) => b.p50Ms)),
    p99Ms: spread(base.map((b) => b.p99Ms)),
    tps: spread(base.map((b) => b.tps)),
    loadAverage: spread(input.baselines.map((b) => b.loadAverage)),
  };
  const lines = [
    `\nload ${input.fraction * 100}% (${input.tps} tps): baseline p50 ${baseline.p50Ms.median} ms, p99 ${baseline.p99Ms.median} ms (${baseline.p99Ms.min}-${baseline.p99Ms.max}), ${Math.round(baseline.tps.median)} tps`,
    `${'variant'.padEnd(16)} ${'seconds'.padStart(8)} ${'rows/s'.padStart(9)} ${'of idle'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'p99 x'.padStart(6)}  ${input.budgets.map((b) => `${b}x win`.padStart(8)).join(' ')}  spread p99 x`,
    ...variants.map((v) => `${v.variant.padEnd(16)} ${v.seconds.median.toFixed(1).padStart(8)} ${Math.round(v.rowsPerSecond.median).toLocaleString('en-US').padStart(9)} ${v.fractionOfIdle.median.toFixed(2).padStart(8)} ${v.p50Ms.median.toFixed(1).padStart(7)} ${v.p99Ms.median.toFixed(1).padStart(7)} ${v.p99Ratio.median.toFixed(2).padStart(6)}  ${input.budgets.map((b) => `${Math.round(v.windowsWithin[`${b}x`].median * 100)}%`.padStart(8)).join(' ')}  ${v.p99Ratio.min.toFixed(2)}-${v.p99Ratio.max.toFixed(2)}`),
  ];
  return { fraction: input.fraction, tps: input.tps, baseline, variants, table: lines.join('\n') };
}

export interface FrontierRow {
  readonly load: number;
  readonly budget: number;
  /** The fastest fixed-pause loop whose p99 (median over rounds) stays within budget x baseline, if any. */
  readonly bestLoop: { readonly variant: string; readonly rowsPerSecond: number; readonly p99Ratio: number } | null;
  readonly adaptive: { readonly variant: string; readonly rowsPerSecond: number; readonly p99Ratio: number; readonly windowsWithin: number; readonly meetsBudget: boolean } | null;
  /** adaptive rows/s / best loop rows/s (null without a loop that meets the budget). */
  readonly speedup: number | null;
}

export function frontier(loads: readonly LoadSummary[], budgets: readonly number[], variants: readonly Variant[]): { rows: FrontierRow[]; text: string } {
  const rows: FrontierRow[] = [];
  for (const load of loads) {
    for (const budget of budgets) {
      const loops = load.variants.filter((v) => variants.find((x) => x.key === v.variant)?.kind === 'loop' && v.p99Ratio.median <= budget);
      const best = loops.reduce<VariantSummary | undefined>((a, v) => (!a || v.rowsPerSecond.median > a.rowsPerSecond.median ? v : a), undefined);
      const a = load.variants.find((v) => v.variant === `adaptive-${budget}x`);
      const adaptive = a ? { variant: a.variant, rowsPerSecond: a.rowsPerSecond.median, p99Ratio: a.p99Ratio.median, windowsWithin: a.windowsWithin[`${budget}x`].median, meetsBudget: a.p99Ratio.median <= budget } : null;
      rows.push({
        load: load.fraction,
        budget,
        bestLoop: best ? { variant: best.variant, rowsPerSecond: best.rowsPerSecond.median, p99Ratio: best.p99Ratio.median } : null,
        adaptive,
        speedup: best && adaptive ? round(adaptive.rowsPerSecond / best.rowsPerSecond.median) : null,
      });
    }
  }
  const text = [
    'frontier: for each budget, the fastest fixed-pause loop within it, beside adaptive-backfill at that budget (medians)',
    `${'load'.padEnd(5)} ${'budget'.padEnd(7)} ${'best loop within budget'.padEnd(34)} ${'adaptive'.padEnd(40)} adaptive/loop`,
    ...rows.map((r) => `${`${r.load * 100}%`.padEnd(5)} ${`${r.budget}x`.padEnd(7)} ${(r.bestLoop ? `${r.bestLoop.variant} ${Math.round(r.bestLoop.rowsPerSecond).toLocaleString('en-US')} rows/s p99 ${r.bestLoop.p99Ratio.toFixed(2)}x` : 'none meets it').padEnd(34)} ${(r.adaptive ? `${Math.round(r.adaptive.rowsPerSecond).toLocaleString('en-US')} rows/s p99 ${r.adaptive.p99Ratio.toFixed(2)}x, ${Math.round(r.adaptive.windowsWithin * 100)}% of 5 s windows in` : '-').padEnd(40)} ${r.speedup === null ? '-' : r.speedup.toFixed(2)}`),
  ].join('\n');
  return { rows, text };
}
