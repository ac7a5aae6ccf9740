import { setTimeout as sleep } from 'node:timers/promises';
import { phaseOf, runProgress, waitFor, waitForShareDone } from '../fixture';
import type { TrialKind } from '../trial';

const ROWS = 20_000;
const CHUNK = 20; // 1,000 items: planning takes a moment, processing about 10 s on an idle machine

/**
 * kill -9 of `backfill run --local` at a random point, then the same command again (the resume), which must end
 * with exit 0. The point is drawn so that every phase is hit whatever the machine's speed: every fourth trial aims
 * at planning (killed as soon as the first planned items are recorded), the next at a random time in the first 3 s
 * (start-up, or wherever the run is by then), the others at a random share of the items done (2% to 98%).
 */
export const killTrials: TrialKind = {
  kind: 'kill -9 at a random point, then resume',
  trials: { full: 20, short: 3 },
  async run(trial, index) {
    await trial.open(ROWS);
    const args = trial.runArgs('counter', CHUNK);
    const first = trial.start(args);
    const aim = ['planning', 'early', 'share', 'share'][index % 4];
    if (aim === 'planning') {
      await waitFor(async () => (await runProgress(trial.url, trial.runId)).items > 0, 60_000, 5);
    } else if (aim === 'early') {
      await sleep(Math.round(300 + Math.random() * 2700));
    } else {
      const share = 0.02 + Math.random() * 0.96;
      trial.details.aimedAtShare = Number(share.toFixed(3));
      await waitForShareDone(trial.url, trial.runId, share, 120_000);
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
