import type { Exit } from './backfill';
import { query } from './fixture';
import type { Trial } from './trial';

export interface DeadLetter {
  readonly dedupeKey: string;
  readonly reason: string;
}

/** `backfill dlq list --local --json`: the run's dead-lettered items with their reasons. */
export async function listDeadLetters(trial: Trial): Promise<DeadLetter[]> {
  const exit = await trial.command('dlq list --local', ['dlq', 'list', '--local', '--database-url', trial.url, '--run-id', trial.runId, '--limit', '1000', '--json']);
  if (exit === 'hung' || exit.code !== 0) return [];
  const listed = JSON.parse(exit.stdout) as { items: DeadLetter[] };
  return listed.items.map(({ dedupeKey, reason }) => ({ dedupeKey, reason })).sort((a, b) => a.dedupeKey.localeCompare(b.dedupeKey));
}

/** The dedupe keys of the planned items holding these rows. */
export async function keysHolding(trial: Trial, ids: readonly number[]): Promise<string[]> {
  const rows = await query<{ key: string }>(trial.url, `SELECT DISTINCT dedupe_key AS key FROM backfill.items WHERE run_id = $1 AND EXISTS (
    SELECT 1 FROM unnest($2::bigint[]) id WHERE id >= (body->'range'->>'lo')::bigint AND id < (body->'range'->>'hi')::bigint) ORDER BY 1`, [trial.runId, ids]);
  return rows.map((r) => r.key).sort((a, b) => a.localeCompare(b));
}

/** A rowCounts filter: the rows of the run's items with these dedupe keys ($1 the run id, $2 the keys). */
export const IN_ITEMS = `id IN (SELECT c.id FROM chaos_rows c JOIN backfill.items i ON c.id >= (i.body->'range'->>'lo')::bigint
  AND c.id < (i.body->'range'->>'hi')::bigint WHERE i.run_id = $1 AND i.dedupe_key = ANY($2))`;

/**
 * The run ended with exactly `keys` dead-lettered, each with a reason matching `reason`, that reason also shown
 * where a user looks (the run's own output and `backfill status`), and no other item charged with a final failure.
 */
export async function checkDeadLettered(trial: Trial, run: Exit | 'hung', keys: readonly string[], reason: RegExp): Promise<void> {
  const dead = await listDeadLetters(trial);
  trial.details.deadLettered = dead.length;
  trial.check(JSON.stringify(dead.map((d) => d.dedupeKey)) === JSON.stringify(keys), `dead-lettered ${JSON.stringify(dead.map((d) => d.dedupeKey).slice(0, 10))}, expected ${JSON.stringify(keys.slice(0, 10))}`);
  const wrong = dead.filter((d) => !reason.test(d.reason));
  trial.check(wrong.length === 0, `dead-lettered with another reason than ${reason}: ${JSON.stringify(wrong.slice(0, 3))}`);
  const charged = await query<{ key: string }>(trial.url, 'SELECT DISTINCT dedupe_key AS key FROM backfill.failures WHERE run_id = $1 AND final ORDER BY 1', [trial.runId]);
  const innocent = charged.map((c) => c.key).filter((k) => !keys.includes(k));
  trial.check(innocent.length === 0, `${innocent.length} good items carry a final failure: ${JSON.stringify(innocent.slice(0, 5))}`);
  trial.check(run !== 'hung' && reason.test(run.stderr), `the reason (${reason}) is not in the run's output: ${run === 'hung' ? 'hung' : JSON.stringify(run.stderr.slice(-300))}`);
  const status = await trial.command('status', ['status', trial.runId, '--database-url', trial.url]);
  trial.check(status !== 'hung' && reason.test(status.stdout + status.stderr), `the reason (${reason}) is not in \`backfill status\``);
}

/** The operator's way out: fix the cause, `backfill dlq redrive --local`, then the same run command (a resume), exit 0. */
export async function fixRedriveResume(trial: Trial, args: readonly string[], what: string, fix: () => Promise<void>): Promise<void> {
  await fix();
  trial.steps.push(`fix: ${what}`);
  const redrive = await trial.command('dlq redrive --local', ['dlq', 'redrive', '--local', '--database-url', trial.url, '--run-id', trial.runId]);
  trial.check(redrive !== 'hung' && redrive.code === 0, 'dlq redrive --local failed');
  const resumed = await trial.runToEnd('resume (same command)', args);
  await trial.settle('resume (same command)', resumed, args, 0);
}
