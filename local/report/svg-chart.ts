import { escapeHtml, formatCompact, formatDuration, niceDomain, timeTicks } from './format';
import type { VerdictBand } from './model';

/** One point of a series; `tip` is its hover text (an SVG <title>). */
export interface ChartPoint {
  readonly t: number;
  readonly v: number;
  readonly tip: string;
  /** Overrides the series colour for this point (a verdict, a kind of wait). */
  readonly color?: string;
  /** Written as data-kind, for points of different kinds in one series. */
  readonly kind?: string;
}

export interface ChartSeries {
  /** Written as data-series: how tests and readers find the series. */
  readonly id: string;
  readonly label: string;
  readonly color: string;
  /** line: joined points; step: a value that holds until the next point; dots: points only; bars: from zero. */
  readonly style: 'line' | 'step' | 'dots' | 'bars';
  readonly points: readonly ChartPoint[];
}

export interface ChartThreshold {
  readonly label: string;
  readonly value: number;
  readonly color: string;
}

export interface ChartSpec {
  readonly id: string;
  readonly title: string;
  /** The y axis title, with its unit. */
  readonly yTitle: string;
  /** One line under the title. */
  readonly note?: string;
  readonly series: readonly ChartSeries[];
  readonly thresholds?: readonly ChartThreshold[];
  readonly bands: readonly VerdictBand[];
  /** The x axis runs from 0 to this many seconds since the run started. */
  readonly duration: number;
  /** Shown in the plot when no series has a point. @default 'no data in this run' */
  readonly emptyText?: string;
}

export const COLORS = {
  ok: '#2e7d32',
  warning: '#e0a800',
  critical: '#c62828',
  primary: '#1f5fa8',
  secondary: '#e07b00',
  muted: '#757575',
  bandWarning: 'rgba(240, 190, 0, 0.16)',
  bandCritical: 'rgba(198, 40, 40, 0.13)',
} as const;

const WIDTH = 960;
const HEIGHT = 230;
const MARGIN = { left: 72, right: 96, top: 12, bottom: 40 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

/** One chart over time as a <figure>: title, legend, and an inline SVG with axes, verdict bands, thresholds and series. */
export function renderChart(spec: ChartSpec): string {
  const values = spec.series.flatMap((s) => s.points.map((p) => p.v));
  const thresholds = spec.thresholds ?? [];
  // Loops, not Math.max(...values): a long run has more points than a call may take arguments.
  let lo = 0;
  let hi = 0;
  for (const v of [...values, ...thresholds.map((t) => t.value)]) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const y = niceDomain(lo, hi * 1.05, 4);
  const duration = spec.duration > 0 ? spec.duration : 1;
  const xOf = (t: number) => round(MARGIN.left + (t / duration) * PLOT_W);
  const yOf = (v: number) => round(MARGIN.top + PLOT_H - ((v - y.min) / (y.max - y.min)) * PLOT_H);
  const empty = values.length === 0;

  const svg = [
    `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(spec.title)}" preserveAspectRatio="xMidYMid meet">`,
    `<g class="bands">${spec.bands.map((b) => `<rect data-verdict="${b.verdict}" x="${xOf(b.from)}" y="${MARGIN.top}" width="${Math.max(1, xOf(b.to) - xOf(b.from))}" height="${PLOT_H}" fill="${b.verdict === 'critical' ? COLORS.bandCritical : COLORS.bandWarning}"><title>${escapeHtml(`${b.verdict} from ${formatDuration(b.from)} to ${formatDuration(b.to)}`)}</title></rect>`).join('')}</g>`,
    yAxis(y.ticks, yOf, spec.yTitle),
    xAxis(duration, xOf),
    `<g class="thresholds">${thresholdLines(thresholds, yOf)}</g>`,
    ...spec.series.map((s) => series(s, xOf, yOf, duration)),
    empty ? `<text class="empty" x="${MARGIN.left + PLOT_W / 2}" y="${MARGIN.top + PLOT_H / 2}" text-anchor="middle">${escapeHtml(spec.emptyText ?? 'no data in this run')}</text>` : '',
    `<rect class="frame" x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none"/>`,
    `</svg>`,
  ].join('');

  const legend = [
    ...spec.series.map((s) => `<span class="key"><i style="background:${s.color}"></i>${escapeHtml(s.label)}</span>`),
    ...thresholds.map((t) => `<span class="key"><i class="dashed" style="border-color:${t.color}"></i>${escapeHtml(t.label)}</span>`),
    ...(['warning', 'critical'] as const).filter((v) => spec.bands.some((b) => b.verdict === v)).map((v) => `<span class="key"><i style="background:${v === 'critical' ? COLORS.bandCritical : COLORS.bandWarning}"></i>health ${v}</span>`),
  ].join('');
  return `<figure class="chart" id="chart-${escapeHtml(spec.id)}" data-chart="${escapeHtml(spec.id)}"><figcaption><h3>${escapeHtml(spec.title)}</h3>${spec.note ? `<p class="note">${escapeHtml(spec.note)}</p>` : ''}<div class="legend">${legend}</div></figcaption>${svg}</figure>`;
}

function yAxis(ticks: readonly number[], yOf: (v: number) => number, title: string): string {
  const x0 = MARGIN.left;
  const lines = ticks.map((v) => `<line class="grid" x1="${x0}" x2="${x0 + PLOT_W}" y1="${yOf(v)}" y2="${yOf(v)}"/><text x="${x0 - 6}" y="${yOf(v) + 4}" text-anchor="end">${formatCompact(v)}</text>`).join('');
  const cy = MARGIN.top + PLOT_H / 2;
  return `<g class="axis y">${lines}<text class="axis-title" transform="translate(16 ${cy}) rotate(-90)" text-anchor="middle">${escapeHtml(title)}</text></g>`;
}

function xAxis(duration: number, xOf: (t: number) => number): string {
  const base = MARGIN.top + PLOT_H;
  const ticks = timeTicks(duration).map((t) => `<line class="tick" x1="${xOf(t)}" x2="${xOf(t)}" y1="${base}" y2="${base + 5}"/><text x="${xOf(t)}" y="${base + 18}" text-anchor="middle">${formatDuration(t)}</text>`).join('');
  return `<g class="axis x">${ticks}<text class="axis-title" x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 4}" text-anchor="middle">time since the run started</text></g>`;
}

/** Dashed lines across the plot, labelled on the right; labels of lines close together are moved apart to stay legible. */
function thresholdLines(thresholds: readonly ChartThreshold[], yOf: (v: number) => number): string {
  const x1 = MARGIN.left + PLOT_W;
  const labelY = new Map<ChartThreshold, number>();
  let previous = -Infinity;
  for (const t of [...thresholds].sort((a, b) => yOf(a.value) - yOf(b.value))) {
    previous = Math.max(yOf(t.value) + 4, previous + 12);
    labelY.set(t, previous);
  }
  return thresholds.map((t) => {
    const yPos = yOf(t.value);
    return `<g class="threshold" data-threshold="${escapeHtml(t.label)}" data-value="${t.value}"><line x1="${MARGIN.left}" x2="${x1}" y1="${yPos}" y2="${yPos}" stroke="${t.color}" stroke-dasharray="6 4"/><text x="${x1 + 6}" y="${labelY.get(t)}" fill="${t.color}">${escapeHtml(t.label)}</text></g>`;
  }).join('');
}

function series(s: ChartSeries, xOf: (t: number) => number, yOf: (v: number) => number, duration: number): string {
  const attrs = `class="series" data-series="${escapeHtml(s.id)}" data-style="${s.style}"`;
  const tip = (p: ChartPoint) => `<title>${escapeHtml(p.tip)}</title>`;
  const data = (p: ChartPoint) => `data-t="${p.t}" data-v="${p.v}"${p.kind ? ` data-kind="${escapeHtml(p.kind)}"` : ''}`;
  if (s.style === 'bars') {
    const zero = yOf(0);
    const bars = s.points.map((p) => {
      const top = Math.min(zero, yOf(p.v));
      return `<rect class="point" ${data(p)} x="${round(xOf(p.t) - 2.5)}" y="${top}" width="5" height="${Math.max(1, round(Math.abs(zero - yOf(p.v))))}" fill="${p.color ?? s.color}">${tip(p)}</rect>`;
    });
    return `<g ${attrs}>${bars.join('')}</g>`;
  }
  let path = '';
  if (s.style === 'line' && s.points.length > 1) path = `<polyline fill="none" stroke="${s.color}" points="${s.points.map((p) => `${xOf(p.t)},${yOf(p.v)}`).join(' ')}"/>`;
  if (s.style === 'step' && s.points.length > 0) {
    const [first, ...rest] = s.points;
    const d = `M${xOf(first.t)} ${yOf(first.v)}${rest.map((p) => ` H${xOf(p.t)} V${yOf(p.v)}`).join('')} H${xOf(duration)}`;
    path = `<path fill="none" stroke="${s.color}" d="${d}"/>`;
  }
  const radius = s.style === 'dots' ? 3 : 2.5;
  const dots = s.points.map((p) => `<circle class="point" ${data(p)} cx="${xOf(p.t)}" cy="${yOf(p.v)}" r="${radius}" fill="${p.color ?? s.color}">${tip(p)}</circle>`);
  return `<g ${attrs}>${path}${dots.join('')}</g>`;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
