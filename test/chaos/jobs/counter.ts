import { defineJob } from '../../../core/job';
import { CHAOS_SETTINGS, untouched } from './settings';

/** The chaos suite's SQL job: adds 1 to `touched` on every row of its range (0 at the end: lost; 2 or more: doubled). */
export default defineJob({
  name: 'chaos-counter',
  source: { table: 'chaos_rows', key: 'id' },
  sql: 'UPDATE chaos_rows SET touched = touched + 1 WHERE id >= $1 AND id < $2',
  settings: CHAOS_SETTINGS,
  remaining: untouched,
});
