import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { CreateSecretCommand, PutSecretValueCommand, ResourceExistsException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { cdklocalCommands, ensureDatabaseSecret } from '../../localstack/database-secret';
import { LOCALSTACK } from '../../localstack/settings';
import { executionStep, startAndFollow } from '../../localstack/start-execution';
import { ROOT, exampleStack, resourcesOf } from '../support/stacks';

const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:adaptive-backfill/localstack-postgres-AbCdEf';

describe('LocalStack scripts (SDK mocked: LocalStack cannot run here)', () => {
  it('creates the functions\' secret with the compose Postgres as the Lambdas see it (no TLS), or updates it', async () => {
    // Prepare
    const secrets = mockClient(SecretsManagerClient);
    secrets.on(CreateSecretCommand).resolvesOnce({ ARN }).rejectsOnce(new ResourceExistsException({ message: 'exists', $metadata: {} }));
    secrets.on(PutSecretValueCommand).resolves({ ARN });
    try {
      // Act
      const arns = [await ensureDatabaseSecret(new SecretsManagerClient({})), await ensureDatabaseSecret(new SecretsManagerClient({}))];
      // Assess
      const value = '{"host":"postgres","port":5432,"username":"backfill","password":"backfill-local-only","dbname":"backfill","ssl":false}';
      assert.deepStrictEqual(arns, [ARN, ARN]);
      assert.deepStrictEqual(secrets.commandCalls(CreateSecretCommand).map((c) => [c.args[0].input.Name, c.args[0].input.SecretString]), Array(2).fill([LOCALSTACK.secretName, value]));
      assert.deepStrictEqual(secrets.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input), [{ SecretId: LOCALSTACK.secretName, SecretString: value }]);
    } finally {
      secrets.restore();
    }
  });

  it('deploys the import example stack with cdklocal against that secret', () => {
    // Assess
    const context = ['-c', `databaseSecretArn=${ARN}`, '-c', 'dashboard=false'];
    assert.deepStrictEqual(cdklocalCommands(ARN), [['bootstrap', ...context], ['deploy', 'AdaptiveBackfillExample', ...context, '--require-approval', 'never']]);
  });

  it('follows a run across continue-as-new to its outcome: every execution, the last one\'s status and output', async () => {
    // Prepare: the first execution runs, then continues as -2, which continues as -3, which finishes
    const sfn = mockClient(SFNClient);
    const machine = 'arn:aws:states:eu-central-1:000000000000:stateMachine:backfill';
    const execution = (n: number) => `arn:aws:states:eu-central-1:000000000000:execution:backfill:run${n === 1 ? '' : `-${n}`}`;
    sfn.on(StartExecutionCommand).resolves({ executionArn: execution(1) });
    sfn.on(DescribeExecutionCommand, { executionArn: execution(1) }).resolvesOnce({ status: 'RUNNING' }).resolves({ status: 'SUCCEEDED', output: JSON.stringify({ executionArn: execution(2) }) });
    sfn.on(DescribeExecutionCommand, { executionArn: execution(2) }).resolves({ status: 'SUCCEEDED', output: JSON.stringify({ executionArn: execution(3) }) });
    sfn.on(DescribeExecutionCommand, { executionArn: execution(3) }).resolvesOnce({ status: 'RUNNING' }).resolves({ status: 'SUCCEEDED', output: '{"status":"succeeded","itemsSucceeded":100}' });
    const waits: number[] = [];
    const seen: string[] = [];
    try {
      // Act
      const result = await startAndFollow(new SFNClient({}), machine, 'run', { job: 'demo-lowercase-email' }, { pollMs: 7, sleep: async (ms) => void waits.push(ms), onExecution: (arn) => seen.push(arn) });
      // Assess
      assert.deepStrictEqual(result, { executions: [execution(1), execution(2), execution(3)], status: 'SUCCEEDED', detail: { status: 'succeeded', itemsSucceeded: 100 } });
      assert.deepStrictEqual([seen, waits], [[execution(1), execution(2), execution(3)], [7, 7]]);
      assert.deepStrictEqual(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input), [{ stateMachineArn: machine, name: 'run', input: '{"job":"demo-lowercase-email"}' }]);
    } finally {
      sfn.restore();
    }
  });

  it('reports the run as failed when a later execution fails, with that execution\'s error and cause', async () => {
    // Prepare
    const sfn = mockClient(SFNClient);
    const first = 'arn:aws:states:us-east-1:000000000000:execution:backfill:run';
    sfn.on(StartExecutionCommand).resolves({ executionArn: first });
    sfn.on(DescribeExecutionCommand, { executionArn: first }).resolves({ status: 'SUCCEEDED', output: JSON.stringify({ executionArn: `${first}-2` }) });
    sfn.on(DescribeExecutionCommand, { executionArn: `${first}-2` }).resolves({ status: 'FAILED', error: 'BackfillHalted', cause: 'backoff budget spent' });
    try {
      // Act
      const result = await startAndFollow(new SFNClient({}), 'arn:aws:states:us-east-1:000000000000:stateMachine:backfill', 'run', {}, { pollMs: 0 });
      // Assess
      assert.deepStrictEqual(result, { executions: [first, `${first}-2`], status: 'FAILED', detail: { error: 'BackfillHalted', cause: 'backoff budget spent' } });
    } finally {
      sfn.restore();
    }
  });

  it('reads one description: running, continued (only the exact ContinuedAsNew output), or ended', () => {
    // Prepare
    const next = 'arn:aws:states:us-east-1:000000000000:execution:backfill:abc';
    const cases = [
      { status: 'RUNNING' },
      { status: 'SUCCEEDED', output: JSON.stringify({ executionArn: next }) },
      { status: 'SUCCEEDED', output: JSON.stringify({ executionArn: next, status: 'succeeded' }) },
      { status: 'SUCCEEDED', output: JSON.stringify({ executionArn: 'not-an-arn' }) },
      { status: 'SUCCEEDED', output: 'plain text' },
      { status: 'TIMED_OUT', error: 'States.Timeout', cause: undefined },
      { status: 'ABORTED' },
    ] as const;
    // Act
    const steps = cases.map((c) => executionStep(c));
    // Assess
    assert.deepStrictEqual(steps, [
      { kind: 'running' },
      { kind: 'continued', executionArn: next },
      { kind: 'ended', status: 'SUCCEEDED', detail: { executionArn: next, status: 'succeeded' } },
      { kind: 'ended', status: 'SUCCEEDED', detail: { executionArn: 'not-an-arn' } },
      { kind: 'ended', status: 'SUCCEEDED', detail: 'plain text' },
      { kind: 'ended', status: 'TIMED_OUT', detail: { error: 'States.Timeout', cause: undefined } },
      { kind: 'ended', status: 'ABORTED', detail: { error: undefined, cause: undefined } },
    ]);
  });

  for (const script of ['deploy', 'start']) {
    it(`localstack:${script} refuses to run without AWS_ENDPOINT_URL, before touching anything`, async () => {
      // Prepare
      const { AWS_ENDPOINT_URL: _, ...env } = process.env;
      // Act
      const failure = await promisify(execFile)(process.execPath, ['--import', 'tsx', join('localstack', `${script}.ts`)], { cwd: ROOT, env }).then(() => 'exited 0', (e: { code: number; stderr: string }) => `${e.code} ${e.stderr.trim().split('\n').pop()}`);
      // Assess
      assert.equal(failure, `1 localstack:${script}: AWS_ENDPOINT_URL: is not set: export AWS_ENDPOINT_URL=http://localhost.localstack.cloud:4566 AWS_ENDPOINT_URL_S3=http://s3.localhost.localstack.cloud:4566 AWS_REGION=us-east-1 (see docs/localstack.md), so nothing reaches real AWS`);
    });
  }

  it('the deployed stack (the import example with a LocalStack secret ARN, no dashboard) passes both cdk-nag packs', () => {
    // Prepare
    const { app } = exampleStack({ databaseSecretArn: ARN, dashboard: false });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    // Act + Assess
    assert.doesNotThrow(() => app.synth());
  });

  it('the deployed stack uses only resource types LocalStack 4.14.0 has a CloudFormation provider for', () => {
    // Prepare: each type below has a provider in localstack/localstack v4.14.0
    // (localstack-core/localstack/services/*/resource_providers/*_plugin.py); AWS::CloudWatch::Dashboard has none.
    const { stack } = exampleStack({ databaseSecretArn: ARN, dashboard: false });
    // Act
    const types = [...new Set(Object.values(resourcesOf(Template.fromStack(stack))).map((r) => r.Type))].sort();
    // Assess
    assert.deepStrictEqual(types, [
      'AWS::CloudWatch::Alarm', 'AWS::IAM::Policy', 'AWS::IAM::Role', 'AWS::Lambda::Function', 'AWS::Logs::LogGroup',
      'AWS::SQS::Queue', 'AWS::SQS::QueuePolicy', 'AWS::StepFunctions::StateMachine',
    ]);
  });

  it('docker-compose.yml agrees with the scripts: the Lambda network, the Postgres credentials and its host port, the pinned image', () => {
    // Prepare
    const compose = readFileSync(join(ROOT, 'localstack', 'docker-compose.yml'), 'utf8');
    const hostUrl = new URL(LOCALSTACK.hostDatabaseUrl);
    // Act
    const found = {
      network: compose.match(/LAMBDA_DOCKER_NETWORK=(\S+)/)?.[1],
      networkName: compose.match(/^ {2}adaptive-backfill:\n {4}name: (\S+)/m)?.[1],
      user: compose.match(/POSTGRES_USER: (\S+)/)?.[1],
      password: compose.match(/POSTGRES_PASSWORD: (\S+)/)?.[1],
      db: compose.match(/POSTGRES_DB: (\S+)/)?.[1],
      hostPort: compose.match(/"127\.0\.0\.1:(\d+):5432"/)?.[1],
      service: compose.match(/^ {2}(postgres):$/m)?.[1],
      image: compose.match(/image: (\$\{LOCALSTACK_IMAGE:-\S+\})/)?.[1],
      unsupportedTypes: compose.match(/CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=(\S+)/)?.[1],
    };
    // Assess
    assert.deepStrictEqual(found, {
      network: 'adaptive-backfill', networkName: 'adaptive-backfill',
      user: LOCALSTACK.secret.username, password: LOCALSTACK.secret.password, db: LOCALSTACK.secret.dbname,
      hostPort: hostUrl.port, service: LOCALSTACK.secret.host,
      // the last community image (no auth token), and an unsupported resource type fails the deploy
      image: '${LOCALSTACK_IMAGE:-localstack/localstack:4.14.0}', unsupportedTypes: '0',
    });
    assert.deepStrictEqual([hostUrl.username, hostUrl.password, hostUrl.pathname], [LOCALSTACK.secret.username, LOCALSTACK.secret.password, `/${LOCALSTACK.secret.dbname}`]);
  });
});
