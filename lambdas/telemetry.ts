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
