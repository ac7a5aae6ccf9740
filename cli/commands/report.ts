import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidInputError } from '../../core/errors';
import { makePool } from '../../db/pool';
import { localEnv } from '../../local/env';
import { writeRunReport } from '../../local/report/write-report';
import { parseFlags } from '../args';
import type { Command } from '../command';
import { schemaOf } from '../run-database';

const OPTIONS = {
  out: { type: 'string' },
  'database-url': { type: 'string' },
  schema: { type: 'string' },
} as const;

/** An output file flag: checked before any work starts, so a long run does not end in a path that cannot be written. */
export function outputFileFlag(flag: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  if (path.trim() === '') throw new InvalidInputError(`--${flag}`, 'must be a file path; got ""');
  if (existsSync(path) && statSync(path).isDirectory()) throw new InvalidInputError(`--${flag}`, `must be a file, not the directory ${JSON.stringify(path)}`);
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InvalidInputError(`--${flag}`, `the directory ${JSON.stringify(dir)} does not exist`);
  return path;
}

export const reportCommand: Command = {
  name: 'report',
  summary: 'write the HTML report of any run (local or on AWS) from its history in Postgres',
  usage: `usage: backfill report RUN_ID --out FILE.html [--database-url URL] [--schema NAME]

  RUN_ID               the run (its runId; on AWS the execution name unless the input set one)
  --out FILE.html      where to write the page: one self-contained file, charts over time, every decision and why
  --database-url URL   the database the run backfilled, which holds its bookkeeping (else DATABASE_URL)
  --schema NAME        the bookkeeping schema (else BACKFILL_SCHEMA, else backfill)

exit status: 0 the report was written, 1 otherwise`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, OPTIONS, 1);
    const runId = positionals[0];
    if (!runId) throw new InvalidInputError('RUN_ID', 'is required: the run to report on');
    const out = outputFileFlag('out', values.out);
    if (!out) throw new InvalidInputError('--out', 'is required: the HTML file to write');
    const databaseUrl = values['database-url'] ?? localEnv.databaseUrl;
    if (!databaseUrl) throw new InvalidInputError('--database-url', 'is required (or set DATABASE_URL): the database that holds the run');
    const schema = schemaOf(values);
    const pool = makePool({ connectionString: databaseUrl, max: 2 });
    try {
      const written = await writeRunReport(pool, schema, runId, out).catch((error: { code?: string }) => {
        // 42P01 undefined_table: no backfill ever ran against this database with this schema.
        if (error.code === '42P01') return false;
        throw error;
      });
      if (!written) throw new InvalidInputError('RUN_ID', `no run ${JSON.stringify(runId)} in schema ${schema} of that database`);
    } finally {
      await pool.end();
    }
    console.error(`backfill: report of run ${runId} written to ${out}`);
    return 0;
  },
};
