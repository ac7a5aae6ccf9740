import { setTimeout as sleep } from 'node:timers/promises';
import { waitForShareDone } from '../fixture';
import type { TrialKind } from '../trial';

const ROWS = 20_000;
const CHUNK = 20;
const OUTAGE_SECONDS = 30;

/** The server stopped (-m fast) for 30 s a third of the way through, then started: the run waits it out, exit 0. */
export const outageTrials: TrialKind = {
  kind: `Postgres outage of ${OUTAGE_SECONDS} s mid-run`,
  trials: { full: 1, short: 1 },
  async run(trial, _index, suite) {
    await trial.open(ROWS);
    const args = trial.runArgs('counter', CHUNK);
    const run = trial.start(args);
    trial.check(await waitForShareDone(trial.url, trial.runId, 1 / 3, 120_000), 'the run never got a third of the way before the outage');
    await suite.server.stop('fast');
    const stopped = Date.now();
    // The process must still be running at the end of the outage: one that died of it is a failure
    let diedAfterMs: number | undefined;
    void run.exited.then(() => (diedAfterMs ??= Date.now() - stopped));
    await sleep(OUTAGE_SECONDS * 1000);
    await suite.server.start();
    trial.steps.push(`server stopped for ${((Date.now() - stopped) / 1000).toFixed(1)} s, then started`);
    if (diedAfterMs !== undefined && diedAfterMs <= OUTAGE_SECONDS * 1000) trial.details.diedDuringOutageAfterMs = diedAfterMs;
    const exit = await trial.ended('run', run, args);
    await trial.settle('run', exit, args, 0);
  },
};
