import { InvalidInputError } from './errors';
import { RULES, resolveSettings, validateOverrides, type RunSettings, type RunSettingsOverrides } from './settings';

/** Knobs a running run cannot take, and why: `backfill set` says so instead of storing a knob nothing obeys. */
export const FIXED_AT_START: Readonly<Record<string, string>> = {
  chunkSize: 'the work items were cut to this many rows when the run was planned, and a new size cannot re-cut them; start the job over with --fresh for another size',
  continueAfter: "it sizes each execution's event history below Step Functions' 25,000-event limit and is carried from one execution to the next; give it when starting a run",
};

/** One `key=value` of `backfill set`: a number for the knob, or null to remove it (`key=`). */
export interface KnobAssignment {
  readonly path: readonly string[];
  readonly value: number | null;
}

const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** Parses `batch.maxSize=50`, `backoff.maxSeconds=`; the error names the knob and what is allowed. */
export function parseKnobAssignments(args: readonly string[]): KnobAssignment[] {
  return args.map((arg) => {
    const at = arg.indexOf('=');
    if (at <= 0) throw new InvalidInputError('arguments', `expected key=value (e.g. batch.maxSize=50, or batch.maxSize= to remove it); got ${JSON.stringify(arg)}`);
    const key = arg.slice(0, at);
    const raw = arg.slice(at + 1);
    const path = key.split('.');
    checkPath(key, path);
    if (raw === '') return { path, value: null };
    if (!NUMBER.test(raw)) throw new InvalidInputError(key, `must be a number; got ${JSON.stringify(raw)}`);
    return { path, value: Number(raw) };
  });
}

/** A path must name a knob in RULES (or, to remove a group, a group); never one fixed at start. */
function checkPath(key: string, path: readonly string[]): void {
  if (FIXED_AT_START[path[0]] !== undefined) throw new InvalidInputError(key, `cannot change while a run goes on: ${FIXED_AT_START[path[0]]}`);
  let node: object = RULES;
  for (const [i, part] of path.entries()) {
    const child = (node as Record<string, object>)[part];
    if (child === undefined || 'integer' in node) {
      const allowed = 'integer' in node ? 'nothing (it is a number)' : Object.keys(node).filter((k) => FIXED_AT_START[k] === undefined).join(', ');
      throw new InvalidInputError(key, `${path.slice(0, i + 1).join('.')} is not a known knob; allowed here: ${allowed}`);
    }
    node = child;
  }
}

function isGroup(path: readonly string[]): boolean {
  let node: object = RULES;
  for (const part of path) node = (node as Record<string, object>)[part];
  return !('integer' in node);
}

/** The live knobs after the assignments: numbers set, `key=` removed (with groups left empty pruned). */
export function applyKnobAssignments(current: RunSettingsOverrides, assignments: readonly KnobAssignment[]): RunSettingsOverrides {
  const knobs = structuredClone(current) as Record<string, unknown>;
  for (const { path, value } of assignments) {
    if (value !== null && isGroup(path)) {
      throw new InvalidInputError(path.join('.'), 'is a group of knobs: set one of its fields (e.g. batch.maxSize=50), or remove them all with an empty value');
    }
    const parents: Array<Record<string, unknown>> = [knobs];
    for (const part of path.slice(0, -1)) {
      const parent = parents.at(-1)!;
      if (typeof parent[part] !== 'object' || parent[part] === null) parent[part] = {};
      parents.push(parent[part] as Record<string, unknown>);
    }
    const leaf = path.at(-1)!;
    if (value === null) delete parents.at(-1)![leaf];
    else parents.at(-1)![leaf] = value;
    // Removing the last knob of a group removes the group.
    for (let i = parents.length - 1; i > 0; i -= 1) {
      if (Object.keys(parents[i]).length === 0) delete parents[i - 1][path[i - 1]];
    }
  }
  return knobs as RunSettingsOverrides;
}

/**
 * Checks live knobs as the next probe will use them: each in its range, and coherent once layered over the run's
 * settings (batch.minSize <= batch.maxSize, ...). Returns the settings they give; errors name the field, and say
 * when the field is the run's own value rather than one being set.
 */
export function checkKnobs(settings: RunSettings, knobs: RunSettingsOverrides, assigned: readonly KnobAssignment[] = []): RunSettings {
  try {
    validateOverrides('knobs', knobs);
    return resolveSettings(settings, knobs);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    const field = error.field.replace(/^knobs\./, '');
    const isAssigned = assigned.some((a) => a.path.join('.') === field);
    const hint = isAssigned || error.field.startsWith('knobs.') ? '' : ` (not being set now: set ${field} too)`;
    throw new InvalidInputError(field, `${error.problem}${hint}`, { cause: error });
  }
}

/** `{ batch: { maxSize: 50 } }` -> ['batch.maxSize=50'], for people reading status and set. */
export function describeKnobs(knobs: RunSettingsOverrides, prefix = ''): string[] {
  return Object.entries(knobs).flatMap(([key, value]) =>
    typeof value === 'object' && value !== null ? describeKnobs(value as RunSettingsOverrides, `${prefix}${key}.`) : [`${prefix}${key}=${value}`],
  );
}

/** The value at a knob's path in resolved settings. */
export function settingAt(settings: RunSettings, path: readonly string[]): unknown {
  return path.reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], settings);
}
