import { checkDeadLettered, fixRedriveResume, IN_ITEMS, keysHolding } from '../dead-letters';
import { query, rowCounts } from '../fixture';
import type { TrialKind } from '../trial';

const POISONED = [1234];

/**
 * A code job whose process() throws for any batch holding the poison item: the run must isolate it (exit 2, only it
 * dead-lettered, with its own error; every other row once), then the fix, `dlq redrive --local` and a resume.
 */
export const poisonTrials: TrialKind = {
  kind: 'poison item (process() throws), fix, redrive',
  trials: { full: 2, short: 1 },
  async run(trial) {
    await trial.open(4000);
    await query(trial.url, 'CREATE TABLE chaos_poison (id bigint PRIMARY KEY)');
    await query(trial.url, 'INSERT INTO chaos_poison SELECT unnest($1::bigint[])', [POISONED]);
    const args = trial.runArgs('poison', 20);
    const run = await trial.runToEnd('run', args);
    const exit = await trial.settle('run', run, args, 2);
    const keys = await keysHolding(trial, POISONED);
    await checkDeadLettered(trial, exit, keys, /poisoned row 1234/);
    const [good, dead] = [await rowCounts(trial.url, `NOT ${IN_ITEMS}`, [trial.runId, keys]), await rowCounts(trial.url, IN_ITEMS, [trial.runId, keys])];
    trial.check(good.once === good.rows && dead.lost === dead.rows, `before the fix: rows of good items ${JSON.stringify(good)}, of the poison item ${JSON.stringify(dead)}`);
    await fixRedriveResume(trial, args, 'the poison removed', () => query(trial.url, 'DELETE FROM chaos_poison').then(() => undefined));
  },
};
