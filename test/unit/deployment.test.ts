import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { resolveDeployment } from '../../cli/deployment';

const OUTPUTS = [
  { OutputKey: 'BackfillStateMachineArn9561ED01', OutputValue: 'arn:aws:states:us-east-1:123456789012:stateMachine:sm' },
  { OutputKey: 'BackfillWorkQueueUrlB64AA86F', OutputValue: 'https://sqs.us-east-1.amazonaws.com/123456789012/work' },
  { OutputKey: 'BackfillDeadLetterQueueUrl27A2A811', OutputValue: 'https://sqs.us-east-1.amazonaws.com/123456789012/dlq' },
  { OutputKey: 'SomethingElse', OutputValue: 'x' },
];

async function errorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).message;
  }
  return 'did not throw';
}

describe('resolveDeployment (CloudFormation mocked at the SDK boundary)', () => {
  it('reads the construct\'s outputs from the stack', async () => {
    // Prepare
    const cloudFormation = mockClient(CloudFormationClient);
    cloudFormation.on(DescribeStacksCommand, { StackName: 'Example' }).resolves({ Stacks: [{ StackName: 'Example', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: OUTPUTS }] });
    // Act
    const deployment = await resolveDeployment({ stack: 'Example' }, ['stateMachineArn', 'queueUrl', 'deadLetterQueueUrl'], () => new CloudFormationClient({ region: 'us-east-1' }));
    // Assess
    assert.deepStrictEqual(deployment, { stateMachineArn: OUTPUTS[0].OutputValue, queueUrl: OUTPUTS[1].OutputValue, deadLetterQueueUrl: OUTPUTS[2].OutputValue });
    cloudFormation.restore();
  });

  it('uses the parts given directly without asking CloudFormation', async () => {
    // Prepare
    const cloudFormation = mockClient(CloudFormationClient);
    // Act
    const deployment = await resolveDeployment({ 'dlq-url': 'https://dlq' }, ['deadLetterQueueUrl'], () => new CloudFormationClient({ region: 'us-east-1' }));
    // Assess
    assert.deepStrictEqual([deployment.deadLetterQueueUrl, cloudFormation.calls().length], ['https://dlq', 0]);
    cloudFormation.restore();
  });

  it('says which flag is missing, and when a stack holds two backfills', async () => {
    // Prepare
    const cloudFormation = mockClient(CloudFormationClient);
    cloudFormation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Two', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [...OUTPUTS, { OutputKey: 'OtherStateMachineArnAAAAAAAA', OutputValue: 'arn:2' }] }] });
    const client = () => new CloudFormationClient({ region: 'us-east-1' });
    // Act
    const messages = await Promise.all([errorOf(resolveDeployment({}, ['stateMachineArn'], client)), errorOf(resolveDeployment({ stack: 'Two' }, ['stateMachineArn'], client))]);
    // Assess
    assert.deepStrictEqual(messages, [
      '--stack: is required to find the stateMachineArn (or give --state-machine-arn)',
      '--stack: stack Two holds 2 backfills (BackfillStateMachineArn9561ED01, OtherStateMachineArnAAAAAAAA); give the parts directly',
    ]);
    cloudFormation.restore();
  });
});
