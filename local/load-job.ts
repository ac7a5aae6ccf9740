import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidJobError } from '../core/errors';
import { validateJob, type JobDefinition } from '../core/job';

/** Imports a .ts or .js job module (TypeScript runs through tsx) and checks its default export. */
export async function loadJob(path: string): Promise<{ job: JobDefinition; path: string }> {
  const absolute = resolve(path);
  if (!/\.(ts|mts|cts|js|mjs|cjs)$/.test(absolute)) throw new InvalidJobError(`--job must name a .ts or .js module; got ${path}`);
  if (!existsSync(absolute)) throw new InvalidJobError(`--job: ${path} does not exist`);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
  } catch (error) {
    throw new InvalidJobError(`--job: ${path} failed to load: ${(error as Error).message}`, { cause: error });
  }
  // A CommonJS module compiled from `export default` nests the job one level down.
  const exported = (module.default as { default?: unknown } | undefined)?.default ?? module.default;
  return { job: validateJob(exported, path), path: absolute };
}
