import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProducerLines } from '../../core/producer-lines';
import { parseWorkItem } from '../../core/work-item';

/** The reason parseWorkItem gives for a body, or 'ok'. */
function reasonFor(body: string | undefined): string {
  try {
    parseWorkItem(body);
    return 'ok';
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

describe('work item bodies', () => {
  it('names the field, what is allowed and what came, for every way a body can be bad', () => {
    // Prepare
    const bodies = [
      'garbage',
      undefined,
      '[1,2]',
      '{"runId":"r1","dedupeKey":"k"}',
      '{"v":1,"dedupeKey":"k"}',
      '{"v":1,"runId":42,"dedupeKey":"k"}',
      '{"v":1,"runId":"has space","dedupeKey":"k"}',
      '{"v":1,"runId":"r1"}',
      '{"v":1,"runId":"r1","dedupeKey":7}',
      '{"v":1,"runId":"r1","dedupeKey":""}',
      JSON.stringify({ v: 1, runId: 'r1', dedupeKey: 'k'.repeat(513) }),
      '{"v":1,"runId":"r1","dedupeKey":"k","range":[1,2]}',
      '{"v":1,"runId":"r1","dedupeKey":"k","range":{"lo":1,"hi":"2"}}',
      '{"v":1,"runId":"r1","dedupeKey":"k","range":{"lo":"1"}}',
      '{"v":1,"runId":"r1","dedupeKey":"k","range":{"lo":"1.5","hi":"2"}}',
      '{"v":1,"runId":"r1","dedupeKey":"k","range":{"lo":"9","hi":"2"}}',
      '{"v":1,"runId":"r1","dedupeKey":"k","range":{"lo":"-5","hi":"9223372036854775807"},"payload":{"any":["thing"]}}',
    ];
    // Act
    const reasons = bodies.map(reasonFor);
    // Assess
    const m = 'MalformedWorkItemError: ';
    assert.deepStrictEqual(reasons, [
      `${m}body is not JSON: "garbage"`,
      `${m}body is not JSON: ""`,
      `${m}body must be a JSON object; got array [1,2]`,
      `${m}v must be 1; missing`,
      `${m}runId must be a string of letters, digits, _ . : - (at most 80); missing`,
      `${m}runId must be a string of letters, digits, _ . : - (at most 80); got number 42`,
      `${m}runId must be a string of letters, digits, _ . : - (at most 80); got string "has space"`,
      `${m}dedupeKey must be a non-empty string of at most 512 characters; missing`,
      `${m}dedupeKey must be a non-empty string of at most 512 characters; got number 7`,
      `${m}dedupeKey must be a non-empty string of at most 512 characters; got string ""`,
      `${m}dedupeKey must be a non-empty string of at most 512 characters; got 513 characters`,
      `${m}range must be { "lo": "...", "hi": "..." } (an integer key) or { "lo": [...], "hi": [...] | null } (the key's values); got array [1,2]`,
      `${m}range.lo must be an integer written as a decimal string, e.g. "1001"; got number 1`,
      `${m}range.hi must be an integer written as a decimal string, e.g. "1001"; missing`,
      `${m}range.lo must be an integer written as a decimal string, e.g. "1001"; got string "1.5"`,
      `${m}range.lo must be < range.hi; got [9, 2)`,
      'ok',
    ]);
  });
});

describe('range ends and range keys', () => {
  it('takes range ends only within bigint, and rejects larger ones at once, naming the bounds', () => {
    // Prepare
    const body = (lo: string, hi: string) => JSON.stringify({ v: 1, runId: 'r1', dedupeKey: 'k', range: { lo, hi } });
    const bodies = [
      body('-9223372036854775808', '9223372036854775807'),
      body('1', '9223372036854775808'),
      body('-9223372036854775809', '1'),
      body('1', '18446744073709551615'),
      body('00000000000000000001', '2'),
      body('1', '99999999999999999999999999999999999999999999999999999999999999999999999999'),
    ];
    // Act
    const reasons = bodies.map(reasonFor);
    // Assess
    const m = 'MalformedWorkItemError: ';
    const bounds = 'must fit a bigint (-9223372036854775808 to 9223372036854775807, at most 19 digits)';
    assert.deepStrictEqual(reasons, [
      'ok',
      `${m}range.hi ${bounds}; got string "9223372036854775808"`,
      `${m}range.lo ${bounds}; got string "-9223372036854775809"`,
      `${m}range.hi ${bounds}; got string "18446744073709551615"`,
      `${m}range.lo ${bounds}; got string "00000000000000000001"`,
      `${m}range.hi ${bounds}; got string "${'9'.repeat(59)}...`,
    ]);
  });

  it('takes a range: dedupe key only when it names exactly its item\'s range; other prefixes are the producer\'s', () => {
    // Prepare
    const body = (dedupeKey: string, range?: { lo: string; hi: string }) => JSON.stringify({ v: 1, runId: 'r1', dedupeKey, ...(range ? { range } : {}) });
    const bodies = [
      body('range:1-1001', { lo: '1', hi: '1001' }),
      body('range:1-1001', { lo: '1', hi: '999999' }),
      body('range:5-9'),
      body('range:', { lo: '5', hi: '9' }),
      body('range:01-11', { lo: '01', hi: '11' }),
      body('range:1-11', { lo: '01', hi: '11' }),
      body('range:-20--10', { lo: '-20', hi: '-10' }),
      body('mine:range:1-1001', { lo: '1', hi: '999999' }),
      body('Range:1-1001', { lo: '1', hi: '999999' }),
    ];
    // Act
    const reasons = bodies.map(reasonFor);
    // Assess
    const m = 'MalformedWorkItemError: ';
    const hint = 'give a producer\'s own keys another prefix';
    assert.deepStrictEqual(reasons, [
      'ok',
      `${m}dedupeKey "range:1-1001" does not name the item's range [1, 999999): a "range:" key must be exactly "range:1-999999"; ${hint}`,
      `${m}dedupeKey "range:5-9" names a range, but the item has none: a "range:" key is "range:LO-HI" of its item's range; ${hint}`,
      `${m}dedupeKey "range:" does not name the item's range [5, 9): a "range:" key must be exactly "range:5-9"; ${hint}`,
      `${m}dedupeKey "range:01-11" does not name the item's range [01, 11): a "range:" key must be exactly "range:1-11"; ${hint}`,
      'ok',
      'ok',
      'ok',
      'ok',
    ]);
  });
});

describe('producer lines (backfill enqueue)', () => {
  it('fills in v and the runId from --run-id, skips blank lines, and keeps range and payload', () => {
    // Prepare
    const text = '{"dedupeKey":"user:1","payload":{"id":1}}\n\n  {"v":1,"runId":"r1","dedupeKey":"range:1-11","range":{"lo":"1","hi":"11"}}  \n';
    // Act
    const items = parseProducerLines(text, 'r1');
    // Assess
    assert.deepStrictEqual(items, [
      { v: 1, runId: 'r1', dedupeKey: 'user:1', payload: { id: 1 } },
      { v: 1, runId: 'r1', dedupeKey: 'range:1-11', range: { lo: '1', hi: '11' } },
    ]);
  });

  it('takes each line\'s own runId when no --run-id is given', () => {
    // Act
    const items = parseProducerLines('{"runId":"a","dedupeKey":"k"}\n{"runId":"b","dedupeKey":"k"}');
    // Assess
    assert.deepStrictEqual(items, [{ v: 1, runId: 'a', dedupeKey: 'k' }, { v: 1, runId: 'b', dedupeKey: 'k' }]);
  });

  it('reports a range key that names another range, and a range end beyond bigint, on their lines', () => {
    // Prepare: line 1 good; 2 the planner's key over a wider range; 3 a range: key without a range; 4 hi beyond bigint
    const text = [
      '{"dedupeKey":"range:1-1001","range":{"lo":"1","hi":"1001"}}',
      '{"dedupeKey":"range:1-1001","range":{"lo":"1","hi":"999999"}}',
      '{"dedupeKey":"range:1-1001","payload":{}}',
      '{"dedupeKey":"big","range":{"lo":"1","hi":"18446744073709551615"}}',
    ].join('\n');
    // Act
    const message = (() => { try { parseProducerLines(text, 'r1'); return 'ok'; } catch (e) { return `${(e as Error).name}: ${(e as Error).message}`; } })();
    // Assess
    const hint = 'give a producer\'s own keys another prefix';
    assert.deepStrictEqual(message,
      'InvalidInputError: stdin: 3 bad lines, nothing was enqueued: ' +
      `line 2: dedupeKey "range:1-1001" does not name the item's range [1, 999999): a "range:" key must be exactly "range:1-999999"; ${hint}; ` +
      `line 3: dedupeKey "range:1-1001" names a range, but the item has none: a "range:" key is "range:LO-HI" of its item's range; ${hint}; ` +
      'line 4: range.hi must fit a bigint (-9223372036854775808 to 9223372036854775807, at most 19 digits); got string "18446744073709551615"');
  });

  it('rejects the whole input, naming every bad line and its field', () => {
    // Prepare: line 1 good; 2 not JSON; 3 no runId; 4 another run; 5 a typo'd field; 6 a numeric key; 7 too big
    const lines = [
      '{"dedupeKey":"ok"}',
      '{"dedupeKey":',
      '{"dedupeKey":"k2"}',
      '{"runId":"other","dedupeKey":"k3"}',
      '{"dedupeKey":"k4","paylod":{}}',
      '{"dedupeKey":"k5","range":{"lo":1,"hi":2}}',
      JSON.stringify({ dedupeKey: 'k6', payload: 'x'.repeat(262_144) }),
    ];
    // Act
    const withRunId = (() => { try { parseProducerLines(lines.filter((_, i) => i !== 2).join('\n'), 'r1'); return 'ok'; } catch (e) { return (e as Error).message; } })();
    const withoutRunId = (() => { try { parseProducerLines(lines.slice(0, 3).join('\n')); return 'ok'; } catch (e) { return (e as Error).message; } })();
    // Assess
    assert.deepStrictEqual(withRunId,
      'stdin: 5 bad lines, nothing was enqueued: ' +
      'line 2: is not JSON: "{\\"dedupeKey\\":"; ' +
      'line 3: runId "other" differs from --run-id "r1"; ' +
      'line 4: unknown field "paylod"; allowed: v, runId, dedupeKey, range, payload; ' +
      'line 5: range.lo must be an integer written as a decimal string, e.g. "1001"; got number 1; ' +
      'line 6: the message would be 262194 bytes; a work item may be at most 262144');
    assert.deepStrictEqual(withoutRunId,
      'stdin: 3 bad lines, nothing was enqueued: line 1: runId is missing; put it on every line or give --run-id; ' +
      'line 2: is not JSON: "{\\"dedupeKey\\":"; line 3: runId is missing; put it on every line or give --run-id');
  });
});
