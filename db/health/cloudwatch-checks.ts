import type { HealthCheckResult } from '../../core/health';
import type { HealthSettings } from '../../core/health-settings';
import { isMetricCheck, type MetricHealthCheck } from '../../core/job-health';
import { customMetricQuery, judgeMetric, metricFailed, type NamedCheck } from './custom-checks';
import type { MetricDatapoint, MetricSource } from './metric-source';
import { rdsMetricChecks } from './rds-metrics';
import { checkResult, failedResult } from './results';

/**
 * The CloudWatch part of a probe, in one GetMetricData call: the built-in rds* checks (when the construct was given
 * the database) and the job's metric checks. Never throws: a failed or timed-out read makes each of these checks
 * critical with the error. Without a metric source (the local runtime), the rds* checks do not exist and the job's
 * metric checks report, with weight 0, that they were not measured.
 */
export async function readCloudWatchChecks(
  source: MetricSource | undefined,
  settings: HealthSettings,
  custom: readonly NamedCheck[],
  timeoutMs: number,
): Promise<HealthCheckResult[]> {
  const metricChecks = custom.filter((c): c is { name: string; check: MetricHealthCheck } => isMetricCheck(c.check));
  if (!source) {
    return metricChecks.map(({ name, check }) => ({ name, value: 0, unit: check.unit ?? 'value', verdict: 'ok', weight: 0, detail: 'not measured: no CloudWatch in this runtime' }));
  }
  const rds = source.database ? rdsMetricChecks(source.database).filter((c) => settings[c.name].enabled) : [];
  const customQueries = metricChecks.map(({ check }, i) => customMetricQuery(i, check));
  if (rds.length + customQueries.length === 0) return [];
  let datapoints: ReadonlyMap<string, MetricDatapoint>;
  try {
    datapoints = await source.latest([...rds.map((c) => c.query), ...customQueries], AbortSignal.timeout(timeoutMs));
  } catch (error) {
    const reason = new Error(`GetMetricData failed: ${(error as Error).message}`);
    return [
      ...rds.map((c) => failedResult(c.name, c.unit, settings[c.name], reason)),
      ...metricChecks.map(({ name, check }) => metricFailed(name, check, reason)),
    ];
  }
  return [
    ...rds.map((c) => {
      const point = datapoints.get(c.query.id);
      const knobs = settings[c.name];
      if (!point) return checkResult(c.name, c.unit, knobs, { value: 0, verdict: 'ok', detail: `no datapoint of AWS/RDS ${c.query.name} in the last 10 minutes` });
      const value = point.value * c.scale;
      return checkResult(c.name, c.unit, knobs, { value, verdict: c.judge(value, settings), detail: `${c.query.name} at ${point.at.toISOString()}` });
    }),
    ...metricChecks.map(({ name, check }, i) => judgeMetric(name, check, datapoints.get(customQueries[i].id))),
  ];
}
