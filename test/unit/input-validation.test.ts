import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError, InvalidJobError, MalformedWorkItemError } from '../../core/errors';
import { parseExecutionInput } from '../../core/execution-input';
import { quoteQualifiedName } from '../../core/identifiers';
import { validateJob } from '../../core/job';
import { resolveSettings, validateOverrides } from '../../core/settings';
import { parseWorkItem } from '../../core/work-item';

function errorOf(fn: () => unknown): { name: string; message: string } {
  try {
    fn();
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  return { name: 'none', message: 'did not throw' };
}

describe('parseExecutionInput', () => {
  it('accepts a job name and knobs, and defaults runId to the execution name', () => {
    // Act
    const parsed = parseExecutionInput({ job: 'demo', chunkSize: 500, batch: { maxSize: 50 } }, 'exec-1');
    // Assess
    assert.deepStrictEqual(parsed, { jobName: 'demo', runId: 'exec-1', overrides: { chunkSize: 500, batch: { maxSize: 50 } } });
  });

  it('names the field and what is allowed for every bad input', () => {
    // Prepare
    const cases: Array<[unknown, string]> = [
      [null, 'input: must be a JSON object like {"job": "my-job"}; got null'],
      [{}, 'job: must name the deployed job (letters, digits, _ . : -, at most 80); got undefined'],
      [{ job: 'demo', sql: 'DROP TABLE x' }, 'sql: raw SQL is never accepted in execution input: jobs are deployed code, select one by "job"'],
      [{ job: 'demo', rawSql: 'x' }, 'rawSql: raw SQL is never accepted in execution input: jobs are deployed code, select one by "job"'],
      [{ job: 'demo', color: 'red' }, 'color: is not a known field; allowed: job, runId, chunkSize, continueAfter, pausePollSeconds, batch, degraded, backoff, failures, health, latency, carry'],
      [{ job: 'demo', runId: 'a b' }, 'runId: must be letters, digits, _ . : - (at most 80); got "a b"'],
      [{ job: 'demo', chunkSize: 0 }, 'input.chunkSize: must be an integer from 1 to 1000000; got 0'],
      [{ job: 'demo', batch: { maxSize: 2.5 } }, 'input.batch.maxSize: must be an integer from 1 to 10000; got 2.5'],
      [{ job: 'demo', batch: { size: 3 } }, 'input.batch.size: is not a known field; allowed: initialSize, minSize, maxSize, targetSeconds, maxConsecutiveFailures, niceRatio'],
      [{ job: 'demo', backoff: 'fast' }, 'input.backoff: must be an object; got "fast"'],
      [{ job: 'demo', health: { lockWaits: { criticalSeconds: -1 } } }, 'input.health.lockWaits.criticalSeconds: must be a number from 0 to 86400; got -1'],
      [{ job: 'demo', continueAfter: 5000 }, 'input.continueAfter: must be an integer from 1 to 1250; got 5000'],
      [{ job: 'demo', carry: { control: {} } }, 'runId: is required with carry (the run being continued)'],
      [{ job: 'demo', runId: 'r', carry: {} }, 'carry.control: must be the controller state of the previous execution'],
      [{ job: 'demo', runId: 'r', carry: { control: { iteration: -1 } } }, 'carry.control.iteration: must be a non-negative integer; got -1'],
    ];
    // Act
    const errors = cases.map(([input]) => errorOf(() => parseExecutionInput(input, 'exec')));
    // Assess
    assert.deepStrictEqual(errors, cases.map(([, message]) => ({ name: 'InvalidInputError', message })));
  });

  it('accepts the carried state of a continued execution, and the lineage field Step Functions adds', () => {
    // Prepare
    const control = { iteration: 9, executionIterations: 3, generation: 2, batchSize: 7, backoffAttempt: 0, totalBackoffSeconds: 4, consecutiveFailures: 0, action: 'continue', waitSeconds: 0, paceSeconds: 0, reason: 'r' };
    // Act
    const parsed = parseExecutionInput({ job: 'demo', runId: 'r1', carry: { control, settings: { chunkSize: 50 } }, AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: 'arn:aws:states:us-east-1:1:execution:m:e' }, 'exec');
    // Assess: the parent is who the run's lease is taken over from
    assert.deepStrictEqual(parsed, { jobName: 'demo', runId: 'r1', overrides: {}, carry: { control, settings: { chunkSize: 50 } }, parentExecutionId: 'arn:aws:states:us-east-1:1:execution:m:e' });
  });
});

describe('resolveSettings', () => {
  it('layers overrides, later wins', () => {
    // Act
    const settings = resolveSettings({ chunkSize: 10, batch: { maxSize: 9 } }, { batch: { maxSize: 8 } });
    // Assess
    assert.deepStrictEqual([settings.chunkSize, settings.batch.maxSize, settings.batch.minSize], [10, 8, 1]);
  });

  it('rejects incoherent combinations', () => {
    // Act
    const errors = [
      errorOf(() => resolveSettings({ batch: { minSize: 5, maxSize: 4, initialSize: 4 } })),
      errorOf(() => resolveSettings({ batch: { initialSize: 500 } })),
      errorOf(() => resolveSettings({ backoff: { baseSeconds: 10, maxSeconds: 5 } })),
      errorOf(() => resolveSettings({ health: { lockWaits: { warningSeconds: 10, criticalSeconds: 5 } } })),
    ];
    // Assess
    assert.deepStrictEqual(errors.map((e) => e.message), [
      'batch.minSize: must be <= batch.maxSize (4); got 5',
      'batch.initialSize: must be between batch.minSize (1) and batch.maxSize (200); got 500',
      'backoff.baseSeconds: must be <= backoff.maxSeconds (5); got 10',
      'health.lockWaits.warningSeconds: must be <= health.lockWaits.criticalSeconds (5); got 10',
    ]);
  });

  it('validateOverrides passes undefined through as no overrides', () => {
    assert.deepStrictEqual(validateOverrides('defaults', undefined), {});
  });
});

describe('parseWorkItem', () => {
  it('parses a range item', () => {
    // Act
    const item = parseWorkItem('{"v":1,"runId":"r","dedupeKey":"range:3-9","range":{"lo":"3","hi":"9"}}');
    // Assess
    assert.deepStrictEqual(item, { v: 1, runId: 'r', dedupeKey: 'range:3-9', range: { lo: '3', hi: '9' } });
  });

  it('rejects what can never be processed, with the reason', () => {
    // Prepare
    const cases: Array<[string | undefined, string]> = [
      ['not json', 'body is not JSON: "not json"'],
      ['[1]', 'body must be a JSON object; got array [1]'],
      ['{"v":2}', 'v must be 1; got number 2'],
      ['{"v":1,"dedupeKey":"k"}', 'runId must be a string of letters, digits, _ . : - (at most 80); missing'],
      ['{"v":1,"runId":"r"}', 'dedupeKey must be a non-empty string of at most 512 characters; missing'],
      ['{"v":1,"runId":"r","dedupeKey":"k","range":{"lo":1,"hi":"2"}}', 'range.lo must be an integer written as a decimal string, e.g. "1001"; got number 1'],
      ['{"v":1,"runId":"r","dedupeKey":"k","range":{"lo":"5","hi":"5"}}', 'range.lo must be < range.hi; got [5, 5)'],
    ];
    // Act
    const errors = cases.map(([body]) => errorOf(() => parseWorkItem(body)));
    // Assess
    assert.deepStrictEqual(errors, cases.map(([, message]) => ({ name: 'MalformedWorkItemError', message })));
  });
});

describe('validateJob', () => {
  it('accepts a sql job and a code job', () => {
    // Prepare
    const sqlJob = { name: 'a', source: { table: 'public.t', key: 'id' }, sql: 'UPDATE t SET x = 1 WHERE id >= $1 AND id < $2' };
    const codeJob = { name: 'b', process: async () => [] };
    // Act + Assess
    assert.equal(validateJob(sqlJob, 'a.ts'), sqlJob);
    assert.equal(validateJob(codeJob, 'b.ts'), codeJob);
  });

  it('explains what is wrong with a job module', () => {
    // Prepare
    const cases: Array<[unknown, string]> = [
      [undefined, 'job.ts: the default export must be a job definition (use defineJob({...}))'],
      [{ name: 'bad name', sql: 'x', source: { table: 't', key: 'id' } }, 'job.ts: name must be letters, digits, _ . : - (at most 80); got "bad name"'],
      [{ name: 'a' }, 'job.ts: define exactly one of sql (a statement run per key range) or process(items, ctx)'],
      [{ name: 'a', sql: 'x' }, 'job.ts: a sql job needs source: { table, key }'],
      [{ name: 'a', sql: 'x', source: { table: 't; drop', key: 'id' } }, 'source.table: must be a SQL identifier (a letter or _ then letters, digits or _, at most 63 characters); got "t; drop"'],
      [{ name: 'a', process: 'no' }, 'job.ts: process must be a function (items, ctx) => outcomes'],
    ];
    // Act
    const errors = cases.map(([job]) => errorOf(() => validateJob(job, 'job.ts')).message);
    // Assess
    assert.deepStrictEqual(errors, cases.map(([, message]) => message));
  });
});

describe('quoteQualifiedName', () => {
  it('quotes valid identifiers and rejects anything else', () => {
    assert.equal(quoteQualifiedName('source.table', 'app.users'), '"app"."users"');
    assert.equal(errorOf(() => quoteQualifiedName('source.table', 'a.b.c')).message, 'source.table: must be "table" or "schema.table"; got "a.b.c"');
    assert.equal(errorOf(() => quoteQualifiedName('source.table', 'users"--')).name, 'InvalidInputError');
  });
});

// The error classes carry their names, which Step Functions matches on.
describe('errors', () => {
  it('set name on each subclass', () => {
    assert.deepStrictEqual([new InvalidInputError('f', 'p').name, new InvalidJobError('m').name, new MalformedWorkItemError('m').name], ['InvalidInputError', 'InvalidJobError', 'MalformedWorkItemError']);
  });
});
