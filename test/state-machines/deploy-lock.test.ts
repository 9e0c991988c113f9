/**
 * deploy.asl.json: the per-(service, environment) lock and the deploy queue (issue 12 part 6). A push
 * while a deployment runs is queued, not lost: it waits in WaitForLock (record `queued`) and deploys
 * when the lock is released; of two pushes queued behind one deployment the newest deploys next and the
 * other is `superseded`; a deployment still waiting at a gate (its image) is superseded by a newer push,
 * having changed nothing. Two deployments started at the same instant race for the lock: exactly one
 * runs first, the other queues and runs after it.
 */
import { parseEcrImage } from '../../lib/domain/image-events';
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configVariant, deployInput, ENVIRONMENT, SERVICE, SHORT_CANARY, TestTwin, type StartedDeployment } from '../helpers/twin';
import type { SlotName } from '../../lib/domain/slots';
import type { ExecutionDescription } from '../../lib/local/stepfunctions/service';

/** The release production runs: the commit tagged on the digest its live slot's task definition names. */
function liveCommitIs(t: TestTwin, commit: string): boolean {
  const weights = t.weights();
  const live = (Object.keys(weights) as SlotName[]).find((slot) => weights[slot] === 100);
  const running = live ? parseEcrImage(t.imageOf(live) ?? '') : undefined;
  return Boolean(running?.digest && t.sim.ecr.tagsOf(running.repositoryName, running.digest).includes(commit));
}

const queued = (t: TestTwin, d: StartedDeployment) =>
  t.waitFor(`${d.name} queued`, async () => ((await t.twin.ledger.getQueued(SERVICE, ENVIRONMENT))?.executionArn === d.executionArn ? true : undefined));

describe('deploy: a push while a deployment runs is queued', () => {
  let t: TestTwin;
  let first: StartedDeployment;
  let second: StartedDeployment;
  let recordWhileQueued: Awaited<ReturnType<TestTwin['record']>>;
  let lockWhileQueued: Awaited<ReturnType<TestTwin['lock']>>;
  let secondCallsWhileQueued: string[] = [];
  let firstResult: ExecutionDescription;
  let secondResult: ExecutionDescription;

  before(async () => {
    // Prepare: a first deployment that has taken the lock and passed its gates.
    t = await TestTwin.start({
      config: configVariant((env) => {
        env.databaseFailurePolicy = 'keep';
        env.strategy = SHORT_CANARY;
      }),
    });
    first = t.startDeployment(deployInput({ message: 'first' }));
    await t.untilStateEntered(first, 'PrepareRelease');
    // Act: a second push of the same service and environment.
    second = t.startDeployment(deployInput({ message: 'second' }));
    await queued(t, second);
    recordWhileQueued = await t.record(second);
    lockWhileQueued = await t.lock();
    secondCallsWhileQueued = t
      .history(second)
      .filter((e) => e.type === 'LambdaFunctionScheduled')
      .map((e) => e.lambdaFunctionScheduledEventDetails!.resource!.split(':').at(-1)!);
    [firstResult, secondResult] = await Promise.all([t.wait(first), t.wait(second)]);
  });
  after(() => t?.stop());

  it('queues the second: record queued, the lock still the first\'s, nothing touched but the ledger', () => {
    assert.equal(recordWhileQueued?.status, 'queued');
    assert.equal(lockWhileQueued?.deploymentId, first.name);
    assert.ok(t.statesEntered(second).includes('WaitForLock'));
    assert.deepEqual([...new Set(secondCallsWhileQueued)].sort(), ['cutover-plan', 'cutover-ledger'].sort());
  });

  it('lets the first finish undisturbed, then deploys the second', async () => {
    assert.equal(firstResult.status, 'SUCCEEDED', `${firstResult.error}: ${firstResult.cause}`);
    assert.equal(secondResult.status, 'SUCCEEDED', `${secondResult.error}: ${secondResult.cause}`);
    const states = t.statesEntered(second);
    assert.deepEqual(states.slice(0, 5), ['Initialize', 'ResolvePlan', 'AcquireLock', 'QueueOrRefuse', 'WaitForLock']);
    assert.equal(states.filter((s) => s === 'AcquireLock').length, 2, states.join(' → '));
    assert.ok(liveCommitIs(t, second.input!.release.commit), 'production runs the second release');
    assert.deepEqual([(await t.record(first))?.status, (await t.record(second))?.status], ['succeeded', 'succeeded']);
    assert.equal(await t.lock(), undefined);
    assert.equal(await t.twin.ledger.getQueued(SERVICE, ENVIRONMENT), undefined, 'the queue is empty');
    const timeline = await t.twin.ledger.timeline(SERVICE, ENVIRONMENT, { deploymentId: second.name });
    assert.ok(timeline.some((e) => e.kind === 'queued' && e.message.includes(first.name)), 'the timeline says behind which deployment it queued');
  });
});

describe('deploy: two pushes during a running deployment', () => {
  let t: TestTwin | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('deploys the newest next; the older queued push is superseded and recorded so', async () => {
    t = await TestTwin.start({ config: configVariant((env) => ((env.databaseFailurePolicy = 'keep'), (env.strategy = SHORT_CANARY))) });
    const running = t.startDeployment(deployInput({ message: 'running' }));
    await t.untilStateEntered(running, 'PrepareRelease');
    const older = t.startDeployment(deployInput({ message: 'older' }));
    await queued(t, older);
    const newer = t.startDeployment(deployInput({ message: 'newer' }));
    const [r0, r1, r2] = await Promise.all([t.wait(running), t.wait(older), t.wait(newer)]);
    assert.equal(r0.status, 'SUCCEEDED', `${r0.error}: ${r0.cause}`);
    assert.equal(r1.status, 'FAILED');
    assert.equal(r1.error, 'Cutover.Superseded');
    assert.match(r1.cause!, new RegExp(`superseded by the newer push ${newer.name}`));
    assert.match(r1.cause!, /nothing was changed|Production traffic was not moved/);
    assert.equal(r2.status, 'SUCCEEDED', `${r2.error}: ${r2.cause}`);
    assert.ok(liveCommitIs(t, newer.input!.release.commit), 'production runs the newest push');
    const olderRecord = await t.record(older);
    assert.equal(olderRecord?.status, 'superseded');
    assert.equal(olderRecord?.supersededBy, newer.name);
    assert.ok(!t.statesEntered(older).includes('FindImage'), 'the superseded push never took the lock');
    // Every push is in the history, with its outcome.
    const history = await t.twin.ledger.history(SERVICE, ENVIRONMENT, 10);
    assert.deepEqual(
      [running, older, newer].map((d) => history.find((r) => r.deploymentId === d.name)?.status),
      ['succeeded', 'superseded', 'succeeded'],
    );
    assert.equal(await t.twin.ledger.getQueued(SERVICE, ENVIRONMENT), undefined);
  });

  it('supersedes a deployment still waiting for its image, which changed nothing; the newer push deploys', async () => {
    t = await TestTwin.start({ autoPushImages: false, config: configVariant((env) => ((env.databaseFailurePolicy = 'keep'), (env.strategy = { type: 'all-at-once' }), delete env.scan)) });
    const waiting = t.startDeployment(deployInput({ message: 'never built' }));
    await t.waitFor('the image wait', async () => ((await t!.lock())?.pendingKind === 'image' ? true : undefined));
    const newerInput = deployInput({ message: 'built' });
    t.pushImage(newerInput.release.commit);
    const newer = t.startDeployment(newerInput);
    const [r1, r2] = await Promise.all([t.wait(waiting), t.wait(newer)]);
    assert.equal(r1.status, 'FAILED');
    assert.equal(r1.error, 'Cutover.Superseded');
    assert.match(r1.cause!, /while it waited for its image/);
    assert.ok(!t.statesEntered(waiting).includes('BeginChanges'), 'the superseded deployment never began changes');
    assert.equal((await t.record(waiting))?.status, 'superseded');
    assert.equal(r2.status, 'SUCCEEDED', `${r2.error}: ${r2.cause}`);
    assert.ok(liveCommitIs(t, newerInput.release.commit));
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

  it('lets exactly one run first, round after round; the other queues and runs after it', async () => {
    // Prepare
    t = await TestTwin.start({
      config: configVariant((env) => {
        env.databaseFailurePolicy = 'keep';
        env.strategy = SHORT_CANARY;
      }),
    });
    const twin = t;
    const ROUNDS = 3;
    let racedRounds = 0;
    // Real time of each ledger `acquire` invocation, by deployment id (the first one of each).
    const acquires = new Map<string, { start: number; end?: number }>();
    const off = twin.twin.lambda.onInvoke((call) => {
      const e = call.event as { action?: string; plan?: { deploymentId?: string } };
      if (call.name !== 'ledger' || e.action !== 'acquire' || !e.plan?.deploymentId) return;
      const seen = acquires.get(e.plan.deploymentId);
      if (call.phase === 'start') {
        if (!seen) acquires.set(e.plan.deploymentId, { start: call.realMs });
      } else if (seen && seen.end === undefined) seen.end = call.realMs;
    });
    for (let round = 1; round <= ROUNDS; round++) {
      const inputs = [deployInput({ message: `round ${round} a` }), deployInput({ message: `round ${round} b` })];
      // Vary the order in which the two start within the tick.
      if (round % 2 === 0) inputs.reverse();

      // Act: two StartExecution calls in the same tick.
      const started = await Promise.all(inputs.map(async (input) => twin.startDeployment(input)));
      const results = await Promise.all(started.map((d) => twin.wait(d)));

      // Assess
      const label = `round ${round}: ${results.map((r) => `${r.name} ${r.status} ${r.error ?? ''}`).join(' / ')}`;
      assert.ok(results.every((r) => r.status === 'SUCCEEDED'), `both deploy, one after the other (${label})`);
      const queuedOnes = started.filter((d) => twin.statesEntered(d).includes('WaitForLock'));
      assert.equal(queuedOnes.length, 1, `exactly one waited for the lock (${label})`);
      const later = queuedOnes[0]!;
      assert.ok(liveCommitIs(twin, later.input!.release.commit), `production runs the one that deployed last (${label})`);
      const records = (await twin.twin.ledger.history(SERVICE, ENVIRONMENT, 100)).filter((r) => started.some((d) => d.name === r.deploymentId));
      assert.deepEqual(records.map((r) => r.status), ['succeeded', 'succeeded'], label);
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
