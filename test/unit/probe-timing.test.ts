import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { TimeLimitError } from '../../core/errors';
import { HEALTH_RULES, PROBE_BUDGET_TIMEOUTS } from '../../core/health-settings';
import { ACTIVE_SAMPLES } from '../../db/health/checks/active-sessions';
import { BOOKKEEPING_STEP_MS, BOOKKEEPING_STEPS, CALIBRATION_STEP_MS, HEALTH_PROBE_TIMEOUT_SECONDS, PROBE_WORST_CASE_MS, withinTimeLimit } from '../../lambdas/probe-timing';
import { exampleStack, logicalIdOf, resourcesOf } from '../support/stacks';

describe('the health probe fits its function\'s timeout, whatever the knobs say', () => {
  it('computes the worst case from the largest probeTimeoutMs the rules allow and the bookkeeping steps\' limits', () => {
    // Act: the Postgres probe is abandoned at its budget, whatever runs then (activeSessions' queries, probeLatency's samples)
    const probeBudget = PROBE_BUDGET_TIMEOUTS * HEALTH_RULES.probeTimeoutMs.max;
    const bookkeeping = BOOKKEEPING_STEPS * BOOKKEEPING_STEP_MS;
    // Assess: 4 x 5,000 + 3 x 10,000 + the latency calibration's 5,000 = 55,000 ms. Without the budget, a check started just inside it could run on:
    // probeLatency's 20 samples of up to 5,000 ms each would be 100 s on their own, activeSessions' 3 queries 15 s.
    assert.deepStrictEqual([probeBudget, bookkeeping, CALIBRATION_STEP_MS, PROBE_WORST_CASE_MS], [20_000, 30_000, 5_000, 55_000]);
    assert.deepStrictEqual([HEALTH_RULES.probeLatency.samples.max * HEALTH_RULES.probeTimeoutMs.max, ACTIVE_SAMPLES * HEALTH_RULES.probeTimeoutMs.max], [100_000, 15_000]);
  });

  it('gives the deployed HealthProbe function a timeout above that worst case', () => {
    // Prepare
    const resources = resourcesOf(Template.fromStack(exampleStack().stack));
    // Act
    const timeoutSeconds = resources[logicalIdOf(resources, 'AWS::Lambda::Function', 'BackfillHealthProbe')].Properties.Timeout as number;
    // Assess
    assert.deepStrictEqual([timeoutSeconds, timeoutSeconds * 1000 > PROBE_WORST_CASE_MS], [HEALTH_PROBE_TIMEOUT_SECONDS, true]);
  });

  it('gives up on a step that does not finish within its limit, and passes on one that does', async () => {
    // Act
    const hung = await withinTimeLimit('reading the run\'s flags', 20, () => new Promise<never>(() => undefined)).catch((error: Error) => error);
    const quick = await withinTimeLimit('reading the run\'s flags', 10_000, async () => 'flags');
    const failed = await withinTimeLimit('reading the run\'s flags', 10_000, async () => { throw new Error('connection refused'); }).catch((error: Error) => error.message);
    // Assess
    assert.deepStrictEqual([hung instanceof TimeLimitError, (hung as Error).message, quick, failed], [true, 'reading the run\'s flags did not finish within 20 ms', 'flags', 'connection refused']);
  });
});
