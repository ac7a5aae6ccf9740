import { InvalidInputError } from '../../core/errors';
import { listRecentRuns, readLastQueueSeen, readRecentBatches, readRun, type RunView } from '../../db/controls';
import { countItems } from '../../db/items';
import { readLeaseIfAny, stalledSince } from '../../db/lease';
import { readRunTotals } from '../../db/totals';
import { isLocalExecution } from '../../local/run-local';
import { localEnv } from '../../local/env';
import { queueDepth } from '../../queue/work-queue';
import { numberFlag, oneLine, parseFlags } from '../args';
import type { Command } from '../command';
import { DEPLOYMENT_OPTIONS, DEPLOYMENT_USAGE, resolveDeployment, type DeploymentFlags } from '../deployment';
import { consoleUrl, executionStatus, sfnClientFor, sqsClientFor } from '../aws';
import { DATABASE_OPTIONS, DATABASE_USAGE, withRunDatabase, type RunDatabase } from '../run-database';
import { formatRunList, formatStatusReport, makeStatusReport, type QueueView, type StatusReport } from '../status-report';

const OPTIONS = { ...DATABASE_OPTIONS, ...DEPLOYMENT_OPTIONS, json: { type: 'boolean' }, limit: { type: 'string' } } as const;

function deploymentGiven(flags: DeploymentFlags): boolean {
  return Boolean(flags.stack ?? flags['queue-url'] ?? localEnv.stack ?? localEnv.queueUrl);
}

/** AWS runs: the queues as SQS has them now, when the deployment is known. Local runs: what the last batch saw. */
async function queueOf(db: RunDatabase, run: RunView, local: boolean, flags: DeploymentFlags): Promise<{ queue: QueueView | null; note?: string }> {
  if (!local && deploymentGiven(flags)) {
    try {
      const { queueUrl, deadLetterQueueUrl } = await resolveDeployment(flags, ['queueUrl', 'deadLetterQueueUrl']);
      const [work, dead] = await Promise.all([queueDepth(sqsClientFor(queueUrl!), queueUrl!), queueDepth(sqsClientFor(deadLetterQueueUrl!), deadLetterQueueUrl!)]);
      return { queue: { source: 'sqs', visible: work.visible, inFlight: work.inFlight, delayed: work.delayed, deadLetters: dead.visible + dead.inFlight + dead.delayed } };
    } catch (error) {
      return { queue: null, note: `SQS not read: ${oneLine(error)}` };
    }
  }
  const seen = await readLastQueueSeen(db.pool, db.schema, run.runId);
  const note = local ? undefined : 'give --stack (or --queue-url and --dlq-url) for the depth SQS has now';
  return { queue: seen ? { source: 'last-batch', ...seen } : null, ...(note ? { note } : {}) };
}

/** Everything `backfill status RUN` shows, read from the run table (and, for AWS runs, Step Functions and SQS). */
export async function readStatus(db: RunDatabase, run: RunView, flags: DeploymentFlags): Promise<StatusReport> {
  const current = run.executions.at(-1);
  const local = current === undefined || isLocalExecution(current);
  const [totals, items, batches, queue, lease] = await Promise.all([
    readRunTotals(db.pool, db.schema, run.runId),
    countItems(db.pool, db.schema, run.runId),
    readRecentBatches(db.pool, db.schema, run.runId, 200),
    queueOf(db, run, local, flags),
    readLeaseIfAny(db.pool, db.schema, run.runId),
  ]);
  let execution: { status?: string; consoleUrl?: string } | undefined;
  if (!local) {
    let status: string;
    try {
      status = (await executionStatus(sfnClientFor(current), current)) ?? 'unknown';
    } catch (error) {
      status = `unknown: ${oneLine(error)}`;
    }
    execution = { status, consoleUrl: consoleUrl(current) };
  }
  return makeStatusReport({ run, totals, items, batches, queue: queue.queue, queueNote: queue.note, execution, ...(lease ? { lease } : {}) });
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'a run\'s state, progress, rate, ETA, batch size, health, queues and knobs (or the recent runs)',
  usage: `usage: backfill status [RUN] [options]

Without RUN: the most recent runs. With RUN: its state, progress (done / planned items), rate and ETA (from its
recent batches), current batch size, last health (the checks that are not ok), queue and DLQ depth, the pause and
abort flags, live knobs and executions. Local runs and runs on AWS alike: both keep their record in the run table.

options:
${DATABASE_USAGE}
${DEPLOYMENT_USAGE}
                       (AWS runs: with a deployment, the queue depth is read from SQS now)
  --limit N            runs listed without RUN (default 10)
  --json               print JSON instead`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, OPTIONS, 1);
    const limit = numberFlag('limit', values.limit, 1, 1000, true) ?? 10;
    const [runId] = positionals;
    return withRunDatabase(values, async (db) => {
      if (runId === undefined) {
        const runs = await listRecentRuns(db.pool, db.schema, limit);
        const rows = await Promise.all(runs.map(async (run) => ({ run, items: await countItems(db.pool, db.schema, run.runId), stalled: stalledSince(await readLeaseIfAny(db.pool, db.schema, run.runId), run.status) !== null })));
        if (values.json) console.log(JSON.stringify(await Promise.all(rows.map(({ run }) => readStatus(db, run, values)))));
        else console.log(formatRunList(rows));
        return 0;
      }
      const run = await readRun(db.pool, db.schema, runId);
      if (!run) throw await unknownRun(db, runId);
      const report = await readStatus(db, run, values);
      console.log(values.json ? JSON.stringify(report) : formatStatusReport(report));
      return 0;
    });
  },
};

/** The error for a run id that is not in the run table, naming a few that are. */
export async function unknownRun(db: RunDatabase, runId: string): Promise<InvalidInputError> {
  const recent = await listRecentRuns(db.pool, db.schema, 5);
  const known = recent.length > 0 ? `; recent runs: ${recent.map((r) => r.runId).join(', ')}` : '; the run table is empty';
  return new InvalidInputError('RUN', `no run ${JSON.stringify(runId)} in ${db.schema}.runs${known}`);
}
