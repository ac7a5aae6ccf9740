import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidJobError } from '../core/errors';
import { validateJob, type JobDefinition } from '../core/job';

/**
 * Imports a job module and checks its default export: .ts, .mts, .cts, .js, .mjs or .cjs, ESM or CommonJS, in any
 * folder (TypeScript runs through tsx). A module that fails to load is reported with file:line:column and the
 * compiler's (or the runtime's) message.
 */
export async function loadJob(path: string): Promise<{ job: JobDefinition; path: string }> {
  const absolute = resolve(path);
  if (!/\.(ts|mts|cts|js|mjs|cjs)$/.test(absolute)) throw new InvalidJobError(`--job must name a .ts or .js module; got ${path}`);
  if (!existsSync(absolute)) throw new InvalidJobError(`--job: ${path} does not exist`);
  let module: { default?: unknown };
  try {
    await registerTypeScript();
    module = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
  } catch (error) {
    throw new InvalidJobError(`--job: ${path} failed to load: ${await describeLoadError(error, absolute)}`, { cause: error });
  }
  // A CommonJS module compiled from `export default` nests the job one level down.
  const exported = (module.default as { default?: unknown } | undefined)?.default ?? module.default;
  return { job: validateJob(exported, path), path: absolute };
}

let registered: Promise<void> | undefined;

/**
 * tsx's hooks for both module systems (as `node --import tsx` registers them): a .ts file in a folder without
 * "type": "module" is CommonJS, and Node's ESM loader alone fails on it ("Cannot require() ES Module ... in a
 * cycle"). Registered once, for the whole process, so the job shares modules (adaptive-backfill itself, pg) with
 * the CLI. This repository's sources only run under tsx already (bin/backfill.js, the tests): register from the
 * built package (dist/, .js) only.
 */
function registerTypeScript(): Promise<void> {
  if (extname(fileURLToPath(import.meta.url)) !== '.js') return Promise.resolve();
  registered ??= Promise.all([import('tsx/cjs/api'), import('tsx/esm/api')]).then(([cjs, esm]) => {
    cjs.register();
    esm.register();
  });
  return registered;
}

/** One line: where (file:line:column) and what, for a compile error (esbuild, through tsx) or a runtime one. */
export async function describeLoadError(error: unknown, file: string): Promise<string> {
  const message = error instanceof Error ? error.message : String(error);
  // esbuild: "Transform failed with 2 errors:\n/abs/job.ts:3:7: ERROR: Expected ...\n/abs/job.ts:9:1: ERROR: ..."
  const transform = /^Transform failed with \d+ errors?:\n([\s\S]*)$/.exec(message);
  // esbuild counts columns from 0; editors, tsc and this message count from 1.
  if (transform) {
    return transform[1].split('\n').filter((line) => line.trim() !== '')
      .map((line) => line.replace(/^(.*):(\d+):(\d+): ERROR: /, (_, at: string, row: string, column: string) => `${sourceName(at, file)}:${row}:${Number(column) + 1}: `))
      .join('; ');
  }
  const name = error instanceof Error && error.name !== 'Error' ? `${error.name}: ` : '';
  const where = locationIn(error, file) ?? (error instanceof SyntaxError ? await syntaxErrorLocation(file) : undefined);
  return `${where ? `${where}: ` : ''}${name}${message.split('\n')[0]}`;
}

/** tsx hands esbuild a .mts or .cts file under a .ts name: name the file that exists. */
function sourceName(reported: string, file: string): string {
  const stem = (path: string) => path.replace(/\.[mc]?ts$/, '');
  return reported !== file && !existsSync(reported) && stem(reported) === stem(file) ? file : reported;
}

/** The first place in the job's own file that the error's stack (source-mapped by tsx) or a SyntaxError names. */
function locationIn(error: unknown, file: string): string | undefined {
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const url = pathToFileURL(file).href;
  for (const line of stack.split('\n')) {
    for (const prefix of [url, file]) {
      const at = line.indexOf(prefix);
      if (at < 0) continue;
      const position = /^(?:\?[^:\s)]*)?:(\d+)(?::(\d+))?/.exec(line.slice(at + prefix.length));
      if (position) return `${file}:${position[1]}${position[2] ? `:${position[2]}` : ''}`;
    }
  }
  return undefined;
}

/**
 * Node's SyntaxError for an ES module (.js, .mjs) names no file, line or column (it prints them only when the error
 * is uncaught): parse the file with esbuild to find where. Undefined when the job parses (the error is elsewhere).
 */
async function syntaxErrorLocation(file: string): Promise<string | undefined> {
  const { transform } = await import('esbuild');
  const loader = /\.[mc]?ts$/.test(file) ? 'ts' : 'js';
  try {
    await transform(readFileSync(file, 'utf8'), { loader, sourcefile: file, logLevel: 'silent' });
  } catch (error) {
    const location = (error as { errors?: Array<{ location?: { line: number; column: number } | null }> }).errors?.[0]?.location;
    if (location) return `${file}:${location.line}:${location.column + 1}`;
  }
  return undefined;
}
