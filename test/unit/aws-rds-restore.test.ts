/**
 * The restore keeps the original database's configuration (issue 11, finding 3): every field of the
 * restore request is carried from the original's description or listed as not carried with a reason
 * (checked against the SDK's runtime schemas, so an SDK upgrade cannot add a field that is silently
 * left out), and what the restore call cannot take is applied to the restored database with
 * ModifyDBInstance / ModifyDBCluster (ApplyImmediately) *before* the swap, while the original still
 * serves under its name.
 */
import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddRoleToDBInstanceCommand,
  CreateDBInstanceCommand,
  DBClusterNotFoundFault,
  DBInstanceNotFoundFault,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBClusterFromSnapshotMessage$,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceFromDBSnapshotMessage$,
  type AddRoleToDBInstanceCommandInput,
  type DBCluster,
  type DBInstance,
  type DescribeDBClustersCommandInput,
  type DescribeDBInstancesCommandInput,
  type ModifyDBClusterCommandInput,
  type ModifyDBInstanceCommandInput,
  type RestoreDBClusterFromSnapshotCommandInput,
  type RestoreDBInstanceFromDBSnapshotCommandInput,
} from '@aws-sdk/client-rds';
import { rdsMock, resetSdkMocks, sdkError } from '../helpers/sdk-mocks';
import { planFrom } from '../helpers/plans';
import { handler } from '../../lambdas/database/handler';
import { CLUSTER_RESTORE, INSTANCE_RESTORE } from '../../lib/aws/rds';
import { restoreNames } from '../../lib/domain/restore';

/** Member names of an SDK structure schema (`[3, namespace, name, traits, memberNames, memberSchemas]`). */
const members = (schema: unknown): string[] => (schema as [number, string, string, number, string[]])[4];

const plan = planFrom();
const clusterPlan = planFrom((env) => {
  delete env.database.instanceIdentifier;
  env.database.clusterIdentifier = 'hello-aurora';
});
const SNAP = plan.database!.snapshotIdentifier;
const ID = 'hello-world-production';
const names = restoreNames(ID, 'run-1');

const MONITORING_ROLE = 'arn:aws:iam::123456789012:role/rds-monitoring';
const PI_KEY = 'arn:aws:kms:us-east-1:123456789012:key/pi';
const S3_ROLE = 'arn:aws:iam::123456789012:role/rds-s3-import';

/** An RDS for PostgreSQL instance with every setting a restore could lose. */
const original: DBInstance = {
  DBInstanceIdentifier: ID,
  DBInstanceStatus: 'available',
  Engine: 'postgres',
  LicenseModel: 'postgresql-license',
  DBInstanceClass: 'db.r6g.large',
  AvailabilityZone: 'us-east-1b',
  DBSubnetGroup: { DBSubnetGroupName: 'app-db-subnets' },
  VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-db1', Status: 'active' }],
  DBParameterGroups: [{ DBParameterGroupName: 'pg16-app' }],
  OptionGroupMemberships: [{ OptionGroupName: 'default:postgres-16', Status: 'in-sync' }],
  MultiAZ: false,
  PubliclyAccessible: false,
  Endpoint: { Port: 5432 },
  DbInstancePort: 0,
  StorageType: 'io2',
  Iops: 20000,
  AllocatedStorage: 500,
  MaxAllocatedStorage: 2000,
  DedicatedLogVolume: true,
  NetworkType: 'DUAL',
  EngineLifecycleSupport: 'open-source-rds-extended-support-disabled',
  DomainMemberships: [{ Domain: 'd-1234567890', IAMRoleName: 'rds-directoryservice-access-role', Status: 'joined' }],
  DeletionProtection: true,
  CopyTagsToSnapshot: true,
  IAMDatabaseAuthenticationEnabled: true,
  EnabledCloudwatchLogsExports: ['postgresql'],
  BackupRetentionPeriod: 21,
  PreferredBackupWindow: '02:00-02:30',
  PreferredMaintenanceWindow: 'tue:04:00-tue:04:30',
  AutoMinorVersionUpgrade: false,
  CACertificateIdentifier: 'rds-ca-ecc384-g1',
  MonitoringInterval: 30,
  MonitoringRoleArn: MONITORING_ROLE,
  PerformanceInsightsEnabled: true,
  PerformanceInsightsKMSKeyId: PI_KEY,
  PerformanceInsightsRetentionPeriod: 465,
  DatabaseInsightsMode: 'advanced',
  AssociatedRoles: [{ RoleArn: S3_ROLE, FeatureName: 's3Import', Status: 'ACTIVE' }],
  TagList: [{ Key: 'team', Value: 'web' }, { Key: 'aws:cloudformation:stack-name', Value: 'db' }],
};

/**
 * A small stateful RDS for instances: a restore creates an instance with what the restore request
 * set (and RDS's defaults for the rest), ModifyDBInstance renames or applies settings, AddRoleToDBInstance
 * associates a role. `ignore` lists settings a modify does not take (to test the attempts bound).
 */
function fakeInstances(initial: Record<string, DBInstance>, ignore: string[] = []) {
  const db = new Map(Object.entries(initial));
  const log: string[] = [];
  rdsMock.on(DescribeDBInstancesCommand).callsFake((input: DescribeDBInstancesCommandInput) => {
    const found = db.get(input.DBInstanceIdentifier!);
    if (!found) throw sdkError(DBInstanceNotFoundFault, `DBInstance ${input.DBInstanceIdentifier} not found.`);
    return { DBInstances: [found] };
  });
  rdsMock.on(RestoreDBInstanceFromDBSnapshotCommand).callsFake((i: RestoreDBInstanceFromDBSnapshotCommandInput) => {
    log.push(`restore ${i.DBSnapshotIdentifier} -> ${i.DBInstanceIdentifier}`);
    db.set(i.DBInstanceIdentifier!, {
      DBInstanceIdentifier: i.DBInstanceIdentifier,
      DBInstanceStatus: 'available',
      BackupRetentionPeriod: i.BackupRetentionPeriod ?? 1,
      PreferredBackupWindow: i.PreferredBackupWindow ?? '07:00-07:30',
      PreferredMaintenanceWindow: 'sun:05:00-sun:05:30',
      MonitoringInterval: 0,
      PerformanceInsightsEnabled: false,
      DeletionProtection: i.DeletionProtection ?? false,
      AssociatedRoles: [],
    });
    return {};
  });
  rdsMock.on(ModifyDBInstanceCommand).callsFake((i: ModifyDBInstanceCommandInput) => {
    const inst = db.get(i.DBInstanceIdentifier!)!;
    if (i.NewDBInstanceIdentifier) {
      log.push(`rename ${i.DBInstanceIdentifier} -> ${i.NewDBInstanceIdentifier}`);
      db.delete(i.DBInstanceIdentifier!);
      db.set(i.NewDBInstanceIdentifier, { ...inst, DBInstanceIdentifier: i.NewDBInstanceIdentifier });
      return {};
    }
    log.push(`modify ${i.DBInstanceIdentifier}`);
    const { DBInstanceIdentifier: _id, ApplyImmediately: _a, EnablePerformanceInsights, ...rest } = i;
    const applied: Record<string, unknown> = { ...rest, ...(EnablePerformanceInsights === undefined ? {} : { PerformanceInsightsEnabled: EnablePerformanceInsights }) };
    for (const k of ignore) delete applied[k];
    db.set(i.DBInstanceIdentifier!, { ...inst, ...applied });
    return {};
  });
  rdsMock.on(AddRoleToDBInstanceCommand).callsFake((i: AddRoleToDBInstanceCommandInput) => {
    log.push(`add-role ${i.FeatureName} ${i.DBInstanceIdentifier}`);
    const inst = db.get(i.DBInstanceIdentifier!)!;
    inst.AssociatedRoles = [...(inst.AssociatedRoles ?? []), { RoleArn: i.RoleArn, FeatureName: i.FeatureName, Status: 'ACTIVE' }];
    return {};
  });
  return { db, log };
}

const step = (restore: Record<string, unknown> = { phase: 'start' }) =>
  handler({ action: 'restoreStep', plan, snapshot: { identifier: SNAP }, restore }) as Promise<Record<string, any>>;

/** Run restore steps until done (each step's output is the next step's `restore`, as the state machine does). */
async function runToDone(max = 12) {
  const phases: string[] = [];
  let restore: Record<string, unknown> = { phase: 'start' };
  for (let i = 0; i < max; i++) {
    const out = await step(restore);
    phases.push(out.phase);
    restore = out;
    if (out.done) return { phases, last: out };
  }
  throw new Error(`not done after ${max} steps: ${phases.join(', ')}`);
}

describe('restore keeps the original’s configuration', () => {
  beforeEach(() => resetSdkMocks());

  it('every RestoreDBInstanceFromDBSnapshot / RestoreDBClusterFromSnapshot field is carried or says why not (SDK schema)', () => {
    for (const [table, schema] of [
      [INSTANCE_RESTORE, RestoreDBInstanceFromDBSnapshotMessage$],
      [CLUSTER_RESTORE, RestoreDBClusterFromSnapshotMessage$],
    ] as const) {
      const fields = members(schema);
      assert.ok(fields.length > 20, 'the SDK schema lists the request members');
      const listed = Object.keys(table);
      assert.deepEqual(fields.filter((f) => !listed.includes(f)), [], 'fields the SDK added: carry them or say why not');
      assert.deepEqual(listed.filter((f) => !fields.includes(f)), [], 'fields the SDK does not have');
      for (const [field, how] of Object.entries(table)) {
        if (typeof how !== 'function') assert.ok((how as { notCarried: string }).notCarried.length > 10, `${field}: a reason`);
      }
    }
  });

  it('instance: the restore request carries engine, AZ, network type, dedicated log volume, extended support and the rest; no role-passing field (Kerberos domain)', async () => {
    fakeInstances({ [ID]: original });
    await step();
    const input = rdsMock.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0]!.args[0].input;
    assert.deepEqual(
      {
        Engine: input.Engine, LicenseModel: input.LicenseModel, AvailabilityZone: input.AvailabilityZone, NetworkType: input.NetworkType,
        DedicatedLogVolume: input.DedicatedLogVolume, EngineLifecycleSupport: input.EngineLifecycleSupport, Domain: input.Domain,
        DomainIAMRoleName: input.DomainIAMRoleName, StorageType: input.StorageType, Iops: input.Iops, Port: input.Port,
        BackupRetentionPeriod: input.BackupRetentionPeriod, OptionGroupName: input.OptionGroupName,
      },
      {
        Engine: 'postgres', LicenseModel: 'postgresql-license', AvailabilityZone: 'us-east-1b', NetworkType: 'DUAL',
        DedicatedLogVolume: true, EngineLifecycleSupport: 'open-source-rds-extended-support-disabled', Domain: undefined,
        DomainIAMRoleName: undefined, StorageType: 'io2', Iops: 20000, Port: 5432,
        BackupRetentionPeriod: 21, OptionGroupName: undefined,
      },
    );
    assert.deepEqual(input.Tags, [{ Key: 'team', Value: 'web' }, { Key: 'cutover:restored-from', Value: SNAP }]);
  });

  it('instance: a Multi-AZ original names no AvailabilityZone (RDS refuses both), a missing endpoint port is not sent as 0', async () => {
    fakeInstances({ [ID]: { ...original, MultiAZ: true, Endpoint: undefined } });
    await step();
    const input = rdsMock.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0]!.args[0].input;
    assert.equal(input.MultiAZ, true);
    assert.equal(input.AvailabilityZone, undefined);
    assert.equal(input.Port, undefined);
  });

  it('instance: what a restore cannot take is applied to the restored instance before the swap, not with a rename', async () => {
    const { db, log } = fakeInstances({ [ID]: original });
    const { phases } = await runToDone();
    assert.deepEqual(phases, ['restoring', 'configuring', 'renaming-original', 'renaming-restored', 'done']);
    assert.deepEqual(log, [
      `restore ${SNAP} -> ${names.restored}`,
      `modify ${names.restored}`,
      `rename ${ID} -> ${names.aside}`,
      `rename ${names.restored} -> ${ID}`,
    ]);
    const modifies = rdsMock.commandCalls(ModifyDBInstanceCommand).map((c) => c.args[0].input);
    const { DBInstanceIdentifier, ...settings } = modifies[0]!;
    assert.equal(DBInstanceIdentifier, names.restored);
    assert.deepEqual(settings, {
      ApplyImmediately: true,
      MonitoringInterval: 30,
      MonitoringRoleArn: MONITORING_ROLE,
      EnablePerformanceInsights: true,
      PerformanceInsightsKMSKeyId: PI_KEY,
      PerformanceInsightsRetentionPeriod: 465,
      DatabaseInsightsMode: 'advanced',
      MaxAllocatedStorage: 2000,
      PreferredMaintenanceWindow: 'tue:04:00-tue:04:30',
    });
    for (const rename of modifies.slice(1)) {
      assert.deepEqual(Object.keys(rename).sort(), ['ApplyImmediately', 'DBInstanceIdentifier', 'NewDBInstanceIdentifier'], 'a rename carries nothing else');
    }
    const now = db.get(ID)!;
    assert.equal(now.MonitoringInterval, 30);
    assert.equal(now.PerformanceInsightsEnabled, true);
    assert.deepEqual(now.AssociatedRoles, [], 'associated roles are not carried (cutover may not pass roles to RDS)');
    assert.equal(rdsMock.commandCalls(AddRoleToDBInstanceCommand).length, 0);
    assert.ok(db.has(names.aside), 'the original is kept aside');
  });

  it('instance: a retry that finds the settings applied does not modify again', async () => {
    fakeInstances({ [ID]: original });
    await step(); // restore
    await step({ phase: 'restoring' }); // configure
    const again = await step({ phase: 'configuring', configureAttempts: 1 });
    assert.equal(again.phase, 'renaming-original');
    assert.equal(rdsMock.commandCalls(ModifyDBInstanceCommand).filter((c) => !c.args[0].input.NewDBInstanceIdentifier).length, 1);
  });

  it('instance: an original without those settings needs no configuring step', async () => {
    const plain: DBInstance = { ...original, MonitoringInterval: 0, MonitoringRoleArn: undefined, PerformanceInsightsEnabled: false, DatabaseInsightsMode: undefined, MaxAllocatedStorage: undefined, PreferredMaintenanceWindow: undefined, AssociatedRoles: [] };
    fakeInstances({ [ID]: plain });
    const { phases } = await runToDone();
    assert.deepEqual(phases, ['restoring', 'renaming-original', 'renaming-restored', 'done']);
  });

  it('instance: settings that never show after 3 attempts do not hold the restore; the result names them', async () => {
    fakeInstances({ [ID]: original }, ['MaxAllocatedStorage']);
    const { phases, last } = await runToDone();
    assert.deepEqual(phases, ['restoring', 'configuring', 'configuring', 'configuring', 'renaming-original', 'renaming-restored', 'done']);
    assert.deepEqual(last.unappliedSettings, ['MaxAllocatedStorage']);
    assert.match(last.message, /MaxAllocatedStorage/);
  });

  describe('Aurora cluster', () => {
    const cnames = restoreNames('hello-aurora', 'run-1');
    const originalCluster: DBCluster = {
      DBClusterIdentifier: 'hello-aurora',
      Status: 'available',
      Engine: 'aurora-postgresql',
      EngineVersion: '16.4',
      EngineMode: 'provisioned',
      DBSubnetGroup: 'aurora-subnets',
      DBClusterParameterGroup: 'aurora-pg16',
      VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-aurora', Status: 'active' }],
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 },
      NetworkType: 'IPV4',
      EngineLifecycleSupport: 'open-source-rds-extended-support-disabled',
      AssociatedRoles: [{ RoleArn: S3_ROLE, FeatureName: 's3Import', Status: 'ACTIVE' }],
      StorageType: 'aurora-iopt1',
      PreferredMaintenanceWindow: 'wed:03:00-wed:03:30',
      HttpEndpointEnabled: true,
      DBClusterMembers: [{ DBInstanceIdentifier: 'hello-aurora-writer', IsClusterWriter: true, PromotionTier: 0 }],
    };
    const writer: DBInstance = {
      DBInstanceIdentifier: 'hello-aurora-writer',
      DBInstanceStatus: 'available',
      DBInstanceClass: 'db.serverless',
      AvailabilityZone: 'us-east-1c',
      PreferredMaintenanceWindow: 'wed:03:00-wed:03:30',
      PromotionTier: 0,
      PubliclyAccessible: false,
      MonitoringInterval: 60,
      MonitoringRoleArn: MONITORING_ROLE,
      DatabaseInsightsMode: 'standard',
      TagList: [{ Key: 'role', Value: 'writer' }, { Key: 'aws:cloudformation:logical-id', Value: 'Writer' }],
    };
    function fakeClusters(clusters: Record<string, DBCluster>) {
      const log: string[] = [];
      rdsMock.on(DescribeDBClustersCommand).callsFake((i: DescribeDBClustersCommandInput) => {
        const c = clusters[i.DBClusterIdentifier!];
        if (!c) throw sdkError(DBClusterNotFoundFault, `DBCluster ${i.DBClusterIdentifier} not found.`);
        return { DBClusters: [c] };
      });
      rdsMock.on(DescribeDBInstancesCommand).callsFake((i: DescribeDBInstancesCommandInput) => ({
        DBInstances: [i.DBInstanceIdentifier === 'hello-aurora-writer' ? writer : { DBInstanceIdentifier: i.DBInstanceIdentifier, DBInstanceStatus: 'available' }],
      }));
      rdsMock.on(RestoreDBClusterFromSnapshotCommand).callsFake((i: RestoreDBClusterFromSnapshotCommandInput) => {
        log.push(`restore ${i.DBClusterIdentifier}`);
        clusters[i.DBClusterIdentifier!] = { DBClusterIdentifier: i.DBClusterIdentifier, Status: 'available', DBClusterMembers: [], PreferredMaintenanceWindow: 'sun:05:00-sun:05:30', HttpEndpointEnabled: false };
        return {};
      });
      rdsMock.on(CreateDBInstanceCommand).callsFake(() => {
        log.push('create-writer');
        clusters[cnames.restored]!.DBClusterMembers = [{ DBInstanceIdentifier: `${cnames.restored}-1`, IsClusterWriter: true }];
        return {};
      });
      rdsMock.on(ModifyDBClusterCommand).callsFake((i: ModifyDBClusterCommandInput) => {
        const c = clusters[i.DBClusterIdentifier!]!;
        if (i.NewDBClusterIdentifier) {
          log.push(`rename ${i.DBClusterIdentifier} -> ${i.NewDBClusterIdentifier}`);
          delete clusters[i.DBClusterIdentifier!];
          clusters[i.NewDBClusterIdentifier] = { ...c, DBClusterIdentifier: i.NewDBClusterIdentifier };
          return {};
        }
        log.push(`modify ${i.DBClusterIdentifier}`);
        if (i.PreferredMaintenanceWindow) c.PreferredMaintenanceWindow = i.PreferredMaintenanceWindow;
        if (i.EnableHttpEndpoint !== undefined) c.HttpEndpointEnabled = i.EnableHttpEndpoint;
        return {};
      });
      return log;
    }
    const cstep = (restore: Record<string, unknown>) =>
      handler({ action: 'restoreStep', plan: clusterPlan, snapshot: { identifier: 'snap-c' }, restore }) as Promise<Record<string, any>>;

    it('restore carries Serverless v2 scaling, network type, extended support, engine mode and storage type', async () => {
      fakeClusters({ 'hello-aurora': originalCluster });
      await cstep({ phase: 'start' });
      const input = rdsMock.commandCalls(RestoreDBClusterFromSnapshotCommand)[0]!.args[0].input;
      assert.deepEqual(input.ServerlessV2ScalingConfiguration, { MinCapacity: 0.5, MaxCapacity: 16 });
      assert.equal(input.AssociatedRoles, undefined, 'no role is passed to RDS (not granted)');
      assert.equal(input.DomainIAMRoleName, undefined);
      assert.equal(input.NetworkType, 'IPV4');
      assert.equal(input.EngineLifecycleSupport, 'open-source-rds-extended-support-disabled');
      assert.equal(input.EngineMode, 'provisioned');
      assert.equal(input.StorageType, 'aurora-iopt1');
    });

    it('the writer is created like the original writer (AZ, maintenance window, promotion tier, Database Insights, its own tags)', async () => {
      fakeClusters({ 'hello-aurora': originalCluster, [cnames.restored]: { DBClusterIdentifier: cnames.restored, Status: 'available', DBClusterMembers: [] } });
      await cstep({ phase: 'restoring' });
      const w = rdsMock.commandCalls(CreateDBInstanceCommand)[0]!.args[0].input;
      assert.deepEqual(
        { c: w.DBInstanceClass, az: w.AvailabilityZone, pmw: w.PreferredMaintenanceWindow, tier: w.PromotionTier, pub: w.PubliclyAccessible, dim: w.DatabaseInsightsMode, mi: w.MonitoringInterval },
        { c: 'db.serverless', az: 'us-east-1c', pmw: 'wed:03:00-wed:03:30', tier: 0, pub: false, dim: 'standard', mi: 60 },
      );
      assert.deepEqual(w.Tags, [{ Key: 'role', Value: 'writer' }]);
    });

    it('cluster settings a restore cannot take (maintenance window, Data API) are applied before the swap', async () => {
      const log = fakeClusters({ 'hello-aurora': originalCluster });
      const phases: string[] = [];
      let restore: Record<string, unknown> = { phase: 'start' };
      for (let i = 0; i < 10; i++) {
        const out = await cstep(restore);
        phases.push(out.phase);
        restore = out;
        if (out.done) break;
      }
      assert.deepEqual(log, ['restore ' + cnames.restored, 'create-writer', `modify ${cnames.restored}`, `rename hello-aurora -> ${cnames.aside}`, `rename ${cnames.restored} -> hello-aurora`]);
      const modify = rdsMock.commandCalls(ModifyDBClusterCommand)[0]!.args[0].input;
      // ModifyDBCluster's EnableHttpEndpoint applies to Aurora Serverless v1 only (RDS API reference); a
      // provisioned / Serverless v2 cluster's Data API takes the EnableHttpEndpoint operation, which
      // cutover is not granted: not carried, rather than a modify RDS refuses or ignores (3 attempts).
      assert.deepEqual(modify, { DBClusterIdentifier: cnames.restored, ApplyImmediately: true, PreferredMaintenanceWindow: 'wed:03:00-wed:03:30' });
      assert.ok(phases.includes('configuring'));
      assert.deepEqual(phases.filter((p) => p === 'configuring').length, 1, 'one modify: nothing left missing after it');
    });

    it('a Serverless v1 cluster (EngineMode serverless) gets its Data API back with ModifyDBCluster', async () => {
      fakeClusters({ 'hello-aurora': { ...originalCluster, EngineMode: 'serverless', ServerlessV2ScalingConfiguration: undefined } });
      let restore: Record<string, unknown> = { phase: 'start' };
      for (let i = 0; i < 10; i++) {
        const out = await cstep(restore);
        restore = out;
        if (out.done) break;
      }
      const modify = rdsMock.commandCalls(ModifyDBClusterCommand)[0]!.args[0].input;
      assert.equal(modify.EnableHttpEndpoint, true);
    });
  });
});
