import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { sampleExecutionInput } from '../core/input-schema';
import { resolveSettings, validateOverrides, type RunSettingsOverrides } from '../core/settings';
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

  public constructor(scope: Construct, id: string, props: AdaptiveBackfillProps) {
    super(scope, id);
    const jobEntry = checkProps(props);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    const batchTimeout = props.batchTimeout ?? Duration.minutes(5);
    const schema = props.bookkeepingSchema ?? 'backfill';

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
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
    };
    const makeFunction = (name: string, file: string, timeout: Duration) => {
      // Own role, writing only to its own log group, instead of the broad AWSLambdaBasicExecutionRole.
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
      const role = new iam.Role(this, `${name}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
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
        environment,
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
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions::AwsSolutions-L1',
        reason: 'Project requirement: the functions run on nodejs22.x (bundled for target node22), a supported Lambda runtime; moving to a newer runtime is a deliberate, tested upgrade, not an automatic one.',
      });
      Validations.of(role).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: props.vpc
          ? 'Only actions without resource-level scoping are granted on *: X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) and the network-interface actions Lambda needs in a VPC: the Describe actions work only on *, and the interfaces Lambda creates and deletes have IDs unknown at deploy time (AWS documents * or all interface ARNs for ec2:DeleteNetworkInterface).'
          : 'Only X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) is granted on *: X-Ray has no resource-level permissions.',
      });
      return fn;
    };
    this.initRun = makeFunction('InitRun', 'init-run.ts', Duration.minutes(15));
    this.healthProbe = makeFunction('HealthProbe', 'health-probe.ts', Duration.seconds(30));
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
    // Continue-as-new: the machine starts itself. A separate policy avoids a role <-> state machine cycle.
    new iam.Policy(this, 'ContinueAsNewPolicy', {
      roles: [this.stateMachine.role],
      statements: [new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.stateMachine.stateMachineArn] })],
    });
  }
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
  try {
    resolveSettings(validateOverrides('defaults', props.defaults));
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0) throw new Error(`AdaptiveBackfill: invalid props:\n- ${problems.join('\n- ')}`);
  return jobEntry;
}
