/**
 * deploy.asl.json, the happy path, through the local twin with the sample config (canary 10% with a
 * 300 s bake, snapshot before migrations, policy approve): snapshot → migration → green → 10% → bake
 * → 100% → promote; then a second deployment goes back to the other slot.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deployInput, SERVICE, TestTwin, type StartedDeployment } from '../helpers/twin';
import type { ExecutionDescription } from '../../lib/local/stepfunctions/service';

describe('deploy: success with the canary strategy', () => {
  let t: TestTwin;
  let first: { d: StartedDeployment; result: ExecutionDescription };
  const input = deployInput({ message: 'Add the greeting endpoint' });

  before(async () => {
    // Prepare
    t = await TestTwin.start();
    assert.deepEqual(t.weights(), { blue: 100, green: 0 }, 'seeded: blue is live');
    // Act
    first = await t.deploy(input);
  });
  after(() => t?.stop());

  it('succeeds', () => {
    assert.equal(first.result.status, 'SUCCEEDED', `${first.result.error}: ${first.result.cause}`);
  });

  it('runs snapshot, migration, green, two traffic shifts and promote, in that order', () => {
    const states = t.statesEntered(first.d);
    const order = ['ResolvePlan', 'AcquireLock', 'DiscoverSlots', 'PrepareRelease', 'CreateSnapshot', 'RunMigration', 'DeployGreen', 'PreflightAlarms', 'ShiftTraffic', 'Promote'];
    let at = -1;
    for (const s of order) {
      const i = states.indexOf(s, at + 1);
      assert.ok(i > at, `${s} is entered after ${order[order.indexOf(s) - 1] ?? 'the start'}: ${states.join(' → ')}`);
      at = i;
    }
    assert.equal(states.filter((s) => s === 'ShiftTraffic').length, 2, 'canary: 10% then 100%');
    assert.equal(states.filter((s) => s === 'Bake').length, 1, 'one callback wait for the 300 s bake (no polling)');
    assert.equal(states.filter((s) => s === 'CheckAlarms').length, 1, 'one alarm check as the bake ends');
    assert.ok(!states.includes('Rollback'));
  });

  it('moves 100% of production traffic to the idle slot (green), through 10% first', () => {
    assert.deepEqual(t.weights(), { blue: 0, green: 100 });
    assert.deepEqual(t.weightsSet('green'), [10, 100]);
  });

  it('pointed the test listener at the new release before production traffic moved', () => {
    assert.deepEqual(t.weights('test'), { blue: 0, green: 100 });
    const states = t.statesEntered(first.d);
    assert.ok(states.includes('PointTestListener'));
    assert.ok(states.indexOf('PointTestListener') < states.indexOf('ShiftTraffic'));
  });

  it('runs green on a new task definition revision with <imageRepository>:<commit>, pinned by its digest', () => {
    const green = t.service('green');
    assert.equal(t.imageOf('green'), t.releaseImage(input.release.commit));
    assert.match(green.taskDefinition!, /:task-definition\/hello-world-production:2$/);
    assert.equal(green.desiredCount, 2, 'at the live slot’s desired count');
    assert.equal(green.runningCount, 2);
    // The previous release keeps running as the rollback target.
    assert.equal(t.desiredCount('blue'), 2);
    assert.equal(t.imageOf('blue'), `${t.env.imageRepository}:v1`);
  });

  it('takes the snapshot and runs the migration as a one-off task of the new release', () => {
    const snapshot = t.sim.calls.find((c) => c.operation === 'CreateDBSnapshot');
    assert.equal((snapshot?.input as { DBInstanceIdentifier?: string })?.DBInstanceIdentifier, 'hello-world-production');
    const run = t.sim.calls.find((c) => c.operation === 'RunTask')?.input as {
      taskDefinition: string;
      overrides: { containerOverrides: Array<{ name: string; command: string[] }> };
    };
    assert.match(run.taskDefinition, /hello-world-production:2$/);
    assert.deepEqual(run.overrides.containerOverrides, [{ name: 'app', command: ['npm', 'run', 'migrate'] }]);
    assert.ok(
      t.sim.calls.findIndex((c) => c.operation === 'RunTask') > t.sim.calls.findIndex((c) => c.operation === 'CreateDBSnapshot'),
      'the snapshot is taken before the migration runs',
    );
  });

  it('records the deployment as succeeded, live on green, and releases the lock', async () => {
    const record = await t.record(first.d);
    assert.equal(record?.status, 'succeeded');
    assert.equal(record?.liveSlot, 'green');
    assert.equal(record?.commit, input.release.commit);
    assert.equal(record?.image, t.releaseImage(input.release.commit));
    assert.equal(record?.error, null);
    assert.match(record?.message ?? '', /is live on green with 100% of production traffic/);
    assert.equal(record?.pendingTaskToken, undefined);
    assert.equal(await t.lock(), undefined);
  });

  it('returns the outcome as the execution output', () => {
    const output = JSON.parse(first.result.output!);
    assert.equal(output.status, 'succeeded');
    assert.equal(output.liveSlot, 'green');
    assert.equal(output.deploymentId, first.d.name);
  });

  it('lets the next deployment take the lock and go back to the other slot (blue)', async () => {
    const nextInput = deployInput({ message: 'Second release' });
    const second = await t.deploy(nextInput);
    assert.equal(second.result.status, 'SUCCEEDED', `${second.result.error}: ${second.result.cause}`);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.deepEqual(t.weightsSet('blue').slice(-2), [10, 100]);
    assert.equal(t.imageOf('blue'), t.releaseImage(nextInput.release.commit));
    assert.equal(t.desiredCount('green'), 2, 'the first release stays up as the rollback target');
    const records = await t.twin.ledger.history(SERVICE, 'production');
    assert.deepEqual(
      records.map((r) => [r.deploymentId, r.status, r.liveSlot]),
      [
        [second.d.name, 'succeeded', 'blue'],
        [first.d.name, 'succeeded', 'green'],
      ],
    );
    assert.equal(await t.lock(), undefined);
  });
});
