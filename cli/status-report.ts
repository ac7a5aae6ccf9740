import type { LastError } from '../core/controller';
import type { HealthCheckResult } from '../core/health';
import { describeKnobs } from '../core/live-knobs';
import type { RunSettingsOverrides } from '../core/settings';
import type { BatchEntry, RunView } from '../db/controls';
import type { ItemCounts } from '../db/items';
import { describeStalled, leaseState, stalledSince, type Lease, type LeaseState } from '../db/lease';
import type { RunTotals } from '../db/totals';

/** Rate and ETA come from the batches of this last stretch of the run. */
export const RATE_WINDOW_SECONDS = 300;

export interface QueueView {
  /** 'sqs': asked SQS just now (AWS). 'last-batch': what the batch processor saw after the last batch (local). */
  readonly source: 'sqs' | 'last-batch';
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed?: number;
  /** Messages in the DLQ (SQS only: visible + in flight). */
  readonly deadLetters?: number;
  /** last-batch: when that batch's depth was read. */
  readonly at?: string;
}

export interface StatusReport {
  readonly runId: string;
  readonly job: string;
  readonly status: string;
  readonly reason: string | null;
  readonly progress: {
    readonly items: number;
    readonly done: number;
    readonly deadLettered: number;
    readonly outstanding: number;
    /** (done + dead-lettered) / items, in percent with one decimal; null before planning. */
    readonly percent: number | null;
    readonly rows: number;
  };
  /** The run's latest item failure, its item and how many items share that error; null when none failed. */
  readonly lastError: LastError | null;
  /** Items done at least once (a code job's ok without ctx.withTransaction), not exactly once. */
  readonly itemsAtLeastOnce: number;
  readonly rate: { readonly itemsPerSecond: number; readonly rowsPerSecond: number; readonly overSeconds: number } | null;
  /** Seconds to finish at the recent rate; null when the run is not moving (paused, finished, no rate yet). */
  readonly etaSeconds: number | null;
  readonly batchSize: number | null;
  readonly decision: { readonly action: string; readonly reason: string } | null;
  /** The in-batch latency controller's state after the last batch: duty cycle, pause, signal, baseline and why. */
  readonly latency?: { readonly duty: number; readonly pauseMs: number; readonly u: number; readonly zone: string; readonly signalMs: number; readonly baselineMs: number; readonly reason: string };
  readonly health: { readonly verdict: string; readonly probedAt: string; readonly notOk: readonly HealthCheckResult[] } | null;
  readonly queue: QueueView | null;
  /** Why the queue is missing, or how it was read. */
  readonly queueNote?: string;
  readonly paused: boolean;
  readonly abortRequested: boolean;
  readonly knobs: RunSettingsOverrides;
  readonly executions: {
    readonly count: number;
    readonly current: string | null;
    /** AWS: the current execution's status (DescribeExecution); local runs have none. */
    readonly currentStatus?: string;
    readonly consoleUrl?: string;
  };
  readonly updatedAt: string;
  readonly finishedAt: string | null;
  /** Who works on the run (its lease), or null for a run with no lease (started before leases existed). */
  readonly processor: { readonly holder: string; readonly heartbeatAt: string; readonly expiresAt: string; readonly state: LeaseState } | null;
  /** The last heartbeat of a run that has not finished but that no processor works on any more; else null. */
  readonly stalledSince: string | null;
}

export interface StatusInputs {
  readonly run: RunView;
  readonly totals: RunTotals;
  readonly items: ItemCounts;
  /** The latest batches, oldest first. */
  readonly batches: readonly BatchEntry[];
  readonly queue: QueueView | null;
  readonly queueNote?: string;
  readonly execution?: { readonly status?: string; readonly consoleUrl?: string };
  readonly lease?: Lease;
}

const MOVING = new Set(['running', 'backing-off']);

/** Items and rows per second over the batches of the last RATE_WINDOW_SECONDS, counting the first batch's own time. */
export function recentRate(batches: readonly BatchEntry[]): StatusReport['rate'] {
  const last = batches.at(-1);
  if (!last) return null;
  const end = Date.parse(last.at);
  const window = batches.filter((b) => Date.parse(b.at) >= end - RATE_WINDOW_SECONDS * 1000);
  const start = Date.parse(window[0].at) - window[0].durationMs;
  const seconds = (end - start) / 1000;
  if (seconds <= 0) return null;
  const items = window.reduce((n, b) => n + b.succeeded + b.deadLettered, 0);
  const rows = window.reduce((n, b) => n + b.rowsAffected, 0);
  return { itemsPerSecond: round(items / seconds, 2), rowsPerSecond: Math.round(rows / seconds), overSeconds: round(seconds, 1) };
}

export function makeStatusReport(inputs: StatusInputs): StatusReport {
  const { run, totals, items } = inputs;
  const total = Math.max(run.plannedItems ?? 0, items.recorded);
  const settled = items.done + items.dead;
  // Runs planned before items were recorded have fewer item rows than planned items.
  const outstanding = Math.max(items.outstanding, total - settled - items.purged);
  const rate = recentRate(inputs.batches);
  const stalled = stalledSince(inputs.lease, run.status);
  const moving = MOVING.has(run.status) && !run.paused && stalled === null;
  const current = run.executions.at(-1) ?? null;
  return {
    runId: run.runId,
    job: run.job,
    status: run.status,
    reason: run.reason,
    progress: {
      items: total,
      done: items.done,
      deadLettered: items.dead,
      outstanding,
      percent: run.plannedItems === null ? null : total === 0 ? 100 : round((100 * settled) / total, 1),
      rows: totals.rowsAffected,
    },
    lastError: totals.lastError,
    itemsAtLeastOnce: totals.itemsAtLeastOnce,
    rate,
    etaSeconds: moving && rate && rate.itemsPerSecond > 0 ? Math.ceil(outstanding / rate.itemsPerSecond) : null,
    batchSize: run.control?.batchSize ?? null,
    decision: run.control ? { action: run.control.action, reason: run.control.reason } : null,
    // Once a batch was steered (a SQL job with latency.enabled): the controller's last decision.
    ...(run.control?.latency && run.control.latency.seq >= 0 ? { latency: pickLatency(run.control.latency) } : {}),
    health: run.lastHealth ? { verdict: run.lastHealth.verdict, probedAt: run.lastHealth.probedAt, notOk: run.lastHealth.checks.filter((c) => c.verdict !== 'ok') } : null,
    queue: inputs.queue,
    ...(inputs.queueNote ? { queueNote: inputs.queueNote } : {}),
    paused: run.paused,
    abortRequested: run.abortRequested,
    knobs: run.knobs,
    executions: { count: run.executions.length, current, ...(inputs.execution?.status ? { currentStatus: inputs.execution.status } : {}), ...(inputs.execution?.consoleUrl ? { consoleUrl: inputs.execution.consoleUrl } : {}) },
    updatedAt: run.updatedAt,
    finishedAt: run.finishedAt,
    processor: inputs.lease ? { holder: inputs.lease.holder, heartbeatAt: inputs.lease.heartbeatAt, expiresAt: inputs.lease.expiresAt, state: leaseState(inputs.lease) } : null,
    stalledSince: stalled,
  };
}

function pickLatency(l: NonNullable<NonNullable<RunView['control']>['latency']>): NonNullable<StatusReport['latency']> {
  return { duty: l.duty, pauseMs: l.pauseMs, u: l.u, zone: l.zone, signalMs: l.signalMs, baselineMs: l.baselineMs, reason: l.reason };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const n = (value: number) => value.toLocaleString('en-US');

/** 75 -> "1m 15s", 7300 -> "2h 1m". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${Math.round(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86_400)}d ${Math.floor((seconds % 86_400) / 3600)}h`;
}

function describeCheck(c: HealthCheckResult): string {
  return `${c.verdict}: ${c.name} ${Math.round(c.value * 10) / 10}${c.unit === 'seconds' ? 's' : ` ${c.unit}`}${c.detail ? ` (${c.detail})` : ''}`;
}

/** The report for people: one labelled line per aspect. */
export function formatStatusReport(r: StatusReport): string {
  const p = r.progress;
  const lines: Array<[string, string]> = [];
  const state = r.stalledSince ? `${describeStalled(r.stalledSince)}; last recorded ${r.status}` : r.status;
  lines.push(['run', `${r.runId} · job ${r.job} · ${state}${r.reason ? ` (${r.reason})` : ''}`]);
  lines.push(['progress', `${p.percent === null ? 'not planned yet' : `${p.percent.toFixed(1)}%`} · ${n(p.done)} of ${n(p.items)} items done, ${n(p.deadLettered)} dead-lettered, ${n(p.outstanding)} to do · ${n(p.rows)} rows`]);
  if (r.lastError) lines.push(['last error', `${r.lastError.error} · item ${r.lastError.dedupeKey ?? 'unknown'} · ${n(r.lastError.items)} item${r.lastError.items === 1 ? '' : 's'} with this error`]);
  if (r.itemsAtLeastOnce > 0) lines.push(['semantics', `${n(r.itemsAtLeastOnce)} items done at least once (ok without ctx.withTransaction; see docs/reliability.md)`]);
  const eta = r.etaSeconds !== null ? ` · ETA ${formatDuration(r.etaSeconds)}` : r.paused ? ' · no ETA while paused' : '';
  lines.push(['rate', r.rate ? `${r.rate.itemsPerSecond} items/s · ${n(r.rate.rowsPerSecond)} rows/s (over the last ${formatDuration(r.rate.overSeconds)} of batches)${eta}` : 'no batch yet']);
  lines.push(['batch', r.batchSize === null ? 'no decision yet' : `${r.batchSize} items · last decision: ${r.decision!.action}: ${r.decision!.reason}`]);
  if (r.latency) lines.push(['latency', `duty ${Math.round(r.latency.duty * 100)}% · pause ${r.latency.pauseMs} ms · ${r.latency.reason}`]);
  lines.push(['health', r.health ? `${r.health.verdict} (probed ${r.health.probedAt})${r.health.notOk.map((c) => `\n${' '.repeat(12)}${describeCheck(c)}`).join('')}` : 'not probed yet']);
  const q = r.queue;
  const queue = !q
    ? 'unknown'
    : q.source === 'sqs'
      ? `SQS now: ${n(q.visible)} visible, ${n(q.inFlight)} in flight, ${n(q.delayed ?? 0)} delayed · DLQ ${n(q.deadLetters ?? 0)}`
      : `after the last batch (${q.at}): ${n(q.visible)} visible, ${n(q.inFlight)} in flight`;
  lines.push(['queue', `${queue} · items: ${n(p.outstanding)} to do, ${n(p.deadLettered)} in the DLQ${r.queueNote ? ` (${r.queueNote})` : ''}`]);
  lines.push(['controls', `${r.paused ? 'PAUSED (backfill resume to go on)' : 'not paused'} · ${r.abortRequested ? 'abort requested' : 'no abort requested'}`]);
  const knobs = describeKnobs(r.knobs);
  lines.push(['knobs', knobs.length > 0 ? knobs.join(' ') : 'none (the run\'s settings)']);
  const e = r.executions;
  lines.push(['executions', `${e.count}${e.current ? ` · current ${e.current}${e.currentStatus ? ` (${e.currentStatus})` : ''}` : ''}${e.consoleUrl ? `\n${' '.repeat(12)}${e.consoleUrl}` : ''}`]);
  if (r.processor) lines.push(['processor', describeProcessor(r)]);
  lines.push(['updated', `${r.updatedAt}${r.finishedAt ? ` · finished ${r.finishedAt}` : ''}`]);
  return lines.map(([label, text]) => `${label.padEnd(11)} ${text}`).join('\n');
}

/** The run's processor: who holds its lease and until when; for a stalled run, how to take it up again. */
function describeProcessor(r: StatusReport): string {
  const p = r.processor!;
  const held = `${p.holder} · last heartbeat ${p.heartbeatAt}`;
  if (p.state === 'live') return `${held} · lease until ${p.expiresAt}`;
  if (!r.stalledSince) return `${held} · ${p.state}`;
  const local = p.holder.startsWith('local:');
  const gone = p.state === 'gone' ? 'its process is gone' : p.state === 'released' ? 'it exited' : `its lease lapsed at ${p.expiresAt}`;
  const again = local ? `backfill run --local --job PATH --run-id ${r.runId}` : `backfill start --job ${r.job} --run-id ${r.runId}`;
  return `${held} · ${gone}: nothing works on this run; ${again} takes it up again`;
}

/** One line per run for `backfill status` without a run. */
export function formatRunList(rows: ReadonlyArray<{ readonly run: RunView; readonly items: ItemCounts; readonly stalled?: boolean }>): string {
  if (rows.length === 0) return 'no runs yet';
  const width = Math.max(...rows.map((r) => r.run.runId.length), 'RUN'.length);
  const header = `${'RUN'.padEnd(width)}  ${'STATUS'.padEnd(11)}  PROGRESS  UPDATED                   JOB`;
  return [
    header,
    ...rows.map(({ run, items, stalled }) => {
      const total = Math.max(run.plannedItems ?? 0, items.recorded);
      const percent = run.plannedItems === null ? '-' : `${(total === 0 ? 100 : (100 * (items.done + items.dead)) / total).toFixed(1)}%`;
      const status = stalled ? 'stalled' : run.paused && !['succeeded', 'failed', 'aborted'].includes(run.status) ? 'paused' : run.status;
      return `${run.runId.padEnd(width)}  ${status.padEnd(11)}  ${percent.padStart(8)}  ${run.updatedAt.padEnd(24)}  ${run.job}`;
    }),
  ].join('\n');
}
