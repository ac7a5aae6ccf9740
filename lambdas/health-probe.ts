import { decide, type BatchStats, type ControlState } from '../core/controller';
import type { HealthReport } from '../core/health';
import { recordRunStatus } from '../db/bookkeeping';
import { probeHealth } from '../db/health-probe';
import type { HandlerDeps, RunContext } from './deps';

export interface HealthProbeEvent {
  readonly run: RunContext;
  readonly control: ControlState;
  readonly lastBatch: BatchStats | null;
}

export interface HealthProbeResult extends ControlState {
  readonly health: HealthReport;
}

/** Probes Postgres, asks the controller what to do next, and records the decision on the run. */
export function makeHealthProbeHandler(deps: HandlerDeps) {
  return async (event: HealthProbeEvent): Promise<HealthProbeResult> => {
    const { run } = event;
    const pool = await deps.getPool();
    const health = await probeHealth(pool, run.settings.health);
    const next = decide(run.settings, event.control, event.lastBatch, health, deps.random);
    const status = next.action === 'halt' ? 'failed' : next.action === 'backoff' ? 'backing-off' : 'running';
    await recordRunStatus(pool, deps.bookkeepingSchema, run.runId, status, next.reason, health);
    return { ...next, health };
  };
}
