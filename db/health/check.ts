import type { Verdict } from '../../core/health';
import type { BuiltInCheckName, HealthSettings } from '../../core/health-settings';
import type { Queryable } from '../../core/job';
import { APPLICATION_NAME } from '../pool';

/** What a check gets: the probe's session (statements under its statement_timeout), the knobs, and its memory. */
export interface CheckContext {
  readonly db: Queryable;
  readonly settings: HealthSettings;
  /** server_version_num, e.g. 170002: some statistics views moved between versions. */
  readonly serverVersion: number;
  /** The job's source table (its oid), when the job has one and it exists. */
  readonly sourceTable?: { readonly name: string; readonly oid: number };
  /** The bookkeeping schema (its heartbeat table is the commit-latency canary's), when the caller knows it. */
  readonly bookkeepingSchema?: string;
  /** What this check remembered at the previous probe (counters, for rates), if anything. */
  readonly previous: unknown;
}

/** One measurement: the value the thresholds compare, its verdict, and what to remember for the next probe. */
export interface Measurement {
  readonly value: number;
  readonly verdict: Verdict;
  readonly detail?: string;
  readonly memory?: unknown;
}

export interface BuiltInCheck {
  readonly name: BuiltInCheckName;
  readonly unit: string;
  /** Checks on the job's table need one; a job without a source table skips them. */
  readonly needsSourceTable?: boolean;
  measure(ctx: CheckContext): Promise<Measurement>;
}

/** `application_name LIKE` pattern of every session the backfill opens (the probe's too). */
export const OWN_SESSIONS = `${APPLICATION_NAME}%`;

/**
 * Client sessions other than the backfill's own ($1 = OWN_SESSIONS): the load the checks judge. Idle sessions are
 * filtered by each check as it needs.
 */
export const OTHER_CLIENTS = `backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name NOT LIKE $1`;

/** A counter snapshot, taken with the database's clock so rates do not depend on the caller's. */
export interface CounterSnapshot {
  readonly at: number;
  readonly counters: Readonly<Record<string, number>>;
}

/**
 * The change of each counter since `previous`, and the seconds between them; undefined when there is no usable
 * previous snapshot (first probe, or the statistics were reset and a counter went down).
 */
export function deltaSince(previous: unknown, current: CounterSnapshot): { seconds: number; deltas: Record<string, number> } | undefined {
  const prev = previous as CounterSnapshot | undefined;
  if (!prev || typeof prev.at !== 'number' || typeof prev.counters !== 'object' || prev.counters === null) return undefined;
  const seconds = current.at - prev.at;
  if (!(seconds > 0)) return undefined;
  const deltas: Record<string, number> = {};
  for (const [key, value] of Object.entries(current.counters)) {
    const before = prev.counters[key];
    if (typeof before !== 'number' || value < before) return undefined;
    deltas[key] = value - before;
  }
  return { seconds, deltas };
}
