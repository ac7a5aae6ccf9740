import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openTestDatabase, type TestDatabase } from '../support/database';

const ROOT = join(import.meta.dirname, '..', '..');
const DOC = readFileSync(join(ROOT, 'docs', 'keys.md'), 'utf8');

/** The fenced blocks of docs/keys.md marked `example=NAME`, and the `npx backfill ...` commands, in order. */
function examples(): { blocks: Record<string, string>; commands: string[] } {
  const blocks = Object.fromEntries([...DOC.matchAll(/```\w+ example=([\w-]+)\n([\s\S]*?)```/g)].map((m) => [m[1], m[2]]));
  const commands = [...DOC.matchAll(/^npx backfill run --local .*$/gm)].map((m) => m[0]);
  return { blocks, commands };
}

/** Runs a documented command in a project directory holding the jobs, `npx backfill` being this repository's CLI. */
function runDocumented(command: string, cwd: string, databaseUrl: string): Promise<{ code: number | null; output: string }> {
  const line = command.replace(/^npx backfill/, `"${process.execPath}" "${join(ROOT, 'bin', 'backfill.js')}"`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', line], { cwd, env: { ...process.env, DATABASE_URL: databaseUrl } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('docs/keys.md: the uuid and composite examples work from the page alone', () => {
  let db: TestDatabase;
  let project: string;
  before(async () => {
    db = await openTestDatabase();
    // Inside the repository (in its git-ignored .backfill/), as a job in a project: its package.json and lock file.
    mkdirSync(join(ROOT, '.backfill'), { recursive: true });
    project = mkdtempSync(join(ROOT, '.backfill', 'keys-docs-'));
    mkdirSync(join(project, 'jobs'));
  });
  after(async () => {
    rmSync(project, { recursive: true, force: true });
    await db.close();
  });

  it('creates the tables, runs both documented commands, and every row is backfilled', async () => {
    // Prepare: the SQL and the job files exactly as the page has them
    const { blocks, commands } = examples();
    assert.deepStrictEqual(Object.keys(blocks), ['uuid-setup', 'uuid-job', 'composite-setup', 'composite-job']);
    await db.pool.query(blocks['uuid-setup']);
    await db.pool.query(blocks['composite-setup']);
    writeFileSync(join(project, 'jobs', 'lower-account-emails.ts'), blocks['uuid-job']);
    writeFileSync(join(project, 'jobs', 'fill-line-totals.ts'), blocks['composite-job']);
    // Act
    const results = [];
    for (const command of commands) results.push(await runDocumented(command, project, db.url));
    // Assess: exit 0 means every item succeeded and the job's remaining() is 0
    assert.equal(commands.length, 2);
    assert.deepStrictEqual(results.map((r) => r.code), [0, 0], results.map((r) => r.output).join('\n'));
    const { rows } = await db.pool.query(`SELECT (SELECT count(*) FROM accounts WHERE email_lower = lower(email))::int AS accounts,
                                                 (SELECT count(*) FROM order_lines WHERE total = cents / 100.0)::int AS lines`);
    assert.deepStrictEqual(rows[0], { accounts: 5000, lines: 6000 });
  });
});
