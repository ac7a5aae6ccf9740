import { InvalidInputError } from '../../core/errors';
import { parseProducerLines } from '../../core/producer-lines';
import { assertRunId, type WorkItem } from '../../core/work-item';
import { recordItemsRefusingOverlaps } from '../../db/overlaps';
import { ensureBookkeeping } from '../../db/schema';
import { sendItems } from '../../queue/work-queue';
import { parseFlags } from '../args';
import type { Command } from '../command';
import { resolveDeployment } from '../deployment';
import { schemaOf } from '../run-database';
import { databaseUrlOf, TARGET_OPTIONS, TARGET_USAGE, withPool, withSqs } from '../targets';

const OPTIONS = { ...TARGET_OPTIONS, json: { type: 'boolean' } } as const;

/** Items per INSERT or per round of SendMessageBatch calls. */
const GROUP = 1000;

const USAGE = `usage: backfill enqueue [--run-id ID] [target options] < items.jsonl

Reads work items as JSON lines from stdin, one item a line:
  {"v":1,"runId":"fill-2026-11-22","dedupeKey":"user:42:welcome","payload":{"userId":"42"}}
  {"dedupeKey":"range:1-1001","range":{"lo":"1","hi":"1001"}}        (with --run-id; v defaults to 1)
Every line is checked first; if any is bad, the error names each bad line and field, and nothing is enqueued.
Items whose key ranges overlap work already recorded for the run (its planned ranges, items enqueued before) are
refused the same way, naming the overlapping keys: a range is never applied twice. On AWS that check (and the
run's progress) needs the run's database: give --database-url; without it the items are only sent.
  --run-id ID   fills in runId on lines without one; a line with a different runId is an error
  --json        print {"enqueued", "runIds"} as JSON

On AWS the items are sent to the work queue: start (or resume) the run with that runId to process them; a run ends
once it finds its queue empty. With --local they are recorded in the run's items, and the next
\`backfill run --local --job PATH --run-id ID\` processes them.

${TARGET_USAGE}`;

export const enqueueCommand: Command = {
  name: 'enqueue',
  summary: 'publish work items from stdin (JSON lines) to a run (AWS, or --local)',
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, OPTIONS);
    const runId = values['run-id'] === undefined ? undefined : assertRunId('--run-id', values['run-id']);
    if (process.stdin.isTTY) throw new InvalidInputError('stdin', 'pipe the work items in as JSON lines, e.g. `backfill enqueue --run-id ID < items.jsonl`');
    const items = parseProducerLines(await readStdin(), runId);
    const runIds = [...new Set(items.map((item) => item.runId))];
    if (items.length === 0) {
      report(values.json ?? false, 0, [], 'no work items on stdin; nothing enqueued');
      return 0;
    }
    if (values.local) {
      const databaseUrl = databaseUrlOf(values);
      if (!databaseUrl) throw new InvalidInputError('--database-url', 'is required with --local (or set DATABASE_URL): the items are recorded in the run\'s Postgres');
      const schema = schemaOf(values);
      const recorded = await recordRefusingOverlaps(databaseUrl, schema, items);
      const already = items.length - recorded;
      report(values.json ?? false, recorded, runIds, `recorded ${recorded} item${recorded === 1 ? '' : 's'} for run ${runIds.join(', ')}${already > 0 ? ` (${already} already recorded under the same dedupe key)` : ''}; the next \`backfill run --local --job PATH --run-id ID\` processes them`);
      return 0;
    }
    const deployment = await resolveDeployment(values, ['queueUrl']);
    // With the run's database at hand the items are recorded first, refused if they overlap its recorded work, and
    // counted in its progress; without it they are only sent (the batch processor still refuses a range that
    // overlaps work already done).
    const databaseUrl = databaseUrlOf(values);
    if (databaseUrl) await recordRefusingOverlaps(databaseUrl, schemaOf(values), items);
    else console.error('note: no --database-url (or DATABASE_URL): the items are sent without being recorded for the run, so overlaps with its recorded work are not checked now and its progress leaves them out; the batch processor still refuses a range that overlaps work already done');
    await withSqs(async (sqs) => {
      for (const group of groups(items)) await sendItems(sqs, deployment.queueUrl!, group);
    });
    report(values.json ?? false, items.length, runIds, `enqueued ${items.length} item${items.length === 1 ? '' : 's'} for run ${runIds.join(', ')}${databaseUrl ? ' (recorded for the run)' : ''}; a run processes them while it runs (start or resume it with that runId)`);
    return 0;
  },
};

/** Records the items for their runs, all refused when one overlaps recorded work (or another of them). */
async function recordRefusingOverlaps(databaseUrl: string, schema: string, items: readonly WorkItem[]): Promise<number> {
  return withPool(databaseUrl, async (pool) => {
    await ensureBookkeeping(pool, schema);
    // One transaction for all of them: an overlap anywhere leaves nothing recorded.
    return recordItemsRefusingOverlaps(pool, schema, items);
  });
}

function report(json: boolean, enqueued: number, runIds: readonly string[], text: string): void {
  console.log(json ? JSON.stringify({ enqueued, runIds }) : text);
}

function groups(items: readonly WorkItem[]): WorkItem[][] {
  const out: WorkItem[][] = [];
  for (let i = 0; i < items.length; i += GROUP) out.push(items.slice(i, i + GROUP));
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
