import { waitForShareDone } from '../fixture';
import type { Trial, TrialKind } from '../trial';

/** Producer items whose ranges overlap planned ones (keys of their own): early rows, and rows near the end. */
const OVERLAPPING = [
  { dedupeKey: 'extra:1-501', range: { lo: '1', hi: '501' } },
  { dedupeKey: 'extra:1990-2110', range: { lo: '1990', hi: '2110' } },
  { dedupeKey: 'extra:19000-19100', range: { lo: '19000', hi: '19100' } },
];

async function enqueue(trial: Trial): Promise<void> {
  const input = OVERLAPPING.map((item) => JSON.stringify(item)).join('\n');
  const exit = await trial.command('enqueue --local (overlapping)', ['enqueue', '--local', '--database-url', trial.url, '--run-id', trial.runId], input);
  if (exit === 'hung') return trial.check(false, 'enqueue hung');
  trial.details.enqueue = { exit: exit.code, said: `${exit.stdout}${exit.stderr}`.trim().slice(0, 400) };
  // Refused (naming what overlaps) or accepted (to be split): either way nothing may be applied twice
  if (exit.code !== 0) trial.check(/extra:1-501|overlap/i.test(exit.stderr), `enqueue refused without naming the overlap: ${exit.stderr.slice(-300)}`);
}

/**
 * `backfill enqueue --local` of ranges overlapping the run's planned ones, after the run finished or while it runs;
 * then the same run command again (which processes what was accepted): exit 0 and every row changed once.
 */
export const overlapTrials: TrialKind = {
  kind: 'overlapping enqueue',
  trials: { full: 2, short: 2 },
  async run(trial, index, suite) {
    await trial.open(20_000);
    const args = trial.runArgs('counter', 20);
    if (index % 2 === 0) {
      trial.details.when = 'after the run finished';
      const run = await trial.runToEnd('run', args);
      await trial.settle('run', run, args, 0);
      await enqueue(trial);
    } else {
      trial.details.when = 'while the run runs';
      const running = trial.start(args);
      trial.check(await waitForShareDone(trial.url, trial.runId, 0.2, 120_000), 'the run never got a fifth of the way');
      await enqueue(trial);
      await trial.settle('run', await trial.ended('run', running, args), args, 0);
    }
    const again = await trial.runToEnd('the same command again', args);
    await trial.settle('the same command again', again, args, 0);
  },
};
