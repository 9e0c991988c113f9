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

/** Restore `snapshotIdentifier` as a new database `newIdentifier`, shaped like `like` (class, network, parameters). */
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
          MultiAZ: original?.MultiAZ,
          PubliclyAccessible: original?.PubliclyAccessible,
          Tags: [{ Key: 'cutover:restored-from', Value: snapshotIdentifier }],
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
        Tags: [{ Key: 'cutover:restored-from', Value: snapshotIdentifier }],
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
        }),
      ),
      `CreateDBInstance ${restoredCluster}-1 (writer of ${restoredCluster})`,
    );
  } catch (err) {
    if (!(err instanceof DBInstanceAlreadyExistsFault)) throw err;
  }
}

/** Rename a DB instance or cluster at once (ApplyImmediately). */
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
