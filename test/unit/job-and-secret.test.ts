import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { readDatabaseSecret } from '../../lambdas/entry/database-secret';
import { loadJob } from '../../local/load-job';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf';

describe('loadJob', () => {
  it('loads a plain-object job from a .js module and a defineJob job from a .ts module', async () => {
    // Act
    const plain = await loadJob(join(FIXTURES, 'plain-job.js'));
    const typed = await loadJob(join(FIXTURES, 'poison-job.ts'));
    // Assess
    assert.deepStrictEqual([plain.job.name, typed.job.name], ['plain-js', 'poison']);
  });

  it('rejects a module that is not a job, naming the problem', async () => {
    // Act
    const error = await loadJob(join(FIXTURES, '..', 'support', 'database.ts')).catch((e: Error) => e);
    // Assess
    assert.match((error as Error).message, /support\/database\.ts: the default export must be a job definition \(use defineJob\(\{\.\.\.\}\)\)$/);
  });
});

describe('readDatabaseSecret (Secrets Manager mocked at the SDK boundary)', () => {
  it('turns the RDS secret format into a TLS connection config', async () => {
    // Prepare
    const secrets = mockClient(SecretsManagerClient);
    secrets.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: JSON.stringify({ host: 'db.internal', port: 6543, username: 'app', password: 's3cret', dbname: 'shop' }) });
    // Act
    const config = await readDatabaseSecret(new SecretsManagerClient({ region: 'us-east-1' }), ARN);
    // Assess
    assert.deepStrictEqual(config, { host: 'db.internal', port: 6543, user: 'app', password: 's3cret', database: 'shop', ssl: { rejectUnauthorized: true } });
    secrets.restore();
  });

  it('says which field is missing, without echoing the secret', async () => {
    // Prepare
    const secrets = mockClient(SecretsManagerClient);
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ host: 'db.internal', username: 'app', password: '' }) });
    // Act
    const error = await readDatabaseSecret(new SecretsManagerClient({ region: 'us-east-1' }), ARN).catch((e: Error) => e);
    // Assess
    assert.equal((error as Error).message, `secret ${ARN}: field password is missing`);
    secrets.restore();
  });
});
