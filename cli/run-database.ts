import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type pg from 'pg';
import { InvalidInputError } from '../core/errors';
import { assertIdentifier } from '../core/identifiers';
import { hasRunTable } from '../db/controls';
import { makePool } from '../db/pool';
import { readDatabaseSecret } from '../lambdas/entry/database-secret';
import { localEnv } from '../local/env';

/** The flags every command that reads or steers a run takes to reach its run table. */
export const DATABASE_OPTIONS = {
  'database-url': { type: 'string' },
  'secret-arn': { type: 'string' },
  schema: { type: 'string' },
} as const;

export interface DatabaseFlags {
  readonly 'database-url'?: string;
  readonly 'secret-arn'?: string;
  readonly schema?: string;
}

export const DATABASE_USAGE = `  --database-url URL   the Postgres holding the run table (else DATABASE_URL); a local run prints its URL
  --secret-arn ARN     or read the connection from this RDS-format secret, as the Lambdas do
                       (else BACKFILL_DATABASE_SECRET_ARN; set NODE_EXTRA_CA_CERTS to the RDS CA bundle)
  --schema NAME        the bookkeeping schema (the construct's bookkeepingSchema; else BACKFILL_SCHEMA, else backfill)`;

export interface RunDatabase {
  readonly pool: pg.Pool;
  readonly schema: string;
}

/**
 * The bookkeeping schema every command that reads or writes a run's bookkeeping uses: --schema, else
 * BACKFILL_SCHEMA, else backfill.
 */
export function schemaOf(flags: { readonly schema?: string }): string {
  return assertIdentifier('--schema', flags.schema ?? localEnv.bookkeepingSchema ?? 'backfill');
}

/** The secret's region is in its ARN, so no AWS_REGION is needed to read it. */
function regionOf(arn: string): string | undefined {
  return /^arn:aws[\w-]*:secretsmanager:([a-z0-9-]+):/.exec(arn)?.[1];
}

/**
 * Opens the run table: flags first (--database-url, --secret-arn), then DATABASE_URL, then
 * BACKFILL_DATABASE_SECRET_ARN. Checks that it holds runs before handing it over, and closes it afterwards.
 */
export async function withRunDatabase<T>(
  flags: DatabaseFlags,
  fn: (db: RunDatabase) => Promise<T>,
  secrets: (region: string | undefined) => SecretsManagerClient = (region) => new SecretsManagerClient(region ? { region } : {}),
): Promise<T> {
  const schema = schemaOf(flags);
  const url = flags['database-url'] ?? (flags['secret-arn'] ? undefined : localEnv.databaseUrl);
  const secretArn = url ? undefined : flags['secret-arn'] ?? localEnv.databaseSecretArn;
  if (!url && !secretArn) {
    throw new InvalidInputError('--database-url', 'is required to reach the run table (or --secret-arn ARN, or DATABASE_URL / BACKFILL_DATABASE_SECRET_ARN)');
  }
  let config: pg.PoolConfig;
  if (url) {
    config = { connectionString: url };
  } else {
    try {
      config = await readDatabaseSecret(secrets(regionOf(secretArn!)), secretArn!);
    } catch (error) {
      throw new InvalidInputError('--secret-arn', `cannot read the database secret: ${(error as Error).message}`, { cause: error });
    }
  }
  const pool = makePool({ ...config, max: 2 });
  try {
    if (!(await hasRunTable(pool, schema))) {
      throw new InvalidInputError('--schema', `this database has no ${schema}.runs table: no run has started against it (or give the construct's bookkeepingSchema)`);
    }
    return await fn({ pool, schema });
  } finally {
    await pool.end();
  }
}
