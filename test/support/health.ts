import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { HealthCheckResult, HealthReport } from '../../core/health';
import { resolveSettings, type RunSettingsOverrides } from '../../core/settings';
import type { HealthSettings } from '../../core/health-settings';
import { probeHealth, type ProbeMemory, type ProbeOptions } from '../../db/health-probe';

/** Health settings from layers of overrides over the defaults (later wins), as a run would resolve them. */
export function healthSettings(...layers: Array<RunSettingsOverrides['health']>): HealthSettings {
  return resolveSettings(...layers.map((health) => ({ health }))).health;
}

/** Probes again and again like a run does, carrying the memory from one probe to the next. */
export function makeProber(pool: pg.Pool, settings: HealthSettings, options: Omit<ProbeOptions, 'memory'> = {}) {
  let memory: ProbeMemory = {};
  return async (): Promise<HealthReport> => {
    const result = await probeHealth(pool, settings, { ...options, memory });
    memory = result.memory;
    return result.report;
  };
}

export function checkOf(report: HealthReport, name: string): HealthCheckResult {
  const check = report.checks.find((c) => c.name === name);
  if (!check) throw new Error(`no check ${name} in ${JSON.stringify(report.checks.map((c) => c.name))}`);
  return check;
}

export function verdicts(report: HealthReport): Record<string, string> {
  return Object.fromEntries(report.checks.map((c) => [c.name, c.verdict]));
}

/** Polls until `ok` holds or the deadline passes (then fails with the last value): no timed assertions. */
export async function until<T>(what: string, fn: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

/** Only these checks (every other built-in off), so a test sees what it causes and nothing else. */
export function only(...names: string[]): RunSettingsOverrides['health'] {
  const all = ['longRunningQueries', 'longTransactions', 'lockWaits', 'cacheHitRatio', 'tempFiles', 'replicationLag', 'vacuum', 'connections', 'checkpoints', 'activeSessions', 'probeLatency'];
  return Object.fromEntries(all.map((name) => [name, { enabled: names.includes(name) }]));
}
