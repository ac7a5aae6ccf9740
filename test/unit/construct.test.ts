import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AdaptiveBackfill } from '../../lib/adaptive-backfill';
import { exampleStack, logicalIdOf, resourcesOf, type Resources } from '../support/stacks';

/** Every policy statement attached to a role, flattened. */
function statementsOf(resources: Resources, roleId: string): Array<{ Action: string | string[]; Resource: unknown; Effect: string }> {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as Array<{ Ref: string }>).some((role) => role.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement);
}

function actionsOf(resources: Resources, roleId: string): string[] {
  return [...new Set(statementsOf(resources, roleId).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])))].sort();
}

describe('AdaptiveBackfill construct', () => {
  const { stack } = exampleStack();
  const template = Template.fromStack(stack);
  const resources = resourcesOf(template);
  const queueId = logicalIdOf(resources, 'AWS::SQS::Queue', 'BackfillWorkQueue');
  const dlqId = logicalIdOf(resources, 'AWS::SQS::Queue', 'BackfillDeadLetterQueue');

  it('makes an encrypted work queue that redrives to an encrypted DLQ', () => {
    // Assess
    assert.deepStrictEqual(resources[queueId].Properties, {
      MessageRetentionPeriod: 1209600,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 360,
    });
    assert.deepStrictEqual(resources[dlqId].Properties, { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true });
  });

  it('denies every non-TLS request on both queues', () => {
    // Act
    const denials = Object.values(resources)
      .filter((r) => r.Type === 'AWS::SQS::QueuePolicy')
      .map((r) => [r.Properties.Queues[0].Ref, r.Properties.PolicyDocument.Statement.find((s: { Effect: string }) => s.Effect === 'Deny')]);
    // Assess
    assert.deepStrictEqual(denials.map(([id, s]) => [id, s.Action, s.Condition]).sort(), [
      [dlqId, 'sqs:*', { Bool: { 'aws:SecureTransport': 'false' } }],
      [queueId, 'sqs:*', { Bool: { 'aws:SecureTransport': 'false' } }],
    ].sort());
  });

  it('runs three nodejs22.x functions whose environment carries the secret ARN, never a credential', () => {
    // Act
    const functions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    // Assess
    assert.deepStrictEqual(functions.map((f) => [f.Properties.Runtime, f.Properties.Architectures, f.Properties.TracingConfig]), Array(3).fill(['nodejs22.x', ['arm64'], { Mode: 'Active' }]));
    for (const fn of functions) {
      const env = fn.Properties.Environment.Variables as Record<string, unknown>;
      assert.deepStrictEqual(Object.keys(env).sort(), ['BOOKKEEPING_SCHEMA', 'DATABASE_SECRET_ARN', 'DEAD_LETTER_QUEUE_URL', 'MAX_RECEIVE_COUNT', 'NODE_EXTRA_CA_CERTS', 'QUEUE_URL']);
      assert.doesNotMatch(JSON.stringify(env), /password/i);
    }
  });

  it('gives each function only the permissions it uses, with no wildcard actions or managed policies', () => {
    // Prepare
    const role = (name: string) => logicalIdOf(resources, 'AWS::IAM::Role', `Backfill${name}Role`);
    const xrayAndLogs = ['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
    const readSecret = ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'];
    // Act
    const actions = ['InitRun', 'HealthProbe', 'BatchProcessor'].map((name) => actionsOf(resources, role(name)));
    const managed = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Role').map((r) => r.Properties.ManagedPolicyArns);
    // Assess
    assert.deepStrictEqual(actions, [
      [...xrayAndLogs, ...readSecret, 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'].sort(),
      [...xrayAndLogs, ...readSecret].sort(),
      [...xrayAndLogs, ...readSecret, 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:SendMessage'].sort(),
    ]);
    assert.deepStrictEqual(managed, Array(managed.length).fill(undefined));
    const allActions = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy').flatMap((r) => r.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => s.Action));
    assert.deepStrictEqual(allActions.filter((a: string) => a === '*' || a.endsWith(':*')), []);
  });

  it('lets the processor send only to its DLQ and consume only its own queue', () => {
    // Act
    const sqsStatements = statementsOf(resources, logicalIdOf(resources, 'AWS::IAM::Role', 'BackfillBatchProcessorRole'))
      .filter((s) => JSON.stringify(s.Action).includes('sqs:'))
      .map((s) => [[...(s.Action as string[])].sort(), s.Resource]);
    // Assess
    assert.deepStrictEqual(sqsStatements, [
      [['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'], { 'Fn::GetAtt': [queueId, 'Arn'] }],
      [['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], { 'Fn::GetAtt': [dlqId, 'Arn'] }],
    ]);
  });

  it('logs the state machine without execution data, traces it, and lets it start only itself', () => {
    // Prepare
    const machineId = logicalIdOf(resources, 'AWS::StepFunctions::StateMachine', 'BackfillStateMachine');
    const machine = resources[machineId].Properties;
    // Act
    const continuePolicy = Object.values(resources).find((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties).includes('states:StartExecution'));
    // Assess
    assert.deepStrictEqual([machine.LoggingConfiguration.IncludeExecutionData, machine.LoggingConfiguration.Level, machine.TracingConfiguration], [false, 'ALL', { Enabled: true }]);
    assert.deepStrictEqual(continuePolicy?.Properties.PolicyDocument.Statement, [{ Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: machineId } }]);
  });

  it('takes maxReceiveCount and batchTimeout into the queue', () => {
    // Prepare
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Custom');
    const databaseSecret = new secretsmanager.Secret(stack, 'Secret');
    // Act
    new AdaptiveBackfill(stack, 'Backfill', { jobEntry: 'jobs/demo.ts', databaseSecret, maxReceiveCount: 3 });
    // Assess
    const queue = Object.values(resourcesOf(Template.fromStack(stack))).find((r) => r.Type === 'AWS::SQS::Queue' && r.Properties.RedrivePolicy);
    assert.equal(queue?.Properties.RedrivePolicy.maxReceiveCount, 3);
  });

  it('collects every prop problem into one error that says what to change', () => {
    // Prepare
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Bad');
    const databaseSecret = new secretsmanager.Secret(stack, 'Secret');
    // Act
    const error = (() => {
      try {
        new AdaptiveBackfill(stack, 'Backfill', { jobEntry: 'jobs/missing.ts', databaseSecret, maxReceiveCount: 0, bookkeepingSchema: 'bad-name', memorySize: 64, defaults: { chunkSize: 0 } });
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    })();
    // Assess
    assert.deepStrictEqual(error.split('\n'), [
      'AdaptiveBackfill: invalid props:',
      `- jobEntry ${process.cwd()}/jobs/missing.ts does not exist`,
      '- maxReceiveCount must be an integer from 1 to 1000; got 0',
      '- bookkeepingSchema must be a SQL identifier; got "bad-name"',
      '- memorySize must be an integer from 128 to 10240; got 64',
      '- defaults.chunkSize: must be an integer from 1 to 1000000; got 0',
    ]);
  });
});

describe('cdk-nag AwsSolutions pack', () => {
  it('finds nothing unacknowledged in the example stack', () => {
    // Prepare
    const { app } = exampleStack();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // Act + Assess: synthesis throws ValidationFailed on any finding
    assert.doesNotThrow(() => app.synth());
  });

  it('does report a finding (the check really runs)', () => {
    // Prepare: a queue without TLS enforcement or a DLQ
    const { app, stack } = exampleStack();
    new sqs.Queue(stack, 'CarelessQueue', { encryption: sqs.QueueEncryption.SQS_MANAGED });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // Act
    const error = (() => {
      try {
        app.synth();
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    // Assess
    assert.match(String(error?.message), /Validation failed/);
  });
});
