import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { sampleExecutionInput } from '../core/input-schema';
import { resolveSettings, validateOverrides, type RunSettingsOverrides } from '../core/settings';
import { HEALTH_PROBE_TIMEOUT_SECONDS } from '../lambdas/probe-timing';
import { METRICS_NAMESPACE } from '../lambdas/telemetry';
import { BackfillAlarms } from './alarms';
import { makeBackfillDashboard } from './dashboard';
import { buildBackfillDefinition } from './state-machine';

/** The import specifier the Lambda entry points use for the job; the bundler points it at `jobEntry`. */
export const JOB_MODULE_ALIAS = '@adaptive-backfill/job';

const HERE = dirname(fileURLToPath(import.meta.url));
const ENTRY_DIR = join(HERE, '..', 'lambdas', 'entry');

export interface AdaptiveBackfillProps {
  /**
   * Path to the job module: its default export is a job definition (`defineJob({...})`). It is bundled into
   * the Lambda functions; an execution selects it by its `name`.
   */
  readonly jobEntry: string;

  /**
   * Secret holding the connection as JSON: `{ host, port, username, password, dbname }` (the RDS format).
   * Only its ARN reaches the functions; they read it at run time and cache it.
   */
  readonly databaseSecret: secretsmanager.ISecret;

  /**
   * VPC to run the functions in (the database's VPC).
   * @default - the functions run outside any VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Subnets within `vpc`.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups for the functions, e.g. one the database accepts connections from.
   * @default - a new security group when `vpc` is set
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * Knob defaults for every execution (chunkSize, batch, backoff, health); execution input overrides them.
   * @default - the job's settings, then the built-in defaults
   */
  readonly defaults?: RunSettingsOverrides;

  /**
   * Receives before SQS moves a failing work item to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;

  /**
   * Postgres schema for the bookkeeping tables (runs, done keys, failures).
   * @default 'backfill'
   */
  readonly bookkeepingSchema?: string;

  /**
   * Timeout of the batch processor; the work queue's visibility timeout is derived from it.
   * @default Duration.minutes(5)
   */
  readonly batchTimeout?: Duration;

  /**
   * Memory of each function, in MiB.
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * The event bus that receives the completion event (source `adaptive-backfill`, detail-type
   * `Backfill Run Finished`, detail: the run's outcome) when a run succeeds, halts or is aborted.
   * @default - the account's default event bus
   */
  readonly eventBus?: events.IEventBus;

  /**
   * The `service` field of every log line and the `service` dimension of every metric (namespace AdaptiveBackfill):
   * what tells this deployment's metrics from another's in the same account.
   * @default - the construct's unique id in the app, e.g. `AdaptiveBackfillExampleBackfill5A1F3C2D`
   */
  readonly serviceName?: string;

  /**
   * Minutes of uninterrupted backing off (no other decision in between) before the BackingOffTooLong alarm fires.
   * Keep it above `backoff.maxSeconds` (in minutes): the probe runs at least that often while backing off.
   * @default 15
   */
  readonly backoffAlarmMinutes?: number;

  /**
   * SNS topic notified when an alarm fires and when it returns to OK.
   * @default - the alarms have no action; they show on the dashboard and in the console
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Whether to create the CloudWatch dashboard. LocalStack has no CloudFormation provider for
   * AWS::CloudWatch::Dashboard, so the LocalStack deployment leaves it out (docs/localstack.md).
   * @default true
   */
  readonly dashboard?: boolean;

  /**
   * The RDS DB instance the backfill writes to. The health probe then reads its CloudWatch metrics as the checks
   * rdsCpuUtilization, rdsDbLoad, rdsReplicaLag and rdsFreeableMemory. Give this or `databaseCluster`, not both.
   * @default - no RDS metrics
   */
  readonly databaseInstance?: rds.IDatabaseInstance;

  /**
   * The Aurora DB cluster the backfill writes to: the same checks on its writer (Role=WRITER), with
   * AuroraReplicaLagMaximum as rdsReplicaLag.
   * @default - no Aurora metrics
   */
  readonly databaseCluster?: rds.IDatabaseCluster;

  /**
   * Lets the health probe read CloudWatch metrics (cloudwatch:GetMetricData), which a job's own metric checks
   * need even without `databaseInstance` or `databaseCluster`.
   * @default - true when databaseInstance or databaseCluster is given, else false
   */
  readonly cloudWatchMetrics?: boolean;
}

/**
 * A health-gated, adaptive backfill: a Step Functions loop that probes Postgres before every batch, processes
 * work items from an encrypted SQS queue (with a dead-letter queue), and backs off when the database is busy.
 */
export class AdaptiveBackfill extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly initRun: nodejs.NodejsFunction;
  public readonly healthProbe: nodejs.NodejsFunction;
  public readonly batchProcessor: nodejs.NodejsFunction;
  public readonly stateMachine: sfn.StateMachine;
  /** The `service` dimension of this deployment's metrics. */
  public readonly serviceName: string;
  /** DLQ not empty, an execution failed, backing off too long. */
  public readonly alarms: BackfillAlarms;
  /** Absent when the `dashboard` prop is false. */
  public readonly dashboard?: cloudwatch.Dashboard;

  public constructor(scope: Construct, id: string, props: AdaptiveBackfillProps) {
    super(scope, id);
    const jobEntry = checkProps(props);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    const batchTimeout = props.batchTimeout ?? Duration.minutes(5);
    const schema = props.bookkeepingSchema ?? 'backfill';
    this.serviceName = props.serviceName ?? Names.uniqueId(this);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless::Serverless-SQSRedrivePolicy',
      reason: 'This is the dead-letter queue itself: its messages stay 14 days for inspection and redrive to the work queue (backfill dlq); a dead-letter queue of the dead-letter queue would only hide them.',
    });
    this.queue = new sqs.Queue(this, 'WorkQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // A received batch stays invisible while it runs; a crashed batch reappears after this.
      visibilityTimeout: Duration.seconds(batchTimeout.toSeconds() + 60),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });

    const environment = {
      QUEUE_URL: this.queue.queueUrl,
      DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl,
      MAX_RECEIVE_COUNT: String(maxReceiveCount),
      DATABASE_SECRET_ARN: props.databaseSecret.secretArn,
      BOOKKEEPING_SCHEMA: schema,
      // Node 18+ runtimes do not trust the RDS certificate authorities unless told to.
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      // Powertools' variables: logs and EMF metrics (written to the function's log group; no PutMetricData).
      POWERTOOLS_SERVICE_NAME: this.serviceName,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    };
    // Only the probe reads CloudWatch, and only when told which database (or that the job has metric checks).
    const probeExtras = cloudWatchExtras(props);
    const makeFunction = (name: string, file: string, timeout: Duration, extras: FunctionExtras = {}) => {
      // Own role, writing only to its own log group, instead of the broad AWSLambdaBasicExecutionRole.
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
      const role = new iam.Role(this, `${name}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
      for (const statement of extras.statements ?? []) role.addToPolicy(statement);
      if (props.vpc) {
        // With its own role, a function in a VPC gets no AWSLambdaVPCAccessExecutionRole from CDK: without these,
        // Lambda cannot create the function's network interfaces and the deployment fails. The managed policy's
        // ec2 actions, without its logs:* on every log group.
        role.addToPolicy(new iam.PolicyStatement({ actions: VPC_NETWORK_INTERFACE_ACTIONS, resources: ['*'] }));
      }
      const fn = new nodejs.NodejsFunction(this, name, {
        role,
        entry: join(ENTRY_DIR, file),
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: props.memorySize ?? 512,
        timeout,
        environment: { ...environment, ...extras.environment },
        tracing: lambda.Tracing.ACTIVE,
        logGroup,
        vpc: props.vpc,
        vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
        securityGroups: props.securityGroups,
        bundling: {
          format: nodejs.OutputFormat.CJS,
          target: 'node22',
          externalModules: ['@aws-sdk/*', 'pg-native'],
          esbuildArgs: { [`--alias:${JOB_MODULE_ALIAS}`]: jobEntry },
        },
      });
      props.databaseSecret.grantRead(fn);
      const runtimeReason = 'Project requirement: the functions run on nodejs22.x (bundled for target node22), a supported Lambda runtime; moving to a newer runtime is a deliberate, tested upgrade, not an automatic one.';
      Validations.of(fn).acknowledge({ id: 'AwsSolutions::AwsSolutions-L1', reason: runtimeReason });
      Validations.of(fn).acknowledge({ id: 'Serverless::Serverless-LambdaLatestVersion', reason: runtimeReason });
      Validations.of(fn).acknowledge({
        id: 'Serverless::Serverless-LambdaDLQ',
        reason: 'Only the state machine invokes these functions, synchronously (LambdaInvoke, RequestResponse); a Lambda DLQ receives failed asynchronous invocations only. A failed invocation reaches the state machine, which catches it (BatchFailed) or fails the execution (ExecutionFailed alarm); failed work items go to the work queue\'s own DLQ.',
      });
      Validations.of(role).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: (props.vpc
          ? 'Only actions without resource-level scoping are granted on *: X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) and the network-interface actions Lambda needs in a VPC: the Describe actions work only on *, and the interfaces Lambda creates and deletes have IDs unknown at deploy time (AWS documents * or all interface ARNs for ec2:DeleteNetworkInterface).'
          : 'Only X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) is granted on *: X-Ray has no resource-level permissions.')
          + (extras.wildcardReason ? ` ${extras.wildcardReason}` : ''),
      });
      return fn;
    };
    this.initRun = makeFunction('InitRun', 'init-run.ts', Duration.minutes(15));
    // Computed from the probe's enforced limits (lambdas/probe-timing.ts: 50 s at worst, whatever the knobs say).
    this.healthProbe = makeFunction('HealthProbe', 'health-probe.ts', Duration.seconds(HEALTH_PROBE_TIMEOUT_SECONDS), probeExtras);
    this.batchProcessor = makeFunction('BatchProcessor', 'batch-processor.ts', batchTimeout);
    this.queue.grantSendMessages(this.initRun);
    this.queue.grantConsumeMessages(this.batchProcessor);
    this.deadLetterQueue.grantSendMessages(this.batchProcessor);

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(
        buildBackfillDefinition(this, { initRun: this.initRun, healthProbe: this.healthProbe, batchProcessor: this.batchProcessor }, { defaults: props.defaults, eventBus: props.eventBus }),
      ),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'StateMachineLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
        level: sfn.LogLevel.ALL,
        // Payloads carry run data; the events alone show what happened.
        includeExecutionData: false,
      },
    });
    const machineRole = this.stateMachine.role;
    Validations.of(machineRole).acknowledge({ id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]', reason: 'Log delivery (logs:CreateLogDelivery and friends) and X-Ray tracing have no resource-level permissions; CDK grants exactly those on *.' });
    for (const fn of [this.initRun, this.healthProbe, this.batchProcessor]) {
      Validations.of(machineRole).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'lambda:InvokeFunction on the function and its versions/aliases (ARN:*), as CDK grants for a LambdaInvoke task; no other function.',
      });
    }
    // What the `backfill` command finds with --stack (CloudFormation outputs), so operators need no ARNs by hand.
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn, description: 'backfill start/status/abort: the state machine' });
    new CfnOutput(this, 'WorkQueueUrl', { value: this.queue.queueUrl, description: 'backfill status/enqueue: the work queue' });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl, description: 'backfill dlq: the dead-letter queue' });
    // Step Functions has no saved sample input for its "Start execution" dialog: the sample is an output to copy.
    new CfnOutput(this, 'SampleExecutionInput', {
      value: JSON.stringify(sampleExecutionInput(props.defaults)),
      description: 'Start execution (console) or backfill start --input: a sample input at this deployment\'s defaults; set job to the deployed job\'s name (schema: backfill schema)',
    });
    this.alarms = new BackfillAlarms(this, 'Alarms', {
      serviceName: this.serviceName,
      deadLetterQueue: this.deadLetterQueue,
      stateMachine: this.stateMachine,
      backoffMinutes: props.backoffAlarmMinutes ?? 15,
      alarmTopic: props.alarmTopic,
    });
    this.dashboard = props.dashboard === false ? undefined : makeBackfillDashboard(this, 'Dashboard', {
      serviceName: this.serviceName,
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      stateMachine: this.stateMachine,
      alarms: this.alarms.all(),
    });
    // Continue-as-new: the machine starts itself. A separate policy avoids a role <-> state machine cycle.
    new iam.Policy(this, 'ContinueAsNewPolicy', {
      roles: [this.stateMachine.role],
      statements: [new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.stateMachine.stateMachineArn] })],
    });
  }
}

/** What one function gets beyond the common set: environment, permissions, and why any of them is on *. */
interface FunctionExtras {
  readonly environment?: Record<string, string>;
  readonly statements?: iam.PolicyStatement[];
  /** Appended to the function role's IAM5 acknowledgement. */
  readonly wildcardReason?: string;
}

/** The health probe's CloudWatch access: which database to read (environment) and cloudwatch:GetMetricData. */
function cloudWatchExtras(props: AdaptiveBackfillProps): FunctionExtras {
  const enabled = props.cloudWatchMetrics ?? Boolean(props.databaseInstance || props.databaseCluster);
  if (!enabled) return {};
  return {
    environment: {
      CLOUDWATCH_METRICS: 'true',
      ...(props.databaseInstance ? { RDS_DB_INSTANCE_ID: props.databaseInstance.instanceIdentifier } : {}),
      ...(props.databaseCluster ? { RDS_DB_CLUSTER_ID: props.databaseCluster.clusterIdentifier } : {}),
    },
    statements: [new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] })],
    wildcardReason: 'The health probe reads RDS and job metrics with cloudwatch:GetMetricData, which has no resource-level permissions (it supports only *); it is read-only and the only CloudWatch action granted.',
  };
}

/** What Lambda needs to attach a function to a VPC (the ec2 part of AWSLambdaVPCAccessExecutionRole). */
const VPC_NETWORK_INTERFACE_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];

/** Collects every prop problem and throws once, saying what to change. Returns the job entry's absolute path. */
function checkProps(props: AdaptiveBackfillProps): string {
  const problems: string[] = [];
  const jobEntry = isAbsolute(props.jobEntry) ? props.jobEntry : resolve(props.jobEntry);
  if (!/\.(ts|js|mjs|cjs|mts|cts)$/.test(jobEntry)) problems.push(`jobEntry must be a .ts or .js module; got ${props.jobEntry}`);
  else if (!existsSync(jobEntry)) problems.push(`jobEntry ${jobEntry} does not exist`);
  const receives = props.maxReceiveCount;
  if (receives !== undefined && (!Number.isInteger(receives) || receives < 1 || receives > 1000)) {
    problems.push(`maxReceiveCount must be an integer from 1 to 1000; got ${receives}`);
  }
  if (props.bookkeepingSchema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(props.bookkeepingSchema)) {
    problems.push(`bookkeepingSchema must be a SQL identifier; got ${JSON.stringify(props.bookkeepingSchema)}`);
  }
  const timeout = props.batchTimeout?.toSeconds();
  if (timeout !== undefined && (timeout < 10 || timeout > 900)) problems.push(`batchTimeout must be from 10 seconds to 15 minutes; got ${timeout}s`);
  const memory = props.memorySize;
  if (memory !== undefined && (!Number.isInteger(memory) || memory < 128 || memory > 10240)) problems.push(`memorySize must be an integer from 128 to 10240; got ${memory}`);
  if (!props.vpc && (props.vpcSubnets || props.securityGroups)) problems.push('vpcSubnets and securityGroups need vpc');
  const alarmMinutes = props.backoffAlarmMinutes;
  if (alarmMinutes !== undefined && (!Number.isInteger(alarmMinutes) || alarmMinutes < 1 || alarmMinutes > 1440)) {
    problems.push(`backoffAlarmMinutes must be an integer from 1 to 1440; got ${alarmMinutes}`);
  }
  if (props.serviceName !== undefined && !/^[A-Za-z0-9_.:/-]{1,200}$/.test(props.serviceName)) {
    problems.push(`serviceName must be 1 to 200 letters, digits or _ . : / -; got ${JSON.stringify(props.serviceName)}`);
  }
  if (props.databaseInstance && props.databaseCluster) problems.push('give databaseInstance or databaseCluster, not both');
  if (props.cloudWatchMetrics === false && (props.databaseInstance || props.databaseCluster)) problems.push('cloudWatchMetrics: false contradicts databaseInstance/databaseCluster, whose metrics need it');
  try {
    resolveSettings(validateOverrides('defaults', props.defaults));
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0) throw new Error(`AdaptiveBackfill: invalid props:\n- ${problems.join('\n- ')}`);
  return jobEntry;
}
