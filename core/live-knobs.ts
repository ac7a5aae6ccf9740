import { InvalidInputError } from './errors';
import {
  checkKnobValue, resolveSettings, ruleKind, RULES, validateOverrides,
  type EnumRule, type MapRule, type NumberRule, type RunSettings, type RunSettingsOverrides,
} from './settings';

/** Knobs a running run cannot take, and why: `backfill set` says so instead of storing a knob nothing obeys. */
export const FIXED_AT_START: Readonly<Record<string, string>> = {
  chunkSize: 'the work items were cut to this many rows when the run was planned, and a new size cannot re-cut them; start the job over with --fresh for another size',
  continueAfter: "it sizes each execution's event history below Step Functions' 25,000-event limit and is carried from one execution to the next; give it when starting a run",
};

/** One `key=value` of `backfill set`: the value parsed by its knob's rule, or null to remove the knob (`key=`). */
export interface KnobAssignment {
  readonly path: readonly string[];
  readonly value: number | boolean | string | null;
}

const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * Parses `batch.maxSize=50`, `health.lockWaits.enabled=false`, `health.strategy=weighted`,
 * `health.custom.backlog.warning=500`, `backoff.maxSeconds=`: each value as its knob's rule reads it (a number,
 * true or false, one of a few names), checked against that rule. Errors name the knob and what is allowed.
 */
export function parseKnobAssignments(args: readonly string[]): KnobAssignment[] {
  return args.map((arg) => {
    const at = arg.indexOf('=');
    if (at <= 0) throw new InvalidInputError('arguments', `expected key=value (e.g. batch.maxSize=50, or batch.maxSize= to remove it); got ${JSON.stringify(arg)}`);
    const key = arg.slice(0, at);
    const raw = arg.slice(at + 1);
    const path = key.split('.');
    const rule = ruleAt(key, path);
    if (raw === '') return { path, value: null };
    const kind = ruleKind(rule);
    if (kind === 'group' || kind === 'map') {
      const fields = kind === 'map' ? `one field of one check, e.g. ${key}.NAME.warning=5` : `one of its fields (${Object.keys(rule).join(', ')})`;
      throw new InvalidInputError(key, `is a group of knobs: set ${fields}, or remove them all with an empty value`);
    }
    const value = parseValue(raw, kind);
    checkKnobValue(key, value, rule);
    return { path, value: value as number | boolean | string };
  });
}

/** The text as the rule reads it; what does not parse stays text, for the rule's error to quote. */
function parseValue(raw: string, kind: ReturnType<typeof ruleKind>): unknown {
  if (kind === 'number') return NUMBER.test(raw) && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  if (kind === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

/**
 * The rule at a knob's path in RULES (a knob, or a group of knobs to remove at once); a check's name stands for
 * NAME in health.custom.NAME. Never a knob fixed at start.
 */
function ruleAt(key: string, path: readonly string[]): object {
  if (FIXED_AT_START[path[0]] !== undefined) throw new InvalidInputError(key, `cannot change while a run goes on: ${FIXED_AT_START[path[0]]}`);
  let node: object = RULES;
  for (const [i, part] of path.entries()) {
    const here = path.slice(0, i + 1).join('.');
    const kind = ruleKind(node);
    if (kind === 'map') {
      const map = node as MapRule;
      if (!map.keys.test(part)) throw new InvalidInputError(key, `${here} is not a known knob; allowed here: ${map.keyHint}`);
      node = map.each;
      continue;
    }
    if (kind !== 'group') throw new InvalidInputError(key, `${here} is not a known knob; allowed here: nothing (it is ${describeRule(node)})`);
    if (!Object.hasOwn(node, part)) {
      const allowed = Object.keys(node).filter((k) => FIXED_AT_START[k] === undefined).join(', ');
      throw new InvalidInputError(key, `${here} is not a known knob; allowed here: ${allowed}`);
    }
    node = (node as Record<string, object>)[part];
  }
  return node;
}

/** What a single knob takes, for errors. */
function describeRule(rule: object): string {
  if (ruleKind(rule) === 'boolean') return 'true or false';
  if (ruleKind(rule) === 'oneOf') return `one of ${(rule as EnumRule).oneOf.map((v) => JSON.stringify(v)).join(', ')}`;
  const { integer, min, max } = rule as NumberRule;
  return `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`;
}

/** The live knobs after the assignments: values set, `key=` removed (with groups left empty pruned). */
export function applyKnobAssignments(current: RunSettingsOverrides, assignments: readonly KnobAssignment[]): RunSettingsOverrides {
  const knobs = structuredClone(current) as Record<string, unknown>;
  for (const { path, value } of assignments) {
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
