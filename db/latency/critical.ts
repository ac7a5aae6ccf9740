import type { Queryable } from '../../core/job';
import type { HealthSettings } from '../../core/health-settings';
import { OWN_SESSIONS } from '../health/check';
import { BLOCKED_BY_COLUMNS, lockWaitersCte } from '../health/checks/lock-waits';

/**
 * Lock waits the sampler stops a batch for: a session blocked by the backfill, the backfill blocked by another
 * session, or anyone waiting on a lock of the job's table ($2, its oid; NULL for a job without one). Each with how
 * long it has waited (see waitStartSql) and the pids on both sides, so the sampler can cancel its own statement.
 */
export function samplerLockSql(serverVersion: number): string {
  const onTable = `,
         EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted AND l.relation = $2::oid) AS on_table`;
  return `${lockWaitersCte(serverVersion, onTable)}
SELECT pid, waiter_is_ours, waited, blockers,
       ${BLOCKED_BY_COLUMNS},
       on_table
FROM waiting`;
}

interface LockWaiter {
  readonly pid: number;
  readonly waiter_is_ours: boolean;
  readonly waited: number;
  readonly blockers: number[];
  readonly blocked_by_ours: boolean;
  readonly blocked_by_others: boolean;
  readonly on_table: boolean;
}

export interface LockFinding {
  /** Why the batch must stop, in words; undefined when nothing involving the backfill has waited lockWaitMs. */
  readonly critical?: string;
  /** Backfill pids on either side of such a wait (the sampler cancels the batch's own statement when it is one). */
  readonly backfillPids: readonly number[];
}

/**
 * The lock waits that stop a batch: any involving the backfill or its table that has lasted lockWaitMs, and any
 * other wait past health.lockWaits.criticalSeconds (the probe's own critical threshold).
 */
export async function findLockWaits(db: Queryable, serverVersion: number, tableOid: number | null, lockWaitMs: number, health: HealthSettings): Promise<LockFinding> {
  if (!health.lockWaits.enabled) return { backfillPids: [] };
  const { rows } = await db.query<LockWaiter>(samplerLockSql(serverVersion), [OWN_SESSIONS, tableOid]);
  const involving = rows.filter((w) => (w.waiter_is_ours && w.blocked_by_others) || (!w.waiter_is_ours && (w.blocked_by_ours || w.on_table)));
  const over = involving.filter((w) => w.waited * 1000 >= lockWaitMs);
  const backfillPids = over.flatMap((w) => (w.waiter_is_ours ? [w.pid] : w.blockers));
  if (over.length > 0) {
    const w = over.reduce((a, b) => (b.waited > a.waited ? b : a));
    const what = w.waiter_is_ours ? `the backfill (pid ${w.pid}) waits on a lock held by pid ${w.blockers.join(', ')}`
      : w.blocked_by_ours ? `pid ${w.pid} waits on a lock held by the backfill` : `pid ${w.pid} waits on a lock of the job's table`;
    return { critical: `lockWaits: ${what} for ${Math.round(w.waited * 1000)} ms (>= ${lockWaitMs} ms)`, backfillPids };
  }
  const longest = rows.filter((w) => !w.waiter_is_ours).reduce((max, w) => Math.max(max, w.waited), 0);
  if (longest >= health.lockWaits.criticalSeconds) {
    return { critical: `lockWaits: a session has waited on a lock for ${Math.round(longest * 10) / 10}s (>= ${health.lockWaits.criticalSeconds}s)`, backfillPids: [] };
  }
  return { backfillPids: [] };
}
