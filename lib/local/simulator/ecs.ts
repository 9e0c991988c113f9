/**
 * Simulated Amazon ECS: clusters, task definitions, replica services with rolling deployments, and
 * one-off tasks — all computed lazily from the simulator's clock.
 *
 * Deployments follow ECS's rolling update (minimum healthy 100 %, maximum 200 %):
 * - `UpdateService` with a new task definition (or `forceNewDeployment`) adds a new `PRIMARY`
 *   deployment; the previous one becomes `ACTIVE`. Over `deploymentSeconds` simulated seconds the new
 *   deployment's running count ramps up to its desired count while older deployments drain in step;
 *   then only the primary remains, `rolloutState` turns `COMPLETED` and the service's events say
 *   "has reached a steady state." — exactly the acceptor of the SDK's `waitUntilServicesStable`
 *   (`deployments.length === 1 && runningCount === desiredCount`) becomes true at that moment.
 * - Changing only `desiredCount` scales the primary deployment in place (no new deployment, as in
 *   ECS), ramping over the same `deploymentSeconds`.
 * - Tasks of an image marked `crash` ({@link EcsSimulator.setImageHealth}) never reach RUNNING: the
 *   new deployment stays at 0 running with growing `failedTasks`, the old deployment keeps serving,
 *   the service never becomes stable and an event says why.
 * - Running service tasks are registered as `healthy` targets of the service's target groups in the
 *   ELBv2 simulator; stopped ones drain and disappear.
 *
 * One-off tasks (`RunTask`) go PROVISIONING → RUNNING (after 5 s) → STOPPED, with the essential
 * container's exit code and run time from {@link EcsSimulator.setRunTaskOutcome}.
 */
import { randomUUID } from 'node:crypto';
import type {
  Cluster,
  Container,
  ContainerDefinition,
  CreateClusterRequest,
  CreateClusterResponse,
  CreateServiceRequest,
  CreateServiceResponse,
  DeleteServiceRequest,
  DeleteServiceResponse,
  Deployment,
  DescribeClustersRequest,
  DescribeClustersResponse,
  DescribeServicesRequest,
  DescribeServicesResponse,
  DescribeTaskDefinitionRequest,
  DescribeTaskDefinitionResponse,
  DescribeTasksRequest,
  DescribeTasksResponse,
  Failure,
  ListTasksRequest,
  ListTasksResponse,
  LoadBalancer,
  NetworkConfiguration,
  RegisterTaskDefinitionRequest,
  RegisterTaskDefinitionResponse,
  RunTaskRequest,
  RunTaskResponse,
  Service,
  ServiceEvent,
  StopTaskRequest,
  StopTaskResponse,
  Tag,
  Task,
  TaskDefinition,
  TaskOverride,
  UpdateServiceRequest,
  UpdateServiceResponse,
} from '@aws-sdk/client-ecs';
import type { TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Elbv2Simulator } from './elbv2';
import type { ServiceErrors } from './errors';
import { SimulatedService } from './service';
import { copy, digitsId, hexId, nameFromArn, paginate, type SimContext } from './util';

/** Whether tasks of an image start (`healthy`) or exit before reaching RUNNING (`crash`). */
export type ImageHealth = 'healthy' | 'crash';

/** What {@link EcsSimulator.setRunTaskOutcome} is told about a task started with RunTask. */
export interface RunTaskInfo {
  /** Image of the task's main container (the first container with a command override, else the first essential one). */
  readonly image: string;
  /** Command of that container: the override, else the task definition's, else `[]`. */
  readonly command: string[];
  readonly taskDefinitionArn: string;
  readonly containerName: string;
  readonly startedBy?: string;
}

/** How a task started with RunTask ends. */
export interface RunTaskOutcome {
  /** Exit code of the main container (ignored with `failedToStart`). */
  readonly exitCode: number;
  /**
   * The task never starts (e.g. `CannotPullContainerError: …` for an image that is not in the
   * registry): after PROVISIONING it is STOPPED with `stopCode: TaskFailedToStart`, this text as its
   * `stoppedReason` and container reason, and no exit code — as ECS reports it.
   */
  readonly failedToStart?: string;
  /** Container `reason` shown by DescribeTasks, e.g. `OutOfMemoryError: Container killed due to memory usage`. */
  readonly reason?: string;
  /** Simulated seconds the task is RUNNING (after 5 s PROVISIONING) before the container exits. @default 20 */
  readonly durationSeconds?: number;
}

export interface EcsSimulatorOptions {
  /** Simulated seconds a service deployment (or scaling) takes to become stable. @default 60 */
  readonly deploymentSeconds?: number;
}

/** Simulated seconds a task spends PROVISIONING before RUNNING. */
export const TASK_START_SECONDS = 5;
/** Simulated seconds between StopTask (or a scale-in) and STOPPED for a running task; its target drains meanwhile. */
export const TASK_STOP_SECONDS = 5;
/** A crashing service task is retried this often (simulated seconds); each retry adds to `failedTasks`. */
const CRASH_RETRY_SECONDS = 30;
const MAX_EVENTS = 100;

interface SimCluster {
  arn: string;
  name: string;
  tags: Tag[];
}

interface SimTask extends EcsTaskRecord {
  containers: { name: string; image: string; main: boolean }[];
  ip: string;
  createdAtMs: number;
  /** When it reaches RUNNING; undefined if it never does (crashing image). */
  runningAtMs?: number;
  /** Natural end (RunTask): the main container exits. */
  exit?: { atMs: number; exitCode: number | undefined; reason?: string; failedToStart?: boolean };
  /** StopTask or scheduler stop. */
  stopRequest?: { atMs: number; code: Task['stopCode']; reason: string };
  /** Service task: the deployment that owns it. */
  service?: { name: string; deploymentId: string };
}

interface SimDeployment extends EcsDeploymentRecord {
  /** Set when the task definition's image crashes (captured when the deployment starts). */
  crash?: { image: string; containerName: string };
  crashAnnounced: boolean;
  /** Running count at `rampStartMs`; the count moves linearly to its target over deploymentSeconds. */
  rampFrom: number;
  rampStartMs: number;
  /** ARNs of the deployment's tasks that are currently RUNNING (not being stopped). */
  runningTasks: string[];
  /** Replacement tasks start no earlier than this (set when StopTask stops one of its tasks). */
  notBeforeMs: number;
}

interface SimService extends EcsServiceRecord<SimDeployment> {
  cluster: SimCluster;
  /** Tasks the service started that are not known to be STOPPED yet (for target health). */
  taskArns: string[];
}

/**
 * A registered task definition revision as {@link EcsSimulator.exportTaskDefinitions} returns it and
 * {@link EcsSimulator.restoreTaskDefinitions} takes it: the DescribeTaskDefinition shape, JSON-safe
 * (`registeredAt` / `deregisteredAt` as ISO-8601 strings), with its tags.
 */
export interface TaskDefinitionExport {
  readonly taskDefinition: Omit<TaskDefinition, 'registeredAt' | 'deregisteredAt'> & { registeredAt?: string; deregisteredAt?: string };
  readonly tags: Tag[];
}

export class EcsSimulator extends SimulatedService {
  private readonly deploymentSeconds: number;
  private readonly clusters = new Map<string, SimCluster>();
  private readonly taskDefinitions = new Map<string, { def: TaskDefinition; tags: Tag[] }[]>();
  private readonly services: SimService[] = [];
  private readonly tasks = new Map<string, SimTask>();
  private readonly imageRules: { image: string | RegExp; health: ImageHealth }[] = [];
  private runTaskOutcome?: (task: RunTaskInfo) => RunTaskOutcome;
  private nextIp = 10;
  private readonly api: EcsApi<SimService>;

  protected readonly operations = ecsOperations(this);

  constructor(
    ctx: SimContext,
    elbv2: Elbv2Simulator,
    opts: EcsSimulatorOptions = {},
  ) {
    super('ecs', ctx);
    this.api = {
      errors: this.errors,
      elbv2,
      region: ctx.region,
      services: this.services,
      nowMs: () => this.nowMs(),
      arn: (resource) => this.arn('ecs', resource),
      cluster: (ref) => this.requireCluster(ref),
      taskDefinition: (ref) => this.taskDefinitionOrFail(ref),
    };
    this.deploymentSeconds = opts.deploymentSeconds ?? 60;
    if (!(this.deploymentSeconds >= 0)) throw new Error(`deploymentSeconds must be >= 0, got ${this.deploymentSeconds}`);
    elbv2.addTargetSource((tg) => this.targetsOf(tg));
  }

  // ---------------------------------------------------------------- scenario hooks

  /**
   * Mark an image healthy or crashing. Tasks whose essential container uses a crashing image never
   * reach RUNNING: a service deployment of it never becomes stable (its events say why), and RunTask
   * tasks go from PROVISIONING straight to STOPPED (exit code 1 unless {@link setRunTaskOutcome} says
   * otherwise). Applies to deployments and tasks started afterwards; the last matching call wins.
   * @param image the exact image (`repo:tag`) or a pattern
   */
  setImageHealth(image: string | RegExp, health: ImageHealth): void {
    this.imageRules.push({ image, health });
  }

  /**
   * Decide how RunTask tasks end. Called once per task when it is started.
   * @default exit code 0 after 20 simulated seconds RUNNING (exit code 1 after 5 s, never RUNNING, for a crashing image)
   */
  setRunTaskOutcome(fn: (task: RunTaskInfo) => RunTaskOutcome): void {
    this.runTaskOutcome = fn;
  }

  /**
   * Create a service that is already stable: its deployment started `deploymentSeconds` ago, its tasks
   * are running and registered in its target groups. Same input and validation as CreateService.
   */
  seedStableService(input: CreateServiceRequest): Service {
    const svc = this.newService(input);
    const primary = svc.deployments[0]!;
    const past = this.nowMs() - this.deploymentSeconds * 1000;
    primary.createdAtMs = primary.updatedAtMs = primary.rampStartMs = svc.createdAtMs = past;
    return this.serviceOutput(svc, false);
  }

  /**
   * A service as DescribeServices shows it at the current simulated time (for scenario checks).
   * @param cluster cluster name or ARN
   * @param service service name or ARN
   * @returns undefined when the cluster or the service does not exist
   */
  describeService(cluster: string, service: string): Service | undefined {
    const c = this.clusters.get(nameFromArn(cluster));
    const svc = c && findService(this.api, c, service);
    return svc && this.serviceOutput(svc, true);
  }

  /**
   * The cluster a request's `cluster` field names (for implementations that delegate clusters here,
   * like the living twin's LiveEcs).
   * @param ref cluster name or ARN; @default 'default'
   * @throws ClusterNotFoundException when no such cluster was created
   */
  requireCluster(ref: string | undefined): EcsClusterRef {
    return this.clusters.get(nameFromArn(ref ?? 'default')) ?? this.errors.fail('ClusterNotFoundException', 'Cluster not found.');
  }

  /**
   * A registered task definition (a copy), looked up like DescribeTaskDefinition.
   * @param ref `family` (latest ACTIVE revision), `family:revision` or the full ARN
   * @throws ClientException `TaskDefinition not found: <ref>` when there is no such revision
   */
  requireTaskDefinition(ref: string): TaskDefinition {
    return copy(this.taskDefinitionOrFail(ref));
  }

  // ---------------------------------------------------------------- account state (the living twin's restarts)

  /** Every registered task definition revision, family by family (in registration order), revisions ascending. JSON-safe. */
  exportTaskDefinitions(): TaskDefinitionExport[] {
    return [...this.taskDefinitions.values()].flatMap((revisions) =>
      revisions.map(({ def, tags }) => {
        const { registeredAt, deregisteredAt, ...rest } = copy(def);
        return {
          taskDefinition: {
            ...rest,
            ...(registeredAt ? { registeredAt: new Date(registeredAt).toISOString() } : {}),
            ...(deregisteredAt ? { deregisteredAt: new Date(deregisteredAt).toISOString() } : {}),
          },
          tags: copy(tags),
        };
      }),
    );
  }

  /**
   * Register task definitions exported by {@link exportTaskDefinitions} again, as they were: same
   * family, revision, ARN, status, container definitions and registration time, so that a family's
   * next RegisterTaskDefinition gets the next revision. Nothing changes unless every one is valid.
   * @throws Error naming the task definition when its family is already registered here, its
   *   revisions are not 1, 2, 3… in order, or its ARN is not this account's and region's
   *   (`arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>`)
   */
  restoreTaskDefinitions(list: readonly TaskDefinitionExport[]): void {
    const families = new Map<string, { def: TaskDefinition; tags: Tag[] }[]>();
    for (const { taskDefinition, tags } of list) {
      const { family, revision, taskDefinitionArn } = taskDefinition;
      const name = taskDefinitionArn ?? `${family}:${revision}`;
      if (!family || !/^[A-Za-z0-9_-]{1,255}$/.test(family)) throw new Error(`Cannot restore task definition ${name}: family ${JSON.stringify(family)} is not valid.`);
      if (this.taskDefinitions.has(family)) throw new Error(`Cannot restore task definition ${name}: family ${family} is already registered.`);
      const revisions = families.get(family) ?? [];
      if (revision !== revisions.length + 1) {
        throw new Error(`Cannot restore task definition ${name}: expected revision ${revisions.length + 1} of family ${family} next, got ${String(revision)}.`);
      }
      const arn = this.arn('ecs', `task-definition/${family}:${revision}`);
      if (taskDefinitionArn !== arn) throw new Error(`Cannot restore task definition ${name}: this account and region would name it ${arn}.`);
      if (!taskDefinition.containerDefinitions?.length) throw new Error(`Cannot restore task definition ${name}: it has no container definitions.`);
      const { registeredAt, deregisteredAt, ...rest } = copy(taskDefinition);
      const def: TaskDefinition = {
        ...rest,
        ...(registeredAt ? { registeredAt: new Date(registeredAt) } : {}),
        ...(deregisteredAt ? { deregisteredAt: new Date(deregisteredAt) } : {}),
      };
      revisions.push({ def, tags: copy(tags) });
      families.set(family, revisions);
    }
    for (const [family, revisions] of families) this.taskDefinitions.set(family, revisions);
  }

  // ---------------------------------------------------------------- clusters and task definitions

  /** CreateCluster: `clusterName` @default 'default'; idempotent for an existing name. */
  createCluster(input: CreateClusterRequest): CreateClusterResponse {
    const name = input.clusterName ?? 'default';
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(name)) {
      this.errors.invalid('Cluster name must have 1-255 letters (uppercase and lowercase), numbers, hyphens and underscores.');
    }
    let cluster = this.clusters.get(name);
    if (!cluster) {
      cluster = { arn: this.arn('ecs', `cluster/${name}`), name, tags: copy(input.tags ?? []) };
      this.clusters.set(name, cluster);
    }
    return { cluster: this.clusterOutput(cluster, false) };
  }

  /** DescribeClusters: `clusters` (names or ARNs) @default ['default']; unknown ones in `failures` (MISSING). */
  describeClusters(input: DescribeClustersRequest): DescribeClustersResponse {
    const clusters: Cluster[] = [];
    const failures: Failure[] = [];
    for (const ref of input.clusters?.length ? input.clusters : ['default']) {
      const cluster = this.clusters.get(nameFromArn(ref));
      if (cluster) clusters.push(this.clusterOutput(cluster, input.include?.includes('TAGS') ?? false));
      else failures.push({ arn: ref.startsWith('arn:') ? ref : this.arn('ecs', `cluster/${ref}`), reason: 'MISSING' });
    }
    return { clusters, failures };
  }

  /**
   * RegisterTaskDefinition: `family` and `containerDefinitions` (each with `name` and `image`) required
   * (ClientException). Each call adds revision 1, 2, 3… of the family, status ACTIVE, ARN
   * `arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>`.
   */
  registerTaskDefinition(input: RegisterTaskDefinitionRequest): RegisterTaskDefinitionResponse {
    if (!input.family) this.errors.fail('ClientException', 'Family should not be null or empty.');
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(input.family)) {
      this.errors.fail('ClientException', 'Family contains invalid characters: use up to 255 letters, numbers, hyphens and underscores.');
    }
    if (!input.containerDefinitions?.length) this.errors.fail('ClientException', 'Container list cannot be empty.');
    // Neither a tag key nor a value may start with aws: in any case (ECS API reference, Tag: "Do not use
    // aws:, AWS:, or any upper or lowercase combination of such as a prefix for either keys or values").
    for (const t of input.tags ?? []) {
      if (/^aws:/i.test(t.key ?? '')) this.errors.fail('InvalidParameterException', `Tag keys beginning with "aws:" are reserved for AWS use: ${t.key}.`);
      if (/^aws:/i.test(t.value ?? '')) this.errors.fail('InvalidParameterException', `Tag values beginning with "aws:" are reserved for AWS use: ${t.key}=${t.value}.`);
    }
    const names = new Set<string>();
    const containerDefinitions = input.containerDefinitions.map((c): ContainerDefinition => {
      if (!c.name) this.errors.fail('ClientException', 'Container.name should not be null or empty.');
      if (!c.image) this.errors.fail('ClientException', 'Container.image should not be null or empty.');
      if (names.has(c.name)) this.errors.fail('ClientException', `Duplicate container name found: ${c.name}.`);
      names.add(c.name);
      return { cpu: 0, portMappings: [], essential: true, environment: [], mountPoints: [], volumesFrom: [], ...copy(c) };
    });
    const revisions = this.taskDefinitions.get(input.family) ?? [];
    const revision = revisions.length + 1;
    const { tags, ...rest } = input;
    const def: TaskDefinition = {
      ...copy(rest),
      containerDefinitions,
      taskDefinitionArn: this.arn('ecs', `task-definition/${input.family}:${revision}`),
      revision,
      status: 'ACTIVE',
      compatibilities: input.requiresCompatibilities?.includes('FARGATE') ? ['EC2', 'FARGATE'] : ['EC2'],
      registeredAt: new Date(this.nowMs()),
      volumes: copy(input.volumes ?? []),
      placementConstraints: [],
    };
    revisions.push({ def, tags: copy(tags ?? []) });
    this.taskDefinitions.set(input.family, revisions);
    return { taskDefinition: copy(def), tags: copy(tags ?? []) };
  }

  /**
   * DescribeTaskDefinition: `taskDefinition` as `family` (latest ACTIVE revision), `family:revision` or
   * full ARN; unknown → ClientException. `include: ['TAGS']` adds `tags`.
   */
  describeTaskDefinition(input: DescribeTaskDefinitionRequest): DescribeTaskDefinitionResponse {
    this.errors.require(input, 'taskDefinition');
    const entry = this.findTaskDefinition(input.taskDefinition!);
    if (!entry) this.errors.fail('ClientException', 'Unable to describe task definition.');
    return { taskDefinition: copy(entry.def), tags: input.include?.includes('TAGS') ? copy(entry.tags) : undefined };
  }

  // ---------------------------------------------------------------- services

  /**
   * CreateService: `serviceName` and `taskDefinition` required. Validates like ECS: cluster exists
   * (ClusterNotFoundException), task definition exists (ClientException), an ACTIVE service of that name
   * does not (InvalidParameterException), each load balancer's target group exists and is attached to a
   * load balancer, its container and port are in the task definition, and `awsvpc` tasks have a
   * network configuration (InvalidParameterException). The first deployment starts IN_PROGRESS.
   */
  createService(input: CreateServiceRequest): CreateServiceResponse {
    return { service: this.serviceOutput(this.newService(input), false) };
  }

  /**
   * DescribeServices: `services` (1-10 names or ARNs) required; unknown ones are returned in
   * `failures` as `{ arn, reason: 'MISSING' }`. `include: ['TAGS']` adds `tags`.
   * @throws ClusterNotFoundException
   */
  describeServices(input: DescribeServicesRequest): DescribeServicesResponse {
    return describeServicesWith(this.api, input, (svc, withTags) => this.serviceOutput(svc, withTags));
  }

  /**
   * UpdateService: `service` required (ServiceNotFoundException; not ACTIVE → ServiceNotActiveException).
   * A different `taskDefinition` (ClientException if unknown), `forceNewDeployment` or a new
   * `networkConfiguration` starts a new PRIMARY deployment at `desiredCount` (default: the current
   * one); `desiredCount` alone scales the current deployment. Either way the service is stable again
   * `deploymentSeconds` later (never, for a crashing image).
   */
  updateService(input: UpdateServiceRequest): UpdateServiceResponse {
    const svc = updateServiceWith(this.api, input, {
      refresh: (s, now) => this.evaluate(s, now),
      beforeChange: (s, now) => this.rebase(s, now),
      newDeployment: (s, taskDefinitionArn, desiredCount, now) => this.newDeployment(s, taskDefinitionArn, desiredCount, now),
    });
    return { service: this.serviceOutput(svc, false) };
  }

  /**
   * DeleteService: `service` required; a service scaled above 0 needs `force` (InvalidParameterException).
   * The service turns DRAINING, its tasks stop over `deploymentSeconds`, then it is INACTIVE.
   */
  deleteService(input: DeleteServiceRequest): DeleteServiceResponse {
    const svc = deleteServiceWith(this.api, input, {
      refresh: (s, now) => this.evaluate(s, now),
      beforeChange: (s, now) => this.rebase(s, now),
    });
    return { service: this.serviceOutput(svc, false) };
  }

  // ---------------------------------------------------------------- tasks

  /**
   * RunTask: `taskDefinition` required (ClientException if unknown); `count` 1-10;
   * `overrides.containerOverrides[].name` must be containers of the task definition and `awsvpc` tasks
   * need `networkConfiguration` (InvalidParameterException). Each task ends as
   * {@link setRunTaskOutcome} decides.
   */
  runTask(input: RunTaskRequest): RunTaskResponse {
    const { cluster, td, overrides } = runTaskRequest(this.api, input);
    const now = this.nowMs();
    const tasks: Task[] = [];
    for (let i = 0; i < (input.count ?? 1); i++) {
      const main =
        td.containerDefinitions!.find((c) => overrides.containerOverrides?.some((o) => o.name === c.name && o.command)) ??
        td.containerDefinitions!.find((c) => c.essential !== false) ??
        td.containerDefinitions![0]!;
      const info: RunTaskInfo = {
        image: main.image!,
        command: copy(overrides.containerOverrides?.find((o) => o.name === main.name)?.command ?? main.command ?? []),
        taskDefinitionArn: td.taskDefinitionArn!,
        containerName: main.name!,
        startedBy: input.startedBy,
      };
      const crash = this.crashOf(td);
      const outcome = this.runTaskOutcome?.(info) ?? (crash ? { exitCode: 1, durationSeconds: 5 } : { exitCode: 0, durationSeconds: 20 });
      if (!Number.isInteger(outcome.exitCode)) throw new Error(`setRunTaskOutcome returned a non-integer exitCode: ${String(outcome.exitCode)}`);
      const duration = Math.max(0, outcome.durationSeconds ?? 20);
      const task = this.newTask(this.clusters.get(cluster.name)!, td, {
        group: `family:${td.family}`,
        startedBy: input.startedBy,
        launchType: input.launchType,
        overrides,
        mainContainer: main.name!,
        runningAtMs: crash || outcome.failedToStart ? undefined : now + TASK_START_SECONDS * 1000,
        exit: outcome.failedToStart
          ? { atMs: now + TASK_START_SECONDS * 1000, exitCode: undefined, reason: outcome.failedToStart, failedToStart: true }
          : { atMs: now + (TASK_START_SECONDS + duration) * 1000, exitCode: outcome.exitCode, reason: outcome.reason },
        tags: input.tags,
      });
      tasks.push(this.taskOutput(task, now, false));
    }
    return { tasks, failures: [] };
  }

  /**
   * DescribeTasks: `tasks` (1-100 ARNs or ids) required; unknown ones in `failures` (MISSING).
   * A STOPPED task carries `stopCode` (`EssentialContainerExited`, `UserInitiated`,
   * `ServiceSchedulerInitiated`), `stoppedReason` and each container's `exitCode`/`reason`.
   */
  describeTasks(input: DescribeTasksRequest): DescribeTasksResponse {
    this.evaluateAll();
    const now = this.nowMs();
    return describeTasksWith(this.api, input, (arn) => this.tasks.get(arn), (task, withTags) => this.taskOutput(task, now, withTags));
  }

  /**
   * StopTask: `task` required (unknown → InvalidParameterException). A running task goes STOPPING and is
   * STOPPED 5 simulated seconds later (exit code 143, `stopCode: 'UserInitiated'`); a service replaces it.
   */
  stopTask(input: StopTaskRequest): StopTaskResponse {
    const task = taskToStop(this.api, input, (arn) => this.tasks.get(arn));
    const now = this.nowMs();
    if (this.taskState(task, now).lastStatus !== 'STOPPED' && !task.stopRequest) {
      task.stopRequest = { atMs: now, code: 'UserInitiated', reason: input.reason ?? USER_STOP_REASON };
      // The service scheduler replaces a stopped service task.
      const deployment = this.services.flatMap((svc) => svc.deployments).find((d) => d.id === task.service?.deploymentId);
      if (deployment) {
        deployment.runningTasks = deployment.runningTasks.filter((arn) => arn !== task.arn);
        deployment.notBeforeMs = now;
      }
    }
    return { task: this.taskOutput(task, now, false) };
  }

  /**
   * ListTasks: filters `serviceName` (ServiceNotFoundException if unknown), `family`, `startedBy`,
   * `launchType`, `desiredStatus` (@default RUNNING); `maxResults` (1-100) and `nextToken` pagination.
   */
  listTasks(input: ListTasksRequest): ListTasksResponse {
    this.evaluateAll();
    const now = this.nowMs();
    return listTasksWith(
      this.api,
      input,
      [...this.tasks.values()].map((t) => ({ ...t, serviceName: t.service?.name, desiredStatus: this.taskState(t, now).desiredStatus })),
    );
  }

  // ---------------------------------------------------------------- internals: lookup

  private findTaskDefinition(ref: string): { def: TaskDefinition; tags: Tag[] } | undefined {
    const [family, rev] = nameFromArn(ref).split(':');
    const revisions = this.taskDefinitions.get(family!);
    if (!revisions) return undefined;
    if (rev === undefined) return revisions.findLast((r) => r.def.status === 'ACTIVE');
    return revisions[Number(rev) - 1];
  }

  private taskDefinitionOrFail(ref: string): TaskDefinition {
    return this.findTaskDefinition(ref)?.def ?? this.errors.fail('ClientException', `TaskDefinition not found: ${ref}`);
  }

  private imageHealth(image: string): ImageHealth {
    const rule = this.imageRules.findLast((r) => (typeof r.image === 'string' ? r.image === image : r.image.test(image)));
    return rule?.health ?? 'healthy';
  }

  private crashOf(td: TaskDefinition): SimDeployment['crash'] {
    const c = td.containerDefinitions!.find((c) => c.essential !== false && this.imageHealth(c.image!) === 'crash');
    return c ? { image: c.image!, containerName: c.name! } : undefined;
  }

  // ---------------------------------------------------------------- internals: services

  private newService(input: CreateServiceRequest): SimService {
    const now = this.nowMs();
    const { record, td } = newServiceRecord(this.api, input, now);
    const svc: SimService = { ...record, cluster: this.clusters.get(record.cluster.name)!, deployments: [], taskArns: [] };
    svc.deployments.push(this.newDeployment(svc, td.taskDefinitionArn!, input.desiredCount ?? 0, now));
    this.services.push(svc);
    return svc;
  }

  private newDeployment(svc: SimService, taskDefinitionArn: string, desiredCount: number, now: number): SimDeployment {
    return {
      ...newDeploymentRecord(svc, taskDefinitionArn, desiredCount, now),
      crash: this.crashOf(this.taskDefinitionOrFail(taskDefinitionArn)),
      crashAnnounced: false,
      rampFrom: 0,
      rampStartMs: now,
      runningTasks: [],
      notBeforeMs: 0,
    };
  }

  /** Progress (0-1) of the current ramp of the service. */
  private progress(svc: SimService, now: number): number {
    const D = this.deploymentSeconds * 1000;
    return D === 0 ? 1 : Math.min(1, Math.max(0, (now - svc.deployments[0]!.rampStartMs) / D));
  }

  /** Whether the primary deployment can make progress (its tasks start, or it wants none). */
  private primaryOk(svc: SimService): boolean {
    const primary = svc.deployments[0]!;
    return !primary.crash || primary.desiredCount === 0;
  }

  /**
   * Bring a service up to `now`: running counts per deployment, tasks started/stopped to match (at the
   * simulated instant the ramp reached each count), completion (old deployments removed, rollout
   * COMPLETED, steady-state event), crash events.
   */
  private evaluate(svc: SimService, now = this.nowMs()): void {
    if (svc.status === 'INACTIVE') return;
    const p = this.progress(svc, now);
    const ok = this.primaryOk(svc);
    const primary = svc.deployments[0]!;
    const start = primary.rampStartMs;
    const D = this.deploymentSeconds * 1000;
    for (const d of svc.deployments) {
      const from = d.rampFrom;
      const to = d === primary ? (ok ? d.desiredCount : 0) : ok ? 0 : from;
      const count = to >= from ? Math.floor(from + (to - from) * p) : Math.ceil(from - (from - to) * p);
      // The ramp reaches count k at progress |k - from| / |to - from|.
      this.syncTasks(svc, d, count, (k) => (from === to ? start : start + (D * Math.abs(k - from)) / Math.abs(to - from)));
    }

    if (!ok && !primary.crashAnnounced && now >= start + TASK_START_SECONDS * 1000) {
      primary.crashAnnounced = true;
      addServiceEvent(
        svc,
        start + TASK_START_SECONDS * 1000,
        `(service ${svc.name}) is unable to consistently start tasks successfully: essential container ${primary.crash!.containerName} ` +
          `(image ${primary.crash!.image}) exited before reaching RUNNING (deployment ${primary.id}). ` +
          'For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.',
      );
    }
    if (ok && p >= 1) completeRollout(svc, start + D);
  }

  private evaluateAll(): void {
    const now = this.nowMs();
    for (const svc of this.services) this.evaluate(svc, now);
  }

  /** Start the next ramp from the current running counts (before any change to a service). */
  private rebase(svc: SimService, now: number): void {
    for (const d of svc.deployments) {
      d.rampFrom = d.runningTasks.length;
      d.rampStartMs = now;
    }
  }

  /**
   * Start or stop tasks of a deployment so that `count` are running; `timeOf(k)` is the simulated
   * instant the running count reached k. Reports it in the service events.
   */
  private syncTasks(svc: SimService, d: SimDeployment, count: number, timeOf: (k: number) => number): void {
    const started = new Map<number, SimTask[]>();
    const stopped = new Map<number, SimTask[]>();
    const add = (map: Map<number, SimTask[]>, at: number, task: SimTask) => map.set(at, [...(map.get(at) ?? []), task]);
    const td = this.taskDefinitionOrFail(d.taskDefinitionArn);
    while (d.runningTasks.length < count) {
      const at = Math.max(timeOf(d.runningTasks.length + 1), d.notBeforeMs);
      const task = this.newTask(svc.cluster, td, {
        group: `service:${svc.name}`,
        startedBy: d.id,
        launchType: d.launchType,
        overrides: { containerOverrides: [] },
        mainContainer: undefined,
        createdAtMs: at,
        runningAtMs: at,
        service: { name: svc.name, deploymentId: d.id },
      });
      d.runningTasks.push(task.arn);
      svc.taskArns.push(task.arn);
      add(started, at, task);
    }
    while (d.runningTasks.length > count) {
      const at = timeOf(d.runningTasks.length - 1);
      const task = this.tasks.get(d.runningTasks.shift()!)!;
      task.stopRequest = { atMs: at, code: 'ServiceSchedulerInitiated', reason: scalingReason(d) };
      add(stopped, at, task);
    }
    for (const [at, tasks] of started) {
      reportTasks(svc, at, 'started', tasks.map((t) => t.arn));
      reportTargets(svc, at, 'registered', tasks.length);
    }
    for (const [at, tasks] of stopped) reportTasks(svc, at, 'stopped', tasks.map((t) => t.arn));
  }

  /** Targets for the ELBv2 simulator: running tasks of services attached to the target group. */
  private targetsOf(targetGroupArn: string): TargetHealthDescription[] {
    const now = this.nowMs();
    const result: TargetHealthDescription[] = [];
    for (const svc of this.services) {
      const lb = svc.loadBalancers.find((l) => l.targetGroupArn === targetGroupArn);
      if (!lb || svc.status === 'INACTIVE') continue;
      this.evaluate(svc, now);
      svc.taskArns = svc.taskArns.filter((arn) => this.taskState(this.tasks.get(arn)!, now).lastStatus !== 'STOPPED');
      for (const arn of svc.taskArns) {
        const task = this.tasks.get(arn)!;
        const state = this.taskState(task, now).lastStatus;
        const port = lb.containerPort;
        const target = { Id: task.ip, Port: port, AvailabilityZone: `${this.ctx.region}a` };
        if (state === 'RUNNING') result.push({ Target: target, HealthCheckPort: String(port), TargetHealth: { State: 'healthy' } });
        else if (state === 'STOPPING') {
          result.push({
            Target: target,
            HealthCheckPort: String(port),
            TargetHealth: { State: 'draining', Reason: 'Target.DeregistrationInProgress', Description: 'Target deregistration is in progress' },
          });
        }
      }
    }
    return result;
  }

  // ---------------------------------------------------------------- internals: tasks

  private newTask(
    cluster: SimCluster,
    td: TaskDefinition,
    opts: TaskStart & {
      mainContainer: string | undefined;
      /** @default now */
      createdAtMs?: number;
      runningAtMs: number | undefined;
      exit?: SimTask['exit'];
      service?: SimTask['service'];
    },
  ): SimTask {
    const n = this.nextIp++;
    const task: SimTask = {
      ...newTaskRecord(this.api, cluster, td, opts),
      containers: td.containerDefinitions!.map((c) => ({ name: c.name!, image: c.image!, main: c.name === opts.mainContainer })),
      ip: `10.0.${(n >> 8) & 255}.${n & 255}`,
      createdAtMs: opts.createdAtMs ?? this.nowMs(),
      runningAtMs: opts.runningAtMs,
      exit: opts.exit,
      service: opts.service,
    };
    this.tasks.set(task.arn, task);
    return task;
  }

  /** Lifecycle of a task at `now`, derived from its start, natural exit and stop request. */
  private taskState(t: SimTask, now: number) {
    const exitAt = t.exit?.atMs ?? Infinity;
    const requestAt = t.stopRequest?.atMs ?? Infinity;
    const wasRunning = t.runningAtMs !== undefined && requestAt >= t.runningAtMs;
    const requestStopAt = requestAt + (wasRunning ? TASK_STOP_SECONDS * 1000 : 0);
    const stoppedAtMs = Math.min(exitAt, requestStopAt);
    const byRequest = requestStopAt < exitAt;
    if (now >= stoppedAtMs) {
      return {
        lastStatus: 'STOPPED',
        desiredStatus: 'STOPPED',
        stoppedAtMs,
        stoppingAtMs: byRequest ? requestAt : exitAt,
        exitCode: byRequest ? (wasRunning ? 143 : undefined) : t.exit!.exitCode,
        containerReason: byRequest ? undefined : t.exit!.reason,
        stopCode: byRequest ? t.stopRequest!.code : t.exit!.failedToStart ? 'TaskFailedToStart' : 'EssentialContainerExited',
        stoppedReason: byRequest ? t.stopRequest!.reason : t.exit!.failedToStart ? t.exit!.reason! : 'Essential container in task exited',
      } as const;
    }
    if (now >= requestAt) return { lastStatus: 'STOPPING', desiredStatus: 'STOPPED', stoppingAtMs: requestAt } as const;
    if (t.runningAtMs !== undefined && now >= t.runningAtMs) return { lastStatus: 'RUNNING', desiredStatus: 'RUNNING' } as const;
    return { lastStatus: 'PROVISIONING', desiredStatus: 'RUNNING' } as const;
  }

  private taskOutput(t: SimTask, now: number, withTags: boolean): Task {
    const s = this.taskState(t, now);
    const stopped = s.lastStatus === 'STOPPED';
    const hasMain = t.containers.some((c) => c.main);
    const running = t.runningAtMs !== undefined && now >= t.runningAtMs;
    const finite = (ms: number | undefined) => (ms === Infinity ? undefined : ms);
    return taskShape(
      {
        ...t,
        lastStatus: s.lastStatus,
        desiredStatus: s.desiredStatus,
        containers: t.containers.map((c) => ({
          name: c.name,
          image: c.image,
          lastStatus: s.lastStatus === 'STOPPING' ? 'RUNNING' : s.lastStatus,
          exitCode: stopped && s.exitCode !== undefined ? (c.main || !hasMain ? s.exitCode : 0) : undefined,
          reason: stopped && (c.main || !hasMain) ? s.containerReason : undefined,
        })),
        pullStartedAtMs: running ? t.createdAtMs : undefined,
        startedAtMs: running ? t.runningAtMs : undefined,
        stoppingAtMs: finite('stoppingAtMs' in s ? s.stoppingAtMs : undefined),
        stoppedAtMs: stopped ? finite(s.stoppedAtMs) : undefined,
        stopCode: stopped ? s.stopCode : undefined,
        stoppedReason: stopped ? s.stoppedReason : undefined,
        tags: withTags ? t.tags : undefined,
      },
      this.ctx.region,
    );
  }

  // ---------------------------------------------------------------- internals: outputs

  private clusterOutput(cluster: SimCluster, withTags: boolean): Cluster {
    const now = this.nowMs();
    const tasks = [...this.tasks.values()].filter((t) => t.clusterArn === cluster.arn).map((t) => this.taskState(t, now).lastStatus);
    return {
      clusterArn: cluster.arn,
      clusterName: cluster.name,
      status: 'ACTIVE',
      registeredContainerInstancesCount: 0,
      runningTasksCount: tasks.filter((s) => s === 'RUNNING').length,
      pendingTasksCount: tasks.filter((s) => s === 'PROVISIONING').length,
      activeServicesCount: this.services.filter((s) => s.cluster === cluster && s.status === 'ACTIVE').length,
      settings: [{ name: 'containerInsights', value: 'disabled' }],
      capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      tags: withTags ? copy(cluster.tags) : undefined,
    };
  }

  private serviceOutput(svc: SimService, withTags: boolean): Service {
    const now = this.nowMs();
    this.evaluate(svc, now);
    const ok = this.primaryOk(svc);
    return serviceShape(
      svc,
      (d, i) => {
        const running = d.runningTasks.length;
        const elapsed = (now - d.createdAtMs) / 1000 - TASK_START_SECONDS;
        return {
          running,
          pending: i === 0 ? (ok ? Math.max(0, d.desiredCount - running) : d.desiredCount) : 0,
          failed: i === 0 && !ok && elapsed >= 0 ? d.desiredCount * (1 + Math.floor(elapsed / CRASH_RETRY_SECONDS)) : 0,
        };
      },
      withTags,
    );
  }
}

// ================================================================ shared with the living twin's ECS
// Validation, lookups, events and output shapes that this simulator and LiveEcs (lib/local/live/ecs.ts,
// whose tasks are real processes) have in common, so that both answer the ECS API alike.

/** A cluster as the ECS implementations refer to it. */
export interface EcsClusterRef {
  readonly arn: string;
  readonly name: string;
}

/** The fields of a deployment (`Service.deployments[]`) every ECS implementation keeps. */
export interface EcsDeploymentRecord {
  /** `ecs-svc/<19 digits>`. */
  id: string;
  status: 'PRIMARY' | 'ACTIVE';
  taskDefinitionArn: string;
  desiredCount: number;
  /** Simulated epoch ms. */
  createdAtMs: number;
  updatedAtMs: number;
  launchType?: Deployment['launchType'];
  networkConfiguration?: NetworkConfiguration;
  rolloutState: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  rolloutStateReason: string;
}

/** The fields of a service every ECS implementation keeps; `deployments[0]` is the PRIMARY one. */
export interface EcsServiceRecord<D extends EcsDeploymentRecord = EcsDeploymentRecord> {
  arn: string;
  name: string;
  cluster: EcsClusterRef;
  status: 'ACTIVE' | 'DRAINING' | 'INACTIVE';
  deployments: D[];
  loadBalancers: LoadBalancer[];
  networkConfiguration?: NetworkConfiguration;
  launchType?: Service['launchType'];
  /** Simulated seconds during which ECS ignores unhealthy load balancer health checks of a new task. */
  healthCheckGracePeriodSeconds?: number;
  /** Simulated epoch ms. */
  createdAtMs: number;
  /** Newest first, at most 100 (see {@link addServiceEvent}). */
  events: ServiceEvent[];
  tags: Tag[];
  deploymentConfiguration: Service['deploymentConfiguration'];
  /** "has reached a steady state." has been reported since the last change. */
  steady: boolean;
}

/** What the shared ECS helpers need from the implementation that calls them. */
export interface EcsApi<S extends EcsServiceRecord = EcsServiceRecord> {
  readonly errors: ServiceErrors;
  /** For CreateService's `loadBalancers`: the target group exists and is attached to a load balancer. */
  readonly elbv2: Elbv2Simulator;
  /** Region in availability zones (`<region>a`). */
  readonly region: string;
  /** Every service created so far, oldest first (INACTIVE ones included). */
  readonly services: readonly S[];
  /** Current simulated time, epoch ms. */
  nowMs(): number;
  /** ECS ARN of `resource`: `arn:aws:ecs:<region>:<account>:<resource>`. */
  arn(resource: string): string;
  /** The cluster named by a request (@default 'default'). @throws ClusterNotFoundException */
  cluster(ref: string | undefined): EcsClusterRef;
  /** A task definition by family, family:revision or ARN. @throws ClientException */
  taskDefinition(ref: string): TaskDefinition;
}

/** The ECS operations both implementations serve (SDK input → SDK output without `$metadata`). */
export interface EcsApiMethods {
  createCluster(i: CreateClusterRequest): CreateClusterResponse;
  describeClusters(i: DescribeClustersRequest): DescribeClustersResponse;
  registerTaskDefinition(i: RegisterTaskDefinitionRequest): RegisterTaskDefinitionResponse;
  describeTaskDefinition(i: DescribeTaskDefinitionRequest): DescribeTaskDefinitionResponse;
  createService(i: CreateServiceRequest): CreateServiceResponse;
  describeServices(i: DescribeServicesRequest): DescribeServicesResponse;
  updateService(i: UpdateServiceRequest): UpdateServiceResponse;
  deleteService(i: DeleteServiceRequest): DeleteServiceResponse;
  runTask(i: RunTaskRequest): RunTaskResponse;
  describeTasks(i: DescribeTasksRequest): DescribeTasksResponse;
  stopTask(i: StopTaskRequest): StopTaskResponse;
  listTasks(i: ListTasksRequest): ListTasksResponse;
}

/** The operation table of a {@link SimulatedService} for ECS (SDK command name without `Command` → method). */
export function ecsOperations(impl: EcsApiMethods) {
  return {
    CreateCluster: (i: CreateClusterRequest) => impl.createCluster(i),
    DescribeClusters: (i: DescribeClustersRequest) => impl.describeClusters(i),
    RegisterTaskDefinition: (i: RegisterTaskDefinitionRequest) => impl.registerTaskDefinition(i),
    DescribeTaskDefinition: (i: DescribeTaskDefinitionRequest) => impl.describeTaskDefinition(i),
    CreateService: (i: CreateServiceRequest) => impl.createService(i),
    DescribeServices: (i: DescribeServicesRequest) => impl.describeServices(i),
    UpdateService: (i: UpdateServiceRequest) => impl.updateService(i),
    DeleteService: (i: DeleteServiceRequest) => impl.deleteService(i),
    RunTask: (i: RunTaskRequest) => impl.runTask(i),
    DescribeTasks: (i: DescribeTasksRequest) => impl.describeTasks(i),
    StopTask: (i: StopTaskRequest) => impl.stopTask(i),
    ListTasks: (i: ListTasksRequest) => impl.listTasks(i),
  };
}

/** `stoppedReason` of a task stopped by StopTask without a `reason`. */
export const USER_STOP_REASON = 'Task stopped by user';

/** `stoppedReason` of a task the service scheduler stops to scale a deployment in. */
export function scalingReason(deployment: { id: string }): string {
  return `Scaling activity initiated by (deployment ${deployment.id})`;
}

/** The newest service of that name or ARN in the cluster (INACTIVE ones included, as ECS returns them). */
export function findService<S extends EcsServiceRecord>(api: EcsApi<S>, cluster: EcsClusterRef, ref: string): S | undefined {
  const name = nameFromArn(ref);
  return api.services.findLast((svc) => svc.cluster.arn === cluster.arn && svc.name === name);
}

/**
 * Validate a CreateService request like ECS and make the service's common fields (no deployment yet).
 * @param nowMs simulated epoch ms of the call
 * @returns the new service's fields and its task definition
 * @throws the SDK's typed exceptions: a missing field or a bad `desiredCount`, name,
 *   `healthCheckGracePeriodSeconds`, load balancer or network configuration (InvalidParameterException),
 *   ClusterNotFoundException, an existing ACTIVE service of that name (InvalidParameterException), an
 *   unknown task definition (ClientException)
 */
export function newServiceRecord(
  api: EcsApi,
  input: CreateServiceRequest,
  nowMs: number,
): { record: Omit<EcsServiceRecord, 'deployments'>; td: TaskDefinition } {
  const errors: ServiceErrors = api.errors;
  errors.require(input, 'serviceName', 'taskDefinition');
  errors.integerInRange('desiredCount', input.desiredCount, 0, 5000);
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(input.serviceName!)) {
    errors.invalid('Service name must have 1-255 letters (uppercase and lowercase), numbers, hyphens and underscores.');
  }
  const cluster = api.cluster(input.cluster);
  const existing = findService(api, cluster, input.serviceName!);
  if (existing && existing.status !== 'INACTIVE') errors.invalid('Creation of service was not idempotent.');
  const td = api.taskDefinition(input.taskDefinition!);
  for (const lb of input.loadBalancers ?? []) {
    if (!lb.targetGroupArn || !api.elbv2.hasTargetGroup(lb.targetGroupArn)) {
      errors.invalid(`Unable to find the target group ${String(lb.targetGroupArn)}: specify the targetGroupArn of an existing target group.`);
    }
    if (api.elbv2.loadBalancerArnsOf(lb.targetGroupArn).length === 0) {
      errors.invalid(`The target group with targetGroupArn ${lb.targetGroupArn} does not have an associated load balancer.`);
    }
    const container = td.containerDefinitions!.find((c) => c.name === lb.containerName);
    if (!container) errors.invalid(`The container ${String(lb.containerName)} does not exist in the task definition.`);
    if (!container.portMappings?.some((p) => p.containerPort === lb.containerPort)) {
      errors.invalid(`The container ${container.name} did not have a container port ${String(lb.containerPort)} defined.`);
    }
  }
  if (td.networkMode === 'awsvpc' && !input.networkConfiguration?.awsvpcConfiguration?.subnets?.length) {
    errors.invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
  }
  validateGracePeriod(errors, input.healthCheckGracePeriodSeconds, input.loadBalancers ?? []);
  const record: Omit<EcsServiceRecord, 'deployments'> = {
    arn: api.arn(`service/${cluster.name}/${input.serviceName!}`),
    name: input.serviceName!,
    cluster,
    status: 'ACTIVE',
    loadBalancers: copy(input.loadBalancers ?? []),
    networkConfiguration: copy(input.networkConfiguration),
    launchType: input.launchType,
    healthCheckGracePeriodSeconds: input.healthCheckGracePeriodSeconds,
    createdAtMs: nowMs,
    events: [],
    tags: copy(input.tags ?? []),
    deploymentConfiguration: {
      deploymentCircuitBreaker: { enable: false, rollback: false },
      maximumPercent: 200,
      minimumHealthyPercent: 100,
      ...copy(input.deploymentConfiguration),
    },
    steady: false,
  };
  return { record, td };
}

/** `healthCheckGracePeriodSeconds`: an integer 0-2147483647, only for services with load balancers. */
function validateGracePeriod(errors: ServiceErrors, seconds: number | undefined, loadBalancers: readonly LoadBalancer[]): void {
  errors.integerInRange('healthCheckGracePeriodSeconds', seconds, 0, 2147483647);
  if (seconds !== undefined && loadBalancers.length === 0) {
    errors.invalid('Health check grace period is only valid for services configured to use load balancers');
  }
}

/** A new PRIMARY deployment (IN_PROGRESS) of `svc` at `desiredCount` tasks. */
export function newDeploymentRecord(
  svc: Pick<EcsServiceRecord, 'launchType' | 'networkConfiguration'>,
  taskDefinitionArn: string,
  desiredCount: number,
  nowMs: number,
): EcsDeploymentRecord {
  return {
    id: `ecs-svc/${digitsId(19)}`,
    status: 'PRIMARY',
    taskDefinitionArn,
    desiredCount,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    launchType: svc.launchType,
    networkConfiguration: copy(svc.networkConfiguration),
    rolloutState: 'IN_PROGRESS',
    rolloutStateReason: 'ECS deployment detected.',
  };
}

/** How an implementation takes part in UpdateService / DeleteService. */
export interface ServiceChangeHooks<D extends EcsDeploymentRecord, S extends EcsServiceRecord<D>> {
  /** Bring the service up to `nowMs` (simulated epoch ms) before it is changed. */
  refresh(svc: S, nowMs: number): void;
  /** Called once just before the change is applied. */
  beforeChange(svc: S, nowMs: number): void;
}

/** The service an UpdateService / DeleteService request names. @throws ServiceNotFoundException, ServiceNotActiveException */
function activeService<S extends EcsServiceRecord>(api: EcsApi<S>, input: { cluster?: string; service?: string }): S {
  api.errors.require(input, 'service');
  const svc = findService(api, api.cluster(input.cluster), input.service!) ?? api.errors.fail('ServiceNotFoundException', 'Service not found.');
  if (svc.status !== 'ACTIVE') api.errors.fail('ServiceNotActiveException', 'Service was not ACTIVE.');
  return svc;
}

/**
 * UpdateService: a different `taskDefinition`, `forceNewDeployment` or a new `networkConfiguration`
 * adds a new PRIMARY deployment (at `desiredCount`, @default the current one; the old primary turns
 * ACTIVE); `desiredCount` alone scales the primary in place; `healthCheckGracePeriodSeconds` is updated.
 * @returns the changed service
 * @throws ServiceNotFoundException, ServiceNotActiveException, ClientException (unknown task definition),
 *   InvalidParameterException (bad `desiredCount` or `healthCheckGracePeriodSeconds`)
 */
export function updateServiceWith<D extends EcsDeploymentRecord, S extends EcsServiceRecord<D>>(
  api: EcsApi<S>,
  input: UpdateServiceRequest,
  hooks: ServiceChangeHooks<D, S> & {
    /** Make the new PRIMARY deployment (e.g. from {@link newDeploymentRecord}). */
    newDeployment(svc: S, taskDefinitionArn: string, desiredCount: number, nowMs: number): D;
  },
): S {
  api.errors.require(input, 'service');
  api.errors.integerInRange('desiredCount', input.desiredCount, 0, 5000);
  const svc = activeService(api, input);
  const td = input.taskDefinition === undefined ? undefined : api.taskDefinition(input.taskDefinition);
  if (input.healthCheckGracePeriodSeconds !== undefined) {
    validateGracePeriod(api.errors, input.healthCheckGracePeriodSeconds, svc.loadBalancers);
    svc.healthCheckGracePeriodSeconds = input.healthCheckGracePeriodSeconds;
  }
  const now = api.nowMs();
  hooks.refresh(svc, now);
  const primary = svc.deployments[0]!;
  const networkChanged =
    input.networkConfiguration !== undefined && JSON.stringify(input.networkConfiguration) !== JSON.stringify(svc.networkConfiguration);
  if (input.networkConfiguration !== undefined) svc.networkConfiguration = copy(input.networkConfiguration);
  const newDeployment = (td !== undefined && td.taskDefinitionArn !== primary.taskDefinitionArn) || input.forceNewDeployment === true || networkChanged;
  const scaled = input.desiredCount !== undefined && input.desiredCount !== primary.desiredCount;
  if (newDeployment || scaled) {
    hooks.beforeChange(svc, now);
    svc.steady = false;
  }
  if (newDeployment) {
    primary.status = 'ACTIVE';
    primary.updatedAtMs = now;
    svc.deployments.unshift(hooks.newDeployment(svc, td?.taskDefinitionArn ?? primary.taskDefinitionArn, input.desiredCount ?? primary.desiredCount, now));
  } else if (scaled) {
    primary.desiredCount = input.desiredCount!;
    primary.updatedAtMs = now;
  }
  return svc;
}

/**
 * DeleteService: a service scaled above 0 needs `force`; the primary is scaled to 0 and the service
 * turns DRAINING (the implementation stops its tasks, then marks it INACTIVE, see {@link completeRollout}).
 * @returns the changed service
 * @throws ServiceNotFoundException, ServiceNotActiveException, InvalidParameterException (scaled above 0 without `force`)
 */
export function deleteServiceWith<D extends EcsDeploymentRecord, S extends EcsServiceRecord<D>>(
  api: EcsApi<S>,
  input: DeleteServiceRequest,
  hooks: ServiceChangeHooks<D, S>,
): S {
  const svc = activeService(api, input);
  const now = api.nowMs();
  hooks.refresh(svc, now);
  const primary = svc.deployments[0]!;
  if (primary.desiredCount > 0 && !input.force) api.errors.invalid('The service cannot be stopped while it is scaled above 0.');
  hooks.beforeChange(svc, now);
  primary.desiredCount = 0;
  svc.status = 'DRAINING';
  svc.steady = false;
  return svc;
}

/**
 * DescribeServices: `services` (1-10 names or ARNs) required; unknown ones in `failures` (MISSING).
 * @param output the implementation's service shape (`include: ['TAGS']` → `withTags`)
 * @throws ClusterNotFoundException, InvalidParameterException
 */
export function describeServicesWith<S extends EcsServiceRecord>(
  api: EcsApi<S>,
  input: DescribeServicesRequest,
  output: (svc: S, withTags: boolean) => Service,
): DescribeServicesResponse {
  const { found, failures } = describeEach(api, input, 'services', 10, (cluster, ref) => ({
    item: findService(api, cluster, ref),
    arn: api.arn(`service/${cluster.name}/${ref}`),
  }));
  return { services: found.map((svc) => output(svc, input.include?.includes('TAGS') ?? false)), failures };
}

/**
 * The common part of DescribeServices and DescribeTasks: `input[field]` (1-`max` names, ids or ARNs)
 * required; each is looked up in the request's cluster, unknown ones go to `failures` (MISSING) under
 * their ARN.
 * @param lookup the item `ref` names in `cluster` (if any) and the ARN it would have
 */
function describeEach<F extends 'services' | 'tasks', T>(
  api: EcsApi,
  input: { cluster?: string } & { [K in F]?: string[] },
  field: F,
  max: number,
  lookup: (cluster: EcsClusterRef, ref: string) => { item: T | undefined; arn: string },
): { found: T[]; failures: Failure[] } {
  api.errors.require(input, field);
  const refs: string[] = input[field]!;
  if (refs.length > max) api.errors.invalid(`${field} can have at most ${max} items.`);
  const cluster = api.cluster(input.cluster);
  const found: T[] = [];
  const failures: Failure[] = [];
  for (const ref of refs) {
    const { item, arn } = lookup(cluster, ref);
    if (item) found.push(item);
    else failures.push({ arn: ref.startsWith('arn:') ? ref : arn, reason: 'MISSING' });
  }
  return { found, failures };
}

/**
 * Validate a RunTask request like ECS.
 * @returns the cluster, the task definition and a copy of `overrides`
 * @throws a missing `taskDefinition`, `count` outside 1-10, an override for a container the task
 *   definition lacks, an `awsvpc` task without `networkConfiguration`, `startedBy` over 128 characters
 *   (InvalidParameterException); ClusterNotFoundException; an unknown task definition (ClientException)
 */
export function runTaskRequest(api: EcsApi, input: RunTaskRequest): { cluster: EcsClusterRef; td: TaskDefinition; overrides: TaskOverride } {
  const errors: ServiceErrors = api.errors;
  errors.require(input, 'taskDefinition');
  errors.integerInRange('count', input.count, 1, 10);
  const cluster = api.cluster(input.cluster);
  const td = api.taskDefinition(input.taskDefinition!);
  const overrides = copy(input.overrides ?? {});
  for (const o of overrides.containerOverrides ?? []) {
    if (!td.containerDefinitions!.some((c) => c.name === o.name)) {
      errors.invalid(`Override for container named ${String(o.name)} is not a container in the TaskDefinition.`);
    }
  }
  if (td.networkMode === 'awsvpc' && !input.networkConfiguration?.awsvpcConfiguration?.subnets?.length) {
    errors.invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
  }
  if (input.startedBy !== undefined && input.startedBy.length > 128) errors.invalid('startedBy can be at most 128 characters.');
  return { cluster, td, overrides };
}

/** Who starts a task and how: RunTask's fields, or the service scheduler's. */
export interface TaskStart {
  /** `service:<name>` or `family:<family>`. */
  readonly group: string;
  readonly startedBy?: string;
  readonly launchType?: Task['launchType'];
  readonly overrides: TaskOverride;
  readonly tags?: Tag[];
}

/** The fields of a task every ECS implementation keeps. */
export interface EcsTaskRecord {
  arn: string;
  clusterArn: string;
  taskDefinitionArn: string;
  group: string;
  startedBy?: string;
  launchType?: Task['launchType'];
  overrides: TaskOverride;
  tags: Tag[];
  cpu?: string;
  memory?: string;
}

/** A new task of `td` in `cluster`, with a fresh id (`task/<cluster>/<32 hex digits>`). */
export function newTaskRecord(api: EcsApi, cluster: EcsClusterRef, td: TaskDefinition, start: TaskStart): EcsTaskRecord {
  return {
    arn: api.arn(`task/${cluster.name}/${hexId(32)}`),
    clusterArn: cluster.arn,
    taskDefinitionArn: td.taskDefinitionArn!,
    group: start.group,
    startedBy: start.startedBy,
    launchType: start.launchType,
    overrides: start.overrides,
    tags: copy(start.tags ?? []),
    cpu: td.cpu,
    memory: td.memory,
  };
}

/** ARN of the task `ref` (ARN or id) names in `cluster`. */
function taskArnIn(api: EcsApi, cluster: EcsClusterRef, ref: string): string {
  return api.arn(`task/${cluster.name}/${nameFromArn(ref)}`);
}

/**
 * DescribeTasks: `tasks` (1-100 ARNs or ids) required; unknown ones in `failures` (MISSING).
 * @param get the implementation's task by ARN
 * @param output its task shape (`include: ['TAGS']` → `withTags`)
 * @throws ClusterNotFoundException, InvalidParameterException
 */
export function describeTasksWith<T extends { clusterArn: string }>(
  api: EcsApi,
  input: DescribeTasksRequest,
  get: (taskArn: string) => T | undefined,
  output: (task: T, withTags: boolean) => Task,
): DescribeTasksResponse {
  const { found, failures } = describeEach(api, input, 'tasks', 100, (cluster, ref) => {
    const arn = taskArnIn(api, cluster, ref);
    const task = get(arn);
    return { item: task?.clusterArn === cluster.arn ? task : undefined, arn };
  });
  return { tasks: found.map((task) => output(task, input.include?.includes('TAGS') ?? false)), failures };
}

/** The task a StopTask request names. @throws InvalidParameterException (unknown task), ClusterNotFoundException */
export function taskToStop<T extends { clusterArn: string }>(api: EcsApi, input: StopTaskRequest, get: (taskArn: string) => T | undefined): T {
  api.errors.require(input, 'task');
  const cluster = api.cluster(input.cluster);
  const task = get(taskArnIn(api, cluster, input.task!));
  return task?.clusterArn === cluster.arn ? task : api.errors.invalid('The referenced task was not found.');
}

/** What ListTasks filters on. */
export interface ListedTask {
  readonly arn: string;
  readonly clusterArn: string;
  readonly taskDefinitionArn: string;
  /** Name of the service that started the task. */
  readonly serviceName?: string;
  readonly startedBy?: string;
  readonly launchType?: Task['launchType'];
  readonly desiredStatus: string;
}

/**
 * ListTasks: filters `serviceName` (ServiceNotFoundException if unknown), `family`, `startedBy`,
 * `launchType`, `desiredStatus` (@default RUNNING); `maxResults` (1-100) and `nextToken` pagination.
 * @param tasks every task the implementation knows, oldest first
 */
export function listTasksWith(api: EcsApi, input: ListTasksRequest, tasks: readonly ListedTask[]): ListTasksResponse {
  const cluster = api.cluster(input.cluster);
  let service: EcsServiceRecord | undefined;
  if (input.serviceName) {
    service = findService(api, cluster, input.serviceName) ?? api.errors.fail('ServiceNotFoundException', 'Service not found.');
  }
  const desired = input.desiredStatus ?? 'RUNNING';
  const arns = tasks
    .filter((t) => t.clusterArn === cluster.arn)
    .filter((t) => !service || t.serviceName === service.name)
    .filter((t) => !input.family || t.taskDefinitionArn.split('/').at(-1)!.split(':')[0] === input.family)
    .filter((t) => !input.startedBy || t.startedBy === input.startedBy)
    .filter((t) => !input.launchType || t.launchType === input.launchType)
    .filter((t) => t.desiredStatus === desired)
    .map((t) => t.arn);
  const { page, next } = paginate(
    arns,
    { size: input.maxResults, token: input.nextToken, defaultSize: 100, min: 1, max: 100, sizeField: 'maxResults' },
    api.errors,
    () => api.errors.invalid('Invalid nextToken.'),
  );
  return { taskArns: page, nextToken: next };
}

// ---------------------------------------------------------------- service events

/**
 * Add a service event at `atMs` (simulated epoch ms); events are kept newest first (later-added first
 * among equal times), at most 100, as DescribeServices shows them.
 */
export function addServiceEvent(svc: Pick<EcsServiceRecord, 'events'>, atMs: number, message: string): void {
  svc.events.unshift({ id: randomUUID(), createdAt: new Date(atMs), message });
  svc.events.sort((a, b) => b.createdAt!.getTime() - a.createdAt!.getTime());
  svc.events.length = Math.min(svc.events.length, MAX_EVENTS);
}

const taskIds = (taskArns: readonly string[]) => taskArns.map((arn) => `(task ${arn.split('/').at(-1)})`).join(' ');
const targetGroupsOf = (svc: Pick<EcsServiceRecord, 'loadBalancers'>) =>
  svc.loadBalancers.map((lb) => `(target-group ${lb.targetGroupArn})`).join(' ');

/**
 * Report that the service scheduler started or stopped tasks, in ECS's words: "(service X) has started
 * 2 tasks: (task a) (task b)."; stopping also reports draining and deregistering the tasks' targets when
 * the service has load balancers.
 */
export function reportTasks(
  svc: Pick<EcsServiceRecord, 'name' | 'events' | 'loadBalancers'>,
  atMs: number,
  change: 'started' | 'stopped',
  taskArns: readonly string[],
): void {
  if (change === 'started') {
    addServiceEvent(svc, atMs, `(service ${svc.name}) has started ${taskArns.length} tasks: ${taskIds(taskArns)}.`);
    return;
  }
  if (svc.loadBalancers.length > 0) {
    addServiceEvent(svc, atMs, `(service ${svc.name}) has begun draining connections on ${taskArns.length} tasks.`);
    reportTargets(svc, atMs, 'deregistered', taskArns.length);
  }
  addServiceEvent(svc, atMs, `(service ${svc.name}) has stopped ${taskArns.length} running tasks: ${taskIds(taskArns)}.`);
}

/** "(service X) registered 2 targets in (target-group arn)" (nothing for a service without load balancers). */
export function reportTargets(
  svc: Pick<EcsServiceRecord, 'name' | 'events' | 'loadBalancers'>,
  atMs: number,
  change: 'registered' | 'deregistered',
  count: number,
): void {
  if (svc.loadBalancers.length > 0) addServiceEvent(svc, atMs, `(service ${svc.name}) ${change} ${count} targets in ${targetGroupsOf(svc)}`);
}

/**
 * The primary deployment has its tasks and no other deployment has any left: drop the old deployments,
 * mark the rollout COMPLETED ("deployment completed." event), and report "has reached a steady state."
 * once per change — or, for a DRAINING service, turn it INACTIVE.
 * @param atMs simulated epoch ms the service got there
 */
export function completeRollout<D extends EcsDeploymentRecord>(svc: EcsServiceRecord<D>, atMs: number): void {
  const primary = svc.deployments[0]!;
  svc.deployments = [primary];
  if (primary.rolloutState === 'IN_PROGRESS') {
    primary.rolloutState = 'COMPLETED';
    primary.rolloutStateReason = `ECS deployment ${primary.id} completed.`;
    primary.updatedAtMs = atMs;
    addServiceEvent(svc, atMs, `(service ${svc.name}) (deployment ${primary.id}) deployment completed.`);
  }
  if (svc.status === 'DRAINING') svc.status = 'INACTIVE';
  else if (!svc.steady) addServiceEvent(svc, atMs, `(service ${svc.name}) has reached a steady state.`);
  svc.steady = true;
}

// ---------------------------------------------------------------- output shapes

/** Task counts of one deployment at the time of a DescribeServices. */
export interface DeploymentCounts {
  readonly running: number;
  readonly pending: number;
  readonly failed: number;
}

/**
 * A service as DescribeServices returns it (REPLICA scheduling, ECS deployment controller).
 * `desiredCount` and `taskDefinition` are the primary deployment's; `runningCount`/`pendingCount` sum
 * the deployments'.
 * @param counts task counts of each deployment (index 0 = PRIMARY)
 */
export function serviceShape<D extends EcsDeploymentRecord>(
  svc: EcsServiceRecord<D>,
  counts: (deployment: D, index: number) => DeploymentCounts,
  withTags: boolean,
): Service {
  const deployments: Deployment[] = svc.deployments.map((d, i) => {
    const c = counts(d, i);
    return {
      id: d.id,
      status: d.status,
      taskDefinition: d.taskDefinitionArn,
      desiredCount: d.desiredCount,
      pendingCount: c.pending,
      runningCount: c.running,
      failedTasks: c.failed,
      createdAt: new Date(d.createdAtMs),
      updatedAt: new Date(d.updatedAtMs),
      launchType: d.launchType,
      platformVersion: d.launchType === 'FARGATE' ? '1.4.0' : undefined,
      networkConfiguration: copy(d.networkConfiguration),
      rolloutState: d.rolloutState,
      rolloutStateReason: d.rolloutStateReason,
    };
  });
  const primary = svc.deployments[0]!;
  return {
    serviceArn: svc.arn,
    serviceName: svc.name,
    clusterArn: svc.cluster.arn,
    loadBalancers: copy(svc.loadBalancers),
    serviceRegistries: [],
    status: svc.status,
    desiredCount: primary.desiredCount,
    runningCount: deployments.reduce((sum, d) => sum + d.runningCount!, 0),
    pendingCount: deployments.reduce((sum, d) => sum + d.pendingCount!, 0),
    launchType: svc.launchType,
    platformVersion: svc.launchType === 'FARGATE' ? 'LATEST' : undefined,
    taskDefinition: primary.taskDefinitionArn,
    deploymentConfiguration: copy(svc.deploymentConfiguration),
    deployments,
    events: copy(svc.events),
    createdAt: new Date(svc.createdAtMs),
    placementConstraints: [],
    placementStrategy: [],
    networkConfiguration: copy(svc.networkConfiguration),
    healthCheckGracePeriodSeconds: svc.healthCheckGracePeriodSeconds,
    schedulingStrategy: 'REPLICA',
    deploymentController: { type: 'ECS' },
    enableECSManagedTags: false,
    propagateTags: 'NONE',
    enableExecuteCommand: false,
    tags: withTags ? copy(svc.tags) : undefined,
  };
}

/** A container of a task as the implementation sees it (see {@link taskShape}). */
export type EcsContainerView = Pick<Container, 'name' | 'image' | 'lastStatus' | 'exitCode' | 'reason' | 'networkBindings'>;

/** A task as the implementation sees it; times are simulated epoch ms. */
export interface EcsTaskView {
  readonly arn: string;
  readonly clusterArn: string;
  readonly taskDefinitionArn: string;
  /** `service:<name>` or `family:<family>`. */
  readonly group: string;
  readonly startedBy?: string;
  readonly launchType?: Task['launchType'];
  readonly overrides: TaskOverride;
  readonly cpu?: string;
  readonly memory?: string;
  /** Private IPv4 address of the task. */
  readonly ip: string;
  readonly lastStatus: string;
  readonly desiredStatus: string;
  readonly containers: readonly EcsContainerView[];
  readonly createdAtMs: number;
  readonly pullStartedAtMs?: number;
  readonly pullStoppedAtMs?: number;
  readonly startedAtMs?: number;
  readonly stoppingAtMs?: number;
  readonly stoppedAtMs?: number;
  readonly stopCode?: Task['stopCode'];
  readonly stoppedReason?: string;
  /** Only when the request asked for them (`include: ['TAGS']`). */
  readonly tags?: Tag[];
}

/** A task as DescribeTasks / RunTask return it (one ENI attachment carrying `ip`, deleted once STOPPED). */
export function taskShape(v: EcsTaskView, region: string): Task {
  const date = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));
  const stopped = v.lastStatus === 'STOPPED';
  return {
    taskArn: v.arn,
    clusterArn: v.clusterArn,
    taskDefinitionArn: v.taskDefinitionArn,
    lastStatus: v.lastStatus,
    desiredStatus: v.desiredStatus,
    launchType: v.launchType,
    startedBy: v.startedBy,
    group: v.group,
    overrides: copy(v.overrides),
    containers: v.containers.map((c, i) => ({
      ...copy(c),
      containerArn: `${v.arn.replace(':task/', ':container/')}/${hexId(8)}-${i}`,
      taskArn: v.arn,
      networkInterfaces: [{ attachmentId: 'eni-attachment', privateIpv4Address: v.ip }],
    })),
    cpu: v.cpu,
    memory: v.memory,
    availabilityZone: `${region}a`,
    connectivity: 'CONNECTED',
    createdAt: new Date(v.createdAtMs),
    pullStartedAt: date(v.pullStartedAtMs),
    pullStoppedAt: date(v.pullStoppedAtMs),
    startedAt: date(v.startedAtMs),
    stoppingAt: date(v.stoppingAtMs),
    stoppedAt: date(v.stoppedAtMs),
    executionStoppedAt: date(v.stoppedAtMs),
    stopCode: v.stopCode,
    stoppedReason: v.stoppedReason,
    attachments: [
      {
        id: v.arn.split('/').at(-1),
        type: 'ElasticNetworkInterface',
        status: stopped ? 'DELETED' : 'ATTACHED',
        details: [{ name: 'privateIPv4Address', value: v.ip }],
      },
    ],
    version: 1,
    tags: v.tags === undefined ? undefined : copy(v.tags),
  };
}
