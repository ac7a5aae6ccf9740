import { BackfillError, InvalidInputError } from '../../core/errors';
import { parseExecutionInput } from '../../core/execution-input';
import { resolveSettings } from '../../core/settings';
import { queueDepth } from '../../queue/work-queue';
import { parseFlags } from '../args';
import type { Command } from '../command';
import { DEPLOYMENT_OPTIONS, DEPLOYMENT_USAGE, resolveDeployment } from '../deployment';
import { consoleUrl, runningExecutions, sfnClientFor, sqsClientFor, startExecution } from '../aws';
import { executionNameFor, freshRunId } from '../run-ids';

const OPTIONS = {
  ...DEPLOYMENT_OPTIONS,
  job: { type: 'string' },
  input: { type: 'string' },
  'run-id': { type: 'string' },
  fresh: { type: 'boolean' },
  local: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** What `start` will send, checked as Init checks it, before any AWS call. */
export interface PlannedStart {
  readonly runId: string;
  readonly executionName: string;
  readonly input: Record<string, unknown>;
  readonly generatedRunId: boolean;
}

function parseInputFlag(raw: string | undefined): Record<string, unknown> {
  if (raw === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new InvalidInputError('--input', `must be a JSON object like '{"batch":{"maxSize":50}}'; ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidInputError('--input', `must be a JSON object; got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

/**
 * The run id, execution name and input of a start. A new run is named after the job; --fresh derives a new id
 * from the run it replaces; --run-id alone starts or resumes that run. Errors name the field.
 */
export function planStart(flags: { job?: string; input?: string; 'run-id'?: string; fresh?: boolean }, now: Date = new Date()): PlannedStart {
  const input = parseInputFlag(flags.input);
  if ('carry' in input) throw new InvalidInputError('carry', 'is set by the state machine when a run continues as a new execution, never by an operator');
  if (flags.job !== undefined && input.job !== undefined && input.job !== flags.job) throw new InvalidInputError('--job', `says ${JSON.stringify(flags.job)} but --input says job ${JSON.stringify(input.job)}`);
  const job = flags.job ?? input.job;
  if (job === undefined) throw new InvalidInputError('--job', "is required: the deployed job's name");
  const given = flags['run-id'] ?? input.runId;
  if (flags['run-id'] !== undefined && input.runId !== undefined && input.runId !== flags['run-id']) {
    throw new InvalidInputError('--run-id', `says ${JSON.stringify(flags['run-id'])} but --input says runId ${JSON.stringify(input.runId)}`);
  }
  if (typeof job !== 'string') throw new InvalidInputError('job', `must name the deployed job; got ${JSON.stringify(job)}`);
  if (given !== undefined && typeof given !== 'string') throw new InvalidInputError('runId', `must be a string; got ${JSON.stringify(given)}`);
  const generatedRunId = flags.fresh === true || given === undefined;
  const runId = generatedRunId ? freshRunId(given ?? job, now) : given!;
  const full = { ...input, job, runId };
  const executionName = executionNameFor(runId, generatedRunId, now);
  const parsed = parseExecutionInput(full, executionName);
  // Coherence across fields (Init checks again with the job's and the construct's defaults underneath).
  resolveSettings(parsed.overrides);
  return { runId: parsed.runId, executionName, input: full, generatedRunId };
}

export const startCommand: Command = {
  name: 'start',
  summary: 'start (or resume) a run on AWS: StartExecution; prints the execution ARN and the console link',
  usage: `usage: backfill start --job NAME [--input JSON] [--run-id ID | --fresh] [options]

Starts an execution of the deployed state machine. The input is checked against the execution input's rules
before anything is sent (backfill schema prints them as JSON Schema); the error names the field.

  --job NAME           the deployed job's name
  --input JSON         more execution input: knobs such as '{"batch":{"maxSize":50},"backoff":{"maxSeconds":60}}'
  --run-id ID          the run: a new id starts it, the id of an existing run resumes it from what is done
                       (default: a new run named after the job, e.g. NAME-20261122-101500-123)
  --fresh              start the job over under a new run id derived from --run-id (or the job), printed;
                       items an older run left in the shared queue go to the DLQ with the reason, not run twice
  --json               print {runId, executionName, executionArn, consoleUrl} as JSON
${DEPLOYMENT_USAGE}

One run at a time per deployment: start refuses while an execution of the state machine is running.
To run in this process instead (no AWS), use: backfill run --local --job PATH (it takes --run-id and --fresh too).`,
  async run(argv) {
    const { values } = parseFlags(argv, OPTIONS);
    if (values.local) throw new InvalidInputError('--local', '`start` starts an execution on AWS; to run in this process use `backfill run --local --job PATH` (with --run-id and --fresh as here)');
    const planned = planStart(values);
    const { stateMachineArn, queueUrl } = await resolveDeployment(values, ['stateMachineArn']);
    const sfn = sfnClientFor(stateMachineArn!);
    const running = await runningExecutions(sfn, stateMachineArn!);
    if (running.length > 0) {
      const same = running.find((e) => e.runId === planned.runId);
      throw new BackfillError(same
        ? `run ${planned.runId} is already running in ${same.executionArn}`
        : `${running[0].executionArn} is running run ${running[0].runId}: one run at a time per deployment (runs share the work queue); let it finish, or backfill abort ${running[0].runId} first`);
    }
    if (queueUrl && planned.generatedRunId) {
      const depth = await queueDepth(sqsClientFor(queueUrl), queueUrl);
      const waiting = depth.visible + depth.inFlight + depth.delayed;
      if (waiting > 0) console.error(`note: the work queue holds ${waiting} messages from earlier runs; run ${planned.runId} sends each to the DLQ untouched, with the reason "belongs to run X, not ${planned.runId}" (redrive them when run X runs again)`);
    }
    const executionArn = await startExecution(sfn, stateMachineArn!, planned.executionName, planned.input);
    const link = consoleUrl(executionArn);
    if (values.json) {
      console.log(JSON.stringify({ runId: planned.runId, executionName: planned.executionName, executionArn, consoleUrl: link }));
    } else {
      console.log(`started run ${planned.runId}${values.fresh ? ' (fresh)' : ''} as execution ${planned.executionName}\n  execution  ${executionArn}\n  console    ${link}\n  watch      backfill status ${planned.runId}`);
    }
    return 0;
  },
};
