import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml, formatDuration, jsonForScript, niceDomain, timeTicks } from '../../local/report/format';
import { buildReportModel } from '../../local/report/model';
import { REPORT_DATA_ID, renderReport } from '../../local/report/render';
import { REPORT_SOURCE } from '../fixtures/report-history';

const GENERATED_AT = '2026-01-02T11:00:00.000Z';

/** The data-* attributes of every point in one series, in document order. */
function points(html: string, series: string): Array<Record<string, string>> {
  const group = new RegExp(`<g class="series" data-series="${series}"[^>]*>(.*?)</g>`).exec(html);
  assert.ok(group, `series ${series} is in the page`);
  return [...group[1].matchAll(/<(?:circle|rect) class="point" ([^>]*)>/g)].map((m) => Object.fromEntries([...m[1].matchAll(/data-(\w+)="([^"]*)"/g)].map((a) => [a[1], a[2]])));
}

describe('the report model', () => {
  it('turns a fixed history into series, waits, health signals, bands and episodes', () => {
    // Act
    const model = buildReportModel(REPORT_SOURCE);
    // Assess
    assert.deepStrictEqual([model.startedAt, model.endedAt, model.durationSeconds], ['2026-01-02T10:00:00.000Z', '2026-01-02T10:00:10.000Z', 10]);
    assert.deepStrictEqual(model.rowsDone, [{ t: 3, v: 4000 }, { t: 7.25, v: 6000 }]);
    assert.deepStrictEqual(model.batchSizes, [{ t: 1, v: 4 }, { t: 3.5, v: 5 }, { t: 6, v: 2 }, { t: 8, v: 3 }]);
    assert.deepStrictEqual(model.received, [{ t: 3, v: 4 }, { t: 7.25, v: 2 }]);
    assert.deepStrictEqual(model.batchSeconds, [{ t: 3, v: 1.5 }, { t: 7.25, v: 0.8 }]);
    assert.deepStrictEqual([model.queueVisible, model.queueInFlight], [[{ t: 3.5, v: 2 }, { t: 6, v: 2 }, { t: 8, v: 0 }], [{ t: 3.5, v: 0 }, { t: 6, v: 0 }, { t: 8, v: 0 }]]);
    assert.deepStrictEqual(model.waits, [
      { t: 3.5, iteration: 2, kind: 'backoff', seconds: 2, reason: 'longRunningQueries 130s (critical: 1 running longer than 30s)' },
      { t: 6, iteration: 3, kind: 'pace', seconds: 1, reason: 'degraded, smaller batch after a 1s pause: longRunningQueries 45s (warning)' },
    ]);
    assert.deepStrictEqual(model.health, [
      {
        name: 'longRunningQueries', unit: 'seconds', thresholds: { warning: 30, critical: 120 },
        points: [{ t: 1, v: 0, verdict: 'ok' }, { t: 3.5, v: 130, verdict: 'critical', detail: 'query "<script>alert(1)</script>"' }, { t: 6, v: 45, verdict: 'warning' }, { t: 8, v: 0.5, verdict: 'ok' }],
      },
      // The live knob (criticalSeconds 20) is layered over the settings.
      { name: 'lockWaits', unit: 'seconds', thresholds: { warning: 5, critical: 20 }, points: [{ t: 1, v: 0, verdict: 'ok' }, { t: 3.5, v: 0, verdict: 'ok' }, { t: 6, v: 0, verdict: 'ok' }, { t: 8, v: 0, verdict: 'ok' }] },
      // A check the settings do not know: drawn all the same, without thresholds.
      { name: 'replicationLag', unit: 'bytes', thresholds: {}, points: [{ t: 6, v: 1048576, verdict: 'ok' }] },
    ]);
    assert.deepStrictEqual(model.bands, [{ from: 3.5, to: 6, verdict: 'critical' }, { from: 6, to: 8, verdict: 'warning' }]);
    assert.deepStrictEqual(model.episodes.map((e) => [e.fromIteration, e.toIteration, e.action, e.verdict, e.decisions, e.waitedSeconds, e.pacedSeconds, e.minBatchSize, e.maxBatchSize]), [
      [1, 1, 'proceed', 'ok', 1, 0, 0, 4, 4],
      [2, 2, 'backoff', 'critical', 1, 2, 0, 5, 5],
      [3, 3, 'proceed', 'warning', 1, 0, 1, 2, 2],
      [4, 4, 'proceed', 'ok', 1, 0, 0, 3, 3],
    ]);
    assert.deepStrictEqual([model.actions, model.waited], [{ proceed: 3, backoff: 1 }, { backoff: 2, pause: 0, pace: 1 }]);
  });

  it('groups consecutive decisions with the same action and verdict into one episode', () => {
    // Prepare: the backoff decision repeated twice more, with longer waits
    const backoff = REPORT_SOURCE.history[2];
    const history = [
      ...REPORT_SOURCE.history.slice(0, 3),
      { ...backoff, id: 31, at: '2026-01-02T10:00:04.000Z', data: { ...backoff.data, iteration: 3, waitSeconds: 4, reason: 'longRunningQueries 131s (critical)' } },
      { ...backoff, id: 32, at: '2026-01-02T10:00:05.000Z', data: { ...backoff.data, iteration: 4, waitSeconds: 8, reason: 'longRunningQueries 132s (critical)' } },
    ];
    // Act
    const model = buildReportModel({ ...REPORT_SOURCE, history });
    // Assess
    assert.deepStrictEqual(model.episodes.at(-1), {
      from: 3.5, to: 5, fromIteration: 2, toIteration: 4, action: 'backoff', verdict: 'critical', decisions: 3, waitedSeconds: 14, pacedSeconds: 0,
      minBatchSize: 5, maxBatchSize: 5, firstReason: 'longRunningQueries 130s (critical: 1 running longer than 30s)', lastReason: 'longRunningQueries 132s (critical)',
    });
    assert.deepStrictEqual(model.bands, [{ from: 3.5, to: 10, verdict: 'critical' }]);
  });
});

describe('the report page', () => {
  it('embeds exactly the data its charts were drawn from', () => {
    // Act
    const html = renderReport(REPORT_SOURCE, { generatedAt: GENERATED_AT });
    // Assess
    const embedded = new RegExp(`<script type="application/json" id="${REPORT_DATA_ID}">(.*?)</script>`).exec(html);
    assert.ok(embedded);
    assert.deepStrictEqual(JSON.parse(embedded[1]), JSON.parse(JSON.stringify(buildReportModel(REPORT_SOURCE))));
  });

  it('draws one chart per series over time and one per health check, with thresholds and verdict bands', () => {
    // Act
    const html = renderReport(REPORT_SOURCE, { generatedAt: GENERATED_AT });
    // Assess
    assert.deepStrictEqual([...html.matchAll(/<figure class="chart" id="chart-([^"]+)" data-chart="\1">/g)].map((m) => m[1]), [
      'rows-done', 'batch-size', 'batch-duration', 'waits', 'queue-depth', 'health-longRunningQueries', 'health-lockWaits', 'health-replicationLag',
    ]);
    assert.deepStrictEqual(points(html, 'rows-done'), [{ t: '3', v: '4000' }, { t: '7.25', v: '6000' }]);
    assert.deepStrictEqual(points(html, 'batch-size').map((p) => p.v), ['4', '5', '2', '3']);
    assert.deepStrictEqual(points(html, 'wait-backoff'), [{ t: '3.5', v: '2', kind: 'backoff' }]);
    assert.deepStrictEqual(points(html, 'wait-pace'), [{ t: '6', v: '1', kind: 'pace' }]);
    assert.deepStrictEqual(points(html, 'wait-pause'), []);
    assert.deepStrictEqual(points(html, 'health-longRunningQueries').map((p) => [p.v, p.kind]), [['0', 'ok'], ['130', 'critical'], ['45', 'warning'], ['0.5', 'ok']]);
    assert.deepStrictEqual(points(html, 'health-replicationLag'), [{ t: '6', v: '1048576', kind: 'ok' }]);
    const thresholds = (chart: string) => [...(new RegExp(`data-chart="${chart}">(.*?)</figure>`).exec(html)?.[1] ?? '').matchAll(/data-threshold="([^"]+)" data-value="([^"]+)"/g)].map((m) => [m[1], m[2]]);
    assert.deepStrictEqual(thresholds('health-longRunningQueries'), [['warning 30s', '30'], ['critical 120s', '120']]);
    assert.deepStrictEqual(thresholds('health-lockWaits'), [['warning 5s', '5'], ['critical 20s', '20']]);
    assert.deepStrictEqual(thresholds('health-replicationLag'), []);
    assert.deepStrictEqual(thresholds('batch-duration'), [['target 2s', '2']]);
    assert.equal([...html.matchAll(/<rect data-verdict="critical"/g)].length, 8, 'the critical band in each of the 8 charts');
  });

  it('tells the reasons: on hover, in the episodes and in the table of decisions', () => {
    // Act
    const html = renderReport(REPORT_SOURCE, { generatedAt: GENERATED_AT });
    // Assess
    assert.match(html, /<rect class="point" data-t="3.5" data-v="2" data-kind="backoff"[^>]*><title>iteration 2 at 3.5s: backoff 2s: longRunningQueries 130s \(critical: 1 running longer than 30s\)<\/title><\/rect>/);
    const rows = (table: string) => [...(new RegExp(`<table class="list" data-table="${table}">.*?<tbody>(.*?)</tbody>`).exec(html)?.[1] ?? '').matchAll(/<tr[^>]*>(.*?)<\/tr>/g)].map((r) => [...r[1].matchAll(/<td>(.*?)<\/td>/g)].map((c) => c[1]));
    assert.deepStrictEqual(rows('episodes'), [
      ['1s', '1', 'proceed', 'ok', '1', '–', '4', 'healthy'],
      ['3.5s', '2', 'backoff', 'critical', '1', '2s', '5', 'longRunningQueries 130s (critical: 1 running longer than 30s)'],
      ['6s', '3', 'proceed', 'warning', '1', 'paced 1s', '2', 'degraded, smaller batch after a 1s pause: longRunningQueries 45s (warning)'],
      ['8s', '4', 'proceed', 'ok', '1', '–', '3', 'healthy'],
    ]);
    assert.deepStrictEqual(rows('decisions').map((r) => r.slice(0, 8)), [
      ['1', '1s', 'proceed', 'ok', '4', '–', 'longRunningQueries 0s, lockWaits 0s', '–'],
      ['2', '3.5s', 'backoff', 'critical', '5', '2s', 'longRunningQueries 130s, lockWaits 0s', '2 + 0'],
      ['3', '6s', 'proceed', 'warning', '2', 'pace 1s', 'longRunningQueries 45s, lockWaits 0s, replicationLag 1,048,576 bytes', '2 + 0'],
      ['4', '8s', 'proceed', 'ok', '3', '–', 'longRunningQueries 0.5s, lockWaits 0s', '0 + 0'],
    ]);
    assert.deepStrictEqual(rows('batches').map((r) => r.slice(0, 8)), [['3s', '4', '4', '4', '0', '0', '4,000', '1.5'], ['7.3s', '2', '2', '2', '0', '0', '2,000', '0.8']]);
    assert.match(html, /<td data-field="waited">backoff 2s, pause 0s, pacing 1s<\/td>/);
  });

  it('shows the last error, its item and how many items share it, and the items done at least once', () => {
    // Prepare
    const lastError = { error: 'column "nope" <of> relation', dedupeKey: 'range:1-51', items: 4 };
    // Act
    const html = renderReport({ ...REPORT_SOURCE, totals: { ...REPORT_SOURCE.totals, lastError, itemsAtLeastOnce: 2 } }, { generatedAt: GENERATED_AT });
    const clean = renderReport(REPORT_SOURCE, { generatedAt: GENERATED_AT });
    // Assess
    assert.match(html, /<td data-field="last error">column &quot;nope&quot; &lt;of&gt; relation \(item range:1-51; 4 items with this error\)<\/td>/);
    assert.match(html, /<td data-field="items done at least once">2 \(ok without ctx.withTransaction: at-least-once, not exactly once\)<\/td>/);
    assert.match(clean, /<td data-field="last error">none<\/td>/);
    assert.doesNotMatch(clean, /items done at least once/);
  });

  it('is self-contained and escapes what comes from the database', () => {
    // Act
    const html = renderReport(REPORT_SOURCE, { generatedAt: GENERATED_AT });
    // Assess: nothing to fetch, no script to run, the markup in a check's detail shown as text
    assert.deepStrictEqual([...html.matchAll(/\s(?:src|href)=/g)], []);
    assert.deepStrictEqual([...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]), [`<script type="application/json" id="${REPORT_DATA_ID}">`]);
    assert.doesNotMatch(html, /<script>alert/);
    assert.match(html, /query &quot;&lt;script&gt;alert\(1\)&lt;\/script&gt;&quot;/);
    assert.match(html, /"detail":"query \\"\\u003cscript>alert\(1\)\\u003c\/script>\\""/);
    assert.equal(renderReport(REPORT_SOURCE, { generatedAt: GENERATED_AT }), html, 'the same input gives the same page');
  });
});

describe('report formatting helpers', () => {
  it('picks round ticks and durations people read easily', () => {
    // Act and assess
    assert.deepStrictEqual(niceDomain(0, 130 * 1.05, 4), { min: 0, max: 150, ticks: [0, 50, 100, 150] });
    assert.deepStrictEqual(niceDomain(0, 0.21, 4), { min: 0, max: 0.3, ticks: [0, 0.1, 0.2, 0.3] });
    assert.deepStrictEqual(niceDomain(0, 0, 4), { min: 0, max: 1, ticks: [0, 0.5, 1] });
    assert.deepStrictEqual(timeTicks(10), [0, 2, 4, 6, 8, 10]);
    assert.deepStrictEqual(timeTicks(3600), [0, 600, 1200, 1800, 2400, 3000, 3600]);
    assert.deepStrictEqual([0.25, 7.25, 59, 90, 3600, 7530].map(formatDuration), ['0.3s', '7.3s', '59s', '1m30s', '1h00m', '2h05m']);
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    assert.equal(jsonForScript({ reason: '</script><!--' }), '{"reason":"\\u003c/script>\\u003c!--"}');
  });
});
