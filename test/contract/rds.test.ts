/**
 * Contract: RDS as cutover calls it (lib/aws/rds.ts; RDS reads of lib/aws/inspect.ts) — instance and
 * cluster snapshots, restore as a new database, the Aurora writer, renames, and the not-found /
 * already-exists faults cutover relies on — on moto and on the twin's simulator, with the same
 * assertions. moto finishes snapshots, restores and renames at once: the intermediate states
 * (`creating`, `renaming`) are asserted on the twin only.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DBClusterNotFoundFault,
  DBClusterSnapshotAlreadyExistsFault,
  DBClusterSnapshotNotFoundFault,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DBSnapshotAlreadyExistsFault,
  DBSnapshotNotFoundFault,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
} from '@aws-sdk/client-rds';
import { rdsClient } from '../../lib/aws/clients';
import { createClusterWriter, createSnapshot, describeSnapshot, findCluster, findDb, findInstance, rename, restoreAsNew } from '../../lib/aws/rds';
import { describeDatabase } from '../../lib/aws/inspect';
import { NO_INSTANCES } from '../../lib/domain/restore';
import { ACCOUNT, REGION } from './support/backends';
import { contract, rejectsWith } from './support/suite';

contract('RDS (lib/aws/rds.ts, lib/aws/inspect.ts)', (ctx) => {
  it('DescribeDBInstances: the fields a restore copies from the original', async () => {
    const i = await findInstance(ctx.fx.instanceId);
    assert.equal(i?.DBInstanceIdentifier, ctx.fx.instanceId);
    assert.equal(i?.DBInstanceStatus, 'available');
    assert.equal(i?.Engine, 'postgres');
    assert.equal(i?.DBInstanceClass, 'db.t4g.micro');
    assert.equal(i?.DBInstanceArn, `arn:aws:rds:${REGION}:${ACCOUNT}:db:${ctx.fx.instanceId}`);
    assert.equal(typeof i?.MultiAZ, 'boolean');
    const info = await describeDatabase('instance', ctx.fx.instanceId);
    assert.equal(info?.engine, 'postgres');
    assert.equal(info?.status, 'available');
    assert.equal(info?.clusterIdentifier, undefined);
  });

  it('DescribeDBInstances: PubliclyAccessible, which a restore copies', ctx.notOnMoto('DescribeDBInstances leaves PubliclyAccessible out'), async () => {
    assert.equal(typeof (await findInstance(ctx.fx.instanceId))?.PubliclyAccessible, 'boolean');
  });

  it(
    'DescribeDBInstances: VpcSecurityGroups and DBParameterGroups, which a restore copies (without them the restored database gets the VPC\'s default security group)',
    {},
    async () => {
      const i = await findInstance(ctx.fx.instanceId);
      assert.ok((i?.VpcSecurityGroups ?? []).length >= 1, 'an instance in a VPC has at least one VPC security group');
      assert.equal(typeof i?.VpcSecurityGroups?.[0]?.VpcSecurityGroupId, 'string');
      assert.equal(typeof i?.DBParameterGroups?.[0]?.DBParameterGroupName, 'string', 'every instance has a (default) parameter group');
    },
  );

  it('DescribeDBClusters: an Aurora cluster and its writer', async () => {
    const c = await findCluster(ctx.fx.auroraClusterId);
    assert.equal(c?.DBClusterIdentifier, ctx.fx.auroraClusterId);
    assert.equal(c?.Status, 'available');
    assert.equal(c?.Engine, 'aurora-postgresql');
    assert.equal(c?.DBClusterArn, `arn:aws:rds:${REGION}:${ACCOUNT}:cluster:${ctx.fx.auroraClusterId}`);
    assert.deepEqual(
      c?.DBClusterMembers?.map((m) => ({ id: m.DBInstanceIdentifier, writer: m.IsClusterWriter })),
      [{ id: ctx.fx.auroraWriterId, writer: true }],
    );
    assert.deepEqual(await findDb('cluster', ctx.fx.auroraClusterId), { identifier: ctx.fx.auroraClusterId, status: 'available' });
    assert.equal((await describeDatabase('instance', ctx.fx.auroraWriterId))?.clusterIdentifier, ctx.fx.auroraClusterId);
  });

  it('DescribeDBInstances / DescribeDBClusters: unknown identifiers are DBInstanceNotFoundFault / DBClusterNotFoundFault', async () => {
    await rejectsWith(rdsClient().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'no-such-db' })), 'DBInstanceNotFoundFault', DBInstanceNotFoundFault);
    assert.equal(await findInstance('no-such-db'), undefined);
    assert.equal(await findCluster('no-such-cluster'), undefined);
    assert.equal(await findDb('instance', 'no-such-db'), undefined);
    assert.equal(await describeDatabase('cluster', 'no-such-cluster'), undefined);
  });

  it('CreateDBSnapshot: creating, then available; the same identifier again is DBSnapshotAlreadyExistsFault (the adapter reuses it)', async () => {
    await createSnapshot('instance', ctx.fx.instanceId, 'contract-snap-1', { 'cutover:deployment': 'dep-1' });
    const first = await describeSnapshot('instance', 'contract-snap-1');
    assert.equal(first.identifier, 'contract-snap-1');
    assert.ok(['creating', 'available'].includes(first.status), first.status);
    await rejectsWith(
      rdsClient().send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: ctx.fx.instanceId, DBSnapshotIdentifier: 'contract-snap-1' })),
      'DBSnapshotAlreadyExistsFault',
      DBSnapshotAlreadyExistsFault,
    );
    await createSnapshot('instance', ctx.fx.instanceId, 'contract-snap-1', {}); // a retried step
    await ctx.backend.advance(600);
    const done = await describeSnapshot('instance', 'contract-snap-1');
    assert.equal(done.status, 'available');
    // moto answers PercentProgress 0 for an available DB snapshot (its cluster snapshots say 100).
    if (ctx.kind !== 'moto') assert.equal(done.percent, 100);
    assert.match(done.createdAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  it('CreateDBSnapshot: the snapshot is creating and the instance backing-up until it is done', ctx.notOnMoto('finishes snapshots at once'), async () => {
    await createSnapshot('instance', ctx.fx.instanceId, 'contract-snap-2', {});
    assert.equal((await describeSnapshot('instance', 'contract-snap-2')).status, 'creating');
    assert.equal((await findDb('instance', ctx.fx.instanceId))?.status, 'backing-up');
    await ctx.backend.advance(600);
    assert.equal((await describeSnapshot('instance', 'contract-snap-2')).status, 'available');
    assert.equal((await findDb('instance', ctx.fx.instanceId))?.status, 'available');
  });

  it('CreateDBSnapshot of an unknown instance is DBInstanceNotFoundFault; DescribeDBSnapshots of an unknown snapshot DBSnapshotNotFoundFault', async () => {
    await rejectsWith(createSnapshot('instance', 'no-such-db', 'contract-snap-x', {}), 'DBInstanceNotFoundFault', DBInstanceNotFoundFault);
    await rejectsWith(describeSnapshot('instance', 'no-such-snapshot'), 'DBSnapshotNotFoundFault', DBSnapshotNotFoundFault);
  });

  it('CreateDBClusterSnapshot: available after the snapshot time; the same identifier again is DBClusterSnapshotAlreadyExistsFault', async () => {
    await createSnapshot('cluster', ctx.fx.auroraClusterId, 'contract-csnap-1', { 'cutover:deployment': 'dep-1' });
    await rejectsWith(
      rdsClient().send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: ctx.fx.auroraClusterId, DBClusterSnapshotIdentifier: 'contract-csnap-1' })),
      'DBClusterSnapshotAlreadyExistsFault',
      DBClusterSnapshotAlreadyExistsFault,
    );
    await createSnapshot('cluster', ctx.fx.auroraClusterId, 'contract-csnap-1', {});
    await ctx.backend.advance(600);
    const done = await describeSnapshot('cluster', 'contract-csnap-1');
    assert.equal(done.status, 'available');
    assert.equal(done.percent, 100);
    assert.ok(done.createdAt);
    await rejectsWith(createSnapshot('cluster', 'no-such-cluster', 'contract-csnap-x', {}), 'DBClusterNotFoundFault', DBClusterNotFoundFault);
    await rejectsWith(describeSnapshot('cluster', 'no-such-snapshot'), 'DBClusterSnapshotNotFoundFault', DBClusterSnapshotNotFoundFault);
  });

  it('CreateDBClusterSnapshot: creating until done', ctx.notOnMoto('finishes snapshots at once'), async () => {
    await createSnapshot('cluster', ctx.fx.auroraClusterId, 'contract-csnap-2', {});
    assert.equal((await describeSnapshot('cluster', 'contract-csnap-2')).status, 'creating');
    await ctx.backend.advance(600);
    assert.equal((await describeSnapshot('cluster', 'contract-csnap-2')).status, 'available');
  });

  it('Restore and swap (instance): restore as new, rename the original aside, rename the restored into place', async () => {
    await createSnapshot('instance', ctx.fx.instanceId, 'contract-snap-swap', {});
    await ctx.backend.advance(600);
    await restoreAsNew('instance', ctx.fx.instanceId, 'contract-snap-swap', 'contract-db-restored');
    await ctx.backend.advance(1800);
    const restored = await findInstance('contract-db-restored');
    assert.equal(restored?.DBInstanceStatus, 'available');
    assert.equal(restored?.DBInstanceClass, 'db.t4g.micro', 'shaped like the original');
    await rejectsWith(
      rdsClient().send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: 'contract-db-restored', DBSnapshotIdentifier: 'contract-snap-swap' })),
      'DBInstanceAlreadyExistsFault',
      DBInstanceAlreadyExistsFault,
    );
    await rename('instance', ctx.fx.instanceId, 'contract-db-old');
    await ctx.backend.advance(600);
    await rename('instance', 'contract-db-restored', ctx.fx.instanceId);
    await ctx.backend.advance(600);
    assert.equal(await findInstance('contract-db-restored'), undefined);
    assert.equal((await findDb('instance', 'contract-db-old'))?.status, 'available', 'the original is kept, never deleted');
    const swapped = await findInstance(ctx.fx.instanceId);
    assert.equal(swapped?.DBInstanceStatus, 'available');
    assert.equal(swapped?.DBInstanceArn, `arn:aws:rds:${REGION}:${ACCOUNT}:db:${ctx.fx.instanceId}`);
    // put the fixture back for the tests after this one
    await rename('instance', ctx.fx.instanceId, 'contract-db-restored-2');
    await ctx.backend.advance(600);
    await rename('instance', 'contract-db-old', ctx.fx.instanceId);
    await ctx.backend.advance(600);
  });

  it('Restore and rename: the restored instance is creating, a renamed one renaming, until done', ctx.notOnMoto('finishes restores and renames at once'), async () => {
    await createSnapshot('instance', ctx.fx.instanceId, 'contract-snap-states', {});
    await ctx.backend.advance(600);
    await restoreAsNew('instance', ctx.fx.instanceId, 'contract-snap-states', 'contract-db-states');
    assert.equal((await findDb('instance', 'contract-db-states'))?.status, 'creating');
    await ctx.backend.advance(1800);
    assert.equal((await findDb('instance', 'contract-db-states'))?.status, 'available');
    await rename('instance', 'contract-db-states', 'contract-db-states-2');
    assert.equal((await findDb('instance', 'contract-db-states-2'))?.status, 'renaming');
    assert.equal(await findDb('instance', 'contract-db-states'), undefined, 'the old name is gone at once');
  });

  it('ModifyDBInstance: renaming an unknown instance is DBInstanceNotFoundFault', async () => {
    await rejectsWith(rename('instance', 'no-such-db', 'no-such-db-2'), 'DBInstanceNotFoundFault', DBInstanceNotFoundFault);
  });

  it('ModifyDBInstance: renaming onto a taken identifier is DBInstanceAlreadyExistsFault', ctx.notOnMoto('renames onto an identifier in use, leaving two instances of one name'), async () => {
    await rejectsWith(
      rdsClient().send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'contract-db-restored-2', NewDBInstanceIdentifier: ctx.fx.instanceId, ApplyImmediately: true })),
      'DBInstanceAlreadyExistsFault',
      DBInstanceAlreadyExistsFault,
    );
  });

  it('Restore and swap (Aurora): restore the cluster, add its writer (idempotently), rename both clusters', async () => {
    await createSnapshot('cluster', ctx.fx.auroraClusterId, 'contract-csnap-swap', {});
    await ctx.backend.advance(600);
    await restoreAsNew('cluster', ctx.fx.auroraClusterId, 'contract-csnap-swap', 'contract-aurora-restored');
    await ctx.backend.advance(1800);
    const bare = await findCluster('contract-aurora-restored');
    assert.equal(bare?.Engine, 'aurora-postgresql');
    assert.deepEqual(bare?.DBClusterMembers ?? [], [], 'a restored cluster has no instances');
    assert.equal((await findDb('cluster', 'contract-aurora-restored'))?.status, NO_INSTANCES);
    await createClusterWriter(ctx.fx.auroraClusterId, 'contract-aurora-restored');
    await createClusterWriter(ctx.fx.auroraClusterId, 'contract-aurora-restored'); // a retried step
    await ctx.backend.advance(1800);
    const withWriter = await findCluster('contract-aurora-restored');
    assert.deepEqual(withWriter?.DBClusterMembers?.map((m) => m.DBInstanceIdentifier), ['contract-aurora-restored-1']);
    assert.equal((await findInstance('contract-aurora-restored-1'))?.DBInstanceClass, 'db.r6g.large', "shaped like the original's writer");
    assert.deepEqual(await findDb('cluster', 'contract-aurora-restored'), { identifier: 'contract-aurora-restored', status: 'available' });
    await rename('cluster', ctx.fx.auroraClusterId, 'contract-aurora-old');
    await ctx.backend.advance(600);
    await rename('cluster', 'contract-aurora-restored', ctx.fx.auroraClusterId);
    await ctx.backend.advance(600);
    assert.equal(await findCluster('contract-aurora-restored'), undefined);
    assert.equal((await findCluster('contract-aurora-old'))?.Status, 'available', 'the original is kept, never deleted');
    const swapped = await findCluster(ctx.fx.auroraClusterId);
    assert.equal(swapped?.DBClusterArn, `arn:aws:rds:${REGION}:${ACCOUNT}:cluster:${ctx.fx.auroraClusterId}`);
    // moto keeps members by the cluster name they joined: after the swap the name lists the old
    // cluster's writer and the renamed cluster none. In RDS the instances follow their cluster.
    if (ctx.kind !== 'moto') {
      assert.deepEqual(swapped?.DBClusterMembers?.map((m) => m.DBInstanceIdentifier), ['contract-aurora-restored-1']);
      assert.deepEqual((await findCluster('contract-aurora-old'))?.DBClusterMembers?.map((m) => m.DBInstanceIdentifier), [ctx.fx.auroraWriterId]);
      assert.equal((await findInstance('contract-aurora-restored-1'))?.DBClusterIdentifier, ctx.fx.auroraClusterId);
    }
  });

  it('Restore (Aurora): the restored cluster is creating until done', ctx.notOnMoto('finishes restores at once'), async () => {
    await createSnapshot('cluster', ctx.fx.auroraClusterId, 'contract-csnap-states', {});
    await ctx.backend.advance(600);
    await restoreAsNew('cluster', ctx.fx.auroraClusterId, 'contract-csnap-states', 'contract-aurora-states');
    assert.equal((await findDb('cluster', 'contract-aurora-states'))?.status, 'creating');
  });
});
