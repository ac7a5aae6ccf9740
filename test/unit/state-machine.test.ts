import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import '../../local/promise-polyfill';
import { StateMachine } from '@adaptive-backfill/local';
import { DEFAULT_SETTINGS, EVENTS_PER_GENERATION, EVENTS_PER_ITERATION } from '../../core/settings';
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
    assert.deepStrictEqual(Object.keys(states).sort(), [
      'Aborted', 'AnnounceAborted', 'AnnounceHalted', 'AnnounceSucceeded', 'Backoff', 'BatchFailed', 'ContinueAsNew', 'ContinuedAsNew',
      'Decide', 'Drained?', 'Finish', 'Halted', 'Init', 'Pace', 'Paused', 'ProbeHealth', 'ProcessBatch',
    ].sort());
  });

  it('Decide routes halt, abort, backoff, pause and continue, paces when asked, and proceeds by default', () => {
    assert.deepStrictEqual(states.Decide, {
      Type: 'Choice',
      Choices: [
        { Variable: '$.control.action', StringEquals: 'halt', Next: 'AnnounceHalted' },
        { Variable: '$.control.action', StringEquals: 'abort', Next: 'AnnounceAborted' },
        { Variable: '$.control.action', StringEquals: 'backoff', Next: 'Backoff' },
        { Variable: '$.control.action', StringEquals: 'pause', Next: 'Paused' },
        { Variable: '$.control.action', StringEquals: 'continue', Next: 'ContinueAsNew' },
        { Variable: '$.control.paceSeconds', NumericGreaterThan: 0, Next: 'Pace' },
      ],
      Default: 'ProcessBatch',
    });
  });

  it('Paused and Pace wait the controller\'s whole seconds', () => {
    assert.deepStrictEqual([states.Paused.SecondsPath, states.Paused.Next, states.Pace.SecondsPath, states.Pace.Next], ['$.control.waitSeconds', 'ProbeHealth', '$.control.paceSeconds', 'ProcessBatch']);
  });

  it('announces how the run ended on EventBridge, and a failed announcement does not change the ending', () => {
    const announcements = ['AnnounceSucceeded', 'AnnounceHalted', 'AnnounceAborted'].map((name) => {
      const { Retry: _retry, Comment: _comment, ...rest } = states[name];
      return rest;
    });
    const entry = (path: string) => ({ Entries: [{ 'Detail.$': path, DetailType: 'Backfill Run Finished', Source: 'adaptive-backfill' }] });
    assert.deepStrictEqual(announcements, [
      { Type: 'Task', Resource: 'arn:aws:states:::events:putEvents', Parameters: entry('$.lastBatch.outcome'), ResultPath: null, Next: 'Finish', Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.announceError', Next: 'Finish' }] },
      { Type: 'Task', Resource: 'arn:aws:states:::events:putEvents', Parameters: entry('$.control.outcome'), ResultPath: null, Next: 'Halted', Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.announceError', Next: 'Halted' }] },
      { Type: 'Task', Resource: 'arn:aws:states:::events:putEvents', Parameters: entry('$.control.outcome'), ResultPath: null, Next: 'Aborted', Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.announceError', Next: 'Aborted' }] },
    ]);
    assert.deepStrictEqual(states.Aborted, { Type: 'Fail', Comment: 'The operator aborted the run (backfill abort); unfinished items stay in the queue.', Error: 'BackfillAborted', CausePath: '$.control.reason' });
  });

  it('writes at most EVENTS_PER_ITERATION history events per loop iteration, so the default generation stays under 20,000', () => {
    // Prepare: events each state type writes (Lambda Task: entered, scheduled, started, succeeded, exited). A Retry
    // writes nothing while its state succeeds; only a retried attempt adds events (scheduled, started, failed).
    const eventsOf = (name: string) => (states[name].Type === 'Task' ? 5 : 2);
    const loopStates = new Set(['ProbeHealth', 'Decide', 'Backoff', 'Paused', 'Pace', 'ProcessBatch', 'BatchFailed', 'Drained?']);
    const nextOf = (name: string): string[] => {
      const state = states[name] as { Next?: string; Default?: string; Choices?: Array<{ Next: string }>; Catch?: Array<{ Next: string }> };
      return [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next), ...(state.Catch ?? []).map((c) => c.Next)].filter((n): n is string => n !== undefined);
    };
    // Act: the most events on any path from ProbeHealth back to ProbeHealth
    const longest = (name: string, seen: Set<string>): number => {
      const own = eventsOf(name);
      const onward = nextOf(name).filter((n) => loopStates.has(n)).map((n) => (n === 'ProbeHealth' ? 0 : seen.has(n) ? -Infinity : longest(n, new Set([...seen, n]))));
      return own + Math.max(0, ...onward);
    };
    const perIteration = longest('ProbeHealth', new Set(['ProbeHealth']));
    // Assess
    assert.equal(perIteration, EVENTS_PER_ITERATION);
    assert.ok(DEFAULT_SETTINGS.continueAfter * perIteration <= EVENTS_PER_GENERATION, `${DEFAULT_SETTINGS.continueAfter} x ${perIteration}`);
    assert.equal(DEFAULT_SETTINGS.continueAfter, 1250);
  });

  it('Backoff waits the controller\'s whole seconds, then probes again', () => {
    assert.deepStrictEqual(states.Backoff, {
      Type: 'Wait',
      Comment: 'Adaptive exponential backoff with full jitter; the controller chose the seconds.',
      SecondsPath: '$.control.waitSeconds',
      Next: 'ProbeHealth',
    });
  });

  it('ProbeHealth passes the run, control and last batch, stores the decision in $.control, and retries a crash or timeout', () => {
    assert.deepStrictEqual(states.ProbeHealth, {
      Type: 'Task',
      Comment: 'Read the operator\'s flags and knobs, probe Postgres health, and let the controller decide: proceed (with a batch size), back off, pause, or halt.',
      Resource: arnOf('healthProbe'),
      Parameters: { 'run.$': '$.run', 'control.$': '$.control', 'lastBatch.$': '$.lastBatch', 'executionId.$': '$$.Execution.Id' },
      ResultPath: '$.control',
      Next: 'Decide',
      Retry: [
        { ErrorEquals: ['Lambda.ClientExecutionTimeoutException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'], IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2 },
        { ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' },
      ],
    });
  });

  it('ProcessBatch catches a failed batch into BatchFailed instead of failing the run', () => {
    const { Retry: _retry, ...rest } = states.ProcessBatch;
    assert.deepStrictEqual(rest, {
      Type: 'Task',
      Comment: 'Receive up to batchSize work items, run the job on them, settle each message.',
      Resource: arnOf('batchProcessor'),
      Parameters: { 'run.$': '$.run', 'batchSize.$': '$.control.batchSize', 'latency.$': '$.control.latency', 'executionId.$': '$$.Execution.Id' },
      ResultPath: '$.lastBatch',
      Next: 'Drained?',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.batchError', Next: 'BatchFailed' }],
    });
    assert.deepStrictEqual(states.BatchFailed.Next, 'ProbeHealth');
    assert.deepStrictEqual(states.BatchFailed.Parameters, {
      'batchId.$': 'States.UUID()',
      received: 0,
      succeeded: 0,
      retried: 0,
      deadLettered: 0,
      rowsAffected: 0,
      durationMs: 0,
      queue: { visible: 0, inFlight: 0 },
      drained: false,
      'error.$': "States.Format('{}: {}', $.batchError.Error, $.batchError.Cause)",
    });
  });

  it('BatchFailed gives each failed batch a report with a fresh id, as the interpreter runs it', async () => {
    // Prepare: the synthesized BatchFailed state alone
    const { Next: _next, ...batchFailed } = states.BatchFailed;
    const machine = new StateMachine({ StartAt: 'BatchFailed', States: { BatchFailed: { ...batchFailed, End: true } } } as never);
    const input = { batchError: { Error: 'BatchFailedError', Cause: 'receiving from the work queue failed: timeout' } };
    // Act
    const runs = await Promise.all([1, 2].map(async () => (await machine.run(input as never).result as { lastBatch: Record<string, unknown> }).lastBatch));
    // Assess
    const [first, second] = runs.map(({ batchId, ...rest }) => ({ batchId: String(batchId), rest }));
    assert.match(first.batchId, /^[0-9a-f-]{36}$/);
    assert.notEqual(first.batchId, second.batchId);
    assert.deepStrictEqual(first.rest, {
      received: 0, succeeded: 0, retried: 0, deadLettered: 0, rowsAffected: 0, durationMs: 0, queue: { visible: 0, inFlight: 0 }, drained: false,
      error: 'BatchFailedError: receiving from the work queue failed: timeout',
    });
  });

  it('Drained? finishes or loops; Halted fails with the controller\'s reason', () => {
    assert.deepStrictEqual(states['Drained?'], {
      Type: 'Choice',
      Choices: [{ Variable: '$.lastBatch.drained', BooleanEquals: true, Next: 'AnnounceSucceeded' }],
      Default: 'ProbeHealth',
    });
    assert.deepStrictEqual(states.Halted, { Type: 'Fail', Comment: 'The controller halted the run.', Error: 'BackfillHalted', CausePath: '$.control.reason' });
  });

  it('ContinueAsNew starts this same state machine with the carried state, under a name derived from this execution, retrying throttling', () => {
    assert.deepStrictEqual(states.ContinueAsNew, {
      Type: 'Task',
      Comment: 'Start a fresh execution of this state machine that carries the run on, then end this one.',
      Resource: 'arn:aws:states:::states:startExecution',
      Parameters: {
        'StateMachineArn.$': '$$.StateMachine.Id',
        'Name.$': "States.Hash($$.Execution.Id, 'SHA-1')",
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
      Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 5, BackoffRate: 2, MaxDelaySeconds: 30, JitterStrategy: 'FULL' }],
    });
  });
});
