import { InvalidInputError } from './errors';
import type { ControlState } from './controller';
import { SETTINGS_FIELDS, validateOverrides, type RunSettingsOverrides } from './settings';

/** What StartExecution takes: a deployed job selected by name, and knobs. Never SQL. */
export interface ExecutionInput {
  readonly job: string;
  readonly runId?: string;
  readonly chunkSize?: number;
  readonly continueAfter?: number;
  readonly pausePollSeconds?: number;
  readonly batch?: RunSettingsOverrides['batch'];
  readonly degraded?: RunSettingsOverrides['degraded'];
  readonly backoff?: RunSettingsOverrides['backoff'];
  readonly health?: RunSettingsOverrides['health'];
  readonly latency?: RunSettingsOverrides['latency'];
  /** Set by the state machine when it continues as a new execution: the controller state to carry on with. */
  readonly carry?: Carry;
}

export interface Carry {
  readonly control: ControlState;
  /** The resolved knobs of the previous execution, so a continued run keeps them. */
  readonly settings: RunSettingsOverrides;
}

export interface ParsedExecutionInput {
  readonly jobName: string;
  readonly runId: string;
  readonly overrides: RunSettingsOverrides;
  readonly carry?: Carry;
  /**
   * A continuation's parent execution (Step Functions' AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID, with carry): Init
   * takes the run's lease over from it.
   */
  readonly parentExecutionId?: string;
}

export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$/;
const ALLOWED = ['job', 'runId', ...SETTINGS_FIELDS, 'carry'];
/** Step Functions links a child execution to its parent through this input field; it is not a knob. */
export const LINEAGE = 'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID';
export const CONTROL_NUMBERS = ['iteration', 'executionIterations', 'generation', 'batchSize', 'backoffAttempt', 'totalBackoffSeconds', 'consecutiveFailures', 'waitSeconds', 'paceSeconds'] as const;

/** Validates execution input before any work starts; errors name the field and what is allowed. */
export function parseExecutionInput(raw: unknown, executionName: string): ParsedExecutionInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidInputError('input', `must be a JSON object like {"job": "my-job"}; got ${JSON.stringify(raw)}`);
  }
  const input = raw as Record<string, unknown>;
  rejectSqlKeys(input, '');
  for (const key of Object.keys(input)) {
    if (!ALLOWED.includes(key) && key !== LINEAGE) throw new InvalidInputError(key, `is not a known field; allowed: ${ALLOWED.join(', ')}`);
  }
  if (typeof input.job !== 'string' || !NAME.test(input.job)) {
    throw new InvalidInputError('job', `must name the deployed job (letters, digits, _ . : -, at most 80); got ${JSON.stringify(input.job)}`);
  }
  // Absent means the execution name; null is a mistake like any other non-string.
  const runId = input.runId === undefined ? executionName : input.runId;
  if (typeof runId !== 'string' || !NAME.test(runId)) {
    throw new InvalidInputError('runId', `must be letters, digits, _ . : - (at most 80); got ${JSON.stringify(runId)}`);
  }
  const { job: _job, runId: _runId, carry, [LINEAGE]: _lineage, ...knobs } = input;
  const overrides = validateOverrides('input', knobs);
  if (carry === undefined) return { jobName: input.job, runId, overrides };
  if (input.runId === undefined) throw new InvalidInputError('runId', 'is required with carry (the run being continued)');
  const parent = input[LINEAGE];
  if (parent !== undefined && (typeof parent !== 'string' || parent === '')) {
    throw new InvalidInputError(LINEAGE, `must be the ARN of the execution that started this one; got ${JSON.stringify(parent)}`);
  }
  return { jobName: input.job, runId, overrides, carry: parseCarry(carry), ...(parent !== undefined ? { parentExecutionId: parent } : {}) };
}

/**
 * No key that mentions SQL, at any depth (knob maps such as health.custom take names): input tunes deployed code,
 * it never carries a statement.
 */
function rejectSqlKeys(value: unknown, path: string): void {
  if (typeof value !== 'object' || value === null) return;
  for (const [key, child] of Object.entries(value)) {
    const field = path === '' ? key : `${path}.${key}`;
    if (/sql/i.test(key)) {
      throw new InvalidInputError(field, 'raw SQL is never accepted in execution input: jobs are deployed code, select one by "job"');
    }
    rejectSqlKeys(child, field);
  }
}

/** `carry` comes from the state machine itself, but is still input: check it before trusting it. */
function parseCarry(raw: unknown): Carry {
  const control = (raw as { control?: Record<string, unknown> } | null)?.control;
  if (typeof control !== 'object' || control === null) throw new InvalidInputError('carry.control', 'must be the controller state of the previous execution');
  for (const key of CONTROL_NUMBERS) {
    const value = control[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new InvalidInputError(`carry.control.${key}`, `must be a non-negative integer; got ${JSON.stringify(value)}`);
    }
  }
  return { control: control as unknown as ControlState, settings: validateOverrides('carry.settings', (raw as { settings?: unknown }).settings) };
}
