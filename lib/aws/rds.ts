/**
 * RDS adapter: snapshots of a DB instance or Aurora cluster, and the restore-and-swap that puts a
 * snapshot back under the original identifier without deleting anything.
 *
 * Follows CreateDBSnapshot / DescribeDBSnapshots, CreateDBClusterSnapshot / DescribeDBClusterSnapshots,
 * RestoreDBInstanceFromDBSnapshot, RestoreDBClusterFromSnapshot + CreateDBInstance (writer), ModifyDBInstance /
 * ModifyDBCluster with NewDB*Identifier (rename; ApplyImmediately). A restore creates a new database;
 * the swap renames the original aside (kept, never deleted) and renames the restored one into place.
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

/** The original's own tags, without the `aws:` ones (reserved: RDS rejects them), plus where the restore came from. */
function restoredTags(tags: ReadonlyArray<{ Key?: string; Value?: string }> | undefined, snapshotIdentifier: string): Array<{ Key: string; Value: string }> {
  const own = (tags ?? []).filter((t) => t.Key && !t.Key.toLowerCase().startsWith('aws:') && t.Key !== 'cutover:restored-from');
  return [...own.map((t) => ({ Key: t.Key!, Value: t.Value ?? '' })), { Key: 'cutover:restored-from', Value: snapshotIdentifier }];
}

/**
 * Restore `snapshotIdentifier` as a new database `newIdentifier`, configured like `like`: everything of
 * the original's configuration that the restore call accepts is carried over (RDS API reference,
 * RestoreDBInstanceFromDBSnapshot / RestoreDBClusterFromSnapshot) — class, network, parameter and
 * option groups, port, storage type / IOPS / throughput / size, deletion protection, tag copying, IAM
 * database authentication, log exports, backup retention and window, CA certificate, minor version
 * upgrades, and the original's tags (not `aws:*`). What a restore cannot take — enhanced monitoring and
 * Performance Insights of an instance — is set by {@link rename} when the restored database takes the
 * original's name (`settingsFrom`).
 */
export async function restoreAsNew(kind: DbKind, like: string, snapshotIdentifier: string, newIdentifier: string): Promise<void> {
  if (kind === 'instance') {
    const original = await findInstance(like);
    await send(() =>
      rdsClient().send(
        new RestoreDBInstanceFromDBSnapshotCommand({
          DBInstanceIdentifier: newIdentifier,
          DBSnapshotIdentifier: snapshotIdentifier,
          DBInstanceClass: original?.DBInstanceClass,
          DBSubnetGroupName: original?.DBSubnetGroup?.DBSubnetGroupName,
          VpcSecurityGroupIds: original?.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId!).filter(Boolean),
          DBParameterGroupName: original?.DBParameterGroups?.[0]?.DBParameterGroupName,
          // A default option group (`default:<engine>-<major>`) is what a restore picks anyway: named only when custom.
          OptionGroupName: customOptionGroup(original?.OptionGroupMemberships?.[0]?.OptionGroupName),
          MultiAZ: original?.MultiAZ,
          PubliclyAccessible: original?.PubliclyAccessible,
          Port: original?.Endpoint?.Port ?? original?.DbInstancePort,
          StorageType: original?.StorageType,
          Iops: original?.Iops,
          StorageThroughput: original?.StorageThroughput,
          AllocatedStorage: original?.AllocatedStorage,
          DeletionProtection: original?.DeletionProtection,
          CopyTagsToSnapshot: original?.CopyTagsToSnapshot,
          EnableIAMDatabaseAuthentication: original?.IAMDatabaseAuthenticationEnabled,
          EnableCloudwatchLogsExports: original?.EnabledCloudwatchLogsExports,
          BackupRetentionPeriod: original?.BackupRetentionPeriod,
          PreferredBackupWindow: original?.PreferredBackupWindow,
          AutoMinorVersionUpgrade: original?.AutoMinorVersionUpgrade,
          CACertificateIdentifier: original?.CACertificateIdentifier,
          Tags: restoredTags(original?.TagList, snapshotIdentifier),
        }),
      ),
      `RestoreDBInstanceFromDBSnapshot ${newIdentifier} from ${snapshotIdentifier}`,
    );
    return;
  }
  const original = await findCluster(like);
  await send(() =>
    rdsClient().send(
      new RestoreDBClusterFromSnapshotCommand({
        DBClusterIdentifier: newIdentifier,
        SnapshotIdentifier: snapshotIdentifier,
        Engine: original?.Engine ?? 'aurora-postgresql',
        EngineVersion: original?.EngineVersion,
        DBSubnetGroupName: original?.DBSubnetGroup,
        VpcSecurityGroupIds: original?.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId!).filter(Boolean),
        DBClusterParameterGroupName: original?.DBClusterParameterGroup,
        Port: original?.Port,
        KmsKeyId: original?.KmsKeyId,
        DeletionProtection: original?.DeletionProtection,
        CopyTagsToSnapshot: original?.CopyTagsToSnapshot,
        EnableIAMDatabaseAuthentication: original?.IAMDatabaseAuthenticationEnabled,
        EnableCloudwatchLogsExports: original?.EnabledCloudwatchLogsExports,
        StorageType: original?.StorageType,
        Iops: original?.Iops,
        BackupRetentionPeriod: original?.BackupRetentionPeriod,
        PreferredBackupWindow: original?.PreferredBackupWindow,
        Tags: restoredTags(original?.TagList, snapshotIdentifier),
      }),
    ),
    `RestoreDBClusterFromSnapshot ${newIdentifier} from ${snapshotIdentifier}`,
  );
}

/**
 * Create the writer instance of a restored Aurora cluster, shaped like the original cluster's writer.
 * Idempotent: an instance that already exists (a retried step) is left as it is.
 */
export async function createClusterWriter(like: string, restoredCluster: string): Promise<void> {
  const original = await findCluster(like);
  const writer = original?.DBClusterMembers?.find((m) => m.IsClusterWriter) ?? original?.DBClusterMembers?.[0];
  const writerInstance = writer ? await findInstance(writer.DBInstanceIdentifier!) : undefined;
  try {
    await send(() =>
      rdsClient().send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: `${restoredCluster}-1`.slice(0, 63),
          DBClusterIdentifier: restoredCluster,
          Engine: original?.Engine ?? 'aurora-postgresql',
          DBInstanceClass: writerInstance?.DBInstanceClass ?? 'db.r6g.large',
          // The original writer's instance-level settings (Aurora keeps monitoring and PI per instance).
          DBParameterGroupName: writerInstance?.DBParameterGroups?.[0]?.DBParameterGroupName,
          AutoMinorVersionUpgrade: writerInstance?.AutoMinorVersionUpgrade,
          CACertificateIdentifier: writerInstance?.CACertificateIdentifier,
          MonitoringInterval: writerInstance?.MonitoringInterval,
          MonitoringRoleArn: writerInstance?.MonitoringInterval ? writerInstance.MonitoringRoleArn : undefined,
          EnablePerformanceInsights: writerInstance?.PerformanceInsightsEnabled,
          PerformanceInsightsKMSKeyId: writerInstance?.PerformanceInsightsEnabled ? writerInstance.PerformanceInsightsKMSKeyId : undefined,
          PerformanceInsightsRetentionPeriod: writerInstance?.PerformanceInsightsEnabled ? writerInstance.PerformanceInsightsRetentionPeriod : undefined,
        }),
      ),
      `CreateDBInstance ${restoredCluster}-1 (writer of ${restoredCluster})`,
    );
  } catch (err) {
    if (!(err instanceof DBInstanceAlreadyExistsFault)) throw err;
  }
}

/**
 * Rename a DB instance or cluster at once (ApplyImmediately). With `settingsFrom` (an instance: the
 * original, renamed aside), the same ModifyDBInstance also sets what a restore cannot take: enhanced
 * monitoring (MonitoringInterval, MonitoringRoleArn) and Performance Insights (enabled, KMS key,
 * retention). Idempotent as the restore steps are: the caller renames only what it observes unrenamed.
 */
export async function rename(kind: DbKind, from: string, to: string, settingsFrom?: string): Promise<void> {
  if (kind === 'instance') {
    const like = settingsFrom ? await findInstance(settingsFrom) : undefined;
    const settings = like
      ? {
          ...(like.MonitoringInterval ? { MonitoringInterval: like.MonitoringInterval, MonitoringRoleArn: like.MonitoringRoleArn } : {}),
          ...(like.PerformanceInsightsEnabled
            ? { EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: like.PerformanceInsightsKMSKeyId, PerformanceInsightsRetentionPeriod: like.PerformanceInsightsRetentionPeriod }
            : {}),
        }
      : {};
    await send(
      () => rdsClient().send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: from, NewDBInstanceIdentifier: to, ApplyImmediately: true, ...settings })),
      `ModifyDBInstance ${from} (rename to ${to})`,
    );
  } else {
    await send(
      () => rdsClient().send(new ModifyDBClusterCommand({ DBClusterIdentifier: from, NewDBClusterIdentifier: to, ApplyImmediately: true })),
      `ModifyDBCluster ${from} (rename to ${to})`,
    );
  }
}
