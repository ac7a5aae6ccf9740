import { checkDeadLettered, fixRedriveResume, IN_ITEMS, keysHolding } from '../dead-letters';
import { query, rowCounts } from '../fixture';
import type { Trial, TrialKind } from '../trial';

/** Rows whose payload is not an integer: the bad-cast job's statement errors on their ranges. */
const BAD_ROWS = [101, 2005, 3999];

async function badData(trial: Trial): Promise<void> {
  await trial.open(4000);
  await query(trial.url, `UPDATE chaos_rows SET payload = 'n/a' WHERE id = ANY($1)`, [BAD_ROWS]);
  const args = trial.runArgs('bad-cast', 20);
  const run = await trial.runToEnd('run', args);
  const exit = await trial.settle('run', run, args, 2);
  const keys = await keysHolding(trial, BAD_ROWS);
  await checkDeadLettered(trial, exit, keys, /invalid input syntax for type integer: "n\/a"/);
  const [good, dead] = [await rowCounts(trial.url, `NOT ${IN_ITEMS}`, [trial.runId, keys]), await rowCounts(trial.url, IN_ITEMS, [trial.runId, keys])];
  trial.check(good.once === good.rows && dead.lost === dead.rows, `before the fix: rows of good items ${JSON.stringify(good)}, of dead-lettered ones ${JSON.stringify(dead)}`);
  await fixRedriveResume(trial, args, 'the bad payloads corrected', () => query(trial.url, 'UPDATE chaos_rows SET payload = id::text WHERE id = ANY($1)', [BAD_ROWS]).then(() => undefined));
}

async function missingColumn(trial: Trial): Promise<void> {
  await trial.open(400);
  const args = trial.runArgs('missing-column', 20);
  const run = await trial.runToEnd('run', args);
  const exit = await trial.settle('run', run, args, 2);
  const keys = (await query<{ key: string }>(trial.url, 'SELECT dedupe_key AS key FROM backfill.items WHERE run_id = $1', [trial.runId])).map((r) => r.key).sort((a, b) => a.localeCompare(b));
  await checkDeadLettered(trial, exit, keys, /column "checked" of relation "chaos_rows" does not exist/);
  const before = await rowCounts(trial.url);
  trial.check(before.lost === before.rows, `before the fix, rows changed: ${JSON.stringify(before)}`);
  await fixRedriveResume(trial, args, 'the column added', () => query(trial.url, 'ALTER TABLE chaos_rows ADD COLUMN checked boolean').then(() => undefined));
}

/**
 * An SQL job whose statement errors: on bad data in 3 of 200 ranges, and on a missing column in all 20 (too few
 * items for the majority-failure halt). Exit 2, exactly those items dead-lettered with the Postgres error, which
 * shows in the run's output and in `status`; then the fix, `dlq redrive --local` and a resume: every row once.
 */
export const sqlErrorTrials: TrialKind = {
  kind: 'SQL errors (bad data, missing column): DLQ, fix, redrive',
  trials: { full: 2, short: 2 },
  run: (trial, index) => (index % 2 === 0 ? badData(trial) : missingColumn(trial)),
};
