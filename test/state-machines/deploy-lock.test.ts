/**
 * deploy.asl.json: the per-(service, environment) lock. A second deployment of hello-world/production
 * while one runs fails fast with Cutover.DeploymentInProgress, naming the running deployment, and
 * touches nothing; the first one is not disturbed.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configVariant, SHORT_CANARY, TestTwin, type StartedDeployment } from '../helpers/twin';
import type { ExecutionDescription } from '../../lib/local/stepfunctions/service';

describe('deploy: lock held by a running deployment', () => {
  let t: TestTwin;
  let first: StartedDeployment;
  let second: StartedDeployment;
  let secondResult: ExecutionDescription;
  let firstStatusWhenSecondEnded: string;
  let lockWhenSecondEnded: Awaited<ReturnType<TestTwin['lock']>>;
  let callsBeforeSecond = 0;
  let callsAfterSecond = 0;

  before(async () => {
    // Prepare: a first deployment that has taken the lock (it is past AcquireLock).
    t = await TestTwin.start({
      config: configVariant((env) => {
        env.databaseFailurePolicy = 'keep';
        env.strategy = SHORT_CANARY;
      }),
    });
    first = t.startDeployment();
    await t.untilStateEntered(first, 'PrepareRelease');
    // Act: a second deployment of the same service and environment.
    callsBeforeSecond = t.sim.calls.length;
    second = t.startDeployment();
    secondResult = await t.wait(second);
    firstStatusWhenSecondEnded = t.twin.sfn.describeExecution({ executionArn: first.executionArn }).status;
    lockWhenSecondEnded = await t.lock();
    callsAfterSecond = t.sim.calls.length;
  });
  after(() => t?.stop());

  it('fails the second with Cutover.DeploymentInProgress naming the first deployment', () => {
    assert.equal(secondResult.status, 'FAILED');
    assert.equal(secondResult.error, 'Cutover.DeploymentInProgress');
    assert.match(secondResult.cause!, new RegExp(`hello-world/production is locked by deployment ${first.name} `));
    assert.match(secondResult.cause!, /Wait for it to finish, or stop that execution/);
  });

  it('fails fast: at AcquireLock, while the first is still running, before touching AWS', () => {
    assert.equal(firstStatusWhenSecondEnded, 'RUNNING');
    assert.deepEqual(t.statesEntered(second), ['Initialize', 'ResolvePlan', 'AcquireLock', 'ExplainLockHeld', 'DeploymentInProgress']);
    assert.equal(lockWhenSecondEnded?.deploymentId, first.name, 'the lock still belongs to the first');
    // The only functions the second called are plan and ledger (no ECS / ELB / RDS / CloudWatch function).
    const called = t
      .history(second)
      .filter((e) => e.type === 'LambdaFunctionScheduled')
      .map((e) => e.lambdaFunctionScheduledEventDetails!.resource!.split(':').at(-1));
    assert.deepEqual(called, ['cutover-plan', 'cutover-ledger']);
    // Meanwhile the simulator saw only the first deployment's calls (the second has no slot or release).
    const during = t.sim.calls.slice(callsBeforeSecond, callsAfterSecond);
    assert.ok(during.every((c) => !JSON.stringify(c.input ?? {}).includes(second.name)), 'no AWS call carries the second deployment id');
  });

  it('writes no record for the second deployment', async () => {
    assert.equal(await t.record(second), undefined);
  });

  it('lets the first deployment finish successfully and release the lock', async () => {
    const result = await t.wait(first);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.deepEqual(t.weights(), { blue: 0, green: 100 });
    assert.equal((await t.record(first))?.status, 'succeeded');
    assert.equal(await t.lock(), undefined);
  });
});

describe('deploy: lock left by a stopped deployment', () => {
  let t: TestTwin | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it(
    'reclaims the lock of a stopped deployment: the next deployment runs',
    async () => {
      t = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = 'keep')) });
      const stopped = t.startDeployment();
      await t.untilStateEntered(stopped, 'PrepareRelease');
      t.twin.sfn.stopExecution({ executionArn: stopped.executionArn, cause: 'operator stopped it' });
      await t.wait(stopped);
      const { result } = await t.deploy();
      assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    },
  );
});
