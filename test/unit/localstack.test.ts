import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { CreateSecretCommand, PutSecretValueCommand, ResourceExistsException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Validations } from 'aws-cdk-lib';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { cdklocalCommands, ensureDatabaseSecret } from '../../localstack/database-secret';
import { LOCALSTACK } from '../../localstack/settings';
import { startAndWait } from '../../localstack/start-execution';
import { ROOT, exampleStack } from '../support/stacks';

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
    assert.deepStrictEqual(cdklocalCommands(ARN), [['bootstrap'], ['deploy', 'AdaptiveBackfillExample', '-c', `databaseSecretArn=${ARN}`, '--require-approval', 'never']]);
  });

  it('starts an execution and waits for its end: the outcome when it succeeds, error and cause when it fails', async () => {
    // Prepare
    const sfn = mockClient(SFNClient);
    const machine = 'arn:aws:states:us-east-1:000000000000:stateMachine:backfill';
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${machine}:run` });
    sfn.on(DescribeExecutionCommand)
      .resolvesOnce({ status: 'RUNNING' })
      .resolvesOnce({ status: 'SUCCEEDED', output: '{"status":"succeeded","itemsSucceeded":100}' })
      .resolvesOnce({ status: 'FAILED', error: 'BackfillHalted', cause: 'backoff budget spent' });
    try {
      // Act
      const results = [await startAndWait(new SFNClient({}), machine, 'run', { job: 'demo-lowercase-email' }, 1), await startAndWait(new SFNClient({}), machine, 'run', { job: 'demo-lowercase-email' }, 1)];
      // Assess
      assert.deepStrictEqual(results, [
        { executionArn: `${machine}:run`, status: 'SUCCEEDED', detail: { status: 'succeeded', itemsSucceeded: 100 } },
        { executionArn: `${machine}:run`, status: 'FAILED', detail: { error: 'BackfillHalted', cause: 'backoff budget spent' } },
      ]);
      assert.deepStrictEqual(sfn.commandCalls(StartExecutionCommand)[0].args[0].input, { stateMachineArn: machine, name: 'run', input: '{"job":"demo-lowercase-email"}' });
    } finally {
      sfn.restore();
    }
  });

  for (const script of ['deploy', 'start']) {
    it(`localstack:${script} refuses to run without AWS_ENDPOINT_URL, before touching anything`, async () => {
      // Prepare
      const { AWS_ENDPOINT_URL: _, ...env } = process.env;
      // Act
      const failure = await promisify(execFile)(process.execPath, ['--import', 'tsx', join('localstack', `${script}.ts`)], { cwd: ROOT, env }).then(() => 'exited 0', (e: { code: number; stderr: string }) => `${e.code} ${/AWS_ENDPOINT_URL is not set/.test(e.stderr)}`);
      // Assess
      assert.equal(failure, '1 true');
    });
  }

  it('the deployed stack (the import example with a LocalStack secret ARN) passes both cdk-nag packs', () => {
    // Prepare
    const { app } = exampleStack({ databaseSecretArn: ARN });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    // Act + Assess
    assert.doesNotThrow(() => app.synth());
  });

  it('docker-compose.yml agrees with the scripts: the Lambda network, the Postgres credentials and its host port', () => {
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
    };
    // Assess
    assert.deepStrictEqual(found, {
      network: 'adaptive-backfill', networkName: 'adaptive-backfill',
      user: LOCALSTACK.secret.username, password: LOCALSTACK.secret.password, db: LOCALSTACK.secret.dbname,
      hostPort: hostUrl.port, service: LOCALSTACK.secret.host,
    });
    assert.deepStrictEqual([hostUrl.username, hostUrl.password, hostUrl.pathname], [LOCALSTACK.secret.username, LOCALSTACK.secret.password, `/${LOCALSTACK.secret.dbname}`]);
  });
});
