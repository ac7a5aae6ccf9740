import { formatDuration, formatNumber, formatWithUnit, unitLabel } from './format';
import type { HealthSignal, ReportModel, WaitKind } from './model';
import { COLORS, type ChartSpec } from './svg-chart';

const WAIT_COLORS: Record<WaitKind, string> = { backoff: COLORS.critical, pause: COLORS.muted, pace: COLORS.primary };
const VERDICT_COLORS = { ok: COLORS.ok, warning: COLORS.warning, critical: COLORS.critical } as const;

/** The charts of the run, in page order: progress, batch size, batch duration, waits, queue depth. */
export function runCharts(model: ReportModel): ChartSpec[] {
  const { bands, durationSeconds: duration } = model;
  const at = (t: number) => formatDuration(t);
  const targetSeconds = Number((model.run.settings.batch as { targetSeconds?: unknown } | undefined)?.targetSeconds);
  const charts: ChartSpec[] = [
    {
      id: 'rows-done',
      title: 'Rows done',
      yTitle: 'rows (cumulative)',
      note: `${formatNumber(model.totals.rowsAffected, 0)} rows affected in ${model.batches.length} batches; one point per batch`,
      bands,
      duration,
      series: [{
        id: 'rows-done', label: 'rows done', color: COLORS.primary, style: 'line',
        points: model.rowsDone.map((p, i) => {
          const b = model.batches[i];
          return { ...p, tip: `${at(p.t)}: ${formatNumber(p.v, 0)} rows done (+${formatNumber(b.rowsAffected, 0)} by a batch of ${b.received} items in ${formatNumber(b.durationMs / 1000)}s)` };
        }),
      }],
    },
    {
      id: 'batch-size',
      title: 'Batch size',
      yTitle: 'work items',
      note: 'the size the controller chose at each decision, and the items each batch received',
      bands,
      duration,
      series: [
        { id: 'batch-size', label: 'chosen batch size', color: COLORS.primary, style: 'step', points: model.decisions.map((d) => ({ t: d.t, v: d.batchSize, tip: `iteration ${d.iteration} at ${at(d.t)}: batch size ${d.batchSize} (${d.action}: ${d.reason})` })) },
        { id: 'received', label: 'items received', color: COLORS.secondary, style: 'dots', points: model.batches.map((b) => ({ t: b.t, v: b.received, tip: `batch at ${at(b.t)}: received ${b.received} of ${b.batchSize} asked` })) },
      ],
    },
    {
      id: 'batch-duration',
      title: 'Batch duration',
      yTitle: 'seconds',
      note: 'the controller sizes batches toward the target duration',
      bands,
      duration,
      thresholds: Number.isFinite(targetSeconds) ? [{ label: `target ${formatNumber(targetSeconds)}s`, value: targetSeconds, color: COLORS.ok }] : [],
      series: [{ id: 'batch-duration', label: 'batch duration', color: COLORS.primary, style: 'line', points: model.batchSeconds.map((p, i) => ({ ...p, tip: `batch at ${at(p.t)}: ${formatNumber(p.v, 3)}s for ${model.batches[i].received} items` })) }],
    },
    {
      id: 'waits',
      title: 'Waits',
      yTitle: 'seconds',
      note: `backoff ${formatNumber(model.waited.backoff)}s, pause ${formatNumber(model.waited.pause)}s, pacing ${formatNumber(model.waited.pace)}s, as the controller decided them (a local --time-scale shortens the real wait); hover a bar for its reason`,
      bands,
      duration,
      emptyText: 'no waits: the controller never backed off, paused or paced',
      series: (['backoff', 'pause', 'pace'] as const).map((kind) => ({
        id: `wait-${kind}`,
        label: kind === 'pace' ? 'pacing' : kind,
        color: WAIT_COLORS[kind],
        style: 'bars' as const,
        points: model.waits.filter((w) => w.kind === kind).map((w) => ({ t: w.t, v: w.seconds, kind, tip: `iteration ${w.iteration} at ${at(w.t)}: ${kind} ${w.seconds}s: ${w.reason}` })),
      })),
    },
  ];
  if (model.queueVisible.length > 0) {
    charts.push({
      id: 'queue-depth',
      title: 'Work queue depth',
      yTitle: 'work items',
      note: 'after each batch: items visible, and in flight (received, or waiting out a retry delay)',
      bands,
      duration,
      series: [
        { id: 'queue-visible', label: 'visible', color: COLORS.primary, style: 'line', points: model.queueVisible.map((p) => ({ ...p, tip: `${at(p.t)}: ${p.v} items visible` })) },
        { id: 'queue-in-flight', label: 'in flight', color: COLORS.secondary, style: 'line', points: model.queueInFlight.map((p) => ({ ...p, tip: `${at(p.t)}: ${p.v} items in flight` })) },
      ],
    });
  }
  return charts;
}

/** One chart per health check, whatever its name and unit: its value at every probe, coloured by its verdict. */
export function healthChart(signal: HealthSignal, model: ReportModel): ChartSpec {
  const { warning, critical } = signal.thresholds;
  const thresholds = [
    ...(warning !== undefined ? [{ label: `warning ${formatWithUnit(warning, signal.unit)}`, value: warning, color: COLORS.warning }] : []),
    ...(critical !== undefined ? [{ label: `critical ${formatWithUnit(critical, signal.unit)}`, value: critical, color: COLORS.critical }] : []),
  ];
  const counts = { ok: 0, warning: 0, critical: 0 };
  let max = 0;
  for (const p of signal.points) {
    counts[p.verdict] += 1;
    max = Math.max(max, p.v);
  }
  return {
    id: `health-${signal.name}`,
    title: `Health: ${signal.name}`,
    yTitle: signal.unit ? `${signal.name} (${unitLabel(signal.unit)})` : signal.name,
    note: `${signal.points.length} probes: ${counts.ok} ok, ${counts.warning} warning, ${counts.critical} critical; highest ${formatWithUnit(max, signal.unit)}` +
      (thresholds.length === 0 ? '; no thresholds in the run settings' : ''),
    bands: model.bands,
    duration: model.durationSeconds,
    thresholds,
    series: [{
      id: `health-${signal.name}`,
      label: `${signal.name} (point colour: its verdict)`,
      color: COLORS.primary,
      style: 'line',
      points: signal.points.map((p) => ({ t: p.t, v: p.v, color: VERDICT_COLORS[p.verdict], kind: p.verdict, tip: `${signal.name} at ${formatDuration(p.t)}: ${formatWithUnit(p.v, signal.unit)} (${p.verdict}${p.detail ? `: ${p.detail}` : ''})` })),
    }],
  };
}
