import { thresholdVerdict } from '../../../core/health';
import { OTHER_CLIENTS, OWN_SESSIONS, type BuiltInCheck } from '../check';

/**
 * Open transactions of other sessions, by age (now() - xact_start), whether a statement is running or the session
 * sits idle in transaction: either way its snapshot holds back vacuum, so the rows the backfill rewrites pile up
 * as dead tuples. Idle-in-transaction sessions are named in the detail: they are usually an application bug.
 */
const SQL = `
SELECT COALESCE(max(EXTRACT(epoch FROM now() - xact_start)), 0)::float8 AS longest,
       count(*) FILTER (WHERE now() - xact_start > make_interval(secs => $2))::int AS over,
       count(*) FILTER (WHERE now() - xact_start > make_interval(secs => $2) AND state LIKE 'idle in transaction%')::int AS idle_over
FROM pg_stat_activity
WHERE ${OTHER_CLIENTS} AND xact_start IS NOT NULL AND state IS DISTINCT FROM 'idle'`;

export const longTransactions: BuiltInCheck = {
  name: 'longTransactions',
  unit: 'seconds',
  async measure({ db, settings }) {
    const t = settings.longTransactions;
    const { rows } = await db.query<{ longest: number; over: number; idle_over: number }>(SQL, [OWN_SESSIONS, t.warningSeconds]);
    const { longest, over, idle_over: idle } = rows[0];
    const detail = over > 0 ? `${over} open longer than ${t.warningSeconds}s${idle > 0 ? `, ${idle} of them idle in transaction` : ''}` : undefined;
    return { value: longest, verdict: thresholdVerdict(longest, t), ...(detail ? { detail } : {}) };
  },
};
