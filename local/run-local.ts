import './promise-polyfill';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { StateMachine } from 'aws-local-stepfunctions';
import type { BatchStats } from '../core/controller';
import type { ExecutionInput } from '../core/execution-input';
import type { JobDefinition, Queryable } from '../core/job';
import { LOCAL_HEARTBEAT_SECONDS, LOCAL_LEASE_SECONDS } from '../core/lease';
import { assertRunId } from '../core/work-item';
import { acquireLease, localHolder, releaseLease, startHeartbeat } from '../db/lease';
import { ensureBookkeeping } from '../db/schema';
import { readRunTotals, type RunTotals } from '../db/totals';
import { asQueryable, makePool } from '../db/pool';
import { makeBatchProcessorHandler, type BatchResult } from '../lambdas/batch-processor';
import type { HandlerDeps, RunContext } from '../lambdas/deps';
import { makeHealthProbeHandler, type HealthProbeResult } from '../lambdas/health-probe';
import { makeInitRunHandler, type InitRunResult } from '../lambdas/init-run';
import type { RunOutcome } from '../lambdas/outcome';
import { startEmbeddedPostgres } from './embedded-postgres';
import { startLocalQueues } from './local-sqs';
import { restoreLocalQueues } from './restore-queues';
import { synthesizeBackfill, type FunctionRole } from './synthesize';

/** The completion event as the state machine sends it to EventBridge (locally: handed to onEvent). */
export interface CompletionEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: RunOutcome;
}

export type RunEvent =
  | { readonly type: 'database'; readonly embedded: boolean; readonly logFile?: string; readonly url?: string }
  | { readonly type: 'planned'; readonly run: RunContext }
  | { readonly type: 'decision'; readonly control: HealthProbeResult }
  | { readonly type: 'batch'; readonly stats: BatchStats }
  | { readonly type: 'completion'; readonly event: CompletionEvent }
  /** One execution of the run ended, as DescribeExecution would tell it (the run goes on in `output.executionArn` after ContinuedAsNew). */
  | { readonly type: 'execution'; readonly executionArn: string; readonly status: 'SUCCEEDED' | 'FAILED'; readonly output?: unknown; readonly error?: string; readonly cause?: string };

export interface LocalRunOptions {
  readonly job: JobDefinition;
  /** The job module's path: bundled into the construct the same way a deployment does. */
  readonly jobPath: string;
  /** Postgres to backfill; when absent an embedded Postgres is started and stopped. */
  readonly databaseUrl?: string;
  /** Execution input besides `job` (runId, chunkSize, batch, backoff, health). */
  readonly input?: Omit<ExecutionInput, 'job'>;
  /** Multiplies every Wait (backoff) duration; local runs only. */
  readonly timeScale?: number;
  readonly bookkeepingSchema?: string;
  readonly maxReceiveCount?: number;
  /**
   * The pool the handlers take, as a Lambda container has it (tests: the Secrets Manager pool of lambdas/entry).
   * @default the run's own pool of databaseUrl
   */
  readonly getPool?: () => Promise<pg.Pool>;
  /** Runs against the database before the execution starts (the demo creates its table here). */
  readonly prepare?: (db: Queryable) => Promise<void>;
  /** Sees every event as it happens; the run waits for a returned promise (tests steer runs from here). */
  readonly onEvent?: (event: RunEvent) => void | Promise<void>;
  /** Runs once the run has ended, while its database is still open (the CLI writes the HTML report here). */
  readonly afterRun?: (ended: { readonly summary: RunSummary; readonly pool: pg.Pool; readonly schema: string }) => Promise<void>;
}

export interface RunSummary extends RunTotals {
  readonly status: 'succeeded' | 'failed' | 'aborted';
  readonly runId: string;
  readonly job: string;
  /** One line, when status is failed. */
  readonly reason?: string;
  readonly itemsPlanned: number;
  /** Rows the job's remaining() still reports after the run; null when the job has no remaining(). */
  readonly rowsRemaining: number | null;
  readonly batches: number;
  /** Backoff and pause waits, each with its reason. */
  readonly waits: ReadonlyArray<{ readonly seconds: number; readonly reason: string }>;
  /** Seconds spent pacing between batches (nice ratio, degraded health), before any time scale. */
  readonly pacedSeconds: number;
  readonly executions: number;
  readonly stateTransitions: number;
  readonly durationMs: number;
}

/**
 * Runs a job through the embedded runtime: the construct's synthesized state machine, interpreted in-process,
 * with the Lambda handlers bound to its Task states, a local SQS server, and Postgres.
 */
export async function runLocal(options: LocalRunOptions): Promise<RunSummary> {
  const started = Date.now();
  const schema = options.bookkeepingSchema ?? 'backfill';
  const synthesized = synthesizeBackfill({ jobEntry: options.jobPath, bookkeepingSchema: schema, maxReceiveCount: options.maxReceiveCount });
  const embedded = options.databaseUrl ? undefined : await startEmbeddedPostgres();
  try {
    await options.onEvent?.({ type: 'database', embedded: embedded !== undefined, logFile: embedded?.logFile, url: embedded?.url });
    const pool = makePool({ connectionString: options.databaseUrl ?? embedded!.url });
    try {
      const queues = await startLocalQueues(synthesized);
      try {
        if (options.prepare) await options.prepare(asQueryable(pool));
        // One processor per run: a second process on this run refuses here, before it touches the run's work.
        const runId = assertRunId('runId', options.input?.runId ?? `local-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`);
        await ensureBookkeeping(pool, schema);
        const holder = localHolder(randomUUID().slice(0, 8));
        await acquireLease(pool, schema, runId, holder, LOCAL_LEASE_SECONDS);
        const heartbeat = startHeartbeat(pool, schema, runId, holder, LOCAL_HEARTBEAT_SECONDS, LOCAL_LEASE_SECONDS);
        try {
          // Started again under a known runId: what is not done yet goes back into the in-memory queues.
          if (options.input?.runId) await restoreLocalQueues(pool, schema, options.input.runId, queues);
          const deps: HandlerDeps = {
            job: options.job,
            getPool: options.getPool ?? (async () => pool),
            sqs: queues.sqs,
            queueUrl: queues.queueUrl,
            deadLetterQueueUrl: queues.deadLetterQueueUrl,
            maxReceiveCount: synthesized.maxReceiveCount,
            // local-aws-sqs counts a ChangeMessageVisibility as a receive.
            receivesPerRelease: 1,
            bookkeepingSchema: schema,
            receiveWaitSeconds: 0,
            lease: { ...holder, ttlSeconds: LOCAL_LEASE_SECONDS },
          };
          const summary = await execute(options, synthesized, deps, pool, started, runId);
          await options.afterRun?.({ summary, pool, schema });
          return summary;
        } finally {
          heartbeat.stop();
          await releaseLease(pool, schema, runId, holder.holder).catch((error: Error) => process.emitWarning(`releasing the run's lease: ${error.message}`));
        }
      } finally {
        await queues.close();
      }
    } finally {
      await pool.end();
    }
  } finally {
    // Whatever failed above, the embedded server does not outlive the run.
    await embedded?.stop();
  }
}

async function execute(
  options: LocalRunOptions,
  synthesized: ReturnType<typeof synthesizeBackfill>,
  deps: HandlerDeps,
  pool: pg.Pool,
  started: number,
  firstName: string,
): Promise<RunSummary> {
  const emit = async (event: RunEvent) => options.onEvent?.(event);
  const waits: Array<{ seconds: number; reason: string }> = [];
  let run: RunContext | undefined;
  let batches = 0;
  let lastDecision: HealthProbeResult | undefined;
  let pacedSeconds = 0;
  let executions = 0;
  let nextInput: ExecutionInput | undefined;

  const handlers: Record<TaskRole, TaskHandler> = {
    initRun: async (input) => {
      const result: InitRunResult = await makeInitRunHandler(deps)(input);
      run = result.run;
      await emit({ type: 'planned', run });
      return result;
    },
    healthProbe: async (input) => {
      const control = await makeHealthProbeHandler(deps)(input);
      if (control.action === 'backoff' || control.action === 'pause') waits.push({ seconds: control.waitSeconds, reason: control.reason });
      if (control.action === 'proceed') pacedSeconds += control.paceSeconds;
      lastDecision = control;
      await emit({ type: 'decision', control });
      return control;
    },
    // The Announce* states' events:putEvents Task: locally the event goes to onEvent (the CLI prints it).
    putEvents: async (request: { Entries: Array<{ Detail: RunOutcome; DetailType: string; Source: string }> }) => {
      for (const entry of request.Entries) await emit({ type: 'completion', event: { source: entry.Source, detailType: entry.DetailType, detail: entry.Detail } });
      return { Entries: request.Entries.map((_, i) => ({ EventId: `local-${i}` })), FailedEntryCount: 0 };
    },
    // ContinueAsNew's startExecution Task: the next execution starts once this one has ended, as on AWS.
    startExecution: async (request: { StateMachineArn: string; Input: ExecutionInput }) => {
      nextInput = request.Input;
      return { ExecutionArn: executionArn(`${firstName}-${executions + 1}`), StartDate: new Date().toISOString() };
    },
    batchProcessor: async (input) => {
      batches += 1;
      try {
        const invokedAt = Date.now();
        const timeoutMs = synthesized.batchTimeoutSeconds * 1000;
        const stats: BatchResult = await makeBatchProcessorHandler(deps)(input, { getRemainingTimeInMillis: () => invokedAt + timeoutMs - Date.now() });
        await emit({ type: 'batch', stats });
        return stats;
      } catch (error) {
        await emit({ type: 'batch', stats: { received: 0, succeeded: 0, retried: 0, deadLettered: 0, rowsAffected: 0, durationMs: 0, queue: { visible: 0, inFlight: 0 }, drained: false, error: (error as Error).message } });
        throw error;
      }
    },
  };

  const machine = new StateMachine(synthesized.definition as unknown as ConstructorParameters<typeof StateMachine>[0], { validationOptions: { checkPaths: true, checkArn: true } });
  const timeScale = options.timeScale ?? 1;
  // The interpreter reads this override each time a Wait state runs, so a getter scales the chosen wait.
  const waitTimeOverrides: Record<string, number> = {};
  if (timeScale !== 1) {
    // Each Wait state's SecondsPath names the field of the last decision it waits for (waitSeconds or paceSeconds).
    for (const [name, field] of waitStateFields(synthesized.definition)) {
      Object.defineProperty(waitTimeOverrides, name, { enumerable: true, get: () => Math.round(Number(lastDecision?.[field] ?? 0) * 1000 * timeScale) });
    }
  }

  let input: ExecutionInput | undefined = { ...options.input, runId: firstName, job: options.job.name };
  const taskResourceLocalHandlers = bindTasks(synthesized.definition, synthesized.functionsByArn, handlers);
  let stateTransitions = 0;
  let status: RunSummary['status'] = 'succeeded';
  let reason: string | undefined;
  while (input !== undefined) {
    executions += 1;
    nextInput = undefined;
    const name = executions === 1 ? firstName : `${firstName}-${executions}`;
    type RunArgs = Parameters<typeof machine.run>;
    const execution = machine.run(input as unknown as RunArgs[0], {
      overrides: { taskResourceLocalHandlers, waitTimeOverrides } as unknown as NonNullable<RunArgs[1]>['overrides'],
      context: {
        Execution: { Id: executionArn(name), Name: name, Input: input, StartTime: new Date().toISOString() },
        StateMachine: { Id: STATE_MACHINE_ARN, Name: 'local' },
      } as unknown as NonNullable<RunArgs[1]>['context'],
    });
    const counting = (async () => {
      for await (const event of execution.eventLogs) if (event.type === 'StateEntered') stateTransitions += 1;
    })();
    let ended: RunEvent & { type: 'execution' };
    try {
      ended = { type: 'execution', executionArn: executionArn(name), status: 'SUCCEEDED', output: await execution.result };
    } catch (error) {
      const cause = (error as { cause?: { name?: string; message?: string } }).cause;
      status = cause?.name === 'BackfillAborted' ? 'aborted' : 'failed';
      reason = cause ? `${cause.name}: ${cause.message}` : (error as Error).message;
      nextInput = undefined;
      ended = { type: 'execution', executionArn: executionArn(name), status: 'FAILED', error: cause?.name ?? 'Error', cause: cause?.message ?? (error as Error).message };
    }
    await counting;
    await emit(ended);
    input = nextInput;
  }

  const runId = run?.runId ?? firstName;
  const totals = run ? await readRunTotals(pool, deps.bookkeepingSchema, runId) : { itemsSucceeded: 0, rowsAffected: 0, itemsFailed: 0, itemsDeadLettered: 0, itemsAtLeastOnce: 0, lastError: null };
  const rowsRemaining = options.job.remaining ? await options.job.remaining(asQueryable(pool)) : null;
  return {
    status,
    runId,
    job: options.job.name,
    ...(reason ? { reason } : {}),
    itemsPlanned: run?.plannedItems ?? 0,
    ...totals,
    rowsRemaining,
    batches,
    waits,
    pacedSeconds,
    executions,
    stateTransitions,
    durationMs: Date.now() - started,
  };
}

type TaskHandler = (input: never) => Promise<unknown>;
type TaskRole = FunctionRole | 'startExecution' | 'putEvents';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:local';
const START_EXECUTION = /^arn:aws[\w-]*:states:::states:startExecution$/;
const PUT_EVENTS = /^arn:aws[\w-]*:states:::events:putEvents$/;

const LOCAL_EXECUTION_PREFIX = 'arn:aws:states:us-east-1:123456789012:execution:local:';

function executionArn(name: string): string {
  return `${LOCAL_EXECUTION_PREFIX}${name}`;
}

/** Whether a run's execution ran in the embedded runtime (steered through the run table only) rather than on AWS. */
export function isLocalExecution(arn: string): boolean {
  return arn.startsWith(LOCAL_EXECUTION_PREFIX);
}

/** Binds each Task state to the handler its Resource names (a function, or startExecution); any other Task is an error. */
function bindTasks(definition: Record<string, unknown>, functionsByArn: ReadonlyMap<string, FunctionRole>, handlers: Record<TaskRole, TaskHandler>): Record<string, TaskHandler> {
  const bound: Record<string, TaskHandler> = {};
  for (const [name, state] of Object.entries(definition.States as Record<string, { Type: string; Resource?: string }>)) {
    if (state.Type !== 'Task') continue;
    const resource = state.Resource ?? '';
    const role = START_EXECUTION.test(resource) ? 'startExecution' : PUT_EVENTS.test(resource) ? 'putEvents' : functionsByArn.get(resource);
    if (!role) throw new Error(`Task state ${name} calls ${state.Resource}, which the embedded runtime cannot run`);
    bound[name] = handlers[role];
  }
  return bound;
}

function waitStateFields(definition: Record<string, unknown>): Array<[string, 'waitSeconds' | 'paceSeconds']> {
  return Object.entries(definition.States as Record<string, { Type: string; SecondsPath?: string }>)
    .filter(([, s]) => s.Type === 'Wait')
    .map(([name, s]) => {
      const field = s.SecondsPath?.replace('$.control.', '');
      if (field !== 'waitSeconds' && field !== 'paceSeconds') throw new Error(`Wait state ${name} waits on ${s.SecondsPath}, which the embedded runtime cannot scale`);
      return [name, field];
    });
}
