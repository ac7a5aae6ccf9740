import { Aws, Duration } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { RunSettingsOverrides } from '../core/settings';

/** State names: the local runtime and the docs refer to them. */
export const STATES = {
  init: 'Init',
  probe: 'ProbeHealth',
  decide: 'Decide',
  backoff: 'Backoff',
  paused: 'Paused',
  pace: 'Pace',
  process: 'ProcessBatch',
  batchFailed: 'BatchFailed',
  drained: 'Drained?',
  announceSucceeded: 'AnnounceSucceeded',
  finish: 'Finish',
  announceHalted: 'AnnounceHalted',
  halted: 'Halted',
  announceAborted: 'AnnounceAborted',
  aborted: 'Aborted',
  continueAsNew: 'ContinueAsNew',
  continued: 'ContinuedAsNew',
} as const;

/** LocalStack's name for a Lambda API error of a Task whose Resource is the function's ARN (docs/localstack.md). */
export const LOCALSTACK_LAMBDA_API_ERROR = 'Exception';

/** The completion event: source and detail-type, for EventBridge rules. Its detail is the run's outcome. */
export const COMPLETION_EVENT = { source: 'adaptive-backfill', detailType: 'Backfill Run Finished' } as const;

export interface BackfillFunctions {
  readonly initRun: lambda.IFunction;
  readonly healthProbe: lambda.IFunction;
  readonly batchProcessor: lambda.IFunction;
}

export interface BackfillDefinitionOptions {
  /** Knob defaults for every execution (the construct's `defaults`). */
  readonly defaults?: RunSettingsOverrides;
  /** Where the completion event goes. @default the account's default event bus */
  readonly eventBus?: events.IEventBusRef;
}

/**
 * The batch loop, in JSONPath:
 * Init -> ProbeHealth -> Decide -> (Backoff | Paused) -> ProbeHealth
 *                                | [Pace ->] ProcessBatch -> Drained? -> (AnnounceSucceeded -> Finish | ProbeHealth)
 *                                | AnnounceHalted -> Halted | AnnounceAborted -> Aborted
 *                                | ContinueAsNew -> ContinuedAsNew
 * ContinueAsNew starts a fresh execution of this same state machine with the carried controller state, before the
 * 25,000-event history limit. The only definition there is: the construct deploys it and the embedded runtime
 * runs its synthesized JSON.
 */
export function buildBackfillDefinition(scope: Construct, fns: BackfillFunctions, options: BackfillDefinitionOptions = {}): sfn.IChainable {
  const init = new tasks.LambdaInvoke(scope, STATES.init, {
    comment: 'Validate the input, record the run, plan its work items into the queue (skipped when resuming).',
    lambdaFunction: fns.initRun,
    payloadResponseOnly: true,
    payload: sfn.TaskInput.fromObject({
      input: sfn.JsonPath.entirePayload,
      executionName: sfn.JsonPath.executionName,
      executionId: sfn.JsonPath.executionId,
      defaults: options.defaults ?? {},
    }),
  });

  // LocalStack names a Lambda API error (throttling, a service error) `Exception` where Resource is the function's
  // ARN, as here, so CDK's Lambda.* retrier never matches there: this one gives it the same tries. No function of
  // this project raises an error of that name; its input errors (InvalidInputError) still fail at once.
  init.addRetry({ errors: [LOCALSTACK_LAMBDA_API_ERROR], interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2 });
  // A database that is restarting or away (DatabaseUnavailableError) is tried again for about 3 minutes; any other
  // error of Init (bad input, a run with a live processor) fails the execution at once, with its reason.
  init.addRetry({ errors: ['DatabaseUnavailableError'], interval: Duration.seconds(5), maxAttempts: 6, backoffRate: 2, maxDelay: Duration.seconds(60), jitterStrategy: sfn.JitterType.FULL });

  const probe = new tasks.LambdaInvoke(scope, STATES.probe, {
    comment: 'Read the operator\'s flags and knobs, probe Postgres health, and let the controller decide: proceed (with a batch size), back off, pause, or halt.',
    lambdaFunction: fns.healthProbe,
    payloadResponseOnly: true,
    payload: sfn.TaskInput.fromObject({
      run: sfn.JsonPath.objectAt('$.run'),
      control: sfn.JsonPath.objectAt('$.control'),
      lastBatch: sfn.JsonPath.objectAt('$.lastBatch'),
      executionId: sfn.JsonPath.executionId,
    }),
    resultPath: '$.control',
  });
  // The probe never throws over the database (a failure there is a critical finding and the run backs off); what
  // is left, a function timeout or crash, is tried again a few times before the execution fails.
  probe.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });

  const backoff = new sfn.Wait(scope, STATES.backoff, {
    comment: 'Adaptive exponential backoff with full jitter; the controller chose the seconds.',
    time: sfn.WaitTime.secondsPath('$.control.waitSeconds'),
  });

  const paused = new sfn.Wait(scope, STATES.paused, {
    comment: 'Paused by the operator (backfill pause): nothing is received from the queue until backfill resume.',
    time: sfn.WaitTime.secondsPath('$.control.waitSeconds'),
  });

  const pace = new sfn.Wait(scope, STATES.pace, {
    comment: 'Pause between batches (nice ratio, or a degraded database) before the next batch.',
    time: sfn.WaitTime.secondsPath('$.control.paceSeconds'),
  });

  const processBatch = new tasks.LambdaInvoke(scope, STATES.process, {
    comment: 'Receive up to batchSize work items, run the job on them, settle each message.',
    lambdaFunction: fns.batchProcessor,
    payloadResponseOnly: true,
    payload: sfn.TaskInput.fromObject({
      run: sfn.JsonPath.objectAt('$.run'),
      batchSize: sfn.JsonPath.numberAt('$.control.batchSize'),
      latency: sfn.JsonPath.objectAt('$.control.latency'),
      executionId: sfn.JsonPath.executionId,
    }),
    resultPath: '$.lastBatch',
  });

  // A batch that failed as a whole is a finding for the controller (it shrinks the batch), not the end of the run.
  const batchFailed = new sfn.Pass(scope, STATES.batchFailed, {
    comment: 'Record the failed batch; its items come back to the queue.',
    parameters: {
      // A fresh id per failure, so the controller counts each failed batch once (it never decides twice on a report).
      batchId: sfn.JsonPath.uuid(),
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
    inputPath: '$.lastBatch.outcome',
  });

  const halted = new sfn.Fail(scope, STATES.halted, {
    comment: 'The controller halted the run.',
    error: 'BackfillHalted',
    causePath: '$.control.reason',
  });

  const aborted = new sfn.Fail(scope, STATES.aborted, {
    comment: 'The operator aborted the run (backfill abort); unfinished items stay in the queue.',
    error: 'BackfillAborted',
    causePath: '$.control.reason',
  });

  // The completion event carries the run's outcome; failing to send it must not change how the run ended.
  const announce = (id: string, outcomePath: string, next: sfn.State) => {
    const task = new tasks.EventBridgePutEvents(scope, id, {
      comment: 'Emit the completion event (its detail is the run\'s outcome) for notifications.',
      entries: [{ detail: sfn.TaskInput.fromJsonPathAt(outcomePath), detailType: COMPLETION_EVENT.detailType, source: COMPLETION_EVENT.source, eventBus: options.eventBus }],
      resultPath: sfn.JsonPath.DISCARD,
    });
    task.addRetry({ errors: ['States.ALL'], maxAttempts: 2, interval: Duration.seconds(1), backoffRate: 2 });
    task.addCatch(next, { errors: ['States.ALL'], resultPath: '$.announceError' });
    return task.next(next);
  };

  // A self-reference cannot go through StepFunctionsStartExecution (the machine does not exist yet): the ARN
  // comes from the context object at run time; the construct grants states:StartExecution on itself.
  const continueAsNew = new sfn.CustomState(scope, STATES.continueAsNew, {
    stateJson: {
      Type: 'Task',
      Comment: 'Start a fresh execution of this state machine that carries the run on, then end this one.',
      Resource: `arn:${Aws.PARTITION}:states:::states:startExecution`,
      Parameters: {
        'StateMachineArn.$': '$$.StateMachine.Id',
        // Derived from this execution: a retried start that had in fact started returns that same execution
        // (same name and input) instead of starting the run twice.
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
    },
  });
  // Throttled (StartExecution's rate) or refused while too many executions run: both pass, so try again with jitter.
  continueAsNew.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(1), maxAttempts: 5, backoffRate: 2, maxDelay: Duration.seconds(30), jitterStrategy: sfn.JitterType.FULL });
  const continued = new sfn.Succeed(scope, STATES.continued, {
    comment: 'The run goes on in the execution named in continuedAs.',
    outputPath: '$.continuedAs',
  });

  const drained = new sfn.Choice(scope, STATES.drained)
    .when(sfn.Condition.booleanEquals('$.lastBatch.drained', true), announce(STATES.announceSucceeded, '$.lastBatch.outcome', finish))
    .otherwise(probe);

  const action = (name: string) => sfn.Condition.stringEquals('$.control.action', name);
  const decide = new sfn.Choice(scope, STATES.decide)
    .when(action('halt'), announce(STATES.announceHalted, '$.control.outcome', halted))
    .when(action('abort'), announce(STATES.announceAborted, '$.control.outcome', aborted))
    .when(action('backoff'), backoff.next(probe))
    .when(action('pause'), paused.next(probe))
    .when(action('continue'), continueAsNew.next(continued))
    .when(sfn.Condition.numberGreaterThan('$.control.paceSeconds', 0), pace.next(processBatch))
    .otherwise(processBatch);

  batchFailed.next(probe);
  processBatch.next(drained);
  return init.next(probe).next(decide);
}
