import type pg from 'pg';
import { readRunTotals, type RunTotals } from '../db/totals';
import type { RunContext } from './deps';

export type FinalStatus = 'succeeded' | 'failed' | 'aborted';

/** How a run ended, besides its totals. */
interface OutcomeHeader {
  readonly runId: string;
  readonly job: string;
  readonly status: FinalStatus;
  readonly reason: string;
  readonly itemsPlanned: number;
  /** The execution that ended the run. */
  readonly executionId: string;
  readonly finishedAt: string;
}

/**
 * Totals that could not be read when the run ended (the database did not answer): the same fields, each null, and
 * why. The run's totals stay in its bookkeeping tables; `backfill status` shows them once the database answers.
 */
export interface UnavailableTotals {
  readonly itemsSucceeded: null;
  readonly rowsAffected: null;
  readonly itemsFailed: null;
  readonly itemsDeadLettered: null;
  readonly itemsAtLeastOnce: null;
  readonly lastError: null;
  readonly totalsUnavailable: string;
}

/** How a run ended: what the completion event carries and the local summary starts from. */
export type RunOutcome = OutcomeHeader & (RunTotals | UnavailableTotals);

/** The outcome with its totals read now; throws when they cannot be read. */
export async function makeOutcome(pool: pg.Pool, schema: string, run: RunContext, status: FinalStatus, reason: string, executionId: string): Promise<OutcomeHeader & RunTotals> {
  return outcomeWith(run, status, reason, executionId, await readRunTotals(pool, schema, run.runId));
}

/**
 * The outcome whatever the database does: when `readTotals` fails, the totals are marked unavailable with the
 * error, so the completion event still goes out and the run ends as decided. Never throws.
 */
export async function makeOutcomeAnyway(readTotals: () => Promise<RunTotals>, run: RunContext, status: FinalStatus, reason: string, executionId: string): Promise<RunOutcome> {
  let totals: RunTotals | UnavailableTotals;
  try {
    totals = await readTotals();
  } catch (error) {
    totals = { itemsSucceeded: null, rowsAffected: null, itemsFailed: null, itemsDeadLettered: null, itemsAtLeastOnce: null, lastError: null, totalsUnavailable: `reading the run's totals failed: ${(error as Error).message}` };
  }
  return outcomeWith(run, status, reason, executionId, totals);
}

function outcomeWith<T extends RunTotals | UnavailableTotals>(run: RunContext, status: FinalStatus, reason: string, executionId: string, totals: T): OutcomeHeader & T {
  // The event's field order: who, how it ended, the totals, then where and when.
  return { runId: run.runId, job: run.jobName, status, reason, itemsPlanned: run.plannedItems, ...totals, executionId, finishedAt: new Date().toISOString() } as OutcomeHeader & T;
}
