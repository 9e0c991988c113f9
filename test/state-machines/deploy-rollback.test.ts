/**
 * deploy.asl.json rolling back: green never becomes stable, an alarm fires during the canary bake (the
 * alarm event reaches the `alarm` function, which ends the bake at once), an alarm is already in ALARM
 * as the bake starts, an alarm is already firing before any traffic moves. Each asserts where production traffic is,
 * what green runs, and the deployment record — not only the execution status.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { sfnClient } from '../../lib/aws/clients';
import { ALARM_5XX, configVariant, deployInput, setAlarm, TestTwin } from '../helpers/twin';

const ALARM = ALARM_5XX;

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

describe('deploy: green never becomes stable', () => {
  it('rolls back with Cutover.RolledBack naming the service; no traffic moved; green scaled to 0', async () => {
    // Prepare: the release's image crashes on start (its migration, a one-off task, still exits 0).
    t = await TestTwin.start({
      config: configVariant((env) => {
        env.databaseFailurePolicy = 'keep';
        env.stabilizationTimeoutSeconds = 60;
      }),
    });
    const input = deployInput();
    t.sim.ecs.setImageHealth(t.pushImage(input.release.commit), 'crash');
    t.sim.ecs.setRunTaskOutcome(() => ({ exitCode: 0 }));
    // Act
    const { d, result } = await t.deploy(input);
    // Assess
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /hello-world-green did not become stable/);
    assert.match(result.cause!, /unable to consistently start tasks/);
    const states = t.statesEntered(d);
    assert.equal(states.filter((s) => s === 'CheckGreen').length, 4, 'stabilizationTimeoutSeconds 60 / 15 s checks');
    assert.ok(states.includes('GreenNeverStable'));
    assert.ok(!states.includes('ShiftTraffic'));
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.ok(t.weightsSet('green').every((w) => w === 0), `green never got traffic: ${t.weightsSet('green')}`);
    assert.equal(t.desiredCount('green'), 0, 'green scaled down');
    assert.equal(t.desiredCount('blue'), 2);
    const record = await t.record(d);
    assert.equal(record?.status, 'rolled-back');
    assert.equal(record?.error, 'Cutover.RolledBack');
    assert.equal(record?.liveSlot, 'blue');
    assert.equal(await t.lock(), undefined);
  });
});

describe('deploy: alarm during the canary bake, policy keep', () => {
  it('rolls back at once on the alarm event (not at the bake end): 100% back on blue, green at 0, record names the alarm', async () => {
    t = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = 'keep')) });
    const d = t.startDeployment();
    // The alarm fires mid-bake: once the bake's task token is on the lock, where the alarm function finds it.
    let lock = await t.lock();
    for (let i = 0; i < 4000 && lock?.pendingKind !== 'bake'; i++) {
      await new Promise((r) => setTimeout(r, 5));
      lock = await t.lock();
    }
    assert.equal(lock?.pendingKind, 'bake', 'the bake stored its task token on the lock');
    assert.match(lock!.pendingQuestion!, /baking at 10% for 300 s/);
    // …and once the bake's own alarm check (the DescribeAlarms after the canary's ModifyListener) is
    // done: an alarm set before it would be caught by that check instead of by the event.
    // (The production listener's ModifyListener: PointTestListener modifies the test listener first, and
    // PreflightAlarms' DescribeAlarms follows that one — under load, before the bake's own check.)
    const production = (t.env as { production: { listenerArn: string } }).production.listenerArn;
    const bakeCheckDone = () => {
      const shift = t!.sim.calls.findIndex((c) => c.operation === 'ModifyListener' && (c.input as { ListenerArn?: string } | undefined)?.ListenerArn === production);
      return shift >= 0 && t!.sim.calls.slice(shift).some((c) => c.operation === 'DescribeAlarms');
    };
    for (let i = 0; i < 4000 && !bakeCheckDone(); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(bakeCheckDone(), 'the bake checked the alarms as it started');
    await new Promise((r) => setTimeout(r, 20)); // let that invocation return
    await setAlarm('ALARM');
    const result = await t.wait(d);

    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBackOnAlarm');
    assert.match(result.cause!, new RegExp(`alarm ${ALARM} went to ALARM at .*: Threshold Crossed`));
    assert.deepEqual(t.weightsSet('green'), [10, 0], 'canary 10%, then back');
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.equal(t.desiredCount('green'), 0);
    assert.equal(t.desiredCount('blue'), 2);
    const states = t.statesEntered(d);
    assert.ok(!states.includes('CheckAlarms'), 'the bake did not run to its end: the alarm ended it');
    assert.equal(states.filter((s) => s === 'ShiftTraffic').length, 1, 'never reached 100%');
    assert.ok(!states.includes('Promote'));
    const record = await t.record(d);
    assert.equal(record?.status, 'rolled-back');
    assert.equal(record?.error, 'Cutover.RolledBackOnAlarm');
    assert.ok(record?.message?.includes(ALARM), record?.message);
    assert.equal(record?.liveSlot, 'blue');
    assert.equal(await t.lock(), undefined);
  });
});

describe('deploy: alarm already in ALARM as the bake starts (after the preflight check)', () => {
  it('fails the bake at its start: the race between the alarm and the stored token is closed', async () => {
    t = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = 'keep')) });
    const d = t.startDeployment();
    let alarmSet: Promise<unknown> | undefined;
    const unsubscribe = t.onStateEntered(d.name, 'ShiftTraffic', () => (alarmSet ??= setAlarm('ALARM')));
    const result = await t.wait(d);
    unsubscribe();
    await alarmSet;

    assert.equal(result.error, 'Cutover.RolledBackOnAlarm');
    assert.match(result.cause!, new RegExp(`alarm ${ALARM} (is in ALARM as the bake at 10% starts|went to ALARM)`));
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.ok(!t.statesEntered(d).includes('CheckAlarms'), 'rolled back without waiting for the bake to end');
  });
});

describe('deploy: alarm during the canary bake, policy approve', () => {
  it('rolls traffic back at once, then waits for the database decision', async () => {
    t = await TestTwin.start();
    const d = t.startDeployment();
    const unsubscribe = t.onStateEntered(d.name, 'Bake', () => void setAlarm('ALARM'));
    const pending = await t.pendingDecision(d);
    unsubscribe();

    // Waiting for the operator: traffic is already safe.
    assert.equal(t.twin.sfn.describeExecution({ executionArn: d.executionArn }).status, 'RUNNING');
    assert.equal(t.statesEntered(d).at(-1), 'AwaitDatabaseDecision');
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.equal(t.desiredCount('green'), 0);
    assert.match(pending.question, /failed after its migrations ran/);

    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: pending.token, output: JSON.stringify({ decision: 'keep', operator: 'ada' }) }));
    const result = await t.wait(d);
    assert.equal(result.error, 'Cutover.RolledBackOnAlarm');
    assert.match(result.cause!, /an operator \(ada\) chose to keep it/);
    const record = await t.record(d);
    assert.equal(record?.status, 'rolled-back');
    assert.ok(record?.message?.includes(ALARM));
    assert.equal(record?.pendingTaskToken, undefined);
  });
});

describe('deploy: alarm already firing before any traffic moves', () => {
  it('rolls back at PreflightAlarms without ever shifting traffic to green', async () => {
    t = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = 'keep')) });
    await setAlarm('ALARM');
    const { d, result } = await t.deploy();

    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBackOnAlarm');
    assert.match(result.cause!, new RegExp(`alarm ${ALARM} is in ALARM before traffic`));
    const states = t.statesEntered(d);
    assert.ok(states.includes('AlarmBeforeTraffic'));
    assert.ok(!states.includes('ShiftTraffic'));
    assert.ok(!states.includes('CheckAlarms'));
    const greenWeights = t.weightsSet('green');
    assert.ok(greenWeights.every((w) => w === 0), `no ModifyListener gave green traffic: ${greenWeights}`);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.equal(t.desiredCount('green'), 0, 'green was deployed, then scaled down');
    assert.equal((await t.record(d))?.status, 'rolled-back');
  });
});
