import { thresholdVerdict, verdictAbove, verdictBelow, type Verdict } from '../../core/health';
import type { HealthSettings } from '../../core/health-settings';
import type { MetricQuery, RdsDatabase } from './metric-source';

/** One built-in RDS/Aurora metric check: which metric, and how its value is judged. */
export interface RdsMetricCheck {
  readonly name: 'rdsCpuUtilization' | 'rdsDbLoad' | 'rdsReplicaLag' | 'rdsFreeableMemory';
  readonly unit: string;
  readonly query: MetricQuery;
  /** Turns the datapoint into the check's unit (AuroraReplicaLagMaximum comes in milliseconds). */
  readonly scale: number;
  judge(value: number, settings: HealthSettings): Verdict;
}

/**
 * RDS instance: its own metrics (ReplicaLag is what a read replica reports about itself). Aurora cluster: the
 * writer's metrics (DBClusterIdentifier + Role=WRITER), and the largest lag of any Aurora replica in the cluster.
 * DBLoad is published only with Performance Insights; a metric without a datapoint reports ok and says so.
 */
export function rdsMetricChecks(database: RdsDatabase): RdsMetricCheck[] {
  const own: Record<string, string> = database.kind === 'instance' ? { DBInstanceIdentifier: database.identifier } : { DBClusterIdentifier: database.identifier, Role: 'WRITER' };
  const query = (id: string, name: string, stat: string, dimensions: Record<string, string> = own): MetricQuery => ({ id, namespace: 'AWS/RDS', name, dimensions, stat, periodSeconds: 60 });
  const lag = database.kind === 'instance'
    ? { query: query('rdsReplicaLag', 'ReplicaLag', 'Maximum'), scale: 1 }
    : { query: query('rdsReplicaLag', 'AuroraReplicaLagMaximum', 'Maximum', { DBClusterIdentifier: database.identifier }), scale: 0.001 };
  return [
    { name: 'rdsCpuUtilization', unit: 'percent', query: query('rdsCpuUtilization', 'CPUUtilization', 'Average'), scale: 1, judge: (v, s) => verdictAbove(v, s.rdsCpuUtilization.warningPercent, s.rdsCpuUtilization.criticalPercent) },
    { name: 'rdsDbLoad', unit: 'sessions', query: query('rdsDbLoad', 'DBLoad', 'Average'), scale: 1, judge: (v, s) => verdictAbove(v, s.rdsDbLoad.warningSessions, s.rdsDbLoad.criticalSessions) },
    { name: 'rdsReplicaLag', unit: 'seconds', ...lag, judge: (v, s) => thresholdVerdict(v, s.rdsReplicaLag) },
    { name: 'rdsFreeableMemory', unit: 'bytes', query: query('rdsFreeableMemory', 'FreeableMemory', 'Minimum'), scale: 1, judge: (v, s) => verdictBelow(v, s.rdsFreeableMemory.warningBelowBytes, s.rdsFreeableMemory.criticalBelowBytes) },
  ];
}
