import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { requestAbort } from '../../db/controls';
import { createDemoTable } from '../../jobs/demo-table';
import { asQueryable } from '../../db/pool';
import { loadJob } from '../../local/load-job';
import { runLocal, type RunEvent } from '../../local/run-local';
import { followRun } from '../../localstack/start-execution';
import { openTestDatabase, type TestDatabase } from '../support/database';

const DEMO = join(import.meta.dirname, '..', '..', 'jobs', 'demo.ts');

type Ended = RunEvent & { type: 'execution' };

/**
 * A fake Step Functions at the SDK boundary answering DescribeExecution with what the embedded runtime's real
 * executions of the synthesized machine ended with: the follow logic of localstack:start meets the real
 * ContinuedAsNew output and the real Finish output, not shapes written for the test.
 */
function describing(executions: readonly Ended[]) {
  const sfn = mockClient(SFNClient);
  for (const e of executions) {
    sfn.on(DescribeExecutionCommand, { executionArn: e.executionArn }).resolves(
      e.status === 'SUCCEEDED' ? { status: 'SUCCEEDED', output: JSON.stringify(e.output) } : { status: 'FAILED', error: e.error, cause: e.cause },
    );
  }
  return sfn;
}

describe('localstack:start\'s follow logic against the executions of a real local run that continues as new', () => {
  let db: TestDatabase;
  before(async () => {
    db = await openTestDatabase();
  });
  after(() => db.close());

  it('follows every execution of a run that succeeds in its fourth, and reports the run\'s outcome', async () => {
    // Prepare: 20 items, batches of at most 3, a new execution every 2 iterations
    const { job, path } = await loadJob(DEMO);
    await createDemoTable(asQueryable(db.pool), 5000);
    const executions: Ended[] = [];
    const completions: unknown[] = [];
    const summary = await runLocal({
      job, jobPath: path, databaseUrl: db.url,
      input: { runId: 'follow-succeeds', chunkSize: 250, continueAfter: 2, batch: { initialSize: 3, maxSize: 3 } },
      onEvent: (event) => {
        if (event.type === 'execution') executions.push(event);
        if (event.type === 'completion') completions.push(event.event.detail);
      },
    });
    const sfn = describing(executions);
    try {
      // Act
      const result = await followRun(new SFNClient({}), executions[0]!.executionArn, { pollMs: 0 });
      // Assess: the run's four executions in order, and the Finish output, which is the completion event's outcome
      assert.deepStrictEqual([summary.status, summary.executions], ['succeeded', 4]);
      assert.deepStrictEqual(result, { executions: executions.map((e) => e.executionArn), status: 'SUCCEEDED', detail: completions[0] });
      assert.deepStrictEqual([result.executions.map((arn) => arn.split(':').at(-1)), (result.detail as { status: string; itemsSucceeded: number }).status, (result.detail as { itemsSucceeded: number }).itemsSucceeded], [
        ['follow-succeeds', 'follow-succeeds-2', 'follow-succeeds-3', 'follow-succeeds-4'], 'succeeded', 20,
      ]);
    } finally {
      sfn.restore();
    }
  });

  it('reports the run as failed with the last execution\'s error when it is aborted in its second execution', async () => {
    // Prepare: the operator aborts once the second execution has made its first decision
    const { job, path } = await loadJob(DEMO);
    await createDemoTable(asQueryable(db.pool), 5000);
    const executions: Ended[] = [];
    let requested = false;
    await runLocal({
      job, jobPath: path, databaseUrl: db.url,
      input: { runId: 'follow-aborted', chunkSize: 250, continueAfter: 2, batch: { initialSize: 3, maxSize: 3 } },
      onEvent: async (event) => {
        if (event.type === 'execution') executions.push(event);
        if (event.type === 'decision' && event.control.generation === 2 && !requested) {
          requested = true;
          await requestAbort(db.pool, 'backfill', 'follow-aborted', false, 'aborted by the test');
        }
      },
    });
    const sfn = describing(executions);
    try {
      // Act
      const result = await followRun(new SFNClient({}), executions[0]!.executionArn, { pollMs: 0 });
      // Assess
      assert.deepStrictEqual(result, { executions: executions.map((e) => e.executionArn), status: 'FAILED', detail: { error: 'BackfillAborted', cause: 'aborted by the operator' } });
      assert.deepStrictEqual(result.executions.map((arn) => arn.split(':').at(-1)), ['follow-aborted', 'follow-aborted-2']);
    } finally {
      sfn.restore();
    }
  });
});
