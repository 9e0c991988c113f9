/**
 * deploy.asl.json when the migration task exits 1, under each database failure policy.
 *
 * The simulated database carries a data payload: `{ rows: 'before' }` when the snapshot is taken; the
 * failing migration leaves `{ rows: 'half-migrated' }` behind (as a non-transactional migration
 * would). A restore must put `before` back under the original identifier and keep the half-migrated
 * instance aside as `<id>-pre-<hash>`.
 *
 * Not covered: the 24 h timeout of AwaitDatabaseDecision. Its `TimeoutSeconds: 86400` is 86 s of real
 * time at the tests' time scale, and a time scale large enough to make it short (≥ 20000) also
 * shrinks every other Task's 60 s timeout below what a handler call takes. SendTaskFailure exercises
 * the same Catch (States.ALL → KeepDatabase).
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { sfnClient } from '../../lib/aws/clients';
import { restoreNames } from '../../lib/domain/restore';
import { configVariant, TestTwin, type StartedDeployment } from '../helpers/twin';

const DB = 'hello-world-production';
const MIGRATION_ERROR = 'ERROR: relation "greetings" already exists';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** A twin with `policy`, whose migration task half-migrates the database and exits 1. */
async function twinWithFailingMigration(policy: 'keep' | 'restore' | 'approve'): Promise<TestTwin> {
  const twin = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = policy)) });
  twin.sim.rds.setInstanceData(DB, { rows: 'before' });
  twin.sim.ecs.setRunTaskOutcome(() => {
    twin.sim.rds.setInstanceData(DB, { rows: 'half-migrated' });
    return { exitCode: 1, reason: MIGRATION_ERROR, durationSeconds: 5 };
  });
  return twin;
}

function resourceIdOf(twin: TestTwin, id: string): string | undefined {
  return twin.sim.rds.describeDBInstances({ DBInstanceIdentifier: id }).DBInstances?.[0]?.DbiResourceId;
}

function instanceIds(twin: TestTwin): string[] {
  return (twin.sim.rds.describeDBInstances({}).DBInstances ?? []).map((i) => i.DBInstanceIdentifier!);
}

/** Traffic, green and the lock as a failed migration must leave them. */
async function assertReleaseNeverReachedProduction(twin: TestTwin, d: StartedDeployment) {
  assert.deepEqual(twin.weights(), { blue: 100, green: 0 }, 'traffic untouched');
  assert.deepEqual(twin.weightsSet('green'), [], 'no ModifyListener at all');
  assert.deepEqual(twin.updateServiceCalls('green'), [], 'green was never updated');
  assert.equal(twin.desiredCount('green'), 0);
  assert.match(twin.service('green').taskDefinition!, /hello-world-production:1$/);
  assert.ok(!twin.statesEntered(d).includes('DeployGreen'));
  assert.equal(await twin.lock(), undefined, 'lock released');
}

/** The restore-and-swap happened: the original identifier holds the snapshot, the old instance is kept aside. */
function assertRestored(twin: TestTwin, d: StartedDeployment, originalResourceId: string | undefined) {
  const names = restoreNames(DB, d.name);
  assert.deepEqual(instanceIds(twin).sort(), [names.original, names.aside].sort(), `restored → renamed away: ${instanceIds(twin).join(', ')}`);
  assert.deepEqual(twin.sim.rds.instanceData(names.original), { rows: 'before' }, 'the original identifier holds the snapshot’s data');
  assert.deepEqual(twin.sim.rds.instanceData(names.aside), { rows: 'half-migrated' }, 'the migrated instance is kept aside');
  assert.equal(resourceIdOf(twin, names.aside), originalResourceId, 'the aside instance is the original one, renamed');
  assert.notEqual(resourceIdOf(twin, names.original), originalResourceId);
  const restore = twin.sim.calls.find((c) => c.operation === 'RestoreDBInstanceFromDBSnapshot')?.input as Record<string, string>;
  assert.equal(restore.DBInstanceIdentifier, names.restored);
  const snapshot = twin.sim.calls.find((c) => c.operation === 'CreateDBSnapshot')?.input as Record<string, string>;
  assert.equal(restore.DBSnapshotIdentifier, snapshot.DBSnapshotIdentifier, 'restored from this deployment’s snapshot');
  assert.equal(twin.sim.calls.filter((c) => c.operation.startsWith('Delete')).length, 0, 'nothing is deleted');
}

function assertKept(twin: TestTwin, originalResourceId: string | undefined) {
  assert.deepEqual(instanceIds(twin), [DB], 'no instance restored or renamed');
  assert.equal(resourceIdOf(twin, DB), originalResourceId);
  assert.deepEqual(twin.sim.rds.instanceData(DB), { rows: 'half-migrated' }, 'data as the migration left it');
  const rdsWrites = twin.writeCalls().filter((c) => c.service === 'rds').map((c) => c.operation);
  assert.deepEqual(rdsWrites, ['CreateDBSnapshot']);
}

describe('deploy: migration fails, policy keep', () => {
  it('fails with Cutover.MigrationFailed and changes nothing else', async () => {
    // Prepare
    t = await twinWithFailingMigration('keep');
    const resourceId = resourceIdOf(t, DB);
    // Act
    const { d, result } = await t.deploy();
    // Assess
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.MigrationFailed');
    assert.match(result.cause!, /Migration "npm run migrate" failed with exit code 1/);
    assert.match(result.cause!, /greetings/);
    assert.match(result.cause!, /policy "keep"/);
    await assertReleaseNeverReachedProduction(t, d);
    assertKept(t, resourceId);
    const record = await t.record(d);
    assert.equal(record?.status, 'failed');
    assert.equal(record?.error, 'Cutover.MigrationFailed');
    assert.equal(record?.liveSlot, 'blue');
  });
});

describe('deploy: migration runs past its timeout, policy keep', () => {
  it('stops the task and fails with Cutover.MigrationFailed', async () => {
    t = await TestTwin.start({
      config: configVariant((env) => {
        env.databaseFailurePolicy = 'keep';
        env.database.migration.timeoutSeconds = 30;
      }),
    });
    t.sim.ecs.setRunTaskOutcome(() => ({ exitCode: 0, durationSeconds: 3600 }));
    const { d, result } = await t.deploy();
    assert.equal(result.error, 'Cutover.MigrationFailed');
    assert.match(result.cause!, /did not finish in time and was stopped/);
    assert.equal(t.statesEntered(d).filter((s) => s === 'CheckMigration').length, 3, '30 s / 10 s checks');
    const runTask = t.sim.calls.find((c) => c.operation === 'RunTask')!;
    const stopTask = t.sim.calls.filter((c) => c.operation === 'StopTask');
    assert.equal(stopTask.length, 1);
    const { tasks } = t.sim.ecs.describeTasks({ cluster: t.env.cluster, tasks: [(stopTask[0]!.input as { task: string }).task] });
    assert.notEqual(tasks?.[0]?.lastStatus, 'RUNNING', 'the migration task is stopping or stopped');
    assert.ok(runTask.at < stopTask[0]!.at);
    await assertReleaseNeverReachedProduction(t, d);
  });
});

describe('deploy: migration fails, policy restore', () => {
  it('restores the snapshot under the original identifier and keeps the migrated instance aside', async () => {
    t = await twinWithFailingMigration('restore');
    const resourceId = resourceIdOf(t, DB);
    const { d, result } = await t.deploy();
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.MigrationFailed');
    assert.match(result.cause!, /Database: restored from snapshot cutover-hello-world-production-[0-9a-f]{10}/);
    assert.match(result.cause!, /renamed aside and kept/);
    const states = t.statesEntered(d);
    assert.ok(!states.includes('AwaitDatabaseDecision'), 'restore is automatic');
    assert.ok(states.filter((s) => s === 'RestoreSnapshot').length >= 4, 'restore, wait, rename aside, rename into place, done');
    assert.equal(states.at(-2), 'RecordFailure');
    await assertReleaseNeverReachedProduction(t, d);
    assertRestored(t, d, resourceId);
    assert.equal((await t.record(d))?.status, 'failed');
  });
});

describe('deploy: the migration task never started (its image cannot be pulled), policy restore and approve', () => {
  for (const policy of ['restore', 'approve'] as const) {
    it(`${policy}: not a failed migration — no restore, no database decision, the cause names what stopped it`, async () => {
      t = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = policy)) });
      t.sim.rds.setInstanceData(DB, { rows: 'before' });
      const PULL = 'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref hello-world:abc: not found';
      t.sim.ecs.setRunTaskOutcome(() => ({ exitCode: 0, failedToStart: PULL }));
      const resourceId = resourceIdOf(t, DB);
      const { d, result } = await t.deploy();
      assert.equal(result.status, 'FAILED');
      assert.equal(result.error, 'Cutover.MigrationNotStarted');
      assert.match(result.cause!, /did not start \(TaskFailedToStart: CannotPullContainerError: pull image manifest/);
      const states = t.statesEntered(d);
      assert.ok(!states.includes('RestoreSnapshot') && !states.includes('AwaitDatabaseDecision'), states.join(' → '));
      assert.deepEqual(instanceIds(t), [DB], 'no instance restored or renamed');
      assert.equal(resourceIdOf(t, DB), resourceId);
      assert.deepEqual(t.sim.rds.instanceData(DB), { rows: 'before' }, 'the data as it was');
      assert.deepEqual(t.writeCalls().filter((c) => c.service === 'rds').map((c) => c.operation), ['CreateDBSnapshot']);
      await assertReleaseNeverReachedProduction(t, d);
      assert.equal(await t.lock(), undefined, 'the lock is released');
    });
  }
});

describe('deploy: migration fails, policy restore, a 63-character DB identifier', () => {
  it('restores under names RDS accepts (regression: the restored name was 65 characters)', async () => {
    const id = `hello-world-${'x'.repeat(51)}`;
    t = await TestTwin.start({
      config: configVariant((env) => {
        env.databaseFailurePolicy = 'restore';
        env.database.instanceIdentifier = id;
      }),
    });
    t.sim.ecs.setRunTaskOutcome(() => ({ exitCode: 1 }));
    const { d, result } = await t.deploy();
    assert.equal(result.error, 'Cutover.MigrationFailed');
    assert.match(result.cause!, /Database: restored from snapshot/);
    const names = restoreNames(id, d.name);
    assert.ok(names.restored.length <= 63 && names.aside.length <= 63);
    assert.deepEqual(instanceIds(t).sort(), [id, names.aside].sort());
  });
});

describe('deploy: migration fails, policy approve', () => {
  it('waits at AwaitDatabaseDecision with the task token on the record, then restores on "restore"', async () => {
    t = await twinWithFailingMigration('approve');
    const resourceId = resourceIdOf(t, DB);
    const d = t.startDeployment();
    const pending = await t.pendingDecision(d);
    // Waiting: nothing restored, the execution is still running in AwaitDatabaseDecision.
    assert.equal(t.twin.sfn.describeExecution({ executionArn: d.executionArn }).status, 'RUNNING');
    assert.equal(t.statesEntered(d).at(-1), 'AwaitDatabaseDecision');
    assert.match(pending.question, /discards every write made since/);
    assert.deepEqual(instanceIds(t), [DB]);
    assert.equal((await t.lock())?.deploymentId, d.name, 'the lock is held while the operator decides');

    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: pending.token, output: JSON.stringify({ decision: 'restore', operator: 'ada' }) }));
    const result = await t.wait(d);

    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.MigrationFailed');
    assert.match(result.cause!, /restored from snapshot/);
    await assertReleaseNeverReachedProduction(t, d);
    assertRestored(t, d, resourceId);
    const record = await t.record(d);
    assert.equal(record?.pendingTaskToken, undefined, 'the answered question is cleared');
  });

  it('keeps the database on "keep"', async () => {
    t = await twinWithFailingMigration('approve');
    const resourceId = resourceIdOf(t, DB);
    const d = t.startDeployment();
    const { token } = await t.pendingDecision(d);
    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ decision: 'keep', operator: 'ada' }) }));
    const result = await t.wait(d);
    assert.equal(result.error, 'Cutover.MigrationFailed');
    assert.match(result.cause!, /kept as they are \(an operator \(ada\) chose to keep it\)/);
    assert.ok(!t.statesEntered(d).includes('RestoreSnapshot'));
    await assertReleaseNeverReachedProduction(t, d);
    assertKept(t, resourceId);
    assert.equal((await t.record(d))?.status, 'failed');
  });

  for (const answer of [{}, { Decision: 'restore' }, 'restore', { decision: 7 }]) {
    it(`keeps the database, and the execution ends normally, on an answer it cannot read: ${JSON.stringify(answer)}`, async () => {
      t = await twinWithFailingMigration('approve');
      const resourceId = resourceIdOf(t, DB);
      const d = t.startDeployment();
      const { token } = await t.pendingDecision(d);
      await sfnClient().send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(answer) }));
      const result = await t.wait(d);
      // Not an uncatchable States.Runtime (the lock would stay held): a recorded failure, nothing discarded.
      assert.equal(result.error, 'Cutover.MigrationFailed');
      assert.match(result.cause!, /kept as they are \(the operator's answer could not be read \(expected \{"decision":"restore"\} or \{"decision":"keep"\}\)/);
      assert.ok(!t.statesEntered(d).includes('RestoreSnapshot'));
      assertKept(t, resourceId);
      assert.equal((await t.record(d))?.status, 'failed');
      assert.equal(await t.lock(), undefined, 'the lock is released');
    });
  }

  it('keeps the database when the task fails (SendTaskFailure)', async () => {
    t = await twinWithFailingMigration('approve');
    const resourceId = resourceIdOf(t, DB);
    const d = t.startDeployment();
    const { token } = await t.pendingDecision(d);
    await sfnClient().send(new SendTaskFailureCommand({ taskToken: token, error: 'Operator.Declined', cause: 'not now' }));
    const result = await t.wait(d);
    assert.equal(result.error, 'Cutover.MigrationFailed');
    assert.match(result.cause!, /no operator decision arrived \(Operator\.Declined\), so nothing was discarded/);
    assert.ok(!t.statesEntered(d).includes('RestoreSnapshot'));
    assert.ok(t.statesEntered(d).includes('KeepDatabase'));
    await assertReleaseNeverReachedProduction(t, d);
    assertKept(t, resourceId);
  });
});

describe('deploy: the migration task\'s status cannot be read, policy restore', () => {
  it('never restores automatically (the migration may still run): an operator decides, told why', async () => {
    t = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = 'restore')) });
    t.sim.rds.setInstanceData(DB, { rows: 'before' });
    t.sim.ecs.setRunTaskOutcome(() => ({ exitCode: 0, durationSeconds: 600 }));
    // CheckMigration's DescribeTasks is denied on every attempt.
    t.sim.injectFault({ service: 'ecs', operation: 'DescribeTasks', error: 'AccessDeniedException', times: 1000 });
    const resourceId = resourceIdOf(t, DB);
    const d = t.startDeployment();
    const pending = await t.pendingDecision(d);
    assert.ok(t.statesEntered(d).includes('UnknownMigrationNeverRestoredAutomatically'));
    assert.match(pending.question, /could not read its migration task's status .*AccessDenied.*the migration may still be running: check the task \(and stop it\) before you restore/);
    assert.equal(t.sim.calls.filter((c) => c.operation === 'RestoreDBInstanceFromDBSnapshot').length, 0, 'nothing restored while waiting');

    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: pending.token, output: JSON.stringify({ decision: 'keep', operator: 'ada' }) }));
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.MigrationFailed');
    assert.deepEqual(instanceIds(t), [DB], 'no instance restored or renamed');
    assert.equal(resourceIdOf(t, DB), resourceId);
    assert.deepEqual(t.writeCalls().filter((c) => c.service === 'rds').map((c) => c.operation), ['CreateDBSnapshot']);
    await assertReleaseNeverReachedProduction(t, d);
  });
});
