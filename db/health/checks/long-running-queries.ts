import { thresholdVerdict } from '../../../core/health';
import { OTHER_CLIENTS, OWN_SESSIONS, type BuiltInCheck } from '../check';

/** Active statements of other sessions (lock waits are lockWaits' business), by age. */
const SQL = `
SELECT COALESCE(max(EXTRACT(epoch FROM now() - query_start)), 0)::float8 AS longest,
       count(*) FILTER (WHERE now() - query_start > make_interval(secs => $2))::int AS over
FROM pg_stat_activity
WHERE ${OTHER_CLIENTS} AND state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock'`;

export const longRunningQueries: BuiltInCheck = {
  name: 'longRunningQueries',
  unit: 'seconds',
  async measure({ db, settings }) {
    const t = settings.longRunningQueries;
    const { rows } = await db.query<{ longest: number; over: number }>(SQL, [OWN_SESSIONS, t.warningSeconds]);
    const { longest, over } = rows[0];
    return { value: longest, verdict: thresholdVerdict(longest, t), ...(over > 0 ? { detail: `${over} running longer than ${t.warningSeconds}s` } : {}) };
  },
};
