import { defineJob } from '../core/job';

/**
 * The demo: fill demo_items.email_lower from email. A real job has the same shape; in your own project
 * import defineJob from 'adaptive-backfill'.
 */
export default defineJob({
  name: 'demo-lowercase-email',
  description: 'Fill demo_items.email_lower with lower(email)',
  source: { table: 'demo_items', key: 'id' },
  // $1 = lo (inclusive), $2 = hi (exclusive). The IS DISTINCT FROM guard skips rows already right.
  sql: `UPDATE demo_items SET email_lower = lower(email)
        WHERE id >= $1 AND id < $2 AND email_lower IS DISTINCT FROM lower(email)`,
  async remaining(db) {
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM demo_items WHERE email_lower IS DISTINCT FROM lower(email)');
    return Number(rows[0].n);
  },
});
