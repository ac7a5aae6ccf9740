/** A UTC timestamp to the millisecond, e.g. 20261122-101500-123: unique enough for one operator's starts. */
function stamp(now: Date): string {
  const iso = now.toISOString(); // 2026-11-22T10:15:00.123Z
  return `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}-${iso.slice(20, 23)}`;
}

const STAMPED = /-\d{8}-\d{6}-\d{3}$/;
const STAMP_LENGTH = '-20261122-101500-123'.length;

/**
 * A new runId for starting a job over (--fresh), derived from the run it replaces (or the job's name): the base
 * with a timestamp, e.g. fill-users -> fill-users-20261122-101500-123. A base that is itself a fresh id is
 * re-stamped rather than growing a second stamp. At most 80 characters, like every runId.
 */
export function freshRunId(base: string, now: Date = new Date()): string {
  return `${base.replace(STAMPED, '').slice(0, 80 - STAMP_LENGTH)}-${stamp(now)}`;
}

/**
 * The name of a new execution of a run. Names are unique per state machine for 90 days, so an execution that
 * resumes a named run gets the run's id plus a timestamp; a run id generated just now is used as it is.
 * Step Functions forbids ':' in names, which runIds allow.
 */
export function executionNameFor(runId: string, generatedNow: boolean, now: Date = new Date()): string {
  const name = runId.replaceAll(':', '-');
  return generatedNow ? name : `${name.slice(0, 80 - STAMP_LENGTH)}-${stamp(now)}`;
}
