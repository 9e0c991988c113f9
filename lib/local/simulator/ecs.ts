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
  /** Exit code of the main container. */
  readonly exitCode: number;
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

interface SimTask {
  arn: string;
  clusterArn: string;
  taskDefinitionArn: string;
  group: string;
  startedBy?: string;
  launchType?: Task['launchType'];
  overrides: TaskOverride;
  containers: { name: string; image: string; main: boolean }[];
  ip: string;
  createdAtMs: number;
  /** When it reaches RUNNING; undefined if it never does (crashing image). */
  runningAtMs?: number;
  /** Natural end (RunTask): the main container exits. */
  exit?: { atMs: number; exitCode: number; reason?: string };
  /** StopTask or scheduler stop. */
  stopRequest?: { atMs: number; code: Task['stopCode']; reason: string };
  tags: Tag[];
  cpu?: string;
  memory?: string;
  /** Service task: the deployment that owns it. */
  service?: { name: string; deploymentId: string };
}

interface SimDeployment {
  id: string;
  status: 'PRIMARY' | 'ACTIVE';
  taskDefinitionArn: string;
  desiredCount: number;
  createdAtMs: number;
  updatedAtMs: number;
  launchType?: Deployment['launchType'];
  networkConfiguration?: NetworkConfiguration;
  /** Set when the task definition's image crashes (captured when the deployment starts). */
  crash?: { image: string; containerName: string };
  crashAnnounced: boolean;
  /** Running count at `rampStartMs`; the count moves linearly to its target over deploymentSeconds. */
  rampFrom: number;
  rampStartMs: number;
  rolloutState: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  rolloutStateReason: string;
  /** ARNs of the deployment's tasks that are currently RUNNING (not being stopped). */
  runningTasks: string[];
  /** Replacement tasks start no earlier than this (set when StopTask stops one of its tasks). */
  notBeforeMs: number;
}

interface SimService {
  arn: string;
  name: string;
  cluster: SimCluster;
  status: 'ACTIVE' | 'DRAINING' | 'INACTIVE';
  deployments: SimDeployment[];
  loadBalancers: LoadBalancer[];
  networkConfiguration?: NetworkConfiguration;
  launchType?: Service['launchType'];
  createdAtMs: number;
  events: ServiceEvent[];
  tags: Tag[];
  deploymentConfiguration: Service['deploymentConfiguration'];
  /** "has reached a steady state." has been reported since the last change. */
  steady: boolean;
  /** Tasks the service started that are not known to be STOPPED yet (for target health). */
  taskArns: string[];
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

  protected readonly operations = {
    CreateCluster: (i: CreateClusterRequest) => this.createCluster(i),
    DescribeClusters: (i: DescribeClustersRequest) => this.describeClusters(i),
    RegisterTaskDefinition: (i: RegisterTaskDefinitionRequest) => this.registerTaskDefinition(i),
    DescribeTaskDefinition: (i: DescribeTaskDefinitionRequest) => this.describeTaskDefinition(i),
    CreateService: (i: CreateServiceRequest) => this.createService(i),
    DescribeServices: (i: DescribeServicesRequest) => this.describeServices(i),
    UpdateService: (i: UpdateServiceRequest) => this.updateService(i),
    DeleteService: (i: DeleteServiceRequest) => this.deleteService(i),
    RunTask: (i: RunTaskRequest) => this.runTask(i),
    DescribeTasks: (i: DescribeTasksRequest) => this.describeTasks(i),
    StopTask: (i: StopTaskRequest) => this.stopTask(i),
    ListTasks: (i: ListTasksRequest) => this.listTasks(i),
  };

  constructor(
    ctx: SimContext,
    private readonly elbv2: Elbv2Simulator,
    opts: EcsSimulatorOptions = {},
  ) {
    super('ecs', ctx);
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
    const svc = c && this.findService(c, service);
    return svc && this.serviceOutput(svc, true);
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
    this.errors.require(input, 'services');
    if (input.services!.length > 10) this.errors.invalid('services can have at most 10 items.');
    const cluster = this.cluster(input.cluster);
    const services: Service[] = [];
    const failures: Failure[] = [];
    for (const ref of input.services!) {
      const svc = this.findService(cluster, ref);
      if (svc) services.push(this.serviceOutput(svc, input.include?.includes('TAGS') ?? false));
      else failures.push({ arn: ref.startsWith('arn:') ? ref : this.serviceArn(cluster, ref), reason: 'MISSING' });
    }
    return { services, failures };
  }

  /**
   * UpdateService: `service` required (ServiceNotFoundException; not ACTIVE → ServiceNotActiveException).
   * A different `taskDefinition` (ClientException if unknown), `forceNewDeployment` or a new
   * `networkConfiguration` starts a new PRIMARY deployment at `desiredCount` (default: the current
   * one); `desiredCount` alone scales the current deployment. Either way the service is stable again
   * `deploymentSeconds` later (never, for a crashing image).
   */
  updateService(input: UpdateServiceRequest): UpdateServiceResponse {
    this.errors.require(input, 'service');
    this.errors.integerInRange('desiredCount', input.desiredCount, 0, 5000);
    const cluster = this.cluster(input.cluster);
    const svc = this.findService(cluster, input.service!) ?? this.errors.fail('ServiceNotFoundException', 'Service not found.');
    if (svc.status !== 'ACTIVE') this.errors.fail('ServiceNotActiveException', 'Service was not ACTIVE.');
    const td = input.taskDefinition === undefined ? undefined : this.taskDefinitionOrFail(input.taskDefinition);
    const now = this.nowMs();
    this.evaluate(svc, now);
    const primary = svc.deployments[0]!;
    const networkChanged =
      input.networkConfiguration !== undefined && JSON.stringify(input.networkConfiguration) !== JSON.stringify(svc.networkConfiguration);
    if (input.networkConfiguration !== undefined) svc.networkConfiguration = copy(input.networkConfiguration);
    const newDeployment = (td !== undefined && td.taskDefinitionArn !== primary.taskDefinitionArn) || input.forceNewDeployment === true || networkChanged;
    const scaled = input.desiredCount !== undefined && input.desiredCount !== primary.desiredCount;
    if (newDeployment || scaled) {
      this.rebase(svc, now);
      svc.steady = false;
    }
    if (newDeployment) {
      primary.status = 'ACTIVE';
      primary.updatedAtMs = now;
      svc.deployments.unshift(this.newDeployment(svc, td?.taskDefinitionArn ?? primary.taskDefinitionArn, input.desiredCount ?? primary.desiredCount, now));
    } else if (scaled) {
      primary.desiredCount = input.desiredCount!;
      primary.updatedAtMs = now;
    }
    return { service: this.serviceOutput(svc, false) };
  }

  /**
   * DeleteService: `service` required; a service scaled above 0 needs `force` (InvalidParameterException).
   * The service turns DRAINING, its tasks stop over `deploymentSeconds`, then it is INACTIVE.
   */
  deleteService(input: DeleteServiceRequest): DeleteServiceResponse {
    this.errors.require(input, 'service');
    const cluster = this.cluster(input.cluster);
    const svc = this.findService(cluster, input.service!) ?? this.errors.fail('ServiceNotFoundException', 'Service not found.');
    if (svc.status !== 'ACTIVE') this.errors.fail('ServiceNotActiveException', 'Service was not ACTIVE.');
    const now = this.nowMs();
    this.evaluate(svc, now);
    const primary = svc.deployments[0]!;
    if (primary.desiredCount > 0 && !input.force) this.errors.invalid('The service cannot be stopped while it is scaled above 0.');
    this.rebase(svc, now);
    primary.desiredCount = 0;
    svc.status = 'DRAINING';
    svc.steady = false;
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
    this.errors.require(input, 'taskDefinition');
    this.errors.integerInRange('count', input.count, 1, 10);
    const cluster = this.cluster(input.cluster);
    const td = this.taskDefinitionOrFail(input.taskDefinition!);
    const overrides = copy(input.overrides ?? {});
    for (const o of overrides.containerOverrides ?? []) {
      if (!td.containerDefinitions!.some((c) => c.name === o.name)) {
        this.errors.invalid(`Override for container named ${String(o.name)} is not a container in the TaskDefinition.`);
      }
    }
    if (td.networkMode === 'awsvpc' && !input.networkConfiguration?.awsvpcConfiguration?.subnets?.length) {
      this.errors.invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
    }
    if (input.startedBy !== undefined && input.startedBy.length > 128) this.errors.invalid('startedBy can be at most 128 characters.');
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
      const task = this.newTask(cluster, td, {
        group: `family:${td.family}`,
        startedBy: input.startedBy,
        launchType: input.launchType,
        overrides,
        mainContainer: main.name!,
        runningAtMs: crash ? undefined : now + TASK_START_SECONDS * 1000,
        exit: { atMs: now + (TASK_START_SECONDS + duration) * 1000, exitCode: outcome.exitCode, reason: outcome.reason },
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
    this.errors.require(input, 'tasks');
    if (input.tasks!.length > 100) this.errors.invalid('tasks can have at most 100 items.');
    const cluster = this.cluster(input.cluster);
    this.evaluateAll();
    const now = this.nowMs();
    const tasks: Task[] = [];
    const failures: Failure[] = [];
    for (const ref of input.tasks!) {
      const task = this.findTask(cluster, ref);
      if (task) tasks.push(this.taskOutput(task, now, input.include?.includes('TAGS') ?? false));
      else failures.push({ arn: ref.startsWith('arn:') ? ref : this.arn('ecs', `task/${cluster.name}/${ref}`), reason: 'MISSING' });
    }
    return { tasks, failures };
  }

  /**
   * StopTask: `task` required (unknown → InvalidParameterException). A running task goes STOPPING and is
   * STOPPED 5 simulated seconds later (exit code 143, `stopCode: 'UserInitiated'`); a service replaces it.
   */
  stopTask(input: StopTaskRequest): StopTaskResponse {
    this.errors.require(input, 'task');
    const cluster = this.cluster(input.cluster);
    const task = this.findTask(cluster, input.task!) ?? this.errors.invalid('The referenced task was not found.');
    const now = this.nowMs();
    if (this.taskState(task, now).lastStatus !== 'STOPPED' && !task.stopRequest) {
      task.stopRequest = { atMs: now, code: 'UserInitiated', reason: input.reason ?? 'Task stopped by user' };
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
    const cluster = this.cluster(input.cluster);
    this.evaluateAll();
    const now = this.nowMs();
    let service: SimService | undefined;
    if (input.serviceName) {
      service = this.findService(cluster, input.serviceName) ?? this.errors.fail('ServiceNotFoundException', 'Service not found.');
    }
    const desired = input.desiredStatus ?? 'RUNNING';
    const arns = [...this.tasks.values()]
      .filter((t) => t.clusterArn === cluster.arn)
      .filter((t) => !service || t.service?.name === service.name)
      .filter((t) => !input.family || t.taskDefinitionArn.split('/').at(-1)!.split(':')[0] === input.family)
      .filter((t) => !input.startedBy || t.startedBy === input.startedBy)
      .filter((t) => !input.launchType || t.launchType === input.launchType)
      .filter((t) => this.taskState(t, now).desiredStatus === desired)
      .map((t) => t.arn);
    const { page, next } = paginate(
      arns,
      { size: input.maxResults, token: input.nextToken, defaultSize: 100, min: 1, max: 100, sizeField: 'maxResults' },
      this.errors,
      () => this.errors.invalid('Invalid nextToken.'),
    );
    return { taskArns: page, nextToken: next };
  }

  // ---------------------------------------------------------------- internals: lookup

  private cluster(ref: string | undefined): SimCluster {
    return this.clusters.get(nameFromArn(ref ?? 'default')) ?? this.errors.fail('ClusterNotFoundException', 'Cluster not found.');
  }

  private serviceArn(cluster: SimCluster, name: string): string {
    return this.arn('ecs', `service/${cluster.name}/${name}`);
  }

  /** The newest service of that name or ARN in the cluster (INACTIVE ones included, as ECS returns them). */
  private findService(cluster: SimCluster, ref: string): SimService | undefined {
    const name = nameFromArn(ref);
    for (let i = this.services.length - 1; i >= 0; i--) {
      const svc = this.services[i]!;
      if (svc.cluster === cluster && svc.name === name) return svc;
    }
    return undefined;
  }

  private findTask(cluster: SimCluster, ref: string): SimTask | undefined {
    const id = nameFromArn(ref);
    const task = this.tasks.get(this.arn('ecs', `task/${cluster.name}/${id}`));
    return task?.clusterArn === cluster.arn ? task : undefined;
  }

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
    this.errors.require(input, 'serviceName', 'taskDefinition');
    this.errors.integerInRange('desiredCount', input.desiredCount, 0, 5000);
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(input.serviceName!)) {
      this.errors.invalid('Service name must have 1-255 letters (uppercase and lowercase), numbers, hyphens and underscores.');
    }
    const cluster = this.cluster(input.cluster);
    const existing = this.findService(cluster, input.serviceName!);
    if (existing && existing.status !== 'INACTIVE') this.errors.invalid('Creation of service was not idempotent.');
    const td = this.taskDefinitionOrFail(input.taskDefinition!);
    for (const lb of input.loadBalancers ?? []) {
      if (!lb.targetGroupArn || !this.elbv2.hasTargetGroup(lb.targetGroupArn)) {
        this.errors.invalid(`Unable to find the target group ${String(lb.targetGroupArn)}: specify the targetGroupArn of an existing target group.`);
      }
      if (this.elbv2.loadBalancerArnsOf(lb.targetGroupArn).length === 0) {
        this.errors.invalid(`The target group with targetGroupArn ${lb.targetGroupArn} does not have an associated load balancer.`);
      }
      const container = td.containerDefinitions!.find((c) => c.name === lb.containerName);
      if (!container) this.errors.invalid(`The container ${String(lb.containerName)} does not exist in the task definition.`);
      if (!container.portMappings?.some((p) => p.containerPort === lb.containerPort)) {
        this.errors.invalid(`The container ${container.name} did not have a container port ${String(lb.containerPort)} defined.`);
      }
    }
    if (td.networkMode === 'awsvpc' && !input.networkConfiguration?.awsvpcConfiguration?.subnets?.length) {
      this.errors.invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
    }
    const now = this.nowMs();
    const svc: SimService = {
      arn: this.serviceArn(cluster, input.serviceName!),
      name: input.serviceName!,
      cluster,
      status: 'ACTIVE',
      deployments: [],
      loadBalancers: copy(input.loadBalancers ?? []),
      networkConfiguration: copy(input.networkConfiguration),
      launchType: input.launchType,
      createdAtMs: now,
      events: [],
      tags: copy(input.tags ?? []),
      deploymentConfiguration: {
        deploymentCircuitBreaker: { enable: false, rollback: false },
        maximumPercent: 200,
        minimumHealthyPercent: 100,
        ...copy(input.deploymentConfiguration),
      },
      steady: false,
      taskArns: [],
    };
    svc.deployments.push(this.newDeployment(svc, td.taskDefinitionArn!, input.desiredCount ?? 0, now));
    this.services.push(svc);
    return svc;
  }

  private newDeployment(svc: SimService, taskDefinitionArn: string, desiredCount: number, now: number): SimDeployment {
    return {
      id: `ecs-svc/${digitsId(19)}`,
      status: 'PRIMARY',
      taskDefinitionArn,
      desiredCount,
      createdAtMs: now,
      updatedAtMs: now,
      launchType: svc.launchType,
      networkConfiguration: copy(svc.networkConfiguration),
      crash: this.crashOf(this.taskDefinitionOrFail(taskDefinitionArn)),
      crashAnnounced: false,
      rampFrom: 0,
      rampStartMs: now,
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: 'ECS deployment detected.',
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
      this.addEvent(
        svc,
        start + TASK_START_SECONDS * 1000,
        `(service ${svc.name}) is unable to consistently start tasks successfully: essential container ${primary.crash!.containerName} ` +
          `(image ${primary.crash!.image}) exited before reaching RUNNING (deployment ${primary.id}). ` +
          'For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.',
      );
    }
    if (ok && p >= 1) {
      const at = start + D;
      svc.deployments = [primary];
      if (primary.rolloutState === 'IN_PROGRESS') {
        primary.rolloutState = 'COMPLETED';
        primary.rolloutStateReason = `ECS deployment ${primary.id} completed.`;
        primary.updatedAtMs = at;
        this.addEvent(svc, at, `(service ${svc.name}) (deployment ${primary.id}) deployment completed.`);
      }
      if (svc.status === 'DRAINING') svc.status = 'INACTIVE';
      else if (!svc.steady) this.addEvent(svc, at, `(service ${svc.name}) has reached a steady state.`);
      svc.steady = true;
    }
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
      task.stopRequest = { atMs: at, code: 'ServiceSchedulerInitiated', reason: `Scaling activity initiated by (deployment ${d.id})` };
      add(stopped, at, task);
    }
    const ids = (tasks: SimTask[]) => tasks.map((t) => `(task ${t.arn.split('/').at(-1)})`).join(' ');
    const targetGroups = svc.loadBalancers.map((lb) => `(target-group ${lb.targetGroupArn})`).join(' ');
    for (const [at, tasks] of started) {
      this.addEvent(svc, at, `(service ${svc.name}) has started ${tasks.length} tasks: ${ids(tasks)}.`);
      if (targetGroups) this.addEvent(svc, at, `(service ${svc.name}) registered ${tasks.length} targets in ${targetGroups}`);
    }
    for (const [at, tasks] of stopped) {
      if (targetGroups) this.addEvent(svc, at, `(service ${svc.name}) has begun draining connections on ${tasks.length} tasks.`);
      if (targetGroups) this.addEvent(svc, at, `(service ${svc.name}) deregistered ${tasks.length} targets in ${targetGroups}`);
      this.addEvent(svc, at, `(service ${svc.name}) has stopped ${tasks.length} running tasks: ${ids(tasks)}.`);
    }
  }

  /** Add an event; events are kept newest first (later-added first among equal times), at most 100. */
  private addEvent(svc: SimService, atMs: number, message: string): void {
    svc.events.unshift({ id: randomUUID(), createdAt: new Date(atMs), message });
    svc.events.sort((a, b) => b.createdAt!.getTime() - a.createdAt!.getTime());
    svc.events.length = Math.min(svc.events.length, MAX_EVENTS);
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
    opts: {
      group: string;
      startedBy?: string;
      launchType?: Task['launchType'];
      overrides: TaskOverride;
      mainContainer: string | undefined;
      /** @default now */
      createdAtMs?: number;
      runningAtMs: number | undefined;
      exit?: SimTask['exit'];
      tags?: Tag[];
      service?: SimTask['service'];
    },
  ): SimTask {
    const n = this.nextIp++;
    const task: SimTask = {
      arn: this.arn('ecs', `task/${cluster.name}/${hexId(32)}`),
      clusterArn: cluster.arn,
      taskDefinitionArn: td.taskDefinitionArn!,
      group: opts.group,
      startedBy: opts.startedBy,
      launchType: opts.launchType,
      overrides: opts.overrides,
      containers: td.containerDefinitions!.map((c) => ({ name: c.name!, image: c.image!, main: c.name === opts.mainContainer })),
      ip: `10.0.${(n >> 8) & 255}.${n & 255}`,
      createdAtMs: opts.createdAtMs ?? this.nowMs(),
      runningAtMs: opts.runningAtMs,
      exit: opts.exit,
      tags: copy(opts.tags ?? []),
      cpu: td.cpu,
      memory: td.memory,
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
        stopCode: byRequest ? t.stopRequest!.code : 'EssentialContainerExited',
        stoppedReason: byRequest ? t.stopRequest!.reason : 'Essential container in task exited',
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
    const containers: Container[] = t.containers.map((c, i) => ({
      containerArn: `${t.arn.replace(':task/', ':container/')}/${hexId(8)}-${i}`,
      taskArn: t.arn,
      name: c.name,
      image: c.image,
      lastStatus: s.lastStatus === 'STOPPING' ? 'RUNNING' : s.lastStatus,
      exitCode: stopped && s.exitCode !== undefined ? (c.main || !hasMain ? s.exitCode : 0) : undefined,
      reason: stopped && (c.main || !hasMain) ? s.containerReason : undefined,
      networkInterfaces: [{ attachmentId: 'eni-attachment', privateIpv4Address: t.ip }],
    }));
    const date = (ms: number | undefined) => (ms === undefined || ms === Infinity ? undefined : new Date(ms));
    return {
      taskArn: t.arn,
      clusterArn: t.clusterArn,
      taskDefinitionArn: t.taskDefinitionArn,
      lastStatus: s.lastStatus,
      desiredStatus: s.desiredStatus,
      launchType: t.launchType,
      startedBy: t.startedBy,
      group: t.group,
      overrides: copy(t.overrides),
      containers,
      cpu: t.cpu,
      memory: t.memory,
      availabilityZone: `${this.ctx.region}a`,
      connectivity: 'CONNECTED',
      createdAt: new Date(t.createdAtMs),
      pullStartedAt: t.runningAtMs !== undefined && now >= t.runningAtMs ? new Date(t.createdAtMs) : undefined,
      startedAt: t.runningAtMs !== undefined && now >= t.runningAtMs ? new Date(t.runningAtMs) : undefined,
      stoppingAt: date('stoppingAtMs' in s ? s.stoppingAtMs : undefined),
      stoppedAt: stopped ? date(s.stoppedAtMs) : undefined,
      executionStoppedAt: stopped ? date(s.stoppedAtMs) : undefined,
      stopCode: stopped ? s.stopCode : undefined,
      stoppedReason: stopped ? s.stoppedReason : undefined,
      attachments: [
        {
          id: t.arn.split('/').at(-1),
          type: 'ElasticNetworkInterface',
          status: stopped ? 'DELETED' : 'ATTACHED',
          details: [{ name: 'privateIPv4Address', value: t.ip }],
        },
      ],
      version: 1,
      tags: withTags ? copy(t.tags) : undefined,
    };
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
    const deployments: Deployment[] = svc.deployments.map((d, i) => {
      const running = d.runningTasks.length;
      const pending = i === 0 ? (ok ? Math.max(0, d.desiredCount - running) : d.desiredCount) : 0;
      const elapsed = (now - d.createdAtMs) / 1000 - TASK_START_SECONDS;
      const failed = i === 0 && !ok && elapsed >= 0 ? d.desiredCount * (1 + Math.floor(elapsed / CRASH_RETRY_SECONDS)) : 0;
      return {
        id: d.id,
        status: d.status,
        taskDefinition: d.taskDefinitionArn,
        desiredCount: d.desiredCount,
        pendingCount: pending,
        runningCount: running,
        failedTasks: failed,
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
      schedulingStrategy: 'REPLICA',
      deploymentController: { type: 'ECS' },
      enableECSManagedTags: false,
      propagateTags: 'NONE',
      enableExecuteCommand: false,
      tags: withTags ? copy(svc.tags) : undefined,
    };
  }
}

