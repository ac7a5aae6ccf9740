import { query } from '../fixture';
import type { TrialKind } from '../trial';

/** A code job whose every tenth item asks for a retry the first time: it must come back, succeed, and the run exit 0. */
export const retryTrials: TrialKind = {
  kind: 'items asking for a retry once',
  trials: { full: 3, short: 1 },
  async run(trial) {
    await trial.open(4000);
    await query(trial.url, 'CREATE TABLE chaos_retry (lo bigint PRIMARY KEY)');
    await query(trial.url, 'CREATE TABLE chaos_retry_seen (lo bigint PRIMARY KEY)');
    // Ranges of 20 rows start at 1, 21, 41, ...: every tenth of them (20 of 200)
    await query(trial.url, 'INSERT INTO chaos_retry SELECT g FROM generate_series(1, 4000, 200) g');
    const args = trial.runArgs('retry-once', 20);
    const run = await trial.runToEnd('run', args);
    await trial.settle('run', run, args, 0);
    const [seen] = await query<{ n: string }>(trial.url, 'SELECT count(*) AS n FROM chaos_retry_seen');
    trial.details.retriedItems = Number(seen.n);
    trial.check(Number(seen.n) === 20, `${seen.n} of the 20 items asked for their retry`);
  },
};
