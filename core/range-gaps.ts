import type { KeyRange } from './work-item';

/**
 * The parts of `range` that none of `covered` covers, in key order: what the planner may still record when some of
 * its keys already belong to recorded work (producer items, or ranges of an earlier, interrupted planning whose
 * boundaries moved since). Integer keys (decimal strings), compared exactly as bigints.
 */
export function uncoveredParts(range: KeyRange, covered: readonly KeyRange[]): KeyRange[] {
  const parts: KeyRange[] = [];
  let lo = BigInt(range.lo);
  const hi = BigInt(range.hi);
  const sorted = [...covered].map((c) => ({ lo: BigInt(c.lo), hi: BigInt(c.hi) })).sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  for (const c of sorted) {
    if (c.hi <= lo) continue;
    if (c.lo >= hi) break;
    if (c.lo > lo) parts.push({ lo: String(lo), hi: String(c.lo) });
    if (c.hi > lo) lo = c.hi;
    if (lo >= hi) break;
  }
  if (lo < hi) parts.push({ lo: String(lo), hi: String(hi) });
  return parts;
}
