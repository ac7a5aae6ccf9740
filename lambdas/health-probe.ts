import { decide, type BatchStats, type ControlState } from '../core/controller';
import type { HealthReport } from '../core/health';
import type { JobDefinition } from '../core/job';
import { assertHealthFitsJob } from '../core/job-health';
import { resolveSettings, type RunSettings } from '../core/settings';
import { recordDecision } from '../db/history';
import { probeHealth, type ProbeMemory } from '../db/health-probe';
import { readRunControls, type RunStatus } from '../db/runs';
import type { HandlerDeps, RunContext } from './deps';
import { makeOutcome, type RunOutcome } from './outcome';
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
 * the decision (with its report) in the run's history.
 */
export function makeHealthProbeHandler(deps: HandlerDeps) {
  const telemetry = deps.telemetry ?? silentTelemetry;
  return async (event: HealthProbeEvent): Promise<HealthProbeResult> => {
    const { run } = event;
    const pool = await deps.getPool();
    const controls = await readRunControls(pool, deps.bookkeepingSchema, run.runId);
    const { settings, knobProblem } = effectiveSettings(run.settings, controls.knobs, deps.job);
    const { report, memory } = await probeHealth(pool, settings.health, { job: deps.job, memory: event.control.memory, metrics: deps.metrics });
    const next = decide(settings, event.control, event.lastBatch, report, controls, deps.random);
    const reason = knobProblem ? `${next.reason} (live knobs ignored: ${knobProblem})` : next.reason;
    const status = STATUS[next.action];
    const ended = next.action === 'halt' || next.action === 'abort';
    const outcome = ended ? await makeOutcome(pool, deps.bookkeepingSchema, run, next.action === 'halt' ? 'failed' : 'aborted', reason, event.executionId) : undefined;
    const control = { ...next, reason };
    await recordDecision(pool, deps.bookkeepingSchema, run.runId, {
      status,
      reason,
      health: report,
      control,
      entry: { iteration: next.iteration, action: next.action, batchSize: next.batchSize, waitSeconds: next.waitSeconds, paceSeconds: next.paceSeconds, reason, health: report, lastBatch: event.lastBatch, execution: event.executionId },
    });
    telemetry.log('info', 'decision', { runId: run.runId, iteration: next.iteration, action: next.action, batchSize: next.batchSize, waitSeconds: next.waitSeconds, paceSeconds: next.paceSeconds, reason, verdict: report.verdict });
    recordDecisionMetrics(telemetry, next, report);
    telemetry.flush();
    return { ...control, health: report, memory, ...(outcome ? { outcome } : {}) };
  };
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
