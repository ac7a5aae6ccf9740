import { DescribeExecutionCommand, StartExecutionCommand, type DescribeExecutionCommandOutput, type SFNClient } from '@aws-sdk/client-sfn';

export interface ExecutionResult {
  readonly executionArn: string;
  readonly status: string;
  /** The run's outcome (Finish state's output) or the failure's error and cause. */
  readonly detail: unknown;
}

/** Starts one execution of the backfill and waits for it to end, asking every `pollMs`. */
export async function startAndWait(sfn: SFNClient, stateMachineArn: string, name: string, input: object, pollMs = 2000): Promise<ExecutionResult> {
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
  let execution: DescribeExecutionCommandOutput;
  for (;;) {
    execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== 'RUNNING') break;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  const detail = execution.status === 'SUCCEEDED' ? JSON.parse(execution.output ?? 'null') : { error: execution.error, cause: execution.cause };
  return { executionArn: executionArn!, status: execution.status!, detail };
}
