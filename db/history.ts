import type pg from 'pg';
import { quoteIdentifier } from '../core/identifiers';
import { ABORTED_BY_OPERATOR, FINISHED_STATUSES, type RunStatus } from './runs';

export type HistoryKind = 'decision' | 'batch';

export interface HistoryEntry {
  readonly id: number;
  readonly at: string;
  readonly kind: HistoryKind;
  readonly data: Record<string, unknown>;
}

export interface DecisionRecord {
  readonly status: RunStatus;
  readonly reason: string;
  /** The health report the decision was made on. */
  readonly health: unknown;
  /** The controller state after the decision. */
  readonly control: unknown;
  /** The history entry: decision, wait, report, and the batch before it. */
  readonly entry: Record<string, unknown>;
}

/** One round trip: the decision goes into the run's history, and the run's row shows it as its latest state. */
export async function recordDecision(pool: pg.Pool, schema: string, runId: string, decision: DecisionRecord): Promise<void> {
  const s = quoteIdentifier(schema);
  await pool.query(
    `WITH entry AS (INSERT INTO ${s}.history (run_id, kind, data) VALUES ($1, 'decision', $6::jsonb))
     UPDATE ${s}.runs
     SET status = $2, reason = $3, last_health = $4::jsonb, control = $5::jsonb, updated_at = now(),
         finished_at = CASE WHEN $2 = ANY($7::text[]) THEN now() ELSE finished_at END
     WHERE run_id = $1 AND NOT ${ABORTED_BY_OPERATOR}`,
    [runId, decision.status, decision.reason, JSON.stringify(decision.health), JSON.stringify(decision.control), JSON.stringify(decision.entry), FINISHED_STATUSES],
  );
}

/** The run's timeline in order, optionally only entries after `afterId` (for following a live run). */
export async function readHistory(pool: pg.Pool, schema: string, runId: string, afterId = 0): Promise<HistoryEntry[]> {
  const { rows } = await pool.query(
    `SELECT id, at, kind, data FROM ${quoteIdentifier(schema)}.history WHERE run_id = $1 AND id > $2 ORDER BY id`,
    [runId, afterId],
  );
  return rows.map((row) => ({ id: Number(row.id), at: (row.at as Date).toISOString(), kind: row.kind, data: row.data }));
}
