import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { resolveIntrinsics, synthesizeBackfill } from '../../local/synthesize';
import { exampleStack, logicalIdOf, resourcesOf } from '../support/stacks';

const LAMBDA = (id: string) => `arn:aws:lambda:us-east-1:123456789012:function:${id}`;

describe('the batch-loop definition', () => {
  const local = synthesizeBackfill({ jobEntry: 'jobs/demo.ts' });
  const states = local.definition.States as Record<string, Record<string, unknown>>;
  const arnOf = (role: string) => [...local.functionsByArn].find(([, r]) => r === role)![0];

  it('is the same JSON that a deploy synthesizes: the embedded runtime has no second definition', () => {
    // Prepare
    const resources = resourcesOf(Template.fromStack(exampleStack().stack));
    const machine = resources[logicalIdOf(resources, 'AWS::StepFunctions::StateMachine', 'BackfillStateMachine')];
    // Act
    const deployed = JSON.parse(resolveIntrinsics(machine.Properties.DefinitionString, LAMBDA));
    // Assess
    assert.deepStrictEqual(deployed, local.definition);
    assert.deepStrictEqual([local.maxReceiveCount, local.visibilityTimeoutSeconds, local.batchTimeoutSeconds], [5, 360, 300]);
  });

  it('starts at Init and has exactly the loop states', () => {
    assert.equal(local.definition.StartAt, 'Init');
    assert.deepStrictEqual(Object.keys(states).sort(), ['Backoff', 'BatchFailed', 'ContinueAsNew', 'ContinuedAsNew', 'Decide', 'Drained?', 'Finish', 'Halted', 'Init', 'ProbeHealth', 'ProcessBatch'].sort());
  });

  it('Decide routes halt, backoff and continue, and proceeds by default', () => {
    assert.deepStrictEqual(states.Decide, {
      Type: 'Choice',
      Choices: [
        { Variable: '$.control.action', StringEquals: 'halt', Next: 'Halted' },
        { Variable: '$.control.action', StringEquals: 'backoff', Next: 'Backoff' },
        { Variable: '$.control.action', StringEquals: 'continue', Next: 'ContinueAsNew' },
      ],
      Default: 'ProcessBatch',
    });
  });

  it('Backoff waits the controller\'s whole seconds, then probes again', () => {
    assert.deepStrictEqual(states.Backoff, {
      Type: 'Wait',
      Comment: 'Adaptive exponential backoff with full jitter; the controller chose the seconds.',
      SecondsPath: '$.control.waitSeconds',
      Next: 'ProbeHealth',
    });
  });

  it('ProbeHealth passes the run, control and last batch and stores the decision in $.control', () => {
    const { Retry, ...rest } = states.ProbeHealth;
    assert.deepStrictEqual(rest, {
      Type: 'Task',
      Comment: 'Probe Postgres health and let the controller decide: proceed (with a batch size), back off, or halt.',
      Resource: arnOf('healthProbe'),
      Parameters: { 'run.$': '$.run', 'control.$': '$.control', 'lastBatch.$': '$.lastBatch' },
      ResultPath: '$.control',
      Next: 'Decide',
    });
    assert.ok(Array.isArray(Retry) && Retry.length > 0, 'Lambda service errors are retried');
  });

  it('ProcessBatch catches a failed batch into BatchFailed instead of failing the run', () => {
    const { Retry: _retry, ...rest } = states.ProcessBatch;
    assert.deepStrictEqual(rest, {
      Type: 'Task',
      Comment: 'Receive up to batchSize work items, run the job on them, settle each message.',
      Resource: arnOf('batchProcessor'),
      Parameters: { 'run.$': '$.run', 'batchSize.$': '$.control.batchSize' },
      ResultPath: '$.lastBatch',
      Next: 'Drained?',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.batchError', Next: 'BatchFailed' }],
    });
    assert.deepStrictEqual(states.BatchFailed.Next, 'ProbeHealth');
    assert.deepStrictEqual((states.BatchFailed.Parameters as Record<string, unknown>)['error.$'], "States.Format('{}: {}', $.batchError.Error, $.batchError.Cause)");
  });

  it('Drained? finishes or loops; Halted fails with the controller\'s reason', () => {
    assert.deepStrictEqual(states['Drained?'], {
      Type: 'Choice',
      Choices: [{ Variable: '$.lastBatch.drained', BooleanEquals: true, Next: 'Finish' }],
      Default: 'ProbeHealth',
    });
    assert.deepStrictEqual(states.Halted, { Type: 'Fail', Comment: 'The controller halted the run.', Error: 'BackfillHalted', CausePath: '$.control.reason' });
  });

  it('ContinueAsNew starts this same state machine with the carried state', () => {
    assert.deepStrictEqual(states.ContinueAsNew, {
      Type: 'Task',
      Comment: 'Start a fresh execution of this state machine that carries the run on, then end this one.',
      Resource: 'arn:aws:states:::states:startExecution',
      Parameters: {
        'StateMachineArn.$': '$$.StateMachine.Id',
        Input: {
          'job.$': '$.run.jobName',
          'runId.$': '$.run.runId',
          carry: { 'control.$': '$.control', 'settings.$': '$.run.settings' },
          'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id',
        },
      },
      ResultSelector: { 'executionArn.$': '$.ExecutionArn' },
      ResultPath: '$.continuedAs',
      Next: 'ContinuedAsNew',
    });
  });
});
