import { verdictAbove } from '../../../core/health';
import type { BuiltInCheck } from '../check';

/** Client backends (every application's, the backfill's too: they take slots alike) over max_connections. */
const SQL = `
SELECT count(*) FILTER (WHERE backend_type = 'client backend')::int AS clients, current_setting('max_connections')::int AS max
FROM pg_stat_activity`;

export const connections: BuiltInCheck = {
  name: 'connections',
  unit: 'ratio',
  async measure({ db, settings }) {
    const t = settings.connections;
    const { rows } = await db.query<{ clients: number; max: number }>(SQL);
    const { clients, max } = rows[0];
    const ratio = clients / max;
    return { value: ratio, verdict: verdictAbove(ratio, t.warningRatio, t.criticalRatio), detail: `${clients} of ${max} connections` };
  },
};
