import '../../local/promise-polyfill';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StateMachine } from 'aws-local-stepfunctions';
import { decide, initialControl, type Action, type BatchStats, type ControlState, type OperatorRequests } from '../../core/controller';
import type { HealthReport, Verdict } from '../../core/health';
import { resolveSettings } from '../../core/settings';
import { LOCALSTACK_LAMBDA_API_ERROR } from '../../lib/state-machine';
import { synthesizeBackfill } from '../../local/synthesize';

// LocalStack differs from AWS in two ways a LocalStack run cannot show (docs/localstack.md, "parity gaps"):
// a Choice on a missing path falls through to Default there (AWS fails the execution with States.Runtime), and a
// Lambda API error is named `Exception` there (AWS: Lambda.*). These tests hold the machine to AWS's behaviour.

type State = { Type: string; Next?: string; Default?: string; Choices?: Rule[]; Catch?: Array<{ Next: string }>; ResultPath?: string; Resource?: string; Retry?: Array<{ ErrorEquals: string[] }> };
type Rule = { Variable?: string; Next?: string; And?: Rule[]; Or?: Rule[]; Not?: Rule };

const { definition, functionsByArn } = synthesizeBackfill({ jobEntry: 'jobs/demo.ts' });
const states = definition.States as Record<string, State>;
const settings = resolveSettings({});
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:local:parity';
const RUN = { runId: 'parity', jobName: 'demo-lowercase-email', settings, plannedItems: 1 };

function variables(rule: Rule): string[] {
  return [...(rule.Variable ? [rule.Variable] : []), ...[...(rule.And ?? []), ...(rule.Or ?? []), ...(rule.Not ? [rule.Not] : [])].flatMap(variables)];
}

function successors(state: State): string[] {
  return [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next), ...(state.Catch ?? []).map((c) => c.Next)].filter((n): n is string => n !== undefined);
}

/** The value at a `$.a.b` path, or undefined when the path does not point to one. */
function at(value: unknown, path: string): unknown {
  return path.slice(2).split('.').reduce<unknown>((v, key) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined), value);
}

function report(verdict: Verdict, halt?: string): HealthReport {
  const checks = verdict === 'ok' ? [] : [{ name: 'longRunningQueries', value: 200, unit: 'seconds', verdict }];
  return { verdict, checks, probedAt: '2026-01-01T00:00:00.000Z', durationMs: 3, ...(halt ? { halt } : {}) };
}

const batch = (over: Partial<BatchStats> = {}): BatchStats => ({ received: 4, succeeded: 4, retried: 0, deadLettered: 0, rowsAffected: 40, durationMs: 900, queue: { visible: 10, inFlight: 0 }, drained: false, ...over });

/** Every branch of the controller: each returns the probe's decision, which Decide reads at $.control. */
function everyDecision(): Array<{ branch: string; decision: ControlState }> {
  const start = initialControl(settings);
  const none: OperatorRequests = { paused: false, abortRequested: false };
  const cases: Array<[string, ControlState, BatchStats | null, HealthReport, OperatorRequests]> = [
    ['abort', start, null, report('ok'), { ...none, abortRequested: true }],
    ['halt: batches failed', { ...start, consecutiveFailures: settings.batch.maxConsecutiveFailures - 1 }, batch({ error: 'boom' }), report('ok'), none],
    ['continue', { ...start, executionIterations: settings.continueAfter }, batch(), report('ok'), none],
    ['pause', start, batch(), report('ok'), { ...none, paused: true }],
    ['halt: halting check', start, batch(), report('critical', 'a halting check tripped: replicationLag'), none],
    ['halt: backoff budget', { ...start, totalBackoffSeconds: settings.backoff.maxTotalSeconds }, batch(), report('critical'), none],
    ['backoff: unhealthy', start, batch(), report('critical'), none],
    ['backoff: items in flight', start, batch({ received: 0, queue: { visible: 0, inFlight: 3 } }), report('ok'), none],
    ['proceed: degraded', start, batch(), report('warning'), none],
    ['proceed: healthy', start, batch(), report('ok'), none],
    ['proceed: first batch', start, null, report('ok'), none],
  ];
  // The probe's result reaches the state machine as JSON: fields set to undefined are gone there.
  return cases.map(([branch, control, last, health, requests]) => ({ branch, decision: JSON.parse(JSON.stringify(decide(settings, control, last, health, requests, () => 0.5))) as ControlState }));
}

/** Runs the synthesized definition in the ASL interpreter (which fails on a missing path, as AWS does). */
async function runWith(probe: () => unknown, processBatch: () => unknown) {
  const handlers: Record<string, () => Promise<unknown>> = {};
  const byRole: Record<string, () => unknown> = { initRun: () => ({ run: RUN, control: initialControl(settings), lastBatch: null }), healthProbe: probe, batchProcessor: processBatch };
  for (const [name, state] of Object.entries(states)) {
    if (state.Type !== 'Task') continue;
    const role = functionsByArn.get(state.Resource ?? '') ?? (state.Resource?.endsWith(':events:putEvents') ? 'putEvents' : '');
    handlers[name] = async () => (role === 'putEvents' ? { Entries: [{ EventId: 'e' }], FailedEntryCount: 0 } : byRole[role]?.() ?? Promise.reject(new Error(`${name} is not part of this test`)));
  }
  const machine = new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } });
  const execution = machine.run({ job: RUN.jobName } as never, {
    overrides: { taskResourceLocalHandlers: handlers } as never,
    context: { Execution: { Id: EXECUTION, Name: 'parity' }, StateMachine: { Id: 'arn:aws:states:us-east-1:123456789012:stateMachine:local', Name: 'local' } } as never,
  });
  return execution.result.then((output) => ({ output, error: undefined }), (error: { cause?: Error }) => ({ output: undefined, error: `${error.cause?.name}: ${error.cause?.message}` }));
}

describe('LocalStack parity: every path a Choice state reads is there whenever it is read', () => {
  it('the Choice states read $.control.action and $.control.paceSeconds (Decide) and $.lastBatch.drained (Drained?), each right after the Task that writes it', () => {
    // Act
    const choices = Object.entries(states).filter(([, s]) => s.Type === 'Choice');
    const read = Object.fromEntries(choices.map(([name, s]) => [name, [...new Set((s.Choices ?? []).flatMap(variables))]]));
    const before = Object.fromEntries(choices.map(([name]) => [name, Object.entries(states).filter(([, s]) => successors(s).includes(name)).map(([n, s]) => [n, s.ResultPath])]));
    // Assess
    assert.deepStrictEqual(read, { Decide: ['$.control.action', '$.control.paceSeconds'], 'Drained?': ['$.lastBatch.drained'] });
    assert.deepStrictEqual(before, { Decide: [['ProbeHealth', '$.control']], 'Drained?': [['ProcessBatch', '$.lastBatch']] });
  });

  it('every decision the controller can make carries action and paceSeconds, for each of its six actions', () => {
    // Act
    const decisions = everyDecision();
    const missing = decisions.flatMap(({ branch, decision }) => ['$.action', '$.paceSeconds'].filter((path) => at(decision, path) === undefined).map((path) => `${branch}: ${path}`));
    const actions = [...new Set(decisions.map(({ decision }) => decision.action))].sort();
    // Assess
    assert.deepStrictEqual(missing, []);
    assert.deepStrictEqual(actions, ['abort', 'backoff', 'continue', 'halt', 'pause', 'proceed'] satisfies Action[]);
  });

  it('a batch result always carries drained (BatchStats.drained is required), and the machine finishes on it', async () => {
    // Prepare
    const healthy = everyDecision().find((d) => d.branch === 'proceed: healthy')!.decision;
    const outcome = { status: 'succeeded', runId: RUN.runId };
    // Act
    const finished = await runWith(() => healthy, () => ({ ...batch({ received: 0, succeeded: 0, drained: true, queue: { visible: 0, inFlight: 0 } }), outcome }));
    // Assess
    assert.deepStrictEqual(finished, { output: outcome, error: undefined });
  });

  it('locally, as on AWS, a missing Choice path fails the execution (LocalStack would take the Default branch)', async () => {
    // Prepare: a decision without paceSeconds, and a batch result without drained
    const { paceSeconds: _, ...noPace } = everyDecision().find((d) => d.branch === 'proceed: healthy')!.decision;
    const healthy = everyDecision().find((d) => d.branch === 'proceed: healthy')!.decision;
    const { drained: __, ...noDrained } = batch();
    // Act
    const results = [await runWith(() => noPace, () => batch()), await runWith(() => healthy, () => noDrained)];
    // Assess
    assert.deepStrictEqual(results.map((r) => r.error), [
      "States.Runtime: Path expression '$.control.paceSeconds' does not point to a value",
      "States.Runtime: Path expression '$.lastBatch.drained' does not point to a value",
    ]);
  });
});

describe('LocalStack parity: Lambda API errors named Exception', () => {
  it('Init retries Exception (LocalStack\'s name for a Lambda API error) as it retries Lambda.*, and an input error not at all', async () => {
    // Prepare
    const init = states.Init!;
    let calls = 0;
    const flaky = (name: string, failures: number) => {
      calls = 0;
      return () => {
        calls += 1;
        if (calls <= failures) throw Object.assign(new Error(`${name} #${calls}`), { name });
        return { run: RUN, control: initialControl(settings), lastBatch: null };
      };
    };
    // The probe then ends the run (an abort, with the outcome the probe handler adds), so nothing else is needed.
    const halting = { ...everyDecision().find((d) => d.branch === 'abort')!.decision, outcome: { status: 'aborted', runId: RUN.runId } };
    const runInit = async (step: () => unknown) => {
      const machine = new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } });
      const handlers: Record<string, () => Promise<unknown>> = {};
      for (const [name, state] of Object.entries(states)) {
        if (state.Type !== 'Task') continue;
        const role = functionsByArn.get(state.Resource ?? '');
        handlers[name] = async () => (role === 'initRun' ? step() : role === 'healthProbe' ? halting : { Entries: [{ EventId: 'e' }], FailedEntryCount: 0 });
      }
      const execution = machine.run({ job: RUN.jobName } as never, {
        overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: { Init: 0 } } as never,
        context: { Execution: { Id: EXECUTION, Name: 'parity' }, StateMachine: { Id: 'arn:aws:states:us-east-1:123456789012:stateMachine:local', Name: 'local' } } as never,
      });
      const error = await execution.result.then(() => undefined, (e: { cause?: Error }) => e.cause?.name);
      return [error, calls];
    };
    // Act
    const results = [await runInit(flaky(LOCALSTACK_LAMBDA_API_ERROR, 2)), await runInit(flaky(LOCALSTACK_LAMBDA_API_ERROR, 10)), await runInit(flaky('InvalidInputError', 1))];
    // Assess: the retriers of Init, then what they do (aborted = Init passed and the run went on to its end)
    assert.deepStrictEqual(init.Retry?.map((r) => r.ErrorEquals), [['Lambda.ClientExecutionTimeoutException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'], ['Exception'], ['DatabaseUnavailableError']]);
    assert.deepStrictEqual(results, [['BackfillAborted', 3], ['Exception', 7], ['InvalidInputError', 1]]);
  });
});
