import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bundledModules, forbiddenModules } from '../support/bundles';
import { ROOT, exampleStack } from '../support/stacks';

describe('Lambda bundling', () => {
  it('bundles the job module into each function, and each bundle loads and exports handler', () => {
    // Prepare
    const outdir = mkdtempSync(join(tmpdir(), 'backfill-synth-'));
    const { app } = exampleStack({}, { bundle: true, outdir });
    // Act
    app.synth();
    const bundles = readdirSync(outdir).filter((name) => name.startsWith('asset.')).map((name) => join(outdir, name, 'index.js'));
    // Assess
    assert.equal(bundles.length, 3);
    // With Powertools Logger and Metrics each bundle is about 320 KB (about 205 KB before); the AWS SDK is not bundled.
    assert.deepStrictEqual(bundles.filter((bundle) => statSync(bundle).size > 600_000), []);
    for (const bundle of bundles) {
      assert.match(readFileSync(bundle, 'utf8'), /demo-lowercase-email/);
      // The local runtime (embedded Postgres, local SQS, the ASL interpreter) and the CDK stay out; pg is in.
      assert.deepStrictEqual(forbiddenModules(bundle), [], bundle);
      assert.ok(bundledModules(bundle).some((path) => path.startsWith('node_modules/pg/')), bundle);
      const exported = execFileSync(process.execPath, ['-e', `process.emitWarning = () => {}; console.log(typeof require(${JSON.stringify(bundle)}).handler)`], {
        env: {
          ...process.env,
          QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/work',
          DEAD_LETTER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/dlq',
          MAX_RECEIVE_COUNT: '5',
          DATABASE_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf',
          BOOKKEEPING_SCHEMA: 'backfill',
          POWERTOOLS_SERVICE_NAME: 'bundling-test',
          POWERTOOLS_METRICS_NAMESPACE: 'AdaptiveBackfill',
          AWS_REGION: 'us-east-1',
          // The Lambda runtime provides the AWS SDK; here it comes from the project's node_modules.
          NODE_PATH: join(ROOT, 'node_modules'),
        },
      }).toString().trim();
      assert.equal(exported, 'function', bundle);
    }
  });
});
