import { writeFile } from 'node:fs/promises';
import type pg from 'pg';
import { readReportSource } from '../../db/report-source';
import { renderReport } from './render';

/** Reads a run from Postgres and writes its HTML report; false when the run is not there. */
export async function writeRunReport(pool: pg.Pool, schema: string, runId: string, file: string): Promise<boolean> {
  const source = await readReportSource(pool, schema, runId);
  if (!source) return false;
  await writeFile(file, renderReport(source, { generatedAt: new Date().toISOString() }));
  return true;
}
