/**
 * The living twin's account state across restarts: `<stateDir>/twin-state.json`.
 *
 * The twin's AWS is in memory (the simulator, dynalite), while what it runs is on disk (PostgreSQL
 * data directories, snapshot files, task logs). This module writes the in-memory part to a small,
 * versioned JSON file and puts it back when the twin starts on the same state directory, so that a
 * restarted twin is the same account: same ARNs, same RDS resource ids (`db-…`, `cluster-…`, hence the
 * same data directories), same task definition revisions, the same services at the same desired
 * counts behind the same listener weights, the same snapshots, and the same deployment ledger.
 *
 * The file holds (see {@link TwinState}): the simulated time, the account and the resources the config
 * defines (to refuse a state written for another config), the images pushed to the twin's registry,
 * ECS task definitions and services, ELBv2 listener and rule actions, RDS instances, clusters and
 * snapshots, the database endpoint URLs the task definitions were given, and every item of the ledger
 * table. It is written atomically (a temporary file, then a rename) by {@link TwinStateSaver}: when an
 * execution ends, every `intervalMs` if anything changed, and when the twin stops — so killing the
 * process loses at most the last few seconds.
 *
 * What does not survive: Step Functions executions (in memory): a deployment that was running is
 * recorded as interrupted and its lock released ({@link interruptDeployments}); tasks are new processes
 * (new task ids and ports); CloudWatch metrics and alarm history; service events and deployment ids.
 */
import { parseEcrImage } from '../../domain/image-events';
import { manifestDigest, manifestOf } from './registry';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { DeploymentRecord, LockItem } from '../../aws/ledger';
import type { Config, EnvironmentConfig, TrafficRoute } from '../../config/schema';
import { lockKey } from '../../domain/records';
import type { SimClock } from '../clock';
import { putItems, scanItems, type TableItem } from '../dynamodb';
import type { LiveEcs, Simulator } from '../simulator';
import type { TaskDefinitionExport } from '../simulator/ecs';
import type { RouteExport } from '../simulator/elbv2';
import type { RdsState } from '../simulator/rds';
import type { LiveServiceExport } from './ecs';
import type { PostgresHost } from './postgres/host';
import type { LocalRegistry } from './registry';
import { dbStatus, explainClock, explainServiceWait, waitFor } from './seed';
import type { LocalImage } from './types';

/** Name of the state file in the state directory. */
export const TWIN_STATE_FILE = 'twin-state.json';
/** Version of the state file's format this cutover writes and reads. */
export const TWIN_STATE_VERSION = 1;
/** `error` of a deployment record whose execution was cut off by a restart of the twin. */
export const INTERRUPTED_ERROR = 'Cutover.Interrupted';
/** What to tell the user to start clean. */
const RESET_HINT = 'Start clean with --reset (`npm start -- --reset`), which deletes the state directory and starts a new account with the initial release.';

/** The state file cannot be used: unreadable, corrupt, of another version, or of another config/account. The message says why and how to start clean. */
export class TwinStateError extends Error {
  override readonly name = 'TwinStateError';
}

// ---------------------------------------------------------------- the file's shape (zod)

const RdsFacts = z.strictObject({
  engine: z.string().min(1),
  engineVersion: z.string().min(1),
  port: z.number().int(),
  masterUsername: z.string(),
  dbName: z.string().optional(),
  allocatedStorage: z.number(),
  instanceClass: z.string().min(1),
});
const RdsTag = z.strictObject({ Key: z.string().optional(), Value: z.string().optional() });
const RdsSnapshot = z.strictObject({
  id: z.string().min(1),
  sourceId: z.string().min(1),
  sourceResourceId: z.string().min(1),
  sourceCreatedAtMs: z.number(),
  status: z.enum(['creating', 'available', 'failed']),
  startedAtMs: z.number(),
  readyAtMs: z.number(),
  facts: RdsFacts,
  tags: z.array(RdsTag),
  engineKey: z.string().min(1).optional(),
});
const RdsStateSchema = z.strictObject({
  endpointCode: z.string(),
  instances: z.array(
    z.strictObject({
      id: z.string().min(1),
      resourceId: z.string().regex(/^db-[A-Z0-9]+$/, 'use a resource id db-<letters and digits>'),
      status: z.string(),
      facts: RdsFacts,
      createdAtMs: z.number(),
      clusterId: z.string().optional(),
      pendingIdentifier: z.string().optional(),
      tags: z.array(RdsTag),
      restoringFrom: z.string().optional(),
    }),
  ),
  clusters: z.array(
    z.strictObject({
      id: z.string().min(1),
      resourceId: z.string().regex(/^cluster-[A-Z0-9]+$/, 'use a resource id cluster-<letters and digits>'),
      status: z.string(),
      facts: RdsFacts,
      createdAtMs: z.number(),
      members: z.array(z.string()),
      pendingIdentifier: z.string().optional(),
      tags: z.array(RdsTag),
      restoringFrom: z.string().optional(),
    }),
  ),
  snapshots: z.array(RdsSnapshot),
  clusterSnapshots: z.array(RdsSnapshot),
});

const TaskDefinitionSchema = z.strictObject({
  taskDefinition: z.looseObject({
    taskDefinitionArn: z.string().min(1),
    family: z.string().min(1),
    revision: z.number().int().min(1),
    containerDefinitions: z.array(z.looseObject({ name: z.string().min(1), image: z.string().min(1) })).min(1),
    registeredAt: z.string().optional(),
    deregisteredAt: z.string().optional(),
  }),
  tags: z.array(z.looseObject({})),
});

const ServiceSchema = z.strictObject({
  cluster: z.string().min(1),
  serviceName: z.string().min(1),
  taskDefinition: z.string().min(1),
  desiredCount: z.number().int().min(0),
  launchType: z.string().optional(),
  loadBalancers: z.array(z.looseObject({})),
  networkConfiguration: z.looseObject({}).optional(),
  healthCheckGracePeriodSeconds: z.number().int().min(0).optional(),
  deploymentConfiguration: z.looseObject({}).optional(),
  tags: z.array(z.looseObject({})),
});

const RouteSchema = z.strictObject({
  arn: z.string().min(1),
  kind: z.enum(['listener', 'rule']),
  actions: z.array(z.looseObject({ Type: z.string() })).min(1),
});

const SlotResources = z.strictObject({ service: z.string().min(1), targetGroupArn: z.string().min(1) });
const EnvironmentResourcesSchema = z.strictObject({
  service: z.string().min(1),
  environment: z.string().min(1),
  cluster: z.string().min(1),
  slots: z.strictObject({ blue: SlotResources, green: SlotResources }),
  production: z.string().min(1),
  test: z.string().min(1).optional(),
  database: z.strictObject({ kind: z.enum(['instance', 'cluster']), identifier: z.string().min(1) }).optional(),
});

const ImageSchema = z.strictObject({
  command: z.array(z.string()).min(1),
  cwd: z.string().min(1),
  environment: z.record(z.string(), z.string()).optional(),
});

/** The state file, version {@link TWIN_STATE_VERSION}. */
export const TwinStateSchema = z.strictObject({
  version: z.literal(TWIN_STATE_VERSION),
  /** Real time of the write, ISO-8601. */
  savedAt: z.iso.datetime(),
  /** Simulated time of the write, epoch milliseconds: a restarted twin's clock resumes from here (never earlier). */
  simulatedTimeMs: z.number().finite(),
  region: z.string().min(1),
  accountId: z.string().regex(/^\d{12}$/, 'use a 12-digit account id'),
  /** The resources the config defined when written (see {@link environmentResources}). */
  environments: z.array(EnvironmentResourcesSchema),
  /** Database identifier → the endpoint URL task definitions were given (`${databaseUrl}`); the port changes on restart. */
  databaseUrls: z.record(z.string(), z.string()),
  /** Images pushed to the twin's registry beyond the twin account's (`repo:tag` → what it runs). */
  images: z.record(z.string(), ImageSchema),
  ecs: z.strictObject({ taskDefinitions: z.array(TaskDefinitionSchema), services: z.array(ServiceSchema) }),
  elbv2: z.strictObject({ routes: z.array(RouteSchema) }),
  rds: RdsStateSchema,
  /** Every item of the ledger table (locks, deployment records, environment states), as the document client reads them. */
  ledger: z.strictObject({ items: z.array(z.looseObject({ pk: z.string().min(1), sk: z.string().min(1) })) }),
});

/** The resources one environment of the config defines (what a state file must agree with). */
export type EnvironmentResources = z.infer<typeof EnvironmentResourcesSchema>;

/**
 * The living twin's account state, as written to {@link TWIN_STATE_FILE}. Times: `savedAt` real
 * ISO-8601; every `…Ms` simulated epoch milliseconds.
 */
export interface TwinState {
  readonly version: typeof TWIN_STATE_VERSION;
  readonly savedAt: string;
  readonly simulatedTimeMs: number;
  readonly region: string;
  readonly accountId: string;
  readonly environments: EnvironmentResources[];
  readonly databaseUrls: Record<string, string>;
  readonly images: Record<string, LocalImage>;
  readonly ecs: { readonly taskDefinitions: TaskDefinitionExport[]; readonly services: LiveServiceExport[] };
  readonly elbv2: { readonly routes: RouteExport[] };
  readonly rds: RdsState;
  readonly ledger: { readonly items: TableItem[] };
}

// ---------------------------------------------------------------- reading and writing

/**
 * Validate a parsed state file.
 * @param file the file it came from, named in errors
 * @throws TwinStateError naming the file, what is wrong (the version, or the first invalid fields with
 *   their paths) and `--reset`
 */
export function parseTwinState(value: unknown, file: string): TwinState {
  const version = value && typeof value === 'object' ? (value as { version?: unknown }).version : undefined;
  if (version !== TWIN_STATE_VERSION) {
    throw new TwinStateError(
      `The twin state file ${file} has format version ${JSON.stringify(version ?? null)}; this cutover reads version ${TWIN_STATE_VERSION}. ${RESET_HINT}`,
    );
  }
  const result = TwinStateSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 5).map((i) => `  - ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    const more = result.error.issues.length > 5 ? `\n  - … and ${result.error.issues.length - 5} more` : '';
    throw new TwinStateError(`The twin state file ${file} is corrupt:\n${issues.join('\n')}${more}\n${RESET_HINT}`);
  }
  return result.data as unknown as TwinState;
}

/**
 * Read and validate the state file.
 * @returns undefined when the file does not exist (a fresh state directory)
 * @throws TwinStateError naming the file and `--reset` when it cannot be read, is not JSON, or is not valid
 */
export function readTwinState(file: string): TwinState | undefined {
  if (!existsSync(file)) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TwinStateError(`Cannot read the twin state file ${file}: ${(err as Error).message}. ${RESET_HINT}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TwinStateError(`The twin state file ${file} is corrupt: not JSON (${(err as Error).message}). ${RESET_HINT}`);
  }
  return parseTwinState(json, file);
}

/**
 * Write the state file atomically: to `<file>.<pid>.tmp` (flushed to disk), then renamed over `file`,
 * so a reader (or a restart after a crash) sees the old or the new file, never half of one.
 * @throws the file system's error (the temporary file is removed)
 */
export async function writeTwinState(file: string, state: TwinState): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(`${JSON.stringify(state, null, 1)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
}

// ---------------------------------------------------------------- does the state fit the config?

const routeArn = (route: TrafficRoute): string => ('listenerArn' in route ? route.listenerArn : route.ruleArn);

/** The resources each environment of `config` defines, in config order (what {@link stateMismatches} compares). */
export function environmentResources(config: Config): EnvironmentResources[] {
  return Object.entries(config.services).flatMap(([service, s]) =>
    Object.entries(s.environments).map(([environment, env]): EnvironmentResources => {
      const db = env.database;
      return {
        service,
        environment,
        cluster: env.cluster,
        slots: {
          blue: { service: env.slots.blue.service, targetGroupArn: env.slots.blue.targetGroupArn },
          green: { service: env.slots.green.service, targetGroupArn: env.slots.green.targetGroupArn },
        },
        production: routeArn(env.production),
        ...(env.test ? { test: routeArn(env.test) } : {}),
        ...(db?.clusterIdentifier
          ? { database: { kind: 'cluster' as const, identifier: db.clusterIdentifier.toLowerCase() } }
          : db?.instanceIdentifier
            ? { database: { kind: 'instance' as const, identifier: db.instanceIdentifier.toLowerCase() } }
            : {}),
      };
    }),
  );
}

/**
 * What differs between a state and the config and account the twin starts with: the account id or
 * region, environments only one of them has, and per environment the cluster, the slots' services and
 * target groups, the routes and the database; also resources the config needs that the state lacks.
 * @returns one line per difference (empty when the state fits)
 */
export function stateMismatches(state: TwinState, config: Config, account: { region: string; accountId: string }): string[] {
  const lines: string[] = [];
  if (state.accountId !== account.accountId || state.region !== account.region) {
    lines.push(`account: the state is of account ${state.accountId} in ${state.region}, the twin runs account ${account.accountId} in ${account.region}`);
  }
  const key = (e: EnvironmentResources) => `${e.service}/${e.environment}`;
  const saved = new Map(state.environments.map((e) => [key(e), e]));
  const wanted = environmentResources(config);
  const show = (v: unknown) => (v === undefined ? 'none' : typeof v === 'object' ? `${(v as { kind: string }).kind} "${(v as { identifier: string }).identifier}"` : `"${String(v)}"`);
  for (const e of wanted) {
    const s = saved.get(key(e));
    if (!s) {
      lines.push(`${key(e)}: the config has this environment, the state has not`);
      continue;
    }
    const fields: Array<[string, unknown, unknown]> = [
      ['cluster', s.cluster, e.cluster],
      ['blue service', s.slots.blue.service, e.slots.blue.service],
      ['blue target group', s.slots.blue.targetGroupArn, e.slots.blue.targetGroupArn],
      ['green service', s.slots.green.service, e.slots.green.service],
      ['green target group', s.slots.green.targetGroupArn, e.slots.green.targetGroupArn],
      ['production route', s.production, e.production],
      ['test route', s.test, e.test],
      ['database', s.database, e.database],
    ];
    for (const [name, had, has] of fields) {
      if (JSON.stringify(had) !== JSON.stringify(has)) lines.push(`${key(e)} ${name}: the state has ${show(had)}, the config names ${show(has)}`);
    }
    if (e.database) {
      const list = e.database.kind === 'instance' ? state.rds.instances : state.rds.clusters;
      if (!list.some((r) => r.id === e.database!.identifier)) lines.push(`${key(e)} database: the state has no DB ${e.database.kind} "${e.database.identifier}"`);
    }
    for (const slot of ['blue', 'green'] as const) {
      if (!state.ecs.services.some((svc) => svc.cluster === e.cluster && svc.serviceName === e.slots[slot].service)) {
        lines.push(`${key(e)} ${slot} service: the state has no ECS service "${e.slots[slot].service}" in cluster "${e.cluster}"`);
      }
    }
  }
  const names = new Set(wanted.map(key));
  for (const s of state.environments) if (!names.has(key(s))) lines.push(`${key(s)}: the state has this environment, the config has not`);
  return lines;
}

/**
 * Refuse a state written for another config or account.
 * @throws TwinStateError naming the file, every difference ({@link stateMismatches}) and `--reset`
 */
export function assertStateMatches(state: TwinState, file: string, config: Config, account: { region: string; accountId: string }): void {
  const lines = stateMismatches(state, config, account);
  if (lines.length > 0) {
    throw new TwinStateError(
      `The twin state in ${file} does not match the config and twin account it was started with:\n${lines.map((l) => `  - ${l}`).join('\n')}\n` +
        `Start with the config the state was written with, or ${RESET_HINT.charAt(0).toLowerCase()}${RESET_HINT.slice(1)}`,
    );
  }
}

// ---------------------------------------------------------------- pure parts of the restore

/** Where production traffic of an environment is, per the state's routes; `live` is the slot with 100%. */
export interface EnvironmentTraffic {
  readonly service: string;
  readonly environment: string;
  /** Percent of production traffic per slot (0 for a slot the route does not forward to). */
  readonly weights: { readonly blue: number; readonly green: number };
  readonly live?: 'blue' | 'green';
  /** Image of the live slot's service (its task definition's container `containerName`). */
  readonly image?: string;
  /** What people call that image: its tag, or for a digest-pinned image the commit tag that points at it. */
  readonly release?: string;
}

/**
 * The tag that names `image`: the tag of `repo:tag`; for `repo@sha256:…` the tag of a saved image of
 * that repository with that digest (a 40-hex commit tag preferred), else a short digest.
 */
export function imageLabel(image: string, images: Readonly<Record<string, LocalImage>>): string {
  const ref = parseEcrImage(image);
  if (!ref?.digest) return image.split(':').pop() ?? image;
  const tags = Object.entries(images)
    .filter(([r, img]) => parseEcrImage(r)?.repositoryName === ref.repositoryName && manifestDigest(manifestOf(img)) === ref.digest)
    .map(([r]) => parseEcrImage(r)!.tag!)
    .filter(Boolean);
  return tags.find((t) => /^[0-9a-f]{40}$/.test(t)) ?? tags[0] ?? `${ref.digest.slice(0, 19)}…`;
}

/** Production traffic and the live image of every environment of `config`, as `state` has them. */
export function environmentTraffic(state: TwinState, config: Config): EnvironmentTraffic[] {
  return Object.entries(config.services).flatMap(([service, s]) =>
    Object.entries(s.environments).map(([environment, env]) => {
      const route = state.elbv2.routes.find((r) => r.arn === routeArn(env.production));
      const forward = route?.actions.find((a) => a.Type === 'forward');
      const weightOf = (tg: string) => forward?.ForwardConfig?.TargetGroups?.find((g) => g.TargetGroupArn === tg)?.Weight ?? 0;
      const raw = { blue: weightOf(env.slots.blue.targetGroupArn), green: weightOf(env.slots.green.targetGroupArn) };
      const total = raw.blue + raw.green;
      const weights = total === 0 ? raw : { blue: Math.round((100 * raw.blue) / total), green: Math.round((100 * raw.green) / total) };
      const live = weights.blue === 100 ? 'blue' : weights.green === 100 ? 'green' : undefined;
      const image = live ? liveImage(state, env, live) : undefined;
      return { service, environment, weights, ...(live ? { live, image, ...(image ? { release: imageLabel(image, state.images) } : {}) } : {}) };
    }),
  );
}

function liveImage(state: TwinState, env: EnvironmentConfig, slot: 'blue' | 'green'): string | undefined {
  const svc = state.ecs.services.find((x) => x.cluster === env.cluster && x.serviceName === env.slots[slot].service);
  const td = state.ecs.taskDefinitions.find((t) => t.taskDefinition.taskDefinitionArn === svc?.taskDefinition);
  return td?.taskDefinition.containerDefinitions?.find((c) => c.name === env.containerName)?.image;
}

/**
 * The ledger items a restarted twin writes back: every deployment record still `in-progress` (its
 * execution did not survive the restart) becomes `failed` with error {@link INTERRUPTED_ERROR},
 * `finishedAt` = `at`, the `reason` as its message and no `pending…` fields (no callback wait: task
 * token, kind, question); every lock is
 * dropped (released: no execution holds it any more). Other items are kept as they are. Pure.
 * @param opts.at ISO-8601 time the deployment is known to have run last (the state's `savedAt`: ledger times are real)
 * @param opts.reason the message of an interrupted record
 * @returns the items to write, the interrupted records (as written) and the released locks
 */
export function interruptDeployments(
  items: readonly TableItem[],
  opts: { at: string; reason: (record: DeploymentRecord) => string },
): { items: TableItem[]; interrupted: DeploymentRecord[]; releasedLocks: LockItem[] } {
  const out: TableItem[] = [];
  const interrupted: DeploymentRecord[] = [];
  const releasedLocks: LockItem[] = [];
  for (const item of items) {
    const pk = String(item.pk);
    if (pk.startsWith('LOCK#') && item.sk === 'LOCK') {
      releasedLocks.push(structuredClone(item) as unknown as LockItem);
      continue;
    }
    if (pk.startsWith('DEPLOYMENTS#') && item.status === 'in-progress') {
      // No callback wait is pending any more (pendingTaskToken, pendingKind, pendingQuestion): its execution is gone.
      const rest = Object.fromEntries(Object.entries(structuredClone(item)).filter(([name]) => !name.startsWith('pending'))) as unknown as DeploymentRecord;
      const record: DeploymentRecord = { ...rest, status: 'failed', error: INTERRUPTED_ERROR, finishedAt: opts.at, message: '' };
      record.message = opts.reason(record);
      interrupted.push(record);
      out.push(record as unknown as TableItem);
      continue;
    }
    out.push(structuredClone(item));
  }
  return { items: out, interrupted, releasedLocks };
}

/**
 * Task definitions with the database endpoint URLs they were given replaced by today's: the twin's
 * stand-in for an RDS endpoint's DNS name is a loopback port, which a restart changes. Every container
 * environment value equal to (or containing) an old URL gets the new URL of the same identifier. Pure.
 * @param before identifier → URL when the state was written
 * @param now identifier → URL now
 */
export function rewriteDatabaseUrls(
  taskDefinitions: readonly TaskDefinitionExport[],
  before: Readonly<Record<string, string>>,
  now: Readonly<Record<string, string>>,
): TaskDefinitionExport[] {
  const pairs = Object.entries(before)
    .filter(([id, url]) => now[id] !== undefined && now[id] !== url)
    .map(([id, url]) => [url, now[id]!] as const);
  return taskDefinitions.map((td) => {
    const copy = structuredClone(td) as TaskDefinitionExport;
    for (const c of copy.taskDefinition.containerDefinitions ?? []) {
      for (const pair of c.environment ?? []) {
        if (pair.value === undefined) continue;
        for (const [from, to] of pairs) pair.value = pair.value.replaceAll(from, to);
      }
    }
    return copy;
  });
}

/**
 * Delete what no RDS resource references any more under `<rdsDir>`: data directories `data/<key>`
 * whose key is no instance's or cluster's resource id, and files in `snapshots/` other than
 * `<engine key>.tar.gz` of a snapshot in the state (e.g. of snapshots deleted, or temporary files of
 * an interrupted dump). With no state (a fresh account) everything there is unreferenced. The
 * empty-database template (`template.tar.gz`) is kept.
 * @returns the absolute paths removed
 * @throws the file system's error when a removal fails
 */
export function removeOrphanedDatabaseFiles(rdsDir: string, rds: RdsState | undefined): string[] {
  const keys = new Set([...(rds?.instances ?? []).map((i) => i.resourceId), ...(rds?.clusters ?? []).map((c) => c.resourceId)]);
  const files = new Set(
    [...(rds?.snapshots ?? []), ...(rds?.clusterSnapshots ?? [])].flatMap((s) => (s.engineKey === undefined ? [] : [`${s.engineKey}.tar.gz`])),
  );
  const removed: string[] = [];
  const sweep = (dir: string, keep: (name: string) => boolean) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (keep(name)) continue;
      const path = join(dir, name);
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    }
  };
  sweep(join(rdsDir, 'data'), (name) => keys.has(name));
  sweep(join(rdsDir, 'snapshots'), (name) => files.has(name));
  return removed;
}

// ---------------------------------------------------------------- export

/** Where {@link exportTwinState} reads the account from. */
export interface TwinStateSources {
  readonly config: Config;
  readonly region: string;
  readonly accountId: string;
  readonly clock: SimClock;
  readonly sim: Simulator<LiveEcs>;
  readonly registry: LocalRegistry;
  /** Image references the twin account file provides (not written: the account file has them). */
  readonly accountImages: readonly string[];
  /** Database identifier → the endpoint URL the task definitions were given. */
  readonly databaseUrls: Readonly<Record<string, string>>;
  /** The ledger's document client and table. */
  readonly ledger: { readonly client: () => DynamoDBDocumentClient; readonly tableName: string };
}

/**
 * The account state now (see {@link TwinState}): reads the simulator's state synchronously, then
 * Scans the ledger table.
 * @throws the SDK's exception when the Scan fails
 */
export async function exportTwinState(src: TwinStateSources): Promise<TwinState> {
  const shipped = new Set(src.accountImages);
  const images: Record<string, LocalImage> = {};
  for (const ref of src.registry.list()) {
    if (shipped.has(ref)) continue;
    const image = src.registry.resolve(ref)!;
    images[ref] = { command: [...image.command], cwd: image.cwd, ...(image.environment ? { environment: { ...image.environment } } : {}) };
  }
  const simulatedTimeMs = src.clock.nowMs();
  const state: Omit<TwinState, 'ledger'> = {
    version: TWIN_STATE_VERSION,
    savedAt: new Date().toISOString(),
    simulatedTimeMs,
    region: src.region,
    accountId: src.accountId,
    environments: environmentResources(src.config),
    databaseUrls: { ...src.databaseUrls },
    images,
    ecs: { taskDefinitions: src.sim.ecs.exportTaskDefinitions(), services: src.sim.ecs.exportServices() },
    elbv2: { routes: src.sim.elbv2.exportRoutes() },
    rds: src.sim.rds.exportState(),
  };
  const items = await scanItems(src.ledger.client(), src.ledger.tableName);
  items.sort((a, b) => String(a.pk).localeCompare(String(b.pk)) || String(a.sk).localeCompare(String(b.sk)));
  return { ...state, ledger: { items } };
}

// ---------------------------------------------------------------- restore, in the order the twin starts

/**
 * Restore step 1, before anything is seeded: the images pushed to the registry (those it does not
 * have from the twin account) and the RDS resources, whose databases start again from their data
 * directories. A snapshot whose file exists is `available` (a dump still being written when the twin
 * stopped was finished first); one whose file is missing is `failed`.
 * @throws Error naming the resource the simulator cannot restore
 */
export function restoreAccountResources(state: TwinState, parts: { sim: Simulator<LiveEcs>; registry: LocalRegistry; postgres: PostgresHost }): void {
  for (const [ref, image] of Object.entries(state.images)) if (!parts.registry.resolve(ref)) parts.registry.push(ref, image);
  const stored = (s: RdsState['snapshots'][number]) => {
    if (s.engineKey === undefined || s.status === 'failed') return s;
    return { ...s, status: existsSync(parts.postgres.snapshotFile(s.engineKey)) ? ('available' as const) : ('failed' as const) };
  };
  parts.sim.rds.restoreState({ ...state.rds, snapshots: state.rds.snapshots.map(stored), clusterSnapshots: state.rds.clusterSnapshots.map(stored) });
}

/**
 * Restore step 2, once the config's resources are seeded and the database endpoints listen: the
 * listener and rule actions (production and test weights), and the task definitions with their
 * revisions, the database URLs in their environments pointed at today's endpoints.
 * @param databaseUrls identifier → endpoint URL now
 * @throws the simulator's error naming a route or task definition it cannot restore
 */
export function restoreRoutesAndTaskDefinitions(state: TwinState, sim: Simulator<LiveEcs>, databaseUrls: Readonly<Record<string, string>>): void {
  sim.elbv2.restoreRoutes(state.elbv2.routes);
  sim.ecs.restoreTaskDefinitions(rewriteDatabaseUrls(state.ecs.taskDefinitions, state.databaseUrls, databaseUrls));
}

export interface ResumeServicesOptions {
  /** Progress lines. */
  readonly progress?: (line: string) => void;
  /** Real milliseconds to wait for each database and each service. @default 120000 */
  readonly timeoutMs?: number;
}

/**
 * Restore step 3, with the load balancer listening and alarms evaluated: wait until each environment's
 * database is `available` again, create the services as they were (their task definition at their
 * desired count; tasks are new processes), and wait until every service is stable: one deployment,
 * COMPLETED, its tasks healthy in their target groups — as the fresh start does.
 * @throws Error naming the environment and service, with its last service event, when a wait times out
 */
export async function resumeServices(sim: Simulator<LiveEcs>, config: Config, state: TwinState, opts: ResumeServicesOptions = {}): Promise<void> {
  const progress = opts.progress ?? (() => undefined);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  for (const e of environmentResources(config)) {
    if (!e.database) continue;
    progress(`${e.service}/${e.environment}: reopening PostgreSQL for ${e.database.kind} ${e.database.identifier}`);
    await waitFor(
      `${e.service}/${e.environment}: database ${e.database.identifier} to become available`,
      timeoutMs,
      () => dbStatus(sim, e.database!.kind, e.database!.identifier) === 'available',
      () => explainClock(sim),
    );
  }
  sim.ecs.restoreServices(state.ecs.services);
  const traffic = environmentTraffic(state, config);
  for (const e of environmentResources(config)) {
    const weights = traffic.find((t) => t.service === e.service && t.environment === e.environment)?.weights;
    for (const slot of ['blue', 'green'] as const) {
      const saved = state.ecs.services.find((s) => s.cluster === e.cluster && s.serviceName === e.slots[slot].service)!;
      const name = e.slots[slot].service;
      if (saved.desiredCount > 0) {
        const td = state.ecs.taskDefinitions.find((t) => t.taskDefinition.taskDefinitionArn === saved.taskDefinition)?.taskDefinition;
        const image = td?.containerDefinitions?.[0]?.image;
        const tag = image ? imageLabel(image, state.images) : saved.taskDefinition;
        progress(`${e.service}/${e.environment}: starting ${saved.desiredCount} task(s) of ${tag} on ${name} (${weights?.[slot] ?? 0}% of production traffic)`);
      }
      try {
        await waitFor(
          `${e.service}/${e.environment}: ${name} to become stable`,
          timeoutMs,
          () => {
            const svc = sim.ecs.describeService(e.cluster, name);
            return svc?.deployments?.length === 1 && svc.deployments[0]!.rolloutState === 'COMPLETED' && svc.runningCount === saved.desiredCount;
          },
          () => explainServiceWait(sim, e.cluster, name),
        );
      } catch (err) {
        throw new Error(`${(err as Error).message} If the saved account itself is the problem: ${RESET_HINT.charAt(0).toLowerCase()}${RESET_HINT.slice(1)}`);
      }
    }
  }
}

/** What {@link restoreLedger} did. */
export interface LedgerRestore {
  /** Deployment records in the table. */
  readonly deployments: number;
  /** Records that were in progress when the twin stopped, now `failed` with {@link INTERRUPTED_ERROR}. */
  readonly interrupted: DeploymentRecord[];
  /** Locks released (none survives a restart: every execution that held one is gone). */
  readonly releasedLocks: LockItem[];
}

/**
 * Restore step 4, once the ledger table exists (empty): write every item back (BatchWriteItem) with
 * the deployments that were running marked as interrupted and their locks released
 * ({@link interruptDeployments}). The message of an interrupted record says that the twin stopped
 * while it ran, and where production traffic was left.
 * @throws Error naming the table when items stay unprocessed; the SDK's exception when a request fails
 */
export async function restoreLedger(client: DynamoDBDocumentClient, tableName: string, state: TwinState, config: Config): Promise<LedgerRestore> {
  // The ledger's times are real (the functions' clocks), so the stop is dated by the last real save.
  const at = state.savedAt;
  const traffic = environmentTraffic(state, config);
  const { items, interrupted, releasedLocks } = interruptDeployments(state.ledger.items, {
    at,
    reason: (r) => {
      const t = traffic.find((x) => x.service === r.service && x.environment === r.environment);
      const lock = lockKey(r.service, r.environment);
      const held = state.ledger.items.some((i) => i.pk === lock.pk && i.sk === lock.sk && i.executionArn === r.executionArn);
      return (
        `${r.service}/${r.environment}: release ${r.commit.slice(0, 7)} (${r.image}) was interrupted: the local twin stopped while this deployment ran ` +
        `(last saved at ${at}), and its Step Functions execution did not survive the restart.${held ? ' Its lock was released.' : ''} ` +
        `Production traffic stays where the deployment left it${t ? ` (blue ${t.weights.blue}%, green ${t.weights.green}%)` : ''}; check the environment, then deploy again.`
      );
    },
  });
  await putItems(client, tableName, items);
  return { deployments: items.filter((i) => String(i.pk).startsWith('DEPLOYMENTS#')).length, interrupted, releasedLocks };
}

// ---------------------------------------------------------------- what the twin resumed

/** What a twin resumed from its state file (for the CLI's status line). */
export interface ResumeSummary {
  /** Absolute path of the state file. */
  readonly file: string;
  /** Real time the state was written, ISO-8601. */
  readonly savedAt: string;
  /** Production traffic and live image per environment. */
  readonly environments: EnvironmentTraffic[];
  /** Deployment records in the ledger. */
  readonly deployments: number;
  /** Deployments that were running when the twin stopped (now recorded as interrupted). */
  readonly interrupted: DeploymentRecord[];
  /** Data directories and snapshot files removed because no resource referenced them. */
  readonly removed: string[];
}

/**
 * One line about a resume, e.g. `production on 6113728…, 3 deployments in history (1 interrupted by the stop)`
 * (environments as `<service>/<environment>` when the config has several; the live image's tag).
 */
export function describeResume(summary: ResumeSummary): string {
  const envs = summary.environments.map((e) => {
    const where = e.image ? `on ${e.release ?? e.image.split(':').pop()}` : `split blue ${e.weights.blue}% / green ${e.weights.green}%`;
    return `${summary.environments.length === 1 ? e.environment : `${e.service}/${e.environment}`} ${where}`;
  });
  const n = summary.deployments;
  const interrupted = summary.interrupted.length ? ` (${summary.interrupted.length} interrupted by the stop)` : '';
  return `${envs.join(', ')}, ${n} deployment${n === 1 ? '' : 's'} in history${interrupted}`;
}

// ---------------------------------------------------------------- the saver

export interface TwinStateSaverOptions {
  /** Absolute path of the state file. */
  readonly file: string;
  /** Collects the state to write (e.g. {@link exportTwinState}); called for every check. */
  readonly collect: () => Promise<TwinState>;
  /** Real milliseconds between checks for changes (a write only when something changed). @default 2000 */
  readonly intervalMs?: number;
  /** Told about a failed save (the saver goes on; the next check tries again). @default one line on stderr per distinct message */
  readonly onError?: (err: Error) => void;
}

/**
 * Keeps the state file up to date: {@link save} now, {@link requestSave} soon (e.g. when an execution
 * ends), a check every `intervalMs` that writes only when the state changed (the write time and the
 * simulated time alone are no change), and a last write on {@link close}. Saves never overlap.
 */
export class TwinStateSaver {
  private readonly file: string;
  private readonly collect: () => Promise<TwinState>;
  private readonly intervalMs: number;
  private readonly onError: (err: Error) => void;
  private chain: Promise<unknown> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private lastWritten?: string;
  private closed = false;
  private writes = 0;

  /** @throws Error when `intervalMs` is not a positive number of real milliseconds */
  constructor(opts: TwinStateSaverOptions) {
    this.file = opts.file;
    this.collect = opts.collect;
    this.intervalMs = opts.intervalMs ?? 2000;
    if (!(this.intervalMs > 0)) throw new Error(`TwinStateSaver intervalMs must be real milliseconds > 0, got ${opts.intervalMs}`);
    const reported = new Set<string>();
    this.onError =
      opts.onError ??
      ((err) => {
        if (reported.has(err.message)) return;
        reported.add(err.message);
        process.stderr.write(`cutover: could not save the twin state to ${this.file}: ${err.message}\n`);
      });
  }

  /** How many times the file was written. */
  get writeCount(): number {
    return this.writes;
  }

  /** Check every `intervalMs` (the timer does not keep the process alive). */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.requestSave(), this.intervalMs);
    this.timer.unref();
  }

  /**
   * Collect the state and write it if it changed since the last write (or always, with `force`).
   * Runs after any save in progress.
   * @returns whether the file was written
   * @throws (rejects with) the collect or file system error
   */
  save(opts: { force?: boolean } = {}): Promise<boolean> {
    const run = this.chain.then(() => this.saveNow(opts.force === true));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Save soon; a failure goes to `onError`. No-op once closed. */
  requestSave(): void {
    if (this.closed) return;
    this.save().catch((err: unknown) => this.onError(err instanceof Error ? err : new Error(String(err))));
  }

  /** Stop checking and write the state one last time (failure goes to `onError`). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.chain.then(() => undefined);
    this.closed = true;
    clearInterval(this.timer);
    await this.save({ force: true }).catch((err: unknown) => this.onError(err instanceof Error ? err : new Error(String(err))));
  }

  private async saveNow(force: boolean): Promise<boolean> {
    const state = await this.collect();
    const content = JSON.stringify({ ...state, savedAt: undefined, simulatedTimeMs: undefined });
    if (!force && content === this.lastWritten) return false;
    await writeTwinState(this.file, state);
    this.lastWritten = content;
    this.writes++;
    return true;
  }
}
