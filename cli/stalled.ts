import type { RunView } from '../db/controls';
import { describeStalled, readLeaseIfAny, stalledSince } from '../db/lease';
import { isLocalExecution } from '../local/run-local';
import type { RunDatabase } from './run-database';

/**
 * `stalled (no heartbeat since T)` when the run has not finished but no processor works on it any more (its
 * process died, its execution failed), else null: what the operator commands say before claiming any effect.
 */
export async function stalledState(db: RunDatabase, run: RunView): Promise<string | null> {
  const since = stalledSince(await readLeaseIfAny(db.pool, db.schema, run.runId), run.status);
  return since === null ? null : describeStalled(since);
}

/** The command that takes a run up again: the same run id, locally or on AWS, as it last ran. */
export function startAgainCommand(run: RunView): string {
  const current = run.executions.at(-1);
  return current === undefined || isLocalExecution(current)
    ? `backfill run --local --job PATH --run-id ${run.runId}`
    : `backfill start --job ${run.job} --run-id ${run.runId}`;
}
