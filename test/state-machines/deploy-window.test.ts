/**
 * deploy.asl.json's change window (issue 13 part 2), executed on the twin: a deployment that passed its
 * gates outside its environment's windows, or in a freeze, waits until the next opening (a callback wait
 * whose timeout is the computed opening; `status` shows until when) having changed nothing, or is
 * refused (`outsideWindow: refuse`, recorded `refused`); an operator's override — at start or while it
 * waits — lets it through and is recorded; a rollback is never held by a freeze.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configVariant, deployInput, ENVIRONMENT, SERVICE, TestTwin, setAlarm, ALARM_5XX } from '../helpers/twin';
import { succeedTask } from '../../lib/aws/task-tokens';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

const DAY = 86_400;
const WINDOW_STATES = /^(ChangeWindowConfigured|CheckChangeWindow|WindowOpen|AwaitChangeWindow|WindowAnswer|AcceptWindowOverride|OutsideChangeWindow)$/;
/** A freeze from a day ago until `untilSeconds` from the real clock now (the twin's simulated clock starts at it). */
const freezeFor = (untilSeconds: number, reason = 'end-of-year freeze') => ({
  from: new Date(Date.now() - DAY * 1000).toISOString(),
  until: new Date(Date.now() + untilSeconds * 1000).toISOString(),
  reason,
});

const windowConfig = (edit: (env: Record<string, any>) => void) =>
  configVariant((env) => {
    env.databaseFailurePolicy = 'keep';
    env.strategy = { type: 'all-at-once' };
    delete env.scan;
    delete env.verify;
    delete env.test;
    edit(env);
  });

/** Writes to AWS other than the ledger's and notifications. */
const changes = (twin: TestTwin) => twin.writeCalls().filter((c) => c.service !== 'sns' && c.service !== 'ecr').map((c) => `${c.service}:${c.operation}`);

async function windowWait(twin: TestTwin, executionArn: string) {
  return twin.waitFor('the change-window wait', async () => {
    const lock = await twin.lock();
    return lock?.executionArn === executionArn && lock.pendingKind === 'window' && lock.pendingTaskToken ? lock : undefined;
  });
}

describe('deploy: change windows and freezes', () => {
  it('in a freeze: waits until it ends (status says until when), having changed nothing, then runs', async () => {
    const freeze = freezeFor(3 * DAY);
    t = await TestTwin.start({ config: windowConfig((env) => (env.freezes = [freeze])) });
    t.sim.calls.length = 0;
    const d = t.startDeployment(deployInput({ message: 'frozen' }));
    const lock = await windowWait(t, d.executionArn);
    assert.equal(lock.pendingUntil, new Date(freeze.until).toISOString(), 'the wait ends when the freeze does');
    assert.match(lock.pendingQuestion ?? '', /in the freeze "end-of-year freeze"/);
    assert.deepEqual(changes(t), [], 'nothing changed while waiting');
    assert.equal((await t.record(d))?.status, 'in-progress');

    t.twin.clock.advance(3 * DAY + 60);
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const states = t.statesEntered(d);
    assert.deepEqual(states.filter((s) => WINDOW_STATES.test(s)), ['ChangeWindowConfigured', 'CheckChangeWindow', 'WindowOpen', 'AwaitChangeWindow', 'CheckChangeWindow', 'WindowOpen']);
    const record = await t.record(d);
    assert.equal(record?.status, 'succeeded');
    assert.ok(record?.changesStartedAt && record.changesStartedAt >= freeze.until, `changes began after the freeze (${record?.changesStartedAt})`);
  });

  it('outside its weekly window with outsideWindow refuse: refused and recorded, nothing changed', async () => {
    // A window on no day near now: the one day of the week three days from now, for one minute.
    const soon = new Date(Date.now() + 3 * DAY * 1000);
    const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][soon.getUTCDay()]!;
    t = await TestTwin.start({ config: windowConfig((env) => {
      env.windows = [{ days: [day], start: '03:00', end: '03:01', timezone: 'UTC' }];
      env.outsideWindow = 'refuse';
    }) });
    t.sim.calls.length = 0;
    const { d, result } = await t.deploy(deployInput());
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.OutsideChangeWindow');
    assert.match(result.cause ?? '', /outside its change window \(\w{3} 03:00-03:01 UTC\); the next opening is/);
    assert.deepEqual(changes(t), []);
    const record = await t.record(d);
    assert.equal(record?.status, 'refused');
    assert.equal(record?.error, 'Cutover.OutsideChangeWindow');
    assert.match(record?.message ?? '', /--override-window/);
    assert.equal(await t.lock(), undefined, 'the lock is released');
  });

  it('an override given at start deploys through a freeze and records who and why', async () => {
    t = await TestTwin.start({ config: windowConfig((env) => {
      env.freezes = [freezeFor(10 * DAY)];
      env.outsideWindow = 'refuse';
    }) });
    const input = { ...deployInput(), windowOverride: { reason: 'CVE-2026-0001 hotfix', operator: 'alice' } };
    const { d, result } = await t.deploy(input);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const record = await t.record(d);
    assert.equal(record?.windowOverride?.by, 'alice');
    assert.equal(record?.windowOverride?.reason, 'CVE-2026-0001 hotfix');
    const timeline = await t.twin.ledger.timeline(SERVICE, ENVIRONMENT, { deploymentId: d.name });
    const overrideEvent = timeline.find((e) => e.detail?.action === 'override-window');
    assert.ok(overrideEvent, 'the override is on the audit timeline');
    assert.equal(overrideEvent.actor, 'alice');
    assert.match(overrideEvent.message, /end-of-year freeze.*CVE-2026-0001 hotfix/);
  });

  it('an override while waiting: the operator\'s answer ends the wait and is recorded', async () => {
    t = await TestTwin.start({ config: windowConfig((env) => (env.freezes = [freezeFor(10 * DAY)])) });
    const d = t.startDeployment(deployInput());
    const lock = await windowWait(t, d.executionArn);
    assert.equal(await succeedTask(lock.pendingTaskToken!, { override: true, operator: 'bob', reason: 'customer escalation' }), 'answered');
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.ok(t.statesEntered(d).includes('AcceptWindowOverride'));
    const record = await t.record(d);
    assert.deepEqual([record?.windowOverride?.by, record?.windowOverride?.reason], ['bob', 'customer escalation']);
  });

  it('an answer that is not an override checks the window again (and waits on)', async () => {
    t = await TestTwin.start({ config: windowConfig((env) => (env.freezes = [freezeFor(10 * DAY)])) });
    const d = t.startDeployment(deployInput());
    const first = await windowWait(t, d.executionArn);
    await succeedTask(first.pendingTaskToken!, { override: 'yes please' });
    const second = await t.waitFor('a new window wait', async () => {
      const lock = await t!.lock();
      return lock?.pendingKind === 'window' && lock.pendingTaskToken && lock.pendingTaskToken !== first.pendingTaskToken ? lock : undefined;
    });
    assert.ok(second);
    await succeedTask(second.pendingTaskToken!, { override: true, operator: 'carol', reason: 'done testing' });
    assert.equal((await t.wait(d)).status, 'SUCCEEDED');
  });

  it('a rollback during a freeze is not held: an alarm in the bake rolls back at once', async () => {
    // Deploy v2 before the freeze matters (override), then a deployment in the freeze with override whose bake alarms.
    t = await TestTwin.start({ config: windowConfig((env) => {
      env.freezes = [freezeFor(10 * DAY)];
      env.strategy = { type: 'canary', percent: 10, bakeSeconds: 600 };
      env.rollbackWindowSeconds = 3600;
    }) });
    const input = { ...deployInput(), windowOverride: { reason: 'hotfix', operator: 'alice' } };
    const d = t.startDeployment(input);
    await t.untilStateEntered(d, 'Bake');
    await setAlarm('ALARM', ALARM_5XX);
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal((await t.record(d))?.status, 'rolled-back');
    assert.ok(!t.statesEntered(d).slice(t.statesEntered(d).indexOf('Rollback')).some((s) => WINDOW_STATES.test(s)), 'nothing after the rollback began looked at the window');
    assert.equal(t.weights()[(await t.record(d))!.liveSlot!], 100);
  });

  it('a newer push supersedes a deployment waiting for its window (it changed nothing)', async () => {
    t = await TestTwin.start({ config: windowConfig((env) => (env.freezes = [freezeFor(10 * DAY)])) });
    const older = t.startDeployment(deployInput({ message: 'older' }));
    await windowWait(t, older.executionArn);
    const newer = t.startDeployment({ ...deployInput({ message: 'newer' }), windowOverride: { reason: 'newer goes now', operator: 'dana' } });
    const olderResult = await t.wait(older);
    assert.equal(olderResult.error, 'Cutover.Superseded', `${olderResult.error}: ${olderResult.cause}`);
    assert.equal((await t.record(older))?.status, 'superseded');
    assert.equal((await t.wait(newer)).status, 'SUCCEEDED');
  });
});
