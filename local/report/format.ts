/** Text helpers for the HTML report: escaping, numbers, durations, axis ticks. Pure. */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and attribute values (reasons and details come from the database). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** JSON safe to put inside <script type="application/json">: no `</script>` or `<!--` can appear. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** A number for people: thousands separated, at most `digits` decimals, no trailing zeros. */
export function formatNumber(value: number, digits = 2): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** Compact tick labels: 950, 1.2k, 3.4M. */
export function formatCompact(value: number): string {
  const abs = Math.abs(value);
  for (const [limit, suffix] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) {
    if (abs >= limit) return `${formatNumber(value / limit, 2)}${suffix}`;
  }
  return formatNumber(value, abs < 1 ? 3 : 2);
}

/** A value with its unit: seconds as `s`, other units after a space. */
export function formatWithUnit(value: number, unit: string): string {
  const digits = Math.abs(value) < 1 ? 3 : 2;
  return unit === 'seconds' ? `${formatNumber(value, digits)}s` : `${formatNumber(value, digits)} ${unit}`;
}

/** The short form of a unit, for axis titles. */
export function unitLabel(unit: string): string {
  return unit === 'seconds' ? 's' : unit;
}

/** Elapsed seconds as 45s, 1m30s, 2h05m. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${formatNumber(seconds, seconds < 10 ? 1 : 0)}s`;
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  return s === 0 ? `${m}m` : `${m}m${String(s).padStart(2, '0')}s`;
}

/** A domain that covers [min, max] and ends on round ticks (1, 2 or 5 times a power of ten), about `count` of them. */
export function niceDomain(min: number, max: number, count = 5): { min: number; max: number; ticks: number[] } {
  if (!(max > min)) max = min + 1;
  const step = niceStep((max - min) / count, [1, 2, 5, 10]);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks = ticksFrom(lo, hi, step);
  return { min: ticks[0], max: ticks.at(-1)!, ticks };
}

/** Time ticks in seconds at steps people read easily (1, 2, 5, 10, 15, 30 s; 1, 2, 5, 10, 15, 30 min; hours). */
export function timeTicks(max: number, count = 8): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400];
  const step = steps.find((s) => s >= raw) ?? Math.ceil(raw / 86_400) * 86_400;
  return ticksFrom(0, max, step);
}

function niceStep(raw: number, multiples: readonly number[]): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  return (multiples.find((m) => m * power >= raw) ?? 10) * power;
}

function ticksFrom(min: number, max: number, step: number): number[] {
  const ticks: number[] = [];
  // Rounded to the step's precision so 0.1 + 0.2 shows as 0.3.
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  for (let i = Math.ceil(min / step - 1e-9); i * step <= max + step * 1e-9; i += 1) ticks.push(Number((i * step).toFixed(decimals)));
  return ticks;
}
