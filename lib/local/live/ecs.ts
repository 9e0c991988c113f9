/**
 * The living twin's Amazon ECS: the same API as the simulator's {@link EcsSimulator} (same operations,
 * validation and output shapes — clusters and task definitions are delegated to an inner one), but a
 * task is real child processes and everything happens on events: process exits, timers in simulated
 * time ({@link SimTimers}), target health read from the load balancer ({@link TargetRegistry}).
 *
 * Tasks (see "Amazon ECS task lifecycle" in the ECS Developer Guide):
 * - PROVISIONING (`provisioningSeconds`) → PENDING (image "pull", `pullSeconds`; an image the
 *   {@link ImageRegistry} does not know stops the task: `stopCode` TaskFailedToStart, `stoppedReason`
 *   "CannotPullContainerError: …") → RUNNING once every container's process is spawned.
 * - A container's process runs argv = container override `command` ?? task definition `command` ??
 *   image `command` (a task definition `entryPoint` is prepended and drops the image command, as in
 *   Docker), in the image's `cwd`, with an environment of only PATH and HOME from the twin's own, then
 *   the image's `environment`, the task definition's, the override's, and `PORT`.
 * - Networking is like bridge mode with `hostPort: 0`: each container with `portMappings` gets a dynamic
 *   host port on 127.0.0.1 for its first `containerPort`, passed as `PORT`; DescribeTasks shows it in
 *   `containers[].networkBindings`, and the task's IP as 127.0.0.1. Load balancer targets are
 *   `127.0.0.1:<host port>`.
 * - stdout and stderr of all containers of a task go to `<logDir>/<cluster>/<task id>.log` (like awslogs).
 * - When an essential container exits, the other containers are stopped and the task is STOPPED with
 *   `stopCode` EssentialContainerExited ("Essential container in task exited"); StopTask stops it with
 *   UserInitiated; the service scheduler with ServiceSchedulerInitiated. Stopping a RUNNING task:
 *   DEACTIVATING while its targets are deregistered (draining; service tasks with load balancers only),
 *   then STOPPING: SIGTERM to every container, SIGKILL after the container's `stopTimeout` (default
 *   `stopTimeoutSeconds`), STOPPED once every process has exited. Each container's `exitCode` is the
 *   real one (a signal shows as 128 + its number: 143 for SIGTERM, 137 for SIGKILL). A task stopped
 *   before RUNNING is STOPPED at once, without exit codes.
 *
 * Services (REPLICA, rolling update with minimumHealthyPercent 100 / maximumPercent 200):
 * - A new task definition (or `forceNewDeployment`) adds a PRIMARY deployment that starts its desired
 *   count of tasks at once. Each RUNNING service task is registered in every target group of the service.
 *   An old deployment's desired count drops by one for each new task that is `healthy` in all its
 *   target groups; its surplus tasks are then stopped (drained first).
 * - Old deployments are removed, the primary's `rolloutState` turns COMPLETED and the events say
 *   "has reached a steady state." only when the primary has its desired count of RUNNING tasks, each
 *   healthy in all its target groups, and no other task of the service is left (old processes have
 *   exited) — so `isStable` (lib/aws/ecs.ts) is true exactly when the release really serves.
 * - As in ECS, `runningCount` counts RUNNING tasks whether or not their targets are healthy yet: for a
 *   service's first deployment, or a change of `desiredCount` only, the service has one deployment all
 *   along, so `runningCount === desiredCount` may come before the targets are healthy; the primary's
 *   `rolloutState` COMPLETED (and the steady-state event) is what waits for health.
 * - `desiredCount` alone scales the primary (scale-in drains first). A task whose essential process
 *   exits, or whose image cannot be pulled, is a failed task (`failedTasks` of its deployment, until a
 *   task of it has succeeded) and is replaced after a delay that doubles with each consecutive failure
 *   (`restartDelaySeconds` … `maxRestartDelaySeconds`); after 3 in a row the events say "(service X) is
 *   unable to consistently start tasks successfully." A target reported `unhealthy` after the service's
 *   `healthCheckGracePeriodSeconds` gets its task stopped and replaced ("(service X) (task Y) failed ELB
 *   health checks in (target-group Z)").
 *
 * - The scheduler acts on every API call (after firing timers that are due, which also covers
 *   `clock.advance()`), on task events, and on a poll of target health every `healthPollSeconds`
 *   (at least every second of real time, at most every 10 ms).
 *
 * Real work holds the simulated clock ({@link SimClock.hold}), so a busy machine never turns into
 * simulated time passing (a grace period running out, a replacement loop):
 * - from the spawn of a container process with a port mapping until it accepts connections on its
 *   host port (a TCP connect every {@link LISTEN_POLL_MS} real ms; the twin's only way to learn that the
 *   application listens) or exits, at most `listenTimeoutMs` real ms — then a warning names the task,
 *   its service, port and log, and says what to do. So `healthCheckGracePeriodSeconds` and the target
 *   group's health checks count from the moment the application listens. A one-off task (RunTask)
 *   whose container never listens (a migration) holds the clock until it exits: its real run time is
 *   not simulated time either.
 * A stopping task does not hold the clock: its stop timeout (SIGTERM → SIGKILL) is real seconds, and
 * the simulated time its shutdown takes shows in `stoppingAt` → `stoppedAt`.
 *
 * Unlike ECS, a task that stops after reaching RUNNING counts toward the throttle too (the twin's tasks
 * reach RUNNING as soon as their process is spawned, so a crash on start would never count otherwise).
 * All containers of a task run, essential or not; only the first port mapping of a container is mapped.
 */
import type * as ECS from '@aws-sdk/client-ecs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  addServiceEvent,
  completeRollout,
  deleteServiceWith,
  describeServicesWith,
  describeTasksWith,
  EcsSimulator,
  ecsOperations,
  listTasksWith,
  newDeploymentRecord,
  newServiceRecord,
  newTaskRecord,
  reportTargets,
  reportTasks,
  runTaskRequest,
  scalingReason,
  serviceShape,
  taskShape,
  taskToStop,
  updateServiceWith,
  USER_STOP_REASON,
  type EcsApi,
  type EcsClusterRef,
  type EcsDeploymentRecord,
  type EcsServiceRecord,
  type EcsTaskRecord,
  type TaskDefinitionExport,
  type TaskStart,
} from '../simulator/ecs';
import type { Elbv2Simulator } from '../simulator/elbv2';
import { SimulatedService } from '../simulator/service';
import { nameFromArn, type SimContext } from '../simulator/util';
import { SimTimers } from './ecs-timers';
import { allocatePort, ContainerProcess, type ContainerExit } from './process';
import type { ImageRegistry, LiveTarget, TargetRegistry } from './types';

/** Durations of the live ECS, in simulated seconds (they pass at the clock's time scale). */
export interface LiveEcsTimings {
  /** A task is PROVISIONING this long before PENDING. @default 1 */
  readonly provisioningSeconds?: number;
  /** A task is PENDING (pulling its images) this long before its processes start. @default 2 */
  readonly pullSeconds?: number;
  /** Stop timeout (REAL seconds) of a container whose definition has no `stopTimeout` (SIGTERM → SIGKILL), as in ECS. @default 30 */
  readonly stopTimeoutSeconds?: number;
  /** A service replaces its first failed task after this delay; each further consecutive failure doubles it. @default 10 */
  readonly restartDelaySeconds?: number;
  /** Cap of the replacement delay (ECS documents up to 15 minutes). @default 900 */
  readonly maxRestartDelaySeconds?: number;
  /**
   * How often the target health of service tasks is read from the {@link TargetRegistry}: a real-time
   * poll every `realMs(healthPollSeconds)`, clamped to 10-1000 real ms (observing more often changes no
   * simulated outcome; the scheduler also acts on every API call and task event). @default 5
   */
  readonly healthPollSeconds?: number;
}

/** Everything {@link LiveEcs} runs against besides the simulation context. */
export interface LiveEcsOptions {
  /** The simulator's ELBv2, to validate CreateService's `loadBalancers` (target group exists, has a load balancer). */
  readonly elbv2: Elbv2Simulator;
  /** The live load balancer: service tasks are registered and deregistered here, their health read here. */
  readonly targets: TargetRegistry;
  /** The twin's container registry: image → command, working directory, environment. */
  readonly images: ImageRegistry;
  /** Directory of the task logs: `<logDir>/<cluster name>/<task id>.log` (created as needed). */
  readonly logDir: string;
  readonly timings?: LiveEcsTimings;
  /** Real milliseconds {@link LiveEcs.close} waits after SIGTERM before it sends SIGKILL. @default 2000 */
  readonly closeGraceMs?: number;
  /**
   * Real milliseconds a container process with a port mapping may take to listen on its host port (or,
   * for a one-off task, to exit) while it holds the simulated clock; after that the clock runs on and a
   * warning names the task (see the module documentation). @default 60000
   */
  readonly listenTimeoutMs?: number;
}

/** A task's containers and host ports, for the twin (e.g. to find a service task's port). */
export interface LiveTaskInfo {
  readonly taskArn: string;
  readonly lastStatus: string;
  readonly desiredStatus: string;
  readonly taskDefinitionArn: string;
  /** Deployment (`ecs-svc/…`) of a service task. */
  readonly deploymentId?: string;
  readonly containers: readonly {
    readonly name: string;
    /** OS process id while the container runs (or ran). */
    readonly pid?: number;
    /** The container port mapped (the first of its `portMappings`). */
    readonly containerPort?: number;
    /** Its host port on 127.0.0.1, once allocated (PENDING). */
    readonly hostPort?: number;
    /** True once the process accepted a connection on its host port (only for containers with a port). */
    readonly listening?: boolean;
    readonly exitCode?: number;
  }[];
}

/**
 * An ACTIVE service as {@link LiveEcs.exportServices} returns it and {@link LiveEcs.restoreServices}
 * takes it: CreateService's fields, with the PRIMARY deployment's task definition and desired count. JSON-safe.
 */
export interface LiveServiceExport {
  /** Cluster name. */
  readonly cluster: string;
  readonly serviceName: string;
  /** Task definition ARN of the PRIMARY deployment (the one the service is rolling out, or runs). */
  readonly taskDefinition: string;
  /** Desired count of the PRIMARY deployment. */
  readonly desiredCount: number;
  readonly launchType?: ECS.LaunchType;
  readonly loadBalancers: ECS.LoadBalancer[];
  readonly networkConfiguration?: ECS.NetworkConfiguration;
  /** Simulated seconds. */
  readonly healthCheckGracePeriodSeconds?: number;
  readonly deploymentConfiguration?: ECS.DeploymentConfiguration;
  readonly tags: ECS.Tag[];
}

const DEFAULT_TIMINGS: Required<LiveEcsTimings> = {
  provisioningSeconds: 1,
  pullSeconds: 2,
  stopTimeoutSeconds: 30,
  restartDelaySeconds: 10,
  maxRestartDelaySeconds: 900,
  healthPollSeconds: 5,
};

/** Consecutive failed tasks after which a service reports that it cannot start tasks. */
const THROTTLE_AFTER_FAILURES = 3;
const LOOPBACK = '127.0.0.1';
/** Real milliseconds between two connection attempts to a starting container's host port. */
export const LISTEN_POLL_MS = 20;

type TaskStatus = 'PROVISIONING' | 'PENDING' | 'RUNNING' | 'DEACTIVATING' | 'STOPPING' | 'STOPPED';

interface LiveDeployment extends EcsDeploymentRecord {
  /** Failed tasks until a task of the deployment succeeded (ECS then stops counting). */
  failedTasks: number;
  /** A task of the deployment was once RUNNING and healthy in all its target groups. */
  succeeded: boolean;
  consecutiveFailures: number;
  /** "unable to consistently start tasks" was reported for the current run of failures. */
  throttled: boolean;
  /** Replacement tasks start no earlier than this (simulated epoch ms). */
  notBeforeMs: number;
}

type LiveService = EcsServiceRecord<LiveDeployment>;

interface LiveContainer {
  readonly def: ECS.ContainerDefinition;
  readonly override?: ECS.ContainerOverride;
  readonly essential: boolean;
  readonly containerPort?: number;
  /** REAL seconds between SIGTERM and SIGKILL (the process's own shutdown runs in real time). */
  readonly stopTimeout: number;
  lastStatus: 'PENDING' | 'RUNNING' | 'STOPPED';
  hostPort?: number;
  proc?: ContainerProcess;
  /** The process accepted a connection on its host port (see {@link LiveEcs} on holds). */
  listening?: boolean;
  exitCode?: number;
  reason?: string;
}

interface LiveTask extends EcsTaskRecord {
  readonly cluster: EcsClusterRef;
  readonly containers: LiveContainer[];
  readonly service?: LiveService;
  readonly deployment?: LiveDeployment;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  createdAtMs: number;
  pullStartedAtMs?: number;
  pullStoppedAtMs?: number;
  startedAtMs?: number;
  stoppingAtMs?: number;
  stoppedAtMs?: number;
  stopCode?: ECS.Task['stopCode'];
  stoppedReason?: string;
}

/**
 * The living twin's ECS service ('ecs'): serve it to the SDK like any {@link SimulatedService}
 * (`invoke(operation, input)`), and call {@link LiveEcs.close} when the twin stops.
 */
export class LiveEcs extends SimulatedService {
  private readonly inner: EcsSimulator;
  private readonly targets: TargetRegistry;
  private readonly images: ImageRegistry;
  private readonly logDir: string;
  private readonly timing: Required<LiveEcsTimings>;
  private readonly closeGraceMs: number;
  private readonly listenTimeoutMs: number;
  private readonly services: LiveService[] = [];
  private readonly tasks = new Map<string, LiveTask>();
  private readonly timers: SimTimers;
  private readonly api: EcsApi<LiveService>;
  private poll?: NodeJS.Timeout;
  private kickPending = false;
  private closed = false;
  private closing?: Promise<void>;

  protected readonly operations = ecsOperations(this);

  /**
   * @param ctx the simulator's clock, region and account
   * @throws Error naming the timing that is negative or not a number, a negative `closeGraceMs` or a
   *   `listenTimeoutMs` that is not > 0
   */
  constructor(ctx: SimContext, opts: LiveEcsOptions) {
    super('ecs', ctx);
    this.inner = new EcsSimulator(ctx, opts.elbv2);
    this.targets = opts.targets;
    this.images = opts.images;
    this.logDir = opts.logDir;
    this.closeGraceMs = opts.closeGraceMs ?? 2000;
    if (!(this.closeGraceMs >= 0)) throw new Error(`LiveEcs closeGraceMs must be real milliseconds >= 0, got ${this.closeGraceMs}`);
    this.listenTimeoutMs = opts.listenTimeoutMs ?? 60_000;
    if (!(this.listenTimeoutMs > 0)) throw new Error(`LiveEcs listenTimeoutMs must be real milliseconds > 0, got ${this.listenTimeoutMs}`);
    const timing: Record<string, number> = { ...DEFAULT_TIMINGS };
    for (const [name, value] of Object.entries(opts.timings ?? {})) {
      if (value === undefined) continue;
      if (!(value >= 0)) throw new Error(`LiveEcs timings.${name} must be simulated seconds >= 0, got ${String(value)}`);
      timing[name] = value;
    }
    this.timing = timing as Required<LiveEcsTimings>;
    this.timers = new SimTimers(ctx.clock);
    this.api = {
      errors: this.errors,
      elbv2: opts.elbv2,
      region: ctx.region,
      services: this.services,
      nowMs: () => this.nowMs(),
      arn: (resource) => this.arn('ecs', resource),
      cluster: (ref) => this.inner.requireCluster(ref),
      taskDefinition: (ref) => this.inner.requireTaskDefinition(ref),
    };
  }

  // ---------------------------------------------------------------- twin hooks

  /**
   * A service as DescribeServices shows it now (for scenario checks).
   * @param cluster cluster name or ARN
   * @param service service name or ARN
   * @returns undefined when there is no such service in that cluster
   */
  describeService(cluster: string, service: string): ECS.Service | undefined {
    this.refresh();
    const svc = this.services.findLast((s) => s.cluster.name === nameFromArn(cluster) && s.name === nameFromArn(service));
    return svc && this.serviceOutput(svc, true);
  }

  /**
   * The tasks of a cluster that are not STOPPED yet, oldest first, with their processes and host ports
   * (e.g. to reach a service task at `127.0.0.1:<hostPort>`).
   * @param cluster cluster name or ARN
   * @param service only this service's tasks (name or ARN)
   */
  tasksOf(cluster: string, service?: string): LiveTaskInfo[] {
    return [...this.tasks.values()]
      .filter((t) => t.cluster.name === nameFromArn(cluster) && t.lastStatus !== 'STOPPED')
      .filter((t) => service === undefined || t.service?.name === nameFromArn(service))
      .map((t) => ({
        taskArn: t.arn,
        lastStatus: t.lastStatus,
        desiredStatus: t.desiredStatus,
        taskDefinitionArn: t.taskDefinitionArn,
        deploymentId: t.deployment?.id,
        containers: t.containers.map((c) => ({
          name: c.def.name!,
          pid: c.proc?.pid,
          containerPort: c.containerPort,
          hostPort: c.hostPort,
          ...(c.hostPort === undefined ? {} : { listening: c.listening === true }),
          exitCode: c.exitCode,
        })),
      }));
  }

  /**
   * Stop everything: every timer, and every container process (SIGTERM, then SIGKILL after
   * `closeGraceMs` real ms). Tasks are left as they are; the service scheduler no longer acts.
   * @returns resolves once every process has exited (idempotent)
   */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      clearInterval(this.poll);
      this.timers.clear();
      const procs = [...this.tasks.values()].flatMap((t) => t.containers.map((c) => c.proc)).filter((p) => p?.running) as ContainerProcess[];
      for (const p of procs) p.signal('SIGTERM');
      const kill = setTimeout(() => procs.forEach((p) => p.signal('SIGKILL')), this.closeGraceMs);
      await Promise.all(procs.map((p) => p.exited));
      clearTimeout(kill);
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------- account state (the living twin's restarts)

  /** Every registered task definition revision, as {@link EcsSimulator.exportTaskDefinitions} (the store is shared). */
  exportTaskDefinitions(): TaskDefinitionExport[] {
    return this.inner.exportTaskDefinitions();
  }

  /**
   * Register exported task definitions again with the same revisions and ARNs, as
   * {@link EcsSimulator.restoreTaskDefinitions}.
   * @throws Error naming the task definition that cannot be restored
   */
  restoreTaskDefinitions(list: readonly TaskDefinitionExport[]): void {
    this.inner.restoreTaskDefinitions(list);
  }

  /** The ACTIVE services, oldest first (DRAINING and INACTIVE ones are being or were deleted). */
  exportServices(): LiveServiceExport[] {
    this.refresh();
    return this.services
      .filter((svc) => svc.status === 'ACTIVE')
      .map((svc) => {
        const primary = svc.deployments[0]!;
        return structuredClone({
          cluster: svc.cluster.name,
          serviceName: svc.name,
          taskDefinition: primary.taskDefinitionArn,
          desiredCount: primary.desiredCount,
          ...(svc.launchType === undefined ? {} : { launchType: svc.launchType }),
          loadBalancers: svc.loadBalancers,
          ...(svc.networkConfiguration === undefined ? {} : { networkConfiguration: svc.networkConfiguration }),
          ...(svc.healthCheckGracePeriodSeconds === undefined ? {} : { healthCheckGracePeriodSeconds: svc.healthCheckGracePeriodSeconds }),
          ...(svc.deploymentConfiguration === undefined ? {} : { deploymentConfiguration: svc.deploymentConfiguration }),
          tags: svc.tags,
        });
      });
  }

  /**
   * Create exported services again (CreateService, so the same ARN `service/<cluster>/<name>`): each
   * starts its task definition at its desired count at once, as a service's first deployment does.
   * The task definitions and clusters must exist already.
   * @throws the SDK's typed exceptions of CreateService (e.g. ClusterNotFoundException, ClientException
   *   for an unknown task definition, InvalidParameterException for a service that exists)
   */
  restoreServices(list: readonly LiveServiceExport[]): void {
    for (const s of list) {
      this.createService({
        cluster: s.cluster,
        serviceName: s.serviceName,
        taskDefinition: s.taskDefinition,
        desiredCount: s.desiredCount,
        launchType: s.launchType,
        loadBalancers: structuredClone(s.loadBalancers),
        networkConfiguration: structuredClone(s.networkConfiguration),
        healthCheckGracePeriodSeconds: s.healthCheckGracePeriodSeconds,
        deploymentConfiguration: structuredClone(s.deploymentConfiguration),
        tags: structuredClone(s.tags),
      });
    }
  }

  // ---------------------------------------------------------------- clusters and task definitions (inner simulator)

  /** CreateCluster, as {@link EcsSimulator.createCluster}, with live task and service counts. */
  createCluster(input: ECS.CreateClusterRequest): ECS.CreateClusterResponse {
    const out = this.inner.createCluster(input);
    return { cluster: this.withCounts(out.cluster!) };
  }

  /** DescribeClusters, as {@link EcsSimulator.describeClusters}, with live task and service counts. */
  describeClusters(input: ECS.DescribeClustersRequest): ECS.DescribeClustersResponse {
    this.refresh();
    const out = this.inner.describeClusters(input);
    return { ...out, clusters: out.clusters?.map((c) => this.withCounts(c)) };
  }

  /** RegisterTaskDefinition, as {@link EcsSimulator.registerTaskDefinition}. */
  registerTaskDefinition(input: ECS.RegisterTaskDefinitionRequest): ECS.RegisterTaskDefinitionResponse {
    return this.inner.registerTaskDefinition(input);
  }

  /** DescribeTaskDefinition, as {@link EcsSimulator.describeTaskDefinition}. */
  describeTaskDefinition(input: ECS.DescribeTaskDefinitionRequest): ECS.DescribeTaskDefinitionResponse {
    return this.inner.describeTaskDefinition(input);
  }

  // ---------------------------------------------------------------- services

  /**
   * CreateService, validated as {@link EcsSimulator.createService}; the first deployment starts its
   * `desiredCount` tasks at once.
   */
  createService(input: ECS.CreateServiceRequest): ECS.CreateServiceResponse {
    const now = this.nowMs();
    const { record, td } = newServiceRecord(this.api, input, now);
    const svc: LiveService = { ...record, deployments: [] };
    svc.deployments.push(this.newDeployment(svc, td.taskDefinitionArn!, input.desiredCount ?? 0, now));
    this.services.push(svc);
    this.startPolling();
    this.reconcile(svc);
    return { service: this.serviceOutput(svc, false) };
  }

  /** DescribeServices, as {@link EcsSimulator.describeServices}, showing the live deployments. */
  describeServices(input: ECS.DescribeServicesRequest): ECS.DescribeServicesResponse {
    this.refresh();
    return describeServicesWith(this.api, input, (svc, withTags) => this.serviceOutput(svc, withTags));
  }

  /**
   * UpdateService, validated as {@link EcsSimulator.updateService}: a new deployment rolls out as
   * described in this module's documentation; `desiredCount` alone scales the primary.
   */
  updateService(input: ECS.UpdateServiceRequest): ECS.UpdateServiceResponse {
    this.timers.runDue();
    const svc = updateServiceWith(this.api, input, {
      refresh: (s) => this.reconcile(s),
      beforeChange: () => {},
      newDeployment: (s, taskDefinitionArn, desiredCount, now) => this.newDeployment(s, taskDefinitionArn, desiredCount, now),
    });
    this.reconcile(svc);
    return { service: this.serviceOutput(svc, false) };
  }

  /**
   * DeleteService, validated as {@link EcsSimulator.deleteService}: the service turns DRAINING, its tasks
   * are stopped (drained first), then it is INACTIVE.
   */
  deleteService(input: ECS.DeleteServiceRequest): ECS.DeleteServiceResponse {
    this.timers.runDue();
    const svc = deleteServiceWith(this.api, input, { refresh: (s) => this.reconcile(s), beforeChange: () => {} });
    this.reconcile(svc);
    return { service: this.serviceOutput(svc, false) };
  }

  // ---------------------------------------------------------------- tasks

  /**
   * RunTask, validated as {@link EcsSimulator.runTask}: each task runs its containers' processes and
   * is STOPPED with their exit codes when an essential one exits. Tasks are returned PROVISIONING.
   */
  runTask(input: ECS.RunTaskRequest): ECS.RunTaskResponse {
    const { cluster, td, overrides } = runTaskRequest(this.api, input);
    const tasks: ECS.Task[] = [];
    for (let i = 0; i < (input.count ?? 1); i++) {
      const task = this.newTask(cluster, td, {
        group: `family:${td.family}`,
        startedBy: input.startedBy,
        launchType: input.launchType,
        overrides,
        tags: input.tags ?? [],
      });
      tasks.push(this.taskOutput(task, false));
    }
    return { tasks, failures: [] };
  }

  /** DescribeTasks, as {@link EcsSimulator.describeTasks}, with the live state, exit codes and host ports. */
  describeTasks(input: ECS.DescribeTasksRequest): ECS.DescribeTasksResponse {
    this.refresh();
    return describeTasksWith(this.api, input, (arn) => this.tasks.get(arn), (task, withTags) => this.taskOutput(task, withTags));
  }

  /**
   * StopTask: `task` required (unknown → InvalidParameterException). A task not yet RUNNING is STOPPED
   * at once; a RUNNING one is drained from its target groups, then SIGTERM, SIGKILL after `stopTimeout`.
   * `stopCode` UserInitiated; a service replaces its task.
   */
  stopTask(input: ECS.StopTaskRequest): ECS.StopTaskResponse {
    this.timers.runDue();
    const task = taskToStop(this.api, input, (arn) => this.tasks.get(arn));
    if (task.desiredStatus === 'RUNNING' && task.service) task.service.steady = false;
    this.requestStop(task, 'UserInitiated', input.reason ?? USER_STOP_REASON);
    if (task.service) this.reconcile(task.service);
    return { task: this.taskOutput(task, false) };
  }

  /** ListTasks, as {@link EcsSimulator.listTasks}. */
  listTasks(input: ECS.ListTasksRequest): ECS.ListTasksResponse {
    this.refresh();
    const tasks = [...this.tasks.values()].map((t) => ({ ...t, serviceName: t.service?.name }));
    return listTasksWith(this.api, input, tasks);
  }

  // ---------------------------------------------------------------- the service scheduler

  private newDeployment(svc: LiveService, taskDefinitionArn: string, desiredCount: number, now: number): LiveDeployment {
    return {
      ...newDeploymentRecord(svc, taskDefinitionArn, desiredCount, now),
      failedTasks: 0,
      succeeded: false,
      consecutiveFailures: 0,
      throttled: false,
      notBeforeMs: 0,
    };
  }

  /** Fire due timers and bring every service up to date (before an observation). */
  private refresh(): void {
    this.timers.runDue();
    for (const svc of this.services) this.reconcile(svc);
  }

  /** Reconcile every service soon (coalesced), after an event such as a task state change. */
  private kick(): void {
    if (this.kickPending || this.closed) return;
    this.kickPending = true;
    setImmediate(() => {
      this.kickPending = false;
      this.refresh();
    });
  }

  private startPolling(): void {
    if (this.poll || this.closed) return;
    const ms = Math.min(1000, Math.max(10, this.ctx.clock.realMs(this.timing.healthPollSeconds)));
    this.poll = setInterval(() => this.refresh(), ms);
    this.poll.unref();
  }

  /**
   * Bring a service to its desired state: act on target health (failed health checks, the first
   * success of a deployment), shrink old deployments as new tasks turn healthy, start and stop tasks to
   * match each deployment's desired count, and complete the rollout when only healthy primary tasks remain.
   */
  private reconcile(svc: LiveService): void {
    if (this.closed || svc.status === 'INACTIVE') return;
    const now = this.nowMs();
    const own = [...this.tasks.values()].filter((t) => t.service === svc);
    for (const task of own) this.checkHealth(svc, task, now);

    // Minimum healthy 100 %: an old deployment keeps as many tasks as the primary still lacks healthy ones.
    const primary = svc.deployments[0]!;
    const healthy = own.filter((t) => t.deployment === primary && this.serving(t)).length;
    let budget = Math.max(0, primary.desiredCount - healthy);
    for (const d of svc.deployments.slice(1)) {
      const keep = Math.min(d.desiredCount, budget);
      if (keep !== d.desiredCount) {
        d.desiredCount = keep;
        d.updatedAtMs = now;
      }
      budget -= keep;
    }

    const started: string[] = [];
    const stopped: string[] = [];
    for (const d of svc.deployments) {
      const active = own.filter((t) => t.deployment === d && t.desiredStatus === 'RUNNING');
      // Scale in: tasks not yet RUNNING first, then unhealthy ones, then the newest.
      const victims = active
        .sort((a, b) => this.keepRank(b) - this.keepRank(a) || b.createdAtMs - a.createdAtMs)
        .slice(0, Math.max(0, active.length - d.desiredCount));
      for (const task of victims) {
        this.requestStop(task, 'ServiceSchedulerInitiated', scalingReason(d));
        stopped.push(task.arn);
      }
      const missing = d.desiredCount - active.length;
      if (missing > 0 && svc.status === 'ACTIVE') {
        if (now < d.notBeforeMs) continue; // a timer set by the failure fires the next reconcile
        const td = this.api.taskDefinition(d.taskDefinitionArn);
        for (let i = 0; i < missing; i++) {
          const task = this.newTask(svc.cluster, td, {
            group: `service:${svc.name}`,
            startedBy: d.id,
            launchType: d.launchType,
            overrides: { containerOverrides: [] },
            tags: [],
            service: svc,
            deployment: d,
          });
          own.push(task);
          started.push(task.arn);
        }
      }
    }
    if (started.length > 0) reportTasks(svc, now, 'started', started);
    if (stopped.length > 0) reportTasks(svc, now, 'stopped', stopped);

    const remaining = own.filter((t) => t.lastStatus !== 'STOPPED');
    if (remaining.length === primary.desiredCount && remaining.every((t) => t.deployment === primary && this.serving(t))) {
      completeRollout(svc, now);
    }
  }

  /** Higher for tasks the scheduler should rather keep when it scales in. */
  private keepRank(task: LiveTask): number {
    if (task.lastStatus !== 'RUNNING') return 0;
    return this.serving(task) ? 2 : 1;
  }

  /** RUNNING, wanted, and healthy in every target group of its service. */
  private serving(task: LiveTask): boolean {
    if (task.lastStatus !== 'RUNNING' || task.desiredStatus !== 'RUNNING') return false;
    return this.targetsOf(task).every(([tg, target]) => this.targets.state(tg, target) === 'healthy');
  }

  /** Note a deployment's first success; stop a task whose target is unhealthy after the grace period. */
  private checkHealth(svc: LiveService, task: LiveTask, now: number): void {
    const d = task.deployment!;
    if (this.serving(task)) {
      d.consecutiveFailures = 0;
      d.throttled = false;
      if (!d.succeeded) {
        d.succeeded = true;
        d.failedTasks = 0;
      }
      return;
    }
    if (task.lastStatus !== 'RUNNING' || task.desiredStatus !== 'RUNNING') return;
    if (now < task.startedAtMs! + (svc.healthCheckGracePeriodSeconds ?? 0) * 1000) return;
    const failing = this.targetsOf(task).find(([tg, target]) => this.targets.state(tg, target) === 'unhealthy');
    if (!failing) return;
    const tg = failing[0];
    addServiceEvent(svc, now, `(service ${svc.name}) (task ${task.arn.split('/').at(-1)}) failed ELB health checks in (target-group ${tg})`);
    if (!d.succeeded) d.failedTasks++;
    svc.steady = false;
    this.requestStop(task, 'ServiceSchedulerInitiated', `Task failed ELB health checks in (target-group ${tg})`);
    reportTasks(svc, now, 'stopped', [task.arn]);
  }

  /** A service task failed to start or its essential process exited: count it and delay the replacement. */
  private recordFailure(task: LiveTask): void {
    const svc = task.service;
    const d = task.deployment;
    if (!svc || !d || this.closed) return;
    const now = this.nowMs();
    if (!d.succeeded) d.failedTasks++;
    d.consecutiveFailures++;
    svc.steady = false;
    const delay = Math.min(this.timing.maxRestartDelaySeconds, this.timing.restartDelaySeconds * 2 ** (d.consecutiveFailures - 1));
    d.notBeforeMs = now + delay * 1000;
    this.timers.after(delay, () => this.kick());
    if (d.consecutiveFailures >= THROTTLE_AFTER_FAILURES && !d.throttled) {
      d.throttled = true;
      addServiceEvent(
        svc,
        now,
        `(service ${svc.name}) is unable to consistently start tasks successfully. ` +
          'For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.',
      );
    }
  }

  // ---------------------------------------------------------------- task lifecycle

  private newTask(
    cluster: EcsClusterRef,
    td: ECS.TaskDefinition,
    opts: TaskStart & { service?: LiveService; deployment?: LiveDeployment },
  ): LiveTask {
    const task: LiveTask = {
      ...newTaskRecord(this.api, cluster, td, opts),
      cluster,
      containers: td.containerDefinitions!.map((def) => ({
        def,
        override: opts.overrides.containerOverrides?.find((o) => o.name === def.name),
        essential: def.essential !== false,
        containerPort: def.portMappings?.[0]?.containerPort,
        stopTimeout: def.stopTimeout ?? this.timing.stopTimeoutSeconds,
        lastStatus: 'PENDING',
      })),
      service: opts.service,
      deployment: opts.deployment,
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      createdAtMs: this.nowMs(),
    };
    this.tasks.set(task.arn, task);
    this.launch(task).catch((err: Error) => {
      // An unexpected failure (no free port, log directory not writable): the task fails to start.
      for (const c of task.containers) c.proc?.signal('SIGKILL');
      this.failToStart(task, `CannotStartContainerError: ${err.message}`);
    });
    return task;
  }

  /** PROVISIONING → PENDING (image pull, host ports) → RUNNING (processes spawned, targets registered). */
  private async launch(task: LiveTask): Promise<void> {
    const wanted = () => !this.closed && task.desiredStatus === 'RUNNING';
    if (!(await this.timers.sleep(this.timing.provisioningSeconds)) || !wanted()) return;
    task.lastStatus = 'PENDING';
    task.pullStartedAtMs = this.nowMs();
    const ports = await Promise.all(task.containers.map((c) => (c.containerPort === undefined ? undefined : allocatePort())));
    if (!(await this.timers.sleep(this.timing.pullSeconds)) || !wanted()) return;
    const images = task.containers.map((c) => this.images.resolve(c.def.image!));
    const missing = task.containers.findIndex((_, i) => images[i] === undefined);
    if (missing >= 0) {
      const reason = `CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref ${task.containers[missing]!.def.image}: not found`;
      task.containers[missing]!.reason = reason;
      this.failToStart(task, reason);
      return;
    }
    task.pullStoppedAtMs = this.nowMs();
    const logFile = join(this.logDir, task.cluster.name, `${task.arn.split('/').at(-1)}.log`);
    for (const [i, c] of task.containers.entries()) {
      const image = images[i]!;
      const command = c.override?.command ?? c.def.command;
      const argv = c.def.entryPoint?.length ? [...c.def.entryPoint, ...(command ?? [])] : (command ?? [...image.command]);
      c.hostPort = ports[i];
      if (argv.length === 0) {
        c.reason = 'CannotStartContainerError: Error response from daemon: No command specified';
        break;
      }
      const env: Record<string, string> = {};
      for (const key of ['PATH', 'HOME']) if (process.env[key] !== undefined) env[key] = process.env[key]!;
      Object.assign(env, image.environment, pairs(c.def.environment), pairs(c.override?.environment));
      if (c.hostPort !== undefined) env.PORT = String(c.hostPort);
      c.proc = ContainerProcess.start({ argv, cwd: image.cwd, env, logFile });
      if (c.proc.pid === undefined) {
        c.reason = `CannotStartContainerError: ${(await c.proc.exited).error}`;
        break;
      }
    }
    const broken = task.containers.find((c) => c.reason);
    if (broken || this.closed) {
      for (const c of task.containers) c.proc?.signal('SIGKILL');
      if (broken) this.failToStart(task, broken.reason!);
      return;
    }
    task.lastStatus = 'RUNNING';
    task.startedAtMs = this.nowMs();
    for (const c of task.containers) {
      c.lastStatus = 'RUNNING';
      void c.proc!.exited.then((exit) => this.onContainerExit(task, c, exit));
      if (c.hostPort !== undefined) this.watchListen(task, c, logFile);
    }
    if (!wanted()) {
      // Stopped (StopTask, scale-in) while the processes were starting.
      void this.stopRunning(task);
      return;
    }
    this.registerTargets(task);
    this.kick();
  }

  /** A task that never reached RUNNING: STOPPED with TaskFailedToStart; a service counts the failure. */
  private failToStart(task: LiveTask, reason: string): void {
    task.stopCode = 'TaskFailedToStart';
    task.stoppedReason = reason;
    this.finish(task);
    this.recordFailure(task);
  }

  private registerTargets(task: LiveTask): void {
    const svc = task.service;
    if (!svc) return;
    const now = this.nowMs();
    let registered = 0;
    for (const [tg, target] of this.targetsOf(task)) {
      try {
        this.targets.register(tg, target);
        registered++;
      } catch (err) {
        addServiceEvent(svc, now, `(service ${svc.name}) failed to register targets in (target-group ${tg}) with (error ${(err as Error).message})`);
      }
    }
    if (registered > 0) reportTargets(svc, now, 'registered', 1);
  }

  /** The (target group, target) pairs of a service task: 127.0.0.1 and its container's host port. */
  private targetsOf(task: LiveTask): [string, LiveTarget][] {
    const result: [string, LiveTarget][] = [];
    for (const lb of task.service?.loadBalancers ?? []) {
      const port = task.containers.find((c) => c.def.name === lb.containerName)?.hostPort;
      if (lb.targetGroupArn && port !== undefined) result.push([lb.targetGroupArn, { id: LOOPBACK, port }]);
    }
    return result;
  }

  /** Ask a task to stop (no-op if it already is stopping); `stopCode` and `stoppedReason` are kept for STOPPED. */
  private requestStop(task: LiveTask, code: ECS.Task['stopCode'], reason: string): void {
    if (task.desiredStatus === 'STOPPED') return;
    task.desiredStatus = 'STOPPED';
    task.stopCode = code;
    task.stoppedReason = reason;
    if (task.lastStatus === 'PROVISIONING' || task.lastStatus === 'PENDING') this.finish(task);
    else if (task.lastStatus === 'RUNNING') void this.stopRunning(task);
  }

  /** DEACTIVATING (targets drain) → STOPPING (SIGTERM, SIGKILL after the stop timeout) → STOPPED on exit. */
  private async stopRunning(task: LiveTask): Promise<void> {
    const targets = this.targetsOf(task);
    if (targets.length > 0) {
      task.lastStatus = 'DEACTIVATING';
      await Promise.all(targets.map(([tg, target]) => this.targets.deregister(tg, target).catch(() => undefined)));
    }
    if (this.closed) return;
    task.lastStatus = 'STOPPING';
    task.stoppingAtMs = this.nowMs();
    this.terminate(task);
  }

  /**
   * SIGTERM every running container, SIGKILL after its stop timeout; STOPPED at once if none runs.
   * The stop timeout is REAL seconds: it bounds the process's own (real-time) shutdown work, which a
   * scaled 30 s (0.5 s at ×60) would cut short on a busy machine.
   */
  private terminate(task: LiveTask): void {
    const running = task.containers.filter((c) => c.proc?.running);
    if (running.length === 0) this.finish(task);
    for (const c of running) {
      c.proc!.signal('SIGTERM');
      setTimeout(() => c.proc!.signal('SIGKILL'), c.stopTimeout * 1000).unref();
    }
  }

  /** `task 1a2b… of service hello-world-green` / `one-off task 1a2b… of hello-world-production:3`, for holds and warnings. */
  private taskName(task: LiveTask): string {
    const id = task.arn.split('/').at(-1);
    if (task.service) return `task ${id} of service ${task.service.name}`;
    return `one-off task ${id} of ${task.taskDefinitionArn.split('/').at(-1)}`;
  }

  /**
   * Hold the simulated clock from a container's spawn until it accepts a TCP connection on its host
   * port, or exits, or {@link listenTimeoutMs} real ms passed (then the clock's warning names the task).
   * Marks the container `listening` and reconciles when it listens.
   */
  private watchListen(task: LiveTask, c: LiveContainer, logFile: string): void {
    const port = c.hostPort!;
    const proc = c.proc!;
    const oneOff = !task.service;
    const seconds = formatSeconds(this.listenTimeoutMs);
    const release = this.ctx.clock.hold(`${this.taskName(task)} to listen on port ${port}${oneOff ? ' or exit' : ''}`, {
      maxRealMs: this.listenTimeoutMs,
      kind: oneOff ? 'one-off task' : 'task start',
      message: () =>
        `${this.taskName(task)} (container ${c.def.name}, image ${c.def.image}, pid ${proc.pid}) has not ${oneOff ? 'exited or ' : ''}listened on its port ${port} ` +
        `after ${seconds} s real, so the twin's simulated clock runs on without it${oneOff ? '' : ' (its health-check grace period now passes)'}: ` +
        `see its log ${logFile}. The machine may be overloaded (free the CPU, or run the twin with a smaller --time-scale), ` +
        `or the application does not listen on 127.0.0.1:$PORT.`,
    });
    let retry: NodeJS.Timeout | undefined;
    let socket: Socket | undefined;
    const done = () => {
      clearTimeout(retry);
      socket?.destroy();
      release();
    };
    void proc.exited.then(done);
    const attempt = () => {
      if (!proc.running || this.closed) {
        done();
        return;
      }
      const s = connect({ host: LOOPBACK, port });
      socket = s;
      s.once('connect', () => {
        c.listening = true;
        done();
        this.kick();
      });
      s.once('error', () => {
        s.destroy();
        retry = setTimeout(attempt, LISTEN_POLL_MS);
        retry.unref();
      });
    };
    attempt();
  }

  private onContainerExit(task: LiveTask, c: LiveContainer, exit: ContainerExit): void {
    c.lastStatus = 'STOPPED';
    c.exitCode = exit.exitCode;
    if (this.closed) return;
    if (c.essential && task.desiredStatus === 'RUNNING') {
      task.desiredStatus = 'STOPPED';
      task.stopCode = 'EssentialContainerExited';
      task.stoppedReason = 'Essential container in task exited';
      task.lastStatus = 'STOPPING';
      task.stoppingAtMs = this.nowMs();
      for (const [tg, target] of this.targetsOf(task)) void this.targets.deregister(tg, target).catch(() => undefined);
      this.recordFailure(task);
      this.terminate(task);
    } else if (task.lastStatus === 'STOPPING' && task.containers.every((x) => !x.proc?.running)) {
      this.finish(task);
    }
  }

  private finish(task: LiveTask): void {
    if (task.lastStatus === 'STOPPED') return;
    task.lastStatus = 'STOPPED';
    task.desiredStatus = 'STOPPED';
    task.stoppedAtMs = this.nowMs();
    for (const c of task.containers) c.lastStatus = 'STOPPED';
    this.kick();
  }

  // ---------------------------------------------------------------- outputs

  private withCounts(cluster: ECS.Cluster): ECS.Cluster {
    const tasks = [...this.tasks.values()].filter((t) => t.clusterArn === cluster.clusterArn);
    return {
      ...cluster,
      runningTasksCount: tasks.filter((t) => t.lastStatus === 'RUNNING').length,
      pendingTasksCount: tasks.filter((t) => t.lastStatus === 'PROVISIONING' || t.lastStatus === 'PENDING').length,
      activeServicesCount: this.services.filter((s) => s.cluster.arn === cluster.clusterArn && s.status === 'ACTIVE').length,
    };
  }

  private serviceOutput(svc: LiveService, withTags: boolean): ECS.Service {
    const tasks = [...this.tasks.values()].filter((t) => t.service === svc && t.desiredStatus === 'RUNNING');
    return serviceShape(
      svc,
      (d) => ({
        running: tasks.filter((t) => t.deployment === d && t.lastStatus === 'RUNNING').length,
        pending: tasks.filter((t) => t.deployment === d && t.lastStatus !== 'RUNNING').length,
        failed: d.failedTasks,
      }),
      withTags,
    );
  }

  private taskOutput(task: LiveTask, withTags: boolean): ECS.Task {
    return taskShape(
      {
        ...task,
        ip: LOOPBACK,
        containers: task.containers.map((c) => ({
          name: c.def.name,
          image: c.def.image,
          lastStatus: c.lastStatus,
          exitCode: c.exitCode,
          reason: c.reason,
          networkBindings:
            c.hostPort === undefined ? undefined : [{ bindIP: LOOPBACK, containerPort: c.containerPort, hostPort: c.hostPort, protocol: 'tcp' }],
        })),
        tags: withTags ? task.tags : undefined,
      },
      this.ctx.region,
    );
  }
}

/** `[{ name, value }]` (task definition environment) → a record. */
function pairs(list: readonly ECS.KeyValuePair[] | undefined): Record<string, string> {
  return Object.fromEntries((list ?? []).filter((p) => p.name !== undefined).map((p) => [p.name!, p.value ?? '']));
}

/** Real milliseconds as seconds for messages: `60`, `2.5`. */
function formatSeconds(ms: number): string {
  return ms >= 10_000 ? String(Math.round(ms / 1000)) : String(Math.round(ms / 100) / 10);
}
