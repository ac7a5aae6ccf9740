import { setTimeout as sleep } from 'node:timers/promises';
import { describeExit, exitWithin, lastLines } from '../backfill';
import type { TrialKind } from '../trial';

/**
 * The same `run --local` twice at once on one run id (the second started 0 to 3 s after the first): exactly one
 * proceeds to exit 0, the other refuses (non-zero, naming the lease), and every row changes once.
 */
export const twoProcessTrials: TrialKind = {
  kind: 'two processes on one run id',
  trials: { full: 3, short: 1 },
  async run(trial, index, suite) {
    await trial.open(20_000);
    const args = trial.runArgs('counter', 20);
    const first = trial.start(args);
    const delay = index === 0 ? 0 : Math.round(Math.random() * 3000);
    await sleep(delay);
    const second = trial.start(args);
    const [a, b] = await Promise.all([exitWithin(first, suite.hangMs), exitWithin(second, suite.hangMs)]);
    trial.details.secondStartedAfterMs = delay;
    trial.steps.push(`first run: ${describeExit(a)} (${lastLines(a, 1)})`, `second run, ${delay} ms later: ${describeExit(b)} (${lastLines(b, 1)})`);
    const exits = [a, b].map((e) => (e === 'hung' ? 'hung' : e.code));
    const proceeded = exits.filter((c) => c === 0).length;
    const refusal = [a, b].find((e) => e !== 'hung' && e.code !== 0);
    trial.check(proceeded === 1, proceeded === 2 ? 'both processes proceeded and reported success' : `no process ended with exit 0 (${exits.join(', ')})`);
    trial.check(refusal !== undefined && refusal !== 'hung' && /lease/i.test(refusal.stderr), `the other process did not refuse naming the lease: ${refusal ? lastLines(refusal) : 'none refused'}`);
    if (refusal && refusal !== 'hung') trial.details.refusal = lastLines(refusal, 1);
    if (proceeded === 0) {
      const resumed = await trial.runToEnd('resume (same command)', args);
      await trial.settle('resume (same command)', resumed, args, 0);
    }
  },
};
