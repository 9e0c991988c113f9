/**
 * After a promotion: the rollback window (rollback-window.asl.json) and the rollback state machine
 * (rollback.asl.json), run in the twin with the real deploy state machine and handlers.
 *  - an alarm inside the window flips production back to the kept slot at once (alarm → alarm function
 *    → rollback execution), and scales the rolled-back slot down;
 *  - the window's end scales the kept slot down; a new deployment inside the window takes the slot over;
 *  - an alarm after the window redeploys the last known good release (`alarmAfterWindow: redeploy`)
 *    or only notifies (`notify`, the default);
 *  - an operator's rollback to a named deployment redeploys it; bad input names the field; a rollback
 *    beside a running deployment is refused; the database policy `approve` asks with the data-loss window.
 * Each asserts production weights, desired counts, images, records and the environment state.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { sfnClient } from '../../lib/aws/clients';
import type { RollbackInput } from '../../lib/domain/rollback-input';
import type { ExecutionDescription } from '../../lib/local/stepfunctions/service';
import { ALARM_5XX, configVariant, deployInput, setAlarm, ENVIRONMENT, SERVICE, TestTwin, type StartedDeployment } from '../helpers/twin';
import { createHash } from 'node:crypto';

const ALARM = ALARM_5XX;

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** A fast all-at-once environment (no bake) with policy keep and the given window. */
const fastConfig = (edit: (env: Record<string, any>) => void = () => {}) =>
  configVariant((env) => {
    env.databaseFailurePolicy = 'keep';
    env.strategy = { type: 'all-at-once' };
    edit(env);
  });

/** Executions of a cutover state machine (`rollback`, `rollback-window`), oldest first. */
function executionsOf(twin: TestTwin, name: 'rollback' | 'rollback-window' | 'deploy') {
  return twin.twin.sfn.listExecutions({ stateMachineArn: twin.twin.stateMachineArns[name], maxResults: 100 }).executions.slice().reverse();
}

function startRollback(twin: TestTwin, input: Partial<RollbackInput> | string, name = `rb-${Math.random().toString(16).slice(2, 8)}`): StartedDeployment {
  const text = typeof input === 'string' ? input : JSON.stringify({ service: SERVICE, environment: ENVIRONMENT, reason: 'checkout errors', ...input });
  const { executionArn } = twin.twin.sfn.startExecution({ stateMachineArn: twin.twin.stateMachineArns.rollback, name, input: text });
  return { executionArn, name, input: undefined };
}

/** Wait for the first execution of `machine` to close (started by something else, e.g. the alarm function). */
async function firstExecutionResult(twin: TestTwin, machine: 'rollback' | 'rollback-window'): Promise<ExecutionDescription> {
  const started = await twin.waitFor(`a ${machine} execution`, () => executionsOf(twin, machine)[0]);
  return twin.twin.sfn.waitForExecution(started.executionArn!);
}

describe('rollback window: an alarm after the promotion, inside the window', () => {
  it('flips 100% back to the kept slot (blue) at once, scales green down, and records who and why', async () => {
    t = await TestTwin.start({ config: fastConfig((env) => (env.rollbackWindowSeconds = 3600)) });
    const blueImage = t.imageOf('blue');
    const { d, result } = await t.deploy(deployInput({ message: 'v2' }));
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.deepEqual(t.weights(), { blue: 0, green: 100 });
    assert.ok(t.desiredCount('blue') > 0, 'the kept slot still runs the previous release');
    const env = await t.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT);
    assert.equal(env?.rollbackWindow?.keptSlot, 'blue');
    assert.equal(env?.rollbackWindow?.deploymentId, d.name);

    await setAlarm('ALARM');
    const rb = await firstExecutionResult(t, 'rollback');

    assert.equal(rb.status, 'SUCCEEDED', `${rb.error}: ${rb.cause}`);
    assert.match(rb.name, /^alarm-/, 'named after the alarm event (a redelivery starts nothing twice)');
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.equal(t.desiredCount('green'), 0, 'the rolled-back release was scaled down');
    assert.equal(t.imageOf('blue'), blueImage, 'blue still runs the release it kept');
    assert.equal(executionsOf(t, 'deploy').length, 1, 'no redeploy: the kept slot was enough');
    const rollbackStates = t.statesEntered({ executionArn: rb.executionArn, name: rb.name, input: undefined });
    assert.ok(rollbackStates.includes('FlipToKeptSlot') && !rollbackStates.includes('Redeploy'));

    const after = await t.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT);
    assert.equal(after?.liveSlot, 'blue');
    assert.equal(after?.current?.source, 'rollback');
    assert.equal(after?.rollbackWindow, undefined, 'the window is used up');
    const records = await t.twin.ledger.history(SERVICE, ENVIRONMENT);
    const rbRecord = records.find((r) => r.deploymentId === rb.name);
    assert.equal(rbRecord?.kind, 'rollback');
    assert.equal(rbRecord?.status, 'rolled-back');
    assert.equal(rbRecord?.trigger.actor, `alarm:${ALARM}`);
    assert.match(rbRecord?.message ?? '', /100% on the kept slot blue/);
    assert.equal(records.find((r) => r.deploymentId === d.name)?.rolledBackBy, rb.name);
    const timeline = await t.twin.ledger.timeline(SERVICE, ENVIRONMENT);
    assert.ok(timeline.some((e) => e.kind === 'alarm' && e.actor === `alarm:${ALARM}` && /rollback-started/.test(e.message)));
    assert.ok(timeline.some((e) => e.kind === 'rollback-finished' && e.deploymentId === rb.name));
    assert.equal(await t.lock(), undefined);
  });
});

describe('rollback window: its end', () => {
  it('scales the kept slot down to 0 when the window is over, and an alarm then only notifies (default alarmAfterWindow)', async () => {
    t = await TestTwin.start({ config: fastConfig((env) => (env.rollbackWindowSeconds = 120)) });
    const { d, result } = await t.deploy();
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const closer = await firstExecutionResult(t, 'rollback-window');
    assert.equal(closer.status, 'SUCCEEDED', `${closer.error}: ${closer.cause}`);
    assert.equal(t.desiredCount('blue'), 0, 'kept slot scaled down at the end of the window');
    assert.deepEqual(t.weights(), { blue: 0, green: 100 });
    assert.equal((await t.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT))?.rollbackWindow, undefined);
    assert.ok((await t.twin.ledger.timeline(SERVICE, ENVIRONMENT)).some((e) => e.kind === 'rollback-window-closed' && e.deploymentId === d.name));

    const published = t.sim.sns.published.length;
    await setAlarm('ALARM');
    await t.waitFor('the alarm notification', () => t!.sim.sns.published.slice(published).find((m) => m.attributes.kind === 'alarm'));
    assert.equal(executionsOf(t, 'rollback').length, 0, 'notify: no automatic rollback after the window');
    const note = t.sim.sns.published.slice(published).find((m) => m.attributes.kind === 'alarm')!;
    assert.match(note.message, /cutover rollback hello-world production/);
    assert.deepEqual(t.weights(), { blue: 0, green: 100 });
    // The alarm function writes its audit entry after the notification: wait for it (the twin's stop
    // also waits for running handlers, so nothing writes to a closed table).
    await t.waitFor('the alarm audit entry', async () => (await t!.twin.ledger.timeline(SERVICE, ENVIRONMENT)).find((e) => e.kind === 'alarm' && /notified/.test(e.message ?? '')));
  });

  it('a kept slot that cannot be scaled down: the lock is released, the failure is audited and notified with the slot and the command that scales it down', async () => {
    t = await TestTwin.start({ config: fastConfig((env) => (env.rollbackWindowSeconds = 120)) });
    const { d, result } = await t.deploy();
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const published = t.sim.sns.published.length;
    t.sim.injectFault({ service: 'ecs', operation: 'UpdateService', error: 'AccessDeniedException', times: 50 });
    const closer = await firstExecutionResult(t, 'rollback-window');
    assert.equal(closer.status, 'FAILED');
    assert.equal(closer.error, 'Cutover.RollbackWindowCloseFailed');
    assert.match(closer.cause!, /^hello-world\/production: the rollback window of .* ended, but scaling blue \(ECS service hello-world-blue in cluster [^)]+\) down failed \(.*AccessDenied.*\)\. It keeps running the previous release/);
    assert.equal(await t.lock(), undefined, 'the lock is released');
    assert.equal(t.desiredCount('blue'), 2, 'the kept slot still runs');
    const failed = (await t.twin.ledger.timeline(SERVICE, ENVIRONMENT)).find((e) => e.kind === 'rollback-window-close-failed');
    assert.equal(failed?.deploymentId, d.name);
    const note = t.sim.sns.published.slice(published).find((m) => m.attributes.kind === 'failed');
    assert.ok(note, 'notified');
    assert.match(note.message, /aws ecs update-service --cluster \S+ --service hello-world-blue --desired-count 0/);
  });

  it('a closer that finds the environment busy for 24 h gives up: recorded and notified with the scale-down command, the busy deployment\'s lock untouched', async () => {
    // 20,000 simulated seconds per real second: the window (1 d) and the busy day pass in ~9 s real.
    t = await TestTwin.start({
      timeScale: 20_000,
      config: fastConfig((env) => {
        env.rollbackWindowSeconds = 86_400;
        env.approval = 'before-traffic';
        env.approvalTimeoutSeconds = 604_800;
      }),
    });
    const approveWhenAsked = async (d: StartedDeployment) => {
      const lock = await t!.waitFor('the approval wait', async () => {
        const l = await t!.lock();
        return l?.executionArn === d.executionArn && l.pendingKind === 'approval' && l.pendingTaskToken ? l : undefined;
      });
      await sfnClient().send(new SendTaskSuccessCommand({ taskToken: lock.pendingTaskToken!, output: JSON.stringify({ approved: true, operator: 'ada' }) }));
    };
    const v2 = t.startDeployment(deployInput({ message: 'v2' }));
    await approveWhenAsked(v2);
    assert.equal((await t.wait(v2)).status, 'SUCCEEDED');
    // v3 holds the lock, waiting for an approval that does not come (for 7 days).
    const v3 = t.startDeployment(deployInput({ message: 'v3' }));
    await t.waitFor('v3 waiting for approval', async () => (await t!.lock())?.executionArn === v3.executionArn && (await t!.lock())?.pendingKind === 'approval');
    const published = t.sim.sns.published.length;
    const closer = await firstExecutionResult(t, 'rollback-window');
    assert.equal(closer.status, 'FAILED');
    assert.equal(closer.error, 'Cutover.RollbackWindowCloseFailed');
    assert.match(closer.cause!, /^hello-world\/production: the rollback window of .* ended, but a deployment or rollback has held hello-world\/production for 24 h since the rollback window of .* ended \(.*\); the closer stops trying\. If that execution deployed, the kept slot is its own now/);
    const closerHistory = t.twin.sfn.getExecutionHistory({ executionArn: closer.executionArn, maxResults: 1000 }).events;
    assert.ok(closerHistory.length < 1000, `${closerHistory.length} history events`);
    const tries = closerHistory.filter((e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === 'CloseWindow').length;
    assert.ok(tries > 10 && tries < 80, `${tries} tries`);
    assert.equal((await t.lock())?.executionArn, v3.executionArn, 'v3 still holds its lock');
    const failed = (await t.twin.ledger.timeline(SERVICE, ENVIRONMENT)).find((e) => e.kind === 'rollback-window-close-failed');
    assert.ok(failed, 'audited');
    const note = t.sim.sns.published.slice(published).find((m) => m.attributes.kind === 'failed');
    assert.match(note?.message ?? '', /aws ecs update-service --cluster \S+ --service hello-world-\w+ --desired-count 0/);
  });

  it('a new deployment inside the window takes the kept slot over; the old window closer then does nothing', async () => {
    t = await TestTwin.start({ config: fastConfig((env) => (env.rollbackWindowSeconds = 600)) });
    const first = await t.deploy(deployInput({ message: 'v2' }));
    assert.equal(first.result.status, 'SUCCEEDED');
    const second = await t.deploy(deployInput({ message: 'v3' }));
    assert.equal(second.result.status, 'SUCCEEDED', `${second.result.error}: ${second.result.cause}`);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 }, 'v3 went to blue, the slot v2 kept');
    const firstCloser = executionsOf(t, 'rollback-window')[0]!;
    const closed = await t.twin.sfn.waitForExecution(firstCloser.executionArn!);
    assert.equal(closed.status, 'SUCCEEDED');
    assert.equal(JSON.parse(closed.output!).close.action, 'superseded');
    assert.ok(t.desiredCount('blue') > 0, 'the live v3 was not scaled down by v2\'s window');
  });
});

describe('rollback: an alarm after the window, alarmAfterWindow redeploy', () => {
  it('redeploys the last known good release (all at once, no migrations) and marks the bad one rolled back', async () => {
    t = await TestTwin.start({
      config: fastConfig((env) => {
        env.rollbackWindowSeconds = 60;
        env.alarmAfterWindow = 'redeploy';
      }),
    });
    const good = deployInput({ message: 'v2 good' });
    const v2 = await t.deploy(good);
    assert.equal(v2.result.status, 'SUCCEEDED');
    const v3 = await t.deploy(deployInput({ message: 'v3 bad' }));
    assert.equal(v3.result.status, 'SUCCEEDED');
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    // Both windows end: the kept slot (green, v2) is scaled down; only a redeploy can bring v2 back.
    await t.waitFor('v3 window closed', async () => (await t!.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT))?.rollbackWindow === undefined && t!.desiredCount('green') === 0);
    const windows = executionsOf(t, 'rollback-window');
    for (const w of windows) await t.twin.sfn.waitForExecution(w.executionArn!);

    await setAlarm('ALARM');
    const rb = await firstExecutionResult(t, 'rollback');

    assert.equal(rb.status, 'SUCCEEDED', `${rb.error}: ${rb.cause}`);
    const deploys = executionsOf(t, 'deploy');
    assert.equal(deploys.length, 3, 'the rollback started one deploy execution');
    const redeploy = deploys[2]!;
    // Named after a SHA-1 of the rollback's execution name: deterministic and within 80 characters.
    assert.equal(redeploy.name, `${createHash('sha1').update(rb.name).digest('hex')}-redeploy`);
    const redeployInput = JSON.parse(t.twin.sfn.describeExecution({ executionArn: redeploy.executionArn! }).input!);
    assert.equal(redeployInput.release.commit, good.release.commit, 'the last known good release');
    assert.equal(redeployInput.release.migrations, false);
    assert.deepEqual(redeployInput.strategy, { type: 'all-at-once', bakeSeconds: 0 });
    assert.equal(redeployInput.trigger.source, 'rollback');
    assert.equal(redeployInput.trigger.of, v3.d.name);

    assert.deepEqual(t.weights(), { blue: 0, green: 100 }, 'v2 again, on green');
    assert.equal(t.imageOf('green'), t.releaseImage(good.release.commit));
    const redeployStates = t.statesEntered({ executionArn: redeploy.executionArn!, name: redeploy.name!, input: undefined });
    assert.ok(!redeployStates.includes('RunMigration'), 'no migrations on a rollback redeploy');
    assert.ok(!redeployStates.includes('AwaitApproval'));
    const records = await t.twin.ledger.history(SERVICE, ENVIRONMENT);
    assert.equal(records.find((r) => r.deploymentId === v3.d.name)?.rolledBackBy, rb.name);
    assert.equal(records.find((r) => r.deploymentId === rb.name)?.status, 'rolled-back');
    const env = await t.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT);
    assert.equal(env?.current?.commit, good.release.commit);
    assert.equal(env?.current?.source, 'rollback');
    assert.equal(env?.rollbackWindow, undefined, 'a redeploy keeps no window on the bad release');
    await t.waitFor('blue (the bad release) scaled down', () => t!.desiredCount('blue') === 0);
  });
});

describe('rollback: started by an operator', () => {
  it('to a named earlier deployment while the window is open: redeploys that one, not the kept slot', async () => {
    t = await TestTwin.start({ config: fastConfig((env) => (env.rollbackWindowSeconds = 3600)) });
    const v2input = deployInput({ message: 'v2' });
    const v2 = await t.deploy(v2input);
    await t.deploy(deployInput({ message: 'v3' }));
    await t.deploy(deployInput({ message: 'v4' }));
    assert.deepEqual(t.weights(), { blue: 0, green: 100 });
    const rb = startRollback(t, { toDeployment: v2.d.name, reason: 'v3 and v4 corrupt carts', trigger: { source: 'cli', actor: 'ada' } });
    const result = await t.wait(rb);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.ok(t.statesEntered(rb).includes('Redeploy'));
    const live = (await t.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT))!;
    assert.equal(live.current?.commit, v2input.release.commit);
    assert.equal(t.weights()[live.liveSlot], 100);
    assert.match(JSON.parse(result.output!).message, /rolled back by ada/);
  });

  it('rejects bad input naming the field, and changes nothing', async () => {
    t = await TestTwin.start({ config: fastConfig() });
    const rb = startRollback(t, JSON.stringify({ service: SERVICE, environment: ENVIRONMENT }));
    const result = await t.wait(rb);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.InvalidInput');
    assert.match(result.cause!, /reason: required/);
    const unknownEnv = await t.wait(startRollback(t, { environment: 'staging' }));
    assert.match(unknownEnv.cause!, /environment: "staging" is not configured/);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.equal(await t.lock(), undefined);
  });

  it('with nothing promoted yet: fails with Cutover.NothingToRollBack and changes nothing', async () => {
    t = await TestTwin.start({ config: fastConfig() });
    const result = await t.wait(startRollback(t, {}));
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.NothingToRollBack');
    assert.match(result.cause!, /no release has been promoted/);
    assert.equal(await t.lock(), undefined);
  });

  it('refuses to run beside a running deployment and says to abort it instead', async () => {
    t = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = 'keep')) });
    await t.deploy();
    const running = t.startDeployment();
    await t.untilStateEntered(running, 'Bake');
    const result = await t.wait(startRollback(t, {}));
    assert.equal(result.error, 'Cutover.DeploymentInProgress');
    assert.match(result.cause!, /abort it instead/);
    assert.equal((await t.lock())?.deploymentId, running.name, 'the deployment keeps its lock');
  });
});

describe('rollback: database policy approve', () => {
  it('asks with the data-loss window (writes since the snapshot), then restores on "restore"', async () => {
    t = await TestTwin.start({ config: fastConfig((env) => {
      env.rollbackWindowSeconds = 3600;
      env.databaseFailurePolicy = 'approve';
    }) });
    const { result } = await t.deploy();
    assert.equal(result.status, 'SUCCEEDED');
    const env = await t.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT);
    const snapshot = env?.current?.snapshot?.identifier;
    assert.ok(snapshot, 'the promoted release ran migrations after a snapshot');
    const rb = startRollback(t, { reason: 'bad data', trigger: { source: 'cli', actor: 'ada' } });
    const lock = await t.waitFor('the database decision', async () => {
      const l = await t!.lock();
      return l?.pendingKind === 'database-decision' ? l : undefined;
    });
    assert.match(lock.pendingQuestion!, new RegExp(`Restore snapshot ${snapshot} \\(discards every write made since \\d{4}-\\d\\d-\\d\\dT[^ ]+( \\(the last \\d+ min\\))?\\)`));
    assert.deepEqual(t.weights(), { blue: 100, green: 0 }, 'traffic is already back before the database question');
    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: lock.pendingTaskToken!, output: JSON.stringify({ decision: 'restore', operator: 'ada' }) }));
    const done = await t.wait(rb);
    assert.equal(done.status, 'SUCCEEDED', `${done.error}: ${done.cause}`);
    assert.ok(t.statesEntered(rb).includes('DatabaseRestored'));
    assert.match(JSON.parse(done.output!).message, new RegExp(`Database: restored from snapshot ${snapshot}`));
  });
});
