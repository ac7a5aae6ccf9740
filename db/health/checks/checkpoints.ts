import { verdictAbove } from '../../../core/health';
import { deltaSince, type BuiltInCheck } from '../check';

/** Postgres 17 moved the checkpoint counters from pg_stat_bgwriter to pg_stat_checkpointer. */
export function checkpointSql(serverVersion: number): string {
  const counters = serverVersion >= 170000
    ? 'num_timed::float8 AS timed, num_requested::float8 AS requested FROM pg_stat_checkpointer'
    : 'checkpoints_timed::float8 AS timed, checkpoints_req::float8 AS requested FROM pg_stat_bgwriter';
  return `SELECT ${counters.replace(' FROM', ', EXTRACT(epoch FROM clock_timestamp())::float8 AS at FROM')}`;
}

/**
 * Requested checkpoints since the previous probe: WAL written faster than max_wal_size allows between timed
 * checkpoints (or a CHECKPOINT command). Each one flushes every dirty buffer at once and makes the next writes
 * log full pages: WAL pressure the backfill should not add to.
 */
export const checkpoints: BuiltInCheck = {
  name: 'checkpoints',
  unit: 'requested',
  async measure({ db, settings, serverVersion, previous }) {
    const t = settings.checkpoints;
    const { rows } = await db.query<{ timed: number; requested: number; at: number }>(checkpointSql(serverVersion));
    const snapshot = { at: rows[0].at, counters: { timed: rows[0].timed, requested: rows[0].requested } };
    const change = deltaSince(previous, snapshot);
    if (!change) return { value: 0, verdict: 'ok', detail: 'first probe: counting checkpoints from now', memory: snapshot };
    const { requested, timed } = change.deltas;
    const detail = requested + timed > 0 ? `${requested} requested and ${timed} timed checkpoints in ${change.seconds.toFixed(1)}s` : undefined;
    return { value: requested, verdict: verdictAbove(requested, t.warningRequested, t.criticalRequested), ...(detail ? { detail } : {}), memory: snapshot };
  },
};
