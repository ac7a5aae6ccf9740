import { thresholdVerdict, type Verdict } from '../../../core/health';
import type { BuiltInCheck } from '../check';

/**
 * A VACUUM (autovacuum or manual) running on the job's table (pg_stat_progress_vacuum), and for how long. While it
 * runs, the backfill's writes compete with it for the same pages and I/O (GitLab's batched migrations pause
 * here too); an anti-wraparound vacuum is critical at once: it must not be slowed.
 */
const SQL = `
SELECT p.pid, EXTRACT(epoch FROM now() - COALESCE(a.xact_start, a.query_start, now()))::float8 AS seconds,
       a.backend_type = 'autovacuum worker' AS auto, COALESCE(a.query LIKE '%to prevent wraparound%', false) AS wraparound, p.phase
FROM pg_stat_progress_vacuum p LEFT JOIN pg_stat_activity a ON a.pid = p.pid
WHERE p.relid = $1 AND p.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY seconds DESC`;

export const vacuum: BuiltInCheck = {
  name: 'vacuum',
  unit: 'seconds',
  needsSourceTable: true,
  async measure({ db, settings, sourceTable }) {
    const { rows } = await db.query<{ pid: number; seconds: number; auto: boolean; wraparound: boolean; phase: string }>(SQL, [sourceTable!.oid]);
    if (rows.length === 0) return { value: 0, verdict: 'ok' };
    const [oldest] = rows;
    const wraparound = rows.some((r) => r.wraparound);
    const verdict: Verdict = wraparound ? 'critical' : thresholdVerdict(oldest.seconds, settings.vacuum);
    const kind = oldest.auto ? 'autovacuum' : 'VACUUM';
    return { value: oldest.seconds, verdict, detail: `${kind}${wraparound ? ' (to prevent wraparound)' : ''} on ${sourceTable!.name}, ${oldest.phase}` };
  },
};
