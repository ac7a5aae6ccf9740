import assert from 'node:assert/strict';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { resolveSettings } from '../../core/settings';
import { readRun } from '../../db/controls';
import { recordDecision } from '../../db/history';
import { appendExecution, markPlanned, upsertRun } from '../../db/runs';
import { ensureBookkeeping } from '../../db/schema';
import { backfillInProcess } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';

const MACHINE = 'arn:aws:states:eu-west-1:111122223333:stateMachine:Backfill';
const execution = (name: string) => `arn:aws:states:eu-west-1:111122223333:execution:Backfill:${name}`;
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/111122223333/work';
const DLQ = 'https://sqs.eu-west-1.amazonaws.com/111122223333/dlq';
const CONSOLE = (arn: string) => `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${arn}`;

describe('operator commands on AWS runs (Step Functions and SQS mocked at the SDK boundary, real Postgres)', () => {
  let db: TestDatabase;
  const mockSfn = () => mockClient(SFNClient);
  const mockSqs = () => mockClient(SQSClient);
  let sfn: ReturnType<typeof mockSfn>;
  let sqs: ReturnType<typeof mockSqs>;

  before(async () => {
    db = await openTestDatabase();
  });
  beforeEach(async () => {
    sfn = mockSfn();
    sqs = mockSqs();
    await db.pool.query('DROP SCHEMA IF EXISTS backfill CASCADE');
    await ensureBookkeeping(db.pool, 'backfill');
  });
  afterEach(() => {
    sfn.restore();
    sqs.restore();
  });
  after(() => db.close());

  /** A run on AWS as Init leaves it: planned, one execution, one decision with its health report. */
  const seedAwsRun = async (runId: string) => {
    const settings = resolveSettings({ chunkSize: 100 });
    await upsertRun(db.pool, 'backfill', runId, 'counter', settings);
    await markPlanned(db.pool, 'backfill', runId, 10);
    await appendExecution(db.pool, 'backfill', runId, execution(`${runId}-1`));
    const health = { verdict: 'warning', probedAt: '2026-11-22T10:00:00.000Z', durationMs: 3, checks: [
      { name: 'longRunningQueries', value: 0, unit: 'seconds', verdict: 'ok' },
      { name: 'lockWaits', value: 7, unit: 'seconds', verdict: 'warning', detail: '1 waiting longer than 5s' },
    ] };
    const control = { iteration: 4, executionIterations: 4, generation: 1, batchSize: 6, backoffAttempt: 0, totalBackoffSeconds: 0, consecutiveFailures: 0, action: 'proceed', waitSeconds: 0, paceSeconds: 0, reason: 'degraded, smaller batch: lockWaits 7s (warning)' };
    await recordDecision(db.pool, 'backfill', runId, { status: 'running', reason: control.reason, health, control, entry: { action: 'proceed', lastBatch: null } });
  };

  it('start checks the input before any AWS call, naming the field', async () => {
    // Act
    const cases = [
      ['--input', '{"batch":{"minSize":50,"maxSize":10}}'],
      ['--input', '{"health":{"lockWaits":{"criticalSeconds":-1}}}'],
      ['--input', '{"batch":'],
      ['--input', '{"job":"other"}'],
      ['--run-id', 'a b'],
      ['--input', '{"carry":{}}'],
    ];
    const results = [];
    for (const flags of cases) results.push(await backfillInProcess('start', '--job', 'counter', ...flags, '--state-machine-arn', MACHINE));
    // Assess
    assert.deepStrictEqual(results.map((r) => [r.code, r.stderr.split('\n')[0]]), [
      [1, 'backfill: batch.minSize: must be <= batch.maxSize (10); got 50'],
      [1, 'backfill: input.health.lockWaits.criticalSeconds: must be a number from 0 to 86400; got -1'],
      [1, `backfill: --input: must be a JSON object like '{"batch":{"maxSize":50}}'; Unexpected end of JSON input`],
      [1, 'backfill: --job: says "counter" but --input says job "other"'],
      [1, 'backfill: runId: must be letters, digits, _ . : - (at most 80); got "a b"'],
      [1, 'backfill: carry: is set by the state machine when a run continues as a new execution, never by an operator'],
    ]);
    assert.deepStrictEqual(sfn.calls().length, 0);
  });

  it('start resumes a named run under a new execution name, and prints the execution ARN and the console link', async () => {
    // Prepare
    sfn.on(ListExecutionsCommand, { stateMachineArn: MACHINE, statusFilter: 'RUNNING' }).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).callsFake((input) => ({ executionArn: execution(input.name), startDate: new Date() }));
    // Act
    const result = await backfillInProcess('start', '--job', 'counter', '--run-id', 'fill:users', '--input', '{"batch":{"maxSize":50}}', '--state-machine-arn', MACHINE);
    // Assess
    assert.equal(result.code, 0, result.stderr);
    const started = sfn.commandCalls(StartExecutionCommand)[0].args[0].input;
    assert.match(started.name!, /^fill-users-\d{8}-\d{6}-\d{3}$/);
    assert.deepStrictEqual([started.stateMachineArn, JSON.parse(started.input!)], [MACHINE, { batch: { maxSize: 50 }, job: 'counter', runId: 'fill:users' }]);
    assert.deepStrictEqual(result.stdout.split('\n'), [
      `started run fill:users as execution ${started.name}`,
      `  execution  ${execution(started.name!)}`,
      `  console    ${CONSOLE(execution(started.name!))}`,
      '  watch      backfill status fill:users',
      '',
    ]);
  });

  it('start --fresh derives a new run id, and warns about an older run\'s messages still in the shared queue', async () => {
    // Prepare
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).callsFake((input) => ({ executionArn: execution(input.name), startDate: new Date() }));
    sqs.on(GetQueueAttributesCommand, { QueueUrl: QUEUE }).resolves({ Attributes: { ApproximateNumberOfMessages: '5', ApproximateNumberOfMessagesNotVisible: '1', ApproximateNumberOfMessagesDelayed: '0' } });
    // Act
    const result = await backfillInProcess('start', '--job', 'counter', '--run-id', 'rehearsal', '--fresh', '--json', '--state-machine-arn', MACHINE, '--queue-url', QUEUE);
    // Assess
    assert.equal(result.code, 0, result.stderr);
    const printed = JSON.parse(result.stdout);
    assert.match(printed.runId, /^rehearsal-\d{8}-\d{6}-\d{3}$/);
    assert.deepStrictEqual(printed, { runId: printed.runId, executionName: printed.runId, executionArn: execution(printed.runId), consoleUrl: CONSOLE(execution(printed.runId)) });
    assert.deepStrictEqual(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0].args[0].input.input!), { job: 'counter', runId: printed.runId });
    assert.deepStrictEqual(result.stderr, `note: the work queue holds 6 messages from earlier runs; run ${printed.runId} sends each to the DLQ untouched, with the reason "belongs to run X, not ${printed.runId}" (redrive them when run X runs again)\n`);
  });

  it('start refuses while an execution of the state machine is running: one run at a time per deployment', async () => {
    // Prepare
    sfn.on(ListExecutionsCommand).resolves({ executions: [{ executionArn: execution('other-1'), name: 'other-1', stateMachineArn: MACHINE, status: 'RUNNING', startDate: new Date() }] });
    sfn.on(DescribeExecutionCommand, { executionArn: execution('other-1') }).resolves({ executionArn: execution('other-1'), input: '{"job":"counter","runId":"other"}', status: 'RUNNING', stateMachineArn: MACHINE, startDate: new Date() });
    // Act
    const results = [
      await backfillInProcess('start', '--job', 'counter', '--state-machine-arn', MACHINE),
      await backfillInProcess('start', '--job', 'counter', '--run-id', 'other', '--state-machine-arn', MACHINE),
    ];
    // Assess
    assert.deepStrictEqual(results.map((r) => [r.code, r.stderr.trim()]), [
      [1, `backfill: ${execution('other-1')} is running run other: one run at a time per deployment (runs share the work queue); let it finish, or backfill abort other first`],
      [1, `backfill: run other is already running in ${execution('other-1')}`],
    ]);
    assert.deepStrictEqual(sfn.commandCalls(StartExecutionCommand).length, 0);
  });

  it('abort stops every running execution of the run, marks it aborted, and a stopped execution\'s late decision does not undo that', async () => {
    // Prepare: the run's execution and a continuation of it are running, and an execution of another run (left alone)
    await seedAwsRun('aws-abort');
    const running = [execution('aws-abort-1'), execution('aws-abort-2'), execution('unrelated-1')];
    sfn.on(ListExecutionsCommand, { stateMachineArn: MACHINE, statusFilter: 'RUNNING' }).resolves({ executions: running.map((arn) => ({ executionArn: arn, name: arn.split(':').at(-1)!, stateMachineArn: MACHINE, status: 'RUNNING', startDate: new Date() })) });
    for (const arn of running) {
      const runId = arn.includes('unrelated') ? 'unrelated' : 'aws-abort';
      sfn.on(DescribeExecutionCommand, { executionArn: arn }).resolves({ executionArn: arn, input: JSON.stringify({ job: 'counter', runId }), status: 'RUNNING', stateMachineArn: MACHINE, startDate: new Date() });
    }
    sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    // Act
    const result = await backfillInProcess('abort', 'aws-abort', '--database-url', db.url);
    await recordDecision(db.pool, 'backfill', 'aws-abort', { status: 'running', reason: 'healthy', health: {}, control: {}, entry: {} });
    // Assess
    assert.deepStrictEqual([result.code, result.stdout.trim()], [0, `run aws-abort: aborted; stopped ${running[0]}, ${running[1]}. Unfinished items stay in the work queue: backfill start --job counter --run-id aws-abort resumes from what is done.`]);
    assert.deepStrictEqual(sfn.commandCalls(StopExecutionCommand).map((c) => c.args[0].input), running.slice(0, 2).map((executionArn) => ({ executionArn, error: 'BackfillAborted', cause: 'aborted by the operator (backfill abort)' })));
    const run = await readRun(db.pool, 'backfill', 'aws-abort');
    assert.deepStrictEqual([run?.status, run?.reason, run?.abortRequested, run?.finishedAt !== null], ['aborted', 'aborted by the operator (backfill abort)', true, true]);
  });

  it('reaches the run table through the RDS-format secret the Lambdas read (--secret-arn)', async () => {
    // Prepare: the secret holds this test database's connection (a DATABASE_URL without a password means trust auth)
    await seedAwsRun('via-secret');
    const url = new URL(db.url);
    const secretArn = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:backfill-db-AbCdEf';
    const secrets = mockClient(SecretsManagerClient);
    secrets.on(GetSecretValueCommand, { SecretId: secretArn }).resolves({
      SecretString: JSON.stringify({ host: url.hostname, port: Number(url.port), username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) || 'ignored-by-trust-auth', dbname: url.pathname.slice(1), ssl: false }),
    });
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: execution('via-secret-1'), status: 'RUNNING', stateMachineArn: MACHINE, startDate: new Date() });
    // Act
    const result = await backfillInProcess('pause', 'via-secret', '--secret-arn', secretArn);
    const wrongSecret = await backfillInProcess('pause', 'via-secret', '--secret-arn', 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:missing-XyZ');
    secrets.restore();
    // Assess
    assert.deepStrictEqual([result.code, result.stdout.split('.')[0]], [0, 'run via-secret: paused']);
    assert.deepStrictEqual((await readRun(db.pool, 'backfill', 'via-secret'))?.paused, true);
    assert.deepStrictEqual([wrongSecret.code, wrongSecret.stderr.split(':').slice(0, 3).join(':')], [1, 'backfill: --secret-arn: cannot read the database secret']);
  });

  it('abort says the flag is set when Step Functions refuses to stop the execution', async () => {
    // Prepare
    await seedAwsRun('aws-denied');
    sfn.on(ListExecutionsCommand).rejects(new Error('User is not authorized to perform: states:ListExecutions'));
    // Act
    const result = await backfillInProcess('abort', 'aws-denied', '--database-url', db.url);
    // Assess
    assert.deepStrictEqual([result.code, result.stderr.trim()], [1, 'backfill: run aws-denied: the abort flag is set, so it stops at its next probe, but stopping its execution failed: User is not authorized to perform: states:ListExecutions']);
    const run = await readRun(db.pool, 'backfill', 'aws-denied');
    assert.deepStrictEqual([run?.status, run?.abortRequested], ['running', true]);
  });

  it('status of an AWS run reads the execution and both queues now, and shows the checks that are not ok', async () => {
    // Prepare
    await seedAwsRun('aws-status');
    await db.pool.query(`UPDATE backfill.runs SET knobs = '{"batch":{"maxSize":50}}', paused = true WHERE run_id = 'aws-status'`);
    sfn.on(DescribeExecutionCommand, { executionArn: execution('aws-status-1') }).resolves({ executionArn: execution('aws-status-1'), status: 'RUNNING', stateMachineArn: MACHINE, startDate: new Date() });
    sqs.on(GetQueueAttributesCommand, { QueueUrl: QUEUE }).resolves({ Attributes: { ApproximateNumberOfMessages: '7', ApproximateNumberOfMessagesNotVisible: '3', ApproximateNumberOfMessagesDelayed: '1' } });
    sqs.on(GetQueueAttributesCommand, { QueueUrl: DLQ }).resolves({ Attributes: { ApproximateNumberOfMessages: '2', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' } });
    // Act
    const json = await backfillInProcess('status', 'aws-status', '--database-url', db.url, '--queue-url', QUEUE, '--dlq-url', DLQ, '--json');
    const text = await backfillInProcess('status', 'aws-status', '--database-url', db.url, '--queue-url', QUEUE, '--dlq-url', DLQ);
    const withoutDeployment = await backfillInProcess('status', 'aws-status', '--database-url', db.url, '--json');
    // Assess
    assert.equal(json.code, 0, json.stderr);
    const { updatedAt, ...report } = JSON.parse(json.stdout);
    assert.ok(Date.parse(updatedAt) > 0);
    assert.deepStrictEqual(report, {
      runId: 'aws-status',
      job: 'counter',
      status: 'running',
      reason: 'degraded, smaller batch: lockWaits 7s (warning)',
      progress: { items: 10, done: 0, deadLettered: 0, outstanding: 10, percent: 0, rows: 0 },
      lastError: null,
      itemsAtLeastOnce: 0,
      rate: null,
      etaSeconds: null,
      batchSize: 6,
      decision: { action: 'proceed', reason: 'degraded, smaller batch: lockWaits 7s (warning)' },
      health: { verdict: 'warning', probedAt: '2026-11-22T10:00:00.000Z', notOk: [{ name: 'lockWaits', value: 7, unit: 'seconds', verdict: 'warning', detail: '1 waiting longer than 5s' }] },
      queue: { source: 'sqs', visible: 7, inFlight: 3, delayed: 1, deadLetters: 2 },
      paused: true,
      abortRequested: false,
      knobs: { batch: { maxSize: 50 } },
      executions: { count: 1, current: execution('aws-status-1'), currentStatus: 'RUNNING', consoleUrl: CONSOLE(execution('aws-status-1')) },
      finishedAt: null,
      // Seeded without a lease (as a run from before leases): no processor is known, and it is not called stalled.
      processor: null,
      stalledSince: null,
    });
    assert.match(text.stdout, /^health {6}warning \(probed 2026-11-22T10:00:00.000Z\)\n {12}warning: lockWaits 7s \(1 waiting longer than 5s\)$/m);
    assert.match(text.stdout, /^queue {7}SQS now: 7 visible, 3 in flight, 1 delayed · DLQ 2 · items: 10 to do, 0 in the DLQ$/m);
    assert.match(text.stdout, /^knobs {7}batch\.maxSize=50$/m);
    const fallback = JSON.parse(withoutDeployment.stdout);
    assert.deepStrictEqual([fallback.queue, fallback.queueNote], [null, 'give --stack (or --queue-url and --dlq-url) for the depth SQS has now']);
  });
});
