import type { RunSettings } from './settings';

/**
 * The processor working on a run: a local process (`backfill run --local`) or an AWS execution. Only one holds a
 * run's lease at a time (db/lease.ts); a second one refuses to start, naming this one.
 */
export interface LeaseHolder {
  /** `local:HOST:PID:TAG` for a process, the execution ARN on AWS. */
  readonly holder: string;
  /** Local processes: where it runs and its pid, so a dead one on the same host can be told apart at once. */
  readonly host?: string;
  readonly pid?: number;
}

/** A local process heartbeats from a timer this often... */
export const LOCAL_HEARTBEAT_SECONDS = 10;
/**
 * ...and its lease lapses this long after the last heartbeat: six missed beats, so a database outage of up to about
 * a minute (heartbeats fail while it lasts) does not let another process take the run over from a live one.
 */
export const LOCAL_LEASE_SECONDS = 60;

/** The longest a Lambda may run (the batch processor's timeout is at most this; the construct checks it). */
export const MAX_BATCH_TIMEOUT_SECONDS = 900;
/** The health probe function's timeout (60 s, lambdas/probe-timing.ts), tried 4 times (ProbeHealth's Retry: 2 + 4 + 8 s between). */
const PROBE_SECONDS = 60 * 4 + 14;
/** Slack for Step Functions' own transitions and a continue-as-new. */
const SLACK_SECONDS = 60;

/**
 * How long an AWS execution's lease lasts after each renewal. Init, every probe and every batch renew it, so the
 * longest gap between two renewals is a wait (backoff, pause poll, pace: at most backoff.maxSeconds or
 * pausePollSeconds) followed by a probe that may be retried 3 times, or a batch (its timeout, at most 15 minutes)
 * followed by such a probe. The lease covers the larger of the two, plus slack:
 *   defaults: max(120, 10) + 4 x 60 + 14 + 900 + 60 = 1,334 s (22 minutes).
 * It only matters when an execution dies without ending (a crash past the probe's retries, an execution stopped
 * outside `backfill abort`): a new execution of the run is refused until then.
 */
export function awsLeaseSeconds(settings: Pick<RunSettings, 'backoff' | 'pausePollSeconds'>): number {
  const longestWait = Math.max(settings.backoff.maxSeconds, settings.pausePollSeconds);
  return longestWait + PROBE_SECONDS + MAX_BATCH_TIMEOUT_SECONDS + SLACK_SECONDS;
}

/** `stalled (no heartbeat since T)`, the words status, the report and the operator commands use. */
export function describeStalled(since: string): string {
  return `stalled (no heartbeat since ${since})`;
}
