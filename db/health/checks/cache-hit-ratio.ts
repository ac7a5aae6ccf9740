import { verdictBelow } from '../../../core/health';
import { deltaSince, type BuiltInCheck } from '../check';

/**
 * Share of the job's table's block accesses (heap, indexes, TOAST) served from shared buffers since the previous
 * probe. Lifetime counters would hide a change for hours; the delta sees this interval only. Counters of every
 * session, the backfill's included: its own cold reads are I/O it causes.
 */
const SQL = `
SELECT (COALESCE(heap_blks_hit, 0) + COALESCE(idx_blks_hit, 0) + COALESCE(toast_blks_hit, 0) + COALESCE(tidx_blks_hit, 0))::float8 AS hit,
       (COALESCE(heap_blks_read, 0) + COALESCE(idx_blks_read, 0) + COALESCE(toast_blks_read, 0) + COALESCE(tidx_blks_read, 0))::float8 AS read,
       EXTRACT(epoch FROM clock_timestamp())::float8 AS at
FROM pg_statio_all_tables WHERE relid = $1`;

export const cacheHitRatio: BuiltInCheck = {
  name: 'cacheHitRatio',
  unit: 'ratio',
  needsSourceTable: true,
  async measure({ db, settings, sourceTable, previous }) {
    const t = settings.cacheHitRatio;
    const { rows } = await db.query<{ hit: number; read: number; at: number }>(SQL, [sourceTable!.oid]);
    if (rows.length === 0) return { value: 1, verdict: 'ok', detail: `no statistics for ${sourceTable!.name}` };
    const snapshot = { at: rows[0].at, counters: { hit: rows[0].hit, read: rows[0].read } };
    const change = deltaSince(previous, snapshot);
    if (!change) return { value: 1, verdict: 'ok', detail: 'first probe: counting block reads from now', memory: snapshot };
    const { hit, read } = change.deltas;
    const total = hit + read;
    const ratio = total === 0 ? 1 : hit / total;
    if (total < t.minBlocks) return { value: ratio, verdict: 'ok', detail: `${total} block accesses since the previous probe, fewer than ${t.minBlocks}`, memory: snapshot };
    return { value: ratio, verdict: verdictBelow(ratio, t.warningBelow, t.criticalBelow), detail: `${read} of ${total} blocks read from outside shared buffers since the previous probe`, memory: snapshot };
  },
};
