import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  DBClusterNotFoundFault,
  DescribeDBClustersCommand,
  RestoreDBClusterFromSnapshotCommand,
  type DBCluster,
  type DescribeDBClustersCommandInput,
  CreateDBSnapshotCommand,
  DBClusterSnapshotAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DBSnapshotAlreadyExistsFault,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  InvalidDBInstanceStateFault,
  ModifyDBInstanceCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  type DBInstance,
  type DescribeDBInstancesCommandInput,
  type ModifyDBInstanceCommandInput,
  type RestoreDBInstanceFromDBSnapshotCommandInput,
} from '@aws-sdk/client-rds';
import { rdsMock, resetSdkMocks, sdkError, throttlingError } from '../helpers/sdk-mocks';
import { planFrom } from '../helpers/plans';
import { handler } from '../../lambdas/database/handler';
import { restoreNames } from '../../lib/domain/restore';

const plan = planFrom();
const clusterPlan = planFrom((env) => {
  delete env.database.instanceIdentifier;
  env.database.clusterIdentifier = 'hello-aurora';
});
const SNAP = plan.database!.snapshotIdentifier;
const created = new Date('2024-05-01T12:01:00Z');

describe('database handler', () => {
  beforeEach(() => resetSdkMocks());

  describe('createSnapshot', () => {
    it('instance: CreateDBSnapshot with the plan’s identifier and deployment tags, then reports its status', async () => {
      rdsMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: SNAP, Status: 'creating', PercentProgress: 0 }] });
      const out = (await handler({ action: 'createSnapshot', plan })) as Record<string, unknown>;
      const input = rdsMock.commandCalls(CreateDBSnapshotCommand)[0]!.args[0].input;
      assert.equal(input.DBInstanceIdentifier, 'hello-world-production');
      assert.equal(input.DBSnapshotIdentifier, SNAP);
      assert.deepEqual(input.Tags, [
        { Key: 'cutover:deployment', Value: 'run-1' },
        { Key: 'cutover:service', Value: 'hello-world' },
        { Key: 'cutover:environment', Value: 'production' },
      ]);
      assert.equal(out.taken, true);
      assert.equal(out.kind, 'instance');
      assert.equal(out.identifier, SNAP);
      assert.equal(out.status, 'creating');
      assert.equal(out.checksLeft, plan.snapshotChecks);
      assert.equal(rdsMock.commandCalls(CreateDBClusterSnapshotCommand).length, 0);
    });

    it('DBSnapshotAlreadyExistsFault (a retried step) is idempotent: the existing snapshot is reported', async () => {
      rdsMock.on(CreateDBSnapshotCommand).rejects(sdkError(DBSnapshotAlreadyExistsFault, `Cannot create the snapshot because a snapshot with the identifier ${SNAP} already exists.`));
      rdsMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'available', PercentProgress: 100, SnapshotCreateTime: created }] });
      const out = (await handler({ action: 'createSnapshot', plan })) as Record<string, unknown>;
      assert.equal(out.status, 'available');
      assert.equal(out.createdAt, '2024-05-01T12:01:00.000Z');
    });

    it('other RDS errors are not swallowed', async () => {
      rdsMock.on(CreateDBSnapshotCommand).rejects(sdkError(InvalidDBInstanceStateFault, 'instance is stopped'));
      await assert.rejects(handler({ action: 'createSnapshot', plan }), InvalidDBInstanceStateFault);
    });

    it('an instance that vanished: RDS’s own error, its message naming the call, the snapshot and the instance', async () => {
      rdsMock.on(CreateDBSnapshotCommand).rejects(sdkError(DBInstanceNotFoundFault, 'DBInstance hello-world-production not found.'));
      await assert.rejects(handler({ action: 'createSnapshot', plan }), (err: Error) => {
        assert.ok(err instanceof DBInstanceNotFoundFault);
        assert.equal(err.message, `RDS CreateDBSnapshot ${SNAP} of hello-world-production failed: DBInstanceNotFoundFault: DBInstance hello-world-production not found.`);
        return true;
      });
    });

    it('throttling → Cutover.Transient', async () => {
      rdsMock.on(CreateDBSnapshotCommand).rejects(throttlingError('rds'));
      await assert.rejects(handler({ action: 'createSnapshot', plan }), { name: 'Cutover.Transient' });
    });

    it('cluster: uses the cluster snapshot APIs (and tolerates DBClusterSnapshotAlreadyExistsFault)', async () => {
      rdsMock.on(CreateDBClusterSnapshotCommand).rejects(sdkError(DBClusterSnapshotAlreadyExistsFault, 'exists'));
      rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ Status: 'creating', PercentProgress: 40 }] });
      const out = (await handler({ action: 'createSnapshot', plan: clusterPlan })) as Record<string, unknown>;
      const input = rdsMock.commandCalls(CreateDBClusterSnapshotCommand)[0]!.args[0].input;
      assert.equal(input.DBClusterIdentifier, 'hello-aurora');
      assert.equal(input.DBClusterSnapshotIdentifier, clusterPlan.database!.snapshotIdentifier);
      assert.equal(rdsMock.commandCalls(DescribeDBClusterSnapshotsCommand)[0]!.args[0].input.DBClusterSnapshotIdentifier, clusterPlan.database!.snapshotIdentifier);
      assert.equal(out.kind, 'cluster');
      assert.equal(out.percent, 40);
      assert.equal(rdsMock.commandCalls(CreateDBSnapshotCommand).length, 0);
      assert.equal(rdsMock.commandCalls(DescribeDBSnapshotsCommand).length, 0);
    });
  });

  describe('checkSnapshot', () => {
    it('decrements checksLeft and reports progress', async () => {
      rdsMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: SNAP }).resolves({ DBSnapshots: [{ Status: 'creating', PercentProgress: 55 }] });
      const out = (await handler({ action: 'checkSnapshot', plan, snapshot: { identifier: SNAP, checksLeft: 7 } })) as Record<string, unknown>;
      assert.equal(out.checksLeft, 6);
      assert.equal(out.status, 'creating');
      assert.equal(out.message, `snapshot ${SNAP} of hello-world-production is creating (55%)`);
    });

    it('available', async () => {
      rdsMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'available', PercentProgress: 100 }] });
      const out = (await handler({ action: 'checkSnapshot', plan, snapshot: { identifier: SNAP, checksLeft: 3 } })) as Record<string, unknown>;
      assert.equal(out.status, 'available');
      assert.equal(out.checksLeft, 2);
    });

    it('out of checks while creating says it was not available in time', async () => {
      rdsMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'creating', PercentProgress: 90 }] });
      const out = (await handler({ action: 'checkSnapshot', plan, snapshot: { identifier: SNAP, checksLeft: 1 } })) as Record<string, unknown>;
      assert.equal(out.checksLeft, 0);
      assert.match(out.message as string, /was not available in time \(status creating, 90%\)/);
    });

    it('a snapshot that vanished reports status missing', async () => {
      rdsMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [] });
      const out = (await handler({ action: 'checkSnapshot', plan, snapshot: { identifier: SNAP, checksLeft: 3 } })) as Record<string, unknown>;
      assert.equal(out.status, 'missing');
    });
  });

  describe('restoreStep (instance)', () => {
    const names = restoreNames('hello-world-production', 'run-1');
    const original: DBInstance = {
      DBInstanceIdentifier: 'hello-world-production',
      DBInstanceStatus: 'available',
      DBInstanceClass: 'db.r6g.large',
      DBSubnetGroup: { DBSubnetGroupName: 'app-db-subnets' },
      VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-db1', Status: 'active' }, { VpcSecurityGroupId: 'sg-db2', Status: 'active' }],
      DBParameterGroups: [{ DBParameterGroupName: 'pg16-app' }],
      MultiAZ: true,
      PubliclyAccessible: false,
    };

    /** A tiny stateful RDS: instances by identifier; restore creates one, modify renames one. */
    function fakeRds(initial: Record<string, DBInstance>) {
      const db = new Map(Object.entries(initial));
      const log: string[] = [];
      rdsMock.on(DescribeDBInstancesCommand).callsFake((input: DescribeDBInstancesCommandInput) => {
        const found = db.get(input.DBInstanceIdentifier!);
        if (!found) throw sdkError(DBInstanceNotFoundFault, `DBInstance ${input.DBInstanceIdentifier} not found.`);
        return { DBInstances: [found] };
      });
      rdsMock.on(RestoreDBInstanceFromDBSnapshotCommand).callsFake((input: RestoreDBInstanceFromDBSnapshotCommandInput) => {
        log.push(`restore ${input.DBSnapshotIdentifier} -> ${input.DBInstanceIdentifier}`);
        db.set(input.DBInstanceIdentifier!, { DBInstanceIdentifier: input.DBInstanceIdentifier, DBInstanceStatus: 'available' });
        return {};
      });
      rdsMock.on(ModifyDBInstanceCommand).callsFake((input: ModifyDBInstanceCommandInput) => {
        const inst = db.get(input.DBInstanceIdentifier!)!;
        if (!input.NewDBInstanceIdentifier) {
          // Settings (monitoring, Performance Insights, …): applied as described.
          const { DBInstanceIdentifier: _i, ApplyImmediately: _a, EnablePerformanceInsights: pi, ...rest } = input;
          log.push(`modify ${input.DBInstanceIdentifier}`);
          db.set(input.DBInstanceIdentifier!, { ...inst, ...(rest as DBInstance), ...(pi === undefined ? {} : { PerformanceInsightsEnabled: pi }) });
          return {};
        }
        log.push(`rename ${input.DBInstanceIdentifier} -> ${input.NewDBInstanceIdentifier}`);
        db.delete(input.DBInstanceIdentifier!);
        db.set(input.NewDBInstanceIdentifier!, { ...inst, DBInstanceIdentifier: input.NewDBInstanceIdentifier });
        return {};
      });
      return { db, log };
    }
    const step = (checksLeft?: number) =>
      handler({ action: 'restoreStep', plan, snapshot: { identifier: SNAP }, restore: { phase: 'start', ...(checksLeft === undefined ? {} : { checksLeft }) } }) as Promise<Record<string, any>>;

    it('first step restores the snapshot as a new instance shaped like the original', async () => {
      fakeRds({ [original.DBInstanceIdentifier!]: original });
      const out = await step();
      assert.equal(out.phase, 'restoring');
      assert.equal(out.done, false);
      assert.deepEqual(out.names, names);
      const input = rdsMock.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0]!.args[0].input;
      assert.equal(input.DBInstanceIdentifier, names.restored);
      assert.equal(input.DBSnapshotIdentifier, SNAP);
      assert.equal(input.DBInstanceClass, 'db.r6g.large');
      assert.equal(input.DBSubnetGroupName, 'app-db-subnets');
      assert.deepEqual(input.VpcSecurityGroupIds, ['sg-db1', 'sg-db2']);
      assert.equal(input.DBParameterGroupName, 'pg16-app');
      assert.equal(input.MultiAZ, true);
      assert.equal(input.PubliclyAccessible, false);
      assert.equal(rdsMock.commandCalls(ModifyDBInstanceCommand).length, 0);
    });

    it('restore → rename original aside → rename restored into place → done, in that order, deleting nothing', async () => {
      const { db, log } = fakeRds({ [original.DBInstanceIdentifier!]: original });
      const phases: string[] = [];
      let checksLeft: number | undefined;
      for (let i = 0; i < 6; i++) {
        const out = await step(checksLeft);
        phases.push(out.phase);
        checksLeft = out.checksLeft;
        if (out.done) break;
      }
      assert.deepEqual(phases, ['restoring', 'renaming-original', 'renaming-restored', 'done']);
      assert.deepEqual(log, [
        `restore ${SNAP} -> ${names.restored}`,
        `rename hello-world-production -> ${names.aside}`,
        `rename ${names.restored} -> hello-world-production`,
      ]);
      assert.deepEqual([...db.keys()].sort(), ['hello-world-production', names.aside].sort());
      assert.equal(db.get(names.aside)!.DBInstanceClass, 'db.r6g.large', 'the previous instance is kept aside');
      for (const m of rdsMock.commandCalls(ModifyDBInstanceCommand)) assert.equal(m.args[0].input.ApplyImmediately, true);
    });

    it('carries every setting of the original the restore accepts, and sets monitoring / Performance Insights on the restored instance before the swap (not with a rename)', async () => {
      const full: DBInstance = {
        ...original,
        Endpoint: { Port: 5433 },
        OptionGroupMemberships: [{ OptionGroupName: 'og-app', Status: 'in-sync' }],
        DeletionProtection: true,
        CopyTagsToSnapshot: true,
        IAMDatabaseAuthenticationEnabled: true,
        EnabledCloudwatchLogsExports: ['postgresql', 'upgrade'],
        StorageType: 'gp3',
        Iops: 12000,
        StorageThroughput: 500,
        AllocatedStorage: 400,
        BackupRetentionPeriod: 14,
        PreferredBackupWindow: '03:00-04:00',
        AutoMinorVersionUpgrade: false,
        CACertificateIdentifier: 'rds-ca-rsa2048-g1',
        PerformanceInsightsEnabled: true,
        PerformanceInsightsKMSKeyId: 'arn:aws:kms:us-east-1:123456789012:key/pi',
        PerformanceInsightsRetentionPeriod: 31,
        MonitoringInterval: 15,
        MonitoringRoleArn: 'arn:aws:iam::123456789012:role/rds-monitoring',
        TagList: [{ Key: 'team', Value: 'web' }, { Key: 'aws:cloudformation:stack-name', Value: 'db' }],
      };
      const { db } = fakeRds({ [original.DBInstanceIdentifier!]: full });
      await step();
      const input = rdsMock.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0]!.args[0].input;
      assert.deepEqual(
        {
          Port: input.Port, OptionGroupName: input.OptionGroupName, DeletionProtection: input.DeletionProtection, CopyTagsToSnapshot: input.CopyTagsToSnapshot,
          EnableIAMDatabaseAuthentication: input.EnableIAMDatabaseAuthentication, EnableCloudwatchLogsExports: input.EnableCloudwatchLogsExports,
          StorageType: input.StorageType, Iops: input.Iops, StorageThroughput: input.StorageThroughput, AllocatedStorage: input.AllocatedStorage,
          BackupRetentionPeriod: input.BackupRetentionPeriod, PreferredBackupWindow: input.PreferredBackupWindow,
          AutoMinorVersionUpgrade: input.AutoMinorVersionUpgrade, CACertificateIdentifier: input.CACertificateIdentifier,
        },
        {
          Port: 5433, OptionGroupName: 'og-app', DeletionProtection: true, CopyTagsToSnapshot: true,
          EnableIAMDatabaseAuthentication: true, EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
          StorageType: 'gp3', Iops: 12000, StorageThroughput: 500, AllocatedStorage: 400,
          BackupRetentionPeriod: 14, PreferredBackupWindow: '03:00-04:00',
          AutoMinorVersionUpgrade: false, CACertificateIdentifier: 'rds-ca-rsa2048-g1',
        },
      );
      assert.deepEqual(input.Tags, [{ Key: 'team', Value: 'web' }, { Key: 'cutover:restored-from', Value: SNAP }], 'the original tags but aws:*, plus where it came from');
      // Restore cannot take monitoring or Performance Insights: a modify of the restored instance sets them, before any rename.
      db.get(names.restored)!.DBInstanceStatus = 'available';
      let restore: Record<string, unknown> = { phase: 'restoring', checksLeft: 50 };
      for (let i = 0; i < 4; i++) restore = await handler({ action: 'restoreStep', plan, snapshot: { identifier: SNAP }, restore }) as Record<string, unknown>;
      const modifies = rdsMock.commandCalls(ModifyDBInstanceCommand).map((c) => c.args[0].input);
      const intoPlace = modifies[0]!;
      assert.equal(intoPlace.DBInstanceIdentifier, names.restored);
      assert.equal(intoPlace.NewDBInstanceIdentifier, undefined, 'not with a rename');
      assert.ok(modifies.slice(1).every((m) => m.MonitoringInterval === undefined && m.EnablePerformanceInsights === undefined), 'renames carry no settings');
      assert.deepEqual(
        {
          MonitoringInterval: intoPlace.MonitoringInterval, MonitoringRoleArn: intoPlace.MonitoringRoleArn, EnablePerformanceInsights: intoPlace.EnablePerformanceInsights,
          PerformanceInsightsKMSKeyId: intoPlace.PerformanceInsightsKMSKeyId, PerformanceInsightsRetentionPeriod: intoPlace.PerformanceInsightsRetentionPeriod, ApplyImmediately: intoPlace.ApplyImmediately,
        },
        { MonitoringInterval: 15, MonitoringRoleArn: 'arn:aws:iam::123456789012:role/rds-monitoring', EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: 'arn:aws:kms:us-east-1:123456789012:key/pi', PerformanceInsightsRetentionPeriod: 31, ApplyImmediately: true },
      );
    });

    it('waits while the restored instance is still creating (no rename yet)', async () => {
      fakeRds({ [original.DBInstanceIdentifier!]: original, [names.restored]: { DBInstanceIdentifier: names.restored, DBInstanceStatus: 'creating' } });
      const out = await step(100);
      assert.equal(out.phase, 'restoring');
      assert.equal(out.checksLeft, 99);
      assert.equal(rdsMock.commandCalls(ModifyDBInstanceCommand).length, 0);
      assert.equal(rdsMock.commandCalls(RestoreDBInstanceFromDBSnapshotCommand).length, 0);
    });

    it('running out of checks before done is Cutover.ResourceState naming the kept copies', async () => {
      fakeRds({ [original.DBInstanceIdentifier!]: original, [names.restored]: { DBInstanceIdentifier: names.restored, DBInstanceStatus: 'creating' } });
      await assert.rejects(step(1), (err: Error) => {
        assert.equal(err.name, 'Cutover.ResourceState');
        assert.ok(err.message.includes(names.aside) && err.message.includes(names.restored), err.message);
        return true;
      });
    });
  });

  describe('restoreStep (Aurora cluster)', () => {
    const names = restoreNames('hello-aurora', 'run-1');
    const originalCluster: DBCluster = {
      DBClusterIdentifier: 'hello-aurora',
      Status: 'available',
      Engine: 'aurora-postgresql',
      EngineVersion: '16.4',
      DBSubnetGroup: 'aurora-subnets',
      DBClusterParameterGroup: 'aurora-pg16',
      VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-aurora', Status: 'active' }],
      DBClusterMembers: [
        { DBInstanceIdentifier: 'hello-aurora-reader', IsClusterWriter: false },
        { DBInstanceIdentifier: 'hello-aurora-writer', IsClusterWriter: true },
      ],
    };
    function clusters(byId: Record<string, DBCluster>) {
      rdsMock.on(DescribeDBClustersCommand).callsFake((input: DescribeDBClustersCommandInput) => {
        const c = byId[input.DBClusterIdentifier!];
        if (!c) throw sdkError(DBClusterNotFoundFault, `DBCluster ${input.DBClusterIdentifier} not found.`);
        return { DBClusters: [c] };
      });
      rdsMock.on(DescribeDBInstancesCommand).callsFake((input: DescribeDBInstancesCommandInput) => ({
        DBInstances: [{ DBInstanceIdentifier: input.DBInstanceIdentifier, DBInstanceStatus: 'available', DBInstanceClass: 'db.r7g.xlarge' }],
      }));
    }
    const step = () => handler({ action: 'restoreStep', plan: clusterPlan, snapshot: { identifier: 'snap-c' }, restore: { phase: 'start' } }) as Promise<Record<string, any>>;

    it('restores a cluster shaped like the original (its writer comes in the next step)', async () => {
      clusters({ 'hello-aurora': originalCluster });
      const out = await step();
      assert.equal(out.phase, 'restoring');
      const input = rdsMock.commandCalls(RestoreDBClusterFromSnapshotCommand)[0]!.args[0].input;
      assert.equal(input.DBClusterIdentifier, names.restored);
      assert.equal(input.SnapshotIdentifier, 'snap-c');
      assert.equal(input.Engine, 'aurora-postgresql');
      assert.equal(input.EngineVersion, '16.4');
      assert.equal(input.DBSubnetGroupName, 'aurora-subnets');
      assert.deepEqual(input.VpcSecurityGroupIds, ['sg-aurora']);
      assert.equal(input.DBClusterParameterGroupName, 'aurora-pg16');
      assert.equal(rdsMock.commandCalls(CreateDBInstanceCommand).length, 0);
      assert.equal(rdsMock.commandCalls(RestoreDBInstanceFromDBSnapshotCommand).length, 0);
    });

    it('adds the writer, of the original writer’s class, once the restored cluster is available without instances', async () => {
      clusters({ 'hello-aurora': originalCluster, [names.restored]: { DBClusterIdentifier: names.restored, Status: 'available', DBClusterMembers: [] } });
      await step();
      assert.equal(rdsMock.commandCalls(CreateDBInstanceCommand).length, 1, 'the missing writer is created');
      const writer = rdsMock.commandCalls(CreateDBInstanceCommand)[0]!.args[0].input;
      assert.equal(writer.DBClusterIdentifier, names.restored);
      assert.equal(writer.DBInstanceClass, 'db.r7g.xlarge');
      assert.ok(writer.DBInstanceIdentifier!.length <= 63);
    });
  });

  it('a plan without a database is Cutover.InvalidInput', async () => {
    await assert.rejects(handler({ action: 'createSnapshot', plan: { ...plan, database: null } }), { name: 'Cutover.InvalidInput' });
    assert.equal(rdsMock.calls().length, 0);
  });
});
