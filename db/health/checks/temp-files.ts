import { verdictAbove } from '../../../core/health';
import { deltaSince, type BuiltInCheck } from '../check';

/**
 * Bytes written to temporary files (sorts and hashes spilling past work_mem) per second since the previous probe,
 * in this database. A lifetime total never comes down once it trips; the rate does. The counter is the
 * database's, so it includes the backfill's own statements: spilling is load whoever causes it.
 */
const SQL = `
SELECT COALESCE(temp_bytes, 0)::float8 AS bytes, COALESCE(temp_files, 0)::float8 AS files, EXTRACT(epoch FROM clock_timestamp())::float8 AS at
FROM pg_stat_database WHERE datname = current_database()`;

export const tempFiles: BuiltInCheck = {
  name: 'tempFiles',
  unit: 'bytes/s',
  async measure({ db, settings, previous }) {
    const t = settings.tempFiles;
    const { rows } = await db.query<{ bytes: number; files: number; at: number }>(SQL);
    const snapshot = { at: rows[0].at, counters: { bytes: rows[0].bytes, files: rows[0].files } };
    const change = deltaSince(previous, snapshot);
    if (!change) return { value: 0, verdict: 'ok', detail: 'first probe: counting temporary files from now', memory: snapshot };
    const rate = change.deltas.bytes / change.seconds;
    const detail = change.deltas.files > 0 ? `${change.deltas.files} temporary files, ${change.deltas.bytes} bytes in ${change.seconds.toFixed(1)}s` : undefined;
    return { value: rate, verdict: verdictAbove(rate, t.warningBytesPerSecond, t.criticalBytesPerSecond), ...(detail ? { detail } : {}), memory: snapshot };
  },
};
