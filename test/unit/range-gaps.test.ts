import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uncoveredParts } from '../../core/range-gaps';

describe('uncoveredParts', () => {
  const r = (lo: number | string, hi: number | string) => ({ lo: String(lo), hi: String(hi) });
  const cases: Array<[string, ReturnType<typeof r>, Array<ReturnType<typeof r>>, Array<ReturnType<typeof r>>]> = [
    ['nothing covered', r(1, 101), [], [r(1, 101)]],
    ['covered elsewhere', r(1, 101), [r(101, 201), r(-5, 1)], [r(1, 101)]],
    ['a hole in the middle', r(1, 101), [r(40, 60)], [r(1, 40), r(60, 101)]],
    ['both ends, unsorted and overlapping each other', r(1, 101), [r(90, 200), r(0, 10), r(5, 20)], [r(20, 90)]],
    ['covered entirely', r(1, 101), [r(1, 50), r(50, 101)], []],
    ['bigint ends, exact', r('9223372036854775000', '9223372036854775807'), [r('9223372036854775001', '9223372036854775002')], [r('9223372036854775000', '9223372036854775001'), r('9223372036854775002', '9223372036854775807')]],
  ];
  for (const [name, range, covered, expected] of cases) {
    it(name, () => {
      // Act / Assess
      assert.deepStrictEqual(uncoveredParts(range, covered), expected);
    });
  }
});
