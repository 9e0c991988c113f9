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
import { APPROVER_ARN, configVariant, DEVELOPER_ARN, TestTwin } from '../helpers/twin';

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

describe('deploy: approvers (the approval function checks who approves)', () => {
  const withApprovers = () => gated('before-traffic', (env) => (env.approvers = ['release-managers']));

  it('refuses an approval by a principal who is not an approver, then goes on when an approver approves', async () => {
    t = await TestTwin.start({ config: withApprovers() });
    const d = t.startDeployment();
    await approvalWait(t);

    const refused = await t.callApproval({ decision: 'approve', operator: 'bob' }, DEVELOPER_ARN);
    assert.equal(refused.status, 403);
    assert.match(refused.body.message, /arn:aws:sts::123456789012:assumed-role\/developers\/bob is not an approver of hello-world\/production: its approvers are arn:aws:iam::123456789012:role\/release-managers/);
    assert.equal((await t.lock())?.pendingKind, 'approval', 'still waiting: the refusal answered nothing');
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    const rejectRefused = await t.callApproval({ decision: 'reject', operator: 'bob', reason: 'no' }, DEVELOPER_ARN);
    assert.equal(rejectRefused.status, 403, 'a non-approver cannot reject either');

    const approved = await t.callApproval({ decision: 'approve', operator: 'ada', comment: 'release notes read' }, APPROVER_ARN);
    assert.equal(approved.status, 200, approved.body.message);
    assert.equal(approved.body.matched, 'arn:aws:iam::123456789012:role/release-managers');
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.ok(t.statesEntered(d).includes('VerifyApproval'));

    const record = await t.record(d);
    assert.deepEqual(record?.approvers, ['arn:aws:iam::123456789012:role/release-managers']);
    assert.equal(record?.approval?.callerArn, APPROVER_ARN);
    assert.equal(record?.approval?.by, 'ada');
    assert.equal(record?.approval?.comment, 'release notes read');
    const timeline = await t.twin.ledger.timeline('hello-world', 'production', { deploymentId: d.name });
    const refusals = timeline.filter((e) => e.kind === 'operator-action' && e.caller === DEVELOPER_ARN).map((e) => e.message);
    assert.equal(refusals.length, 2, `both refusals audited: ${refusals.join(' | ')}`);
    assert.ok(refusals.some((m) => /^bob \(arn:aws:sts::123456789012:assumed-role\/developers\/bob\) may not approve deployment .*: not an approver$/.test(m)), refusals.join(' | '));
    const approval = timeline.find((e) => e.kind === 'operator-action' && e.caller === APPROVER_ARN && /approved/.test(e.message));
    assert.equal(approval?.actor, 'ada');
  });

  it('two approvers at once: the first approval counts, the other is told so, and the deployment goes on', async () => {
    t = await TestTwin.start({ config: withApprovers() });
    const d = t.startDeployment();
    await approvalWait(t);
    const [a, b] = await Promise.all([
      t.callApproval({ decision: 'approve', operator: 'ada' }, APPROVER_ARN),
      t.callApproval({ decision: 'approve', operator: 'grace' }, 'arn:aws:sts::123456789012:assumed-role/release-managers/grace'),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 409], `${a.body.message} | ${b.body.message}`);
    assert.match((a.status === 409 ? a : b).body.message, /approved already|ended before the answer/);
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const record = await t.record(d);
    assert.equal(record?.approval?.by, a.status === 200 ? 'ada' : 'grace', 'the record names the approval that answered the wait');
  });

  it('an answer sent around the approval function (SendTaskSuccess from the console) is not an approval: rolled back, no production traffic', async () => {
    t = await TestTwin.start({ config: withApprovers() });
    const d = t.startDeployment();
    const lock = await approvalWait(t);
    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: lock.pendingTaskToken!, output: JSON.stringify({ approved: true, operator: 'mallory', callerArn: APPROVER_ARN }) }));
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /did not come through the approval function/);
    assert.ok(t.weightsSet('green').every((w) => w === 0), `green never got production traffic: ${t.weightsSet('green')}`);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    const record = await t.record(d);
    assert.equal(record?.status, 'rolled-back');
    assert.match(record?.message ?? '', /did not come through the approval function/);
  });

  it('an approver rejects with a reason through the function: rolled back, recorded with the caller', async () => {
    t = await TestTwin.start({ config: withApprovers() });
    const d = t.startDeployment();
    await approvalWait(t);
    const rejected = await t.callApproval({ decision: 'reject', operator: 'ada', reason: 'migration not reviewed' });
    assert.equal(rejected.status, 200, rejected.body.message);
    const result = await t.wait(d);
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /migration not reviewed \(rejected by ada, arn:aws:sts::123456789012:assumed-role\/release-managers\/ada\)/);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
  });

  it('answers 404 with nothing running, 409 when the deployment waits for something else, 400 naming a bad field', async () => {
    t = await TestTwin.start({ config: withApprovers(), autoPushImages: false });
    const none = await t.callApproval({ decision: 'approve' });
    assert.equal(none.status, 404);
    assert.match(none.body.message, /no deployment of hello-world\/production is running/);
    t.startDeployment();
    await t.waitFor('the image wait', async () => ((await t!.lock())?.pendingKind === 'image' ? true : undefined));
    const early = await t.callApproval({ decision: 'approve' });
    assert.equal(early.status, 409);
    assert.match(early.body.message, /is not waiting for an approval \(it waits for image\)/);
    const bad = await t.callApproval({ decision: 'approve', environment: 'Production' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /environment: use the service or environment name/);
    const noReason = await t.callApproval({ decision: 'reject' });
    assert.equal(noReason.status, 400);
    assert.match(noReason.body.message, /reason: say why/);
  });
});
