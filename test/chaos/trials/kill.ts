import { setTimeout as sleep } from 'node:timers/promises';
import { phaseOf, runProgress, waitFor } from '../fixture';
import type { TrialKind } from '../trial';

const ROWS = 20_000;
const CHUNK = 20; // 1,000 items: planning takes a moment, processing about 10 s on an idle machine

/**
 * kill -9 of `backfill run --local` at a random point, then the same command again (the resume), which must end
 * with exit 0. Every fourth trial aims at planning: it kills as soon as the first planned items are recorded.
 */
export const killTrials: TrialKind = {
  kind: 'kill -9 at a random point, then resume',
  trials: { full: 20, short: 3 },
  async run(trial, index) {
    await trial.open(ROWS);
    const args = trial.runArgs('counter', CHUNK);
    const first = trial.start(args);
    const aim = index % 4 === 0 ? 'planning' : 'random';
    if (aim === 'planning') {
      await waitFor(async () => (await runProgress(trial.url, trial.runId)).items > 0, 60_000, 5);
    } else {
      // Anywhere from start-up to the end of an undisturbed run (about 12 s with start-up)
      await sleep(Math.round(500 + Math.random() * 12_000));
    }
    const at = await runProgress(trial.url, trial.runId);
    first.kill9();
    const killed = await first.exited;
    trial.details.aim = aim;
    trial.details.killedIn = killed.signal === 'SIGKILL' ? phaseOf(at) : `ended before the kill (${killed.code})`;
    trial.details.progressAtKill = at;
    trial.steps.push(`run: ${killed.signal === 'SIGKILL' ? `killed -9 in ${phaseOf(at)} (${at.done} of ${at.planned ?? `${at.items}+`} items done)` : `exit ${killed.code} before the kill`}`);
    const resumed = await trial.runToEnd('resume (same command)', args);
    await trial.settle('resume (same command)', resumed, args, 0);
  },
};
