/**
 * The fault sweep (test/chaos, `npm run chaos` runs all of it) on a subset: the plan covers every Task
 * state of the three ASL files (swept, or reported with why not), a handful of step × fault cases end
 * with every invariant held — among them the ones that found bugs — and the checks do fail when an
 * invariant is broken. Each case is a real run on a fresh twin (about half a second).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENVIRONMENT, SERVICE } from '../helpers/twin';
import { SCENARIOS, type Scenario } from './scenarios';
import { allTaskStates } from './states';
import { planSweep, runScenario, type FaultTarget, type RunResult } from './sweep';

const scenario = (id: string): Scenario => SCENARIOS.find((s) => s.id === id)!;
const baselines = new Map<string, RunResult>();

/** Run one case against its scenario's clean run; assert no invariant broke. */
async function sweepCase(id: string, target: FaultTarget): Promise<RunResult> {
  const r = await runScenario(scenario(id), target, { baseline: baselines.get(id) });
  assert.deepEqual(r.broken, [], `${target.state} × ${target.kind}: ${r.status} ${r.error ?? ''} ${r.cause ?? ''}`);
  assert.ok(r.faulted.length > 0, 'the fault hit at least one call of the step');
  return r;
}

describe('fault sweep: the plan', () => {
  before(async () => {
    for (const s of SCENARIOS) baselines.set(s.id, await runScenario(s));
  });

  it('every clean run ends as its scenario says, with every invariant held', () => {
    for (const s of SCENARIOS) {
      const r = baselines.get(s.id)!;
      assert.deepEqual([r.status, s.expected.error === undefined || r.error === s.expected.error], [s.expected.status, true], `${s.id}: ${r.error}: ${r.cause}`);
      assert.deepEqual(r.broken, [], s.id);
    }
  });

  it('covers every Task state of deploy, rollback and rollback-window: swept in a home scenario, or the reason it has none', () => {
    const plan = planSweep(baselines);
    const tasks = allTaskStates();
    assert.deepEqual(
      plan.states.map((s) => `${s.machine}/${s.state}`),
      tasks.map((t) => `${t.machine}/${t.state}`),
    );
    for (const s of plan.states) assert.ok(s.home ?? s.reason, `${s.machine}/${s.state} has a home scenario or a reason`);
    assert.deepEqual(
      plan.states.filter((s) => s.reason?.startsWith('no scenario enters')).map((s) => s.state),
      [],
      'every Task state is entered by some scenario',
    );
    const home = (machine: string, state: string) => plan.states.find((s) => s.machine === machine && s.state === state);
    assert.deepEqual(home('deploy', 'DeployGreen')?.operations, ['ecs:UpdateService'], 'calls are attributed to the step that made them');
    assert.equal(home('deploy', 'RecordRollbackFailed')?.home, 'deploy-rollback-denied');
    assert.match(home('rollback', 'Redeploy')?.reason ?? '', /Step Functions integration states:startExecution\.sync:2/);
    // One case per call position for timeouts: PrepareRelease makes 5 calls in its first attempt.
    const prepareTimeout = plan.cells.find((c) => c.state === 'PrepareRelease' && c.kind === 'timeout');
    assert.deepEqual(prepareTimeout?.targets.map((t) => t.position), [1, 2, 3, 4, 5]);
    assert.equal(plan.cells.find((c) => c.machine === 'deploy' && c.state === 'AcquireLock' && c.kind === 'vanished')?.skip, undefined);
  });
});

describe('fault sweep: cases', () => {
  it('PrepareRelease: RegisterTaskDefinition takes effect but its answer is lost → the retry finds the revision; one revision, deployment succeeds', async () => {
    const r = await sweepCase('deploy-canary', { machine: 'deploy', state: 'PrepareRelease', kind: 'timeout', position: 5 });
    assert.equal(r.outcome, 'succeeded');
    assert.deepEqual(r.faulted, ['ecs:RegisterTaskDefinition → TimeoutError (after the call took effect)']);
  });

  it('RunMigration: RunTask takes effect but its answer is lost → the retry (same client token) starts no second migration', async () => {
    const r = await sweepCase('deploy-canary', { machine: 'deploy', state: 'RunMigration', kind: 'timeout', position: 2 });
    assert.equal(r.outcome, 'succeeded');
    assert.deepEqual(r.faulted, ['ecs:RunTask → TimeoutError (after the call took effect)']);
  });

  it('DeployGreen: the green service vanished → rolled back, the cause naming the call that failed', async () => {
    const r = await sweepCase('deploy-canary', { machine: 'deploy', state: 'DeployGreen', kind: 'vanished' });
    assert.equal(r.outcome, 'rolled back');
    assert.match(r.cause ?? '', /ECS UpdateService hello-world-green \(cluster hello-world\) failed: ServiceNotFoundException: Service not found\./);
    assert.match(r.cause ?? '', /Production traffic is 100% on blue/);
  });

  it('ShiftTraffic: throttled on its first attempt → retried, succeeds', async () => {
    const r = await sweepCase('deploy-canary', { machine: 'deploy', state: 'ShiftTraffic', kind: 'throttling' });
    assert.equal(r.outcome, 'succeeded');
  });

  it('Rollback: its listener calls are denied → rollback failed, traffic left on healthy slots, lock released, recorded, notified', async () => {
    const r = await sweepCase('deploy-alarm-restore', { machine: 'deploy', state: 'Rollback', kind: 'access-denied' });
    assert.equal(r.outcome, 'rollback failed');
    assert.equal(r.error, 'Cutover.RollbackFailed');
  });

  it('Promote: SNS denies the success notification → the deployment still succeeds; the refusal is noted, not hidden', async () => {
    const r = await sweepCase('deploy-canary', { machine: 'deploy', state: 'Promote', kind: 'access-denied' });
    assert.equal(r.outcome, 'succeeded');
    assert.match(r.notes.join(' '), /SNS refused the outcome notification under the injected fault \(AuthorizationErrorException\)/);
  });

  it('FlipToKeptSlot: a 5xx on its first attempt → retried, rolled back to the kept slot', async () => {
    const r = await sweepCase('rollback-kept-slot', { machine: 'rollback', state: 'FlipToKeptSlot', kind: 'server-error' });
    assert.equal(r.outcome, 'rolled back');
  });

  it('ScaleDownKeptSlot: denied → the window close fails naming the call, and releases the lock', async () => {
    const r = await sweepCase('window-close', { machine: 'rollback-window', state: 'ScaleDownKeptSlot', kind: 'access-denied' });
    assert.equal(r.outcome, 'close failed');
    assert.match(r.cause ?? '', /ECS UpdateService hello-world-blue \(cluster hello-world\) failed: AccessDeniedException/);
  });
});

describe('fault sweep: the checks fail when an invariant is broken', () => {
  it('a lock left held and a record left in-progress are reported', async () => {
    const base = scenario('window-close');
    const leaky: Scenario = {
      ...base,
      id: 'leaky',
      start: async (ctx) => {
        const subject = await base.start(ctx);
        await ctx.wait(subject.executionArn);
        // What a broken close would leave: the lock held, and a deployment record that never finished.
        await ctx.twin.ledger.takeLock(SERVICE, ENVIRONMENT, { deploymentId: 'leaked', executionArn: subject.executionArn, commit: '-', purpose: 'rollback-window' }, new Date());
        return { ...subject, deploymentId: 'never-recorded' };
      },
    };
    const r = await runScenario(leaky);
    assert.ok(r.broken.some((b) => /the lock is still held by leaked/.test(b)), r.broken.join(' | '));
    assert.ok(r.broken.some((b) => /no ledger record of never-recorded/.test(b)), r.broken.join(' | '));
    assert.ok(r.broken.some((b) => /no outcome notification/.test(b)), r.broken.join(' | '));
  });
});
