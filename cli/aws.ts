import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  type ExecutionStatus,
} from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { isLocalExecution } from '../local/run-local';

// The AWS calls of the operator commands. Clients take their region from the ARN or URL they act on.

const ARN = /^arn:(aws[\w-]*):states:([a-z0-9-]+):\d+:(?:execution|stateMachine):/;

/** An ARN names its own region, so no AWS_REGION is needed. */
export function sfnClientFor(arn: string): SFNClient {
  const region = ARN.exec(arn)?.[2];
  return new SFNClient(region ? { region } : {});
}

/** The region is in the queue's URL (https://sqs.REGION.amazonaws.com/...). */
export function sqsClientFor(queueUrl: string): SQSClient {
  const region = /sqs[.-]([a-z0-9-]+)\.amazonaws/.exec(queueUrl)?.[1];
  return new SQSClient(region ? { region } : {});
}

const CONSOLE_DOMAINS: Readonly<Record<string, string>> = { aws: 'console.aws.amazon.com', 'aws-cn': 'console.amazonaws.cn', 'aws-us-gov': 'console.amazonaws-us-gov.com' };

/** The execution's page in the Step Functions console; none for a local run's execution. */
export function consoleUrl(executionArn: string): string | undefined {
  const match = ARN.exec(executionArn);
  if (!match || isLocalExecution(executionArn)) return undefined;
  const [, partition, region] = match;
  return `https://${region}.${CONSOLE_DOMAINS[partition] ?? CONSOLE_DOMAINS.aws}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

export interface ExecutionSummary {
  readonly executionArn: string;
  readonly name: string;
  /** The run it executes: input.runId, else its name. */
  readonly runId: string;
}

/** The runId an execution's input names (else the execution name, as Init defaults it). */
function runIdOf(input: string | undefined, name: string): string {
  try {
    const runId = (JSON.parse(input ?? '{}') as { runId?: unknown }).runId;
    return typeof runId === 'string' ? runId : name;
  } catch {
    return name;
  }
}

/** The executions of the state machine running now, with the run each executes. */
export async function runningExecutions(sfn: SFNClient, stateMachineArn: string): Promise<ExecutionSummary[]> {
  const { executions = [] } = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: 20 }));
  return Promise.all(
    executions.map(async (e) => {
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
      return { executionArn: e.executionArn!, name: e.name!, runId: runIdOf(described.input, e.name!) };
    }),
  );
}

export async function executionStatus(sfn: SFNClient, executionArn: string): Promise<ExecutionStatus | undefined> {
  const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  return status;
}

export async function startExecution(sfn: SFNClient, stateMachineArn: string, name: string, input: object): Promise<string> {
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
  return executionArn!;
}

/** Error and cause as the Aborted state would set them, so the console reads the same either way. */
export async function stopExecution(sfn: SFNClient, executionArn: string, cause: string): Promise<void> {
  await sfn.send(new StopExecutionCommand({ executionArn, error: 'BackfillAborted', cause }));
}
