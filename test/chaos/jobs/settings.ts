import type { RunSettingsOverrides } from '../../../core/settings';

/** Every chaos job's knobs: small batches, so a run lasts long enough for a fault to land in its middle. */
export const CHAOS_SETTINGS = { batch: { initialSize: 4, maxSize: 8, targetSeconds: 0.5 }, backoff: { maxSeconds: 30 } } satisfies RunSettingsOverrides;

/** Rows a run has not changed yet (what the local runner checks after the run). */
export async function untouched(db: { query<R>(sql: string): Promise<{ rows: R[] }> }): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM chaos_rows WHERE touched = 0');
  return Number(rows[0].n);
}
