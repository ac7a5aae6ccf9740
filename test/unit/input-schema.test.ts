import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020';
import { parseExecutionInput } from '../../core/execution-input';
import { executionInputSchema, sampleExecutionInput } from '../../core/input-schema';
import { resolveSettings } from '../../core/settings';

const SCHEMA_FILE = join(import.meta.dirname, '..', '..', 'schemas', 'execution-input.schema.json');

function parses(input: unknown): boolean {
  try {
    parseExecutionInput(input, 'exec-name');
    return true;
  } catch {
    return false;
  }
}

const CONTROL = { iteration: 9, executionIterations: 3, generation: 2, batchSize: 7, backoffAttempt: 0, totalBackoffSeconds: 4, consecutiveFailures: 0, waitSeconds: 0, paceSeconds: 0, action: 'continue', reason: 'r' };

/** Inputs on both sides of every rule: names, unknown and SQL fields, every kind of number rule, nesting, carry. */
const INPUTS: ReadonlyArray<readonly [string, unknown]> = [
  ['minimal', { job: 'demo' }],
  ['every knob', { job: 'demo', runId: 'r-1.a:b_c', chunkSize: 1, continueAfter: 1250, pausePollSeconds: 3600, batch: { initialSize: 1, minSize: 1, maxSize: 10_000, targetSeconds: 0.05, maxConsecutiveFailures: 1000, niceRatio: 0 }, degraded: { sizeFactor: 1, niceRatio: 100 }, backoff: { baseSeconds: 1, maxSeconds: 86_400, multiplier: 10, maxTotalSeconds: 31_536_000 }, health: { longRunningQueries: { warningSeconds: 0, criticalSeconds: 86_400 }, lockWaits: { warningSeconds: 0.5, criticalSeconds: 1 }, probeTimeoutMs: 10 } }],
  ['not an object', ['demo']],
  ['null', null],
  ['a string', 'demo'],
  ['no job', {}],
  ['job not a string', { job: 7 }],
  ['job with a space', { job: 'my job' }],
  ['job too long', { job: 'j'.repeat(81) }],
  ['job at the length limit', { job: 'j'.repeat(80) }],
  ['job starting with a dash', { job: '-demo' }],
  ['runId null', { job: 'demo', runId: null }],
  ['runId with a slash', { job: 'demo', runId: 'a/b' }],
  ['sql field', { job: 'demo', sql: 'DROP TABLE users' }],
  ['rawSQL field', { job: 'demo', rawSQL: 'x' }],
  ['unknown field', { job: 'demo', color: 'red' }],
  ['chunkSize 0', { job: 'demo', chunkSize: 0 }],
  ['chunkSize above max', { job: 'demo', chunkSize: 1_000_001 }],
  ['chunkSize fractional', { job: 'demo', chunkSize: 10.5 }],
  ['chunkSize as a string', { job: 'demo', chunkSize: '10' }],
  ['continueAfter above max', { job: 'demo', continueAfter: 1251 }],
  ['targetSeconds fractional', { job: 'demo', batch: { targetSeconds: 0.5 } }],
  ['targetSeconds below min', { job: 'demo', batch: { targetSeconds: 0.01 } }],
  ['unknown batch field', { job: 'demo', batch: { size: 3 } }],
  ['batch null', { job: 'demo', batch: null }],
  ['batch an array', { job: 'demo', batch: [] }],
  ['backoff a string', { job: 'demo', backoff: 'fast' }],
  ['negative threshold', { job: 'demo', health: { lockWaits: { criticalSeconds: -1 } } }],
  ['unknown health check', { job: 'demo', health: { diskSpace: { warningSeconds: 1 } } }],
  ['check switched off, weighted, marked halt', { job: 'demo', health: { vacuum: { enabled: false }, replicationLag: { weight: 2, halt: true } } }],
  ['enabled not a boolean', { job: 'demo', health: { vacuum: { enabled: 'no' } } }],
  ['a strategy by name', { job: 'demo', health: { strategy: 'weighted', weighted: { criticalScore: 4 } } }],
  ['an unknown strategy', { job: 'demo', health: { strategy: 'majority' } }],
  ['a custom check tuned by name', { job: 'demo', health: { custom: { queueLag: { warning: 10, critical: 60 } } } }],
  ['a custom check name with a dash', { job: 'demo', health: { custom: { 'queue-lag': { warning: 10 } } } }],
  ['threshold as an object', { job: 'demo', health: { lockWaits: { criticalSeconds: {} } } }],
  ['empty nested objects', { job: 'demo', batch: {}, health: { lockWaits: {} } }],
  ['incoherent but each field in range (Init rejects it)', { job: 'demo', batch: { minSize: 50, maxSize: 10 } }],
  ['carry', { job: 'demo', runId: 'r', carry: { control: CONTROL, settings: { chunkSize: 50 } } }],
  ['carry without runId', { job: 'demo', carry: { control: CONTROL } }],
  ['carry without control', { job: 'demo', runId: 'r', carry: {} }],
  ['carry null', { job: 'demo', runId: 'r', carry: null }],
  ['carry control an array', { job: 'demo', runId: 'r', carry: { control: [] } }],
  ['carry control negative', { job: 'demo', runId: 'r', carry: { control: { ...CONTROL, iteration: -1 } } }],
  ['carry control fractional', { job: 'demo', runId: 'r', carry: { control: { ...CONTROL, batchSize: 1.5 } } }],
  ['carry settings out of range', { job: 'demo', runId: 'r', carry: { control: CONTROL, settings: { chunkSize: 0 } } }],
  ['lineage field', { job: 'demo', AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: 'arn:aws:states:us-east-1:1:execution:m:e' }],
];

describe('execution input JSON Schema', () => {
  const validate = new Ajv2020({ strict: true, allErrors: true }).compile(executionInputSchema());

  it('accepts and rejects exactly what parseExecutionInput does, for every input of the table', () => {
    // Act
    const bySchema = INPUTS.map(([name, input]) => [name, validate(input)]);
    const byParser = INPUTS.map(([name, input]) => [name, parses(input)]);
    // Assess
    assert.deepStrictEqual(bySchema, byParser);
    assert.deepStrictEqual(byParser.filter(([, ok]) => ok).map(([name]) => name), [
      'minimal', 'every knob', 'job at the length limit', 'targetSeconds fractional', 'check switched off, weighted, marked halt', 'a strategy by name',
      'a custom check tuned by name', 'empty nested objects', 'incoherent but each field in range (Init rejects it)', 'carry', 'lineage field',
    ]);
  });

  it('is shipped as schemas/execution-input.schema.json, identical to the generated one', () => {
    // Act
    const shipped = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'));
    // Assess: regenerate with `npx backfill schema > schemas/execution-input.schema.json`
    assert.deepStrictEqual(shipped, executionInputSchema());
  });

  it('offers a sample input that the schema and the parser accept, at the deployment\'s defaults', () => {
    // Act
    const sample = sampleExecutionInput({ batch: { maxSize: 50 }, backoff: { maxSeconds: 60 } });
    // Assess
    assert.deepStrictEqual(sample, {
      job: 'your-job-name',
      chunkSize: 1000,
      batch: { targetSeconds: 2, maxSize: 50 },
      backoff: { maxSeconds: 60, maxTotalSeconds: 3600 },
      health: { longRunningQueries: { warningSeconds: 30, criticalSeconds: 120 }, lockWaits: { warningSeconds: 5, criticalSeconds: 30 } },
    });
    assert.deepStrictEqual([validate(sample), parses(sample)], [true, true]);
    assert.deepStrictEqual(resolveSettings(parseExecutionInput(sample, 'e').overrides).batch.maxSize, 50);
  });
});
