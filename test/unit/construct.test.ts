import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { AdaptiveBackfill } from '../../lib/adaptive-backfill';
import { exampleStack, logicalIdOf, rdsExampleStack, resourcesOf, type Resources } from '../support/stacks';

/** Every policy statement attached to a role, flattened. */
function statementsOf(resources: Resources, roleId: string): Array<{ Action: string | string[]; Resource: unknown; Effect: string }> {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as Array<{ Ref: string }>).some((role) => role.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement);
}

/** Every policy document a resource carries: managed/inline IAM policies, roles' inline policies, resource policies. */
function policyDocumentsOf(resource: Resources[string]): Array<{ Statement: any[] }> {
  const p = resource.Properties ?? {};
  if (['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy', 'AWS::SecretsManager::ResourcePolicy'].includes(resource.Type)) {
    return [p.PolicyDocument ?? p.ResourcePolicy];
  }
  if (resource.Type === 'AWS::IAM::Role') return (p.Policies ?? []).map((policy: { PolicyDocument: { Statement: any[] } }) => policy.PolicyDocument);
  return [];
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
      assert.deepStrictEqual(Object.keys(env).sort(), ['BOOKKEEPING_SCHEMA', 'DATABASE_SECRET_ARN', 'DEAD_LETTER_QUEUE_URL', 'MAX_RECEIVE_COUNT', 'NODE_EXTRA_CA_CERTS', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME', 'QUEUE_URL']);
      assert.deepStrictEqual([env.POWERTOOLS_SERVICE_NAME, env.POWERTOOLS_METRICS_NAMESPACE], ['ExampleBackfill4CE900A1', 'AdaptiveBackfill']);
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
  });

  it('grants no wildcard action in any policy of either example stack (IAM, queue, topic and secret policies)', () => {
    // Prepare
    const stacks = [resources, resourcesOf(Template.fromStack(rdsExampleStack().stack))];
    // Act
    const allowed = stacks.flatMap((rs) => Object.values(rs).flatMap((r) => policyDocumentsOf(r)).flatMap((doc) => doc.Statement))
      .filter((st: { Effect: string }) => st.Effect === 'Allow')
      .flatMap((st: { Action: string | string[] }) => (Array.isArray(st.Action) ? st.Action : [st.Action]));
    // Assess
    assert.ok(allowed.length > 40, `expected the functions' and the state machine's grants; found ${allowed.length}`);
    assert.deepStrictEqual(allowed.filter((a: string) => a === '*' || a.endsWith(':*')), []);
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
        new AdaptiveBackfill(stack, 'Backfill', { jobEntry: 'jobs/missing.ts', databaseSecret, maxReceiveCount: 0, bookkeepingSchema: 'bad-name', memorySize: 64, defaults: { chunkSize: 0 }, backoffAlarmMinutes: 0, serviceName: 'has spaces' });
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
      '- backoffAlarmMinutes must be an integer from 1 to 1440; got 0',
      '- serviceName must be 1 to 200 letters, digits or _ . : / -; got "has spaces"',
      '- defaults.chunkSize: must be an integer from 1 to 1000000; got 0',
    ]);
  });
});

/** The synthesis error of an app, or undefined when it synthesized. */
function synthError(app: App): Error | undefined {
  try {
    app.synth();
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

describe('cdk-nag AwsSolutions and Serverless packs', () => {
  for (const [name, make] of [['the import example stack', () => exampleStack()], ['the RDS example stack', () => rdsExampleStack()]] as const) {
    it(`find nothing unacknowledged in ${name}`, () => {
      // Prepare
      const { app } = make();
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
      // Act
      const error = synthError(app);
      // Assess: synthesis throws ValidationFailed on any finding
      assert.equal(error?.message, undefined);
    });
  }

  it('do report findings (each check really runs)', () => {
    // Prepare: a queue without TLS enforcement or a DLQ, checked by each pack alone
    const failures = (['AwsSolutions', 'Serverless'] as const).map((pack) => {
      const { app, stack } = exampleStack();
      new sqs.Queue(stack, 'CarelessQueue', { encryption: sqs.QueueEncryption.SQS_MANAGED });
      Validations.of(app).addPlugins(pack === 'AwsSolutions' ? new AwsSolutionsChecks(app) : new ServerlessChecks(app));
      // Act
      return synthError(app)?.message ?? 'synthesized';
    });
    // Assess
    assert.match(failures[0], /Validation failed/);
    assert.match(failures[1], /Validation failed/);
  });
});

describe('AdaptiveBackfill dashboard and alarms', () => {
  const { stack } = exampleStack();
  const resources = resourcesOf(Template.fromStack(stack));
  const alarms = Object.fromEntries(Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm').map(([id, r]) => [id.replace(/^BackfillAlarms|[0-9A-F]{8}$/g, ''), r.Properties]));
  const common = { ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1, Threshold: 1, TreatMissingData: 'notBreaching' };

  it('alarms when the DLQ is not empty, when an execution failed, and after 15 minutes of nothing but backoff', () => {
    // Prepare
    const strip = ({ AlarmDescription: _, ...rest }: Record<string, unknown>) => rest;
    // Assess
    assert.deepStrictEqual(Object.keys(alarms).sort(), ['BackingOffTooLong', 'DeadLetterQueueNotEmpty', 'ExecutionFailed']);
    assert.deepStrictEqual(strip(alarms.DeadLetterQueueNotEmpty), {
      ...common, Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Statistic: 'Maximum', Period: 60,
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(resources, 'AWS::SQS::Queue', 'BackfillDeadLetterQueue'), 'QueueName'] } }],
    });
    assert.deepStrictEqual(strip(alarms.ExecutionFailed), {
      ...common, Namespace: 'AWS/States', MetricName: 'ExecutionsFailed', Statistic: 'Sum', Period: 60,
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: logicalIdOf(resources, 'AWS::StepFunctions::StateMachine', 'BackfillStateMachine') } }],
    });
    assert.deepStrictEqual(strip(alarms.BackingOffTooLong), {
      ...common, Namespace: 'AdaptiveBackfill', MetricName: 'BackingOff', Statistic: 'Minimum', Period: 900,
      Dimensions: [{ Name: 'service', Value: 'ExampleBackfill4CE900A1' }],
    });
  });

  it('takes the backoff minutes and notifies an SNS topic on alarm and on OK', () => {
    // Prepare
    const custom = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Custom');
    const topic = new sns.Topic(custom, 'Pager');
    // Act
    const backfill = new AdaptiveBackfill(custom, 'Backfill', { jobEntry: 'jobs/demo.ts', databaseSecret: new secretsmanager.Secret(custom, 'Secret'), backoffAlarmMinutes: 45, alarmTopic: topic, serviceName: 'orders-backfill' });
    // Assess
    const props = Object.values(resourcesOf(Template.fromStack(custom))).filter((r) => r.Type === 'AWS::CloudWatch::Alarm').map((r) => r.Properties);
    const topicRef = { Ref: custom.getLogicalId(topic.node.defaultChild as sns.CfnTopic) };
    assert.deepStrictEqual(props.map((p) => [p.AlarmActions, p.OKActions]), Array(3).fill([[topicRef], [topicRef]]));
    assert.deepStrictEqual(props.filter((p) => p.MetricName === 'BackingOff').map((p) => [p.Period, p.Dimensions]), [[2700, [{ Name: 'service', Value: 'orders-backfill' }]]]);
    assert.deepStrictEqual(backfill.alarms.all().map((a) => a.node.id), ['DeadLetterQueueNotEmpty', 'ExecutionFailed', 'BackingOffTooLong']);
  });

  it('draws throughput, batch size, waits, health per check, queue and DLQ depth, executions and the alarms', () => {
    // Prepare
    const dashboard = Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard')!;
    const body = JSON.parse(JSON.stringify(stack.resolve(dashboard.Properties.DashboardBody)['Fn::Join'][1].map((part: unknown) => (typeof part === 'string' ? part : 'REGION')).join(''))) as string;
    const widgets = (JSON.parse(body) as { widgets: Array<{ type: string; properties: { title: string; metrics?: unknown[][]; alarms?: unknown[] } }> }).widgets;
    // Act
    const byTitle = Object.fromEntries(widgets.map((w) => [w.properties.title, (w.properties.metrics ?? []).map((m) => {
      const last = m[m.length - 1] as { expression?: string; label?: string };
      return last.expression ?? `${m[0]}/${m[1]}${last.label ? ` (${last.label})` : ''}`;
    })]));
    // Assess
    assert.deepStrictEqual(byTitle, {
      'Throughput (per minute)': ['AdaptiveBackfill/ItemsProcessed (items done)', 'AdaptiveBackfill/RowsAffected (rows affected)'],
      'Batch size and duration': ['AdaptiveBackfill/BatchSize (batch size asked)', 'AdaptiveBackfill/ItemsReceived (items received)', 'AdaptiveBackfill/BatchDuration (batch ms (avg))', 'AdaptiveBackfill/BatchDuration (batch ms (p90))'],
      'Waits (seconds chosen per minute)': ['AdaptiveBackfill/WaitSeconds (backoff seconds)', 'AdaptiveBackfill/WaitSeconds (pause seconds)', 'AdaptiveBackfill/WaitSeconds (pace seconds)', 'AdaptiveBackfill/BackingOff (backing off (1 = yes))'],
      'Health verdict (0 ok, 1 warning, 2 critical)': ['AdaptiveBackfill/HealthVerdict (report)', 'SEARCH(\'{AdaptiveBackfill,Check,service} MetricName="HealthCheckVerdict" service="ExampleBackfill4CE900A1"\', \'Maximum\', 60)'],
      'Health checks (measured values)': ['SEARCH(\'{AdaptiveBackfill,Check,service} MetricName="HealthCheckValue" service="ExampleBackfill4CE900A1"\', \'Maximum\', 60)'],
      Failures: ['AdaptiveBackfill/ItemsRetried (items retried)', 'AdaptiveBackfill/ItemsDeadLettered (items dead-lettered)', 'AdaptiveBackfill/BatchesFailed (batches failed)'],
      'Work queue depth': ['AWS/SQS/ApproximateNumberOfMessagesVisible (waiting)', 'AWS/SQS/ApproximateNumberOfMessagesNotVisible (in flight / retrying)'],
      'Dead-letter queue depth': ['AWS/SQS/ApproximateNumberOfMessagesVisible (dead letters)'],
      Executions: ['AWS/States/ExecutionsStarted (started)', 'AWS/States/ExecutionsSucceeded (succeeded)', 'AWS/States/ExecutionsFailed (failed)', 'AWS/States/ExecutionsAborted (aborted)'],
      Alarms: [],
    });
    assert.equal(widgets.find((w) => w.type === 'alarm')?.properties.alarms?.length, 3);
  });
});
