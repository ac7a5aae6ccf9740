import { defineJob } from '../../../core/job';
import { CHAOS_SETTINGS, untouched } from './settings';

/** An SQL job written for a column the table does not have yet (`column "checked" ... does not exist`): every range fails until it is added. */
export default defineJob({
  name: 'chaos-missing-column',
  source: { table: 'chaos_rows', key: 'id' },
  sql: 'UPDATE chaos_rows SET touched = touched + 1, checked = true WHERE id >= $1 AND id < $2',
  settings: CHAOS_SETTINGS,
  remaining: untouched,
});
