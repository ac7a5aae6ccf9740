import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AdaptiveBackfill, type AdaptiveBackfillProps } from '../lib/adaptive-backfill';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

export type FunctionRole = 'initRun' | 'healthProbe' | 'batchProcessor';

export interface SynthesizedBackfill {
  /** The state machine's ASL, exactly as deployed, with function ARNs filled in. */
  readonly definition: Record<string, unknown>;
  /** Function ARN (as it appears in Task states) -> which handler it is. */
  readonly functionsByArn: ReadonlyMap<string, FunctionRole>;
  readonly maxReceiveCount: number;
  readonly visibilityTimeoutSeconds: number;
  /** The batch processor's timeout: its deadline in local runs, as on Lambda. */
  readonly batchTimeoutSeconds: number;
}

type Props = Omit<AdaptiveBackfillProps, 'databaseSecret'>;

/**
 * Builds the real AdaptiveBackfill construct in memory (asset bundling skipped) and resolves the CloudFormation
 * properties the embedded runtime needs, exactly as they appear in the template: no second, hand-written
 * definition exists. Resolving the few properties takes milliseconds where a full synthesis takes over a second;
 * a test checks the result against a full synthesis.
 */
export function synthesizeBackfill(props: Props): SynthesizedBackfill {
  const app = new App({ context: { ...projectContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Local', { env: { account: ACCOUNT, region: REGION } });
  const databaseSecret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Secret', `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:local-AbCdEf`);
  const backfill = new AdaptiveBackfill(stack, 'Backfill', { ...props, databaseSecret });

  const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
  const functionArn = (id: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${id}`;
  const roles: Array<[FunctionRole, { node: { defaultChild?: unknown } }]> = [
    ['initRun', backfill.initRun],
    ['healthProbe', backfill.healthProbe],
    ['batchProcessor', backfill.batchProcessor],
  ];
  const functionsByArn = new Map(roles.map(([role, fn]) => [functionArn(logicalId(fn)), role]));

  const machine = backfill.stateMachine.node.defaultChild as sfn.CfnStateMachine;
  const queue = backfill.queue.node.defaultChild as sqs.CfnQueue;
  const processor = backfill.batchProcessor.node.defaultChild as lambda.CfnFunction;
  const definitionString = resolveIntrinsics(stack.resolve(machine.definitionString), functionArn);
  return {
    definition: JSON.parse(definitionString) as Record<string, unknown>,
    functionsByArn,
    maxReceiveCount: (stack.resolve(queue.redrivePolicy) as { maxReceiveCount: number }).maxReceiveCount,
    visibilityTimeoutSeconds: stack.resolve(queue.visibilityTimeout) as number,
    batchTimeoutSeconds: stack.resolve(processor.timeout) as number,
  };
}

/** The feature flags and context of the project's cdk.json, so the definition matches what `cdk deploy` makes. */
function projectContext(): Record<string, unknown> {
  const file = join(process.cwd(), 'cdk.json');
  if (!existsSync(file)) return {};
  return (JSON.parse(readFileSync(file, 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
}

/** Resolves the few intrinsics a synthesized definition string uses: Fn::Join, Fn::GetAtt (function ARNs), pseudo Refs. */
export function resolveIntrinsics(value: unknown, functionArn: (logicalId: string) => string): string {
  if (typeof value === 'string') return value;
  const node = value as Record<string, unknown>;
  if ('Fn::Join' in node) {
    const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolveIntrinsics(part, functionArn)).join(separator);
  }
  if ('Fn::GetAtt' in node) {
    const [id, attribute] = node['Fn::GetAtt'] as [string, string];
    if (attribute !== 'Arn') throw new Error(`unexpected Fn::GetAtt ${id}.${attribute} in the state machine definition`);
    return functionArn(id);
  }
  if ('Ref' in node) {
    const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT, 'AWS::URLSuffix': 'amazonaws.com' };
    const resolved = pseudo[node.Ref as string];
    if (resolved === undefined) throw new Error(`unexpected Ref ${String(node.Ref)} in the state machine definition`);
    return resolved;
  }
  throw new Error(`unexpected intrinsic in the state machine definition: ${JSON.stringify(node).slice(0, 200)}`);
}
