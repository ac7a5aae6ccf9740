import { SQSClient } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import { InvalidInputError } from '../core/errors';
import { assertRunId } from '../core/work-item';
import { makePool } from '../db/pool';
import { localEnv } from '../local/env';
import { DEPLOYMENT_OPTIONS, DEPLOYMENT_USAGE } from './deployment';
import { schemaOf } from './run-database';

/**
 * The flags of commands that work on AWS (the deployment's queues) or, with --local, on the embedded runtime's
 * bookkeeping in Postgres (its queues live only inside a running `backfill run --local`).
 */
export const TARGET_OPTIONS = {
  ...DEPLOYMENT_OPTIONS,
  local: { type: 'boolean' },
  'database-url': { type: 'string' },
  'run-id': { type: 'string' },
  schema: { type: 'string' },
} as const;

export const TARGET_USAGE = `target: AWS by default
${DEPLOYMENT_USAGE}
  or the embedded runtime:
  --local                  the run's bookkeeping in Postgres (what the next \`backfill run --local --run-id ID\` picks up)
  --database-url URL       that Postgres (else DATABASE_URL); required with --local
  --run-id ID              the run; required with --local
  --schema NAME            the bookkeeping schema (else BACKFILL_SCHEMA, else backfill)`;

export interface TargetFlags {
  readonly local?: boolean;
  readonly 'database-url'?: string;
  readonly 'run-id'?: string;
  readonly schema?: string;
}

/** The database URL given by flag or DATABASE_URL, if any. */
export function databaseUrlOf(flags: TargetFlags): string | undefined {
  return flags['database-url'] ?? localEnv.databaseUrl;
}

/** The local target: the Postgres and run id are required (an embedded Postgres does not outlive its run). */
export function localTarget(flags: TargetFlags): { databaseUrl: string; runId: string; schema: string } {
  const databaseUrl = databaseUrlOf(flags);
  if (!databaseUrl) throw new InvalidInputError('--database-url', 'is required with --local (or set DATABASE_URL): the local queues live in the run\'s Postgres; an embedded one does not outlive its run');
  if (!flags['run-id']) throw new InvalidInputError('--run-id', 'is required with --local: the run whose items to work on');
  return { databaseUrl, runId: assertRunId('--run-id', flags['run-id']), schema: schemaOf(flags) };
}

export async function withPool<T>(databaseUrl: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = makePool({ connectionString: databaseUrl, max: 2 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

/** An SQS client configured by the standard AWS variables (region, credentials, AWS_ENDPOINT_URL[_SQS]). */
export async function withSqs<T>(fn: (sqs: SQSClient) => Promise<T>): Promise<T> {
  const sqs = new SQSClient({});
  try {
    return await fn(sqs);
  } finally {
    sqs.destroy();
  }
}
