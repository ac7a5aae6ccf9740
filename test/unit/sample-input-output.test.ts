import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { parseExecutionInput } from '../../core/execution-input';
import { AdaptiveBackfill } from '../../lib/adaptive-backfill';
import { ROOT, projectContext } from '../support/stacks';

describe('the construct\'s sample execution input', () => {
  it('is a stack output at the construct\'s defaults, valid execution input once job names the deployed job', () => {
    // Prepare
    const app = new App({ context: { ...projectContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Sample');
    const databaseSecret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Secret', 'arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf');
    new AdaptiveBackfill(stack, 'Backfill', { jobEntry: `${ROOT}/jobs/demo.ts`, databaseSecret, defaults: { chunkSize: 500, backoff: { maxSeconds: 60 } } });
    // Act
    const outputs = Template.fromStack(stack).findOutputs('*');
    const [key] = Object.keys(outputs).filter((k) => k.startsWith('BackfillSampleExecutionInput'));
    const sample = JSON.parse(outputs[key].Value);
    // Assess
    assert.deepStrictEqual(sample, {
      job: 'your-job-name',
      chunkSize: 500,
      batch: { targetSeconds: 2, maxSize: 200 },
      backoff: { maxSeconds: 60, maxTotalSeconds: 3600 },
      health: { longRunningQueries: { warningSeconds: 30, criticalSeconds: 120 }, lockWaits: { warningSeconds: 5, criticalSeconds: 30 } },
    });
    assert.deepStrictEqual(parseExecutionInput({ ...sample, job: 'demo-lowercase-email' }, 'exec').overrides.chunkSize, 500);
  });
});
