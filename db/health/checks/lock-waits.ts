import { thresholdVerdict, type Verdict } from '../../../core/health';
import { OWN_SESSIONS, type BuiltInCheck } from '../check';

/**
 * When a waiting session (`a`) began to wait. Postgres 14 added pg_locks.waitstart (NULL for a moment after the
 * wait begins: then the statement's start). Before 14 nothing records it, so the later of the statement's start
 * and the session turning active stands in: the wait began after both, so this bounds it from above, and a
 * statement that ran a while before it blocked reads as waiting longer than it has (erring toward backing off).
 */
export function waitStartSql(serverVersion: number): string {
  return serverVersion >= 140000
    ? 'COALESCE((SELECT min(l.waitstart) FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted), a.query_start)'
    : 'GREATEST(a.query_start, a.state_change)';
}

/**
 * The backfill's own sessions (`ours`) and every client session waiting on a heavyweight lock (`waiting`), with how
 * long it has waited (see waitStartSql) and who blocks it: the part the lockWaits check and the in-batch sampler
 * share. `extraColumns` adds columns to `waiting` (the sampler asks whether the wait is on the job's table).
 */
export function lockWaitersCte(serverVersion: number, extraColumns = ''): string {
  return `
WITH ours AS (
  SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()
), waiting AS (
  SELECT a.pid,
         a.pid IN (SELECT pid FROM ours) AS waiter_is_ours,
         EXTRACT(epoch FROM now() - ${waitStartSql(serverVersion)})::float8 AS waited,
         pg_blocking_pids(a.pid) AS blockers${extraColumns}
  FROM pg_stat_activity a
  WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() AND a.wait_event_type = 'Lock'
)`;
}

/** Whether a waiter is blocked by the backfill, or by someone else: the columns both queries select. */
export const BLOCKED_BY_COLUMNS = `blockers && ARRAY(SELECT pid FROM ours) AS blocked_by_ours,
       EXISTS (SELECT 1 FROM unnest(blockers) b WHERE b NOT IN (SELECT pid FROM ours)) AS blocked_by_others`;

/**
 * Every client session waiting on a heavyweight lock, how long it has waited (see waitStartSql), and whether the
 * backfill is on either side: a session blocked by a backfill session, or a backfill session blocked by someone
 * else (a stalled Lambda's open transaction, a migration's lock).
 */
export function lockWaitSql(serverVersion: number): string {
  return `${lockWaitersCte(serverVersion)}
SELECT pid, waiter_is_ours, waited,
       ${BLOCKED_BY_COLUMNS}
FROM waiting`;
}

interface Waiter {
  readonly pid: number;
  readonly waiter_is_ours: boolean;
  readonly waited: number;
  readonly blocked_by_ours: boolean;
  readonly blocked_by_others: boolean;
}

export const lockWaits: BuiltInCheck = {
  name: 'lockWaits',
  unit: 'seconds',
  async measure({ db, settings, serverVersion }) {
    const t = settings.lockWaits;
    const { rows } = await db.query<Waiter>(lockWaitSql(serverVersion), [OWN_SESSIONS]);
    const others = rows.filter((w) => !w.waiter_is_ours);
    const blockedByUs = others.filter((w) => w.blocked_by_ours);
    const usBlocked = rows.filter((w) => w.waiter_is_ours && w.blocked_by_others);
    const involving = [...blockedByUs, ...usBlocked];
    const longest = Math.max(0, ...others.map((w) => w.waited), ...usBlocked.map((w) => w.waited));
    const longestInvolving = Math.max(0, ...involving.map((w) => w.waited));
    let verdict: Verdict = thresholdVerdict(longest, t);
    // Above all, the backfill must never be what production waits on (or be stuck itself holding its place in a lock queue).
    if (involving.length > 0 && longestInvolving >= t.backfillCriticalSeconds) verdict = 'critical';
    const parts = [
      ...(others.length > 0 ? [`${others.length} sessions waiting on locks`] : []),
      ...(blockedByUs.length > 0 ? [`${blockedByUs.length} blocked by the backfill (pid ${blockedByUs.map((w) => w.pid).join(', ')})`] : []),
      ...(usBlocked.length > 0 ? [`the backfill blocked by another session (backfill pid ${usBlocked.map((w) => w.pid).join(', ')})`] : []),
    ];
    return { value: longest, verdict, ...(parts.length > 0 ? { detail: parts.join('; ') } : {}) };
  },
};
