import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { AdaptiveBackfillExampleStack } from '../lib/example-stack';
import { AdaptiveBackfillRdsExampleStack } from '../lib/example-rds-stack';

// npx cdk synth | deploy                      the import example: your existing database (lib/example-stack.ts)
//   [-c databaseSecretArn=ARN] [-c vpcId=vpc-... -c securityGroupId=sg-...]
// npx cdk synth | deploy -c example=rds      a small RDS Postgres to try the product out (lib/example-rds-stack.ts)
//
// databaseSecretArn: the complete ARN of a secret holding the RDS JSON {host, port, username, password, dbname}.
//   Without it the stack creates a secret (generated password, placeholder host); fill it with that JSON before the
//   first run.
// dashboard=false: no CloudWatch dashboard (the LocalStack deployment: LocalStack has no provider for one).
// vpcId + securityGroupId: run the functions in the database's VPC with a security group the database accepts.
//   Vpc.fromLookup needs credentials, so a synth without them works only when neither is given.
const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return typeof value === 'string' && value !== '' ? value : undefined;
};
const example = context('example') ?? 'import';
if (example === 'rds') {
  new AdaptiveBackfillRdsExampleStack(app, 'AdaptiveBackfillRdsExample');
} else if (example === 'import') {
  const vpcId = context('vpcId');
  if (vpcId && !(process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION)) {
    throw new Error('-c vpcId needs AWS credentials and a region: the VPC is looked up in your account (Vpc.fromLookup)');
  }
  new AdaptiveBackfillExampleStack(app, 'AdaptiveBackfillExample', {
    databaseSecretArn: context('databaseSecretArn'),
    vpcId,
    securityGroupId: context('securityGroupId'),
    dashboard: dashboardContext(context('dashboard')),
    // Vpc.fromLookup needs a concrete account and region (the CLI's defaults); otherwise environment-agnostic.
    env: vpcId ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } : undefined,
  });
} else {
  throw new Error(`-c example must be import (the default) or rds; got ${JSON.stringify(example)}`);
}
// cdk-nag 3 is a policy-validation plugin (v2's Aspect and NagSuppressions are gone): an unacknowledged finding fails
// the synth; acknowledgements (Validations.of(x).acknowledge, each with its reason) are listed in the assembly's
// validation-report.json. Two packs: AwsSolutions and Serverless.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }), new ServerlessChecks(app, { verbose: true }));

function dashboardContext(value: string | undefined): boolean | undefined {
  if (value === undefined || value === 'true' || value === 'false') return value === undefined ? undefined : value === 'true';
  throw new Error(`-c dashboard must be true or false; got ${JSON.stringify(value)}`);
}
