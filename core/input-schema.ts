import { CONTROL_NUMBERS, LINEAGE, NAME, type ExecutionInput } from './execution-input';
import { knobDescription } from './knob-descriptions';
import { RULES, resolveSettings, type EnumRule, type MapRule, type NumberRule, type RunSettingsOverrides } from './settings';

/** A JSON Schema (draft 2020-12) node, as far as this module writes them. */
export type JsonSchema = { readonly [keyword: string]: unknown };

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

function numberSchema(rule: NumberRule): JsonSchema {
  return { type: rule.integer ? 'integer' : 'number', minimum: rule.min, maximum: rule.max };
}

/** One rule of RULES as JSON Schema: a ranged number, a boolean, one of some strings, a name-keyed map, or a tree. */
function ruleSchema(rule: object, path: string): JsonSchema {
  if ('integer' in rule) return numberSchema(rule as NumberRule);
  if ('boolean' in rule) return { type: 'boolean' };
  if ('oneOf' in rule) return { type: 'string', enum: [...(rule as EnumRule).oneOf] };
  if ('each' in rule) {
    const map = rule as MapRule;
    return { type: 'object', description: `keys: ${map.keyHint}`, propertyNames: { pattern: map.keys.source }, additionalProperties: settingsSchema(map.each, `${path}.<name>`) };
  }
  return settingsSchema(rule, path);
}

/** The settings tree of RULES as JSON Schema (at `path`): every object closed, every value constrained and described. */
function settingsSchema(rules: object, path = ''): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [key, rule] of Object.entries(rules)) {
    const at = path ? `${path}.${key}` : key;
    const description = knobDescription(at);
    properties[key] = description ? { description, ...ruleSchema(rule, at) } : ruleSchema(rule, at);
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
