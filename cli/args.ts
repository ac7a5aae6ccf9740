import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvalidInputError } from '../core/errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Strict flag parsing: an unknown flag or a stray argument is an error that names it. */
export function parseFlags<const O extends Options>(argv: readonly string[], options: O, maxPositionals = 0) {
  const parsed = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  if (parsed.positionals.length > maxPositionals) {
    throw new InvalidInputError('arguments', `unexpected ${JSON.stringify(parsed.positionals.slice(maxPositionals).join(' '))}`);
  }
  return parsed;
}

/** A numeric flag within [min, max], or undefined when absent; the error names the flag and what is allowed. */
export function numberFlag(flag: string, raw: string | undefined, min: number, max: number, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new InvalidInputError(`--${flag}`, `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}; got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The first line of an error's message: what the CLI prints after `backfill: `. */
export function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}
