#!/usr/bin/env node
// Builds the installable package into dist/ (`npm run build`; `npm pack` runs it through prepack):
// 1. JavaScript: every module reachable from the entry points below, one ESM file per source file (not bundled, so
//    a user's bundler keeps tree-shaking: a Lambda that imports defineJob does not pull in aws-cdk-lib).
// 2. Declarations (.d.ts) for the public entry points (the construct library and the job helpers), from tsc.
// 3. Relative import specifiers rewritten to the emitted file names (./x -> ./x.js, ./dir -> ./dir/index.js), which
//    Node's ESM loader needs; the sources stay extensionless (moduleResolution Bundler).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');

/**
 * What the package runs: the construct library, the job helpers, the CLI (with the demo job), and every Lambda
 * entry (the construct bundles them from dist/lambdas/entry/ at the user's `cdk synth`).
 */
const ENTRY_POINTS = [
  'lib/index.ts',
  'core/job.ts',
  'bin/backfill.ts',
  'jobs/demo.ts',
  ...readdirSync(join(ROOT, 'lambdas', 'entry')).filter((name) => name.endsWith('.ts')).map((name) => `lambdas/entry/${name}`),
];
/** Public API: what `exports` in package.json gives types for. tsc also declares everything these import. */
const DECLARED = ['lib/index.ts', 'core/job.ts'];

rmSync(DIST, { recursive: true, force: true });

// 1. Which source files the entry points reach (packages stay external; '@adaptive-backfill/job' is the Lambda
//    bundler's alias for the user's job, resolved at `cdk synth`, so it stays as written).
const graph = await esbuild.build({
  absWorkingDir: ROOT,
  entryPoints: ENTRY_POINTS,
  bundle: true,
  write: false,
  metafile: true,
  platform: 'node',
  format: 'esm',
  packages: 'external',
  outdir: DIST,
  logLevel: 'error',
});
const sources = Object.keys(graph.metafile.inputs).filter((file) => /\.ts$/.test(file) && !file.startsWith('node_modules/')).sort();
await esbuild.build({
  absWorkingDir: ROOT,
  entryPoints: sources,
  outbase: '.',
  outdir: DIST,
  bundle: false,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'error',
});

// 2. Declarations.
execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });

// 3. Specifiers.
let rewritten = 0;
for (const file of walk(DIST)) {
  if (!/\.(js|d\.ts)$/.test(file)) continue;
  const declaration = file.endsWith('.d.ts');
  const text = readFileSync(file, 'utf8');
  const next = text.replace(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"']*)\2/g, (_, lead, quote, specifier) => {
    rewritten += 1;
    return `${lead}${quote}${emittedName(file, specifier, declaration)}${quote}`;
  });
  if (next !== text) writeFileSync(file, next);
}
const files = [...walk(DIST)];
console.error(`dist/: ${files.filter((f) => f.endsWith('.js')).length} modules, ${files.filter((f) => f.endsWith('.d.ts')).length} declarations, ${rewritten} import specifiers rewritten`);

/** The specifier of the emitted file that `specifier` (written extensionless in the source) names. */
function emittedName(from, specifier, declaration) {
  if (/\.(js|json)$/.test(specifier)) return specifier;
  const base = resolve(dirname(from), specifier);
  const extension = declaration ? '.d.ts' : '.js';
  if (existsSync(`${base}${extension}`)) return `${specifier}.js`;
  if (existsSync(join(base, `index${extension}`))) return `${specifier}/index.js`;
  throw new Error(`build: ${relative(ROOT, from)} imports ${specifier}, which was not emitted`);
}

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}
