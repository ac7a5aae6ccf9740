import type { BatchStats, ControlState } from '../core/controller';
import type { HealthReport, Verdict } from '../core/health';

/** Units the metrics use (a subset of CloudWatch's). */
export type MetricUnit = 'Count' | 'Seconds' | 'Milliseconds' | 'Percent' | 'Bytes' | 'Bytes/Second' | 'Count/Second' | 'None';

/**
 * Logs and metrics, as the handlers emit them. On Lambda: Powertools Logger (JSON lines) and Metrics (EMF);
 * in the embedded runtime and the tests: silent, or whatever the caller collects.
 */
export interface Telemetry {
  /** A structured log line; `fields` carry runId, batchId and the like. */
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
  /** One metric data point, buffered until flush(). */
  metric(name: string, unit: MetricUnit, value: number, dimensions?: Readonly<Record<string, string>>): void;
  /** Publishes the buffered metrics; called once at the end of every invocation. */
  flush(): void;
}

export const silentTelemetry: Telemetry = {
  log: () => undefined,
  metric: () => undefined,
  flush: () => undefined,
};

/**
 * The one CloudWatch namespace of every metric. Each metric also carries the `service` dimension (the deployment,
 * set by the construct), so several deployments in one account keep their own series.
 */
export const METRICS_NAMESPACE = 'AdaptiveBackfill';

/** Metric names: the handlers emit them, the construct's dashboard and alarms read them. */
export const METRIC = {
  /** Count, per non-empty batch: work items done. */
  itemsProcessed: 'ItemsProcessed',
  /** Count, per non-empty batch: items handed back for another try. */
  itemsRetried: 'ItemsRetried',
  /** Count, per non-empty batch: DLQ arrivals (sent now, or moved by SQS after their last receive). */
  itemsDeadLettered: 'ItemsDeadLettered',
  /** Count, per non-empty batch: rows the job reported as changed. */
  rowsAffected: 'RowsAffected',
  /** Count, per non-empty batch: the batch size the controller asked for. */
  batchSize: 'BatchSize',
  /** Count, per non-empty batch: messages received (at most BatchSize). */
  itemsReceived: 'ItemsReceived',
  /** Milliseconds, per non-empty batch. */
  batchDuration: 'BatchDuration',
  /** Count: a batch that failed as a whole (its items come back). */
  batchesFailed: 'BatchesFailed',
  /** Seconds, per decision that waits; dimension Wait = backoff | pause | pace. */
  waitSeconds: 'WaitSeconds',
  /** 1 when a decision backs off, 0 for any other decision: the "backing off too long" alarm reads its minimum. */
  backingOff: 'BackingOff',
  /** 0 ok, 1 warning, 2 critical: the evaluated report, per decision. */
  healthVerdict: 'HealthVerdict',
  /** The check's measured value, per decision; dimension Check. */
  healthCheckValue: 'HealthCheckValue',
  /** 0 ok, 1 warning, 2 critical, per check and decision; dimension Check. */
  healthCheckVerdict: 'HealthCheckVerdict',
} as const;

export const DIMENSION = { wait: 'Wait', check: 'Check' } as const;

/** At most this many checks per probe become metrics, so a job with many custom checks cannot explode cardinality. */
export const MAX_CHECK_METRICS = 20;

const VERDICT_VALUE: Record<Verdict, number> = { ok: 0, warning: 1, critical: 2 };
const CHECK_UNITS: Record<string, MetricUnit> = { seconds: 'Seconds', milliseconds: 'Milliseconds', percent: 'Percent', bytes: 'Bytes', count: 'Count' };

/** A check's name as a dimension value: bounded length and a plain alphabet. */
export function checkDimension(name: string): string {
  return name.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64) || 'unnamed';
}

/** What one probe decided, as metrics: the verdicts, each check, whether it backs off, and the wait it chose. */
export function recordDecisionMetrics(telemetry: Telemetry, decision: Pick<ControlState, 'action' | 'waitSeconds' | 'paceSeconds'>, report: HealthReport): void {
  telemetry.metric(METRIC.healthVerdict, 'None', VERDICT_VALUE[report.verdict]);
  for (const check of report.checks.slice(0, MAX_CHECK_METRICS)) {
    const dimensions = { [DIMENSION.check]: checkDimension(check.name) };
    telemetry.metric(METRIC.healthCheckValue, CHECK_UNITS[check.unit] ?? 'None', check.value, dimensions);
    telemetry.metric(METRIC.healthCheckVerdict, 'None', VERDICT_VALUE[check.verdict], dimensions);
  }
  telemetry.metric(METRIC.backingOff, 'None', decision.action === 'backoff' ? 1 : 0);
  const wait = decision.action === 'backoff' || decision.action === 'pause'
    ? { kind: decision.action, seconds: decision.waitSeconds }
    : decision.action === 'proceed' ? { kind: 'pace', seconds: decision.paceSeconds } : undefined;
  if (wait && wait.seconds > 0) telemetry.metric(METRIC.waitSeconds, 'Seconds', wait.seconds, { [DIMENSION.wait]: wait.kind });
}

/** What one batch did, as metrics; an empty batch (nothing received) records none. */
export function recordBatchMetrics(telemetry: Telemetry, requestedSize: number, stats: BatchStats): void {
  if (stats.received === 0) return;
  telemetry.metric(METRIC.batchSize, 'Count', requestedSize);
  telemetry.metric(METRIC.itemsReceived, 'Count', stats.received);
  telemetry.metric(METRIC.itemsProcessed, 'Count', stats.succeeded);
  telemetry.metric(METRIC.itemsRetried, 'Count', stats.retried);
  telemetry.metric(METRIC.itemsDeadLettered, 'Count', stats.deadLettered);
  telemetry.metric(METRIC.rowsAffected, 'Count', stats.rowsAffected);
  telemetry.metric(METRIC.batchDuration, 'Milliseconds', stats.durationMs);
}

/** A batch that failed as a whole, and the malformed messages it sent to the DLQ before its job ran. */
export function recordBatchFailed(telemetry: Telemetry, deadLettered = 0): void {
  telemetry.metric(METRIC.batchesFailed, 'Count', 1);
  if (deadLettered > 0) telemetry.metric(METRIC.itemsDeadLettered, 'Count', deadLettered);
}
