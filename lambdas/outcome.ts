import type pg from 'pg';
import { readRunTotals, type RunTotals } from '../db/totals';
import type { RunContext } from './deps';

export type FinalStatus = 'succeeded' | 'failed' | 'aborted';

/** How a run ended: what the completion event carries and the local summary starts from. */
export interface RunOutcome extends RunTotals {
  readonly runId: string;
  readonly job: string;
  readonly status: FinalStatus;
  readonly reason: string;
  readonly itemsPlanned: number;
  /** The execution that ended the run. */
  readonly executionId: string;
  readonly finishedAt: string;
}

export async function makeOutcome(pool: pg.Pool, schema: string, run: RunContext, status: FinalStatus, reason: string, executionId: string): Promise<RunOutcome> {
  const totals = await readRunTotals(pool, schema, run.runId);
  return { runId: run.runId, job: run.jobName, status, reason, itemsPlanned: run.plannedItems, ...totals, executionId, finishedAt: new Date().toISOString() };
}
