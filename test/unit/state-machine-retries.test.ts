import '../../local/promise-polyfill';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StateMachine } from 'aws-local-stepfunctions';
import { initialControl } from '../../core/controller';
import { resolveSettings } from '../../core/settings';
import { synthesizeBackfill } from '../../local/synthesize';

const EXECUTION_ID = 'arn:aws:states:us-east-1:123456789012:execution:local:retries';
const settings = resolveSettings({});
const RUN = { runId: 'retries', jobName: 'demo-lowercase-email', settings, plannedItems: 1 };
const CONTINUE = { ...initialControl(settings), action: 'continue', reason: 'continuing as execution 2 after 1250 iterations' };

/** A step that fails `failures` times with `name`, then answers. */
function flaky(failures: number, name: string, answer: (input: any) => unknown) {
  const inputs: any[] = [];
  const handler = async (input: any) => {
    inputs.push(input);
    if (inputs.length <= failures) throw Object.assign(new Error(`${name} #${inputs.length}`), { name });
    return answer(input);
  };
  return { handler, inputs };
}

/**
 * Runs the synthesized definition in the ASL interpreter with the Task states bound to the given steps (Init
 * starts a run, the probe decides to continue as new), retry waits cut to nothing.
 */
async function runDefinition(probe: (input: any) => Promise<unknown>, startExecution: (input: any) => Promise<unknown>, initRun?: (input: any) => Promise<unknown>) {
  const { definition, functionsByArn } = synthesizeBackfill({ jobEntry: 'jobs/demo.ts' });
  const byRole: Record<string, (input: any) => Promise<unknown>> = {
    initRun: initRun ?? (async () => ({ run: RUN, control: initialControl(settings), lastBatch: null })),
    healthProbe: probe,
    startExecution,
  };
  const handlers: Record<string, (input: any) => Promise<unknown>> = {};
  for (const [name, state] of Object.entries(definition.States as Record<string, { Type: string; Resource?: string }>)) {
    if (state.Type !== 'Task') continue;
    const role = state.Resource?.endsWith(':states:startExecution') ? 'startExecution' : functionsByArn.get(state.Resource ?? '');
    handlers[name] = byRole[role ?? ''] ?? (async () => { throw new Error(`${name} is not part of this test`); });
  }
  const machine = new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } });
  const execution = machine.run({ job: RUN.jobName } as never, {
    overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: { Init: 0, ProbeHealth: 0, ContinueAsNew: 0 } } as never,
    context: { Execution: { Id: EXECUTION_ID, Name: 'retries' }, StateMachine: { Id: 'arn:aws:states:us-east-1:123456789012:stateMachine:local', Name: 'local' } } as never,
  });
  return execution.result.then((output) => ({ output, error: undefined }), (error: { cause?: Error }) => ({ output: undefined, error: error.cause }));
}

describe('the definition\'s retries, run by the ASL interpreter', () => {
  it('retries a probe that crashed or timed out, and a throttled ContinueAsNew under the same name', async () => {
    // Prepare: the probe's function times out once; StartExecution is throttled twice
    const probe = flaky(1, 'Sandbox.Timedout', () => CONTINUE);
    const start = flaky(2, 'StepFunctions.AWSStepFunctionsException', () => ({ ExecutionArn: `${EXECUTION_ID}-2`, StartDate: '2026-01-01T00:00:00.000Z' }));
    // Act
    const { output, error } = await runDefinition(probe.handler, start.handler);
    // Assess: every attempt asks for the same name, 40 hex digits (the interpreter's own SHA-1 differs from a real
    // one for inputs over 55 bytes, so the value itself is not compared; the embedded runtime does not use it)
    const [name] = start.inputs.map((input) => input.Name as string);
    assert.deepStrictEqual([error, output, probe.inputs.length, start.inputs.map((input) => input.Name)], [undefined, { executionArn: `${EXECUTION_ID}-2` }, 2, [name, name, name]]);
    assert.match(name, /^[0-9a-f]{40}$/);
  });

  it('fails the execution once the probe has failed on every attempt (1 + 3 retries)', async () => {
    // Prepare
    const probe = flaky(Infinity, 'Lambda.Unknown', () => CONTINUE);
    const start = flaky(0, 'unused', () => ({ ExecutionArn: `${EXECUTION_ID}-2` }));
    // Act
    const { error } = await runDefinition(probe.handler, start.handler);
    // Assess
    assert.deepStrictEqual([error?.name, error?.message, probe.inputs.length, start.inputs.length], ['Lambda.Unknown', 'Lambda.Unknown #4', 4, 0]);
  });

  it('tries Init again while the database is unavailable (a restart), and fails at once on any other error', async () => {
    // Prepare: Init meets a restarting database twice; another run's Init finds bad input
    const restarting = flaky(2, 'DatabaseUnavailableError', () => ({ run: RUN, control: initialControl(settings), lastBatch: null }));
    const badInput = flaky(Infinity, 'InvalidInputError', () => ({}));
    const probe = flaky(0, 'unused', () => CONTINUE);
    const start = flaky(0, 'unused', () => ({ ExecutionArn: `${EXECUTION_ID}-2`, StartDate: '2026-01-01T00:00:00.000Z' }));
    // Act
    const recovered = await runDefinition(probe.handler, start.handler, restarting.handler);
    const refused = await runDefinition(probe.handler, start.handler, badInput.handler);
    // Assess
    assert.deepStrictEqual([recovered.error, recovered.output, restarting.inputs.length], [undefined, { executionArn: `${EXECUTION_ID}-2` }, 3]);
    assert.deepStrictEqual([refused.error?.name, badInput.inputs.length], ['InvalidInputError', 1]);
  });

  it('fails the execution once StartExecution has failed on every attempt (1 + 5 retries)', async () => {
    // Prepare
    const probe = flaky(0, 'unused', () => CONTINUE);
    const start = flaky(Infinity, 'StepFunctions.ExecutionLimitExceeded', () => ({}));
    // Act
    const { error } = await runDefinition(probe.handler, start.handler);
    // Assess
    assert.deepStrictEqual([error?.name, probe.inputs.length, start.inputs.length], ['StepFunctions.ExecutionLimitExceeded', 1, 6]);
  });
});
