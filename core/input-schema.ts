import { CONTROL_NUMBERS, LINEAGE, NAME, type ExecutionInput } from './execution-input';
import { RULES, resolveSettings, type EnumRule, type MapRule, type NumberRule, type RunSettingsOverrides } from './settings';

/** A JSON Schema (draft 2020-12) node, as far as this module writes them. */
export type JsonSchema = { readonly [keyword: string]: unknown };

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

/** Field descriptions shown by editors and the schema's readers; the ranges come from RULES. */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  chunkSize: 'rows per work item (fixed when the run is planned)',
  continueAfter: 'iterations per execution before it continues as a new one (bounds the execution history)',
  pausePollSeconds: 'while paused, the run re-reads the pause flag this often',
  batch: 'work items per batch, and how the controller adapts it',
  degraded: 'how a degraded database (warnings only) is treated',
  backoff: 'exponential backoff with full jitter while the database is unhealthy',
  latency: 'the foreground-latency budget (p99Factor, or ms; optional walBytesPerSecond) and the in-batch sampler that keeps to it',
  health: 'health checks (each by name: thresholds, enabled, weight, halt), the evaluation strategy and the probe timeout',
};

function numberSchema(rule: NumberRule): JsonSchema {
  return { type: rule.integer ? 'integer' : 'number', minimum: rule.min, maximum: rule.max };
}

/** One rule of RULES as JSON Schema: a ranged number, a boolean, one of some strings, a name-keyed map, or a tree. */
function ruleSchema(rule: object): JsonSchema {
  if ('integer' in rule) return numberSchema(rule as NumberRule);
  if ('boolean' in rule) return { type: 'boolean' };
  if ('oneOf' in rule) return { type: 'string', enum: [...(rule as EnumRule).oneOf] };
  if ('each' in rule) {
    const map = rule as MapRule;
    return { type: 'object', description: `keys: ${map.keyHint}`, propertyNames: { pattern: map.keys.source }, additionalProperties: settingsSchema(map.each) };
  }
  return settingsSchema(rule);
}

/** The settings tree of RULES as JSON Schema: every object closed, every value constrained. */
function settingsSchema(rules: object): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [key, rule] of Object.entries(rules)) {
    properties[key] = ruleSchema(rule);
    if (DESCRIPTIONS[key] && rules === RULES) properties[key] = { description: DESCRIPTIONS[key], ...properties[key] };
  }
  return { type: 'object', additionalProperties: false, properties };
}

/**
 * The JSON Schema of the execution input, generated from the same RULES and name pattern that
 * parseExecutionInput checks, so the two cannot disagree (a test holds them to the same table of inputs).
 * What a schema cannot say is checked by Init: coherence across fields (batch.minSize <= batch.maxSize, ...),
 * and that the job named is the deployed one.
 */
export function executionInputSchema(): JsonSchema {
  const name = { type: 'string', pattern: NAME.source };
  const knobs = settingsSchema(RULES).properties as Record<string, JsonSchema>;
  return {
    $schema: DRAFT,
    title: 'adaptive-backfill execution input',
    description: 'StartExecution input: a deployed job selected by name, and knobs. Never SQL: no field may carry it.',
    type: 'object',
    required: ['job'],
    additionalProperties: false,
    properties: {
      job: { description: "the deployed job's name", ...name },
      runId: { description: 'the run; the same runId resumes it. Default: the execution name (which must then match the same pattern)', ...name },
      ...knobs,
      carry: {
        description: 'set by the state machine when it continues as a new execution; not for operators',
        type: 'object',
        required: ['control'],
        properties: {
          control: {
            type: 'object',
            required: [...CONTROL_NUMBERS],
            properties: Object.fromEntries(CONTROL_NUMBERS.map((key) => [key, { type: 'integer', minimum: 0 }])),
          },
          settings: settingsSchema(RULES),
        },
      },
      [LINEAGE]: { description: 'set by Step Functions on an execution started by another (continue-as-new)' },
    },
    dependentRequired: { carry: ['runId'] },
  };
}

/**
 * An input to start from, for the console's "Start execution" dialog and `backfill start --input`: the knobs an
 * operator most often tunes, at the values this deployment would use (built-in defaults < construct defaults).
 * `job` is a placeholder: Init rejects it and names the deployed job.
 */
export function sampleExecutionInput(defaults?: RunSettingsOverrides): ExecutionInput {
  const s = resolveSettings(defaults);
  return {
    job: 'your-job-name',
    chunkSize: s.chunkSize,
    batch: { targetSeconds: s.batch.targetSeconds, maxSize: s.batch.maxSize },
    backoff: { maxSeconds: s.backoff.maxSeconds, maxTotalSeconds: s.backoff.maxTotalSeconds },
    health: {
      longRunningQueries: { warningSeconds: s.health.longRunningQueries.warningSeconds, criticalSeconds: s.health.longRunningQueries.criticalSeconds },
      lockWaits: { warningSeconds: s.health.lockWaits.warningSeconds, criticalSeconds: s.health.lockWaits.criticalSeconds },
    },
  };
}
