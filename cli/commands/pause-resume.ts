import { InvalidInputError } from '../../core/errors';
import { resolveSettings } from '../../core/settings';
import { readRun, setPaused, type RunView } from '../../db/controls';
import { FINISHED_STATUSES } from '../../db/runs';
import { parseFlags } from '../args';
import type { Command } from '../command';
import { DATABASE_OPTIONS, DATABASE_USAGE, withRunDatabase } from '../run-database';
import { stalledState, startAgainCommand } from '../stalled';
import { unknownRun } from './status';

/** The one RUN argument of the commands that steer a run. */
export function runArgument(positionals: readonly string[]): string {
  const [runId] = positionals;
  if (runId === undefined) throw new InvalidInputError('arguments', 'give the run id (backfill status lists the recent runs)');
  return runId;
}

/** The error for steering a run that has ended: only starting it again (same run id) brings it back. */
export function finishedRun(run: RunView, what: string): InvalidInputError {
  return new InvalidInputError('RUN', `run ${run.runId} has ended (${run.status}): nothing to ${what}. Starting it again with the same run id resumes its work`);
}

/** How often a paused run reads the flag, with the live knobs: resume takes effect within this. */
function pollSeconds(run: RunView): number {
  try {
    return resolveSettings(run.settings, run.knobs).pausePollSeconds;
  } catch {
    return run.settings.pausePollSeconds;
  }
}

async function steerPause(argv: readonly string[], paused: boolean): Promise<number> {
  const { values, positionals } = parseFlags(argv, DATABASE_OPTIONS, 1);
  const runId = runArgument(positionals);
  return withRunDatabase(values, async (db) => {
    const before = await readRun(db.pool, db.schema, runId);
    if (!before) throw await unknownRun(db, runId);
    if (FINISHED_STATUSES.includes(before.status)) throw finishedRun(before, paused ? 'pause' : 'resume');
    if (before.paused === paused) {
      console.log(`run ${runId} is already ${paused ? 'paused' : 'not paused'}; nothing changed`);
      return 0;
    }
    const after = await setPaused(db.pool, db.schema, runId, paused);
    if (!after) throw finishedRun((await readRun(db.pool, db.schema, runId)) ?? before, paused ? 'pause' : 'resume');
    const stalled = await stalledState(db, after);
    if (stalled) {
      // Nothing runs it: say so rather than claim the flag takes effect at a probe that will not come.
      console.log(
        paused
          ? `run ${runId}: the pause flag is recorded, but the run is ${stalled}: no processor works on it, so nothing was running to pause. Starting it again (${startAgainCommand(after)}) clears the flag, since starting a run asks it to go; pause it once it runs.`
          : `run ${runId}: the pause flag is cleared, but the run is ${stalled}: no processor works on it, so it goes on only when started again: ${startAgainCommand(after)}`,
      );
      return 0;
    }
    console.log(
      paused
        ? `run ${runId}: paused. Its next probe holds it: the batch in progress finishes (or its items come back to the queue), and nothing more is received until backfill resume ${runId}. No backoff budget or retries are spent while paused.`
        : `run ${runId}: resumed. It goes on at its next probe, within ${pollSeconds(after)}s (pausePollSeconds).`,
    );
    return 0;
  });
}

const USAGE = (name: string, text: string) => `usage: backfill ${name} RUN [options]\n\n${text}\n\noptions:\n${DATABASE_USAGE}`;

export const pauseCommand: Command = {
  name: 'pause',
  summary: 'pause a run at its next probe; nothing is lost (backfill resume goes on)',
  usage: USAGE('pause', 'Sets the pause flag the run reads at every probe. A paused run waits in its Paused state, re-reading the flag\nevery pausePollSeconds: it receives nothing, spends no backoff budget, and its items stay in the queue.'),
  run: (argv) => steerPause(argv, true),
};

export const resumeCommand: Command = {
  name: 'resume',
  summary: 'let a paused run go on',
  usage: USAGE('resume', 'Clears the pause flag; the run goes on at its next probe (within pausePollSeconds).'),
  run: (argv) => steerPause(argv, false),
};
