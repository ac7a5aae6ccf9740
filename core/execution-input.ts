import { InvalidInputError } from './errors';
import { validateOverrides, type RunSettingsOverrides } from './settings';

/** What StartExecution takes: a deployed job selected by name, and knobs. Never SQL. */
export interface ExecutionInput {
  readonly job: string;
  readonly runId?: string;
  readonly chunkSize?: number;
  readonly batch?: RunSettingsOverrides['batch'];
  readonly backoff?: RunSettingsOverrides['backoff'];
  readonly health?: RunSettingsOverrides['health'];
}

export interface ParsedExecutionInput {
  readonly jobName: string;
  readonly runId: string;
  readonly overrides: RunSettingsOverrides;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$/;
const ALLOWED = ['job', 'runId', 'chunkSize', 'batch', 'backoff', 'health'];

/** Validates execution input before any work starts; errors name the field and what is allowed. */
export function parseExecutionInput(raw: unknown, executionName: string): ParsedExecutionInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidInputError('input', `must be a JSON object like {"job": "my-job"}; got ${JSON.stringify(raw)}`);
  }
  const input = raw as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (/sql/i.test(key)) {
      throw new InvalidInputError(key, 'raw SQL is never accepted in execution input: jobs are deployed code, select one by "job"');
    }
    if (!ALLOWED.includes(key)) throw new InvalidInputError(key, `is not a known field; allowed: ${ALLOWED.join(', ')}`);
  }
  if (typeof input.job !== 'string' || !NAME.test(input.job)) {
    throw new InvalidInputError('job', `must name the deployed job (letters, digits, _ . : -, at most 80); got ${JSON.stringify(input.job)}`);
  }
  const runId = input.runId ?? executionName;
  if (typeof runId !== 'string' || !NAME.test(runId)) {
    throw new InvalidInputError('runId', `must be letters, digits, _ . : - (at most 80); got ${JSON.stringify(runId)}`);
  }
  const { job: _job, runId: _runId, ...knobs } = input;
  return { jobName: input.job, runId, overrides: validateOverrides('input', knobs) };
}
