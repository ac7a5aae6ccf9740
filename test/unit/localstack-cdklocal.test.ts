import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cdklocalEnvironment, localstackConfig } from '../../localstack/env';
import { LOCALSTACK } from '../../localstack/settings';
import { startAwsStandIn } from '../support/aws-stand-in';
import { ROOT } from '../support/stacks';

// The real cdklocal of this checkout (aws-cdk-local 3.0.4, CDK CLI 2.1148.1), not a mock. Nothing but 127.0.0.1 is
// contacted: endpoints point at the stand-in, which is also every child's HTTP(S) proxy and records any proxy
// request; the CDK CLI's telemetry and version check and npm's update notifier are off; HOME is a fresh directory (no ~/.aws, no ~/.cdk).
const CDKLOCAL = join(ROOT, 'node_modules', '.bin', 'cdklocal');
const BOUND_MS = 300_000;

/** The variables the docs tell users to export (docs/localstack.md, "Run it"). */
function documentedExports(): Record<string, string> {
  const docs = readFileSync(join(ROOT, 'docs', 'localstack.md'), 'utf8');
  const block = /^export (AWS_ENDPOINT_URL=(?:[^\n]*\\\n)*[^\n]*)$/m.exec(docs)?.[1] ?? '';
  return Object.fromEntries([...block.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
}

interface Exit { readonly code: number; readonly stdout: string; readonly stderr: string }

function run(file: string, args: string[], env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env, timeout: BOUND_MS, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Lines of stderr without the AWS SDK's Node-version notice. */
function meaningful(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim() !== '' && !/NodeVersionSupportWarning|versions published after|will require node|To continue receiving|security updates please|More information can be found|trace-warnings/.test(line));
}

describe('the real cdklocal with the documented environment, up to where it would contact LocalStack', () => {
  let standIn: Awaited<ReturnType<typeof startAwsStandIn>>;
  let home: string;
  let guard: Record<string, string>;

  before(async () => {
    standIn = await startAwsStandIn();
    home = mkdtempSync(join(tmpdir(), 'cdklocal-home-'));
    guard = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      HTTP_PROXY: standIn.url, HTTPS_PROXY: standIn.url, http_proxy: standIn.url, https_proxy: standIn.url, NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1',
      CDK_DISABLE_CLI_TELEMETRY: 'true', CDK_DISABLE_VERSION_CHECK: 'true',
      // NodejsFunction bundles with `npx --no-install esbuild`, and npm's update notifier would ask registry.npmjs.org.
      npm_config_update_notifier: 'false',
    };
  });
  after(async () => {
    await standIn.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('exits at once on AWS_ENDPOINT_URL without AWS_ENDPOINT_URL_S3 (the old exports), and synthesizes the LocalStack stack with the documented ones', { timeout: BOUND_MS }, async () => {
    // Prepare
    const documented = documentedExports();
    const out = mkdtempSync(join(tmpdir(), 'cdklocal-out-'));
    const { AWS_ENDPOINT_URL_S3: _, ...old } = documented;
    const before = standIn.requests.length;
    try {
      // Act
      const refused = await run(CDKLOCAL, ['synth', '--quiet'], { ...guard, ...old });
      const synth = await run(CDKLOCAL, ['synth', '--quiet', '-o', out, '-c', 'dashboard=false', '-c', `databaseSecretArn=arn:aws:secretsmanager:us-east-1:000000000000:secret:${LOCALSTACK.secretName}-AbCdEf`], cdklocalEnvironment(localstackConfig(documented), { ...guard, ...documented }));
      // Assess
      const template = JSON.parse(readFileSync(join(out, `${LOCALSTACK.stackName}.template.json`), 'utf8')) as { Resources: Record<string, { Type: string }> };
      const types = new Set(Object.values(template.Resources).map((r) => r.Type));
      assert.deepStrictEqual(Object.keys(documented), ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
      assert.deepStrictEqual([refused.code, refused.stderr.includes("If specifying 'AWS_ENDPOINT_URL' then 'AWS_ENDPOINT_URL_S3' must be specified")], [1, true]);
      assert.deepStrictEqual([synth.code, meaningful(synth.stderr).filter((line) => /error|must be specified/i.test(line))], [0, []]);
      assert.deepStrictEqual([types.has('AWS::CloudWatch::Dashboard'), types.has('AWS::StepFunctions::StateMachine'), readdirSync(out).includes('manifest.json')], [false, true, true]);
      assert.deepStrictEqual([standIn.requests.length - before, standIn.proxied], [0, []]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('localstack:deploy: the secret, then cdklocal bootstrap up to its first change set, every request to the endpoint in one region with one key', { timeout: BOUND_MS }, async () => {
    // Prepare: the documented exports in a region other than cdklocal's default, endpoints at the stand-in
    const env = { ...guard, ...documentedExports(), AWS_REGION: 'eu-central-1', AWS_ENDPOINT_URL: standIn.url, AWS_ENDPOINT_URL_S3: standIn.url };
    standIn.requests.length = 0;
    // Act
    const deploy = await run(process.execPath, ['--import', 'tsx', join('localstack', 'deploy.ts')], env);
    // Assess: the first request LocalStack would have to answer itself (the bootstrap stack's change set) ends it
    const host = new URL(standIn.url).host;
    const calls = [...new Set(standIn.requests.map((r) => `${r.service} ${r.action}`))];
    const signedFor = [...new Set(standIn.requests.map((r) => `${r.host} ${r.region} ${r.accessKeyId}`))];
    assert.deepStrictEqual(calls, ['secretsmanager CreateSecret', 'sts GetCallerIdentity', 'cloudformation DescribeStacks', 'cloudformation CreateChangeSet']);
    assert.deepStrictEqual([signedFor, standIn.proxied], [[`${host} eu-central-1 test`], []]);
    assert.deepStrictEqual([deploy.code, meaningful(deploy.stderr).at(0), meaningful(deploy.stderr).at(-1)], [
      1,
      `localstack: database secret arn:aws:secretsmanager:eu-central-1:000000000000:secret:${LOCALSTACK.secretName}-AbCdEf at ${standIn.url} (eu-central-1)`,
      'localstack:deploy: cdklocal bootstrap exited 1',
    ]);
  });

  it('localstack:start: looks the stack up first, in the same region, and stops there when it is not deployed', { timeout: BOUND_MS }, async () => {
    // Prepare
    const env = { ...guard, ...documentedExports(), AWS_REGION: 'eu-central-1', AWS_ENDPOINT_URL: standIn.url, AWS_ENDPOINT_URL_S3: standIn.url };
    standIn.requests.length = 0;
    // Act
    const start = await run(process.execPath, ['--import', 'tsx', join('localstack', 'start.ts')], env);
    // Assess
    assert.deepStrictEqual(standIn.requests, [{ host: new URL(standIn.url).host, service: 'cloudformation', region: 'eu-central-1', accessKeyId: 'test', action: 'DescribeStacks' }]);
    assert.deepStrictEqual([start.code, meaningful(start.stderr), standIn.proxied], [1, [`localstack:start: --stack: cannot read stack ${LOCALSTACK.stackName}: Stack with id ${LOCALSTACK.stackName} does not exist`], []]);
  });
});
