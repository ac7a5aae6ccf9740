import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { INVALID_PASSWORD, makeSecretPool } from '../../lambdas/entry/secret-pool';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { until } from '../support/steering';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf';
/** Roles are server-wide: a name of its own, dropped afterwards, in case the server is DATABASE_URL's. */
const ROLE = `rotated_${randomUUID().replaceAll('-', '').slice(0, 12)}`;

// Secrets Manager cannot run here (mocked at the SDK); the password the database takes, and refuses, is real.
describe('a rotated database password (real Postgres, Secrets Manager mocked)', () => {
  let db: TestDatabase;
  const secrets = mockClient(SecretsManagerClient);
  let password = 'first-password';
  before(async () => {
    // Embedded even with DATABASE_URL: the test needs a server that checks passwords (a trust-auth one would not).
    db = await openTestDatabase({ alwaysEmbedded: true });
    await db.pool.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${password}'`);
    const url = new URL(db.url);
    secrets.on(GetSecretValueCommand).callsFake(async () => ({
      SecretString: JSON.stringify({ host: url.hostname, port: url.port, username: ROLE, password, dbname: url.pathname.slice(1), ssl: false }),
    }));
  });
  after(async () => {
    secrets.restore();
    await db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${ROLE}'`);
    await db.pool.query(`DROP ROLE IF EXISTS ${ROLE}`);
    await db.close();
  });

  it('drops the pool whose password is refused, so the next call reads the rotated secret instead of waiting out the cache', async () => {
    // Prepare: a pool made with the first password, in use
    const getPool = makeSecretPool({ secrets: new SecretsManagerClient({ region: 'us-east-1' }), secretArn: SECRET_ARN });
    const before = await getPool();
    await before.query('SELECT 1');
    // The secret is rotated: the database takes only the new password, and the old sessions are gone (a failover)
    password = 'second-password';
    await db.pool.query(`ALTER ROLE ${ROLE} PASSWORD '${password}'`);
    await db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${ROLE}'`);
    await until('the pool has noticed its session is gone', async () => before.totalCount === 0);
    // Act
    const refused = await (await getPool()).query('SELECT 1').catch((error: { code?: string }) => error);
    const after = await getPool();
    const { rows } = await after.query<{ who: string }>('SELECT current_user AS who');
    // Assess
    assert.deepStrictEqual([(refused as { code?: string }).code, after === before, rows, secrets.commandCalls(GetSecretValueCommand).length], [INVALID_PASSWORD, false, [{ who: ROLE }], 2]);
    await after.end();
  });
});
