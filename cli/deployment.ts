import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { InvalidInputError } from '../core/errors';
import { localEnv } from '../local/env';

/** The AWS resources of one AdaptiveBackfill deployment, as the operator commands need them. */
export interface Deployment {
  readonly stateMachineArn?: string;
  readonly queueUrl?: string;
  readonly deadLetterQueueUrl?: string;
}

export interface DeploymentFlags {
  readonly stack?: string;
  readonly 'state-machine-arn'?: string;
  readonly 'queue-url'?: string;
  readonly 'dlq-url'?: string;
}

/** The flags every AWS-facing command takes to find its deployment. */
export const DEPLOYMENT_OPTIONS = {
  stack: { type: 'string' },
  'state-machine-arn': { type: 'string' },
  'queue-url': { type: 'string' },
  'dlq-url': { type: 'string' },
} as const;

export const DEPLOYMENT_USAGE = `  --stack NAME             the CloudFormation stack holding the AdaptiveBackfill (its outputs name the rest; env BACKFILL_STACK)
  --state-machine-arn ARN  or the parts directly (env BACKFILL_STATE_MACHINE_ARN, BACKFILL_QUEUE_URL, BACKFILL_DLQ_URL)
  --queue-url URL
  --dlq-url URL
  AWS credentials, region and endpoints (AWS_ENDPOINT_URL for LocalStack) come from the standard AWS variables.`;

/** The construct's CfnOutputs, by the end of their logical ids (CDK appends a hash). */
const OUTPUTS = { stateMachineArn: 'StateMachineArn', queueUrl: 'WorkQueueUrl', deadLetterQueueUrl: 'DeadLetterQueueUrl' } as const;

/**
 * Finds the deployment from flags, then the environment, then the stack's outputs. Explicit parts win over the
 * stack's, so one can be overridden. `needs` names the parts the command cannot do without.
 */
export async function resolveDeployment(
  flags: DeploymentFlags,
  needs: ReadonlyArray<keyof Deployment>,
  cloudFormation: () => CloudFormationClient = () => new CloudFormationClient({}),
): Promise<Deployment> {
  const given: Deployment = {
    stateMachineArn: flags['state-machine-arn'] ?? localEnv.stateMachineArn,
    queueUrl: flags['queue-url'] ?? localEnv.queueUrl,
    deadLetterQueueUrl: flags['dlq-url'] ?? localEnv.deadLetterQueueUrl,
  };
  const stack = flags.stack ?? localEnv.stack;
  const missing = needs.filter((part) => given[part] === undefined);
  if (missing.length === 0) return given;
  if (stack === undefined) {
    throw new InvalidInputError('--stack', `is required to find the ${missing.join(', ')} (or give ${missing.map(flagOf).join(', ')})`);
  }
  const fromStack = await readStackOutputs(cloudFormation(), stack);
  const resolved: Deployment = {
    stateMachineArn: given.stateMachineArn ?? fromStack.stateMachineArn,
    queueUrl: given.queueUrl ?? fromStack.queueUrl,
    deadLetterQueueUrl: given.deadLetterQueueUrl ?? fromStack.deadLetterQueueUrl,
  };
  const stillMissing = needs.filter((part) => resolved[part] === undefined);
  if (stillMissing.length > 0) throw new InvalidInputError('--stack', `stack ${stack} has no AdaptiveBackfill output for ${stillMissing.join(', ')}`);
  return resolved;
}

function flagOf(part: keyof Deployment): string {
  return { stateMachineArn: '--state-machine-arn', queueUrl: '--queue-url', deadLetterQueueUrl: '--dlq-url' }[part];
}

async function readStackOutputs(client: CloudFormationClient, stack: string): Promise<Deployment> {
  let outputs: Output[];
  try {
    const { Stacks = [] } = await client.send(new DescribeStacksCommand({ StackName: stack }));
    outputs = Stacks[0]?.Outputs ?? [];
  } catch (error) {
    throw new InvalidInputError('--stack', `cannot read stack ${stack}: ${(error as Error).message}`, { cause: error });
  }
  const pick = (suffix: string): string | undefined => {
    const matches = outputs.filter((o) => new RegExp(`${suffix}(?:[0-9A-F]{8})?$`).test(o.OutputKey ?? ''));
    if (matches.length > 1) {
      throw new InvalidInputError('--stack', `stack ${stack} holds ${matches.length} backfills (${matches.map((o) => o.OutputKey).join(', ')}); give the parts directly`);
    }
    return matches[0]?.OutputValue;
  };
  return { stateMachineArn: pick(OUTPUTS.stateMachineArn), queueUrl: pick(OUTPUTS.queueUrl), deadLetterQueueUrl: pick(OUTPUTS.deadLetterQueueUrl) };
}
