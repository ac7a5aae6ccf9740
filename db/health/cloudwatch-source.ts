import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { METRIC_LOOKBACK_SECONDS, type MetricDatapoint, type MetricQuery, type MetricSource, type RdsDatabase } from './metric-source';

export interface CloudWatchSourceOptions {
  /** @default a CloudWatchClient for the function's own region */
  readonly client?: CloudWatchClient;
  readonly database?: RdsDatabase;
  readonly now?: () => number;
}

/** Reads metrics with one GetMetricData call per probe, newest datapoint first. */
export function makeCloudWatchSource(options: CloudWatchSourceOptions = {}): MetricSource {
  const client = options.client ?? new CloudWatchClient({});
  const now = options.now ?? Date.now;
  return {
    database: options.database,
    async latest(queries, signal) {
      const found = new Map<string, MetricDatapoint>();
      if (queries.length === 0) return found;
      const end = now();
      let nextToken: string | undefined;
      do {
        const response = await client.send(new GetMetricDataCommand({
          MetricDataQueries: queries.map(toQuery),
          StartTime: new Date(end - METRIC_LOOKBACK_SECONDS * 1000),
          EndTime: new Date(end),
          ScanBy: 'TimestampDescending',
          NextToken: nextToken,
        }), { abortSignal: signal });
        for (const result of response.MetricDataResults ?? []) {
          const value = result.Values?.[0];
          const at = result.Timestamps?.[0];
          if (result.Id && value !== undefined && at !== undefined && !found.has(result.Id)) found.set(result.Id, { value, at });
        }
        nextToken = response.NextToken;
      } while (nextToken && found.size < queries.length);
      return found;
    },
  };
}

function toQuery(query: MetricQuery): MetricDataQuery {
  return {
    Id: query.id,
    MetricStat: {
      Metric: { Namespace: query.namespace, MetricName: query.name, Dimensions: Object.entries(query.dimensions).map(([Name, Value]) => ({ Name, Value })) },
      Period: query.periodSeconds,
      Stat: query.stat,
    },
    ReturnData: true,
  };
}
