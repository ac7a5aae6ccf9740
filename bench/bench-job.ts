import { defineJob } from '../core/job';

/** The load benchmark's backfill, as the external acceptance test runs it: two columns set on sparse keys. */
export default defineJob({
  name: 'bench-touch',
  source: { table: 'bench_items', key: 'id' },
  sql: 'UPDATE bench_items SET touched = touched + 1, norm = lower(label) WHERE id >= $1 AND id < $2',
});
