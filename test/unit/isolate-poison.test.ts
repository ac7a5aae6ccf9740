import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ItemOutcome } from '../../core/job';
import { makeRangeItem, type WorkItem } from '../../core/work-item';
import { DEADLINE_REASON, isolatePoison } from '../../lambdas/run-job';

const items = (n: number) => Array.from({ length: n }, (_, i) => makeRangeItem('run', { lo: String(i), hi: String(i + 1) }));
const los = (group: readonly WorkItem[]) => group.map((i) => i.range!.lo).join(',');
const HOUR = () => Date.now() + 3_600_000;

describe('isolatePoison', () => {
  it('splits a throwing batch in halves down to the poison item, which alone is charged with its own error', async () => {
    // Prepare: item 2 of 8 makes the whole batch throw, with an error naming the batch's first item
    const calls: string[] = [];
    const process = async (group: readonly WorkItem[]): Promise<ItemOutcome[]> => {
      calls.push(los(group));
      if (group.some((i) => i.range!.lo === '2')) throw new Error(`boom in a batch from ${group[0].range!.lo}`);
      return group.map(() => ({ status: 'ok', rowsAffected: 1 }));
    };
    // Act
    const run = await isolatePoison('job', process, items(8), HOUR());
    // Assess
    assert.deepStrictEqual(calls, ['0,1,2,3,4,5,6,7', '0,1,2,3', '0,1', '2,3', '2', '3', '4,5,6,7']);
    assert.deepStrictEqual(run.outcomes.map((o) => (o.status === 'ok' ? 'ok' : `${o.status}: ${o.reason}`)), ['ok', 'ok', 'retry: boom in a batch from 2', 'ok', 'ok', 'ok', 'ok', 'ok']);
    assert.equal(run.incomplete, undefined);
  });

  it('splits on a broken contract (not one outcome per item) like on a throw', async () => {
    // Prepare: the job drops an outcome for any group of more than one item
    const process = async (group: readonly WorkItem[]): Promise<ItemOutcome[]> => group.length > 1 ? [{ status: 'ok' }] : [{ status: 'ok' }];
    // Act
    const run = await isolatePoison('job', process, items(3), HOUR());
    // Assess
    assert.deepStrictEqual(run, { outcomes: [{ status: 'ok' }, { status: 'ok' }, { status: 'ok' }] });
  });

  it('hands back uncharged what it could not isolate before the deadline, and says so', async () => {
    // Prepare: every call throws once the deadline has passed
    const deadline = Date.now() + 50;
    const process = async (): Promise<ItemOutcome[]> => {
      await new Promise((resolve) => setTimeout(resolve, 80));
      throw new Error('out of memory');
    };
    // Act
    const run = await isolatePoison('slow', process, items(2), deadline);
    // Assess
    assert.deepStrictEqual(run, {
      outcomes: [{ status: 'untried', reason: DEADLINE_REASON }, { status: 'untried', reason: DEADLINE_REASON }],
      incomplete: 'job slow did not finish its batch before the deadline; its items go back uncharged and the next batch is smaller',
    });
  });

  it('charges an item that had the invocation to itself and did not finish', async () => {
    // Prepare
    const process = () => new Promise<ItemOutcome[]>(() => undefined);
    // Act
    const run = await isolatePoison('hangs', process, items(1), Date.now() + 20);
    // Assess
    assert.deepStrictEqual(run.outcomes.map((o) => [o.status, 'reason' in o ? o.reason : '']), [['retry', 'job hangs did not finish its batch before the deadline']]);
    assert.equal(run.incomplete, undefined);
  });
});
