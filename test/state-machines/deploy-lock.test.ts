/**
 * deploy.asl.json: the per-(service, environment) lock. A second deployment of hello-world/production
 * while one runs fails fast with Cutover.DeploymentInProgress, naming the running deployment, and
 * touches nothing; the first one is not disturbed. Two deployments started at the same instant race
 * for the lock: exactly one runs.
 */
import { parseEcrImage } from '../../lib/domain/image-events';
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configVariant, deployInput, ENVIRONMENT, SERVICE, SHORT_CANARY, TestTwin, type StartedDeployment } from '../helpers/twin';
import type { SlotName } from '../../lib/domain/slots';
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

describe('deploy: two deployments started at the same instant', () => {
  let t: TestTwin | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('lets exactly one run, round after round; the other fails with Cutover.DeploymentInProgress', async () => {
    // Prepare
    t = await TestTwin.start({
      config: configVariant((env) => {
        env.databaseFailurePolicy = 'keep';
        env.strategy = SHORT_CANARY;
      }),
    });
    const twin = t;
    const ROUNDS = 5;
    let racedRounds = 0;
    // Real time of each ledger `acquire` invocation, by deployment id.
    const acquires = new Map<string, { start: number; end?: number }>();
    const off = twin.twin.lambda.onInvoke((call) => {
      const e = call.event as { action?: string; plan?: { deploymentId?: string } };
      if (call.name !== 'ledger' || e.action !== 'acquire' || !e.plan?.deploymentId) return;
      if (call.phase === 'start') acquires.set(e.plan.deploymentId, { start: call.realMs });
      else acquires.get(e.plan.deploymentId)!.end = call.realMs;
    });
    for (let round = 1; round <= ROUNDS; round++) {
      const recordsBefore = (await twin.twin.ledger.history(SERVICE, ENVIRONMENT, 100)).length;
      const inputs = [deployInput({ message: `round ${round} a` }), deployInput({ message: `round ${round} b` })];
      // Vary the order in which the two start within the tick.
      if (round % 2 === 0) inputs.reverse();

      // Act: two StartExecution calls in the same tick.
      const started = await Promise.all(inputs.map(async (input) => twin.startDeployment(input)));
      const results = await Promise.all(started.map((d) => twin.wait(d)));

      // Assess
      const label = `round ${round}: ${results.map((r) => `${r.name} ${r.status} ${r.error ?? ''}`).join(' / ')}`;
      const winners = started.filter((_, i) => results[i]!.status === 'SUCCEEDED');
      const losers = started.filter((_, i) => results[i]!.status !== 'SUCCEEDED');
      assert.equal(winners.length, 1, `exactly one deployment succeeds (${label})`);
      const winner = winners[0]!;
      const loser = losers[0]!;
      const loserResult = results[started.indexOf(loser)]!;
      assert.equal(loserResult.status, 'FAILED', label);
      assert.equal(loserResult.error, 'Cutover.DeploymentInProgress', label);
      assert.match(loserResult.cause!, new RegExp(`is locked by deployment ${winner.name} `), label);
      assert.deepEqual(twin.statesEntered(loser).slice(-3), ['AcquireLock', 'ExplainLockHeld', 'DeploymentInProgress'], label);

      const records = (await twin.twin.ledger.history(SERVICE, ENVIRONMENT, 100)).filter((r) => r.deploymentId === winner.name || r.deploymentId === loser.name);
      assert.deepEqual(records.map((r) => [r.deploymentId, r.status]), [[winner.name, 'succeeded']], `one record, the winner's (${label})`);
      assert.equal((await twin.twin.ledger.history(SERVICE, ENVIRONMENT, 100)).length, recordsBefore + 1, label);

      const weights = twin.weights();
      const live = (Object.keys(weights) as SlotName[]).find((slot) => weights[slot] === 100);
      assert.ok(live, `production is on one slot (${JSON.stringify(weights)})`);
      const running = parseEcrImage(twin.imageOf(live) ?? '');
      assert.ok(running?.digest && twin.sim.ecr.tagsOf(running.repositoryName, running.digest).includes(winner.input!.release.commit), `production runs the winner's release, pinned by digest (${label}): ${twin.imageOf(live)}`);
      assert.equal(await twin.lock(), undefined, `the lock is released (${label})`);
      const [a, b] = started.map((d) => acquires.get(d.name));
      assert.ok(a?.end !== undefined && b?.end !== undefined, `both deployments called the ledger's acquire (${label})`);
      if (a.start < b.end! && b.start < a.end!) racedRounds += 1;
    }
    off();
    // Started in the same tick, the two ledger calls of AcquireLock were in flight together: a real race.
    assert.ok(racedRounds >= 1, `the two AcquireLock calls overlapped in ${racedRounds} of ${ROUNDS} rounds`);
  });
});

