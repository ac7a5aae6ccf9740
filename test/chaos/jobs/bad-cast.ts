import { defineJob } from '../../../core/job';
import { CHAOS_SETTINGS, untouched } from './settings';

/**
 * An SQL job that errors on some ranges: it reads `payload` as an integer, and a row whose payload is not one
 * (`invalid input syntax for type integer`) fails its whole range, every time, until the data is fixed.
 */
export default defineJob({
  name: 'chaos-bad-cast',
  source: { table: 'chaos_rows', key: 'id' },
  sql: 'UPDATE chaos_rows SET touched = touched + 1 WHERE id >= $1 AND id < $2 AND payload::int > 0',
  settings: CHAOS_SETTINGS,
  remaining: untouched,
});
