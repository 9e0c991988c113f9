import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { causeText, decideOutcome, deploymentKey, environmentKey, lockKey, type DeploymentState } from '../../lib/domain/records';
import type { DeploymentPlan } from '../../lib/domain/plan';

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
