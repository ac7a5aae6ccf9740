import { InvalidInputError, MalformedWorkItemError } from './errors';
import { checkWorkItem, WORK_ITEM_FIELDS, type WorkItem } from './work-item';

/** SQS's classic message size limit; a larger line could never be sent. */
export const MAX_MESSAGE_BYTES = 262_144;
/** Problems listed in the error before the rest are only counted. */
const LISTED_PROBLEMS = 10;

/**
 * Validates JSON lines from a producer (`backfill enqueue`) before anything is sent: every line must be a work
 * item, where `v` may be left out (it is 1) and `runId` may be left out when `runId` is given (it is filled in).
 * Blank lines are skipped. One InvalidInputError lists the bad lines by number, each with the field and the reason.
 */
export function parseProducerLines(text: string, runId?: string): WorkItem[] {
  const items: WorkItem[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    try {
      items.push(parseProducerLine(line, runId));
    } catch (error) {
      if (!(error instanceof MalformedWorkItemError)) throw error;
      problems.push(`line ${index + 1}: ${error.message}`);
    }
  });
  if (problems.length > 0) {
    const more = problems.length > LISTED_PROBLEMS ? `; and ${problems.length - LISTED_PROBLEMS} more` : '';
    throw new InvalidInputError('stdin', `${problems.length} bad line${problems.length === 1 ? '' : 's'}, nothing was enqueued: ${problems.slice(0, LISTED_PROBLEMS).join('; ')}${more}`);
  }
  return items;
}

function parseProducerLine(line: string, runId: string | undefined): WorkItem {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new MalformedWorkItemError(`is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return checkWorkItem(value);
  const fields = value as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !(WORK_ITEM_FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) throw new MalformedWorkItemError(`unknown field ${JSON.stringify(unknown[0])}; allowed: ${WORK_ITEM_FIELDS.join(', ')}`);
  if (fields.runId === undefined && runId === undefined) throw new MalformedWorkItemError('runId is missing; put it on every line or give --run-id');
  if (fields.runId !== undefined && runId !== undefined && fields.runId !== runId) {
    throw new MalformedWorkItemError(`runId ${JSON.stringify(fields.runId)} differs from --run-id ${JSON.stringify(runId)}`);
  }
  // Key order as the planner writes it, so every message on the queue reads the same.
  const { v = 1, runId: itemRunId = runId, dedupeKey, range, payload } = fields;
  const item = checkWorkItem({ v, runId: itemRunId, dedupeKey, ...(range !== undefined ? { range } : {}), ...(payload !== undefined ? { payload } : {}) });
  const bytes = Buffer.byteLength(JSON.stringify(item));
  if (bytes > MAX_MESSAGE_BYTES) throw new MalformedWorkItemError(`the message would be ${bytes} bytes; a work item may be at most ${MAX_MESSAGE_BYTES}`);
  return item;
}
