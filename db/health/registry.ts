import type { BuiltInCheck } from './check';
import { activeSessions } from './checks/active-sessions';
import { cacheHitRatio } from './checks/cache-hit-ratio';
import { checkpoints } from './checks/checkpoints';
import { commitLatency } from './checks/commit-latency';
import { connections } from './checks/connections';
import { lockWaits } from './checks/lock-waits';
import { longRunningQueries } from './checks/long-running-queries';
import { longTransactions } from './checks/long-transactions';
import { probeLatency } from './checks/probe-latency';
import { replicationLag } from './checks/replication-lag';
import { tempFiles } from './checks/temp-files';
import { vacuum } from './checks/vacuum';

/** The built-in checks that read Postgres, in report order. (The rds* checks read CloudWatch: rds-metrics.ts.) */
export const POSTGRES_CHECKS: readonly BuiltInCheck[] = [
  longRunningQueries,
  longTransactions,
  lockWaits,
  cacheHitRatio,
  tempFiles,
  replicationLag,
  vacuum,
  connections,
  checkpoints,
  activeSessions,
  probeLatency,
  commitLatency,
];
