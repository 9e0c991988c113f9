/**
 * Simulated Amazon RDS for PostgreSQL and Aurora PostgreSQL: DB instances, DB clusters, manual
 * snapshots, restores and renames, with AWS's states computed lazily from the simulator's clock.
 *
 * AWS behaviour kept:
 * - identifiers are case-insensitive and stored lower-case; API calls also accept ARNs;
 * - `CreateDBSnapshot` needs an `available` instance; the snapshot is `creating` (with
 *   `PercentProgress`) and `available` after `snapshotSeconds`, and a single-AZ instance is
 *   `backing-up` meanwhile;
 * - a restore creates a **new** instance/cluster (`creating` → `available` after `restoreSeconds`);
 *   a restored cluster has no instances until `CreateDBInstance` adds them;
 * - a rename (`NewDB…Identifier` with `ApplyImmediately`) changes the identifier at once, the
 *   resource is `renaming` for `renameSeconds`; without `ApplyImmediately` it waits in
 *   `PendingModifiedValues` (the maintenance window never comes in the simulator);
 * - snapshots keep the identifier their source had when they were taken.
 *
 * Every instance and cluster carries an opaque `data` payload. A snapshot captures the source's
 * payload at creation and a restore receives the snapshot's. Treat payloads as immutable values:
 * replace them with {@link RdsSimulator.setInstanceData} / {@link RdsSimulator.setClusterData}, never
 * mutate them in place.
 *
 * With an {@link RdsEngine} (`engine` option; lib/local/live/postgres/host.ts serves real PostgreSQL)
 * every instance and cluster also has a real database: a standalone instance its own, an Aurora
 * cluster one that its instances serve. A new or restored database is `creating` until its simulated
 * duration has passed AND its server is up; a snapshot is `creating` until its simulated duration has
 * passed AND the engine stored it (taken at the moment of the call), `failed` if the engine could not.
 * Endpoints are `127.0.0.1` and the port of the identifier's endpoint, which follows renames like DNS.
 * The engine's real work holds the simulated clock ({@link SimClock.hold}) until it is done or failed:
 * a database server starting (new, reopened or restored from a snapshot) and a snapshot being written,
 * each at most {@link ENGINE_HOLD_MAX_REAL_MS} real ms. So the simulated durations above count only
 * simulated time that passed while the database was not still starting or dumping, and nothing else
 * of the twin (a Wait state, a health-check grace period) runs out meanwhile.
 */
import type {
  AddRoleToDBInstanceMessage,
  CreateDBClusterSnapshotMessage,
  CreateDBClusterSnapshotResult,
  CreateDBInstanceMessage,
  CreateDBInstanceResult,
  CreateDBSnapshotMessage,
  CreateDBSnapshotResult,
  DBCluster,
  DBClusterMessage,
  DBClusterSnapshot,
  DBClusterSnapshotMessage,
  DBInstance,
  DBInstanceMessage,
  DBSnapshot,
  DBSnapshotMessage,
  DeleteDBSnapshotMessage,
  DeleteDBSnapshotResult,
  DescribeDBClusterSnapshotsMessage,
  DescribeDBClustersMessage,
  DescribeDBInstancesMessage,
  DescribeDBSnapshotsMessage,
  ModifyDBClusterMessage,
  ModifyDBClusterResult,
  ModifyDBInstanceMessage,
  ModifyDBInstanceResult,
  RestoreDBClusterFromSnapshotMessage,
  RestoreDBClusterFromSnapshotResult,
  RestoreDBInstanceFromDBSnapshotMessage,
  RestoreDBInstanceFromDBSnapshotResult,
  Tag,
} from '@aws-sdk/client-rds';
import type { EndpointKind, EngineState, RdsEngine } from '../live/postgres/engine';
import { OVERLOAD_ADVICE } from '../clock';
import { SimulatedService } from './service';
import { alnumId, copy, nameFromArn, paginate, settle, transition, type SimContext, type Timed } from './util';

export interface RdsSimulatorOptions {
  /** Simulated seconds a manual snapshot stays `creating`. @default 120 */
  readonly snapshotSeconds?: number;
  /** Simulated seconds a restored instance/cluster stays `creating`. @default 300 */
  readonly restoreSeconds?: number;
  /** Simulated seconds an instance/cluster stays `renaming`. @default 60 */
  readonly renameSeconds?: number;
  /** Simulated seconds a new instance (CreateDBInstance) stays `creating`. @default 300 */
  readonly instanceCreateSeconds?: number;
  /**
   * Real databases behind the simulated ones (e.g. `new PostgresHost(dir)` from
   * lib/local/live/postgres/host.ts). The simulator only starts work on it and reads its state.
   * @default none: databases are simulated by their `data` payload only
   */
  readonly engine?: RdsEngine;
}

/** Engine facts an instance or cluster has and its snapshots keep. */
interface EngineFacts {
  engine: string;
  engineVersion: string;
  port: number;
  masterUsername: string;
  dbName?: string;
  allocatedStorage: number;
  instanceClass: string;
}

/** `starting`: a database of an account restored by {@link RdsSimulator.restoreState}, until it serves again (as after StartDBInstance). */
type InstanceStatus = 'available' | 'creating' | 'starting' | 'backing-up' | 'renaming' | 'modifying' | 'failed';
type ClusterStatus = 'available' | 'creating' | 'starting' | 'renaming' | 'failed';
type SnapshotStatus = 'creating' | 'available' | 'failed';

/** Engine facts of an instance, cluster or snapshot, as {@link RdsSimulator.exportState} gives them. */
export interface RdsEngineFacts {
  readonly engine: string;
  readonly engineVersion: string;
  readonly port: number;
  readonly masterUsername: string;
  readonly dbName?: string;
  /** GiB. */
  readonly allocatedStorage: number;
  readonly instanceClass: string;
}

/** A DB instance in {@link RdsState}. Times are simulated epoch milliseconds. */
export interface RdsInstanceState {
  /** DB instance identifier (lower-case). */
  readonly id: string;
  /** `db-…` (DbiResourceId); the engine's database key of a standalone instance. */
  readonly resourceId: string;
  /** Status when exported (for reading; a restored instance is `starting` until its database serves). */
  readonly status: string;
  readonly facts: RdsEngineFacts;
  readonly createdAtMs: number;
  /** Identifier of its Aurora cluster, for a cluster member. */
  readonly clusterId?: string;
  /** A rename waiting for the maintenance window (`PendingModifiedValues`). */
  readonly pendingIdentifier?: string;
  readonly tags: Tag[];
  /** Engine snapshot key it was still being restored from when exported (status `creating`). */
  readonly restoringFrom?: string;
  /** Settings given at create / restore / modify, as DescribeDBInstances returns them. */
  readonly settings?: InstanceSettings;
}

/** An Aurora DB cluster in {@link RdsState}. Times are simulated epoch milliseconds. */
export interface RdsClusterState {
  readonly id: string;
  /** `cluster-…` (DbClusterResourceId); the engine's database key of the cluster. */
  readonly resourceId: string;
  readonly status: string;
  readonly facts: RdsEngineFacts;
  readonly createdAtMs: number;
  /** Member instance identifiers; the first is the writer. */
  readonly members: string[];
  readonly pendingIdentifier?: string;
  readonly tags: Tag[];
  readonly restoringFrom?: string;
  /** Settings given at restore / modify, as DescribeDBClusters returns them. */
  readonly settings?: ClusterSettings;
}

/**
 * The described settings of an instance that a create / restore / modify sets (AWS's defaults for the
 * others): storage, protection, backups and windows, monitoring, Performance Insights, roles, …
 */
export type InstanceSettings = Partial<
  Pick<
    DBInstance,
    | 'StorageType' | 'Iops' | 'StorageThroughput' | 'AllocatedStorage' | 'MaxAllocatedStorage' | 'DeletionProtection' | 'CopyTagsToSnapshot'
    | 'IAMDatabaseAuthenticationEnabled' | 'EnabledCloudwatchLogsExports' | 'BackupRetentionPeriod' | 'PreferredBackupWindow'
    | 'PreferredMaintenanceWindow' | 'AutoMinorVersionUpgrade' | 'EngineLifecycleSupport' | 'NetworkType' | 'AvailabilityZone' | 'MultiAZ'
    | 'PubliclyAccessible' | 'CACertificateIdentifier' | 'DedicatedLogVolume' | 'LicenseModel' | 'MonitoringInterval' | 'MonitoringRoleArn'
    | 'PerformanceInsightsEnabled' | 'PerformanceInsightsKMSKeyId' | 'PerformanceInsightsRetentionPeriod' | 'DatabaseInsightsMode'
    | 'OptionGroupMemberships' | 'AssociatedRoles' | 'PromotionTier'
  >
>;

/** The described settings of a cluster that a restore / modify sets. */
export type ClusterSettings = Partial<
  Pick<
    DBCluster,
    | 'ServerlessV2ScalingConfiguration' | 'DeletionProtection' | 'CopyTagsToSnapshot' | 'IAMDatabaseAuthenticationEnabled' | 'EnabledCloudwatchLogsExports'
    | 'BackupRetentionPeriod' | 'PreferredBackupWindow' | 'PreferredMaintenanceWindow' | 'EngineLifecycleSupport' | 'NetworkType' | 'StorageType'
    | 'Iops' | 'HttpEndpointEnabled' | 'DatabaseInsightsMode' | 'AssociatedRoles' | 'KmsKeyId'
  >
>;

/** A manual DB snapshot or DB cluster snapshot in {@link RdsState}. Times are simulated epoch milliseconds. */
export interface RdsSnapshotState {
  readonly id: string;
  /** Identifier of the source instance/cluster when it was taken. */
  readonly sourceId: string;
  readonly sourceResourceId: string;
  readonly sourceCreatedAtMs: number;
  readonly status: SnapshotStatus;
  readonly startedAtMs: number;
  /** When a `creating` snapshot's simulated duration has passed. */
  readonly readyAtMs: number;
  readonly facts: RdsEngineFacts;
  readonly tags: Tag[];
  /** The engine's snapshot key (with an engine only). */
  readonly engineKey?: string;
}

/**
 * The RDS resources of an account, JSON-safe: what {@link RdsSimulator.exportState} returns and
 * {@link RdsSimulator.restoreState} takes (the living twin persists it across restarts).
 */
export interface RdsState {
  /** The account's endpoint code (`<id>.<code>.<region>.rds.amazonaws.com`), 12 letters and digits. */
  readonly endpointCode: string;
  readonly instances: readonly RdsInstanceState[];
  readonly clusters: readonly RdsClusterState[];
  readonly snapshots: readonly RdsSnapshotState[];
  readonly clusterSnapshots: readonly RdsSnapshotState[];
}

interface SimInstance {
  id: string;
  state: Timed<InstanceStatus>;
  facts: EngineFacts;
  createdAtMs: number;
  resourceId: string;
  clusterId?: string;
  pendingIdentifier?: string;
  tags: Tag[];
  data: unknown;
  /** With an engine: the snapshot key a restore loads (RestoreDBInstanceFromDBSnapshot). */
  restoredFrom?: string;
  /** With an engine: the snapshot key being written while the instance is `backing-up` (its failure ends the backup). */
  backingUpTo?: string;
  /** VpcSecurityGroupIds it was created or restored with (AWS: the VPC's default security group otherwise). */
  securityGroupIds?: string[];
  /** DBParameterGroupName it was created or restored with (AWS: the engine's default group otherwise). */
  parameterGroup?: string;
  /** Settings set by create / restore / modify (see {@link InstanceSettings}). */
  settings: InstanceSettings;
}

interface SimDbCluster {
  id: string;
  state: Timed<ClusterStatus>;
  facts: EngineFacts;
  createdAtMs: number;
  resourceId: string;
  /** Member instance ids; the first is the writer. */
  members: string[];
  pendingIdentifier?: string;
  tags: Tag[];
  data: unknown;
  /** With an engine: the snapshot key a restore loads (RestoreDBClusterFromSnapshot). */
  restoredFrom?: string;
  /** Settings set by restore / modify (see {@link ClusterSettings}). */
  settings: ClusterSettings;
}

interface SimSnapshot {
  id: string;
  /** Identifier of the source instance/cluster when the snapshot was taken. */
  sourceId: string;
  sourceResourceId: string;
  sourceCreatedAtMs: number;
  state: Timed<SnapshotStatus>;
  startedAtMs: number;
  readyAtMs: number;
  facts: EngineFacts;
  tags: Tag[];
  data: unknown;
  /** The engine's snapshot key (with an engine only). */
  engineKey?: string;
}

const IDENTIFIER = /^[a-z](?!.*--)[a-z0-9-]*(?<!-)$/;
/** Real milliseconds a database start or snapshot dump may hold the simulated clock (PostgresHost's own start timeout). */
export const ENGINE_HOLD_MAX_REAL_MS = 120_000;
/** Real milliseconds between two looks at the engine's progress while it holds the clock. */
const ENGINE_POLL_MS = 20;

export class RdsSimulator extends SimulatedService {
  private readonly snapshotSeconds: number;
  private readonly restoreSeconds: number;
  private readonly renameSeconds: number;
  private readonly instanceCreateSeconds: number;
  /** Per-account endpoint code, as in `<id>.<code>.<region>.rds.amazonaws.com`. */
  private endpointCode = alnumId(12);
  private readonly instances = new Map<string, SimInstance>();
  private readonly clusters = new Map<string, SimDbCluster>();
  private readonly snapshots = new Map<string, SimSnapshot>();
  private readonly clusterSnapshots = new Map<string, SimSnapshot>();
  private readonly engine?: RdsEngine;
  /** Endpoint routes last given to the engine: `<kind>/<identifier>` → database key. */
  private readonly routes = new Map<string, { kind: EndpointKind; identifier: string; key: string | undefined }>();

  protected readonly operations = {
    DescribeDBInstances: (i: DescribeDBInstancesMessage) => this.describeDBInstances(i),
    CreateDBSnapshot: (i: CreateDBSnapshotMessage) => this.createDBSnapshot(i),
    DescribeDBSnapshots: (i: DescribeDBSnapshotsMessage) => this.describeDBSnapshots(i),
    RestoreDBInstanceFromDBSnapshot: (i: RestoreDBInstanceFromDBSnapshotMessage) => this.restoreDBInstanceFromDBSnapshot(i),
    ModifyDBInstance: (i: ModifyDBInstanceMessage) => this.modifyDBInstance(i),
    DeleteDBSnapshot: (i: DeleteDBSnapshotMessage) => this.deleteDBSnapshot(i),
    CreateDBInstance: (i: CreateDBInstanceMessage) => this.createDBInstance(i),
    DescribeDBClusters: (i: DescribeDBClustersMessage) => this.describeDBClusters(i),
    CreateDBClusterSnapshot: (i: CreateDBClusterSnapshotMessage) => this.createDBClusterSnapshot(i),
    DescribeDBClusterSnapshots: (i: DescribeDBClusterSnapshotsMessage) => this.describeDBClusterSnapshots(i),
    RestoreDBClusterFromSnapshot: (i: RestoreDBClusterFromSnapshotMessage) => this.restoreDBClusterFromSnapshot(i),
    ModifyDBCluster: (i: ModifyDBClusterMessage) => this.modifyDBCluster(i),
    AddRoleToDBInstance: (i: AddRoleToDBInstanceMessage) => this.addRoleToDBInstance(i),
  };

  constructor(ctx: SimContext, opts: RdsSimulatorOptions = {}) {
    super('rds', ctx);
    this.snapshotSeconds = opts.snapshotSeconds ?? 120;
    this.restoreSeconds = opts.restoreSeconds ?? 300;
    this.renameSeconds = opts.renameSeconds ?? 60;
    this.instanceCreateSeconds = opts.instanceCreateSeconds ?? 300;
    this.engine = opts.engine;
  }

  // ---------------------------------------------------------------- seeding and data payloads

  /**
   * Create an `available` PostgreSQL DB instance (not part of a cluster); returns an existing one unchanged.
   * With an engine it is `creating` until its database serves.
   * @param id instance identifier (stored lower-case)
   * @returns the DBInstance as DescribeDBInstances shows it
   */
  seedInstance(id: string, opts: { data?: unknown; engineVersion?: string; tags?: Tag[] } = {}): DBInstance {
    const existing = this.instances.get(this.normalize(id));
    if (existing) return this.instanceOutput(existing);
    const instance = this.newInstance(this.checkId('DBInstanceIdentifier', id), this.defaultFacts('postgres', opts.engineVersion ?? '16.4'), opts.tags, opts.data);
    instance.state = this.seededState();
    this.startDatabase(instance.resourceId, `DB instance ${instance.id}`);
    this.syncRoutes();
    return this.instanceOutput(instance);
  }

  /**
   * Create an `available` Aurora PostgreSQL DB cluster with one `available` writer instance; returns an
   * existing one unchanged. With an engine both are `creating` until the cluster's database serves.
   * @param writerInstanceId @default `<id>-instance-1`
   */
  seedCluster(id: string, opts: { data?: unknown; engineVersion?: string; tags?: Tag[]; writerInstanceId?: string } = {}): DBCluster {
    const existing = this.clusters.get(this.normalize(id));
    if (existing) return this.clusterOutput(existing);
    const cluster = this.newCluster(this.checkId('DBClusterIdentifier', id), this.defaultFacts('aurora-postgresql', opts.engineVersion ?? '16.4'), opts.tags, opts.data);
    cluster.state = this.seededState();
    const writer = this.newInstance(this.checkId('DBInstanceIdentifier', opts.writerInstanceId ?? `${cluster.id}-instance-1`), { ...cluster.facts, instanceClass: 'db.r6g.large' }, [], undefined);
    writer.state = this.seededState();
    writer.clusterId = cluster.id;
    cluster.members.push(writer.id);
    this.startDatabase(cluster.resourceId, `DB cluster ${cluster.id}`);
    this.syncRoutes();
    return this.clusterOutput(cluster);
  }

  /** The data payload of a DB instance. @throws DBInstanceNotFoundFault */
  instanceData(id: string): unknown {
    return this.instance(id).data;
  }

  /** Replace the data payload of a DB instance. @throws DBInstanceNotFoundFault */
  setInstanceData(id: string, data: unknown): void {
    this.instance(id).data = data;
  }

  /** The data payload of an Aurora DB cluster. @throws DBClusterNotFoundFault */
  clusterData(id: string): unknown {
    return this.cluster(id).data;
  }

  /** Replace the data payload of an Aurora DB cluster. @throws DBClusterNotFoundFault */
  setClusterData(id: string, data: unknown): void {
    this.cluster(id).data = data;
  }

  /** The payload a DB snapshot captured. @throws DBSnapshotNotFoundFault */
  snapshotData(id: string): unknown {
    return this.snapshot(id).data;
  }

  /** The payload a DB cluster snapshot captured. @throws DBClusterSnapshotNotFoundFault */
  clusterSnapshotData(id: string): unknown {
    return this.clusterSnapshot(id).data;
  }

  // ---------------------------------------------------------------- account state (the living twin's restarts)

  /**
   * The account's RDS resources as they are now: instances, clusters, snapshots and cluster snapshots
   * with their identifiers, resource ids (`db-…`, `cluster-…`), engine facts, tags and statuses, plus
   * the endpoint code. JSON-safe (times are simulated epoch ms). Data payloads are not included (with an
   * engine the data lives in the engine's databases).
   */
  exportState(): RdsState {
    const now = this.nowMs();
    const snapshotState = (s: SimSnapshot): RdsSnapshotState => ({
      id: s.id,
      sourceId: s.sourceId,
      sourceResourceId: s.sourceResourceId,
      sourceCreatedAtMs: s.sourceCreatedAtMs,
      status: this.snapshotStatus(s, now),
      startedAtMs: s.startedAtMs,
      readyAtMs: s.readyAtMs,
      facts: { ...s.facts },
      tags: copy(s.tags),
      ...(s.engineKey === undefined ? {} : { engineKey: s.engineKey }),
    });
    const byStart = (a: SimSnapshot, b: SimSnapshot) => a.startedAtMs - b.startedAtMs || a.id.localeCompare(b.id);
    return {
      endpointCode: this.endpointCode,
      instances: this.sorted(this.instances).map((i) => {
        const status = this.instanceStatus(i, now);
        return {
          id: i.id,
          resourceId: i.resourceId,
          status,
          facts: { ...i.facts },
          createdAtMs: i.createdAtMs,
          ...(i.clusterId === undefined ? {} : { clusterId: i.clusterId }),
          ...(i.pendingIdentifier === undefined ? {} : { pendingIdentifier: i.pendingIdentifier }),
          tags: copy(i.tags),
          ...(status === 'creating' && i.restoredFrom !== undefined ? { restoringFrom: i.restoredFrom } : {}),
          ...(Object.keys(i.settings).length ? { settings: copy(i.settings) } : {}),
        };
      }),
      clusters: this.sorted(this.clusters).map((c) => {
        const status = this.clusterStatus(c, now);
        return {
          id: c.id,
          resourceId: c.resourceId,
          status,
          facts: { ...c.facts },
          createdAtMs: c.createdAtMs,
          members: [...c.members],
          ...(c.pendingIdentifier === undefined ? {} : { pendingIdentifier: c.pendingIdentifier }),
          tags: copy(c.tags),
          ...(status === 'creating' && c.restoredFrom !== undefined ? { restoringFrom: c.restoredFrom } : {}),
          ...(Object.keys(c.settings).length ? { settings: copy(c.settings) } : {}),
        };
      }),
      snapshots: [...this.snapshots.values()].sort(byStart).map(snapshotState),
      clusterSnapshots: [...this.clusterSnapshots.values()].sort(byStart).map(snapshotState),
    };
  }

  /**
   * Recreate an account's RDS resources from {@link exportState} (the living twin after a restart):
   * same identifiers, resource ids, ARNs, engine facts, tags and pending renames. Every instance and
   * cluster is `available` at once without an engine; with one, its database is started again under
   * the same key (reopening its data; one still being restored from a snapshot loads `restoringFrom`)
   * and it is `starting` until that database serves. A snapshot keeps its status (`creating` becomes
   * `available` at `readyAtMs`; with an engine that never stored it, `failed`). Endpoints are routed
   * as after the last change. Nothing changes unless the whole state is valid.
   * @throws Error when this simulator already has RDS resources, or naming the resource whose
   *   identifier is invalid, is listed twice, shares a resource id, or whose cluster membership is inconsistent
   */
  restoreState(state: RdsState): void {
    if (this.instances.size + this.clusters.size + this.snapshots.size + this.clusterSnapshots.size > 0) {
      throw new Error('RdsSimulator.restoreState needs an account without RDS resources: restore before seeding anything.');
    }
    const fail = (what: string): never => {
      throw new Error(`Cannot restore the RDS state: ${what}.`);
    };
    const valid = (kind: string, id: string, maxLength = 63) => {
      if (id !== id.toLowerCase() || id.length > maxLength || !IDENTIFIER.test(id)) fail(`${kind} identifier ${JSON.stringify(id)} is not a valid RDS identifier`);
      return id;
    };
    const resourceIds = new Set<string>();
    const unique = (kind: string, id: string, resourceId: string) => {
      if (resourceIds.has(resourceId)) fail(`${kind} ${id} has resource id ${resourceId}, which another resource has too`);
      resourceIds.add(resourceId);
    };
    const now = this.nowMs();
    const restarted = (): Timed<'starting' | 'available'> =>
      this.engine ? { status: 'starting', next: { atMs: now, status: 'available' } } : { status: 'available' };
    const instances = new Map<string, SimInstance>();
    for (const i of state.instances) {
      const id = valid('DB instance', i.id);
      if (instances.has(id)) fail(`DB instance ${id} is listed twice`);
      unique('DB instance', id, i.resourceId);
      instances.set(id, {
        id,
        state: restarted(),
        facts: { ...i.facts },
        createdAtMs: i.createdAtMs,
        resourceId: i.resourceId,
        clusterId: i.clusterId,
        pendingIdentifier: i.pendingIdentifier,
        tags: copy(i.tags),
        data: undefined,
        restoredFrom: i.restoringFrom,
        settings: copy(i.settings ?? {}),
      });
    }
    const clusters = new Map<string, SimDbCluster>();
    for (const c of state.clusters) {
      const id = valid('DB cluster', c.id);
      if (clusters.has(id)) fail(`DB cluster ${id} is listed twice`);
      unique('DB cluster', id, c.resourceId);
      for (const m of c.members) {
        if (instances.get(m)?.clusterId !== id) fail(`DB cluster ${id} lists member ${m}, which is not a DB instance of that cluster`);
      }
      clusters.set(id, {
        id,
        state: restarted(),
        facts: { ...c.facts },
        createdAtMs: c.createdAtMs,
        resourceId: c.resourceId,
        members: [...c.members],
        pendingIdentifier: c.pendingIdentifier,
        tags: copy(c.tags),
        data: undefined,
        restoredFrom: c.restoringFrom,
        settings: copy(c.settings ?? {}),
      });
    }
    for (const i of instances.values()) {
      if (i.clusterId !== undefined && !clusters.get(i.clusterId)?.members.includes(i.id)) {
        fail(`DB instance ${i.id} names cluster ${i.clusterId}, which does not list it as a member`);
      }
    }
    const snapshotsOf = (kind: string, list: readonly RdsSnapshotState[]) => {
      const result = new Map<string, SimSnapshot>();
      for (const s of list) {
        const id = valid(kind, s.id, 255);
        if (result.has(id)) fail(`${kind} ${id} is listed twice`);
        const timed: Timed<SnapshotStatus> =
          s.status === 'creating' ? { status: 'creating', next: { atMs: s.readyAtMs, status: 'available' } } : { status: s.status };
        result.set(id, {
          id,
          sourceId: s.sourceId,
          sourceResourceId: s.sourceResourceId,
          sourceCreatedAtMs: s.sourceCreatedAtMs,
          state: timed,
          startedAtMs: s.startedAtMs,
          readyAtMs: s.readyAtMs,
          facts: { ...s.facts },
          tags: copy(s.tags),
          data: undefined,
          engineKey: s.engineKey,
        });
      }
      return result;
    };
    const snapshots = snapshotsOf('DB snapshot', state.snapshots);
    const clusterSnapshots = snapshotsOf('DB cluster snapshot', state.clusterSnapshots);
    if (!/^[a-z0-9]{12}$/.test(state.endpointCode)) fail(`endpoint code ${JSON.stringify(state.endpointCode)} is not 12 lower-case letters and digits`);

    this.endpointCode = state.endpointCode;
    for (const [id, i] of instances) this.instances.set(id, i);
    for (const [id, c] of clusters) this.clusters.set(id, c);
    for (const [id, s] of snapshots) this.snapshots.set(id, s);
    for (const [id, s] of clusterSnapshots) this.clusterSnapshots.set(id, s);
    if (this.engine) {
      for (const i of instances.values()) {
        if (i.clusterId === undefined) this.startDatabase(i.resourceId, `DB instance ${i.id}`, i.restoredFrom === undefined ? undefined : { snapshot: i.restoredFrom });
      }
      for (const c of clusters.values()) this.startDatabase(c.resourceId, `DB cluster ${c.id}`, c.restoredFrom === undefined ? undefined : { snapshot: c.restoredFrom });
    }
    this.syncRoutes();
  }

  // ---------------------------------------------------------------- the engine's real work

  /**
   * Start database `key` in the engine (no-op without one) and hold the simulated clock until it
   * serves or failed (see the module documentation).
   * @param label the resource it belongs to, for the hold's description, e.g. `DB instance shop-db`
   */
  private startDatabase(key: string, label: string, from?: { readonly snapshot: string }): void {
    const engine = this.engine;
    if (!engine) return;
    engine.startDatabase(key, from);
    const work = from ? `to start from snapshot ${from.snapshot}` : 'to start';
    this.holdWhilePending(`PostgreSQL of ${label} (${key}) ${work}`, () => engine.databaseState(key));
  }

  /** Start snapshot `snapshot` of database `key` in the engine and hold the simulated clock until it is stored or failed. */
  private startSnapshot(key: string, snapshot: string, label: string): void {
    const engine = this.engine!;
    engine.startSnapshot(key, snapshot);
    this.holdWhilePending(`snapshot ${snapshot} of ${label} (${key}) to be written`, () => engine.snapshotState(snapshot));
  }

  /** Hold the clock while `state()` is `pending`, looking every {@link ENGINE_POLL_MS} real ms, at most {@link ENGINE_HOLD_MAX_REAL_MS}. */
  private holdWhilePending(what: string, state: () => EngineState): void {
    if (state() !== 'pending') return;
    const seconds = Math.round(ENGINE_HOLD_MAX_REAL_MS / 1000);
    const release = this.ctx.clock.hold(what, {
      maxRealMs: ENGINE_HOLD_MAX_REAL_MS,
      kind: 'database',
      message: () =>
        `Waited ${seconds} s real for ${what}; the twin's simulated clock runs on without it (the resource stays creating until the work ends, or turns failed). ${OVERLOAD_ADVICE}`,
    });
    const deadline = Date.now() + ENGINE_HOLD_MAX_REAL_MS;
    const look = () => {
      if (state() === 'pending' && Date.now() < deadline) setTimeout(look, ENGINE_POLL_MS).unref();
      else release();
    };
    setTimeout(look, ENGINE_POLL_MS).unref();
  }

  // ---------------------------------------------------------------- DB instances

  /**
   * DescribeDBInstances: one instance by `DBInstanceIdentifier` (id or ARN; DBInstanceNotFoundFault),
   * else all, by identifier; `MaxRecords` (20-100) and `Marker` pagination. `Filters` are ignored.
   * With an engine, `Endpoint` is `127.0.0.1` and the port of the identifier's endpoint.
   */
  describeDBInstances(input: DescribeDBInstancesMessage): DBInstanceMessage {
    const items = input.DBInstanceIdentifier ? [this.instance(input.DBInstanceIdentifier)] : this.sorted(this.instances);
    const { page, next } = this.page(items, input);
    return { DBInstances: page.map((i) => this.instanceOutput(i)), Marker: next };
  }

  /**
   * CreateDBSnapshot: `DBSnapshotIdentifier` and `DBInstanceIdentifier` required. The instance must
   * exist (DBInstanceNotFoundFault), not be in a cluster (InvalidParameterValue), and be `available`
   * (InvalidDBInstanceStateFault); the snapshot id must be new (DBSnapshotAlreadyExistsFault).
   * The snapshot is `creating` for `snapshotSeconds`, the instance `backing-up` meanwhile. With an
   * engine the snapshot holds the database as it is at this call, and is `failed` if it cannot be
   * stored (the instance is then `available` again).
   */
  createDBSnapshot(input: CreateDBSnapshotMessage): CreateDBSnapshotResult {
    this.errors.require(input, 'DBSnapshotIdentifier', 'DBInstanceIdentifier');
    const id = this.checkId('DBSnapshotIdentifier', input.DBSnapshotIdentifier!, 255);
    const instance = this.instance(input.DBInstanceIdentifier!);
    if (this.snapshots.has(id)) {
      this.errors.fail('DBSnapshotAlreadyExistsFault', `Cannot create the snapshot because a snapshot with the identifier ${id} already exists.`);
    }
    if (instance.clusterId) {
      this.errors.invalid(
        'The specified instance is a member of a cluster and a snapshot cannot be created directly. Please use the CreateDBClusterSnapshot API instead.',
      );
    }
    const now = this.nowMs();
    const status = this.instanceStatus(instance, now);
    if (status !== 'available') {
      this.errors.fail(
        'InvalidDBInstanceStateFault',
        `Cannot create a snapshot because the database instance ${instance.id} is not currently in the available state (it is ${status}).`,
      );
    }
    const snapshot = this.newSnapshot(id, instance, input.Tags, now);
    this.snapshots.set(id, snapshot);
    if (this.engine) {
      snapshot.engineKey = id;
      instance.backingUpTo = id;
      this.startSnapshot(instance.resourceId, id, `DB instance ${instance.id}`);
    }
    transition(instance.state, 'backing-up', 'available', this.snapshotSeconds, now);
    return { DBSnapshot: this.snapshotOutput(snapshot) };
  }

  /**
   * DescribeDBSnapshots: one by `DBSnapshotIdentifier` (id or ARN; DBSnapshotNotFoundFault), or those
   * of `DBInstanceIdentifier` (none is no error), oldest first; `SnapshotType` other than `manual`
   * matches nothing; `MaxRecords` (20-100) and `Marker` pagination.
   */
  describeDBSnapshots(input: DescribeDBSnapshotsMessage): DBSnapshotMessage {
    let items = input.DBSnapshotIdentifier ? [this.snapshot(input.DBSnapshotIdentifier)] : [...this.snapshots.values()];
    if (input.DBInstanceIdentifier) {
      const instanceId = this.normalize(input.DBInstanceIdentifier);
      items = items.filter((s) => s.sourceId === instanceId);
    }
    if (input.SnapshotType && input.SnapshotType !== 'manual') items = [];
    items.sort((a, b) => a.startedAtMs - b.startedAtMs);
    const { page, next } = this.page(items, input);
    return { DBSnapshots: page.map((s) => this.snapshotOutput(s)), Marker: next };
  }

  /**
   * RestoreDBInstanceFromDBSnapshot: `DBInstanceIdentifier` and `DBSnapshotIdentifier` required. The new
   * id must be free (DBInstanceAlreadyExistsFault), the snapshot must exist (DBSnapshotNotFoundFault)
   * and be `available` (InvalidDBSnapshotStateFault). The new instance is `creating` for
   * `restoreSeconds` and receives the snapshot's data payload (with an engine: a database restored from
   * the snapshot, and `creating` until it serves).
   */
  restoreDBInstanceFromDBSnapshot(input: RestoreDBInstanceFromDBSnapshotMessage): RestoreDBInstanceFromDBSnapshotResult {
    this.errors.require(input, 'DBInstanceIdentifier', 'DBSnapshotIdentifier');
    const id = this.checkId('DBInstanceIdentifier', input.DBInstanceIdentifier!);
    if (this.instances.has(id)) this.errors.fail('DBInstanceAlreadyExistsFault', `DB instance ${id} already exists.`);
    const snapshot = this.snapshot(input.DBSnapshotIdentifier!);
    const now = this.nowMs();
    const status = this.snapshotStatus(snapshot, now);
    if (status !== 'available') {
      this.errors.fail('InvalidDBSnapshotStateFault', `Snapshot ${snapshot.id} is not in the available state (it is ${status}).`);
    }
    const facts = { ...snapshot.facts, instanceClass: input.DBInstanceClass ?? snapshot.facts.instanceClass, port: input.Port ?? snapshot.facts.port };
    const settings = this.instanceSettings(input, {});
    const instance = this.newInstance(id, facts, input.Tags, snapshot.data);
    instance.securityGroupIds = input.VpcSecurityGroupIds;
    instance.parameterGroup = input.DBParameterGroupName;
    instance.settings = settings;
    transition(instance.state, 'creating', 'available', this.restoreSeconds, now);
    if (this.engine) instance.restoredFrom = snapshot.engineKey ?? snapshot.id;
    this.startDatabase(instance.resourceId, `DB instance ${instance.id}`, { snapshot: snapshot.engineKey ?? snapshot.id });
    this.syncRoutes();
    return { DBInstance: this.instanceOutput(instance) };
  }

  /**
   * ModifyDBInstance: `DBInstanceIdentifier` required (DBInstanceNotFoundFault).
   * `NewDBInstanceIdentifier` with `ApplyImmediately: true` renames at once (instance must be
   * `available`: InvalidDBInstanceStateFault; new id free: DBInstanceAlreadyExistsFault); the instance
   * is `renaming` for `renameSeconds`, its ARN and endpoint follow the new name (with an engine, the old
   * name's endpoint stops reaching it and its connections through that endpoint close). Without
   * `ApplyImmediately` the rename waits in `PendingModifiedValues`. `DBInstanceClass` is applied
   * (`modifying` for `renameSeconds`); other fields are ignored.
   */
  modifyDBInstance(input: ModifyDBInstanceMessage): ModifyDBInstanceResult {
    this.errors.require(input, 'DBInstanceIdentifier');
    const instance = this.instance(input.DBInstanceIdentifier!);
    const now = this.nowMs();
    const newId = input.NewDBInstanceIdentifier === undefined ? undefined : this.checkId('NewDBInstanceIdentifier', input.NewDBInstanceIdentifier);
    const changes = (newId !== undefined && newId !== instance.id) || (input.DBInstanceClass !== undefined && input.DBInstanceClass !== instance.facts.instanceClass);
    const status = this.instanceStatus(instance, now);
    if (changes && input.ApplyImmediately && status !== 'available') {
      this.errors.fail('InvalidDBInstanceStateFault', `Database instance ${instance.id} is not in the available state (it is ${status}).`);
    }
    if (newId !== undefined && newId !== instance.id) {
      if (this.instances.has(newId)) this.errors.fail('DBInstanceAlreadyExistsFault', `DB instance ${newId} already exists.`);
      if (input.ApplyImmediately) {
        const oldId = instance.id;
        this.instances.delete(oldId);
        instance.id = newId;
        instance.pendingIdentifier = undefined;
        this.instances.set(newId, instance);
        if (instance.clusterId) {
          const cluster = this.clusters.get(instance.clusterId)!;
          cluster.members = cluster.members.map((m) => (m === oldId ? newId : m));
        }
        transition(instance.state, 'renaming', 'available', this.renameSeconds, now);
      } else {
        instance.pendingIdentifier = newId;
      }
    }
    if (input.DBInstanceClass !== undefined && input.DBInstanceClass !== instance.facts.instanceClass && input.ApplyImmediately) {
      instance.facts.instanceClass = input.DBInstanceClass;
      if (instance.state.status === 'available') transition(instance.state, 'modifying', 'available', this.renameSeconds, now);
    }
    // Settings (monitoring, Performance Insights, windows, …): validated as a whole, applied at once with
    // ApplyImmediately (the instance is `modifying` meanwhile); without it they wait for the maintenance
    // window, which never comes in the simulator.
    const settings = this.instanceSettings(input, instance.settings);
    if (input.ApplyImmediately && JSON.stringify(settings) !== JSON.stringify(instance.settings)) {
      instance.settings = settings;
      if (this.instanceStatus(instance, now) === 'available') transition(instance.state, 'modifying', 'available', this.renameSeconds, now);
    }
    this.syncRoutes();
    return { DBInstance: this.instanceOutput(instance) };
  }

  /**
   * DeleteDBSnapshot: `DBSnapshotIdentifier` required (DBSnapshotNotFoundFault); the snapshot must be
   * `available` or `failed` (InvalidDBSnapshotStateFault). Returns it with status `deleted`; with an
   * engine its stored copy is deleted too.
   */
  deleteDBSnapshot(input: DeleteDBSnapshotMessage): DeleteDBSnapshotResult {
    this.errors.require(input, 'DBSnapshotIdentifier');
    const snapshot = this.snapshot(input.DBSnapshotIdentifier!);
    if (this.snapshotStatus(snapshot, this.nowMs()) === 'creating') {
      this.errors.fail('InvalidDBSnapshotStateFault', `Cannot delete the snapshot because the snapshot ${snapshot.id} is not in the available state.`);
    }
    this.snapshots.delete(snapshot.id);
    if (snapshot.engineKey) this.engine?.deleteSnapshot(snapshot.engineKey);
    return { DBSnapshot: { ...this.snapshotOutput(snapshot), Status: 'deleted' } };
  }

  /**
   * CreateDBInstance: `DBInstanceIdentifier`, `DBInstanceClass` and `Engine` required; a new id
   * (DBInstanceAlreadyExistsFault). With `DBClusterIdentifier` (DBClusterNotFoundFault) the instance
   * joins the Aurora cluster (the first member is the writer). `creating` for `instanceCreateSeconds`.
   * With an engine a standalone instance gets a new empty database; a cluster's instance serves the
   * cluster's database (its endpoint and the cluster endpoint reach it).
   */
  createDBInstance(input: CreateDBInstanceMessage): CreateDBInstanceResult {
    this.errors.require(input, 'DBInstanceIdentifier', 'DBInstanceClass', 'Engine');
    const id = this.checkId('DBInstanceIdentifier', input.DBInstanceIdentifier!);
    if (this.instances.has(id)) this.errors.fail('DBInstanceAlreadyExistsFault', `DB instance ${id} already exists.`);
    const cluster = input.DBClusterIdentifier ? this.cluster(input.DBClusterIdentifier) : undefined;
    if (cluster && input.Engine !== cluster.facts.engine) {
      this.errors.fail('InvalidParameterCombination', `The engine ${input.Engine} does not match the engine ${cluster.facts.engine} of DB cluster ${cluster.id}.`);
    }
    const facts: EngineFacts = cluster
      ? { ...cluster.facts, instanceClass: input.DBInstanceClass! }
      : {
          ...this.defaultFacts(input.Engine!, input.EngineVersion ?? '16.4'),
          instanceClass: input.DBInstanceClass!,
          masterUsername: input.MasterUsername ?? 'postgres',
          dbName: input.DBName,
          allocatedStorage: input.AllocatedStorage ?? 20,
          port: input.Port ?? 5432,
        };
    const settings = this.instanceSettings(input, {});
    const instance = this.newInstance(id, facts, input.Tags, undefined);
    instance.securityGroupIds = input.VpcSecurityGroupIds;
    instance.parameterGroup = input.DBParameterGroupName;
    instance.settings = settings;
    if (cluster) {
      instance.clusterId = cluster.id;
      cluster.members.push(id);
    } else {
      this.startDatabase(instance.resourceId, `DB instance ${instance.id}`);
    }
    transition(instance.state, 'creating', 'available', this.instanceCreateSeconds, this.nowMs());
    this.syncRoutes();
    return { DBInstance: this.instanceOutput(instance) };
  }

  // ---------------------------------------------------------------- Aurora clusters

  /**
   * DescribeDBClusters: one by `DBClusterIdentifier` (id or ARN; DBClusterNotFoundFault), else all;
   * `MaxRecords` (20-100) and `Marker` pagination. `Filters` are ignored. With an engine, `Endpoint`
   * and `ReaderEndpoint` are `127.0.0.1` and `Port` the port of the identifier's endpoint.
   */
  describeDBClusters(input: DescribeDBClustersMessage): DBClusterMessage {
    const items = input.DBClusterIdentifier ? [this.cluster(input.DBClusterIdentifier)] : this.sorted(this.clusters);
    const { page, next } = this.page(items, input);
    return { DBClusters: page.map((c) => this.clusterOutput(c)), Marker: next };
  }

  /**
   * CreateDBClusterSnapshot: `DBClusterSnapshotIdentifier` and `DBClusterIdentifier` required; the
   * cluster must exist (DBClusterNotFoundFault) and be `available` (InvalidDBClusterStateFault); the
   * id must be new (DBClusterSnapshotAlreadyExistsFault). `creating` for `snapshotSeconds`; with an
   * engine it holds the cluster's database as it is at this call (`failed` if it cannot be stored).
   */
  createDBClusterSnapshot(input: CreateDBClusterSnapshotMessage): CreateDBClusterSnapshotResult {
    this.errors.require(input, 'DBClusterSnapshotIdentifier', 'DBClusterIdentifier');
    const id = this.checkId('DBClusterSnapshotIdentifier', input.DBClusterSnapshotIdentifier!, 255);
    const cluster = this.cluster(input.DBClusterIdentifier!);
    if (this.clusterSnapshots.has(id)) {
      this.errors.fail('DBClusterSnapshotAlreadyExistsFault', `Cannot create the cluster snapshot because one with the identifier ${id} already exists.`);
    }
    const now = this.nowMs();
    const status = this.clusterStatus(cluster, now);
    if (status !== 'available') {
      this.errors.fail('InvalidDBClusterStateFault', `DB cluster ${cluster.id} is not in the available state (it is ${status}).`);
    }
    const snapshot = this.newSnapshot(id, cluster, input.Tags, now);
    this.clusterSnapshots.set(id, snapshot);
    if (this.engine) {
      snapshot.engineKey = `${id}.cluster`;
      this.startSnapshot(cluster.resourceId, snapshot.engineKey, `DB cluster ${cluster.id}`);
    }
    return { DBClusterSnapshot: this.clusterSnapshotOutput(snapshot) };
  }

  /**
   * DescribeDBClusterSnapshots: one by `DBClusterSnapshotIdentifier` (DBClusterSnapshotNotFoundFault),
   * or those of `DBClusterIdentifier`, oldest first; `SnapshotType` other than `manual` matches
   * nothing; `MaxRecords` (20-100) and `Marker` pagination.
   */
  describeDBClusterSnapshots(input: DescribeDBClusterSnapshotsMessage): DBClusterSnapshotMessage {
    let items = input.DBClusterSnapshotIdentifier ? [this.clusterSnapshot(input.DBClusterSnapshotIdentifier)] : [...this.clusterSnapshots.values()];
    if (input.DBClusterIdentifier) {
      const clusterId = this.normalize(input.DBClusterIdentifier);
      items = items.filter((s) => s.sourceId === clusterId);
    }
    if (input.SnapshotType && input.SnapshotType !== 'manual') items = [];
    items.sort((a, b) => a.startedAtMs - b.startedAtMs);
    const { page, next } = this.page(items, input);
    return { DBClusterSnapshots: page.map((s) => this.clusterSnapshotOutput(s)), Marker: next };
  }

  /**
   * RestoreDBClusterFromSnapshot: `DBClusterIdentifier`, `SnapshotIdentifier` (cluster snapshot id or
   * ARN) and `Engine` required. The id must be free (DBClusterAlreadyExistsFault), the snapshot must
   * exist (DBClusterSnapshotNotFoundFault) and be `available` (InvalidDBClusterSnapshotStateFault).
   * The new cluster is `creating` for `restoreSeconds`, has no instances and the snapshot's payload
   * (with an engine: a database restored from the snapshot, `creating` until it serves; its endpoint
   * refuses connections until the cluster has an instance).
   */
  restoreDBClusterFromSnapshot(input: RestoreDBClusterFromSnapshotMessage): RestoreDBClusterFromSnapshotResult {
    this.errors.require(input, 'DBClusterIdentifier', 'SnapshotIdentifier', 'Engine');
    const id = this.checkId('DBClusterIdentifier', input.DBClusterIdentifier!);
    if (this.clusters.has(id)) this.errors.fail('DBClusterAlreadyExistsFault', `DB cluster ${id} already exists.`);
    const snapshot = this.clusterSnapshot(input.SnapshotIdentifier!);
    const now = this.nowMs();
    const status = this.snapshotStatus(snapshot, now);
    if (status !== 'available') {
      this.errors.fail('InvalidDBClusterSnapshotStateFault', `Cluster snapshot ${snapshot.id} is not in the available state (it is ${status}).`);
    }
    const facts = { ...snapshot.facts, engine: input.Engine!, engineVersion: input.EngineVersion ?? snapshot.facts.engineVersion, port: input.Port ?? snapshot.facts.port };
    const settings = this.clusterSettings(input, {});
    const cluster = this.newCluster(id, facts, input.Tags, snapshot.data);
    cluster.settings = settings;
    transition(cluster.state, 'creating', 'available', this.restoreSeconds, now);
    if (this.engine) cluster.restoredFrom = snapshot.engineKey ?? `${snapshot.id}.cluster`;
    this.startDatabase(cluster.resourceId, `DB cluster ${cluster.id}`, { snapshot: snapshot.engineKey ?? `${snapshot.id}.cluster` });
    this.syncRoutes();
    return { DBCluster: this.clusterOutput(cluster) };
  }

  /**
   * ModifyDBCluster: `DBClusterIdentifier` required (DBClusterNotFoundFault). `NewDBClusterIdentifier`
   * with `ApplyImmediately: true` renames at once (cluster `available`: InvalidDBClusterStateFault; new
   * id free: DBClusterAlreadyExistsFault); `renaming` for `renameSeconds`; member instances keep their
   * own identifiers. Without `ApplyImmediately` the rename waits in `PendingModifiedValues`.
   */
  modifyDBCluster(input: ModifyDBClusterMessage): ModifyDBClusterResult {
    this.errors.require(input, 'DBClusterIdentifier');
    const cluster = this.cluster(input.DBClusterIdentifier!);
    const now = this.nowMs();
    const newId = input.NewDBClusterIdentifier === undefined ? undefined : this.checkId('NewDBClusterIdentifier', input.NewDBClusterIdentifier);
    if (newId !== undefined && newId !== cluster.id) {
      const status = this.clusterStatus(cluster, now);
      if (input.ApplyImmediately && status !== 'available') {
        this.errors.fail('InvalidDBClusterStateFault', `DB cluster ${cluster.id} is not in the available state (it is ${status}).`);
      }
      if (this.clusters.has(newId)) this.errors.fail('DBClusterAlreadyExistsFault', `DB cluster ${newId} already exists.`);
      if (input.ApplyImmediately) {
        this.clusters.delete(cluster.id);
        cluster.id = newId;
        cluster.pendingIdentifier = undefined;
        this.clusters.set(newId, cluster);
        for (const m of cluster.members) this.instances.get(m)!.clusterId = newId;
        transition(cluster.state, 'renaming', 'available', this.renameSeconds, now);
      } else {
        cluster.pendingIdentifier = newId;
      }
    }
    const settings = this.clusterSettings(input, cluster.settings);
    if (input.ApplyImmediately) cluster.settings = settings;
    this.syncRoutes();
    return { DBCluster: this.clusterOutput(cluster) };
  }

  /**
   * AddRoleToDBInstance: `DBInstanceIdentifier`, `RoleArn` and `FeatureName` required; the instance must
   * exist (DBInstanceNotFoundFault); a role already associated is DBInstanceRoleAlreadyExistsFault. The
   * role is `ACTIVE` at once (AWS: `PENDING` briefly).
   */
  addRoleToDBInstance(input: AddRoleToDBInstanceMessage): Record<string, never> {
    this.errors.require(input, 'DBInstanceIdentifier', 'RoleArn', 'FeatureName');
    const instance = this.instance(input.DBInstanceIdentifier!);
    const roles = instance.settings.AssociatedRoles ?? [];
    if (roles.some((r) => r.RoleArn === input.RoleArn)) {
      this.errors.fail('DBInstanceRoleAlreadyExistsFault', `Role ${input.RoleArn} is already associated with DB instance ${instance.id}.`);
    }
    instance.settings = { ...instance.settings, AssociatedRoles: [...roles, { RoleArn: input.RoleArn, FeatureName: input.FeatureName, Status: 'ACTIVE' }] };
    return {};
  }

  // ---------------------------------------------------------------- internals

  /**
   * `current` with what a create / restore / modify request sets, in DescribeDBInstances' terms, checked
   * as RDS checks them: MonitoringInterval 0|1|5|10|15|30|60, a MonitoringRoleArn exactly when it is not 0
   * (InvalidParameterCombination), no AvailabilityZone with MultiAZ (InvalidParameterCombination),
   * BackupRetentionPeriod 0-35 (InvalidParameterValue).
   */
  private instanceSettings(
    input: Partial<RestoreDBInstanceFromDBSnapshotMessage & CreateDBInstanceMessage & ModifyDBInstanceMessage>,
    current: InstanceSettings,
  ): InstanceSettings {
    const next: Record<string, unknown> = { ...current };
    const same = [
      'StorageType', 'Iops', 'StorageThroughput', 'AllocatedStorage', 'MaxAllocatedStorage', 'DeletionProtection', 'CopyTagsToSnapshot',
      'BackupRetentionPeriod', 'PreferredBackupWindow', 'PreferredMaintenanceWindow', 'AutoMinorVersionUpgrade', 'EngineLifecycleSupport',
      'NetworkType', 'AvailabilityZone', 'MultiAZ', 'PubliclyAccessible', 'CACertificateIdentifier', 'DedicatedLogVolume', 'LicenseModel',
      'MonitoringInterval', 'MonitoringRoleArn', 'PerformanceInsightsKMSKeyId', 'PerformanceInsightsRetentionPeriod', 'DatabaseInsightsMode', 'PromotionTier',
    ] as const;
    for (const k of same) if (input[k] !== undefined) next[k] = copy(input[k]);
    if (input.EnableIAMDatabaseAuthentication !== undefined) next.IAMDatabaseAuthenticationEnabled = input.EnableIAMDatabaseAuthentication;
    if (input.EnableCloudwatchLogsExports !== undefined) next.EnabledCloudwatchLogsExports = [...input.EnableCloudwatchLogsExports];
    if (input.EnablePerformanceInsights !== undefined) {
      next.PerformanceInsightsEnabled = input.EnablePerformanceInsights;
      if (input.EnablePerformanceInsights && next.PerformanceInsightsRetentionPeriod === undefined) next.PerformanceInsightsRetentionPeriod = 7;
    }
    if (input.OptionGroupName !== undefined) next.OptionGroupMemberships = [{ OptionGroupName: input.OptionGroupName, Status: 'in-sync' }];
    const s = next as InstanceSettings;
    this.errors.integerInRange('BackupRetentionPeriod', s.BackupRetentionPeriod, 0, 35);
    if (s.MonitoringInterval !== undefined && ![0, 1, 5, 10, 15, 30, 60].includes(s.MonitoringInterval)) {
      this.errors.invalid(`Invalid value ${s.MonitoringInterval} for MonitoringInterval: must be 0, 1, 5, 10, 15, 30 or 60.`);
    }
    if ((s.MonitoringInterval ?? 0) > 0 && !s.MonitoringRoleArn) {
      this.errors.fail('InvalidParameterCombination', 'A MonitoringRoleARN value is required if you specify a MonitoringInterval value other than 0.');
    }
    if (input.MonitoringRoleArn && !((s.MonitoringInterval ?? 0) > 0)) {
      this.errors.fail('InvalidParameterCombination', 'A MonitoringInterval value other than 0 is required if you specify a MonitoringRoleARN value.');
    }
    if (s.MultiAZ && input.AvailabilityZone !== undefined) {
      this.errors.fail('InvalidParameterCombination', 'Requesting a specific availability zone is not valid for Multi-AZ instances.');
    }
    return s;
  }

  /** `current` with what a cluster restore / modify request sets, in DescribeDBClusters' terms (BackupRetentionPeriod 1-35). */
  private clusterSettings(input: Partial<RestoreDBClusterFromSnapshotMessage & ModifyDBClusterMessage>, current: ClusterSettings): ClusterSettings {
    const next: Record<string, unknown> = { ...current };
    const same = [
      'DeletionProtection', 'CopyTagsToSnapshot', 'BackupRetentionPeriod', 'PreferredBackupWindow', 'PreferredMaintenanceWindow', 'EngineLifecycleSupport',
      'NetworkType', 'StorageType', 'Iops', 'DatabaseInsightsMode', 'KmsKeyId',
    ] as const;
    for (const k of same) if (input[k] !== undefined) next[k] = copy(input[k]);
    if (input.ServerlessV2ScalingConfiguration !== undefined) next.ServerlessV2ScalingConfiguration = copy(input.ServerlessV2ScalingConfiguration);
    if (input.EnableIAMDatabaseAuthentication !== undefined) next.IAMDatabaseAuthenticationEnabled = input.EnableIAMDatabaseAuthentication;
    if (input.EnableCloudwatchLogsExports !== undefined) next.EnabledCloudwatchLogsExports = [...input.EnableCloudwatchLogsExports];
    if (input.EnableHttpEndpoint !== undefined) next.HttpEndpointEnabled = input.EnableHttpEndpoint;
    if (input.AssociatedRoles !== undefined) next.AssociatedRoles = input.AssociatedRoles.map((r) => ({ RoleArn: r.RoleArn, FeatureName: r.FeatureName, Status: 'ACTIVE' }));
    const s = next as ClusterSettings;
    this.errors.integerInRange('BackupRetentionPeriod', s.BackupRetentionPeriod, 1, 35);
    return s;
  }

  private normalize(idOrArn: string): string {
    return nameFromArn(idOrArn, ':').toLowerCase();
  }

  /** Validate an identifier as RDS does and return it lower-cased. @throws InvalidParameterValue */
  private checkId(field: string, value: string, maxLength = 63): string {
    const id = this.normalize(value);
    if (id.length > maxLength || !IDENTIFIER.test(id)) {
      this.errors.invalid(
        `The parameter ${field} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.`,
      );
    }
    return id;
  }

  private instance(ref: string): SimInstance {
    const id = this.normalize(ref);
    return this.instances.get(id) ?? this.errors.fail('DBInstanceNotFoundFault', `DBInstance ${id} not found.`);
  }

  private cluster(ref: string): SimDbCluster {
    const id = this.normalize(ref);
    return this.clusters.get(id) ?? this.errors.fail('DBClusterNotFoundFault', `DBCluster ${id} not found.`);
  }

  private snapshot(ref: string): SimSnapshot {
    const id = this.normalize(ref);
    return this.snapshots.get(id) ?? this.errors.fail('DBSnapshotNotFoundFault', `DBSnapshot ${id} not found.`);
  }

  private clusterSnapshot(ref: string): SimSnapshot {
    const id = this.normalize(ref);
    return this.clusterSnapshots.get(id) ?? this.errors.fail('DBClusterSnapshotNotFoundFault', `DBClusterSnapshot ${id} not found.`);
  }

  private sorted<T extends { id: string }>(map: Map<string, T>): T[] {
    return [...map.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  private page<T>(items: T[], input: { MaxRecords?: number; Marker?: string }): { page: T[]; next?: string } {
    return paginate(items, { size: input.MaxRecords, token: input.Marker, defaultSize: 100, min: 20, max: 100, sizeField: 'MaxRecords' }, this.errors, () =>
      this.errors.invalid('The marker is not valid.'),
    );
  }

  private defaultFacts(engine: string, engineVersion: string): EngineFacts {
    const aurora = engine.startsWith('aurora');
    return {
      engine,
      engineVersion,
      port: 5432,
      masterUsername: 'postgres',
      dbName: 'app',
      allocatedStorage: aurora ? 1 : 20,
      instanceClass: aurora ? 'db.r6g.large' : 'db.t4g.micro',
    };
  }

  private newInstance(id: string, facts: EngineFacts, tags: Tag[] | undefined, data: unknown): SimInstance {
    const instance: SimInstance = {
      id,
      state: { status: 'creating' },
      facts: { ...facts },
      createdAtMs: this.nowMs(),
      resourceId: `db-${alnumId(26).toUpperCase()}`,
      tags: copy(tags ?? []),
      data,
      settings: {},
    };
    this.instances.set(id, instance);
    return instance;
  }

  private newCluster(id: string, facts: EngineFacts, tags: Tag[] | undefined, data: unknown): SimDbCluster {
    const cluster: SimDbCluster = {
      id,
      state: { status: 'creating' },
      facts: { ...facts },
      createdAtMs: this.nowMs(),
      resourceId: `cluster-${alnumId(26).toUpperCase()}`,
      members: [],
      tags: copy(tags ?? []),
      data,
      settings: {},
    };
    this.clusters.set(id, cluster);
    return cluster;
  }

  private newSnapshot(id: string, source: SimInstance | SimDbCluster, tags: Tag[] | undefined, now: number): SimSnapshot {
    const snapshot: SimSnapshot = {
      id,
      sourceId: source.id,
      sourceResourceId: source.resourceId,
      sourceCreatedAtMs: source.createdAtMs,
      state: { status: 'creating' },
      startedAtMs: now,
      readyAtMs: now + this.snapshotSeconds * 1000,
      facts: { ...source.facts },
      tags: copy(tags ?? []),
      data: source.data,
    };
    transition(snapshot.state, 'creating', 'available', this.snapshotSeconds, now);
    return snapshot;
  }

  /** A seeded resource: `available` at once without an engine; with one, once its database serves. */
  private seededState(): Timed<'creating' | 'available'> {
    return this.engine ? { status: 'creating', next: { atMs: this.nowMs(), status: 'available' } } : { status: 'available' };
  }

  /** The database key an instance is served from: its own, or its cluster's. */
  private databaseKey(i: SimInstance): string {
    const cluster = i.clusterId ? this.clusters.get(i.clusterId) : undefined;
    return cluster?.resourceId ?? i.resourceId;
  }

  /** Whether the engine serves database `key` and endpoint (`kind`, `identifier`) has its port. */
  private serving(key: string, kind: EndpointKind, identifier: string): boolean {
    return this.engine!.databaseState(key) === 'ready' && this.engine!.endpointPort(kind, identifier) !== undefined;
  }

  /**
   * Status of an instance now. With an engine, a due transition (to `available`) waits until its
   * database serves and its endpoint listens, and a database that failed shows as `failed`.
   */
  private instanceStatus(i: SimInstance, now: number): InstanceStatus {
    if (this.engine) {
      const key = this.databaseKey(i);
      if (this.engine.databaseState(key) === 'failed') return 'failed';
      if (i.backingUpTo !== undefined && i.state.status === 'backing-up' && this.engine.snapshotState(i.backingUpTo) === 'failed') {
        // A failed snapshot ends the backup: the instance is available again (as on RDS).
        i.state = { status: 'available' };
        i.backingUpTo = undefined;
      }
      if (i.state.next && now >= i.state.next.atMs && !this.serving(key, 'instance', i.id)) return i.state.status;
    }
    return settle(i.state, now);
  }

  /** Status of a cluster now; with an engine, as {@link instanceStatus} for the cluster's database. */
  private clusterStatus(c: SimDbCluster, now: number): ClusterStatus {
    if (this.engine) {
      if (this.engine.databaseState(c.resourceId) === 'failed') return 'failed';
      if (c.state.next && now >= c.state.next.atMs && !this.serving(c.resourceId, 'cluster', c.id)) return c.state.status;
    }
    return settle(c.state, now);
  }

  /** Status of a snapshot now; with an engine, `available` also needs the engine to have stored it, and its failure is final. */
  private snapshotStatus(s: SimSnapshot, now: number): SnapshotStatus {
    if (this.engine && s.engineKey && s.state.status === 'creating') {
      const stored = this.engine.snapshotState(s.engineKey);
      if (stored === 'failed') s.state = { status: 'failed' };
      else if (stored === 'pending' && s.state.next && now >= s.state.next.atMs) return 'creating';
    }
    return settle(s.state, now);
  }

  /**
   * Point every endpoint at the database that now holds its identifier: an instance's at its database
   * (its cluster's for a member), a cluster's at its database once it has an instance; identifiers no
   * longer held (renamed away) at nothing. Only changes reach the engine.
   */
  private syncRoutes(): void {
    if (!this.engine) return;
    const desired = new Map<string, { kind: EndpointKind; identifier: string; key: string | undefined }>();
    for (const i of this.instances.values()) desired.set(`instance/${i.id}`, { kind: 'instance', identifier: i.id, key: this.databaseKey(i) });
    for (const c of this.clusters.values()) {
      desired.set(`cluster/${c.id}`, { kind: 'cluster', identifier: c.id, key: c.members.length > 0 ? c.resourceId : undefined });
    }
    for (const [name, route] of this.routes) if (!desired.has(name)) desired.set(name, { ...route, key: undefined });
    for (const [name, route] of desired) {
      const current = this.routes.get(name);
      if (current && current.key === route.key) continue;
      this.routes.set(name, route);
      this.engine.route(route.kind, route.identifier, route.key);
    }
  }

  private progress(snapshot: SimSnapshot, status: SnapshotStatus): number {
    if (status === 'available') return 100;
    const total = snapshot.readyAtMs - snapshot.startedAtMs;
    return Math.min(99, Math.floor((100 * (this.nowMs() - snapshot.startedAtMs)) / total));
  }

  private instanceOutput(i: SimInstance): DBInstance {
    const status = this.instanceStatus(i, this.nowMs());
    const cluster = i.clusterId ? this.clusters.get(i.clusterId) : undefined;
    const enginePort = this.engine?.endpointPort('instance', i.id);
    const endpoint = this.engine
      ? enginePort === undefined
        ? undefined
        : { Address: '127.0.0.1', Port: enginePort, HostedZoneId: 'Z2R2ITUGPM61AM' }
      : { Address: `${i.id}.${this.endpointCode}.${this.ctx.region}.rds.amazonaws.com`, Port: i.facts.port, HostedZoneId: 'Z2R2ITUGPM61AM' };
    return copy({
      DBInstanceIdentifier: i.id,
      DBInstanceArn: this.arn('rds', `db:${i.id}`),
      DBInstanceClass: i.facts.instanceClass,
      Engine: i.facts.engine,
      EngineVersion: i.facts.engineVersion,
      DBInstanceStatus: status,
      MasterUsername: i.facts.masterUsername,
      DBName: i.facts.dbName,
      Endpoint: status === 'creating' ? undefined : endpoint,
      AllocatedStorage: i.facts.allocatedStorage,
      InstanceCreateTime: status === 'creating' ? undefined : new Date(i.createdAtMs),
      PreferredBackupWindow: '03:00-03:30',
      BackupRetentionPeriod: 7,
      AvailabilityZone: `${this.ctx.region}a`,
      PreferredMaintenanceWindow: 'sun:05:00-sun:05:30',
      PendingModifiedValues: i.pendingIdentifier ? { DBInstanceIdentifier: i.pendingIdentifier } : {},
      MultiAZ: false,
      AutoMinorVersionUpgrade: true,
      ReadReplicaDBInstanceIdentifiers: [],
      LicenseModel: 'postgresql-license',
      PubliclyAccessible: false,
      StorageType: i.facts.engine.startsWith('aurora') ? 'aurora' : 'gp3',
      DbInstancePort: 0,
      DBClusterIdentifier: cluster?.id,
      StorageEncrypted: true,
      DbiResourceId: i.resourceId,
      TagList: i.tags,
      DeletionProtection: false,
      CopyTagsToSnapshot: false,
      // As AWS: a VPC instance always has security groups and a parameter group (defaults when none were given).
      VpcSecurityGroups: (i.securityGroupIds?.length ? i.securityGroupIds : ['sg-0default0000000000']).map((id) => ({ VpcSecurityGroupId: id, Status: 'active' })),
      DBParameterGroups: [{ DBParameterGroupName: i.parameterGroup ?? `default.${i.facts.engine}${i.facts.engineVersion.split('.')[0]}`, ParameterApplyStatus: 'in-sync' }],
      // AWS's defaults for what was not set: no enhanced monitoring, no Performance Insights, the engine's default option group.
      MonitoringInterval: 0,
      PerformanceInsightsEnabled: false,
      OptionGroupMemberships: [{ OptionGroupName: `default:${i.facts.engine}-${i.facts.engineVersion.split('.')[0]}`, Status: 'in-sync' }],
      AssociatedRoles: [],
      ...i.settings,
    } satisfies DBInstance);
  }

  private clusterOutput(c: SimDbCluster): DBCluster {
    const status = this.clusterStatus(c, this.nowMs());
    const enginePort = this.engine?.endpointPort('cluster', c.id);
    const engineHost = enginePort === undefined ? undefined : '127.0.0.1';
    const host = `${c.id}.cluster-${this.endpointCode}.${this.ctx.region}.rds.amazonaws.com`;
    return copy({
      DBClusterIdentifier: c.id,
      DBClusterArn: this.arn('rds', `cluster:${c.id}`),
      Status: status,
      Engine: c.facts.engine,
      EngineVersion: c.facts.engineVersion,
      EngineMode: 'provisioned',
      // With an engine there are no replicas: readers reach the writer through the same endpoint.
      Endpoint: this.engine ? engineHost : host,
      ReaderEndpoint: this.engine ? engineHost : host.replace('.cluster-', '.cluster-ro-'),
      Port: this.engine ? enginePort : c.facts.port,
      MasterUsername: c.facts.masterUsername,
      DatabaseName: c.facts.dbName,
      AllocatedStorage: c.facts.allocatedStorage,
      ClusterCreateTime: new Date(c.createdAtMs),
      BackupRetentionPeriod: 7,
      MultiAZ: false,
      StorageEncrypted: true,
      DbClusterResourceId: c.resourceId,
      DBClusterMembers: c.members.map((m, index) => ({
        DBInstanceIdentifier: m,
        IsClusterWriter: index === 0,
        DBClusterParameterGroupStatus: 'in-sync',
        PromotionTier: 1,
      })),
      PendingModifiedValues: c.pendingIdentifier ? { DBClusterIdentifier: c.pendingIdentifier } : undefined,
      TagList: c.tags,
      DeletionProtection: false,
      CopyTagsToSnapshot: false,
      PreferredMaintenanceWindow: 'sun:05:00-sun:05:30',
      PreferredBackupWindow: '03:00-03:30',
      HttpEndpointEnabled: false,
      AssociatedRoles: [],
      ...c.settings,
    } satisfies DBCluster);
  }

  private snapshotOutput(s: SimSnapshot): DBSnapshot {
    const status = this.snapshotStatus(s, this.nowMs());
    return copy({
      DBSnapshotIdentifier: s.id,
      DBInstanceIdentifier: s.sourceId,
      DBSnapshotArn: this.arn('rds', `snapshot:${s.id}`),
      SnapshotCreateTime: new Date(s.startedAtMs),
      OriginalSnapshotCreateTime: new Date(s.startedAtMs),
      Engine: s.facts.engine,
      EngineVersion: s.facts.engineVersion,
      AllocatedStorage: s.facts.allocatedStorage,
      Status: status,
      PercentProgress: this.progress(s, status),
      Port: s.facts.port,
      AvailabilityZone: `${this.ctx.region}a`,
      VpcId: 'vpc-0sim',
      InstanceCreateTime: new Date(s.sourceCreatedAtMs),
      MasterUsername: s.facts.masterUsername,
      LicenseModel: 'postgresql-license',
      SnapshotType: 'manual',
      StorageType: 'gp3',
      Encrypted: true,
      DbiResourceId: s.sourceResourceId,
      TagList: s.tags,
      SnapshotTarget: 'region',
    } satisfies DBSnapshot);
  }

  private clusterSnapshotOutput(s: SimSnapshot): DBClusterSnapshot {
    const status = this.snapshotStatus(s, this.nowMs());
    return copy({
      DBClusterSnapshotIdentifier: s.id,
      DBClusterIdentifier: s.sourceId,
      DBClusterSnapshotArn: this.arn('rds', `cluster-snapshot:${s.id}`),
      SnapshotCreateTime: new Date(s.startedAtMs),
      Engine: s.facts.engine,
      EngineVersion: s.facts.engineVersion,
      EngineMode: 'provisioned',
      AllocatedStorage: s.facts.allocatedStorage,
      Status: status,
      PercentProgress: this.progress(s, status),
      Port: s.facts.port,
      VpcId: 'vpc-0sim',
      ClusterCreateTime: new Date(s.sourceCreatedAtMs),
      MasterUsername: s.facts.masterUsername,
      LicenseModel: s.facts.engine,
      SnapshotType: 'manual',
      StorageEncrypted: true,
      DbClusterResourceId: s.sourceResourceId,
      TagList: s.tags,
    } satisfies DBClusterSnapshot);
  }
}
