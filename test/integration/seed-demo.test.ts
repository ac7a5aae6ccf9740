import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { handler, seedRows } from '../../lambdas/entry/seed-demo';
import { openTestDatabase, type TestDatabase } from '../support/database';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-demo-AbCdEf';

describe('seed-demo function (the RDS example stack\'s)', () => {
  let db: TestDatabase;
  before(async () => { db = await openTestDatabase(); });
  after(() => db.close());

  it('creates demo_items with the rows asked for, connecting with the secret\'s RDS JSON', async () => {
    // Prepare: Secrets Manager mocked at the SDK boundary; the database is real
    const url = new URL(db.url);
    const secrets = mockClient(SecretsManagerClient);
    secrets.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: JSON.stringify({ host: url.hostname, port: Number(url.port), username: decodeURIComponent(url.username), password: decodeURIComponent(url.password), dbname: url.pathname.slice(1), ssl: false }) });
    process.env.DATABASE_SECRET_ARN = ARN;
    try {
      // Act
      const result = await handler({ rows: 250 });
      // Assess
      const { rows } = await db.pool.query<{ n: string; todo: string }>('SELECT count(*) AS n, count(*) FILTER (WHERE email_lower IS NULL) AS todo FROM demo_items');
      assert.deepStrictEqual([result, rows], [{ table: 'demo_items', rows: 250 }, [{ n: '250', todo: '250' }]]);
    } finally {
      secrets.restore();
      delete process.env.DATABASE_SECRET_ARN;
    }
  });

  it('rejects a row count it cannot seed in one invocation, naming the field, before connecting', () => {
    // Act
    const problems = [0, 1.5, 10_000_001, '10'].map((rows) => {
      try {
        return seedRows({ rows: rows as number });
      } catch (error) {
        return (error as Error).message;
      }
    });
    // Assess
    assert.deepStrictEqual([seedRows(null), seedRows({}), ...problems], [100_000, 100_000,
      'rows: must be an integer from 1 to 10000000; got 0',
      'rows: must be an integer from 1 to 10000000; got 1.5',
      'rows: must be an integer from 1 to 10000000; got 10000001',
      'rows: must be an integer from 1 to 10000000; got "10"',
    ]);
  });
});
