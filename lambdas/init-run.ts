import { initialControl, type ControlState } from '../core/controller';
import { initialLatency, isLatencyState } from '../core/latency-controller';
import { DatabaseUnavailableError, InvalidInputError } from '../core/errors';
import { parseExecutionInput } from '../core/execution-input';
import { assertIdentifier } from '../core/identifiers';
import { assertHealthFitsJob } from '../core/job-health';
import { resolveSettings, validateOverrides, type RunSettingsOverrides } from '../core/settings';
import type { KeyRange } from '../core/work-item';
import { acquireLease, releaseLease } from '../db/lease';
import { recordPlannedRanges } from '../db/overlaps';
import { isConnectionError, type Pool } from '../db/pool';
import { appendExecution, markPlanned, upsertRun } from '../db/runs';
import { ensureBookkeeping } from '../db/schema';
import { assertPlannableSource, planRanges } from '../db/planner';
import { planForm, type KeyColumn } from '../core/key-range';
import { sendItems } from '../queue/work-queue';
import type { HandlerDeps, RunContext } from './deps';
import { leaseOf } from './lease';

export interface InitRunEvent {
  readonly input: unknown;
  readonly executionName: string;
  /** This execution's ARN, appended to the run's chain of executions. */
  readonly executionId: string;
  /** Knob defaults set on the construct. */
  readonly defaults?: RunSettingsOverrides;
}

export interface InitRunResult {
  readonly run: RunContext;
  readonly control: ControlState;
  readonly lastBatch: null;
}

/**
 * Validates the input, records the run, and plans its work items unless this run was planned before (a resume).
 * A database that cannot be reached, or cuts the session (a restart), fails it with DatabaseUnavailableError,
 * which Init's Retry tries again (lib/state-machine.ts): everything it does is safe to do twice.
 */
export function makeInitRunHandler(deps: HandlerDeps) {
  const init = makeInit(deps);
  return async (event: InitRunEvent): Promise<InitRunResult> => {
    try {
      return await init(event);
    } catch (error) {
      if (isConnectionError(error)) throw new DatabaseUnavailableError(`the database is unavailable: ${(error as Error).message}`, { cause: error });
      throw error;
    }
  };
}

function makeInit(deps: HandlerDeps) {
  return async (event: InitRunEvent): Promise<InitRunResult> => {
    const parsed = parseExecutionInput(event.input, event.executionName);
    if (parsed.jobName !== deps.job.name) {
      throw new InvalidInputError('job', `no deployed job named ${JSON.stringify(parsed.jobName)}; this state machine runs ${JSON.stringify(deps.job.name)}`);
    }
    const settings = resolveSettings(deps.job.settings, validateOverrides('defaults', event.defaults), parsed.carry?.settings, parsed.overrides);
    assertHealthFitsJob(settings.health, deps.job.name, deps.job.health);
    assertIdentifier('bookkeepingSchema', deps.bookkeepingSchema);
    const pool = await deps.getPool();
    const key = deps.job.source ? await assertPlannableSource(pool, deps.job.source) : undefined;
    const form = key ? planForm(deps.job, key) : undefined;
    await ensureBookkeeping(pool, deps.bookkeepingSchema);
    // One processor per run, before the run's row is touched: a second execution (or process) refuses here, naming
    // the live one; a continuation takes the lease over from its parent.
    const lease = leaseOf(deps, event.executionId, settings);
    await acquireLease(pool, deps.bookkeepingSchema, parsed.runId, lease.holder, lease.ttlSeconds, parsed.carry ? parsed.parentExecutionId : undefined);
    let plannedItems: number;
    try {
      const record = await upsertRun(pool, deps.bookkeepingSchema, parsed.runId, deps.job.name, settings, { continuation: parsed.carry !== undefined });
      plannedItems = record.plannedItems ?? (key && form ? await planIntoQueue(deps, pool, parsed.runId, settings.chunkSize, key, form) : 0);
      if (record.plannedItems === null) await markPlanned(pool, deps.bookkeepingSchema, parsed.runId, plannedItems);
      await appendExecution(pool, deps.bookkeepingSchema, parsed.runId, event.executionId);
    } catch (error) {
      // This execution fails here: the next start of the run need not wait for its lease to lapse.
      if (!deps.lease) await releaseLease(pool, deps.bookkeepingSchema, parsed.runId, lease.holder.holder).catch(() => undefined);
      throw error;
    }
    const run: RunContext = { runId: parsed.runId, jobName: deps.job.name, settings, plannedItems };
    // A continued run keeps its controller state; only the per-execution count starts over.
    // A carry without a valid latency state (from an execution before latency.*) starts it afresh: ProcessBatch
    // reads $.control.latency on every batch.
    const control = parsed.carry
      ? { ...parsed.carry.control, executionIterations: 0, generation: parsed.carry.control.generation + 1, latency: isLatencyState(parsed.carry.control.latency) ? parsed.carry.control.latency : initialLatency() }
      : initialControl(settings);
    return { run, control, lastBatch: null };
  };
}

/**
 * Streams ranges from the planner to the queue, a few hundred at a time, each group recorded in the run's items
 * before it is sent (a crash in between re-plans: the items are kept once, duplicate messages change nothing).
 * It takes Init's pool rather than asking getPool() again: a second call may replace the cached pool and close
 * the one Init goes on using.
 */
async function planIntoQueue(deps: HandlerDeps, pool: Pool, runId: string, chunkSize: number, key: readonly KeyColumn[], form: 'typed' | 'integer'): Promise<number> {
  let pending: KeyRange[] = [];
  let planned = 0;
  const flush = async () => {
    // Keys that recorded work of the run covers already (producer items) are left out: never planned twice.
    const items = await recordPlannedRanges(pool, deps.bookkeepingSchema, runId, pending);
    await sendItems(deps.sqs, deps.queueUrl, items);
    planned += items.length;
    pending = [];
  };
  for await (const range of planRanges(pool, deps.job.source!, key, chunkSize, form)) {
    pending.push(range);
    if (pending.length >= 200) await flush();
  }
  await flush();
  return planned;
}
