import { isSqlJob } from '../core/job';
import {
  forNextBatch,
  initialLatency,
  isLatencyState,
  observeStatement,
  steer,
  type LatencyState,
} from '../core/latency-controller';
import type { BatchLatency } from '../core/latency-decision';
import type { RunSettings } from '../core/settings';
import { LatencySampler } from '../db/latency/sampler';
import type { Pool } from '../db/pool';
import type { HandlerDeps } from './deps';
import { silentTelemetry } from './telemetry';

/**
 * The duty cycle of a SQL job's batch (latency.enabled): a sampler on its own session, and the controller state the
 * last decision carried. A sampler that cannot start leaves the batch unsteered for once, and says so in the log.
 */
export async function startSteering(deps: HandlerDeps, pool: Pool, settings: RunSettings, state: LatencyState | undefined, items: number): Promise<BatchSteering | undefined> {
  if (!settings.latency?.enabled || !isSqlJob(deps.job) || items === 0) return undefined;
  try {
    const sampler = await LatencySampler.start(pool, deps.bookkeepingSchema, settings, deps.job.source?.table);
    return new BatchSteering(settings, sampler, isLatencyState(state) ? state : initialLatency());
  } catch (error) {
    (deps.telemetry ?? silentTelemetry).log('warn', 'latency sampler not started; this batch runs unsteered', { error: (error as Error).message });
    return undefined;
  }
}

/** What the run's history keeps of a batch's duty cycle. */
export function historyLatency(latency: BatchLatency) {
  const { state } = latency;
  return {
    duty: state.duty, pauseMs: state.pauseMs, u: state.u, zone: state.zone, signalMs: state.signalMs, baselineMs: state.baselineMs, reason: state.reason,
    pausedMs: latency.pausedMs, samples: latency.samples, ...(latency.stopped ? { stopped: latency.stopped } : {}),
  };
}

/**
 * The duty cycle of one batch: before each statement it steers on the sampler's latest signal (core/latency-
 * controller.ts), then sleeps the pause chosen, in slices no longer than the sample period so a critical verdict
 * ends the pause too. A critical verdict stops the batch: the statement in flight finishes (or is cancelled by the
 * sampler when it is in the lock wait) and the items not started are handed back uncharged.
 */
export class BatchSteering {
  private state: LatencyState;
  private statements = 0;
  private pausedMs = 0;
  private stop: string | undefined;
  private stopAt: number | undefined;

  public constructor(
    private readonly settings: RunSettings,
    private readonly sampler: LatencySampler,
    state: LatencyState,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    this.state = forNextBatch(state);
  }

  /** Before a statement: the reason to stop the batch here, or undefined once the pause is slept. */
  public async beforeStatement(first: boolean): Promise<string | undefined> {
    this.steerOnce();
    if (this.stop !== undefined) return this.stop;
    if (first) return undefined;
    let left = this.state.pauseMs;
    const slice = this.settings.latency.sampleIntervalMs;
    while (left > 0) {
      const step = Math.min(left, slice);
      await this.sleep(step);
      this.pausedMs += step;
      left -= step;
      this.steerOnce();
      if (this.stop !== undefined) return this.stop;
      // A better signal may shorten what is left (never lengthen it: the next statement steers again).
      left = Math.min(left, this.state.pauseMs);
    }
    return undefined;
  }

  /** The backend running the statement (the sampler cancels it in a critical lock wait), or undefined after it. */
  public watch(pid: number | undefined): void {
    this.sampler.watch(pid);
  }

  public afterStatement(ms: number): void {
    this.statements += 1;
    this.state = observeStatement(this.state, ms, this.settings.latency);
  }

  /** Why the batch stopped, once the sampler said critical (read again after a statement that failed). */
  public stopReason(): string | undefined {
    this.steerOnce();
    return this.stop;
  }

  public async finish(handedBack: number): Promise<BatchLatency> {
    const summary = await this.sampler.stop();
    return {
      state: this.state,
      statements: this.statements,
      pausedMs: this.pausedMs,
      samples: summary.samples,
      maxSignalMs: summary.maxSignalMs,
      ...(this.stop !== undefined ? { stopped: { reason: this.stop, handedBack, at: new Date(this.stopAt ?? Date.now()).toISOString() } } : {}),
    };
  }

  private steerOnce(): void {
    const signal = this.sampler.signal();
    const lagWarning = this.settings.health.replicationLag.enabled ? this.settings.health.replicationLag.warningSeconds : 0;
    this.state = steer(this.settings.latency, this.state, signal, lagWarning);
    if (signal.critical !== undefined && this.stop === undefined) {
      this.stop = signal.critical;
      this.stopAt = Date.now();
    }
  }
}
