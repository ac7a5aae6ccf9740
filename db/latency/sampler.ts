import type pg from 'pg';
import { quantile, type LatencySignal } from '../../core/latency-controller';
import { quoteQualifiedName } from '../../core/identifiers';
import type { RunSettings } from '../../core/settings';
import { asQueryable } from '../pool';
import type { CheckContext } from '../health/check';
import { longRunningQueries } from '../health/checks/long-running-queries';
import { replicationLag } from '../health/checks/replication-lag';
import { canaryCommit } from './canary';
import { findLockWaits } from './critical';

/** Canary samples taken while the batch was writing that the signal's quantile is taken over (at 100 ms, about a second). */
export const SIGNAL_WINDOW = 10;
/** Samples taken while the batch was pausing: the reference it is compared with. */
export const IDLE_WINDOW = 10;
/** Idle samples needed before they are the reference (else the calibrated baseline is). */
export const MIN_IDLE_SAMPLES = 3;
/**
 * The signal and the reference are this quantile of their windows: like against like. The median: one commit's
 * latency on a busy machine has a fat tail of its own, and what the backfill does (CPU, WAL flushes) shifts the whole
 * distribution, so the median sees it without reacting to every slow commit.
 */
export const SIGNAL_QUANTILE = 0.5;

const WAL_SQL = `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::float8 AS bytes, EXTRACT(epoch FROM clock_timestamp())::float8 AS at`;
const PREAMBLE = `SELECT current_setting('server_version_num')::int AS version, to_regclass($1)::oid::int8 AS source, pg_is_in_recovery() AS replica`;

export interface SamplerSummary {
  readonly samples: number;
  /** The largest canary commit seen (ms), and the largest signal. */
  readonly maxCanaryMs: number;
  readonly maxSignalMs: number;
  /** The first critical finding, if any. */
  readonly critical?: string;
}

/**
 * Samples, on a session of its own, the commit-latency canary, the WAL position and the critical checks (long
 * queries, lock waits touching the backfill or its table, replica lag) every latency.sampleIntervalMs while a batch
 * runs: the batch reads the latest signal between statements (gh-ost's cached collectors, at 100 ms). A critical
 * lock wait on the batch's own statement cancels that statement, so the batch stops within it. A sample that fails
 * is critical: the batch stops rather than go on blind.
 */
export class LatencySampler {
  private seq = 0;
  private readonly window: number[] = [];
  private readonly idleWindow: number[] = [];
  /** Statements started so far: a sample during which one started or ran counts as taken while writing. */
  private statementSeq = 0;
  private inFlightSince: number | undefined;
  private critical: string | undefined;
  private wal: { bytes: number; at: number } | undefined;
  private walRate: number | undefined;
  private lag: number | undefined;
  private watched: number | undefined;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private maxCanaryMs = 0;
  private maxSignalMs = 0;
  private wake: (() => void) | undefined;
  /** The error that broke the session, if one did: the session is then closed, not returned to the pool. */
  private broken: Error | undefined;

  private constructor(
    private readonly client: pg.PoolClient,
    private readonly schema: string,
    private readonly settings: RunSettings,
    private readonly ctx: Omit<CheckContext, 'previous'>,
    private readonly tableOid: number | null,
    private readonly replica: boolean,
  ) {
    // A session lost while checked out emits 'error': without a listener that would crash the process.
    client.on('error', this.onError);
  }

  private readonly onError = (error: Error): void => {
    this.critical ??= `latency sampler: its session failed: ${error.message}`;
  };

  /** Opens the sampler's session and takes the first sample, so the first statement already has a signal. */
  public static async start(pool: pg.Pool, schema: string, settings: RunSettings, sourceTable: string | undefined): Promise<LatencySampler> {
    const client = await pool.connect();
    try {
      await client.query(`SET statement_timeout = ${Math.trunc(settings.health.probeTimeoutMs)}`);
      const source = sourceTable === undefined ? null : quoteQualifiedName('source.table', sourceTable);
      const { rows } = await client.query<{ version: number; source: string | null; replica: boolean }>(PREAMBLE, [source]);
      const oid = rows[0].source === null ? null : Number(rows[0].source);
      const ctx = { db: asQueryable(client), settings: settings.health, serverVersion: rows[0].version, bookkeepingSchema: schema, ...(oid !== null ? { sourceTable: { name: sourceTable!, oid } } : {}) };
      const sampler = new LatencySampler(client, schema, settings, ctx, oid, rows[0].replica);
      await sampler.sample();
      sampler.loop = sampler.run();
      return sampler;
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  }

  /** The latest signal. A canary still in flight longer than the window's quantile counts as that long already. */
  public signal(now = Date.now()): LatencySignal {
    const windowed = quantile(this.window.length > 0 ? this.window : this.idleWindow, SIGNAL_QUANTILE);
    const inFlight = this.inFlightSince === undefined ? 0 : now - this.inFlightSince;
    const canaryMs = Math.max(windowed, inFlight);
    const extra = inFlight > this.settings.latency.sampleIntervalMs ? Math.floor(inFlight / this.settings.latency.sampleIntervalMs) : 0;
    this.maxSignalMs = Math.max(this.maxSignalMs, canaryMs);
    return {
      seq: this.seq + extra,
      canaryMs,
      ...(this.idleWindow.length >= MIN_IDLE_SAMPLES ? { idleMs: quantile(this.idleWindow, SIGNAL_QUANTILE) } : {}),
      ...(this.walRate !== undefined ? { walBytesPerSecond: this.walRate } : {}),
      ...(this.lag !== undefined ? { replicationLagSeconds: this.lag } : {}),
      ...(this.critical !== undefined ? { critical: this.critical } : {}),
    };
  }

  /** The backend running the batch's statement now (undefined between statements): cancelled when it is in a critical lock wait. */
  public watch(pid: number | undefined): void {
    this.watched = pid;
    if (pid !== undefined) this.statementSeq += 1;
    // A new statement may start waiting at once: look again without waiting out the period.
    if (pid !== undefined) this.wake?.();
  }

  public async stop(): Promise<SamplerSummary> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    this.client.off('error', this.onError);
    this.client.release(this.broken);
    return { samples: this.seq, maxCanaryMs: round(this.maxCanaryMs), maxSignalMs: round(this.maxSignalMs), ...(this.critical !== undefined ? { critical: this.critical } : {}) };
  }

  private async run(): Promise<void> {
    const period = this.settings.latency.sampleIntervalMs;
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, period);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      if (this.stopped) return;
      try {
        await this.sample();
      } catch (error) {
        this.critical ??= `latency sampler: ${(error as Error).message}`;
        this.broken = error as Error;
        this.inFlightSince = undefined;
        return;
      }
    }
  }

  private async sample(): Promise<void> {
    const started = Date.now();
    const writingAtStart = this.watched !== undefined;
    const seqAtStart = this.statementSeq;
    this.inFlightSince = started;
    const ms = await canaryCommit(this.client, this.schema);
    this.inFlightSince = undefined;
    this.maxCanaryMs = Math.max(this.maxCanaryMs, ms);
    // Taken while the batch wrote, or while it paused: the difference is what the backfill costs a commit now, with
    // whatever else the database is doing the same on both sides.
    const writing = writingAtStart || this.watched !== undefined || this.statementSeq !== seqAtStart;
    const window = writing ? this.window : this.idleWindow;
    window.push(ms);
    if (window.length > (writing ? SIGNAL_WINDOW : IDLE_WINDOW)) window.shift();
    const health = this.settings.health;
    const findings: string[] = [];
    const locks = await findLockWaits(this.ctx.db, this.ctx.serverVersion, this.tableOid, this.settings.latency.lockWaitMs, health);
    if (locks.critical) {
      // Set before the cancel: the batch reads it when its cancelled statement comes back.
      this.critical ??= locks.critical;
      const own = this.watched;
      // Our own statement is in the wait (waiting, or being waited on): cancel it, so the batch stops within it.
      if (own !== undefined && locks.backfillPids.includes(own)) await this.client.query('SELECT pg_cancel_backend($1)', [own]);
    }
    if (health.longRunningQueries.enabled) {
      const long = await longRunningQueries.measure({ ...this.ctx, previous: undefined });
      if (long.verdict === 'critical') findings.push(`longRunningQueries: a query has run ${Math.round(long.value * 10) / 10}s (>= ${health.longRunningQueries.criticalSeconds}s)`);
    }
    if (health.replicationLag.enabled) {
      const lag = await replicationLag.measure({ ...this.ctx, previous: undefined });
      this.lag = lag.value;
      if (lag.verdict === 'critical') findings.push(`replicationLag: ${Math.round(lag.value * 10) / 10}s (>= ${health.replicationLag.criticalSeconds}s)`);
    }
    if (!this.replica) {
      const { rows } = await this.client.query<{ bytes: number; at: number }>(WAL_SQL);
      const now = rows[0];
      if (this.wal && now.at > this.wal.at && now.bytes >= this.wal.bytes) {
        const rate = (now.bytes - this.wal.bytes) / (now.at - this.wal.at);
        // A short average (about a second) so one checkpoint's burst of full-page images does not decide alone.
        this.walRate = this.walRate === undefined ? rate : this.walRate + 0.3 * (rate - this.walRate);
      }
      this.wal = now;
    }
    if (findings.length > 0) this.critical ??= findings.join('; ');
    this.seq += 1;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
