/** The report's stylesheet, inlined in the page: plain, readable, printable. */
export const PAGE_STYLE = `
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d2228; background: #f6f7f9; }
main { max-width: 1040px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 6px; border-bottom: 1px solid #d9dde3; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 0; display: inline; }
p.reason { margin: 0 0 8px; color: #3a4148; }
p.note { margin: 2px 0 8px; color: #5b636b; font-size: 12.5px; }
.status { font-size: 13px; font-weight: 600; padding: 2px 8px; border-radius: 10px; vertical-align: middle; color: #fff; background: #5b636b; }
.status-succeeded { background: #2e7d32; } .status-failed { background: #c62828; } .status-running { background: #1f5fa8; } .status-stalled { background: #8a5a00; }
.status-backing-off { background: #e0a800; color: #1d2228; } .status-aborted, .status-paused { background: #757575; }
table { border-collapse: collapse; font-size: 12.5px; }
table.summary th { text-align: left; font-weight: normal; color: #5b636b; padding: 2px 16px 2px 0; }
table.summary td { padding: 2px 0; font-variant-numeric: tabular-nums; }
table.list { width: 100%; }
table.list th { text-align: left; background: #eef1f4; padding: 4px 6px; position: sticky; top: 0; }
table.list td { padding: 3px 6px; border-top: 1px solid #e6e9ed; vertical-align: top; font-variant-numeric: tabular-nums; }
table.list td { white-space: nowrap; }
table.list td:last-child, table[data-table="decisions"] td:nth-child(7) { white-space: normal; word-break: break-word; }
tr.action-backoff td:nth-child(3), tr.action-halt td:nth-child(3) { color: #c62828; font-weight: 600; }
tr.action-pause td:nth-child(3), tr.action-abort td:nth-child(3) { color: #757575; font-weight: 600; }
tr.verdict-warning { background: #fff8e1; } tr.verdict-critical { background: #fdecea; } tr.dead-lettered { background: #fdecea; }
details > summary { cursor: pointer; color: #1f5fa8; margin: 4px 0; }
pre { font-size: 12px; background: #f6f7f9; padding: 8px; overflow: auto; }
figure.chart { margin: 12px 0 18px; }
figcaption .note { display: inline; margin-left: 10px; }
.legend { font-size: 12px; color: #3a4148; margin: 2px 0; }
.legend .key { margin-right: 14px; white-space: nowrap; }
.legend i { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: -1px; }
.legend i.dashed { height: 0; border-top: 2px dashed; vertical-align: 3px; }
svg { width: 100%; height: auto; display: block; font-size: 11px; fill: #3a4148; }
svg .grid { stroke: #e6e9ed; } svg .tick { stroke: #9aa1a8; } svg .frame { stroke: #9aa1a8; }
svg polyline, svg path { stroke-width: 1.6; }
svg .axis-title { fill: #5b636b; font-size: 11.5px; }
svg .empty { fill: #9aa1a8; font-size: 13px; }
svg .point:hover { stroke: #1d2228; stroke-width: 1.5; }
footer { margin-top: 32px; font-size: 12px; color: #5b636b; }
`;
