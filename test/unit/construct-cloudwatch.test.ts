import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AdaptiveBackfill, type AdaptiveBackfillProps } from '../../lib/adaptive-backfill';
import { projectContext, resourcesOf, type Resources } from '../support/stacks';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf';

function stackWith(props: Partial<AdaptiveBackfillProps>, nag = false): { app: App; resources: () => Resources } {
  const app = new App({ context: { ...projectContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Metrics', { env: { account: '123456789012', region: 'us-east-1' } });
  const databaseSecret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Secret', SECRET_ARN);
  new AdaptiveBackfill(stack, 'Backfill', { jobEntry: 'jobs/demo.ts', databaseSecret, ...props });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, resources: () => resourcesOf(Template.fromStack(stack)) };
}

/** Per function (by logical id prefix): its CloudWatch environment and whether its role may read metrics. */
function cloudWatchWiring(resources: Resources): Record<string, [Record<string, unknown>, boolean]> {
  const out: Record<string, [Record<string, unknown>, boolean]> = {};
  for (const name of ['InitRun', 'HealthProbe', 'BatchProcessor']) {
    const fn = Object.entries(resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(`Backfill${name}`))![1];
    const env = fn.Properties.Environment.Variables as Record<string, unknown>;
    const cloudWatchEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('RDS_') || k.startsWith('CLOUDWATCH_')));
    const roleId = Object.keys(resources).find((id) => resources[id].Type === 'AWS::IAM::Role' && id.startsWith(`Backfill${name}Role`))!;
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as Array<{ Ref: string }>).some((role) => role.Ref === roleId))
      .flatMap((r) => r.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
    const reads = statements.some((s) => JSON.stringify(s.Action).includes('cloudwatch:GetMetricData'));
    // CDK merges it into the statement on * with X-Ray's actions (no resource-level permissions either); nothing else.
    if (reads) assert.deepStrictEqual(statements.filter((s) => JSON.stringify(s.Action).includes('cloudwatch:')), [{ Action: ['cloudwatch:GetMetricData', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Effect: 'Allow', Resource: '*' }]);
    out[name] = [cloudWatchEnv, reads];
  }
  return out;
}

describe('AdaptiveBackfill: CloudWatch metrics for the health probe', () => {
  it('gives only the health probe the RDS instance and cloudwatch:GetMetricData', () => {
    // Prepare
    const { resources } = stackWith({ databaseInstance: rds.DatabaseInstance.fromDatabaseInstanceAttributes(new Stack(), 'Db', { instanceIdentifier: 'prod-db', instanceEndpointAddress: 'h', port: 5432, securityGroups: [] }) });
    // Act
    const wiring = cloudWatchWiring(resources());
    // Assess
    assert.deepStrictEqual(wiring, {
      InitRun: [{}, false],
      HealthProbe: [{ CLOUDWATCH_METRICS: 'true', RDS_DB_INSTANCE_ID: 'prod-db' }, true],
      BatchProcessor: [{}, false],
    });
  });

  it('passes an Aurora cluster by its identifier, and grants metrics for a job\'s own metric checks alone', () => {
    // Act
    const cluster = cloudWatchWiring(stackWith({ databaseCluster: rds.DatabaseCluster.fromDatabaseClusterAttributes(new Stack(), 'Cluster', { clusterIdentifier: 'aurora-1' }) }).resources());
    const alone = cloudWatchWiring(stackWith({ cloudWatchMetrics: true }).resources());
    const none = cloudWatchWiring(stackWith({}).resources());
    // Assess
    assert.deepStrictEqual(cluster.HealthProbe, [{ CLOUDWATCH_METRICS: 'true', RDS_DB_CLUSTER_ID: 'aurora-1' }, true]);
    assert.deepStrictEqual(alone.HealthProbe, [{ CLOUDWATCH_METRICS: 'true' }, true]);
    assert.deepStrictEqual(none.HealthProbe, [{}, false]);
  });

  it('passes cdk-nag AwsSolutions with the metric permission acknowledged for its reason', () => {
    // Prepare
    const { app } = stackWith({ databaseInstance: rds.DatabaseInstance.fromDatabaseInstanceAttributes(new Stack(), 'Db', { instanceIdentifier: 'prod-db', instanceEndpointAddress: 'h', port: 5432, securityGroups: [] }) }, true);
    // Act + Assess: synthesis throws on any unacknowledged finding
    assert.doesNotThrow(() => app.synth());
  });

  it('rejects an instance and a cluster together, and metrics turned off with a database', () => {
    // Prepare
    const instance = rds.DatabaseInstance.fromDatabaseInstanceAttributes(new Stack(), 'Db', { instanceIdentifier: 'prod-db', instanceEndpointAddress: 'h', port: 5432, securityGroups: [] });
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(new Stack(), 'Cluster', { clusterIdentifier: 'aurora-1' });
    // Act
    const message = (() => {
      try {
        stackWith({ databaseInstance: instance, databaseCluster: cluster, cloudWatchMetrics: false });
      } catch (error) {
        return (error as Error).message;
      }
      return 'no error';
    })();
    // Assess
    assert.deepStrictEqual(message.split('\n'), [
      'AdaptiveBackfill: invalid props:',
      '- give databaseInstance or databaseCluster, not both',
      '- cloudWatchMetrics: false contradicts databaseInstance/databaseCluster, whose metrics need it',
    ]);
  });
});
