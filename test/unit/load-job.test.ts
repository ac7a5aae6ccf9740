import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadJob } from '../../local/load-job';

// Jobs anywhere on disk (the OS temp dir, outside this repository): ESM and CommonJS folders, every extension.
// The installed package's loader (dist/) is driven end to end by test/e2e/install.test.ts.
const TS_JOB = (name: string) => `const label: string = ${JSON.stringify(name)};\nexport default { name: label, source: { table: 't', key: 'id' }, sql: 'SELECT $1::bigint, $2::bigint' };\n`;
const ESM_JOB = (name: string) => `export default { name: ${JSON.stringify(name)}, source: { table: 't', key: 'id' }, sql: 'SELECT $1::bigint, $2::bigint' };\n`;
const CJS_JOB = (name: string) => `module.exports = { name: ${JSON.stringify(name)}, source: { table: 't', key: 'id' }, sql: 'SELECT $1::bigint, $2::bigint' };\n`;

describe('loadJob: any format, any folder', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'backfill-jobs-'));
    for (const [folder, type] of [['commonjs', undefined], ['module', 'module']] as const) {
      mkdirSync(join(dir, folder));
      writeFileSync(join(dir, folder, 'package.json'), JSON.stringify(type ? { type } : {}));
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads .ts, .mts, .cts, .js, .mjs and .cjs jobs from a CommonJS folder and from a "type": "module" folder', async () => {
    // Prepare: TypeScript (export default, a type annotation), ESM (export default), CommonJS (module.exports).
    const files: Array<[string, string]> = [];
    for (const folder of ['commonjs', 'module']) {
      const esJs = folder === 'module' ? 'js' : 'mjs';
      const commonJs = folder === 'module' ? 'cjs' : 'js';
      for (const [extension, source] of [['ts', TS_JOB], ['mts', TS_JOB], ['cts', TS_JOB], [esJs, ESM_JOB], [commonJs, CJS_JOB], ['cjs', CJS_JOB]] as const) {
        // One stem per extension: beside job.ts, tsx would load job.ts for job.js (TypeScript's .js -> .ts mapping).
        const file = join(dir, folder, `job-${extension}.${extension}`);
        writeFileSync(file, source(`${folder}-${extension}`));
        files.push([file, `${folder}-${extension}`]);
      }
    }
    // Act
    const names = [];
    for (const [file] of files) names.push((await loadJob(file)).job.name);
    // Assess
    assert.deepStrictEqual(names, files.map(([, name]) => name));
  });

  it('reports a syntax error in a .ts job with file:line:column (counted from 1) and the compiler\'s message', async () => {
    // Prepare
    const file = join(dir, 'commonjs', 'broken.ts');
    writeFileSync(file, "const a = 1;\nexport default { name: 'broken' ;\n");
    // Act
    const error = await loadJob(file).catch((e: Error) => e);
    // Assess
    assert.equal((error as Error).message, `--job: ${file} failed to load: ${file}:2:33: Expected "}" but found ";"`);
  });

  it('reports a syntax error in an .mjs job (where Node names no place) with file:line:column', async () => {
    // Prepare
    const file = join(dir, 'module', 'broken.mjs');
    writeFileSync(file, "export default {\n  name: 'broken',,\n};\n");
    // Act
    const error = await loadJob(file).catch((e: Error) => e);
    // Assess
    assert.equal((error as Error).message, `--job: ${file} failed to load: ${file}:2:18: SyntaxError: Unexpected token ','`);
  });

  it('reports an error thrown while the job module runs with its place in the job\'s own source', async () => {
    // Prepare
    const file = join(dir, 'module', 'throws.ts');
    writeFileSync(file, "const limit: number = 3;\nif (limit > 2) {\n  throw new RangeError(`limit ${limit} is too high`);\n}\nexport default {};\n");
    // Act
    const error = await loadJob(file).catch((e: Error) => e);
    // Assess
    assert.equal((error as Error).message, `--job: ${file} failed to load: ${file}:3:9: RangeError: limit 3 is too high`);
  });
});
