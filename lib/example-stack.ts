import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { AdaptiveBackfill } from './adaptive-backfill';

const DEMO_JOB = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'jobs', 'demo.ts');

export interface ExampleStackProps extends StackProps {
  /** An existing secret in the RDS format; when absent the stack creates one for you to fill in. */
  readonly databaseSecretArn?: string;
  /**
   * The database's VPC and a security group it accepts connections from (both or neither). The functions go in its
   * private subnets, which must reach SQS and Secrets Manager (NAT gateway or VPC endpoints).
   */
  readonly vpcId?: string;
  readonly securityGroupId?: string;
  /** Whether to create the CloudWatch dashboard (LocalStack cannot deploy one). @default true */
  readonly dashboard?: boolean;
  /** The job module to bundle. @default the demo job */
  readonly jobEntry?: string;
}

/** A deployable example: one AdaptiveBackfill running the demo job against the database in the secret. */
export class AdaptiveBackfillExampleStack extends Stack {
  public readonly backfill: AdaptiveBackfill;

  public constructor(scope: Construct, id: string, props: ExampleStackProps = {}) {
    super(scope, id, props);
    if (Boolean(props.vpcId) !== Boolean(props.securityGroupId)) {
      throw new Error('AdaptiveBackfillExampleStack: give both vpcId and securityGroupId, or neither');
    }
    // Without databaseSecretArn the stack creates the secret, holding a generated password and placeholder host.
    // Before the first run, fill it with the RDS JSON of your database: {"host","port","username","password","dbname"}
    // (aws secretsmanager put-secret-value --secret-id <ARN> --secret-string '{...}'). A secret attached to an RDS
    // instance or cluster (CDK's generated credentials) already has that shape: pass its ARN as databaseSecretArn
    // instead. RDS's own managed master-user secret holds only username and password, so it does not.
    const databaseSecret = props.databaseSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'DatabaseSecret', props.databaseSecretArn)
      : new secretsmanager.Secret(this, 'DatabaseSecret', {
          description: 'Fill with the RDS JSON: {"host","port","username","password","dbname"}',
          generateSecretString: { secretStringTemplate: JSON.stringify({ username: 'backfill', host: 'CHANGE-ME', port: 5432, dbname: 'postgres' }), generateStringKey: 'password', excludePunctuation: true },
        });
    if (databaseSecret instanceof secretsmanager.Secret) {
      Validations.of(databaseSecret).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SMG4',
        reason: 'This secret only carries the connection details of an existing database, filled in by the user; rotating it here would set a password the database does not know. Rotate where the database is managed (e.g. a rotated secret attached to the RDS instance, passed as databaseSecretArn); the functions re-read the secret every 5 minutes, so a rotated password is picked up.',
      });
    }
    const vpc = props.vpcId ? ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: props.vpcId }) : undefined;
    const securityGroups = props.securityGroupId ? [ec2.SecurityGroup.fromSecurityGroupId(this, 'DatabaseClients', props.securityGroupId)] : undefined;
    this.backfill = new AdaptiveBackfill(this, 'Backfill', { jobEntry: props.jobEntry ?? DEMO_JOB, databaseSecret, vpc, securityGroups, dashboard: props.dashboard });
  }
}
