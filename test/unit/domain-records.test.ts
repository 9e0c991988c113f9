import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  auditPartition,
  causeText,
  decideOutcome,
  decideRollbackOutcome,
  deploymentKey,
  environmentKey,
  lockKey,
  type DeploymentState,
  type RollbackState,
  type RollbackTarget,
} from '../../lib/domain/records';
import type { DeploymentPlan, RollbackPlan } from '../../lib/domain/plan';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const plan = (over: Partial<DeploymentPlan> = {}): DeploymentPlan =>
  ({
    deploymentId: 'run-1',
    executionArn: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:run-1',
    startedAt: '2024-05-01T12:00:00.000Z',
    service: 'hello-world',
    environment: 'production',
    release: { commit: SHA, message: 'Add users table', migrations: true },
    databaseFailurePolicy: 'approve',
    ...over,
  }) as DeploymentPlan;

const lambdaCause = (errorType: string, errorMessage: string) => JSON.stringify({ errorType, errorMessage, trace: [] });
const migrationFailed = {
  Error: 'Cutover.MigrationFailed',
  Cause: lambdaCause('Error', 'Migration "npm run migrate" failed with exit code 1: Essential container exited.'),
};
const base = (over: Partial<DeploymentState> = {}): DeploymentState => ({
  plan: plan(),
  slots: { live: 'blue', idle: 'green' },
  ...over,
});
const afterMigration = (over: Partial<DeploymentState> = {}): DeploymentState =>
  base({
    snapshot: { taken: true, identifier: 'cutover-hello-world-production-abc', createdAt: '2024-05-01T12:01:00.000Z' },
    migration: { ran: true, status: 'FAILED', exitCode: 1 },
    failure: migrationFailed,
    ...over,
  });

describe('record keys', () => {
  it('lock, deployment and environment keys follow the table layout', () => {
    assert.deepEqual(lockKey('svc', 'prod'), { pk: 'LOCK#svc#prod', sk: 'LOCK' });
    assert.deepEqual(deploymentKey(plan()), { pk: 'DEPLOYMENTS#hello-world#production', sk: '2024-05-01T12:00:00.000Z#run-1' });
    assert.deepEqual(environmentKey('svc', 'prod'), { pk: 'ENV#svc#prod', sk: 'STATE' });
    assert.equal(auditPartition('svc', 'prod'), 'AUDIT#svc#prod');
  });
});

describe('causeText', () => {
  it('takes a Lambda error’s errorMessage', () => {
    assert.equal(causeText(lambdaCause('Cutover.Transient', 'Rate exceeded')), 'Rate exceeded');
  });
  it('returns plain text unchanged', () => {
    assert.equal(causeText('States.Timeout after 60 s'), 'States.Timeout after 60 s');
  });
  it('returns JSON without errorMessage unchanged', () => {
    assert.equal(causeText('{"foo":1}'), '{"foo":1}');
    assert.equal(causeText('null'), 'null');
  });
  it('says so when there is no cause', () => {
    assert.equal(causeText(undefined), 'no cause given');
    assert.equal(causeText(''), 'no cause given');
  });
  it('reads a nested execution\'s failure (the DescribeExecution JSON a .sync:2 task fails with)', () => {
    const child = JSON.stringify({
      ExecutionArn: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:rb-1-redeploy',
      Input: '{}',
      Name: 'rb-1-redeploy',
      StartDate: 1714550400000,
      StateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:cutover-deploy',
      Status: 'FAILED',
      StopDate: 1714550460000,
      Error: 'Cutover.GreenUnstable',
      Cause: lambdaCause('Cutover.GreenUnstable', 'hello-world-green never became stable'),
    });
    assert.equal(causeText(child), 'execution rb-1-redeploy failed with Cutover.GreenUnstable: hello-world-green never became stable');
  });
  it('a nested failure without a name or a cause still reads as a sentence', () => {
    assert.equal(causeText(JSON.stringify({ Error: 'States.Timeout', Cause: 'no heartbeat' })), 'failed with States.Timeout: no heartbeat');
    assert.equal(causeText(JSON.stringify({ Error: 'States.Timeout', Name: 'x' })), 'execution x failed with States.Timeout: no cause given');
    assert.equal(causeText(JSON.stringify({ Error: 'States.Timeout', Cause: 42, Name: 7 })), 'failed with States.Timeout: no cause given');
  });
});

describe('decideOutcome', () => {
  it('succeeded: the idle slot is live with the release', () => {
    const o = decideOutcome(base(), 'succeeded');
    assert.deepEqual(
      { status: o.status, error: o.error, liveSlot: o.liveSlot, deploymentId: o.deploymentId },
      { status: 'succeeded', error: null, liveSlot: 'green', deploymentId: 'run-1' },
    );
    assert.match(o.message, /^hello-world\/production: release 0123456 \("Add users table"\) is live on green with 100% of production traffic\. blue keeps/);
  });

  it('succeeded when green was live: blue becomes live', () => {
    const o = decideOutcome(base({ slots: { live: 'green', idle: 'blue' } }), 'succeeded');
    assert.equal(o.liveSlot, 'blue');
  });

  it('migration failure, policy keep: failed, traffic not moved, database kept by policy', () => {
    const o = decideOutcome(afterMigration({ plan: plan({ databaseFailurePolicy: 'keep' }) }), 'failed');
    assert.equal(o.status, 'failed');
    assert.equal(o.error, 'Cutover.MigrationFailed');
    assert.equal(o.liveSlot, 'blue');
    assert.match(o.message, /failed: Migration "npm run migrate" failed with exit code 1: Essential container exited\. Production traffic was not moved \(100% on blue\)\./);
    assert.match(o.message, /Database: schema and data kept as they are \(policy "keep"\)\. Snapshot cutover-hello-world-production-abc is kept\./);
    assert.doesNotMatch(o.message, /exited\.\./, 'trailing dots of the cause are not doubled');
  });

  it('migration failure, restored from the snapshot: names the snapshot and the data-loss window', () => {
    const o = decideOutcome(afterMigration({ rollback: { database: { action: 'restored' } } }), 'failed');
    assert.equal(o.status, 'failed');
    assert.match(
      o.message,
      /Database: restored from snapshot cutover-hello-world-production-abc \(writes after 2024-05-01T12:01:00\.000Z are not in it; the previous instance was renamed aside and kept\)\./,
    );
  });

  it('migration failure, operator decided keep: names the operator', () => {
    const o = decideOutcome(afterMigration({ rollback: { decision: { decision: 'keep', operator: 'alice' }, database: { action: 'kept' } } }), 'failed');
    assert.match(o.message, /kept as they are \(an operator \(alice\) chose to keep it\)/);
  });

  it('migration failure, no decision arrived (timeout): nothing discarded', () => {
    const o = decideOutcome(afterMigration({ rollback: { decisionError: { Error: 'States.Timeout' }, database: { action: 'kept' } } }), 'failed');
    assert.match(o.message, /kept as they are \(no operator decision arrived \(States\.Timeout\), so nothing was discarded\)/);
  });

  it('migration failure, restore itself failed: says to check by hand', () => {
    const o = decideOutcome(
      afterMigration({ rollback: { restoreError: { Error: 'Cutover.ResourceState', Cause: lambdaCause('Cutover.ResourceState', 'did not finish in time') } } }),
      'failed',
    );
    assert.match(o.message, /Database: restoring the snapshot failed \(did not finish in time\); check the database by hand\./);
  });

  it('migrations that did not run add no database sentence', () => {
    const o = decideOutcome(base({ failure: { Error: 'Cutover.ResourceState', Cause: 'no container' } }), 'failed');
    assert.doesNotMatch(o.message, /Database:/);
  });

  it('rolled back on an alarm: Cutover.RolledBackOnAlarm, traffic back on live, idle scaled down', () => {
    const o = decideOutcome(
      base({
        failure: { Error: 'Cutover.AlarmFiring', Cause: lambdaCause('Error', 'alarm hello-world-production-5xx is in ALARM during the bake at 10%.') },
        rollback: { traffic: { trafficOn: 'blue', idleHasTraffic: false }, scaleDown: { service: 'hello-world-green', desiredCount: 0 } },
      }),
      'failed',
    );
    assert.equal(o.status, 'rolled-back');
    assert.equal(o.error, 'Cutover.RolledBackOnAlarm');
    assert.equal(o.liveSlot, 'blue');
    assert.match(o.message, /was rolled back: alarm hello-world-production-5xx is in ALARM during the bake at 10%\. Production traffic is 100% on blue; green was scaled down\./);
  });

  it('rolled back for another reason: Cutover.RolledBack; a failed scale-down is reported', () => {
    const o = decideOutcome(
      base({
        failure: { Error: 'Cutover.GreenUnstable', Cause: 'never stable' },
        rollback: { traffic: { trafficOn: 'blue' }, scaleDownError: { Error: 'Cutover.Transient', Cause: lambdaCause('Cutover.Transient', 'Rate exceeded') } },
      }),
      'failed',
    );
    assert.equal(o.error, 'Cutover.RolledBack');
    assert.match(o.message, /green could not be scaled down \(Rate exceeded\)/);
  });

  it('rolled back with the idle slot still serving: liveSlot is idle and the message says why', () => {
    const o = decideOutcome(
      base({
        failure: { Error: 'Cutover.AlarmFiring', Cause: 'alarm' },
        rollback: { traffic: { trafficOn: 'green', idleHasTraffic: true, message: 'blue has no healthy targets, so traffic was not moved onto it (green has 2 healthy)' } },
      }),
      'failed',
    );
    assert.equal(o.status, 'rolled-back');
    assert.equal(o.liveSlot, 'green');
    assert.match(o.message, /Production traffic stays on green: blue has no healthy targets/);
  });

  it('rollback-failed: Cutover.RollbackFailed naming both errors', () => {
    const o = decideOutcome(
      base({
        failure: { Error: 'Cutover.AlarmFiring', Cause: 'alarm X firing' },
        rollback: { error: { Error: 'Cutover.Transient', Cause: lambdaCause('Cutover.Transient', 'Rate exceeded') } },
      }),
      'rollback-failed',
    );
    assert.equal(o.status, 'rollback-failed');
    assert.equal(o.error, 'Cutover.RollbackFailed');
    assert.equal(o.liveSlot, 'blue');
    assert.match(o.message, /failed \(Cutover\.AlarmFiring: alarm X firing\) and the rollback could not restore traffic \(Cutover\.Transient: Rate exceeded\)\. Check the production listener by hand\./);
  });

  it('a failure without details is reported as unknown, not thrown', () => {
    const o = decideOutcome(base(), 'failed');
    assert.equal(o.error, 'Cutover.Unknown');
    assert.match(o.message, /failed: unknown failure\./);
  });
});

const SHA1 = '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const SHA2 = '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const rollbackPlan = (over: Partial<RollbackPlan> = {}): RollbackPlan =>
  ({
    kind: 'rollback',
    deploymentId: 'rb-1',
    executionArn: 'arn:aws:states:us-east-1:123456789012:execution:cutover-rollback:rb-1',
    startedAt: '2024-05-02T08:00:00.000Z',
    service: 'hello-world',
    environment: 'production',
    reason: '5xx after the release',
    toDeployment: null,
    databaseFailurePolicy: 'approve',
    trigger: { source: 'cli', actor: 'alice' },
    ...over,
  }) as RollbackPlan;
const run1 = { deploymentId: 'run-1', commit: SHA1, slot: 'blue' as const, startedAt: '2024-05-01T10:00:00.000Z' };
const run2 = { deploymentId: 'run-2', commit: SHA2, slot: 'green' as const, startedAt: '2024-05-01T12:00:00.000Z' };
const SNAP = { identifier: 'cutover-hello-world-production-run2', createdAt: '2024-05-01T12:01:00.000Z' };
const target = (over: Partial<RollbackTarget> = {}): RollbackTarget => ({
  mode: 'kept-slot',
  slots: { live: 'blue', idle: 'green' },
  target: run1,
  from: run2,
  database: { restorable: false },
  message: 'flip production back to the kept slot blue',
  ...over,
});
const rollbackState = (over: Partial<RollbackState> = {}): RollbackState => ({ plan: rollbackPlan(), rollbackTarget: target(), ...over });
const healthyFlip = { trafficOn: 'blue' as const, idleHasTraffic: false, message: 'blue has 2 healthy targets' };

describe('decideRollbackOutcome', () => {
  it('kept slot: rolled back, 100% on the kept slot, the rolled-back slot scaled down', () => {
    const o = decideRollbackOutcome(rollbackState({ traffic: healthyFlip }), 'rolled-back');
    assert.deepEqual(
      { status: o.status, error: o.error, liveSlot: o.liveSlot, deploymentId: o.deploymentId },
      { status: 'rolled-back', error: null, liveSlot: 'blue', deploymentId: 'rb-1' },
    );
    assert.equal(
      o.message,
      'hello-world/production: rolled back by alice from release 2222222 (deployment run-2) to release 1111111 (deployment run-1) ("5xx after the release"): ' +
        'production traffic is 100% on the kept slot blue again (blue has 2 healthy targets); green was scaled down.',
    );
  });

  it('kept slot whose scale-down failed says so; an unknown kept release is named by its slot', () => {
    const o = decideRollbackOutcome(
      rollbackState({
        rollbackTarget: target({ target: { slot: 'blue' } }),
        traffic: healthyFlip,
        scaleDownError: { Error: 'Cutover.Transient', Cause: lambdaCause('Cutover.Transient', 'Rate exceeded') },
      }),
      'rolled-back',
    );
    assert.match(o.message, /to the release on blue \("5xx after the release"\)/);
    assert.match(o.message, /100% on the kept slot blue again \(blue has 2 healthy targets\); green could not be scaled down \(Rate exceeded\)\.$/);
  });

  it('redeploy: the release was deployed again, live where the child execution put it', () => {
    const o = decideRollbackOutcome(
      rollbackState({
        plan: rollbackPlan({ trigger: { source: 'alarm' } }),
        rollbackTarget: target({ mode: 'redeploy', target: { ...run1, slot: 'blue' } }),
        redeploy: { executionArn: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:rb-1-redeploy', status: 'SUCCEEDED', outcome: { liveSlot: 'blue' } },
      }),
      'rolled-back',
    );
    assert.equal(o.status, 'rolled-back');
    assert.equal(o.error, null);
    assert.equal(o.liveSlot, 'blue');
    assert.equal(
      o.message,
      'hello-world/production: rolled back from release 2222222 (deployment run-2) to release 1111111 (deployment run-1) ("5xx after the release"): ' +
        'release 1111111 (deployment run-1) was deployed again and is live on blue (execution rb-1-redeploy).',
      'no actor: no "by"',
    );
  });

  it('kept slot unhealthy, then redeployed: reads as a redeploy, not as a flip', () => {
    const o = decideRollbackOutcome(
      rollbackState({ traffic: { trafficOn: 'green', idleHasTraffic: true, message: 'blue has no healthy targets' }, redeploy: { status: 'SUCCEEDED', outcome: {} } }),
      'rolled-back',
    );
    assert.match(o.message, /release 1111111 \(deployment run-1\) was deployed again\.$/);
    assert.doesNotMatch(o.message, /kept slot/);
    assert.equal(o.liveSlot, 'blue', 'without the child\'s outcome: the target\'s slot');
  });

  it('failure: Cutover.RollbackFailed, traffic stays where it was (on the release rolled back)', () => {
    const o = decideRollbackOutcome(
      rollbackState({ failure: { Error: 'Cutover.Transient', Cause: lambdaCause('Cutover.Transient', 'Rate exceeded.') } }),
      'failed',
    );
    assert.equal(o.status, 'failed');
    assert.equal(o.error, 'Cutover.RollbackFailed');
    assert.equal(o.liveSlot, 'green');
    assert.equal(
      o.message,
      'hello-world/production: the rollback by alice ("5xx after the release") failed: Cutover.Transient: Rate exceeded. Production traffic stays on green (release 2222222 (deployment run-2)).',
    );
  });

  it('a failed redeploy names the child execution and its error', () => {
    const cause = JSON.stringify({ Name: 'rb-1-redeploy', Status: 'FAILED', Error: 'Cutover.GreenUnstable', Cause: lambdaCause('Cutover.GreenUnstable', 'never stable') });
    const o = decideRollbackOutcome(rollbackState({ rollbackTarget: target({ mode: 'redeploy' }), failure: { Error: 'States.TaskFailed', Cause: cause } }), 'failed');
    assert.equal(o.error, 'Cutover.RollbackFailed');
    assert.match(o.message, /failed: States\.TaskFailed: execution rb-1-redeploy failed with Cutover\.GreenUnstable: never stable\. Production traffic stays on green/);
  });

  it('refused before anything moved: keeps Cutover.NothingToRollBack / Cutover.DeploymentInProgress; no target, no traffic sentence', () => {
    for (const error of ['Cutover.NothingToRollBack', 'Cutover.DeploymentInProgress']) {
      const o = decideRollbackOutcome(rollbackState({ rollbackTarget: undefined, failure: { Error: error, Cause: lambdaCause(error, 'nothing there') } }), 'failed');
      assert.equal(o.status, 'failed');
      assert.equal(o.error, error);
      assert.equal(o.liveSlot, 'blue');
      assert.match(o.message, new RegExp(`failed: ${error.replace('.', '\\.')}: nothing there\\.$`));
      assert.doesNotMatch(o.message, /Production traffic/);
    }
  });

  it('"rolled-back" without a target is recorded as a failure (unknown), not thrown', () => {
    const o = decideRollbackOutcome(rollbackState({ rollbackTarget: undefined }), 'rolled-back');
    assert.equal(o.status, 'failed');
    assert.equal(o.error, 'Cutover.RollbackFailed');
    assert.match(o.message, /failed: Cutover\.Unknown: unknown failure\.$/);
  });

  describe('database sentences (the release rolled back ran migrations and left a snapshot)', () => {
    const restorable = (over: Partial<RollbackState>) =>
      decideRollbackOutcome(rollbackState({ rollbackTarget: target({ database: { restorable: true, snapshot: SNAP } }), traffic: healthyFlip, ...over }), 'rolled-back').message;

    it('restored: names the snapshot and the data-loss window', () => {
      assert.match(
        restorable({ database: { action: 'restored' } }),
        /was scaled down\. Database: restored from snapshot cutover-hello-world-production-run2 \(writes after 2024-05-01T12:01:00\.000Z are not in it; the previous instance was renamed aside and kept\)\.$/,
      );
    });
    it('kept by an operator names the operator; the snapshot is kept', () => {
      assert.match(
        restorable({ database: { action: 'kept' }, decision: { decision: 'keep', operator: 'bob' } }),
        /Database: schema and data kept as they are \(an operator \(bob\) chose to keep it\); snapshot cutover-hello-world-production-run2 is kept\.$/,
      );
    });
    it('no decision in time: nothing discarded', () => {
      assert.match(restorable({ database: { action: 'kept' }, decisionError: { Error: 'States.Timeout' } }), /kept as they are \(no operator decision arrived \(States\.Timeout\), so nothing was discarded\)/);
    });
    it('kept by policy', () => {
      const message = decideRollbackOutcome(
        rollbackState({ plan: rollbackPlan({ databaseFailurePolicy: 'keep' }), rollbackTarget: target({ database: { restorable: true, snapshot: SNAP } }), traffic: healthyFlip, database: { action: 'kept' } }),
        'rolled-back',
      ).message;
      assert.match(message, /kept as they are \(policy "keep"\); snapshot cutover-hello-world-production-run2 is kept\.$/);
    });
    it('restore failed: check by hand — also on a failed rollback', () => {
      const restoreError = { Error: 'Cutover.ResourceState', Cause: lambdaCause('Cutover.ResourceState', 'did not finish in time') };
      assert.match(restorable({ restoreError }), /Database: restoring snapshot cutover-hello-world-production-run2 failed \(did not finish in time\); check the database by hand\.$/);
      const failed = decideRollbackOutcome(
        rollbackState({ rollbackTarget: target({ database: { restorable: true, snapshot: SNAP } }), failure: { Error: 'X', Cause: 'y' }, restoreError }),
        'failed',
      );
      assert.match(failed.message, /Production traffic stays on green \(release 2222222 \(deployment run-2\)\)\. Database: restoring snapshot .* failed/);
    });
    it('no database step yet, or nothing restorable: no database sentence', () => {
      assert.doesNotMatch(restorable({}), /Database:/);
      assert.doesNotMatch(restorable({ database: { action: 'none' } }), /Database:/);
      const notRestorable = decideRollbackOutcome(rollbackState({ traffic: healthyFlip, database: { action: 'kept' } }), 'rolled-back');
      assert.doesNotMatch(notRestorable.message, /Database:/);
    });
  });
});
