import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { readDatabaseSecret } from '../../lambdas/entry/database-secret';
import { makePool } from '../../db/pool';
import { openTestDatabase, type TestDatabase } from '../support/database';

// Secrets Manager cannot run here; the connection the secret describes can. This is the real-parts half.
describe('a database secret connects to a real Postgres', () => {
  let db: TestDatabase;
  before(async () => {
    db = await openTestDatabase();
  });
  after(() => db.close());

  it('opens a pool from the secret and queries through it', async () => {
    // Prepare
    const url = new URL(db.url);
    const secrets = mockClient(SecretsManagerClient);
    secrets.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ host: url.hostname, port: url.port, username: url.username, password: url.password, dbname: url.pathname.slice(1), ssl: false }),
    });
    const pool = makePool(await readDatabaseSecret(new SecretsManagerClient({ region: 'us-east-1' }), 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf'));
    try {
      // Act
      const { rows } = await pool.query('SELECT current_database() AS name, current_setting(\'application_name\') AS app');
      // Assess
      assert.deepStrictEqual(rows, [{ name: url.pathname.slice(1), app: 'adaptive-backfill' }]);
    } finally {
      await pool.end();
      secrets.restore();
    }
  });
});
