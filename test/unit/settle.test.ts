import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from '@aws-sdk/client-sqs';
import { retryDelaySeconds, settle, triage } from '../../lambdas/settle';
import { makeRangeItem } from '../../core/work-item';

function message(id: string, receives: number): Message {
  return { MessageId: id, ReceiptHandle: `rh-${id}`, Body: '{}', Attributes: { ApproximateReceiveCount: String(receives) } };
}

describe('settle', () => {
  it('sets malformed bodies apart as dead letters with their reason, before the job runs', () => {
    // Prepare: a malformed body between two items of this run
    const parsed = [
      { message: message('m0', 1), item: makeRangeItem('run', { lo: '0', hi: '10' }) },
      { message: message('m1', 2), reason: 'malformed work item: body is not JSON' },
      { message: message('m2', 1), item: makeRangeItem('run', { lo: '10', hi: '20' }) },
    ];
    // Act
    const t = triage('run', parsed);
    // Assess
    assert.deepStrictEqual(t.toRun.map((p) => p.message.MessageId), ['m0', 'm2']);
    assert.deepStrictEqual(t.deadLetters.map((d) => [d.message.MessageId, d.reason]), [['m1', 'malformed work item: body is not JSON']]);
    assert.deepStrictEqual(t.failures, [{ runId: 'run', messageId: 'm1', attempt: 2, error: 'malformed work item: body is not JSON', final: true }]);
    assert.deepStrictEqual([t.malformed, t.foreign], [1, 0]);
  });

  it('decides every item the job ran on: delete, DLQ with reason, or retry with a growing delay', () => {
    // Prepare: four items with outcomes ok, fail, retry, retry on the last receive
    const item = (lo: number) => makeRangeItem('run', { lo: String(lo), hi: String(lo + 10) });
    const toRun = [
      { message: message('m1', 1), item: item(0) },
      { message: message('m2', 1), item: item(10) },
      { message: message('m3', 3), item: item(20) },
      { message: message('m4', 5), item: item(30) },
    ];
    const outcomes = [
      { status: 'ok', rowsAffected: 10 },
      { status: 'fail', reason: 'poisoned' },
      { status: 'retry', reason: 'busy' },
      { status: 'retry', reason: 'still busy' },
    ] as const;
    // Act
    const s = settle('run', toRun, outcomes, 5);
    // Assess
    assert.deepStrictEqual(s.done.map((m) => m.MessageId), ['m1', 'm2']);
    assert.deepStrictEqual(s.deadLetters.map((d) => [d.message.MessageId, d.reason]), [['m2', 'poisoned']]);
    assert.deepStrictEqual(s.retries.map((r) => [r.message.MessageId, r.delaySeconds]), [['m3', 4], ['m4', 16]]);
    assert.deepStrictEqual(s.failures.map((f) => [f.messageId, f.dedupeKey, f.attempt, f.error, f.final]), [
      ['m2', 'range:10-20', 1, 'poisoned', true],
      ['m3', 'range:20-30', 3, 'busy', false],
      ['m4', 'range:30-40', 5, 'still busy', true],
    ]);
    assert.deepStrictEqual([s.succeeded, s.rowsAffected, s.deadLettered], [1, 10, 2]);
  });

  it('sends an item of another run to the DLQ untouched, with its reason, and records it under its own run', () => {
    // Prepare: this run's item between two of an older run; the job runs on this run's item only
    const mine = makeRangeItem('fresh-2', { lo: '0', hi: '10' });
    const older = (lo: number) => makeRangeItem('rehearsal-1', { lo: String(lo), hi: String(lo + 10) });
    const parsed = [{ message: message('m0', 2), item: older(10) }, { message: message('m1', 1), item: mine }, { message: message('m2', 1), item: older(20) }];
    // Act
    const t = triage('fresh-2', parsed);
    const s = settle('fresh-2', t.toRun, [{ status: 'ok', rowsAffected: 10 }], 5);
    // Assess
    const reason = 'belongs to run rehearsal-1, not fresh-2 (the run executing); redrive it when run rehearsal-1 runs again';
    assert.deepStrictEqual(t.toRun.map((p) => p.message.MessageId), ['m1']);
    assert.deepStrictEqual(t.deadLetters.map((d) => [d.message.MessageId, d.reason]), [['m0', reason], ['m2', reason]]);
    assert.deepStrictEqual(t.failures, [
      { runId: 'rehearsal-1', messageId: 'm0', attempt: 2, dedupeKey: 'range:10-20', error: reason, final: true },
      { runId: 'rehearsal-1', messageId: 'm2', attempt: 1, dedupeKey: 'range:20-30', error: reason, final: true },
    ]);
    assert.deepStrictEqual([t.malformed, t.foreign], [0, 2]);
    assert.deepStrictEqual([s.done.map((m) => m.MessageId), s.succeeded, s.rowsAffected, s.deadLettered, s.retries], [['m1'], 1, 10, 0, []]);
  });

  it('caps the retry delay at a minute', () => {
    assert.deepStrictEqual([1, 2, 3, 6, 7, 30].map(retryDelaySeconds), [1, 2, 4, 32, 60, 60]);
  });
});
