import { waitForShareDone } from '../fixture';
import type { TrialKind } from '../trial';

const ROWS = 20_000;
const CHUNK = 20;

/** `pg_ctl restart -m MODE` once a third of the run is done: the same process must carry on and end with exit 0. */
function restartTrials(mode: 'fast' | 'immediate'): TrialKind {
  return {
    kind: `Postgres restart -m ${mode} mid-run`,
    trials: { full: 3, short: 1 },
    async run(trial, _index, suite) {
      await trial.open(ROWS);
      const args = trial.runArgs('counter', CHUNK);
      const run = trial.start(args);
      const reached = await waitForShareDone(trial.url, trial.runId, 1 / 3, 120_000);
      trial.check(reached, 'the run never got a third of the way before the restart');
      const restarting = Date.now();
      await suite.server.restart(mode);
      trial.steps.push(`pg_ctl restart -m ${mode}: back after ${Date.now() - restarting} ms`);
      const exit = await trial.ended('run', run, args);
      await trial.settle('run', exit, args, 0);
    },
  };
}

export const fastRestartTrials = restartTrials('fast');
export const immediateRestartTrials = restartTrials('immediate');
