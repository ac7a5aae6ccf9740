import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { AdaptiveBackfill } from './adaptive-backfill';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const DEMO_JOB = join(HERE, '..', 'jobs', 'demo.ts');
const POSTGRES_PORT = 5432;

export interface RdsExampleStackProps extends StackProps {
  /** The job module to bundle. @default the demo job */
  readonly jobEntry?: string;
  /** Notified when an alarm fires. @default - no alarm action */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * A stack to try the product out: a small RDS Postgres in its own VPC, and an AdaptiveBackfill in front of it.
 *
 * - Network: two AZs of isolated subnets (nothing reaches the internet or comes from it); the functions reach SQS
 *   and Secrets Manager through interface endpoints instead of a NAT gateway. Flow logs record rejected traffic.
 * - Database: PostgreSQL 17 on db.t4g.micro, 20 GiB encrypted gp3, single-AZ, 1 day of automated backups, no
 *   deletion protection, a final snapshot when the stack is deleted: cheap and easy to tear down, not production.
 * - Credentials: the secret RDS attaches to the instance (the RDS JSON: host, port, username, password, dbname),
 *   rotated every 30 days by Secrets Manager's hosted rotation; only its ARN reaches the functions.
 * - Security groups: the database accepts 5432 from the backfill functions, the seed function and the rotation
 *   function only; the functions may only talk to the database and the endpoints.
 * - SeedDemo: a function you invoke once to create demo_items (nothing outside the VPC can reach the database).
 */
export class AdaptiveBackfillRdsExampleStack extends Stack {
  public readonly vpc: ec2.Vpc;
  public readonly database: rds.DatabaseInstance;
  /** The security group of every function that talks to the database. */
  public readonly databaseClients: ec2.SecurityGroup;
  public readonly seedDemo: nodejs.NodejsFunction;
  public readonly backfill: AdaptiveBackfill;

  public constructor(scope: Construct, id: string, props: RdsExampleStackProps = {}) {
    super(scope, id, props);
    const isolated = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      flowLogs: {
        rejected: {
          trafficType: ec2.FlowLogTrafficType.REJECT,
          destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY })),
        },
      },
    });

    this.databaseClients = new ec2.SecurityGroup(this, 'DatabaseClients', { vpc: this.vpc, allowAllOutbound: false, description: 'Functions that talk to the database' });
    const databaseSg = new ec2.SecurityGroup(this, 'DatabaseSg', { vpc: this.vpc, allowAllOutbound: false, description: 'The database: 5432 from its clients only' });
    const rotationSg = new ec2.SecurityGroup(this, 'RotationSg', { vpc: this.vpc, allowAllOutbound: false, description: 'Secrets Manager rotation function' });
    const endpointSg = new ec2.SecurityGroup(this, 'EndpointSg', { vpc: this.vpc, allowAllOutbound: false, description: 'SQS, Secrets Manager and CloudWatch endpoints: 443 from the functions' });
    for (const client of [this.databaseClients, rotationSg]) {
      databaseSg.addIngressRule(client, ec2.Port.tcp(POSTGRES_PORT), 'Postgres from the functions');
      client.addEgressRule(databaseSg, ec2.Port.tcp(POSTGRES_PORT), 'Postgres');
      endpointSg.addIngressRule(client, ec2.Port.tcp(443), 'HTTPS to the AWS endpoints');
      client.addEgressRule(endpointSg, ec2.Port.tcp(443), 'HTTPS to the AWS endpoints');
    }
    // No NAT: the functions reach AWS through endpoints. CloudWatch monitoring is for the probe's RDS metrics.
    const endpoints = [
      ['Sqs', ec2.InterfaceVpcEndpointAwsService.SQS],
      ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ['CloudWatch', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING],
    ] as const;
    for (const [name, service] of endpoints) {
      this.vpc.addInterfaceEndpoint(`${name}Endpoint`, { service, subnets: isolated, securityGroups: [endpointSg], open: false });
    }

    this.database = new rds.DatabaseInstance(this, 'Database', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
      vpc: this.vpc,
      vpcSubnets: isolated,
      securityGroups: [databaseSg],
      port: POSTGRES_PORT,
      credentials: rds.Credentials.fromGeneratedSecret('backfill_admin'),
      databaseName: 'backfill_demo',
      allocatedStorage: 20,
      storageType: rds.StorageType.GP3,
      storageEncrypted: true,
      multiAz: false,
      publiclyAccessible: false,
      backupRetention: Duration.days(1),
      deleteAutomatedBackups: true,
      deletionProtection: false,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      cloudwatchLogsExports: ['postgresql'],
    });
    const secret = this.database.secret!;
    secret.addRotationSchedule('Rotation', {
      automaticallyAfter: Duration.days(30),
      hostedRotation: secretsmanager.HostedRotation.postgreSqlSingleUser({ vpc: this.vpc, vpcSubnets: isolated, securityGroups: [rotationSg] }),
    });

    this.backfill = new AdaptiveBackfill(this, 'Backfill', {
      jobEntry: props.jobEntry ?? DEMO_JOB,
      databaseSecret: secret,
      vpc: this.vpc,
      vpcSubnets: isolated,
      securityGroups: [this.databaseClients],
      alarmTopic: props.alarmTopic,
      // The probe reads the instance's CPUUtilization, DBLoad, ReplicaLag and FreeableMemory as health checks.
      databaseInstance: this.database,
    });
    this.seedDemo = this.makeSeedFunction(secret, isolated);

    acknowledgeTrialChoices(this.database);
    new CfnOutput(this, 'SeedDemoFunction', { value: this.seedDemo.functionName, description: 'aws lambda invoke --function-name <this> --payload \'{"rows":100000}\' --cli-binary-format raw-in-base64-out /dev/stdout' });
    new CfnOutput(this, 'DatabaseEndpoint', { value: this.database.dbInstanceEndpointAddress, description: 'reachable from inside the VPC only' });
  }

  /** Creates demo_items in the database (the demo job's table); same role shape as the construct's functions. */
  private makeSeedFunction(secret: secretsmanager.ISecret, subnets: ec2.SubnetSelection): nodejs.NodejsFunction {
    const logGroup = new logs.LogGroup(this, 'SeedDemoLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(this, 'SeedDemoRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      resources: ['*'],
    }));
    const fn = new nodejs.NodejsFunction(this, 'SeedDemo', {
      role,
      entry: join(HERE, '..', 'lambdas', 'entry', 'seed-demo.ts'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.minutes(15),
      environment: { DATABASE_SECRET_ARN: secret.secretArn, NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' },
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      vpc: this.vpc,
      vpcSubnets: subnets,
      securityGroups: [this.databaseClients],
      bundling: { format: nodejs.OutputFormat.CJS, target: 'node22', externalModules: ['@aws-sdk/*', 'pg-native'] },
    });
    secret.grantRead(fn);
    const runtimeReason = 'Project requirement: nodejs22.x (bundled for target node22), like the construct\'s functions; a newer runtime is a deliberate, tested upgrade.';
    Validations.of(fn).acknowledge({ id: 'AwsSolutions::AwsSolutions-L1', reason: runtimeReason });
    Validations.of(fn).acknowledge({ id: 'Serverless::Serverless-LambdaLatestVersion', reason: runtimeReason });
    Validations.of(fn).acknowledge({ id: 'Serverless::Serverless-LambdaDLQ', reason: 'Invoked by hand, synchronously (aws lambda invoke), once per trial; its result or error goes back to the caller. A DLQ only receives failed asynchronous invocations.' });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: 'Only actions without resource-level scoping are granted on *: X-Ray tracing and the network-interface actions Lambda needs in a VPC (Describe actions work only on *; the interfaces Lambda creates have IDs unknown at deploy time).',
    });
    return fn;
  }
}

/** The deliberate trial-stack trade-offs, each with its reason (cdk-nag AwsSolutions). */
function acknowledgeTrialChoices(database: rds.DatabaseInstance): void {
  const db = Validations.of(database);
  db.acknowledge({ id: 'AwsSolutions::AwsSolutions-RDS3', reason: 'Trial stack: single-AZ keeps the cost of trying the product low; a production database is your own (see the import example stack).' });
  db.acknowledge({ id: 'AwsSolutions::AwsSolutions-RDS10', reason: 'Trial stack: deletion protection off so `cdk destroy` tears it down; the removal policy still takes a final snapshot.' });
  db.acknowledge({ id: 'AwsSolutions::AwsSolutions-RDS11', reason: 'The default port adds no exposure: the database is in isolated subnets and its security group admits only the backfill, seed and rotation functions.' });
}
