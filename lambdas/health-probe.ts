import type pg from 'pg';
import { decide, NO_REQUESTS, type BatchStats, type ControlState } from '../core/controller';
import type { HealthReport } from '../core/health';
import { isSqlJob, type JobDefinition } from '../core/job';
import { assertHealthFitsJob } from '../core/job-health';
import { resolveSettings, type RunSettings } from '../core/settings';
import { calibrated, needsCalibration, withLatency } from '../core/latency-decision';
import { recordDecision } from '../db/history';
import { calibrateCanary } from '../db/latency/canary';
import { probeHealth, unprobedResult, type ProbeMemory } from '../db/health-probe';
import { LeaseLostError } from '../core/errors';
import { releaseLease, renewLease } from '../db/lease';
import { readRunControls, type RunControls, type RunStatus } from '../db/runs';
import { readRunTotals } from '../db/totals';
import type { HandlerDeps, RunContext } from './deps';
import { leaseOf } from './lease';
import { makeOutcomeAnyway, type RunOutcome } from './outcome';
import { BOOKKEEPING_STEP_MS, CALIBRATION_STEP_MS, withinTimeLimit } from './probe-timing';
import { recordDecisionMetrics, silentTelemetry } from './telemetry';

export interface HealthProbeEvent {
  readonly run: RunContext;
  /** The previous decision (with its report and probe memory), or the initial control state. */
  readonly control: ControlState & { readonly memory?: ProbeMemory };
  readonly lastBatch: BatchStats | null;
  readonly executionId: string;
}

export interface HealthProbeResult extends ControlState {
  readonly health: HealthReport;
  /** What this probe remembers for the next (counters for rates). */
  readonly memory: ProbeMemory;
  /** Set when the run ends here (halt, abort): what the completion event carries. */
  readonly outcome?: RunOutcome;
}

const STATUS: Record<ControlState['action'], RunStatus> = {
  proceed: 'running',
  continue: 'running',
  backoff: 'backing-off',
  pause: 'paused',
  halt: 'failed',
  abort: 'aborted',
};

/**
 * Reads the operator's flags and live knobs, probes Postgres, asks the controller what to do next, and records
 * the decision (with its report) in the run's history. Never throws over the database: flags that cannot be read
 * make the report critical (the run backs off rather than go on blind), a decision that cannot be recorded is
 * logged, and the totals of a run that ends here are marked unavailable. Each step has a time limit
 * (probe-timing.ts), so the probe ends within its function's timeout.
 */
export function makeHealthProbeHandler(deps: HandlerDeps) {
  const telemetry = deps.telemetry ?? silentTelemetry;
  return async (event: HealthProbeEvent): Promise<HealthProbeResult> => {
    const { run } = event;
    const read = await readControls(deps, run, event.executionId);
    const { pool } = read;
    const controls = 'controls' in read ? read.controls : undefined;
    if ('error' in read) telemetry.log('warn', 'run controls not read', { runId: run.runId, error: read.error.message });
    const { settings, knobProblem } = controls ? effectiveSettings(run.settings, controls.knobs, deps.job) : { settings: run.settings, knobProblem: undefined };
    const probeOptions = { job: deps.job, memory: event.control.memory, metrics: deps.metrics, bookkeepingSchema: deps.bookkeepingSchema };
    const { report, memory } = 'error' in read
      ? unprobedResult(settings.health, new Error(`reading the run's flags and knobs failed: ${read.error.message}`), probeOptions)
      : await probeHealth(read.pool, settings.health, probeOptions);
    const decided = withLatency(settings, event.control, decide(settings, event.control, event.lastBatch, report, controls ?? NO_REQUESTS, deps.random), event.lastBatch, deps.random);
    // Only on a database that answered the probe's first step: a sick one is calibrated once it is back.
    const next = await calibrate(deps, controls ? pool : undefined, settings, decided, telemetry.log.bind(telemetry));
    const reason = knobProblem ? `${next.reason} (live knobs ignored: ${knobProblem})` : next.reason;
    const status = STATUS[next.action];
    const ended = next.action === 'halt' || next.action === 'abort';
    const outcome = ended
      ? await makeOutcomeAnyway(() => bookkeeping('reading the run\'s totals', pool, (p) => readRunTotals(p, deps.bookkeepingSchema, run.runId)), run, next.action === 'halt' ? 'failed' : 'aborted', reason, event.executionId)
      : undefined;
    const control = { ...next, reason };
    try {
      await bookkeeping('recording the decision', pool, async (p) => {
        await recordDecision(p, deps.bookkeepingSchema, run.runId, {
          status,
          reason,
          health: report,
          control,
          entry: { iteration: next.iteration, action: next.action, batchSize: next.batchSize, waitSeconds: next.waitSeconds, paceSeconds: next.paceSeconds, reason, health: report, lastBatch: event.lastBatch, execution: event.executionId, ...(next.latency ? { latency: next.latency } : {}) },
        });
        // The run's work ends here (halt, abort): its lease is free for the next start at once.
        if (ended) await releaseLease(p, deps.bookkeepingSchema, run.runId, leaseOf(deps, event.executionId, settings).holder.holder);
      });
    } catch (error) {
      // The decision still drives the state machine; only its history entry is missing.
      telemetry.log('warn', 'decision not recorded', { runId: run.runId, iteration: next.iteration, action: next.action, error: (error as Error).message });
    }
    telemetry.log('info', 'decision', { runId: run.runId, iteration: next.iteration, action: next.action, batchSize: next.batchSize, waitSeconds: next.waitSeconds, paceSeconds: next.paceSeconds, reason, verdict: report.verdict });
    recordDecisionMetrics(telemetry, next, report);
    telemetry.flush();
    return { ...control, health: report, memory, ...(outcome ? { outcome } : {}) };
  };
}

/**
 * The latency baseline: calibrated before the first batch and refreshed while the run is paused or backing off
 * (nothing of the backfill's is writing then), within one bookkeeping step's time limit. A calibration that fails
 * keeps the baseline there was, and is logged.
 */
async function calibrate(deps: HandlerDeps, pool: pg.Pool | undefined, settings: RunSettings, next: ControlState, log: (level: 'warn', message: string, data: Record<string, unknown>) => void): Promise<ControlState> {
  // Only SQL jobs are steered inside the batch; a code job's run has no use for a baseline.
  if (!isSqlJob(deps.job) || !needsCalibration(settings, next) || !pool) return next;
  try {
    const measured = await withinTimeLimit('calibrating the latency baseline', CALIBRATION_STEP_MS, () => calibrateCanary(pool, deps.bookkeepingSchema, settings.latency.calibrationSamples));
    return calibrated(next, measured.p90Ms, new Date().toISOString());
  } catch (error) {
    log('warn', 'latency baseline not calibrated', { error: (error as Error).message });
    return next;
  }
}

type ControlsRead = { readonly pool: pg.Pool; readonly controls: RunControls } | { readonly pool?: pg.Pool; readonly error: Error };

/**
 * The pool and the operator's flags and knobs, and the run's lease renewed for the longest wait they allow, within
 * one step's time limit; or why they could not be had. A lease another processor holds now throws (LeaseLostError):
 * this execution stops, touching nothing.
 */
async function readControls(deps: HandlerDeps, run: RunContext, executionId: string): Promise<ControlsRead> {
  let pool: pg.Pool | undefined;
  try {
    return await withinTimeLimit('reading the run\'s flags and knobs', BOOKKEEPING_STEP_MS, async () => {
      pool = await deps.getPool();
      const controls = await readRunControls(pool, deps.bookkeepingSchema, run.runId);
      const lease = leaseOf(deps, executionId, effectiveSettings(run.settings, controls.knobs, deps.job).settings);
      await renewLease(pool, deps.bookkeepingSchema, run.runId, lease.holder, lease.ttlSeconds);
      return { pool, controls };
    });
  } catch (error) {
    if (error instanceof LeaseLostError) throw error;
    return { pool, error: error as Error };
  }
}

/** One bookkeeping statement within its step's time limit; without a pool it fails at once. */
function bookkeeping<T>(what: string, pool: pg.Pool | undefined, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  if (!pool) return Promise.reject(new Error(`${what}: no database pool`));
  return withinTimeLimit(what, BOOKKEEPING_STEP_MS, () => fn(pool));
}

/**
 * The run's settings with the operator's live knobs on top; knobs that no longer fit are ignored, and said so.
 * Only here is the job known: `backfill set` cannot tell whether health.custom.NAME is one of its checks.
 */
function effectiveSettings(settings: RunSettings, knobs: object, job: JobDefinition): { settings: RunSettings; knobProblem?: string } {
  if (Object.keys(knobs).length === 0) return { settings };
  try {
    const layered = resolveSettings(settings, knobs);
    assertHealthFitsJob(layered.health, job.name, job.health);
    return { settings: layered };
  } catch (error) {
    return { settings, knobProblem: (error as Error).message };
  }
}
