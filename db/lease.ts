import { hostname } from 'node:os';
import type pg from 'pg';
import { LeaseHeldError, LeaseLostError } from '../core/errors';
import { quoteIdentifier } from '../core/identifiers';
import { describeStalled, type LeaseHolder } from '../core/lease';
import { FINISHED_STATUSES, type RunStatus } from './runs';

/** A run's lease as stored: who holds it, its last heartbeat, when it lapses (or was released). */
export interface Lease {
  readonly runId: string;
  readonly holder: string;
  readonly host: string | null;
  readonly pid: number | null;
  readonly acquiredAt: string;
  readonly heartbeatAt: string;
  readonly expiresAt: string;
  readonly releasedAt: string | null;
  /** expires_at has passed, by the database's clock. */
  readonly expired: boolean;
}

/**
 * live: its holder heartbeats. released: its holder ended the run's work (or an operator aborted it). expired: no
 * heartbeat within the lease. gone: a local process on this host that is no longer alive (known before the expiry).
 */
export type LeaseState = 'live' | 'released' | 'expired' | 'gone';

const COLUMNS = `run_id, holder, host, pid, acquired_at, heartbeat_at, expires_at, released_at, expires_at <= now() AS expired`;

function toLease(row: Record<string, unknown>): Lease {
  const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : null);
  return {
    runId: row.run_id as string,
    holder: row.holder as string,
    host: (row.host as string | null) ?? null,
    pid: (row.pid as number | null) ?? null,
    acquiredAt: iso(row.acquired_at)!,
    heartbeatAt: iso(row.heartbeat_at)!,
    expiresAt: iso(row.expires_at)!,
    releasedAt: iso(row.released_at),
    expired: row.expired as boolean,
  };
}

/** This process as a lease holder: `local:HOST:PID:TAG` (the tag tells two processes with a reused pid apart). */
export function localHolder(tag: string): LeaseHolder {
  return { holder: `local:${hostname()}:${process.pid}:${tag}`, host: hostname(), pid: process.pid };
}

/** Whether the lease's holder is a process on this host that no longer exists (signal 0 probes without signalling). */
function holderGone(lease: Pick<Lease, 'host' | 'pid'>): boolean {
  if (lease.host !== hostname() || lease.pid === null) return false;
  try {
    process.kill(lease.pid, 0);
    return false;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export function leaseState(lease: Lease): LeaseState {
  if (lease.releasedAt !== null) return 'released';
  if (lease.expired) return 'expired';
  return holderGone(lease) ? 'gone' : 'live';
}

/**
 * Takes the run's lease for `holder`, or renews it when `holder` has it already. A lease that was released, has
 * expired, is held by `takeOverFrom` (the parent of a continue-as-new execution), or whose holder is a local
 * process on this host that is gone, is taken over. Otherwise the run has a live processor: LeaseHeldError, naming
 * it and when the lease lapses. One statement decides, so two processors starting at once cannot both win.
 */
export async function acquireLease(pool: pg.Pool, schema: string, runId: string, holder: LeaseHolder, ttlSeconds: number, takeOverFrom?: string): Promise<Lease> {
  const s = quoteIdentifier(schema);
  const take = (replacing: string | null) => pool.query(
    `INSERT INTO ${s}.leases AS l (run_id, holder, host, pid, acquired_at, heartbeat_at, expires_at)
     VALUES ($1, $2, $3, $4, now(), now(), now() + make_interval(secs => $5))
     ON CONFLICT (run_id) DO UPDATE SET holder = EXCLUDED.holder, host = EXCLUDED.host, pid = EXCLUDED.pid,
       acquired_at = CASE WHEN l.holder = EXCLUDED.holder AND l.released_at IS NULL THEN l.acquired_at ELSE now() END,
       heartbeat_at = now(), expires_at = EXCLUDED.expires_at, released_at = NULL
     WHERE l.holder = EXCLUDED.holder OR l.released_at IS NOT NULL OR l.expires_at <= now() OR l.holder = $6 OR l.holder = $7
     RETURNING ${COLUMNS}`,
    [runId, holder.holder, holder.host ?? null, holder.pid ?? null, ttlSeconds, takeOverFrom ?? null, replacing],
  );
  const { rows } = await take(null);
  if (rows[0]) return toLease(rows[0]);
  const current = await readLease(pool, schema, runId);
  if (current && leaseState(current) === 'gone') {
    // Only that very holder is replaced: if another process took the lease meanwhile, this one still refuses.
    const retaken = await take(current.holder);
    if (retaken.rows[0]) return toLease(retaken.rows[0]);
  }
  const now = current ?? (await readLease(pool, schema, runId));
  throw new LeaseHeldError(now
    ? `run ${runId} is being processed by ${now.holder} (last heartbeat ${now.heartbeatAt}); its lease lapses at ${now.expiresAt} unless it heartbeats again. One processor per run: wait for it to finish, or stop it (backfill abort ${runId}) and start this run again once its lease has lapsed`
    : `run ${runId}: its lease changed hands while this processor was starting; try again`);
}

/**
 * Extends `holder`'s lease by `ttlSeconds` from now; a run with no lease yet (one started before leases existed,
 * or a handler called on its own) gets one, and a lease its holder had released is its own again. LeaseLostError
 * when another processor holds it now (this one stalled past the expiry and was replaced): the caller stops instead
 * of working on. A bookkeeping schema without the leases table (an execution that began before an upgrade; the
 * next Init adds it) is left alone. Other database errors are thrown as they are (a probe backs off, a batch fails).
 */
export async function renewLease(pool: pg.Pool, schema: string, runId: string, holder: LeaseHolder, ttlSeconds: number): Promise<void> {
  const s = quoteIdentifier(schema);
  let renewed: number;
  try {
    ({ rowCount: renewed } = await pool.query(
      `INSERT INTO ${s}.leases AS l (run_id, holder, host, pid, acquired_at, heartbeat_at, expires_at)
       VALUES ($1, $2, $3, $4, now(), now(), now() + make_interval(secs => $5))
       ON CONFLICT (run_id) DO UPDATE SET heartbeat_at = now(), expires_at = EXCLUDED.expires_at, released_at = NULL
       WHERE l.holder = EXCLUDED.holder`,
      [runId, holder.holder, holder.host ?? null, holder.pid ?? null, ttlSeconds],
    ) as { rowCount: number });
  } catch (error) {
    if ((error as { code?: string }).code === UNDEFINED_TABLE) return;
    throw error;
  }
  if (renewed === 1) return;
  const current = await readLease(pool, schema, runId);
  throw new LeaseLostError(`run ${runId}: this processor (${holder.holder}) no longer holds the run's lease: ${current?.holder ?? 'another processor'} took it over at ${current?.acquiredAt ?? 'an unknown time'}. It stops here; the run goes on with that processor, or when started again`);
}

/** SQLSTATE undefined_table. */
const UNDEFINED_TABLE = '42P01';

/** Ends `holder`'s lease (the run's work ended); with no holder, whoever has it (an operator's abort). */
export async function releaseLease(pool: pg.Pool, schema: string, runId: string, holder?: string): Promise<void> {
  if (!(await hasLeaseTable(pool, schema))) return;
  await pool.query(
    `UPDATE ${quoteIdentifier(schema)}.leases SET released_at = now(), expires_at = LEAST(expires_at, now())
     WHERE run_id = $1 AND released_at IS NULL AND ($2::text IS NULL OR holder = $2)`,
    [runId, holder ?? null],
  );
}

export async function readLease(pool: pg.Pool, schema: string, runId: string): Promise<Lease | undefined> {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM ${quoteIdentifier(schema)}.leases WHERE run_id = $1`, [runId]);
  return rows[0] ? toLease(rows[0]) : undefined;
}

/** Whether the bookkeeping schema has the leases table (a run table from before leases has none). */
export async function hasLeaseTable(pool: pg.Pool, schema: string): Promise<boolean> {
  const { rows } = await pool.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${quoteIdentifier(schema)}.leases`]);
  return rows[0].ok as boolean;
}

/**
 * Renews `holder`'s lease every `everySeconds`, whatever the run is doing (a long wait, a long batch): a local
 * process's heartbeat. A failed renewal (the database is away) is tried again at the next beat; a lost lease is
 * found by the next probe or batch, which renew it too and stop the run.
 */
export function startHeartbeat(pool: pg.Pool, schema: string, runId: string, holder: LeaseHolder, everySeconds: number, ttlSeconds: number): { stop(): void } {
  const timer = setInterval(() => {
    renewLease(pool, schema, runId, holder, ttlSeconds).catch(() => undefined);
  }, everySeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * When the run's processor was last heard from, if the run has not finished and nothing works on it any more (its
 * lease expired, was released without the run finishing, or its local process is gone); null while a processor
 * holds it, once it has finished, or for a run with no lease (one started before leases existed).
 */
export function stalledSince(lease: Lease | undefined, status: RunStatus): string | null {
  if (!lease || FINISHED_STATUSES.includes(status)) return null;
  return leaseState(lease) === 'live' ? null : lease.heartbeatAt;
}

/** The run's lease, where the bookkeeping schema has leases at all. */
export async function readLeaseIfAny(pool: pg.Pool, schema: string, runId: string): Promise<Lease | undefined> {
  return (await hasLeaseTable(pool, schema)) ? readLease(pool, schema, runId) : undefined;
}

export { describeStalled };
