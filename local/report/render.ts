import { describeStalled } from '../../core/lease';
import { healthChart, runCharts } from './charts';
import { escapeHtml, formatDuration, formatNumber, jsonForScript } from './format';
import { buildReportModel, type DecisionRow, type ReportModel, type ReportSource } from './model';
import { PAGE_STYLE } from './style';
import { renderChart } from './svg-chart';

export interface RenderOptions {
  /** When the page was made (ISO); shown in the footer. */
  readonly generatedAt: string;
}

/** The id of the <script type="application/json"> that holds the data the page was drawn from. */
export const REPORT_DATA_ID = 'backfill-report-data';

/**
 * One self-contained HTML page (inline CSS and SVG, no script to run, nothing fetched) that shows what the
 * controller did and why: summary, episodes, charts over time, every decision and batch. Pure.
 */
export function renderReport(source: ReportSource, options: RenderOptions): string {
  const model = buildReportModel(source);
  const { run } = model;
  const title = `Backfill run ${run.runId}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing may be fetched: the page must open offline, from a file, and stay as it was made.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeHtml(title)}</title>`,
    `<style>${PAGE_STYLE}</style>`,
    '</head><body><main>',
    `<header><h1>${escapeHtml(title)} <span class="status status-${run.stalledSince ? 'stalled' : escapeHtml(run.status)}">${run.stalledSince ? 'stalled' : escapeHtml(run.status)}</span></h1>`,
    `<p class="reason">${escapeHtml(run.stalledSince ? `${describeStalled(run.stalledSince)}: no processor works on this run (last recorded ${run.status}); start it again with the same run id${run.reason ? `. ${run.reason}` : ''}` : run.reason ?? '')}</p></header>`,
    summary(model),
    `<section id="episodes"><h2>What the controller did</h2><p class="note">Consecutive decisions with the same action and health verdict, as one line each. Times are since the run started (${escapeHtml(model.startedAt)}).</p>${episodesTable(model)}</section>`,
    `<section id="charts"><h2>Over time</h2><p class="note">Shaded: the health verdict was warning (yellow) or critical (red) from that decision to the next. Hover a point or bar for its value and reason.</p>${runCharts(model).map(renderChart).join('')}</section>`,
    `<section id="health"><h2>Health signals</h2><p class="note">Every check the probe reported, its value at each decision; dashed lines are its thresholds (the run's settings, with live knobs as they are now).</p>${model.health.length > 0 ? model.health.map((s) => renderChart(healthChart(s, model))).join('') : '<p>No health reports in this run.</p>'}</section>`,
    `<section id="decisions"><h2>Decisions</h2><details${model.decisions.length <= 60 ? ' open' : ''}><summary>All ${model.decisions.length} decisions</summary>${decisionsTable(model.decisions)}</details></section>`,
    `<section id="batches"><h2>Batches</h2><details><summary>All ${model.batches.length} batches</summary>${batchesTable(model)}</details></section>`,
    `<section id="settings"><h2>Settings</h2><details><summary>The run's settings and live knobs</summary><pre>${escapeHtml(JSON.stringify({ settings: run.settings, knobs: run.knobs }, null, 2))}</pre></details></section>`,
    `<footer>Made by adaptive-backfill at ${escapeHtml(options.generatedAt)} from the run's history in Postgres.</footer>`,
    `<script type="application/json" id="${REPORT_DATA_ID}">${jsonForScript(model)}</script>`,
    '</main></body></html>',
    '',
  ].join('\n');
}

function summary(model: ReportModel): string {
  const { run, totals } = model;
  const actions = Object.entries(model.actions).map(([action, n]) => `${action} ${n}`).join(', ') || 'none';
  const rows: Array<[string, string]> = [
    ['job', run.job],
    ['started', model.startedAt],
    ['ended', run.finishedAt ? model.endedAt : `${model.endedAt} (last entry; the run has not finished)`],
    ['duration', formatDuration(model.durationSeconds)],
    ['executions', String(run.executions.length)],
    ['items planned', run.plannedItems === null ? 'not planned' : formatNumber(run.plannedItems, 0)],
    ['items succeeded', formatNumber(totals.itemsSucceeded, 0)],
    ['items that failed at least once', formatNumber(totals.itemsFailed, 0)],
    ['items dead-lettered', formatNumber(totals.itemsDeadLettered, 0)],
    ['last error', totals.lastError ? `${totals.lastError.error} (item ${totals.lastError.dedupeKey ?? 'unknown'}; ${formatNumber(totals.lastError.items, 0)} items with this error)` : 'none'],
    ...(totals.itemsAtLeastOnce > 0 ? [['items done at least once', `${formatNumber(totals.itemsAtLeastOnce, 0)} (ok without ctx.withTransaction: at-least-once, not exactly once)`] as [string, string]] : []),
    ['rows affected', formatNumber(totals.rowsAffected, 0)],
    ['batches', formatNumber(model.batches.length, 0)],
    ['decisions', `${model.decisions.length} (${actions})`],
    ['waited', `backoff ${formatNumber(model.waited.backoff)}s, pause ${formatNumber(model.waited.pause)}s, pacing ${formatNumber(model.waited.pace)}s`],
  ];
  return `<section id="summary"><h2>Summary</h2><table class="summary"><tbody>${rows.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td data-field="${escapeHtml(k)}">${escapeHtml(v)}</td></tr>`).join('')}</tbody></table></section>`;
}

function episodesTable(model: ReportModel): string {
  if (model.episodes.length === 0) return '<p>No decisions in this run.</p>';
  const head = ['time', 'iterations', 'action', 'verdict', 'decisions', 'waited', 'batch size', 'reason'];
  const body = model.episodes.map((e) => {
    const iterations = e.fromIteration === e.toIteration ? String(e.fromIteration) : `${e.fromIteration}–${e.toIteration}`;
    const waited = [e.waitedSeconds > 0 ? `${formatNumber(e.waitedSeconds)}s` : '', e.pacedSeconds > 0 ? `paced ${formatNumber(e.pacedSeconds)}s` : ''].filter(Boolean).join(', ') || '–';
    const size = e.minBatchSize === e.maxBatchSize ? String(e.minBatchSize) : `${e.minBatchSize}–${e.maxBatchSize}`;
    const reason = e.firstReason === e.lastReason || e.decisions === 1 ? e.firstReason : `${e.firstReason} … last: ${e.lastReason}`;
    const time = e.from === e.to ? formatDuration(e.from) : `${formatDuration(e.from)}–${formatDuration(e.to)}`;
    return row([time, iterations, e.action, e.verdict, String(e.decisions), waited, size, reason], `action-${e.action} verdict-${e.verdict}`);
  });
  return table('episodes', head, body);
}

function decisionsTable(decisions: readonly DecisionRow[]): string {
  const head = ['#', 'time', 'action', 'verdict', 'batch size', 'wait', 'health', 'queue', 'reason'];
  const body = decisions.map((d) => {
    const wait = d.waitSeconds > 0 ? `${d.waitSeconds}s` : d.paceSeconds > 0 ? `pace ${d.paceSeconds}s` : '–';
    const health = d.checks.map((c) => `${c.name} ${formatNumber(c.value, 3)}${c.unit === 'seconds' ? 's' : ` ${c.unit}`}`).join(', ');
    const queue = d.queue ? `${d.queue.visible} + ${d.queue.inFlight}` : '–';
    return row([String(d.iteration), formatDuration(d.t), d.action, d.verdict, String(d.batchSize), wait, health, queue, d.reason], `action-${d.action} verdict-${d.verdict}`);
  });
  return table('decisions', head, body);
}

function batchesTable(model: ReportModel): string {
  const head = ['time', 'asked', 'received', 'succeeded', 'retried', 'dead-lettered', 'rows', 'seconds', 'batch id', 'latency'];
  const body = model.batches.map((b) => row([formatDuration(b.t), String(b.batchSize), String(b.received), String(b.succeeded), String(b.retried), String(b.deadLettered), formatNumber(b.rowsAffected, 0), formatNumber(b.durationMs / 1000, 3), b.batchId, b.latency ?? ''], b.deadLettered > 0 ? 'dead-lettered' : ''));
  return table('batches', head, body);
}

function table(id: string, head: readonly string[], body: readonly string[]): string {
  return `<table class="list" data-table="${id}"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

function row(cells: readonly string[], className: string): string {
  return `<tr${className ? ` class="${escapeHtml(className)}"` : ''}>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
}
