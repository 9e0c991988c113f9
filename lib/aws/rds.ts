/**
 * RDS adapter: snapshots of a DB instance or Aurora cluster, and the restore-and-swap that puts a
 * snapshot back under the original identifier without deleting anything.
 *
 * Follows CreateDBSnapshot / DescribeDBSnapshots, CreateDBClusterSnapshot / DescribeDBClusterSnapshots,
 * RestoreDBInstanceFromDBSnapshot, RestoreDBClusterFromSnapshot + CreateDBInstance (writer), ModifyDBInstance /
 * ModifyDBCluster (the settings a restore cannot take, then NewDB*Identifier renames; ApplyImmediately).
 * A restore creates a new database configured like the original; the swap renames the
 * original aside (kept, never deleted) and renames the restored one into place.
 * Errors: `TransientAwsError` for throttling / 5xx / timeouts, other SDK errors as they are (same
 * classes); both name the call and the identifiers (see ./errors).
 */
import {
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DBClusterNotFoundFault,
  DBClusterSnapshotAlreadyExistsFault,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DBSnapshotAlreadyExistsFault,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  type DBCluster,
  type DBInstance,
  type RestoreDBClusterFromSnapshotMessage,
  type RestoreDBInstanceFromDBSnapshotMessage,
} from '@aws-sdk/client-rds';
import { rdsClient } from './clients';
import { withRetryClassification } from './errors';
import { NO_INSTANCES } from '../domain/restore';

/** Send with retry classification; `what` names the call in errors (see ./errors). */
const send = <T>(fn: () => Promise<T>, what: string) => withRetryClassification(fn, `RDS ${what}`);
export type DbKind = 'instance' | 'cluster';

export interface SnapshotInfo {
  identifier: string;
  /** `creating` | `available` | `failed` | other RDS statuses. */
  status: string;
  /** Progress 0-100. */
  percent: number;
  /** ISO-8601, when known. */
  createdAt: string | null;
}

/** Start a snapshot; if one with this identifier exists (a retried step) it is reused. */
export async function createSnapshot(kind: DbKind, dbIdentifier: string, snapshotIdentifier: string, tags: Record<string, string>): Promise<void> {
  const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  try {
    if (kind === 'instance') {
      await send(
        () => rdsClient().send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: dbIdentifier, DBSnapshotIdentifier: snapshotIdentifier, Tags })),
        `CreateDBSnapshot ${snapshotIdentifier} of ${dbIdentifier}`,
      );
    } else {
      await send(
        () => rdsClient().send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: dbIdentifier, DBClusterSnapshotIdentifier: snapshotIdentifier, Tags })),
        `CreateDBClusterSnapshot ${snapshotIdentifier} of ${dbIdentifier}`,
      );
    }
  } catch (err) {
    if (err instanceof DBSnapshotAlreadyExistsFault || err instanceof DBClusterSnapshotAlreadyExistsFault) return;
    throw err;
  }
}

export async function describeSnapshot(kind: DbKind, snapshotIdentifier: string): Promise<SnapshotInfo> {
  const s =
    kind === 'instance'
      ? (await send(() => rdsClient().send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshotIdentifier })), `DescribeDBSnapshots ${snapshotIdentifier}`)).DBSnapshots?.[0]
      : (
          await send(
            () => rdsClient().send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: snapshotIdentifier })),
            `DescribeDBClusterSnapshots ${snapshotIdentifier}`,
          )
        )
          .DBClusterSnapshots?.[0];
  return {
    identifier: snapshotIdentifier,
    status: s?.Status ?? 'missing',
    percent: s?.PercentProgress ?? 0,
    createdAt: s?.SnapshotCreateTime ? new Date(s.SnapshotCreateTime).toISOString() : null,
  };
}

/** A DB instance or cluster as far as the swap needs it; undefined when it does not exist. */
export interface DbState {
  identifier: string;
  status: string;
}

export async function findInstance(identifier: string): Promise<DBInstance | undefined> {
  try {
    const out = await send(() => rdsClient().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier })), `DescribeDBInstances ${identifier}`);
    return out.DBInstances?.[0];
  } catch (err) {
    if (err instanceof DBInstanceNotFoundFault) return undefined;
    throw err;
  }
}

export async function findCluster(identifier: string): Promise<DBCluster | undefined> {
  try {
    const out = await send(() => rdsClient().send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier })), `DescribeDBClusters ${identifier}`);
    return out.DBClusters?.[0];
  } catch (err) {
    if (err instanceof DBClusterNotFoundFault) return undefined;
    throw err;
  }
}

/** Normalised view of an instance or cluster. */
export async function findDb(kind: DbKind, identifier: string): Promise<DbState | undefined> {
  if (kind === 'instance') {
    const i = await findInstance(identifier);
    return i ? { identifier, status: i.DBInstanceStatus ?? 'unknown' } : undefined;
  }
  const c = await findCluster(identifier);
  if (!c) return undefined;
  // A restored cluster is usable only once its writer instance is available too.
  const members = c.DBClusterMembers ?? [];
  let status = c.Status ?? 'unknown';
  if (status === 'available') {
    if (members.length === 0) status = NO_INSTANCES;
    for (const m of members) {
      const inst = await findInstance(m.DBInstanceIdentifier!);
      if (inst?.DBInstanceStatus !== 'available') status = `instance ${m.DBInstanceIdentifier} ${inst?.DBInstanceStatus ?? 'missing'}`;
    }
  }
  return { identifier, status };
}

/** An option group name, unless it is a default one (`default:…`), which RDS chooses by itself. */
function customOptionGroup(name: string | undefined): string | undefined {
  return name && !name.startsWith('default:') ? name : undefined;
}

/** A tag AWS reserves (key or value beginning with `aws:`, any case): RDS refuses them in a request. */
const reservedTag = (t: { Key?: string; Value?: string }) => /^aws:/i.test(t.Key ?? '') || /^aws:/i.test(t.Value ?? '');

/** The original's own tags, without the reserved `aws:` ones, plus where the restore came from. */
function restoredTags(tags: ReadonlyArray<{ Key?: string; Value?: string }> | undefined, snapshotIdentifier: string): Array<{ Key: string; Value: string }> {
  const own = (tags ?? []).filter((t) => t.Key && !reservedTag(t) && t.Key !== 'cutover:restored-from');
  return [...own.map((t) => ({ Key: t.Key!, Value: t.Value ?? '' })), { Key: 'cutover:restored-from', Value: snapshotIdentifier }];
}

/** A restore request field deliberately not taken from the original, and why. */
export interface NotCarried {
  readonly notCarried: string;
}

/**
 * For every field of a restore request (`I`): how it is derived from the original's description (`D`),
 * or why it is not. Exhaustive by type (a mapped type over every request key) and, at test time,
 * against the SDK's runtime schema — an SDK upgrade that adds a request field fails the build / test
 * until it is decided here.
 */
export type RestoreFields<I, D> = { readonly [K in keyof Required<I>]: ((original: D) => I[K]) | NotCarried };

const SET_BY_CUTOVER: NotCarried = { notCarried: 'set by cutover: the restored identifier, the snapshot, or cutover’s own tags' };
const FROM_SNAPSHOT: NotCarried = { notCarried: 'comes from the snapshot itself (RDS uses the snapshot’s value)' };
const MASTER_SECRET: NotCarried = {
  notCarried:
    'a managed master password would make RDS create a new secret (new ARN, new password) that the application does not read; the restored database keeps the snapshot’s password, which the original’s secret holds',
};
/**
 * Settings that make RDS act with an IAM role the caller passes (iam:PassRole to rds.amazonaws.com /
 * directoryservice.rds.amazonaws.com, rds:AddRoleToDBInstance), which cutover's role is not granted: a
 * restored database lacks them until an operator adds them (see the README, "Database restore").
 */
const NEEDS_ROLE: NotCarried = {
  notCarried:
    'passes an IAM role to RDS (Kerberos directory role, associated feature roles, RDS Custom instance profile): cutover is not granted iam:PassRole to rds.amazonaws.com nor rds:AddRoleToDBInstance; add it to the restored database by hand',
};
const NOT_DESCRIBED: NotCarried = { notCarried: 'write-only: DescribeDBInstances / DescribeDBClusters never return it, so there is nothing to carry' };

/**
 * RestoreDBInstanceFromDBSnapshot from the original instance's DescribeDBInstances description (RDS API
 * reference, RestoreDBInstanceFromDBSnapshot). What the restore cannot take — enhanced monitoring,
 * Performance Insights, Database Insights, storage autoscaling (MaxAllocatedStorage) and the maintenance
 * window — is applied after it by {@link applyMissingSettings}. Not carried: what passes a role to RDS
 * (Kerberos domain, associated roles; {@link NEEDS_ROLE}).
 */
export const INSTANCE_RESTORE: RestoreFields<RestoreDBInstanceFromDBSnapshotMessage, DBInstance> = {
  DBInstanceIdentifier: SET_BY_CUTOVER,
  DBSnapshotIdentifier: SET_BY_CUTOVER,
  DBClusterSnapshotIdentifier: { notCarried: 'restores from a Multi-AZ DB cluster snapshot; cutover restores the DB snapshot it took' },
  DBInstanceClass: (o) => o.DBInstanceClass,
  // DbInstancePort is 0 for most engines: never send 0.
  Port: (o) => o.Endpoint?.Port ?? (o.DbInstancePort || undefined),
  // RDS refuses an AvailabilityZone together with MultiAZ.
  AvailabilityZone: (o) => (o.MultiAZ ? undefined : o.AvailabilityZone),
  DBSubnetGroupName: (o) => o.DBSubnetGroup?.DBSubnetGroupName,
  MultiAZ: (o) => o.MultiAZ,
  PubliclyAccessible: (o) => o.PubliclyAccessible,
  AutoMinorVersionUpgrade: (o) => o.AutoMinorVersionUpgrade,
  LicenseModel: (o) => o.LicenseModel,
  DBName: { notCarried: 'applies to RDS for Oracle and SQL Server only; the database comes from the snapshot' },
  Engine: (o) => o.Engine,
  Iops: (o) => o.Iops,
  StorageThroughput: (o) => o.StorageThroughput,
  // A default option group (`default:<engine>-<major>`) is what a restore picks anyway: named only when custom.
  OptionGroupName: (o) => customOptionGroup(o.OptionGroupMemberships?.[0]?.OptionGroupName),
  Tags: SET_BY_CUTOVER,
  StorageType: (o) => o.StorageType,
  TdeCredentialArn: { notCarried: 'Oracle / SQL Server TDE only (not PostgreSQL); its password is write-only' },
  TdeCredentialPassword: NOT_DESCRIBED,
  VpcSecurityGroupIds: (o) => o.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId!).filter(Boolean),
  Domain: NEEDS_ROLE,
  DomainFqdn: NEEDS_ROLE,
  DomainOu: NEEDS_ROLE,
  DomainAuthSecretArn: NEEDS_ROLE,
  DomainDnsIps: NEEDS_ROLE,
  DomainIAMRoleName: NEEDS_ROLE,
  CopyTagsToSnapshot: (o) => o.CopyTagsToSnapshot,
  EnableIAMDatabaseAuthentication: (o) => o.IAMDatabaseAuthenticationEnabled,
  EnableCloudwatchLogsExports: (o) => o.EnabledCloudwatchLogsExports,
  ProcessorFeatures: (o) => (o.ProcessorFeatures?.length ? o.ProcessorFeatures : undefined),
  UseDefaultProcessorFeatures: { notCarried: 'ProcessorFeatures carries the original’s own' },
  DBParameterGroupName: (o) => o.DBParameterGroups?.[0]?.DBParameterGroupName,
  DeletionProtection: (o) => o.DeletionProtection,
  EnableCustomerOwnedIp: (o) => o.CustomerOwnedIpEnabled,
  NetworkType: (o) => o.NetworkType,
  BackupTarget: (o) => o.BackupTarget,
  CustomIamInstanceProfile: NEEDS_ROLE,
  AllocatedStorage: (o) => o.AllocatedStorage,
  BackupRetentionPeriod: (o) => o.BackupRetentionPeriod,
  PreferredBackupWindow: (o) => o.PreferredBackupWindow,
  DBCapacityReservationIdentifier: (o) => o.DBCapacityReservationIdentifier,
  DedicatedLogVolume: (o) => o.DedicatedLogVolume,
  CACertificateIdentifier: (o) => o.CACertificateIdentifier,
  EngineLifecycleSupport: (o) => o.EngineLifecycleSupport,
  AdditionalStorageVolumes: (o) =>
    o.AdditionalStorageVolumes?.length
      ? o.AdditionalStorageVolumes.map((v) => ({
          VolumeName: v.VolumeName,
          AllocatedStorage: v.AllocatedStorage,
          IOPS: v.IOPS,
          MaxAllocatedStorage: v.MaxAllocatedStorage,
          StorageThroughput: v.StorageThroughput,
          StorageType: v.StorageType,
        }))
      : undefined,
  TagSpecifications: { notCarried: 'tags for the automated backups RDS makes; not part of an instance’s description' },
  ManageMasterUserPassword: MASTER_SECRET,
  MasterUserSecretKmsKeyId: MASTER_SECRET,
};

/**
 * RestoreDBClusterFromSnapshot from the original cluster's DescribeDBClusters description (RDS API
 * reference, RestoreDBClusterFromSnapshot). An Aurora cluster's monitoring and Performance Insights
 * live on its instances: the writer gets them at creation ({@link createClusterWriter}); the cluster-level
 * fields below are carried when the original describes them (Multi-AZ DB clusters, or Aurora's
 * cluster-level Database Insights). What the restore cannot take (maintenance window, Serverless v1 Data API,
 * Database Insights mode) is applied after it by {@link applyMissingSettings}.
 */
export const CLUSTER_RESTORE: RestoreFields<RestoreDBClusterFromSnapshotMessage, DBCluster> = {
  DBClusterIdentifier: SET_BY_CUTOVER,
  SnapshotIdentifier: SET_BY_CUTOVER,
  Tags: SET_BY_CUTOVER,
  AvailabilityZones: { notCarried: 'Aurora storage spans the Region’s zones whatever is named; the writer instance is placed in the original writer’s zone' },
  Engine: (o) => o.Engine ?? 'aurora-postgresql',
  EngineVersion: (o) => o.EngineVersion,
  EngineMode: (o) => o.EngineMode,
  Port: (o) => o.Port,
  DBSubnetGroupName: (o) => o.DBSubnetGroup,
  DatabaseName: FROM_SNAPSHOT,
  OptionGroupName: (o) => customOptionGroup(o.DBClusterOptionGroupMemberships?.[0]?.DBClusterOptionGroupName),
  VpcSecurityGroupIds: (o) => o.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId!).filter(Boolean),
  KmsKeyId: (o) => o.KmsKeyId,
  EnableIAMDatabaseAuthentication: (o) => o.IAMDatabaseAuthenticationEnabled,
  // Aurora MySQL only; 0 (or none) elsewhere.
  BacktrackWindow: (o) => o.BacktrackWindow || undefined,
  EnableCloudwatchLogsExports: (o) => o.EnabledCloudwatchLogsExports,
  ScalingConfiguration: (o) => (o.EngineMode === 'serverless' && o.ScalingConfigurationInfo ? { ...o.ScalingConfigurationInfo } : undefined),
  ServerlessV2ScalingConfiguration: (o) => (o.ServerlessV2ScalingConfiguration ? { ...o.ServerlessV2ScalingConfiguration } : undefined),
  DBClusterParameterGroupName: (o) => o.DBClusterParameterGroup,
  DeletionProtection: (o) => o.DeletionProtection,
  CopyTagsToSnapshot: (o) => o.CopyTagsToSnapshot,
  Domain: NEEDS_ROLE,
  DomainIAMRoleName: NEEDS_ROLE,
  DBClusterInstanceClass: (o) => o.DBClusterInstanceClass,
  StorageType: (o) => o.StorageType,
  Iops: (o) => o.Iops,
  PubliclyAccessible: (o) => o.PubliclyAccessible,
  NetworkType: (o) => o.NetworkType,
  RdsCustomClusterConfiguration: (o) => o.RdsCustomClusterConfiguration,
  MonitoringInterval: (o) => o.MonitoringInterval || undefined,
  MonitoringRoleArn: (o) => (o.MonitoringInterval ? o.MonitoringRoleArn : undefined),
  EnablePerformanceInsights: (o) => o.PerformanceInsightsEnabled || undefined,
  PerformanceInsightsKMSKeyId: (o) => (o.PerformanceInsightsEnabled ? o.PerformanceInsightsKMSKeyId : undefined),
  PerformanceInsightsRetentionPeriod: (o) => (o.PerformanceInsightsEnabled ? o.PerformanceInsightsRetentionPeriod : undefined),
  BackupRetentionPeriod: (o) => o.BackupRetentionPeriod,
  PreferredBackupWindow: (o) => o.PreferredBackupWindow,
  EngineLifecycleSupport: (o) => o.EngineLifecycleSupport,
  TagSpecifications: { notCarried: 'tags for the automated backups RDS makes; not part of a cluster’s description' },
  EnableVPCNetworking: (o) => o.VPCNetworkingEnabled,
  EnableInternetAccessGateway: (o) => o.InternetAccessGatewayEnabled,
  AssociatedRoles: NEEDS_ROLE,
};

/** The request fields of `table` derived from `original` (undefined ones left out). */
function carried<I, D>(table: RestoreFields<I, D>, original: D | undefined): Partial<I> {
  if (!original) return {};
  const out: Record<string, unknown> = {};
  for (const [field, how] of Object.entries(table) as Array<[string, ((o: D) => unknown) | NotCarried]>) {
    if (typeof how !== 'function') continue;
    const value = how(original);
    if (value !== undefined) out[field] = value;
  }
  return out as Partial<I>;
}

/**
 * Restore `snapshotIdentifier` as a new database `newIdentifier`, configured like `like` (the original):
 * every field of the restore request is taken from the original's description as {@link INSTANCE_RESTORE}
 * / {@link CLUSTER_RESTORE} say, plus the original's tags (not `aws:*`) and `cutover:restored-from`.
 * Not idempotent by itself: the caller restores only when the restored identifier does not exist.
 */
export async function restoreAsNew(kind: DbKind, like: string, snapshotIdentifier: string, newIdentifier: string): Promise<void> {
  if (kind === 'instance') {
    const original = await findInstance(like);
    await send(
      () =>
        rdsClient().send(
          new RestoreDBInstanceFromDBSnapshotCommand({
            ...carried(INSTANCE_RESTORE, original),
            DBInstanceIdentifier: newIdentifier,
            DBSnapshotIdentifier: snapshotIdentifier,
            Tags: restoredTags(original?.TagList, snapshotIdentifier),
          }),
        ),
      `RestoreDBInstanceFromDBSnapshot ${newIdentifier} from ${snapshotIdentifier}`,
    );
    return;
  }
  const original = await findCluster(like);
  await send(
    () =>
      rdsClient().send(
        new RestoreDBClusterFromSnapshotCommand({
          Engine: 'aurora-postgresql',
          ...carried(CLUSTER_RESTORE, original),
          DBClusterIdentifier: newIdentifier,
          SnapshotIdentifier: snapshotIdentifier,
          Tags: restoredTags(original?.TagList, snapshotIdentifier),
        }),
      ),
    `RestoreDBClusterFromSnapshot ${newIdentifier} from ${snapshotIdentifier}`,
  );
}

/**
 * Create the writer instance of a restored Aurora cluster, shaped like the original cluster's writer:
 * class, zone, parameter group, maintenance window, promotion tier, public access, minor upgrades, CA,
 * enhanced monitoring, Performance Insights / Database Insights (Aurora keeps these per instance, and
 * CreateDBInstance takes them all) and the writer's own tags (not `aws:*`).
 * Idempotent: an instance that already exists (a retried step) is left as it is.
 */
export async function createClusterWriter(like: string, restoredCluster: string): Promise<void> {
  const original = await findCluster(like);
  const writer = original?.DBClusterMembers?.find((m) => m.IsClusterWriter) ?? original?.DBClusterMembers?.[0];
  const w = writer ? await findInstance(writer.DBInstanceIdentifier!) : undefined;
  const id = `${restoredCluster}-1`.slice(0, 63);
  try {
    await send(
      () =>
        rdsClient().send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: id,
            DBClusterIdentifier: restoredCluster,
            Engine: original?.Engine ?? 'aurora-postgresql',
            DBInstanceClass: w?.DBInstanceClass ?? 'db.r6g.large',
            AvailabilityZone: w?.AvailabilityZone,
            DBParameterGroupName: w?.DBParameterGroups?.[0]?.DBParameterGroupName,
            PreferredMaintenanceWindow: w?.PreferredMaintenanceWindow,
            PromotionTier: w?.PromotionTier ?? writer?.PromotionTier,
            PubliclyAccessible: w?.PubliclyAccessible,
            AutoMinorVersionUpgrade: w?.AutoMinorVersionUpgrade,
            CACertificateIdentifier: w?.CACertificateIdentifier,
            MonitoringInterval: w?.MonitoringInterval,
            MonitoringRoleArn: w?.MonitoringInterval ? w.MonitoringRoleArn : undefined,
            EnablePerformanceInsights: w?.PerformanceInsightsEnabled,
            PerformanceInsightsKMSKeyId: w?.PerformanceInsightsEnabled ? w.PerformanceInsightsKMSKeyId : undefined,
            PerformanceInsightsRetentionPeriod: w?.PerformanceInsightsEnabled ? w.PerformanceInsightsRetentionPeriod : undefined,
            DatabaseInsightsMode: w?.DatabaseInsightsMode,
            Tags: w?.TagList?.filter((t) => t.Key && !reservedTag(t)).map((t) => ({ Key: t.Key!, Value: t.Value ?? '' })),
          }),
        ),
      `CreateDBInstance ${id} (writer of ${restoredCluster})`,
    );
  } catch (err) {
    if (!(err instanceof DBInstanceAlreadyExistsFault)) throw err;
  }
}

/**
 * What the restored database still lacks of the original's settings that a restore call cannot take,
 * as the modify that applies them. Only settings the original has are compared, so a restored database
 * never loses what RDS gave it by default.
 *
 * Instance (ModifyDBInstance; RestoreDBInstanceFromDBSnapshot has no such fields): MonitoringInterval +
 * MonitoringRoleArn (enhanced monitoring), EnablePerformanceInsights + PerformanceInsightsKMSKeyId +
 * PerformanceInsightsRetentionPeriod, DatabaseInsightsMode, MaxAllocatedStorage (storage autoscaling),
 * PreferredMaintenanceWindow; and, checked again because a restore in an older API version ignored them,
 * BackupRetentionPeriod and PreferredBackupWindow. Associated IAM roles are not carried (see NEEDS_ROLE).
 * Cluster (ModifyDBCluster): PreferredMaintenanceWindow, DatabaseInsightsMode, BackupRetentionPeriod,
 * PreferredBackupWindow, and EnableHttpEndpoint (Data API) of an Aurora Serverless v1 cluster only — a provisioned /
 * Serverless v2 cluster's Data API needs the EnableHttpEndpoint operation and is not carried.
 */
export interface MissingSettings {
  /** Fields for ModifyDBInstance / ModifyDBCluster (without the identifier and ApplyImmediately); empty when none. */
  readonly modify: Record<string, unknown>;
  /** The names of the missing settings (the modify's fields, `PerformanceInsights` for its three), for messages. */
  readonly names: readonly string[];
}

/** Pure: {@link MissingSettings} of a restored instance against its original. */
export function instanceMissingSettings(o: DBInstance, r: DBInstance): MissingSettings {
  const modify: Record<string, unknown> = {};
  const names: string[] = [];
  const monitoring = o.MonitoringInterval ?? 0;
  if (monitoring !== (r.MonitoringInterval ?? 0) || (monitoring > 0 && o.MonitoringRoleArn !== r.MonitoringRoleArn)) {
    Object.assign(modify, { MonitoringInterval: monitoring, ...(monitoring > 0 ? { MonitoringRoleArn: o.MonitoringRoleArn } : {}) });
    names.push('MonitoringInterval');
  }
  if (
    o.PerformanceInsightsEnabled &&
    (!r.PerformanceInsightsEnabled || o.PerformanceInsightsKMSKeyId !== r.PerformanceInsightsKMSKeyId || o.PerformanceInsightsRetentionPeriod !== r.PerformanceInsightsRetentionPeriod)
  ) {
    Object.assign(modify, {
      EnablePerformanceInsights: true,
      PerformanceInsightsKMSKeyId: o.PerformanceInsightsKMSKeyId,
      PerformanceInsightsRetentionPeriod: o.PerformanceInsightsRetentionPeriod,
    });
    names.push('PerformanceInsights');
  }
  for (const field of ['DatabaseInsightsMode', 'MaxAllocatedStorage', 'PreferredMaintenanceWindow', 'BackupRetentionPeriod', 'PreferredBackupWindow'] as const) {
    if (o[field] !== undefined && o[field] !== r[field]) {
      modify[field] = o[field];
      names.push(field);
    }
  }
  return { modify, names };
}

/** Pure: {@link MissingSettings} of a restored cluster against its original. */
export function clusterMissingSettings(o: DBCluster, r: DBCluster): MissingSettings {
  const modify: Record<string, unknown> = {};
  const names: string[] = [];
  for (const field of ['PreferredMaintenanceWindow', 'DatabaseInsightsMode', 'BackupRetentionPeriod', 'PreferredBackupWindow'] as const) {
    if (o[field] !== undefined && o[field] !== r[field]) {
      modify[field] = o[field];
      names.push(field);
    }
  }
  // ModifyDBCluster's EnableHttpEndpoint is for Aurora Serverless v1 only (RDS API reference,
  // ModifyDBCluster / EnableHttpEndpoint); a provisioned or Serverless v2 cluster's Data API is turned on
  // by the EnableHttpEndpoint operation (rds:EnableHttpEndpoint), which cutover is not granted: not carried.
  if (o.EngineMode === 'serverless' && o.HttpEndpointEnabled && !r.HttpEndpointEnabled) {
    modify.EnableHttpEndpoint = true;
    names.push('EnableHttpEndpoint');
  }
  return { modify, names };
}

/** Describe both and compare (see {@link MissingSettings}); nothing is missing when either does not exist. */
export async function missingSettings(kind: DbKind, original: string, restored: string): Promise<MissingSettings> {
  const none: MissingSettings = { modify: {}, names: [] };
  if (kind === 'instance') {
    const [o, r] = await Promise.all([findInstance(original), findInstance(restored)]);
    return o && r ? instanceMissingSettings(o, r) : none;
  }
  const [o, r] = await Promise.all([findCluster(original), findCluster(restored)]);
  return o && r ? clusterMissingSettings(o, r) : none;
}

/**
 * Apply to `restored` what it lacks of `original`'s settings ({@link missingSettings}): one
 * ModifyDBInstance / ModifyDBCluster with ApplyImmediately. Idempotent: a retried step describes again
 * and sends only what is still missing (nothing, once applied).
 * Runs before the swap, while the original still serves: a refused modify (e.g. a monitoring role
 * that no longer exists) fails the restore with the original untouched.
 * @returns the names of the settings applied (empty when none were missing)
 * @throws the SDK error naming the call (InvalidParameterCombination, AccessDenied for iam:PassRole, …)
 */
export async function applyMissingSettings(kind: DbKind, original: string, restored: string): Promise<readonly string[]> {
  const missing = await missingSettings(kind, original, restored);
  if (Object.keys(missing.modify).length > 0) {
    if (kind === 'instance') {
      await send(
        () => rdsClient().send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: restored, ApplyImmediately: true, ...missing.modify })),
        `ModifyDBInstance ${restored} (settings of ${original}: ${missing.names.join(', ')})`,
      );
    } else {
      await send(
        () => rdsClient().send(new ModifyDBClusterCommand({ DBClusterIdentifier: restored, ApplyImmediately: true, ...missing.modify })),
        `ModifyDBCluster ${restored} (settings of ${original}: ${missing.names.join(', ')})`,
      );
    }
  }
  return missing.names;
}

/**
 * Rename a DB instance or cluster at once (ApplyImmediately), nothing else: settings were applied
 * before the swap ({@link applyMissingSettings}), so the step that leaves the original name empty for a
 * moment carries nothing that could make RDS refuse it. Idempotent as the restore steps are: the caller
 * renames only what it observes unrenamed.
 */
export async function rename(kind: DbKind, from: string, to: string): Promise<void> {
  if (kind === 'instance') {
    await send(
      () => rdsClient().send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: from, NewDBInstanceIdentifier: to, ApplyImmediately: true })),
      `ModifyDBInstance ${from} (rename to ${to})`,
    );
  } else {
    await send(
      () => rdsClient().send(new ModifyDBClusterCommand({ DBClusterIdentifier: from, NewDBClusterIdentifier: to, ApplyImmediately: true })),
      `ModifyDBCluster ${from} (rename to ${to})`,
    );
  }
}
