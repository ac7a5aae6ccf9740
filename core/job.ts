import { InvalidJobError } from './errors';
import { assertIdentifier } from './identifiers';
import { jobHealthProblem, type JobHealth } from './job-health';
import { rangeSqlProblem, type RangeCondition } from './key-range';
import { validateOverrides, type RunSettingsOverrides } from './settings';
import { MAX_KEY_COLUMNS, type KeyRange, type WorkItem } from './work-item';

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
  /**
   * The condition selecting exactly `item`'s range over the job's key, and its parameters: `"id" >= $1::uuid AND
   * "id" < $2::uuid`, or a row comparison for a composite key, open-ended on the last range (what `{{range}}` becomes
   * in a SQL job). Parameters are numbered from `startParam` (default 1); `alias` qualifies the key's columns.
   * Throws a KeyRangeError when the item has no range or it does not fit the key (wrong number of values).
   */
  rangeCondition(item: WorkItem, startParam?: number, alias?: string): RangeCondition;
}

export interface JobSource {
  /** `table` or `schema.table`; validated and quoted. */
  readonly table: string;
  /**
   * The key ranges are planned over (keyset pagination over its actual values): one column, or an ordered list of
   * columns (a composite key), backed by the primary key or a unique index on exactly these columns, NOT NULL, of a
   * type with a btree ordering (integers, numeric, text/varchar/char under the column's collation, uuid, date,
   * timestamp, timestamptz). See docs/keys.md.
   */
  readonly key: string | readonly string[];
}

/** The key's columns, in order. */
export function keyColumnNames(source: JobSource): readonly string[] {
  return typeof source.key === 'string' ? [source.key] : source.key;
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

/**
 * Runs `sql` once per key range: `{{range}}` in it becomes the range's condition (parameters bound for you), or, for
 * a key of one integer column, $1 = lo (inclusive) and $2 = hi (exclusive).
 */
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
export type { KeyRange, RangeCondition, WorkItem };
export type { CustomHealthCheck, FunctionHealthCheck, JobHealth, MetricHealthCheck, SqlHealthCheck } from './job-health';

/** Identity helper: gives a job module its types. */
export function defineJob<const T extends JobDefinition>(job: T): T {
  return job;
}

export function isSqlJob(job: JobDefinition): job is SqlJobDefinition {
  return typeof (job as SqlJobDefinition).sql === 'string';
}

/** `source.key`: a column name, or a non-empty list of distinct column names (a composite key, in index order). */
function checkKeyNames(key: unknown, fail: (problem: string) => never): void {
  if (typeof key === 'string' && key.includes(',')) {
    fail(`source.key: a composite key is a list of columns in the order of its index, e.g. key: [${key.split(',').map((k) => JSON.stringify(k.trim())).join(', ')}]; got ${JSON.stringify(key)}`);
  }
  if (!Array.isArray(key)) {
    assertIdentifier('source.key', key);
    return;
  }
  if (key.length === 0 || key.length > MAX_KEY_COLUMNS) fail(`source.key: a list of 1 to ${MAX_KEY_COLUMNS} column names; got ${key.length}`);
  key.forEach((name, i) => assertIdentifier(`source.key[${i}]`, name));
  const repeated = key.find((name, i) => key.indexOf(name) !== i);
  if (repeated !== undefined) fail(`source.key: column ${repeated} is listed twice`);
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
    checkKeyNames(source.key, fail);
    if (hasSql && Array.isArray(source.key) && source.key.length > 1 && !/\{\{\s*range/.test(String(job.sql))) {
      fail(`sql: a composite key (${source.key.join(', ')}) needs {{range}} where the range condition belongs ($1/$2 bind one column), e.g. UPDATE t SET ... WHERE {{range}}`);
    }
  }
  if (hasSql && typeof job.sql === 'string') {
    const problem = rangeSqlProblem(job.sql);
    if (problem) fail(problem);
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
