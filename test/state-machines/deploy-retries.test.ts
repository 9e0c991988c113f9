/**
 * deploy.asl.json under AWS throttling: the handlers turn a throttled SDK call into Cutover.Transient
 * and every AWS-touching Task retries it with backoff. Faults are injected into the simulator
 * (sim.injectFault) on the ELBv2 ModifyListener call that ShiftTraffic makes.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configVariant, lambdaAttempts, SHORT_CANARY, TestTwin } from '../helpers/twin';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

describe('deploy: throttled ModifyListener, retried then succeeding', () => {
  it('succeeds, and the history shows two Cutover.Transient failures before the shift succeeds', async () => {
    // Prepare
    t = await TestTwin.start({ config: configVariant((env) => {
      env.strategy = SHORT_CANARY;
      delete env.test; // so that the first ModifyListener call is ShiftTraffic's, not PointTestListener's
    }) });
    t.sim.injectFault({ service: 'elbv2', operation: 'ModifyListener', error: 'ThrottlingException', times: 2 });
    // Act
    const { d, result } = await t.deploy();
    // Assess
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const events = t.history(d);
    const attempts = lambdaAttempts(events, 'ShiftTraffic');
    assert.deepEqual(attempts.slice(0, 3), [
      { type: 'LambdaFunctionFailed', error: 'Cutover.Transient' },
      { type: 'LambdaFunctionFailed', error: 'Cutover.Transient' },
      { type: 'LambdaFunctionSucceeded' },
    ]);
    const failure = events.find((e) => e.type === 'LambdaFunctionFailed')!.lambdaFunctionFailedEventDetails!;
    assert.match(failure.cause!, /ThrottlingException: Rate exceeded/);
    // Three ModifyListener calls for the first step (two throttled), one for the second.
    const modify = t.sim.calls.filter((c) => c.operation === 'ModifyListener');
    assert.equal(modify.length, 4);
    assert.deepEqual(t.weightsSet('green'), [10, 10, 10, 100]);
    assert.deepEqual(t.weights(), { blue: 0, green: 100 });
    assert.equal((await t.record(d))?.status, 'succeeded');
  });
});

describe('deploy: throttling that outlasts the retries', () => {
  it('rolls back after 1 + 6 attempts, with traffic on blue and the cause naming the throttling', async () => {
    t = await TestTwin.start({ config: configVariant((env) => {
      env.databaseFailurePolicy = 'keep';
      delete env.test; // so that the first ModifyListener calls are ShiftTraffic's, not PointTestListener's
    }) });
    // ShiftTraffic's 7 attempts are throttled; the rollback's own ModifyListener then goes through.
    t.sim.injectFault({ service: 'elbv2', operation: 'ModifyListener', error: 'ThrottlingException', times: 7 });
    const { d, result } = await t.deploy();
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /ThrottlingException: Rate exceeded/);
    const attempts = lambdaAttempts(t.history(d), 'ShiftTraffic');
    assert.equal(attempts.length, 7);
    assert.ok(attempts.every((a) => a.error === 'Cutover.Transient'));
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.equal(t.desiredCount('green'), 0);
    assert.equal((await t.record(d))?.status, 'rolled-back');
  });
});
