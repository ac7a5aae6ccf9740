import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type pg from 'pg';

/** The RDS secret format. */
interface DatabaseSecret {
  readonly host: string;
  readonly port?: number | string;
  readonly username: string;
  readonly password: string;
  readonly dbname?: string;
  /** Set to false only for a database without TLS (never on RDS). */
  readonly ssl?: boolean;
}

/** Reads the connection from Secrets Manager; the password never touches environment variables or logs. */
export async function readDatabaseSecret(client: SecretsManagerClient, secretArn: string): Promise<pg.PoolConfig> {
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!SecretString) throw new Error(`secret ${secretArn} has no SecretString`);
  let secret: DatabaseSecret;
  try {
    secret = JSON.parse(SecretString) as DatabaseSecret;
  } catch {
    throw new Error(`secret ${secretArn} is not JSON; expected { host, port, username, password, dbname }`);
  }
  for (const field of ['host', 'username', 'password'] as const) {
    if (typeof secret[field] !== 'string' || secret[field] === '') throw new Error(`secret ${secretArn}: field ${field} is missing`);
  }
  return {
    host: secret.host,
    port: Number(secret.port ?? 5432),
    user: secret.username,
    password: secret.password,
    database: secret.dbname ?? 'postgres',
    ssl: secret.ssl === false ? false : { rejectUnauthorized: true },
  };
}
