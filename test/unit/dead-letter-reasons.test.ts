import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRangeItem } from '../../core/work-item';
import type { DeadLetter } from '../../queue/dead-letters';
import { explainDeadLetters } from '../../queue/dead-letter-reasons';

const item = (lo: number) => makeRangeItem('r1', { lo: String(lo), hi: String(lo + 10) });
const letter = (id: string, extra: Partial<DeadLetter>): DeadLetter => ({ messageId: id, body: '', movedBySqs: false, ...extra });

describe('reasons of dead letters', () => {
  it('takes the message\'s reason, else the last failure for what SQS moved (ignoring a stale attribute), else says why there is none', async () => {
    // Prepare
    const letters = [
      letter('m1', { item: item(1), reasonAttribute: 'row 1 is poisoned' }),
      letter('m2', { item: item(11), movedBySqs: true, reasonAttribute: 'an old reason from before a redrive' }),
      letter('m3', { item: item(21), movedBySqs: true }),
      letter('m4', { body: 'garbage', reasonAttribute: 'malformed work item: body is not JSON: "garbage"' }),
    ];
    const lookup = async () => [{ runId: 'r1', dedupeKey: 'range:11-21', attempt: 3, error: 'upstream down', failedAt: '2026-11-26T00:00:00.000Z' }];
    // Act
    const withAudit = await explainDeadLetters(letters, lookup);
    const withoutAudit = await explainDeadLetters(letters);
    // Assess
    assert.deepStrictEqual(withAudit, [
      { messageId: 'm1', runId: 'r1', dedupeKey: 'range:1-11', reason: 'row 1 is poisoned', reasonFrom: 'message' },
      { messageId: 'm2', runId: 'r1', dedupeKey: 'range:11-21', reason: 'upstream down (attempt 3; moved by SQS after maxReceiveCount receives)', reasonFrom: 'failure audit' },
      { messageId: 'm3', runId: 'r1', dedupeKey: 'range:21-31', reason: 'moved by SQS after maxReceiveCount receives; no failure recorded for it', reasonFrom: 'none' },
      { messageId: 'm4', body: 'garbage', reason: 'malformed work item: body is not JSON: "garbage"', reasonFrom: 'message' },
    ]);
    assert.deepStrictEqual(withoutAudit.map((l) => [l.reason, l.reasonFrom]), [
      ['row 1 is poisoned', 'message'],
      ['moved by SQS after maxReceiveCount receives; give --database-url to look up its last failure', 'none'],
      ['moved by SQS after maxReceiveCount receives; give --database-url to look up its last failure', 'none'],
      ['malformed work item: body is not JSON: "garbage"', 'message'],
    ]);
  });
});
