// The chaos suite (`npm run chaos [-- --short] [--only TEXT] [--out FILE]`): real faults against a real Postgres,
// the real CLI as child processes, no mocks. Prints a table, writes JSON, exits 1 if any trial failed.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { query } from './fixture';
import { startChaosServer } from './server';
import { formatTable, summarize } from './summary';
import { Trial, type SuiteOptions, type TrialKind, type TrialResult } from './trial';
import { killTrials } from './trials/kill';
import { outageTrials } from './trials/outage';
import { overlapTrials } from './trials/overlap';
import { poisonTrials } from './trials/poison';
import { fastRestartTrials, immediateRestartTrials } from './trials/restart';
import { retryTrials } from './trials/retry';
import { sqlErrorTrials } from './trials/sql-error';
import { twoProcessTrials } from './trials/two-processes';

const KINDS: readonly TrialKind[] = [killTrials, fastRestartTrials, immediateRestartTrials, outageTrials, retryTrials, sqlErrorTrials, poisonTrials, twoProcessTrials, overlapTrials];

const USAGE = `usage: npm run chaos -- [--short] [--only TEXT] [--out FILE] [--time-scale F] [--hang-seconds N]
  --short           a few-minute subset (CI): fewer trials of every kind
  --only TEXT,...   only the trial kinds whose name contains one of these (kill, restart, outage, retry, SQL, poison, two, overlap)
  --out FILE        where the JSON results go (default test/chaos/results.json, or results-short.json with --short)
  --time-scale F    the runs' --time-scale (default 0.05: backoff waits are a twentieth of real)
  --hang-seconds N  a run still going after N s is hung: it is killed and re-run, a manual action (default 240)`;

function gitDescribe(): { commit: string; branch: string; dirty: boolean } {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: join(import.meta.dirname, '..', '..'), encoding: 'utf8' }).trim();
  try {
    return { commit: git('rev-parse', 'HEAD'), branch: git('rev-parse', '--abbrev-ref', 'HEAD'), dirty: git('status', '--porcelain').length > 0 };
  } catch {
    return { commit: 'unknown', branch: 'unknown', dirty: false };
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { short: { type: 'boolean' }, quick: { type: 'boolean' }, only: { type: 'string' }, out: { type: 'string' }, 'time-scale': { type: 'string' }, 'hang-seconds': { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const short = Boolean(values.short ?? values.quick);
  const timeScale = Number(values['time-scale'] ?? 0.05);
  const hangSeconds = Number(values['hang-seconds'] ?? 240);
  if (!(timeScale > 0 && timeScale <= 1)) throw new Error(`--time-scale must be a number above 0 and at most 1; got ${values['time-scale']}`);
  if (!(hangSeconds >= 10)) throw new Error(`--hang-seconds must be a number of at least 10; got ${values['hang-seconds']}`);
  const wanted = values.only?.toLowerCase().split(',').map((w) => w.trim()).filter(Boolean);
  const kinds = KINDS.filter((k) => !wanted || wanted.some((w) => k.kind.toLowerCase().includes(w)));
  if (kinds.length === 0) throw new Error(`--only ${values.only} matches no trial kind: ${KINDS.map((k) => k.kind).join('; ')}`);
  const out = values.out ?? join(import.meta.dirname, short ? 'results-short.json' : 'results.json');

  const started = new Date();
  const server = await startChaosServer();
  const log = (line: string) => console.error(`chaos: ${line}`);
  // Interrupted: the server does not outlive the suite (the JSON so far is already written).
  const interrupted = () => void server.destroy().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const suite: SuiteOptions = { server, short, timeScale, hangMs: hangSeconds * 1000, log };
  const results: TrialResult[] = [];
  let postgres = 'unknown';
  const git = gitDescribe();
  // Written after every trial (finished: null until the end), so a run cut short still leaves what it found.
  const write = (finished: Date | null) => {
    const summary = summarize(results);
    writeFileSync(out, `${JSON.stringify({ started: started.toISOString(), finished: finished?.toISOString() ?? null, mode: short ? 'short' : 'full', only: values.only ?? null, timeScale, hangSeconds, git, postgres, summary, table: formatTable(summary), trials: results }, null, 2)}\n`);
  };
  try {
    postgres = (await query<{ v: string }>(server.url(), 'SELECT version() AS v'))[0].v;
    log(`Postgres on ${server.url()} (log: ${server.logFile}); ${short ? 'short' : 'full'} run`);
    for (const kind of kinds) {
      const count = short ? kind.trials.short : kind.trials.full;
      for (let i = 0; i < count; i += 1) {
        const trial = new Trial(kind.kind, `${kind.kind} #${i + 1}`, `t${KINDS.indexOf(kind)}_${i + 1}`, suite);
        try {
          await kind.run(trial, i, suite);
        } catch (error) {
          trial.problems.push(`the trial itself failed: ${(error as Error).stack ?? String(error)}`);
          await server.start().catch(() => undefined); // a trial that stopped the server and then threw
        }
        const result = await trial.finish();
        results.push(result);
        write(null);
        log(`${result.passed ? 'PASS' : 'FAIL'} ${result.name} (${(result.ms / 1000).toFixed(1)} s): ${result.steps.join('; ')}`);
        for (const line of [...result.problems, ...result.manualActions.map((m) => `manual action: ${m}`)]) log(`     ${line}`);
        if (!result.exactlyOnce) log(`     rows: ${result.lost} lost, ${result.doubled} doubled`);
      }
    }
  } finally {
    await server.destroy();
  }
  write(new Date());
  console.log(formatTable(summarize(results)));
  const failed = results.filter((r) => !r.passed).length;
  console.log(`\n${results.length - failed} of ${results.length} trials passed; results in ${out}`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`chaos: ${(error as Error).message}`);
    process.exit(1);
  },
);
