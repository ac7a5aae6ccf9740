import { DescribeExecutionCommand, StartExecutionCommand, type DescribeExecutionCommandOutput, type SFNClient } from '@aws-sdk/client-sfn';

/** A run as localstack:start reports it: every execution it took, and how the last one ended. */
export interface RunResult {
  /** The run's executions, first to last: more than one when it continued as new (ContinueAsNew). */
  readonly executions: readonly string[];
  /** The last execution's status: SUCCEEDED only when the run itself finished (Finish), never for a continuation. */
  readonly status: string;
  /** The run's outcome (the Finish state's output) or the last execution's error and cause. */
  readonly detail: unknown;
}

/** What one DescribeExecution says about the run: still going, continued in another execution, or ended. */
export type ExecutionStep =
  | { readonly kind: 'running' }
  | { readonly kind: 'continued'; readonly executionArn: string }
  | { readonly kind: 'ended'; readonly status: string; readonly detail: unknown };

/**
 * Reads one execution's description. An execution that ended in ContinuedAsNew succeeded with the ContinueAsNew
 * state's `continuedAs`, `{ "executionArn": ... }` (lib/state-machine.ts), and the run goes on in that execution;
 * any other success is the run's outcome.
 */
export function executionStep(execution: Pick<DescribeExecutionCommandOutput, 'status' | 'output' | 'error' | 'cause'>): ExecutionStep {
  if (execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE') return { kind: 'running' };
  if (execution.status !== 'SUCCEEDED') return { kind: 'ended', status: execution.status ?? 'UNKNOWN', detail: { error: execution.error, cause: execution.cause } };
  const output = parseOutput(execution.output);
  const next = continuationOf(output);
  return next ? { kind: 'continued', executionArn: next } : { kind: 'ended', status: 'SUCCEEDED', detail: output };
}

export interface FollowOptions {
  /** Between two DescribeExecution calls of a running execution. @default 2000 */
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Sees each execution of the run as the follow reaches it. */
  readonly onExecution?: (executionArn: string) => void;
}

/** Follows a run from `executionArn` across every continue-as-new until it ends, and reports how the run ended. */
export async function followRun(sfn: SFNClient, executionArn: string, options: FollowOptions = {}): Promise<RunResult> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const executions = [executionArn];
  options.onExecution?.(executionArn);
  for (;;) {
    const current = executions[executions.length - 1]!;
    const step = executionStep(await sfn.send(new DescribeExecutionCommand({ executionArn: current })));
    if (step.kind === 'ended') return { executions, status: step.status, detail: step.detail };
    if (step.kind === 'running') {
      await sleep(options.pollMs ?? 2000);
      continue;
    }
    if (executions.includes(step.executionArn)) throw new Error(`execution ${current} continued as ${step.executionArn}, which this run already went through`);
    executions.push(step.executionArn);
    options.onExecution?.(step.executionArn);
  }
}

/** Starts one execution of the backfill and follows its run to the end. */
export async function startAndFollow(sfn: SFNClient, stateMachineArn: string, name: string, input: object, options: FollowOptions = {}): Promise<RunResult> {
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
  if (!executionArn) throw new Error(`StartExecution of ${stateMachineArn} returned no executionArn`);
  return followRun(sfn, executionArn, options);
}

function parseOutput(output: string | undefined): unknown {
  if (output === undefined) return null;
  try {
    return JSON.parse(output);
  } catch {
    return output;
  }
}

/** The ContinuedAsNew state's output: exactly `{ executionArn }`, an execution ARN. */
function continuationOf(output: unknown): string | undefined {
  if (typeof output !== 'object' || output === null || Array.isArray(output)) return undefined;
  const keys = Object.keys(output);
  const arn = (output as { executionArn?: unknown }).executionArn;
  return keys.length === 1 && typeof arn === 'string' && /^arn:aws[\w-]*:states:[^:]*:\d{12}:execution:/.test(arn) ? arn : undefined;
}
