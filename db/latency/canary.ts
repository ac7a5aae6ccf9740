import type pg from 'pg';
import { quantile } from '../../core/latency-controller';
import { quoteIdentifier } from '../../core/identifiers';
import type { Queryable } from '../../core/job';

/**
 * The commit-latency canary: a one-row UPDATE of the heartbeat table in the bookkeeping schema, committed with
 * synchronous_commit on, timed from here. Every foreground commit waits for the same WAL flush, CPU and locks of
 * the WAL insert path, so when the backfill slows them this slows too; it works on any Postgres (RDS and Aurora
 * included) and needs nothing but the bookkeeping schema. One round trip: the statements go as one simple query.
 * Without a schema (a bare probe) the commit of an assigned transaction id stands in (it writes and flushes a commit
 * record just the same).
 */
export function canarySql(schema: string | undefined): string {
  const work = schema === undefined
    ? 'SELECT txid_current()'
    : `UPDATE ${quoteIdentifier(schema)}.heartbeat SET beats = beats + 1, beat_at = clock_timestamp() WHERE id = 1`;
  return `BEGIN; SET LOCAL synchronous_commit = on; ${work}; COMMIT`;
}

/** One canary commit; its round trip in milliseconds. */
export async function canaryCommit(db: Queryable | pg.ClientBase, schema: string | undefined): Promise<number> {
  const started = process.hrtime.bigint();
  await (db as Queryable).query(canarySql(schema));
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export interface Calibration {
  /** The p90 of the canary commits (ms): the baseline the latency budget is a multiple of. */
  readonly p90Ms: number;
  readonly p50Ms: number;
  readonly samples: number;
}

/** Measures the canary `samples` times, `spacingMs` apart, on one session: the baseline before the run, or a refresh. */
export async function calibrateCanary(pool: pg.Pool, schema: string, samples: number, spacingMs = 2): Promise<Calibration> {
  const client = await pool.connect();
  const times: number[] = [];
  let broken: Error | undefined;
  try {
    for (let i = 0; i < samples; i += 1) {
      times.push(await canaryCommit(client, schema));
      await new Promise((resolve) => setTimeout(resolve, spacingMs));
    }
  } catch (error) {
    broken = error as Error;
    throw error;
  } finally {
    client.release(broken);
  }
  return { p90Ms: round(quantile(times, 0.9)), p50Ms: round(quantile(times, 0.5)), samples };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
