import { thresholdVerdict } from '../../../core/health';
import type { BuiltInCheck } from '../check';

/**
 * On a primary: the largest replay_lag of its streaming replicas (pg_stat_replication), 0 without replicas or when
 * they are caught up (Postgres clears replay_lag then). On a replica: now() - the commit time of the last replayed
 * transaction, but 0 when everything received has been replayed (an idle primary sends nothing to replay); behind
 * with no transaction replayed since it started, counted from its start (the lag is at least that old).
 */
const SQL = `
SELECT pg_is_in_recovery() AS replica,
       CASE WHEN pg_is_in_recovery() THEN
         CASE WHEN pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
              ELSE EXTRACT(epoch FROM now() - COALESCE(pg_last_xact_replay_timestamp(), pg_postmaster_start_time())) END
       ELSE (SELECT COALESCE(max(EXTRACT(epoch FROM replay_lag)), 0) FROM pg_stat_replication) END::float8 AS lag,
       (SELECT count(*) FROM pg_stat_replication)::int AS replicas`;

export const replicationLag: BuiltInCheck = {
  name: 'replicationLag',
  unit: 'seconds',
  async measure({ db, settings }) {
    const { rows } = await db.query<{ replica: boolean; lag: number; replicas: number }>(SQL);
    const { replica, lag, replicas } = rows[0];
    const value = Math.max(0, lag);
    return { value, verdict: thresholdVerdict(value, settings.replicationLag), detail: replica ? 'this server is a replica: lag of its own replay' : `${replicas} streaming replicas` };
  },
};
