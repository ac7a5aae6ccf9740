/**
 * Where CloudWatch metrics come from. The probe only knows this interface; the SDK-backed source
 * (cloudwatch-source.ts) is loaded by the AWS entry points when configured, so the local runtime never loads
 * the CloudWatch client.
 */
export interface MetricQuery {
  /** Unique within one read; CloudWatch wants a lowercase letter first. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly stat: string;
  readonly periodSeconds: number;
}

export interface MetricDatapoint {
  readonly value: number;
  readonly at: Date;
}

/** The RDS instance or Aurora cluster the construct was given: enables the built-in rds* checks. */
export interface RdsDatabase {
  readonly kind: 'instance' | 'cluster';
  readonly identifier: string;
}

export interface MetricSource {
  readonly database?: RdsDatabase;
  /** The latest datapoint of each query within the last few minutes; a query without one is absent from the map. */
  latest(queries: readonly MetricQuery[], signal: AbortSignal): Promise<ReadonlyMap<string, MetricDatapoint>>;
}

/** How far back a read looks: RDS publishes every minute, and datapoints arrive a few minutes late. */
export const METRIC_LOOKBACK_SECONDS = 600;

/**
 * A source that loads the CloudWatch client on its first read: the module (and the SDK) stay out of any process
 * that never reads a metric.
 */
export function makeLazyCloudWatchSource(database: RdsDatabase | undefined): MetricSource {
  let loaded: Promise<MetricSource> | undefined;
  return {
    database,
    async latest(queries, signal) {
      loaded ??= import('./cloudwatch-source').then((m) => m.makeCloudWatchSource({ database }));
      return (await loaded).latest(queries, signal);
    },
  };
}
