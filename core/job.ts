import { InvalidJobError } from './errors';
import { assertIdentifier } from './identifiers';
import { jobHealthProblem, type JobHealth } from './job-health';
import { validateOverrides, type RunSettingsOverrides } from './settings';
import type { KeyRange, WorkItem } from './work-item';

export type ItemOutcome =
  | { readonly status: 'ok'; readonly rowsAffected?: number }
  | { readonly status: 'retry'; readonly reason: string; readonly stack?: string }
  | { readonly status: 'fail'; readonly reason: string; readonly stack?: string };

/** What a query returns, whichever client runs it. */
export interface QueryResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number | null;
}

export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
}

export interface JobContext {
  readonly runId: string;
  /** The target database (a pool). */
  readonly db: Queryable;
  /** Epoch milliseconds by which the batch must be done; items not finished by then come back later. */
  readonly deadline: number;
  /** Aborted at the deadline, for jobs that call out to other systems. */
  readonly signal: AbortSignal;
  /**
   * Runs `fn` (the item's effect, returning the rows it changed) in a transaction that first claims `item`'s
   * dedupe key in the bookkeeping table: the effect commits at most once per runId and dedupe key, even when
   * the item is delivered twice or to two processors at once (the second finds the key taken, or waits for the
   * first to finish, and returns ok with 0 rows). A throw rolls the claim back, so the item can be tried again.
   * Its statements are bounded by the time left before the deadline. For effects outside this database, use
   * `${runId}:${dedupeKey}` as the other system's idempotency key.
   */
  withTransaction(item: WorkItem, fn: (tx: Queryable) => Promise<number>): Promise<ItemOutcome>;
  /** @deprecated the earlier name of withTransaction; same function. */
  withItemTransaction(item: WorkItem, fn: (tx: Queryable) => Promise<number>): Promise<ItemOutcome>;
}

export interface JobSource {
  /** `table` or `schema.table`; validated and quoted. */
  readonly table: string;
  /** An integer key column: ranges are planned over its actual values (keyset pagination). */
  readonly key: string;
}

interface JobBase {
  readonly name: string;
  readonly description?: string;
  /** Knob defaults for this job (health thresholds and strategy included); execution input overrides them. */
  readonly settings?: RunSettingsOverrides;
  /** The job's own health checks (SQL, CloudWatch metric, function) and evaluator; tuned by name in settings.health.custom. */
  readonly health?: JobHealth;
  /** After the run: how many rows still need the backfill (0 means done). The local runner checks it. */
  remaining?(db: Queryable): Promise<number>;
}

/** Runs `sql` once per key range, with $1 = lo (inclusive) and $2 = hi (exclusive). */
export interface SqlJobDefinition extends JobBase {
  readonly source: JobSource;
  readonly sql: string;
}

/** Arbitrary code: one outcome per item, in the same order. */
export interface CodeJobDefinition extends JobBase {
  readonly source?: JobSource;
  process(items: readonly WorkItem[], ctx: JobContext): Promise<readonly ItemOutcome[]>;
}

export type JobDefinition = SqlJobDefinition | CodeJobDefinition;
export type { KeyRange, WorkItem };
export type { CustomHealthCheck, FunctionHealthCheck, JobHealth, MetricHealthCheck, SqlHealthCheck } from './job-health';

/** Identity helper: gives a job module its types. */
export function defineJob<const T extends JobDefinition>(job: T): T {
  return job;
}

export function isSqlJob(job: JobDefinition): job is SqlJobDefinition {
  return typeof (job as SqlJobDefinition).sql === 'string';
}

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$/;

/** Checks a loaded module's default export against the job contract. */
export function validateJob(value: unknown, origin: string): JobDefinition {
  const fail = (problem: string): never => {
    throw new InvalidJobError(`${origin}: ${problem}`);
  };
  if (typeof value !== 'object' || value === null) return fail('the default export must be a job definition (use defineJob({...}))');
  const job = value as Record<string, unknown>;
  if (typeof job.name !== 'string' || !JOB_NAME.test(job.name)) fail(`name must be letters, digits, _ . : - (at most 80); got ${JSON.stringify(job.name)}`);
  const hasSql = job.sql !== undefined;
  const hasProcess = job.process !== undefined;
  if (hasSql === hasProcess) fail('define exactly one of sql (a statement run per key range) or process(items, ctx)');
  if (hasSql && (typeof job.sql !== 'string' || job.sql.trim() === '')) fail('sql must be a non-empty string');
  if (hasProcess && typeof job.process !== 'function') fail('process must be a function (items, ctx) => outcomes');
  if (hasSql && job.source === undefined) fail('a sql job needs source: { table, key }');
  if (job.source !== undefined) {
    const source = job.source as Record<string, unknown>;
    if (typeof source !== 'object' || source === null) fail('source must be { table, key }');
    const tableParts = typeof source.table === 'string' ? source.table.split('.') : [source.table];
    if (tableParts.length > 2) fail(`source.table must be "table" or "schema.table"; got ${JSON.stringify(source.table)}`);
    tableParts.forEach((part) => assertIdentifier('source.table', part));
    assertIdentifier('source.key', source.key);
  }
  if (job.remaining !== undefined && typeof job.remaining !== 'function') fail('remaining must be a function (db) => number');
  if (job.health !== undefined) {
    const problem = jobHealthProblem(job.health);
    if (problem) fail(problem);
  }
  try {
    validateOverrides('settings', job.settings);
  } catch (error) {
    fail((error as Error).message);
  }
  return value as JobDefinition;
}
