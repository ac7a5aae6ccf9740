import type { Verdict } from '../../core/health';
import type { HistoryEntry } from '../../db/history';
import type { ReportRun, ReportSource } from '../../db/report-source';
import type { RunTotals } from '../../db/totals';

export type { ReportRun, ReportSource };

/** A point in time, as seconds since the run started. */
export interface SeriesPoint {
  readonly t: number;
  readonly v: number;
}

export interface CheckValue {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly verdict: Verdict;
  readonly detail?: string;
}

export interface DecisionRow {
  readonly iteration: number;
  readonly t: number;
  readonly at: string;
  readonly action: string;
  readonly verdict: Verdict;
  readonly batchSize: number;
  readonly waitSeconds: number;
  readonly paceSeconds: number;
  readonly reason: string;
  readonly checks: readonly CheckValue[];
  /** Work queue depth after the batch before this decision, when there was one. */
  readonly queue?: { readonly visible: number; readonly inFlight: number };
}

export interface BatchRow {
  readonly t: number;
  readonly at: string;
  readonly batchId: string;
  readonly batchSize: number;
  readonly received: number;
  readonly succeeded: number;
  readonly retried: number;
  readonly deadLettered: number;
  readonly rowsAffected: number;
  readonly durationMs: number;
  /** The in-batch latency controller's last decision, with its signal, when the batch was steered. */
  readonly latency?: string;
}

export type WaitKind = 'backoff' | 'pause' | 'pace';

export interface Wait {
  readonly t: number;
  readonly iteration: number;
  readonly kind: WaitKind;
  /** As the controller decided it (a local run's --time-scale shortens the real wait). */
  readonly seconds: number;
  readonly reason: string;
}

export interface HealthSignal {
  readonly name: string;
  readonly unit: string;
  /** From the run's settings (health.<name>.warning*, critical*) with today's live knobs; absent when unknown. */
  readonly thresholds: { readonly warning?: number; readonly critical?: number };
  readonly points: ReadonlyArray<SeriesPoint & { readonly verdict: Verdict; readonly detail?: string }>;
}

/** A stretch of time over which the health report's verdict was warning or critical. */
export interface VerdictBand {
  readonly from: number;
  readonly to: number;
  readonly verdict: 'warning' | 'critical';
}

/** Consecutive decisions with the same action and verdict, told as one line. */
export interface Episode {
  readonly from: number;
  readonly to: number;
  readonly fromIteration: number;
  readonly toIteration: number;
  readonly action: string;
  readonly verdict: Verdict;
  readonly decisions: number;
  readonly waitedSeconds: number;
  readonly pacedSeconds: number;
  readonly minBatchSize: number;
  readonly maxBatchSize: number;
  readonly firstReason: string;
  readonly lastReason: string;
}

export interface ReportModel {
  readonly run: ReportRun;
  readonly totals: RunTotals;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationSeconds: number;
  /** Rows affected, summed over the batches: one point per batch. */
  readonly rowsDone: readonly SeriesPoint[];
  /** The batch size the controller chose: one point per decision. */
  readonly batchSizes: readonly SeriesPoint[];
  /** Items each batch received: one point per batch. */
  readonly received: readonly SeriesPoint[];
  /** Seconds each batch took: one point per batch. */
  readonly batchSeconds: readonly SeriesPoint[];
  readonly queueVisible: readonly SeriesPoint[];
  readonly queueInFlight: readonly SeriesPoint[];
  readonly waits: readonly Wait[];
  readonly health: readonly HealthSignal[];
  readonly bands: readonly VerdictBand[];
  readonly decisions: readonly DecisionRow[];
  readonly batches: readonly BatchRow[];
  readonly episodes: readonly Episode[];
  readonly actions: Readonly<Record<string, number>>;
  readonly waited: Readonly<Record<WaitKind, number>>;
}

/** Turns a run's row, totals and history into the series, bands and tables the page shows. Pure. */
export function buildReportModel(source: ReportSource): ReportModel {
  const { run, totals, history } = source;
  // Loops, not Math.min(...): a long run's history has more entries than a call may take arguments.
  let startMs = Date.parse(run.createdAt);
  for (const e of history) startMs = Math.min(startMs, Date.parse(e.at));
  let endMs = run.finishedAt ? Math.max(startMs, Date.parse(run.finishedAt)) : startMs;
  for (const e of history) endMs = Math.max(endMs, Date.parse(e.at));
  const since = (at: string) => round3((Date.parse(at) - startMs) / 1000);
  const durationSeconds = round3((endMs - startMs) / 1000);

  const decisions = history.filter((e) => e.kind === 'decision').map((e) => toDecision(e, since(e.at)));
  const batches = history.filter((e) => e.kind === 'batch').map((e) => toBatch(e, since(e.at)));

  let rows = 0;
  const rowsDone = batches.map((b) => ({ t: b.t, v: (rows += b.rowsAffected) }));
  const waits = decisions.flatMap((d): Wait[] => {
    const kind: WaitKind | undefined = d.action === 'backoff' || d.action === 'pause' ? d.action : d.paceSeconds > 0 ? 'pace' : undefined;
    if (!kind) return [];
    return [{ t: d.t, iteration: d.iteration, kind, seconds: kind === 'pace' ? d.paceSeconds : d.waitSeconds, reason: d.reason }];
  });
  const withQueue = decisions.filter((d) => d.queue !== undefined);
  const actions: Record<string, number> = {};
  for (const d of decisions) actions[d.action] = (actions[d.action] ?? 0) + 1;
  const waited: Record<WaitKind, number> = { backoff: 0, pause: 0, pace: 0 };
  for (const w of waits) waited[w.kind] += w.seconds;

  return {
    run,
    totals,
    startedAt: new Date(startMs).toISOString(),
    endedAt: new Date(endMs).toISOString(),
    durationSeconds,
    rowsDone,
    batchSizes: decisions.map((d) => ({ t: d.t, v: d.batchSize })),
    received: batches.map((b) => ({ t: b.t, v: b.received })),
    batchSeconds: batches.map((b) => ({ t: b.t, v: b.durationMs / 1000 })),
    queueVisible: withQueue.map((d) => ({ t: d.t, v: d.queue!.visible })),
    queueInFlight: withQueue.map((d) => ({ t: d.t, v: d.queue!.inFlight })),
    waits,
    health: healthSignals(decisions, run),
    bands: verdictBands(decisions, durationSeconds),
    decisions,
    batches,
    episodes: episodes(decisions),
    actions,
    waited,
  };
}

function toDecision(entry: HistoryEntry, t: number): DecisionRow {
  const d = entry.data;
  const health = record(d.health);
  const checks = Array.isArray(health.checks) ? health.checks.map((c) => toCheck(record(c))) : [];
  const lastBatch = record(d.lastBatch);
  const queue = record(lastBatch.queue);
  return {
    iteration: num(d.iteration),
    t,
    at: entry.at,
    action: str(d.action, 'unknown'),
    verdict: verdict(health.verdict),
    batchSize: num(d.batchSize),
    waitSeconds: num(d.waitSeconds),
    paceSeconds: num(d.paceSeconds),
    reason: str(d.reason, ''),
    checks,
    ...('visible' in queue ? { queue: { visible: num(queue.visible), inFlight: num(queue.inFlight) } } : {}),
  };
}

function toCheck(c: Record<string, unknown>): CheckValue {
  return { name: str(c.name, 'check'), value: num(c.value), unit: str(c.unit, ''), verdict: verdict(c.verdict), ...(typeof c.detail === 'string' ? { detail: c.detail } : {}) };
}

function toBatch(entry: HistoryEntry, t: number): BatchRow {
  const b = entry.data;
  return {
    t,
    at: entry.at,
    batchId: str(b.batchId, ''),
    batchSize: num(b.batchSize),
    received: num(b.received),
    succeeded: num(b.succeeded),
    retried: num(b.retried),
    deadLettered: num(b.deadLettered),
    rowsAffected: num(b.rowsAffected),
    durationMs: num(b.durationMs),
    ...(typeof b.latency === 'object' && b.latency !== null ? { latency: describeBatchLatency(b.latency as Record<string, unknown>) } : {}),
  };
}

/** "duty 45%, paused 120 ms: slow down: commit latency ..." or "stopped, 12 handed back uncharged: lockWaits: ...". */
function describeBatchLatency(l: Record<string, unknown>): string {
  const stopped = l.stopped as { reason?: string; handedBack?: number } | undefined;
  if (stopped) return `stopped, ${num(stopped.handedBack)} handed back uncharged: ${str(stopped.reason, '')}`;
  return `duty ${Math.round(num(l.duty) * 100)}%, paused ${num(l.pausedMs)} ms: ${str(l.reason, '')}`;
}

/** One signal per check name, in the order checks first appear; whatever checks the reports hold. */
function healthSignals(decisions: readonly DecisionRow[], run: ReportRun): HealthSignal[] {
  const byName = new Map<string, { unit: string; points: Array<HealthSignal['points'][number]> }>();
  for (const d of decisions) {
    for (const c of d.checks) {
      const signal = byName.get(c.name) ?? { unit: c.unit, points: [] };
      byName.set(c.name, signal);
      signal.points.push({ t: d.t, v: c.value, verdict: c.verdict, ...(c.detail ? { detail: c.detail } : {}) });
    }
  }
  return [...byName].map(([name, s]) => ({ name, unit: s.unit, thresholds: thresholdsFor(run, name), points: s.points }));
}

/** health.<name> in the settings, live knobs on top: the first warning* and critical* numbers (warningSeconds, warningRatio...). */
function thresholdsFor(run: ReportRun, name: string): HealthSignal['thresholds'] {
  const fields = { ...record(record(run.settings.health)[name]), ...record(record(run.knobs.health)[name]) };
  const pick = (prefix: string) => Object.entries(fields).find(([key, value]) => key.startsWith(prefix) && typeof value === 'number')?.[1] as number | undefined;
  const warning = pick('warning');
  const critical = pick('critical');
  return { ...(warning !== undefined ? { warning } : {}), ...(critical !== undefined ? { critical } : {}) };
}

/** Each decision's verdict holds until the next decision (the last one until the run's end). */
function verdictBands(decisions: readonly DecisionRow[], end: number): VerdictBand[] {
  const bands: VerdictBand[] = [];
  decisions.forEach((d, i) => {
    if (d.verdict === 'ok') return;
    const to = decisions[i + 1]?.t ?? end;
    const last = bands.at(-1);
    if (last && last.verdict === d.verdict && last.to === d.t) bands[bands.length - 1] = { ...last, to };
    else bands.push({ from: d.t, to, verdict: d.verdict });
  });
  return bands;
}

function episodes(decisions: readonly DecisionRow[]): Episode[] {
  const out: Episode[] = [];
  for (const d of decisions) {
    const last = out.at(-1);
    const waited = d.action === 'proceed' ? 0 : d.waitSeconds;
    if (last && last.action === d.action && last.verdict === d.verdict) {
      out[out.length - 1] = {
        ...last,
        to: d.t,
        toIteration: d.iteration,
        decisions: last.decisions + 1,
        waitedSeconds: last.waitedSeconds + waited,
        pacedSeconds: last.pacedSeconds + d.paceSeconds,
        minBatchSize: Math.min(last.minBatchSize, d.batchSize),
        maxBatchSize: Math.max(last.maxBatchSize, d.batchSize),
        lastReason: d.reason,
      };
    } else {
      out.push({
        from: d.t, to: d.t, fromIteration: d.iteration, toIteration: d.iteration, action: d.action, verdict: d.verdict, decisions: 1,
        waitedSeconds: waited, pacedSeconds: d.paceSeconds, minBatchSize: d.batchSize, maxBatchSize: d.batchSize, firstReason: d.reason, lastReason: d.reason,
      });
    }
  }
  return out;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function str(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

function verdict(value: unknown): Verdict {
  return value === 'warning' || value === 'critical' ? value : 'ok';
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
