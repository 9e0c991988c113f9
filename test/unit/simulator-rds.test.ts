import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DBClusterAlreadyExistsFault,
  DBClusterSnapshotNotFoundFault,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DBSnapshotAlreadyExistsFault,
  DBSnapshotNotFoundFault,
  AddRoleToDBInstanceCommand,
  DBInstanceRoleAlreadyExistsFault,
  DeleteDBSnapshotCommand,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  InvalidDBInstanceStateFault,
  InvalidDBSnapshotStateFault,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RDSServiceException,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  waitUntilDBSnapshotAvailable,
} from '@aws-sdk/client-rds';
import { rdsClient } from '../../lib/aws/clients';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';

const DB = 'orders-production';
let h: ConnectedSimulator;

const instance = async (id: string) => (await rdsClient().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!;
const snapshot = async (id: string) => (await rdsClient().send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }))).DBSnapshots![0]!;

describe('simulator: RDS', () => {
  beforeEach(() => {
    h = connectSimulator({ snapshotSeconds: 120, restoreSeconds: 300, renameSeconds: 60 });
    h.sim.rds.seedInstance(DB, { data: 'rows-v1' });
  });
  afterEach(() => h.close());

  it('takes a snapshot: creating with progress, then available after snapshotSeconds; the instance is backing-up meanwhile', async () => {
    const takenAt = h.clock.now();

    const created = await rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 'pre-migration-1', DBInstanceIdentifier: DB }));
    h.clock.advance(60);
    const halfway = await snapshot('pre-migration-1');
    const busy = await instance(DB);
    h.clock.advance(60);
    const done = await snapshot('pre-migration-1');
    const waiter = await waitUntilDBSnapshotAvailable({ client: rdsClient(), maxWaitTime: 60 }, { DBSnapshotIdentifier: 'pre-migration-1' });
    const free = await instance(DB);

    assert.equal(created.DBSnapshot!.Status, 'creating');
    assert.equal(created.DBSnapshot!.PercentProgress, 0);
    assert.equal(created.DBSnapshot!.DBSnapshotArn, 'arn:aws:rds:us-east-1:123456789012:snapshot:pre-migration-1');
    assert.deepEqual(created.DBSnapshot!.SnapshotCreateTime, takenAt);
    assert.equal(halfway.Status, 'creating');
    assert.equal(halfway.PercentProgress, 50);
    assert.equal(busy.DBInstanceStatus, 'backing-up');
    assert.equal(done.Status, 'available');
    assert.equal(done.PercentProgress, 100);
    assert.equal(waiter.state, 'SUCCESS');
    assert.equal(free.DBInstanceStatus, 'available');
    assert.equal(h.sim.rds.snapshotData('pre-migration-1'), 'rows-v1');
  });

  it('rejects a duplicate snapshot id with DBSnapshotAlreadyExistsFault, and snapshots of a busy instance', async () => {
    await rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 's1', DBInstanceIdentifier: DB }));

    await assert.rejects(rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 's1', DBInstanceIdentifier: DB })), (err) => {
      assert.ok(err instanceof DBSnapshotAlreadyExistsFault);
      assert.equal(err.name, 'DBSnapshotAlreadyExistsFault');
      assert.equal(err.$metadata.httpStatusCode, 400);
      return true;
    });
    await assert.rejects(rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 's2', DBInstanceIdentifier: DB })), InvalidDBInstanceStateFault);
    await assert.rejects(rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 's3', DBInstanceIdentifier: 'nope' })), DBInstanceNotFoundFault);
    await assert.rejects(rdsClient().send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: 'nope' })), DBSnapshotNotFoundFault);
  });

  it('validates input with InvalidParameterValue', async () => {
    const bad = [
      new CreateDBSnapshotCommand({ DBSnapshotIdentifier: undefined, DBInstanceIdentifier: DB }),
      new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 'ends-with-', DBInstanceIdentifier: DB }),
      new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 'two--hyphens', DBInstanceIdentifier: DB }),
      new DescribeDBSnapshotsCommand({ MaxRecords: 5 }),
    ];
    for (const command of bad) {
      await assert.rejects(rdsClient().send(command as CreateDBSnapshotCommand), (err) => {
        assert.ok(err instanceof RDSServiceException);
        assert.equal(err.name, 'InvalidParameterValue');
        return true;
      });
    }
  });

  it('restores beside a renamed original: rename is immediate, restore creates a new instance with the snapshot data', async () => {
    await rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 'before', DBInstanceIdentifier: DB }));
    await assert.rejects(
      rdsClient().send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: 'copy', DBSnapshotIdentifier: 'before' })),
      InvalidDBSnapshotStateFault,
    );
    h.clock.advance(120);
    h.sim.rds.setInstanceData(DB, 'rows-v2');

    await assert.rejects(
      rdsClient().send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: DB, DBSnapshotIdentifier: 'before' })),
      DBInstanceAlreadyExistsFault,
    );
    const renamed = await rdsClient().send(
      new ModifyDBInstanceCommand({ DBInstanceIdentifier: DB, NewDBInstanceIdentifier: `${DB}-aside`, ApplyImmediately: true }),
    );
    await assert.rejects(instance(DB), DBInstanceNotFoundFault);
    const restored = await rdsClient().send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: DB, DBSnapshotIdentifier: 'before' }));
    h.clock.advance(60);
    const aside = await instance(`${DB}-aside`);
    h.clock.advance(239);
    const stillCreating = await instance(DB);
    h.clock.advance(1);
    const available = await instance(DB);

    assert.equal(renamed.DBInstance!.DBInstanceIdentifier, `${DB}-aside`);
    assert.equal(renamed.DBInstance!.DBInstanceStatus, 'renaming');
    assert.equal(renamed.DBInstance!.DBInstanceArn, `arn:aws:rds:us-east-1:123456789012:db:${DB}-aside`);
    assert.equal(aside.DBInstanceStatus, 'available');
    assert.equal(restored.DBInstance!.DBInstanceStatus, 'creating');
    assert.equal(stillCreating.DBInstanceStatus, 'creating');
    assert.equal(available.DBInstanceStatus, 'available');
    assert.match(available.Endpoint!.Address!, new RegExp(`^${DB}\\.[a-z0-9]{12}\\.us-east-1\\.rds\\.amazonaws\\.com$`));
    assert.equal(h.sim.rds.instanceData(DB), 'rows-v1', 'the restore has the data of the snapshot');
    assert.equal(h.sim.rds.instanceData(`${DB}-aside`), 'rows-v2', 'the renamed original keeps the later writes');
    assert.equal((await snapshot('before')).DBInstanceIdentifier, DB);
  });

  it('keeps a rename without ApplyImmediately pending, and rejects a rename onto an existing id', async () => {
    h.sim.rds.seedInstance('other');

    const pending = await rdsClient().send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: DB, NewDBInstanceIdentifier: 'later' }));

    assert.equal(pending.DBInstance!.DBInstanceIdentifier, DB);
    assert.deepEqual(pending.DBInstance!.PendingModifiedValues, { DBInstanceIdentifier: 'later' });
    await assert.rejects(
      rdsClient().send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: DB, NewDBInstanceIdentifier: 'OTHER', ApplyImmediately: true })),
      DBInstanceAlreadyExistsFault,
    );
  });

  it('deletes available snapshots only', async () => {
    await rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 'gone', DBInstanceIdentifier: DB }));
    await assert.rejects(rdsClient().send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: 'gone' })), InvalidDBSnapshotStateFault);
    h.clock.advance(120);

    const deleted = await rdsClient().send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: 'gone' }));

    assert.equal(deleted.DBSnapshot!.Status, 'deleted');
    await assert.rejects(snapshot('gone'), DBSnapshotNotFoundFault);
  });

  it('paginates snapshots with MaxRecords and Marker, oldest first', async () => {
    for (let i = 0; i < 25; i++) {
      await rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: `s-${i}`, DBInstanceIdentifier: DB }));
      h.clock.advance(120);
    }

    const first = await rdsClient().send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: DB, MaxRecords: 20 }));
    const second = await rdsClient().send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: DB, MaxRecords: 20, Marker: first.Marker }));
    const none = await rdsClient().send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'someone-else' }));

    assert.equal(first.DBSnapshots!.length, 20);
    assert.equal(first.DBSnapshots![0]!.DBSnapshotIdentifier, 's-0');
    assert.equal(second.DBSnapshots!.length, 5);
    assert.equal(second.DBSnapshots![4]!.DBSnapshotIdentifier, 's-24');
    assert.equal(second.Marker, undefined);
    assert.deepEqual(none.DBSnapshots, []);
  });

  it('Aurora: cluster snapshot, restore into a new cluster, add an instance, rename the original', async () => {
    h.sim.rds.seedCluster('shop', { data: 'aurora-v1' });

    await rdsClient().send(new CreateDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: 'shop-pre', DBClusterIdentifier: 'shop' }));
    h.clock.advance(120);
    const snap = (await rdsClient().send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: 'shop' }))).DBClusterSnapshots![0]!;
    await rdsClient().send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'shop', NewDBClusterIdentifier: 'shop-aside', ApplyImmediately: true }));
    const restored = await rdsClient().send(
      new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'shop', SnapshotIdentifier: snap.DBClusterSnapshotArn, Engine: 'aurora-postgresql' }),
    );
    await rdsClient().send(
      new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-restored-1', DBClusterIdentifier: 'shop', DBInstanceClass: 'db.r6g.large', Engine: 'aurora-postgresql' }),
    );
    h.clock.advance(300);
    const clusters = (await rdsClient().send(new DescribeDBClustersCommand({}))).DBClusters!;

    assert.equal(snap.Status, 'available');
    assert.equal(snap.DBClusterSnapshotArn, 'arn:aws:rds:us-east-1:123456789012:cluster-snapshot:shop-pre');
    assert.equal(restored.DBCluster!.Status, 'creating');
    assert.deepEqual(restored.DBCluster!.DBClusterMembers, []);
    assert.deepEqual(
      clusters.map((c) => [c.DBClusterIdentifier, c.Status, c.DBClusterMembers!.map((m) => [m.DBInstanceIdentifier, m.IsClusterWriter])]),
      [
        ['shop', 'available', [['shop-restored-1', true]]],
        ['shop-aside', 'available', [['shop-instance-1', true]]],
      ],
    );
    assert.equal((await instance('shop-instance-1')).DBClusterIdentifier, 'shop-aside');
    assert.equal(h.sim.rds.clusterData('shop'), 'aurora-v1');
    await assert.rejects(
      rdsClient().send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'shop', SnapshotIdentifier: 'shop-pre', Engine: 'aurora-postgresql' })),
      DBClusterAlreadyExistsFault,
    );
    await assert.rejects(
      rdsClient().send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'x', SnapshotIdentifier: 'nope', Engine: 'aurora-postgresql' })),
      DBClusterSnapshotNotFoundFault,
    );
    await assert.rejects(
      rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 'direct', DBInstanceIdentifier: 'shop-instance-1' })),
      /member of a cluster/,
    );
  });

  it('treats identifiers case-insensitively and accepts ARNs', async () => {
    const byUpper = await instance(DB.toUpperCase());
    const byArn = await instance(`arn:aws:rds:us-east-1:123456789012:db:${DB}`);

    assert.equal(byUpper.DBInstanceIdentifier, DB);
    assert.equal(byArn.DBInstanceIdentifier, DB);
  });

  describe('keeps the settings cutover carries over in a restore (issue 11)', () => {
    const ROLE = 'arn:aws:iam::123456789012:role/rds-monitoring';
    async function restored(extra: Record<string, unknown> = {}) {
      await rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 'snap-s', DBInstanceIdentifier: DB }));
      h.clock.advance(120);
      return rdsClient().send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: 'orders-r', DBSnapshotIdentifier: 'snap-s', ...extra }));
    }

    it('a restore keeps what the request set (storage, protection, backups, extended support, network type, AZ …)', async () => {
      await restored({
        StorageType: 'io2', Iops: 20000, DeletionProtection: true, CopyTagsToSnapshot: true, EnableIAMDatabaseAuthentication: true,
        EnableCloudwatchLogsExports: ['postgresql'], BackupRetentionPeriod: 21, PreferredBackupWindow: '02:00-02:30', AutoMinorVersionUpgrade: false,
        EngineLifecycleSupport: 'open-source-rds-extended-support-disabled', NetworkType: 'DUAL', AvailabilityZone: 'us-east-1c', MultiAZ: false,
        OptionGroupName: 'og-app', CACertificateIdentifier: 'rds-ca-ecc384-g1', DedicatedLogVolume: true,
      });
      const r = await instance('orders-r');
      assert.deepEqual(
        {
          StorageType: r.StorageType, Iops: r.Iops, DeletionProtection: r.DeletionProtection, CopyTagsToSnapshot: r.CopyTagsToSnapshot, IAM: r.IAMDatabaseAuthenticationEnabled,
          Logs: r.EnabledCloudwatchLogsExports, Backup: r.BackupRetentionPeriod, Window: r.PreferredBackupWindow, Minor: r.AutoMinorVersionUpgrade,
          Els: r.EngineLifecycleSupport, Net: r.NetworkType, Az: r.AvailabilityZone, Og: r.OptionGroupMemberships?.[0]?.OptionGroupName, Ca: r.CACertificateIdentifier, Dlv: r.DedicatedLogVolume,
        },
        {
          StorageType: 'io2', Iops: 20000, DeletionProtection: true, CopyTagsToSnapshot: true, IAM: true, Logs: ['postgresql'], Backup: 21, Window: '02:00-02:30', Minor: false,
          Els: 'open-source-rds-extended-support-disabled', Net: 'DUAL', Az: 'us-east-1c', Og: 'og-app', Ca: 'rds-ca-ecc384-g1', Dlv: true,
        },
      );
      assert.equal(r.MonitoringInterval, 0, 'a restore never enables enhanced monitoring');
      assert.equal(r.PerformanceInsightsEnabled, false, 'nor Performance Insights');
    });

    it('ModifyDBInstance (ApplyImmediately) applies monitoring, Performance Insights, storage autoscaling and windows; the instance is modifying meanwhile', async () => {
      await restored();
      h.clock.advance(300);
      await rdsClient().send(new ModifyDBInstanceCommand({
        DBInstanceIdentifier: 'orders-r', ApplyImmediately: true, MonitoringInterval: 30, MonitoringRoleArn: ROLE, EnablePerformanceInsights: true,
        PerformanceInsightsKMSKeyId: 'arn:aws:kms:us-east-1:123456789012:key/pi', PerformanceInsightsRetentionPeriod: 465, DatabaseInsightsMode: 'advanced',
        MaxAllocatedStorage: 2000, PreferredMaintenanceWindow: 'tue:04:00-tue:04:30', BackupRetentionPeriod: 14,
      }));
      const busy = await instance('orders-r');
      h.clock.advance(60);
      const r = await instance('orders-r');
      assert.equal(busy.DBInstanceStatus, 'modifying');
      assert.equal(r.DBInstanceStatus, 'available');
      assert.deepEqual(
        [r.MonitoringInterval, r.MonitoringRoleArn, r.PerformanceInsightsEnabled, r.PerformanceInsightsKMSKeyId, r.PerformanceInsightsRetentionPeriod, r.DatabaseInsightsMode, r.MaxAllocatedStorage, r.PreferredMaintenanceWindow, r.BackupRetentionPeriod],
        [30, ROLE, true, 'arn:aws:kms:us-east-1:123456789012:key/pi', 465, 'advanced', 2000, 'tue:04:00-tue:04:30', 14],
      );
    });

    it('refuses what AWS refuses: monitoring without its role, a zone with Multi-AZ, backup retention over 35', async () => {
      await restored();
      h.clock.advance(300);
      await assert.rejects(
        rdsClient().send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'orders-r', ApplyImmediately: true, MonitoringInterval: 30 })),
        (err: Error) => err.name === 'InvalidParameterCombination' && /MonitoringRoleARN/i.test(err.message),
      );
      await assert.rejects(
        rdsClient().send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: 'orders-r2', DBSnapshotIdentifier: 'snap-s', MultiAZ: true, AvailabilityZone: 'us-east-1a' })),
        (err: Error) => err.name === 'InvalidParameterCombination',
      );
      await assert.rejects(
        rdsClient().send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: 'orders-r3', DBSnapshotIdentifier: 'snap-s', BackupRetentionPeriod: 36 })),
        (err: Error) => err.name === 'InvalidParameterValue',
      );
    });

    it('AddRoleToDBInstance associates a role once (DBInstanceRoleAlreadyExistsFault after)', async () => {
      await restored();
      h.clock.advance(300);
      const add = () => rdsClient().send(new AddRoleToDBInstanceCommand({ DBInstanceIdentifier: 'orders-r', RoleArn: 'arn:aws:iam::123456789012:role/s3', FeatureName: 's3Import' }));
      await add();
      await assert.rejects(add(), (err: Error) => err instanceof DBInstanceRoleAlreadyExistsFault);
      assert.deepEqual((await instance('orders-r')).AssociatedRoles, [{ RoleArn: 'arn:aws:iam::123456789012:role/s3', FeatureName: 's3Import', Status: 'ACTIVE' }]);
    });

    it('Aurora: a cluster restore keeps Serverless v2 scaling, roles and windows; ModifyDBCluster applies the maintenance window and Data API', async () => {
      h.sim.rds.seedCluster('orders-aurora', { data: 'rows' });
      await rdsClient().send(new CreateDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: 'csnap', DBClusterIdentifier: 'orders-aurora' }));
      h.clock.advance(120);
      await rdsClient().send(new RestoreDBClusterFromSnapshotCommand({
        DBClusterIdentifier: 'orders-aurora-r', SnapshotIdentifier: 'csnap', Engine: 'aurora-postgresql',
        ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 }, DeletionProtection: true, BackupRetentionPeriod: 10,
        AssociatedRoles: [{ RoleArn: 'arn:aws:iam::123456789012:role/s3', FeatureName: 's3Import' }],
      }));
      h.clock.advance(300);
      await rdsClient().send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'orders-aurora-r', ApplyImmediately: true, PreferredMaintenanceWindow: 'wed:03:00-wed:03:30', EnableHttpEndpoint: true }));
      const c = (await rdsClient().send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'orders-aurora-r' }))).DBClusters![0]!;
      assert.deepEqual(
        [c.ServerlessV2ScalingConfiguration, c.DeletionProtection, c.BackupRetentionPeriod, c.AssociatedRoles, c.PreferredMaintenanceWindow, c.HttpEndpointEnabled],
        [{ MinCapacity: 0.5, MaxCapacity: 16 }, true, 10, [{ RoleArn: 'arn:aws:iam::123456789012:role/s3', FeatureName: 's3Import', Status: 'ACTIVE' }], 'wed:03:00-wed:03:30', true],
      );
    });
  });
});
