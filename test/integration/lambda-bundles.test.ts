import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createDemoTable } from '../../jobs/demo-table';
import { asQueryable } from '../../db/pool';
import { startLocalQueues, type LocalQueues } from '../../local/local-sqs';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { ROOT, exampleStack } from '../support/stacks';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:backfill-db-AbCdEf';

/** Secrets Manager cannot run here: a stand-in that answers GetSecretValue (JSON 1.1 protocol) for one secret. */
async function startSecretsStandIn(secretString: string): Promise<{ server: Server; endpoint: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8'); });
    req.on('end', () => {
      const target = String(req.headers['x-amz-target']);
      requests.push(`${target} ${(JSON.parse(body) as { SecretId: string }).SecretId}`);
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ ARN: SECRET_ARN, Name: 'backfill-db', VersionId: 'v1', SecretString: secretString, CreatedDate: 0 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { server, endpoint: `http://127.0.0.1:${address.port}`, requests };
}

/** The synthesized asset whose bundle defines `marker`. */
function bundleWith(outdir: string, marker: string): string {
  const bundles = readdirSync(outdir).filter((name) => name.startsWith('asset.')).map((name) => join(outdir, name, 'index.js'));
  const found = bundles.filter((file) => readFileSync(file, 'utf8').includes(marker));
  assert.equal(found.length, 1, `one bundle defines ${marker}`);
  return found[0];
}

/**
 * What a deployment runs, as LocalStack runs it: the synthesized bundles, configured only by the environment the
 * construct sets plus the standard AWS_ENDPOINT_URL_* variables (LocalStack sets AWS_ENDPOINT_URL in its Lambdas).
 * The work queue's URL has LocalStack's shape, so nothing reaches SQS unless the endpoint comes from the variables.
 */
describe('Lambda bundles with endpoints from AWS_ENDPOINT_URL_* (real Postgres, local SQS)', () => {
  let db: TestDatabase;
  let queues: LocalQueues;
  let secrets: Awaited<ReturnType<typeof startSecretsStandIn>>;
  let outdir: string;

  before(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'backfill-bundles-'));
    exampleStack({}, { bundle: true, outdir }).app.synth();
    db = await openTestDatabase();
    await createDemoTable(asQueryable(db.pool), 600);
    queues = await startLocalQueues({ maxReceiveCount: 5, visibilityTimeoutSeconds: 60 });
    const url = new URL(db.url);
    secrets = await startSecretsStandIn(JSON.stringify({ host: url.hostname, port: Number(url.port), username: decodeURIComponent(url.username), password: decodeURIComponent(url.password), dbname: url.pathname.slice(1), ssl: false }));
  });
  after(async () => {
    await queues.close();
    await new Promise<void>((resolve) => secrets.server.close(() => resolve()));
    await db.close();
  });

  it('plans, processes and drains a run through the bundled init and processor, logging JSON and EMF with the run id', async () => {
    // Prepare
    const localstackShaped = (queueUrl: string) => `http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/${queueUrl.split('/').pop()}`;
    const script = `
      process.emitWarning = () => {};
      const init = require(${JSON.stringify(bundleWith(outdir, 'makeInitRunHandler('))}).handler;
      const batch = require(${JSON.stringify(bundleWith(outdir, 'makeBatchProcessorHandler('))}).handler;
      const context = { awsRequestId: 'req-1', functionName: 'fn', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 60000 };
      (async () => {
        const started = await init({ input: { job: 'demo-lowercase-email', chunkSize: 100 }, executionName: 'bundle-run', executionId: 'arn:aws:states:us-east-1:000000000000:execution:m:bundle-run', defaults: {} }, context);
        let stats;
        for (let i = 0; i < 20 && !(stats && stats.drained); i += 1) stats = await batch({ run: started.run, batchSize: 4, executionId: 'arn:aws:states:us-east-1:000000000000:execution:m:bundle-run' }, context);
        console.log('RESULT ' + JSON.stringify({ planned: started.run.plannedItems, drained: stats.drained, status: stats.outcome && stats.outcome.status }));
        process.exit(0);
      })().catch((error) => { console.log('RESULT ' + JSON.stringify({ error: error.message })); process.exit(1); });`;
    const env = {
      PATH: process.env.PATH,
      NODE_PATH: join(ROOT, 'node_modules'),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL_SQS: queues.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      QUEUE_URL: localstackShaped(queues.queueUrl),
      DEAD_LETTER_QUEUE_URL: localstackShaped(queues.deadLetterQueueUrl),
      MAX_RECEIVE_COUNT: '5',
      DATABASE_SECRET_ARN: SECRET_ARN,
      BOOKKEEPING_SCHEMA: 'backfill',
      POWERTOOLS_SERVICE_NAME: 'bundle-test',
      POWERTOOLS_METRICS_NAMESPACE: 'AdaptiveBackfill',
    };
    // Act
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env, maxBuffer: 16 * 1024 * 1024 });
    // Assess
    const lines = stdout.split('\n').filter((l) => l.trim() !== '');
    const result = JSON.parse(lines.find((l) => l.startsWith('RESULT '))!.slice('RESULT '.length));
    assert.deepStrictEqual(result, { planned: 6, drained: true, status: 'succeeded' });
    const { rows } = await db.pool.query<{ left: string }>('SELECT count(*) AS left FROM demo_items WHERE email_lower IS DISTINCT FROM lower(email)');
    assert.deepStrictEqual(rows, [{ left: '0' }]);
    assert.deepStrictEqual([...new Set(secrets.requests)], [`secretsmanager.GetSecretValue ${SECRET_ARN}`]);
    const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
    const emf = json.filter((d) => d._aws);
    const processed = emf.flatMap((d) => d.ItemsProcessed ?? []).reduce((a: number, b: number) => a + b, 0);
    assert.deepStrictEqual([processed, [...new Set(emf.map((d) => `${d._aws.CloudWatchMetrics[0].Namespace}/${d.service}`))]], [6, ['AdaptiveBackfill/bundle-test']]);
    const batchLogs = json.filter((d) => d.message === 'batch' && d.received > 0);
    assert.ok(batchLogs.length >= 2, 'one log line per non-empty batch');
    assert.deepStrictEqual([...new Set(batchLogs.map((d) => [d.level, d.service, d.runId, typeof d.batchId, d.function_request_id].join(' ')))], ['INFO bundle-test bundle-run string req-1']);
    assert.deepStrictEqual(json.filter((d) => d.message === 'run initialized').map((d) => [d.runId, d.plannedItems]), [['bundle-run', 6]]);
    assert.doesNotMatch(stdout, new RegExp(decodeURIComponent(new URL(db.url).password || 'no-password-set') + '|"password"'));
  });
});
