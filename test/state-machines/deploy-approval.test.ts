/**
 * deploy.asl.json approval gates: `before-traffic` (the new release is up, no production traffic) and
 * `before-promote` (after the canary bake, before 100%). Approved, rejected (with a reason), timed out,
 * an alarm while waiting, and an abort requested before the wait. Each asserts the production weights,
 * the record, the lock's pending wait and the notification that says how to act.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { cloudWatchClient, sfnClient } from '../../lib/aws/clients';
import type { LockItem } from '../../lib/aws/ledger';
import { configVariant, TestTwin } from '../helpers/twin';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

const gated = (gate: 'before-traffic' | 'before-promote', edit: (env: Record<string, any>) => void = () => {}) =>
  configVariant((env) => {
    env.databaseFailurePolicy = 'keep';
    env.approval = gate;
    edit(env);
  });

async function approvalWait(twin: TestTwin): Promise<LockItem> {
  return twin.waitFor('the approval wait', async () => {
    const lock = await twin.lock();
    return lock?.pendingKind === 'approval' && lock.pendingTaskToken ? lock : undefined;
  });
}

describe('deploy: approval before traffic', () => {
  it('waits with no production traffic on green, notifies how to act, and continues once approved', async () => {
    t = await TestTwin.start({ config: gated('before-traffic') });
    const d = t.startDeployment();
    const lock = await approvalWait(t);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 }, 'no production traffic before approval');
    assert.deepEqual(t.weights('test'), { blue: 0, green: 100 }, 'the test listener already points at green');
    assert.match(lock.pendingQuestion!, /waits for approval before any production traffic/);
    const note = await t.waitFor('a notification that says what is waiting', () => t!.sim.sns.published.find((m) => m.attributes.kind === 'awaiting-approval'));
    assert.match(note.message, /cutover approve hello-world production/);
    assert.match(note.message, /cutover reject hello-world production --reason/);

    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: lock.pendingTaskToken!, output: JSON.stringify({ approved: true, operator: 'ada' }) }));
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.deepEqual(t.weightsSet('green'), [10, 100]);
    const states = t.statesEntered(d);
    assert.equal(states.filter((s) => s === 'AwaitApproval').length, 1, 'asked once');
    assert.ok(states.indexOf('AwaitApproval') < states.indexOf('ShiftTraffic'));
    const timeline = await t.twin.ledger.timeline('hello-world', 'production', { deploymentId: d.name });
    assert.ok(timeline.some((e) => e.kind === 'operator-action' && e.actor === 'ada' && /approved/.test(e.message)));
  });

  it('rejected with a reason: rolls back without ever moving production traffic; the record has the reason', async () => {
    t = await TestTwin.start({ config: gated('before-traffic') });
    const d = t.startDeployment();
    const lock = await approvalWait(t);
    await sfnClient().send(new SendTaskFailureCommand({ taskToken: lock.pendingTaskToken!, error: 'Cutover.Rejected', cause: 'schema change not reviewed (rejected by grace)' }));
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /schema change not reviewed \(rejected by grace\)/);
    assert.ok(t.weightsSet('green').every((w) => w === 0), `green never got production traffic: ${t.weightsSet('green')}`);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.equal(t.desiredCount('green'), 0);
    assert.equal((await t.record(d))?.status, 'rolled-back');
    const timeline = await t.twin.ledger.timeline('hello-world', 'production', { deploymentId: d.name });
    assert.ok(timeline.some((e) => e.kind === 'operator-action' && e.actor === 'grace' && /rejected/.test(e.message)));
    assert.equal(await t.lock(), undefined);
  });

  it('timed out: no answer within approvalTimeoutSeconds rolls back with Cutover.ApprovalTimedOut', async () => {
    t = await TestTwin.start({ config: gated('before-traffic', (env) => (env.approvalTimeoutSeconds = 120)) });
    const d = t.startDeployment();
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /no operator approved the deployment within 120 seconds/);
    assert.ok(t.statesEntered(d).includes('ApprovalTimedOut'));
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.equal((await t.record(d))?.status, 'rolled-back');
  });

  it('an abort requested before the wait (cutover abort outside a wait) fails the approval at once', async () => {
    t = await TestTwin.start({ config: gated('before-traffic') });
    const d = t.startDeployment();
    await t.untilStateEntered(d, 'DeployGreen');
    const lock = (await t.lock())!;
    assert.equal(await t.twin.ledger.requestAbort('hello-world', 'production', lock.executionArn, { by: 'ada', reason: 'wrong branch', at: new Date().toISOString() }), true);
    const result = await t.wait(d);
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /wrong branch \(aborted by ada\)/);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
  });
});

describe('deploy: approval before promote', () => {
  it('bakes the canary first, waits at 10%, then promotes once approved', async () => {
    t = await TestTwin.start({ config: gated('before-promote') });
    const d = t.startDeployment();
    const lock = await approvalWait(t);
    assert.deepEqual(t.weights(), { blue: 90, green: 10 }, 'the canary step ran');
    assert.match(lock.pendingQuestion!, /at 10%, before it takes 100% of production traffic/);
    assert.ok(t.statesEntered(d).includes('CheckAlarms'), 'the canary baked before the gate');
    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: lock.pendingTaskToken!, output: JSON.stringify({ approved: true, operator: 'ada' }) }));
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.deepEqual(t.weights(), { blue: 0, green: 100 });
  });

  it('an alarm while waiting for approval rolls back at once (the alarm function fails the approval wait)', async () => {
    t = await TestTwin.start({ config: gated('before-promote') });
    const d = t.startDeployment();
    await approvalWait(t);
    await cloudWatchClient().send(new SetAlarmStateCommand({ AlarmName: 'hello-world-production-5xx', StateValue: 'ALARM', StateReason: 'Threshold Crossed: 5xx' }));
    const result = await t.wait(d);
    assert.equal(result.error, 'Cutover.RolledBackOnAlarm');
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
  });

  it('an all-at-once deployment waits before its only step', async () => {
    t = await TestTwin.start({ config: gated('before-promote', (env) => (env.strategy = { type: 'all-at-once' })) });
    const d = t.startDeployment();
    const lock = await approvalWait(t);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: lock.pendingTaskToken!, output: JSON.stringify({ approved: true, operator: 'ada' }) }));
    assert.equal((await t.wait(d)).status, 'SUCCEEDED');
    assert.deepEqual(t.weights(), { blue: 0, green: 100 });
  });
});
