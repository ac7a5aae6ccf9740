import { InvalidInputError } from '../../core/errors';
import { applyKnobAssignments, checkKnobs, describeKnobs, FIXED_AT_START, parseKnobAssignments, settingAt } from '../../core/live-knobs';
import { resolveSettings, type RunSettings } from '../../core/settings';
import { updateKnobs } from '../../db/controls';
import { FINISHED_STATUSES } from '../../db/runs';
import { parseFlags } from '../args';
import type { Command } from '../command';
import { DATABASE_OPTIONS, DATABASE_USAGE, withRunDatabase } from '../run-database';
import { stalledState, startAgainCommand } from '../stalled';
import { runArgument } from './pause-resume';
import { unknownRun } from './status';

const OPTIONS = { ...DATABASE_OPTIONS, clear: { type: 'boolean' }, json: { type: 'boolean' } } as const;

export const setCommand: Command = {
  name: 'set',
  summary: 'change a run\'s live knobs (batch.maxSize=50 backoff.maxSeconds=60 ...), read by its next probe',
  usage: `usage: backfill set RUN key=value ... [--clear] [options]

Live knobs are layered over the run's settings at every probe, like gh-ost's interactive commands:
  backfill set fill-users batch.maxSize=50 backoff.maxSeconds=60
  backfill set fill-users health.lockWaits.criticalSeconds=10 batch.niceRatio=1
  backfill set fill-users health.lockWaits.enabled=false health.strategy=weighted
  backfill set fill-users health.custom.outboxBacklog.warning=5000   (a check of the job module, by name)
  backfill set fill-users batch.maxSize=      (an empty value removes that knob)
  backfill set fill-users --clear             (remove every knob: back to the run's settings)
Every knob of the execution input can be set (batch.*, degraded.*, backoff.*, health.*, health.custom.NAME.*,
pausePollSeconds) except ${Object.keys(FIXED_AT_START).join(' and ')}: numbers, true or false, a strategy name. Values are checked against the
same rules as the execution input, then against the run's settings (batch.minSize <= batch.maxSize, ...) before they
are stored; the error names the field. health.custom.NAME must be a check of the run's job, which only the probe
knows: a knob that does not fit the job is ignored there, and each decision's reason says so. Knobs survive
continue-as-new and restarts of the run.

options:
  --clear              remove every knob first (then apply any key=value given)
  --json               print the knobs and the settings they give as JSON
${DATABASE_USAGE}`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, OPTIONS, 1000);
    const runId = runArgument(positionals);
    // Checked before the database is touched: a typo names the knob.
    const assignments = parseKnobAssignments(positionals.slice(1));
    if (assignments.length === 0 && !values.clear) {
      throw new InvalidInputError('arguments', 'give key=value pairs (e.g. batch.maxSize=50), key= to remove one, or --clear');
    }
    return withRunDatabase(values, async (db) => {
      let settings: RunSettings | undefined;
      const updated = await updateKnobs(db.pool, db.schema, runId, (run) => {
        const knobs = applyKnobAssignments(values.clear ? {} : run.knobs, assignments);
        settings = checkKnobs(run.settings, knobs, assignments);
        return knobs;
      });
      if (!updated) throw await unknownRun(db, runId);
      const { before, knobs } = updated;
      let previous: RunSettings;
      try {
        previous = resolveSettings(before.settings, before.knobs);
      } catch {
        previous = before.settings;
      }
      if (values.json) {
        console.log(JSON.stringify({ runId, knobs, settings }));
        return 0;
      }
      const listed = describeKnobs(knobs);
      const shown = (value: unknown) => (value === undefined ? "the job's value" : JSON.stringify(value));
      const changes = assignments.map(({ path }) => `  ${path.join('.')}: ${shown(settingAt(previous, path))} -> ${shown(settingAt(settings!, path))}`);
      const stalled = FINISHED_STATUSES.includes(before.status) ? null : await stalledState(db, before);
      const when = FINISHED_STATUSES.includes(before.status)
        ? `run ${runId} has ended (${before.status}); the knobs apply when it is started again with the same run id`
        : stalled
          ? `run ${runId} is ${stalled}: no processor works on it; the knobs apply when it is started again: ${startAgainCommand(before)}`
          : 'read by its next probe';
      console.log([`run ${runId}: live knobs ${listed.length > 0 ? listed.join(' ') : 'none'} (${when})`, ...changes].join('\n'));
      return 0;
    });
  },
};
