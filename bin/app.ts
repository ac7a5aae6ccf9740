import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AdaptiveBackfillExampleStack } from '../lib/example-stack';

// npx cdk deploy [-c databaseSecretArn=ARN] [-c vpcId=vpc-... -c securityGroupId=sg-...]
const app = new App();
const context = (key: string): string | undefined => app.node.tryGetContext(key) ?? undefined;
new AdaptiveBackfillExampleStack(app, 'AdaptiveBackfillExample', {
  databaseSecretArn: context('databaseSecretArn'),
  vpcId: context('vpcId'),
  securityGroupId: context('securityGroupId'),
  // Vpc.fromLookup needs a concrete account and region; the CLI's defaults supply them when deploying.
  env: context('vpcId') ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } : undefined,
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
