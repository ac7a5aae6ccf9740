import { BackfillError } from '../../core/errors';
import { readRun, requestAbort } from '../../db/controls';
import { releaseLease } from '../../db/lease';
import { FINISHED_STATUSES } from '../../db/runs';
import { isLocalExecution } from '../../local/run-local';
import { oneLine, parseFlags } from '../args';
import type { Command } from '../command';
import { runningExecutions, sfnClientFor, stopExecution } from '../aws';
import { DATABASE_OPTIONS, DATABASE_USAGE, withRunDatabase } from '../run-database';
import { stalledState, startAgainCommand } from '../stalled';
import { finishedRun, runArgument } from './pause-resume';
import { unknownRun } from './status';

const REASON = 'aborted by the operator (backfill abort)';

/** arn:...:execution:MACHINE:NAME -> arn:...:stateMachine:MACHINE */
function stateMachineOf(executionArn: string): string {
  return executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, '');
}

export const abortCommand: Command = {
  name: 'abort',
  summary: 'abort a run: AWS: StopExecution and mark it aborted; local: it stops at its next probe',
  usage: `usage: backfill abort RUN [options]

Sets the run's abort flag: any execution of the run stops at its next probe, sends the completion event (status
aborted) and ends in its Aborted state. A run on AWS is also stopped at once: every RUNNING execution of the run
(the current one, and a continuation just starting) gets StopExecution, and the run is marked aborted.
Unfinished items stay in the queue (and recorded in the run table); starting the run again with the same run id
resumes from what is done.

An execution stopped by StopExecution does not reach AnnounceAborted, so it sends no "Backfill Run Finished"
event; Step Functions' own "Step Functions Execution Status Change" event (status ABORTED) reports it (README).

options:
${DATABASE_USAGE}
  AWS credentials come from the standard AWS variables; the region is taken from the execution's ARN.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, DATABASE_OPTIONS, 1);
    const runId = runArgument(positionals);
    return withRunDatabase(values, async (db) => {
      const run = await readRun(db.pool, db.schema, runId);
      if (!run) throw await unknownRun(db, runId);
      if (run.status === 'aborted') {
        console.log(`run ${runId} is already aborted; nothing changed`);
        return 0;
      }
      if (FINISHED_STATUSES.includes(run.status)) throw finishedRun(run, 'abort');
      const stalled = await stalledState(db, run);
      if (stalled) {
        // No processor will read the flag: the run is marked aborted now, and its lease freed.
        if (!(await requestAbort(db.pool, db.schema, runId, true, REASON))) throw finishedRun((await readRun(db.pool, db.schema, runId)) ?? run, 'abort');
        await releaseLease(db.pool, db.schema, runId);
        console.log(`run ${runId} was ${stalled}: no processor works on it, so it is marked aborted now. Unfinished items stay recorded: ${startAgainCommand(run)} resumes from what is done.`);
        return 0;
      }
      // The flag first: whatever happens next, every execution of the run stops at its next probe.
      if (!(await requestAbort(db.pool, db.schema, runId, false, REASON))) throw finishedRun((await readRun(db.pool, db.schema, runId)) ?? run, 'abort');
      const current = run.executions.at(-1);
      if (current === undefined || isLocalExecution(current)) {
        console.log(`run ${runId}: abort requested. The local run stops at its next probe (after the batch or wait in progress), prints the completion event and exits 1. Unfinished items stay recorded: backfill run --local --run-id ${runId} resumes from what is done.`);
        return 0;
      }
      const sfn = sfnClientFor(current);
      let executions: Awaited<ReturnType<typeof runningExecutions>>;
      try {
        executions = (await runningExecutions(sfn, stateMachineOf(current))).filter((e) => e.runId === runId);
        for (const e of executions) await stopExecution(sfn, e.executionArn, REASON);
      } catch (error) {
        throw new BackfillError(`run ${runId}: the abort flag is set, so it stops at its next probe, but stopping its execution failed: ${oneLine(error)}`, { cause: error });
      }
      await requestAbort(db.pool, db.schema, runId, true, REASON);
      // Its executions are stopped: the run's lease is free, so starting it again need not wait for it to lapse.
      await releaseLease(db.pool, db.schema, runId);
      const stopped = executions.length > 0 ? `stopped ${executions.map((e) => e.executionArn).join(', ')}` : 'no execution of it was running';
      console.log(`run ${runId}: aborted; ${stopped}. Unfinished items stay in the work queue: backfill start --job ${run.job} --run-id ${runId} resumes from what is done.`);
      return 0;
    });
  },
};
