/**
 * What each knob does, by its dotted path: the JSON Schema's descriptions (editors show them) and the generated
 * knob reference (docs/knobs.md). Fields every check has, and check thresholds, are described from their names.
 */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  chunkSize: 'rows per work item (fixed when the run is planned)',
  continueAfter: 'iterations per execution before it continues as a new one (bounds the execution history)',
  pausePollSeconds: 'while paused, the run re-reads the pause flag this often',
  batch: 'work items per batch, and how the controller adapts it',
  'batch.initialSize': 'work items in the first batch',
  'batch.minSize': 'the controller never asks for fewer work items per batch',
  'batch.maxSize': 'the controller never asks for more work items per batch',
  'batch.targetSeconds': 'the batch size moves halfway toward the size that would take this long, growing at most x1.2 a step',
  'batch.maxConsecutiveFailures': 'halt the run after this many whole-batch failures in a row',
  'batch.niceRatio': "pause after every batch for this multiple of its duration (gh-ost's nice-ratio; whole seconds, at least 1 when above 0)",
  degraded: 'how a degraded database (warnings only) is treated',
  'degraded.sizeFactor': 'while health is warning, the batch size is multiplied by this',
  'degraded.niceRatio': "while health is warning, each batch is followed by a pause of this multiple of its duration",
  backoff: 'exponential backoff with full jitter while the database is unhealthy',
  'backoff.baseSeconds': 'the first backoff ceiling, in whole seconds',
  'backoff.maxSeconds': 'the longest single backoff wait, in whole seconds',
  'backoff.multiplier': 'the ceiling grows by this factor with each unhealthy probe in a row',
  'backoff.maxTotalSeconds': 'halt the run once this much time was spent backing off',
  failures: 'halt the run when most of its items fail: more than haltRatio of at least minItems settled items dead-lettered',
  'failures.haltRatio': 'halt when more than this share of settled items were dead-lettered (1 never halts)',
  'failures.minItems': 'the ratio is judged only once at least this many items have settled (done or dead-lettered)',
  health: 'health checks (each by name: thresholds, enabled, weight, halt), the evaluation strategy and the probe timeout',
  'health.probeTimeoutMs': "statement_timeout of each check's query; the probe's Postgres budget is 4 x this",
  'health.strategy': 'how the checks make one verdict (custom needs the job\'s health.evaluate)',
  'health.weighted.warningWeight': 'weighted strategy: what a warning check adds to the score (times its weight)',
  'health.weighted.criticalWeight': 'weighted strategy: what a critical check adds to the score (times its weight)',
  'health.weighted.warningScore': 'weighted strategy: warning from this score',
  'health.weighted.criticalScore': 'weighted strategy: critical from this score',
  'health.fractionFailing.warningFraction': 'fraction-failing strategy: warning from this weighted share of checks not ok',
  'health.fractionFailing.criticalFraction': 'fraction-failing strategy: critical from this weighted share of checks not ok',
  'health.longRunningQueries': 'age of the oldest active statement of another session (seconds)',
  'health.longTransactions': 'age of the oldest open transaction of another session, idle-in-transaction included (seconds)',
  'health.lockWaits': 'longest lock wait of another session, or of the backfill blocked by another session (seconds)',
  'health.lockWaits.backfillCriticalSeconds': 'a lock wait involving the backfill is critical from this many seconds',
  'health.cacheHitRatio': "share of the job's table's block accesses served from shared buffers since the previous probe",
  'health.cacheHitRatio.minBlocks': 'fewer block accesses than this since the previous probe stay ok',
  'health.tempFiles': 'bytes written to temporary files per second since the previous probe',
  'health.replicationLag': 'replication lag in seconds (primary: the largest replay_lag; replica: its own replay delay)',
  'health.vacuum': "how long a VACUUM or autovacuum has run on the job's table (seconds); anti-wraparound is critical at once",
  'health.connections': 'client backends / max_connections',
  'health.checkpoints': 'requested (not timed) checkpoints since the previous probe',
  'health.activeSessions': 'statements of other sessions running at once (median of 3 samples)',
  'health.probeLatency': "a canary statement's median round trip against its best median of the last 30 probes (off by default)",
  'health.probeLatency.minExtraMs': 'not judged until the median is this many milliseconds above the best',
  'health.probeLatency.samples': 'round trips per probe; the median counts',
  'health.commitLatency': "the commit-latency canary (a synchronous one-row commit on the bookkeeping schema's heartbeat table), median against its best median of the last 30 probes (off by default; inside a batch latency.* steers on it)",
  'health.commitLatency.minExtraMs': 'not judged until the median is this many milliseconds above the best',
  'health.commitLatency.samples': 'canary commits per probe; the median counts',
  'health.rdsCpuUtilization': 'CloudWatch AWS/RDS CPUUtilization, Average (percent); with a database on the construct',
  'health.rdsDbLoad': 'CloudWatch DBLoad, Average (sessions); needs Performance Insights',
  'health.rdsReplicaLag': 'CloudWatch ReplicaLag (Aurora: AuroraReplicaLagMaximum), Maximum (seconds)',
  'health.rdsFreeableMemory': 'CloudWatch FreeableMemory, Minimum (bytes); lower is worse',
  latency: 'the foreground-latency budget and the in-batch sampler that keeps to it (docs/latency.md)',
  'latency.enabled': 'opt-in (not yet meeting its targets, docs/latency.md): steer SQL batches on foreground latency: a pause between statements chosen from the signal, a stop within one statement on a critical verdict',
  'latency.budget.p99Factor': "the foreground may be this many times slower than its baseline (the canary's p90 before the run, refreshed while paused or backing off)",
  'latency.budget.ms': 'an absolute budget for the canary (ms) instead of p99Factor; 0 uses p99Factor',
  'latency.budget.walBytesPerSecond': 'WAL bytes per second the database may write while the backfill runs (pg_current_wal_lsn deltas); 0: no WAL budget',
  'latency.sampleIntervalMs': "the sampler's period while a batch runs (canary, long queries, lock waits, replica lag, WAL position)",
  'latency.lockWaitMs': 'a lock wait involving the backfill or its table stops the batch once it has lasted this long (the batch\'s own waiting statement is cancelled)',
  'latency.maxPauseMs': 'the longest pause between two statements of a batch; waits of seconds are the Step Functions Wait state',
  'latency.calibrationSamples': 'canary commits measured to calibrate the baseline',
  'health.custom': "tunes the job's own checks by name; a name the job does not define is rejected",
};

/** Fields every check has. */
const CHECK_FIELDS: Readonly<Record<string, string>> = {
  enabled: 'whether the check runs',
  weight: 'how much the check counts in the weighted and fraction-failing strategies; 0 makes it informational',
  halt: 'a critical verdict fails the run with the reason instead of backing off',
  warning: 'warning from this value (below it, with worseWhen below)',
  critical: 'critical from this value (below it, with worseWhen below)',
};

/** The description of the knob at `path`, if any: its own, or one derived from a check field's name. */
export function knobDescription(path: string): string | undefined {
  if (DESCRIPTIONS[path]) return DESCRIPTIONS[path];
  const [root, , field] = path.split('.');
  if (root !== 'health' || field === undefined) return undefined;
  const leaf = path.split('.').at(-1)!;
  if (CHECK_FIELDS[leaf]) return CHECK_FIELDS[leaf];
  const threshold = /^(warning|critical)(Below)?/.exec(leaf);
  if (threshold) return `${threshold[1]} ${threshold[2] ? 'below' : 'from'} this value`;
  return undefined;
}
