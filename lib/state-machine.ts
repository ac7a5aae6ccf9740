import { Aws } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { RunSettingsOverrides } from '../core/settings';

/** State names: the local runtime and the docs refer to them. */
export const STATES = {
  init: 'Init',
  probe: 'ProbeHealth',
  decide: 'Decide',
  backoff: 'Backoff',
  process: 'ProcessBatch',
  batchFailed: 'BatchFailed',
  drained: 'Drained?',
  finish: 'Finish',
  halted: 'Halted',
  continueAsNew: 'ContinueAsNew',
  continued: 'ContinuedAsNew',
} as const;

export interface BackfillFunctions {
  readonly initRun: lambda.IFunction;
  readonly healthProbe: lambda.IFunction;
  readonly batchProcessor: lambda.IFunction;
}

/**
 * The batch loop, in JSONPath:
 * Init -> ProbeHealth -> Decide -> (Backoff -> ProbeHealth | ProcessBatch -> Drained? -> (Finish | ProbeHealth) | Halted
 * | ContinueAsNew -> ContinuedAsNew). ContinueAsNew starts a fresh execution of this same state machine with the
 * carried controller state, before the 25,000-event history limit.
 * The only definition there is: the construct deploys it and the embedded runtime runs its synthesized JSON.
 */
export function buildBackfillDefinition(scope: Construct, fns: BackfillFunctions, defaults: RunSettingsOverrides = {}): sfn.IChainable {
  const init = new tasks.LambdaInvoke(scope, STATES.init, {
    comment: 'Validate the input, record the run, plan its work items into the queue (skipped when resuming).',
    lambdaFunction: fns.initRun,
    payloadResponseOnly: true,
    payload: sfn.TaskInput.fromObject({
      input: sfn.JsonPath.entirePayload,
      executionName: sfn.JsonPath.executionName,
      executionId: sfn.JsonPath.executionId,
      defaults,
    }),
  });

  const probe = new tasks.LambdaInvoke(scope, STATES.probe, {
    comment: 'Probe Postgres health and let the controller decide: proceed (with a batch size), back off, or halt.',
    lambdaFunction: fns.healthProbe,
    payloadResponseOnly: true,
    payload: sfn.TaskInput.fromObject({
      run: sfn.JsonPath.objectAt('$.run'),
      control: sfn.JsonPath.objectAt('$.control'),
      lastBatch: sfn.JsonPath.objectAt('$.lastBatch'),
    }),
    resultPath: '$.control',
  });

  const backoff = new sfn.Wait(scope, STATES.backoff, {
    comment: 'Adaptive exponential backoff with full jitter; the controller chose the seconds.',
    time: sfn.WaitTime.secondsPath('$.control.waitSeconds'),
  });

  const processBatch = new tasks.LambdaInvoke(scope, STATES.process, {
    comment: 'Receive up to batchSize work items, run the job on them, settle each message.',
    lambdaFunction: fns.batchProcessor,
    payloadResponseOnly: true,
    payload: sfn.TaskInput.fromObject({
      run: sfn.JsonPath.objectAt('$.run'),
      batchSize: sfn.JsonPath.numberAt('$.control.batchSize'),
    }),
    resultPath: '$.lastBatch',
  });

  // A batch that failed as a whole is a finding for the controller (it shrinks the batch), not the end of the run.
  const batchFailed = new sfn.Pass(scope, STATES.batchFailed, {
    comment: 'Record the failed batch; its items come back to the queue.',
    parameters: {
      received: 0,
      succeeded: 0,
      retried: 0,
      deadLettered: 0,
      rowsAffected: 0,
      durationMs: 0,
      queue: { visible: 0, inFlight: 0 },
      drained: false,
      error: sfn.JsonPath.format('{}: {}', sfn.JsonPath.stringAt('$.batchError.Error'), sfn.JsonPath.stringAt('$.batchError.Cause')),
    },
    resultPath: '$.lastBatch',
  });
  processBatch.addCatch(batchFailed, { errors: ['States.ALL'], resultPath: '$.batchError' });

  const finish = new sfn.Pass(scope, STATES.finish, {
    comment: 'Every work item is done or in the DLQ.',
    parameters: {
      runId: sfn.JsonPath.stringAt('$.run.runId'),
      totals: sfn.JsonPath.objectAt('$.lastBatch.totals'),
      iterations: sfn.JsonPath.numberAt('$.control.iteration'),
    },
  });

  const halted = new sfn.Fail(scope, STATES.halted, {
    comment: 'The controller halted the run.',
    error: 'BackfillHalted',
    causePath: '$.control.reason',
  });

  // A self-reference cannot go through StepFunctionsStartExecution (the machine does not exist yet): the ARN
  // comes from the context object at run time; the construct grants states:StartExecution on itself.
  const continueAsNew = new sfn.CustomState(scope, STATES.continueAsNew, {
    stateJson: {
      Type: 'Task',
      Comment: 'Start a fresh execution of this state machine that carries the run on, then end this one.',
      Resource: `arn:${Aws.PARTITION}:states:::states:startExecution`,
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
    },
  });
  const continued = new sfn.Succeed(scope, STATES.continued, {
    comment: 'The run goes on in the execution named in continuedAs.',
    outputPath: '$.continuedAs',
  });

  const drained = new sfn.Choice(scope, STATES.drained)
    .when(sfn.Condition.booleanEquals('$.lastBatch.drained', true), finish)
    .otherwise(probe);

  const decide = new sfn.Choice(scope, STATES.decide)
    .when(sfn.Condition.stringEquals('$.control.action', 'halt'), halted)
    .when(sfn.Condition.stringEquals('$.control.action', 'backoff'), backoff.next(probe))
    .when(sfn.Condition.stringEquals('$.control.action', 'continue'), continueAsNew.next(continued))
    .otherwise(processBatch);

  batchFailed.next(probe);
  processBatch.next(drained);
  return init.next(probe).next(decide);
}
