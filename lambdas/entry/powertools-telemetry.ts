import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as PowertoolsUnit } from '@aws-lambda-powertools/metrics/types';
import type { Context } from 'aws-lambda';
import type { MetricUnit, Telemetry } from '../telemetry';

/** The Lambda functions' telemetry: Powertools Logger (JSON lines) and Metrics (EMF, so no PutMetricData). */
export interface PowertoolsTelemetry extends Telemetry {
  /** Adds the invocation's request id, function name and cold start to every later log line. */
  addContext(context: Context): void;
}

export interface PowertoolsTelemetryOptions {
  readonly serviceName: string;
  readonly namespace: string;
}

/** Field names whose values never reach a log line, whatever a caller passes. */
const SECRET_FIELD = /password|passwd|secret|token|credential|authorization/i;

/** Replaces the values of credential-like fields, one level deep (fields are flat records of run facts). */
export function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (SECRET_FIELD.test(key)) out[key] = '[redacted]';
    else if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Error)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELD.test(k) ? '[redacted]' : v]));
    } else out[key] = value;
  }
  return out;
}

interface Point {
  readonly name: string;
  readonly unit: MetricUnit;
  readonly value: number;
  readonly dimensions: Readonly<Record<string, string>>;
}

/**
 * Buffers metric points and publishes one EMF document per dimension set at flush (EMF dimensions apply to the
 * whole document). Publishing problems are logged, never thrown: a metric must not fail a batch.
 */
export function makePowertoolsTelemetry(options: PowertoolsTelemetryOptions): PowertoolsTelemetry {
  const logger = new Logger({ serviceName: options.serviceName });
  const metrics = new Metrics({ namespace: options.namespace, serviceName: options.serviceName, logger });
  let pending: Point[] = [];
  return {
    addContext: (context) => logger.addContext(context),
    log: (level, message, fields = {}) => logger[level](message, redact(fields)),
    metric: (name, unit, value, dimensions = {}) => {
      if (!Number.isFinite(value)) {
        logger.warn('metric skipped: value is not a finite number', { metric: name, value: String(value) });
        return;
      }
      pending.push({ name, unit, value, dimensions });
    },
    flush: () => {
      const groups = new Map<string, Point[]>();
      for (const point of pending) {
        const key = JSON.stringify(Object.entries(point.dimensions).sort(([a], [b]) => a.localeCompare(b)));
        groups.set(key, [...(groups.get(key) ?? []), point]);
      }
      pending = [];
      for (const points of groups.values()) {
        try {
          if (Object.keys(points[0].dimensions).length > 0) metrics.addDimensions({ ...points[0].dimensions });
          for (const p of points) metrics.addMetric(p.name, p.unit as PowertoolsUnit, p.value);
          metrics.publishStoredMetrics();
        } catch (error) {
          metrics.clearMetrics();
          metrics.clearDimensions();
          logger.error('publishing metrics failed', { error: (error as Error).message, metrics: points.map((p) => p.name) });
        }
      }
    },
  };
}
