import type pg from 'pg';
import { InvalidInputError } from '../../core/errors';
import { quoteIdentifier } from '../../core/identifiers';
import { countItems, purgeDeadItems, readDeadItems, requeueDeadItems } from '../../db/items';
import { readLastFailures } from '../../db/last-failures';
import { explainDeadLetters, type ExplainedDeadLetter } from '../../queue/dead-letter-reasons';
import { countMessages, followRedrive, MAX_REDRIVE_RATE, peekDeadLetters, purgeDeadLetters, startRedrive } from '../../queue/dead-letters';
import { numberFlag, oneLine, parseFlags } from '../args';
import type { Command } from '../command';
import { resolveDeployment } from '../deployment';
import { schemaOf } from '../run-database';
import { databaseUrlOf, localTarget, TARGET_OPTIONS, TARGET_USAGE, withPool, withSqs } from '../targets';

const ACTIONS = ['list', 'redrive', 'purge'] as const;
type Action = (typeof ACTIONS)[number];

const OPTIONS = {
  ...TARGET_OPTIONS,
  limit: { type: 'string' },
  rate: { type: 'string' },
  'no-wait': { type: 'boolean' },
  yes: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type Flags = ReturnType<typeof parseFlags<typeof OPTIONS>>['values'];

/** Which flags each action takes, so a flag given to the wrong one is an error, not ignored. */
const ACTION_FLAGS: Record<Action, readonly string[]> = { list: ['limit'], redrive: ['rate', 'no-wait'], purge: ['yes'] };

const USAGE = `usage: backfill dlq list [--limit N] [--json]
       backfill dlq redrive [--rate N] [--no-wait] [--json]
       backfill dlq purge --yes

  list      how many items are in the dead-letter queue, and up to --limit of them (default 10) with their reasons.
            On AWS, items SQS moved after maxReceiveCount carry no reason: it is looked up in the failure audit
            when --database-url (or DATABASE_URL) reaches the database.
  redrive   moves the DLQ's items back to the work queue (an SQS message move task), at most --rate N a second
            (1 to ${MAX_REDRIVE_RATE}; default SQS's own), and follows its progress unless --no-wait. The effects of
            items already done are not repeated: their dedupe keys are claimed. With --local: marks the run's dead
            items requeued, for its next \`backfill run --local --run-id ID\` (no --rate: that run paces them).
  purge     deletes every item in the DLQ for good; refuses without --yes.

${TARGET_USAGE}`;

export const dlqCommand: Command = {
  name: 'dlq',
  summary: 'the dead-letter queue: list, redrive, purge (AWS, or --local)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, OPTIONS, 1);
    const action = positionals[0] as Action | undefined;
    if (!action || !ACTIONS.includes(action)) {
      throw new InvalidInputError('arguments', `name an action: ${ACTIONS.join(', ')}${action ? `; got ${JSON.stringify(action)}` : ''}`);
    }
    for (const other of ACTIONS.filter((a) => a !== action)) {
      const misplaced = ACTION_FLAGS[other].find((flag) => values[flag as keyof Flags] !== undefined);
      if (misplaced) throw new InvalidInputError(`--${misplaced}`, `belongs to \`backfill dlq ${other}\`, not ${action}`);
    }
    const limit = numberFlag('limit', values.limit, 1, 1000, true) ?? 10;
    const rate = numberFlag('rate', values.rate, 1, MAX_REDRIVE_RATE, true);
    if (action === 'purge' && !values.yes) {
      throw new InvalidInputError('--yes', 'is required: purge deletes every item in the dead-letter queue for good (see them first with `backfill dlq list`)');
    }
    if (values.local) {
      if (rate !== undefined) {
        throw new InvalidInputError('--rate', 'applies to AWS only: a local redrive marks the items for the next `backfill run --local --run-id ID`, whose controller paces them like any other items');
      }
      if (values['no-wait']) throw new InvalidInputError('--no-wait', 'applies to AWS only: a local redrive is done when the command returns');
      const target = localTarget(values);
      return withPool(target.databaseUrl, (pool) => runLocal(action, pool, target.schema, target.runId, limit, values.json ?? false));
    }
    if (values['run-id']) throw new InvalidInputError('--run-id', 'applies to --local only: the AWS dead-letter queue holds every run\'s items, and list shows each item\'s run');
    const deployment = await resolveDeployment(values, action === 'redrive' ? ['queueUrl', 'deadLetterQueueUrl'] : ['deadLetterQueueUrl']);
    const dlqUrl = deployment.deadLetterQueueUrl!;
    return withSqs(async (sqs) => {
      if (action === 'list') {
        const count = await countMessages(sqs, dlqUrl);
        const letters = count === 0 ? [] : await peekDeadLetters(sqs, dlqUrl, limit);
        const items = await withReasons(values, letters);
        return printList(values.json ?? false, { count, items }, `${count} item${count === 1 ? '' : 's'} in the dead-letter queue`);
      }
      if (action === 'purge') {
        const count = await purgeDeadLetters(sqs, dlqUrl);
        console.log(`purge started: about ${count} item${count === 1 ? '' : 's'} will be deleted from the dead-letter queue within 60 seconds`);
        return 0;
      }
      const count = await countMessages(sqs, dlqUrl);
      if (count === 0) {
        console.log('the dead-letter queue is empty; nothing to redrive');
        return 0;
      }
      const redrive = await startRedrive(sqs, dlqUrl, deployment.queueUrl!, rate);
      console.error(`redrive started: about ${count} item${count === 1 ? '' : 's'} back to the work queue${rate ? `, at most ${rate} a second` : ''}`);
      if (values['no-wait']) {
        console.log(values.json ? JSON.stringify(redrive) : `redrive task ${redrive.taskHandle} is running; \`backfill dlq redrive\` refuses to start another until it ends`);
        return 0;
      }
      const progress = await followRedrive(sqs, redrive, { onProgress: (p) => console.error(`redrive: ${p.moved} of ${p.toMove} moved (${p.status.toLowerCase()})`) });
      if (values.json) console.log(JSON.stringify(progress));
      if (progress.status !== 'COMPLETED') {
        console.error(`backfill: redrive ${progress.status.toLowerCase()} after ${progress.moved} of ${progress.toMove}: ${progress.failureReason ?? 'no reason given'}`);
        return 1;
      }
      if (!values.json) console.log(`redrive completed: ${progress.moved} item${progress.moved === 1 ? '' : 's'} moved back to the work queue`);
      return 0;
    });
  },
};

/** Looks up reasons in the failure audit when a database is given; without one, or if it is unreachable, lists without. */
async function withReasons(values: Flags, letters: Parameters<typeof explainDeadLetters>[0]): Promise<ExplainedDeadLetter[]> {
  const databaseUrl = databaseUrlOf(values);
  if (!databaseUrl || letters.length === 0) return explainDeadLetters(letters);
  const schema = schemaOf(values);
  try {
    return await withPool(databaseUrl, (pool) => explainDeadLetters(letters, (keys) => readLastFailures(pool, schema, keys)));
  } catch (error) {
    console.error(`backfill: the failure audit could not be read (${oneLine(error)}); listing without it`);
    return explainDeadLetters(letters);
  }
}

async function runLocal(action: Action, pool: pg.Pool, schema: string, runId: string, limit: number, json: boolean): Promise<number> {
  const exists = await pool.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${quoteIdentifier(schema)}.items`]);
  if (!exists.rows[0].ok) throw new InvalidInputError('--database-url', `has no bookkeeping schema ${schema}: no run was recorded there`);
  if (action === 'list') {
    const counts = await countItems(pool, schema, runId);
    const dead = await readDeadItems(pool, schema, runId, limit);
    const items = dead.map((d) => ({ runId: d.item.runId, dedupeKey: d.item.dedupeKey, reason: d.reason, failedAt: d.failedAt }));
    const of = `of ${counts.recorded} recorded: ${counts.done} done, ${counts.outstanding} outstanding, ${counts.purged} purged`;
    return printList(json, { count: counts.dead, counts, items }, `run ${runId}: ${counts.dead} item${counts.dead === 1 ? '' : 's'} in the dead-letter queue (${of})`);
  }
  if (action === 'redrive') {
    const requeued = await requeueDeadItems(pool, schema, runId);
    if (json) console.log(JSON.stringify({ runId, requeued }));
    else console.log(`run ${runId}: ${requeued} dead item${requeued === 1 ? '' : 's'} requeued; the next \`backfill run --local --job PATH --run-id ${runId}\` processes ${requeued === 1 ? 'it' : 'them'}`);
    return 0;
  }
  const purged = await purgeDeadItems(pool, schema, runId);
  if (json) console.log(JSON.stringify({ runId, purged }));
  else console.log(`run ${runId}: ${purged} dead item${purged === 1 ? '' : 's'} purged; ${purged === 1 ? 'it stays' : 'they stay'} in the failure audit and will not be processed again`);
  return 0;
}

interface Listed {
  readonly runId?: string;
  readonly dedupeKey?: string;
  readonly reason: string;
  readonly body?: string;
}

function printList(json: boolean, result: { count: number; items: readonly Listed[] } & Record<string, unknown>, headline: string): number {
  if (json) {
    console.log(JSON.stringify(result));
    return 0;
  }
  const shown = result.items.length < result.count ? `; showing ${result.items.length}` : '';
  console.log(`${headline}${shown}${result.items.length > 0 ? ':' : ''}`);
  for (const item of result.items) {
    const name = item.dedupeKey !== undefined ? `${item.runId} ${item.dedupeKey}` : `(not a work item) ${JSON.stringify((item.body ?? '').slice(0, 60))}`;
    console.log(`  ${name}: ${item.reason}`);
  }
  return 0;
}
