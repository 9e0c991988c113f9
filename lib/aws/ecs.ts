/**
 * ECS adapter: task definition revisions for a release, one-off migration tasks (their status and
 * their container's log configuration), and the idle slot's service. Follows DescribeServices,
 * DescribeTaskDefinition, RegisterTaskDefinition, RunTask, DescribeTasks, StopTask and UpdateService; "stable" is the acceptor of the SDK's
 * `waitUntilServicesStable` (one deployment, runningCount === desiredCount).
 */
import { createHash } from 'node:crypto';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
  type LogConfiguration,
  type Service,
  type TaskDefinition,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { ecsClient } from './clients';
import { withRetryClassification } from './errors';
import { ResourceStateError } from '../domain/errors';

/** Send with retry classification; `what` names the call in errors (see ./errors). */
const send = <T>(fn: () => Promise<T>, what: string) => withRetryClassification(fn, `ECS ${what}`);

/**
 * Describe one service.
 * @throws ResourceStateError if it does not exist or is not ACTIVE (the message names DescribeServices
 *   and its answer); TransientAwsError / the SDK error naming the call (see ./errors)
 */
export async function describeService(cluster: string, service: string): Promise<Service> {
  const out = await send(() => ecsClient().send(new DescribeServicesCommand({ cluster, services: [service] })), `DescribeServices ${service} (cluster ${cluster})`);
  const found = out.services?.find((s) => s.serviceName === service || s.serviceArn?.endsWith(`/${service}`));
  if (!found || found.status !== 'ACTIVE') {
    const reason = out.failures?.[0]?.reason ?? found?.status ?? 'MISSING';
    throw new ResourceStateError(`ECS service ${service} in cluster ${cluster} is not usable (DescribeServices: ${reason}); create it or fix the slot in the config.`);
  }
  return found;
}

const DEPLOYMENT_TAG = 'cutover:deployment';

/**
 * A tag AWS reserves: its key or its value begins with `aws:` in any case (CloudFormation's
 * `aws:cloudformation:*` tags on a stack's task definition). ECS lists them in DescribeTaskDefinition
 * but RegisterTaskDefinition refuses them ("Do not use aws:, AWS:, or any upper or lowercase
 * combination of such as a prefix for either keys or values", ECS API reference, Tag).
 */
export function reservedTag(tag: { key?: string; value?: string }): boolean {
  return /^aws:/i.test(tag.key ?? '') || /^aws:/i.test(tag.value ?? '');
}

export interface RegisteredRevision {
  taskDefinitionArn: string;
  previousTaskDefinitionArn: string;
  family: string;
}

/**
 * Register a new revision of `fromArn`'s family with `image` in container `containerName`, tagged with
 * the deployment id. A retry finds the revision it registered before (latest revision of the family
 * tagged with the same deployment) instead of registering another.
 *
 * The revision is the described one minus ECS's read-only fields (see `registrable`: every field
 * RegisterTaskDefinition accepts is copied, e.g. runtimePlatform, ephemeralStorage, proxyConfiguration,
 * volumes, placementConstraints, pidMode, ipcMode, enableFaultInjection), with the described tags
 * except the reserved ones ({@link reservedTag}) and the previous `cutover:deployment` tag.
 * @throws ResourceStateError when the container does not exist in the task definition
 */
export async function registerReleaseRevision(
  fromArn: string,
  containerName: string,
  image: string,
  deploymentId: string,
): Promise<RegisteredRevision> {
  const client = ecsClient();
  const current = await send(() => client.send(new DescribeTaskDefinitionCommand({ taskDefinition: fromArn, include: ['TAGS'] })), `DescribeTaskDefinition ${fromArn}`);
  const td = current.taskDefinition as TaskDefinition;
  const family = td.family!;
  const latest = await send(() => client.send(new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ['TAGS'] })), `DescribeTaskDefinition ${family}`);
  if (latest.tags?.some((t) => t.key === DEPLOYMENT_TAG && t.value === deploymentId)) {
    return { taskDefinitionArn: latest.taskDefinition!.taskDefinitionArn!, previousTaskDefinitionArn: fromArn, family };
  }
  const containers = td.containerDefinitions ?? [];
  if (!containers.some((c) => c.name === containerName)) {
    throw new ResourceStateError(
      `Task definition ${fromArn} has no container "${containerName}" (it has ${containers.map((c) => c.name).join(', ') || 'none'}); fix "containerName" in the config.`,
    );
  }
  const out = await send(() =>
    client.send(
      new RegisterTaskDefinitionCommand({
        ...registrable(td),
        family,
        containerDefinitions: containers.map((c) => (c.name === containerName ? { ...c, image } : c)),
        tags: [...(current.tags ?? []).filter((t) => t.key !== DEPLOYMENT_TAG && !reservedTag(t)), { key: DEPLOYMENT_TAG, value: deploymentId }],
      }),
    ),
    `RegisterTaskDefinition ${family}`,
  );
  return { taskDefinitionArn: out.taskDefinition!.taskDefinitionArn!, previousTaskDefinitionArn: fromArn, family };
}

export interface OneOffTaskSpec {
  cluster: string;
  taskDefinitionArn: string;
  containerName: string;
  command: string[];
  /** Copied from the live service so the task lands in the same subnets and security groups. */
  from: Service;
  /** Idempotency token (≤ 64 chars): a retried RunTask with the same token starts no second task. */
  idempotencyKey: string;
  /** Environment variables added to the container (e.g. `CUTOVER_TEST_URL` for a smoke test). @default none */
  environment?: Record<string, string>;
  /** RunTask `startedBy` (ListTasks finds a kind of task by it). @default 'cutover-migration' */
  startedBy?: string;
}

/** Start a one-off task (the migration, the smoke test). @returns the task ARN. @throws ResourceStateError if ECS reports a failure */
export async function runOneOffTask(spec: OneOffTaskSpec): Promise<string> {
  const s = spec.from;
  const out = await send(() =>
    ecsClient().send(
      new RunTaskCommand({
        cluster: spec.cluster,
        taskDefinition: spec.taskDefinitionArn,
        count: 1,
        ...(s.capacityProviderStrategy?.length ? { capacityProviderStrategy: s.capacityProviderStrategy } : { launchType: s.launchType }),
        platformVersion: s.platformVersion,
        networkConfiguration: s.networkConfiguration,
        overrides: {
          containerOverrides: [
            {
              name: spec.containerName,
              command: spec.command,
              ...(spec.environment ? { environment: Object.entries(spec.environment).map(([name, value]) => ({ name, value })) } : {}),
            },
          ],
        },
        startedBy: spec.startedBy ?? 'cutover-migration',
        clientToken: createHash('sha256').update(spec.idempotencyKey).digest('hex').slice(0, 64),
      }),
    ),
    `RunTask ${spec.taskDefinitionArn} (cluster ${spec.cluster})`,
  );
  const task = out.tasks?.[0];
  if (!task?.taskArn) {
    const f = out.failures?.[0];
    throw new ResourceStateError(`RunTask did not start the ${spec.startedBy === 'cutover-smoke' ? 'smoke test' : 'migration'} task: ${f?.reason ?? 'no task returned'}${f?.detail ? ` (${f.detail})` : ''}.`);
  }
  return task.taskArn;
}

/** ECS stop reasons of a container that never started (Amazon ECS developer guide, "Stopped tasks error codes"). */
const NEVER_STARTED = /CannotPullContainer|ResourceInitializationError|CannotStartContainer|CannotCreateContainer|CannotInspectContainer|InvalidImage/i;

export interface OneOffTaskStatus {
  /**
   * `RUNNING` (not stopped yet), `SUCCEEDED` (exit 0 of a task that ended by itself), `NOT_STARTED`
   * (stopped before its container ran: TaskFailedToStart, an image pull or container start error —
   * nothing of the command ran), `FAILED`
   */
  status: 'RUNNING' | 'SUCCEEDED' | 'NOT_STARTED' | 'FAILED';
  exitCode: number | null;
  /** Why it stopped (ECS stoppedReason / container reason). */
  reason: string;
}

/**
 * Status of a one-off task and its container's exit code (DescribeTasks).
 * @param containerName the container whose exit code decides; the task's first container if it has none of that name
 * @throws TransientAwsError for throttling / 5xx (see ./errors); other SDK errors as they are
 */
export async function oneOffTaskStatus(cluster: string, taskArn: string, containerName: string): Promise<OneOffTaskStatus> {
  const out = await send(() => ecsClient().send(new DescribeTasksCommand({ cluster, tasks: [taskArn] })), `DescribeTasks ${taskArn}`);
  const task = out.tasks?.[0];
  if (!task) return { status: 'FAILED', exitCode: null, reason: `task ${taskArn} not found (${out.failures?.[0]?.reason ?? 'MISSING'})` };
  if (task.lastStatus !== 'STOPPED') return { status: 'RUNNING', exitCode: null, reason: task.lastStatus ?? 'PENDING' };
  const container = task.containers?.find((c) => c.name === containerName) ?? task.containers?.[0];
  const exitCode = container?.exitCode ?? null;
  const reason = [task.stoppedReason, container?.reason].filter(Boolean).join('; ') || task.stopCode || 'stopped';
  // No exit code and ECS says the container never started (Amazon ECS developer guide, "Stopped tasks
  // error codes": TaskFailedToStart, CannotPullContainerError, ResourceInitializationError, …).
  if (exitCode === null && (task.stopCode === 'TaskFailedToStart' || NEVER_STARTED.test(`${task.stoppedReason ?? ''} ${container?.reason ?? ''}`))) {
    const unique = [...new Set([task.stoppedReason, container?.reason].filter(Boolean))].join('; ');
    return { status: 'NOT_STARTED', exitCode, reason: `${task.stopCode ?? 'stopped'}: ${unique || 'the container never started'}` };
  }
  // Exit 0 counts only when the task ended by itself (the essential container exited): a task stopped
  // by someone or by ECS (stopCode UserInitiated, SpotInterruption, …) may exit 0 on SIGTERM mid-way.
  const endedByItself = task.stopCode === undefined || task.stopCode === 'EssentialContainerExited';
  return { status: exitCode === 0 && endedByItself ? 'SUCCEEDED' : 'FAILED', exitCode, reason };
}

/** Where a task's container sends its output: what a log reader needs (see `readTaskLogTail` in ./logs). */
export interface TaskContainerLogging {
  /** The task ARN, as DescribeTasks returns it (`arn:aws:ecs:<region>:<account>:task/<cluster>/<task id>`). */
  taskArn: string;
  /** The container (`containerName`, or the task's first container if it has none of that name). */
  containerName: string;
  /**
   * The container's `logConfiguration` in the task's task definition revision, e.g. `{ logDriver: 'awslogs',
   * options: { 'awslogs-group': '/ecs/app', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'app' } }`;
   * undefined when it has none.
   */
  logConfiguration?: LogConfiguration;
}

/**
 * The log configuration of a task's container (DescribeTasks, then DescribeTaskDefinition of the task's
 * own revision — the one it ran, not the family's latest).
 * @param containerName as for {@link oneOffTaskStatus}
 * @returns undefined when ECS does not know the task
 * @throws TransientAwsError for throttling / 5xx (see ./errors); other SDK errors (e.g. ECS
 *   `ClientException` for a deregistered revision) as they are
 */
export async function taskContainerLogging(cluster: string, taskArn: string, containerName: string): Promise<TaskContainerLogging | undefined> {
  const client = ecsClient();
  const out = await send(() => client.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] })), `DescribeTasks ${taskArn}`);
  const task = out?.tasks?.[0];
  if (!task?.taskDefinitionArn) return undefined;
  const name = (task.containers?.find((c) => c.name === containerName) ?? task.containers?.[0])?.name ?? containerName;
  const td = await send(() => client.send(new DescribeTaskDefinitionCommand({ taskDefinition: task.taskDefinitionArn })), `DescribeTaskDefinition ${task.taskDefinitionArn}`);
  const logConfiguration = td?.taskDefinition?.containerDefinitions?.find((c) => c.name === name)?.logConfiguration;
  return { taskArn: task.taskArn ?? taskArn, containerName: name, ...(logConfiguration ? { logConfiguration } : {}) };
}

/** Stop a task. @throws TransientAwsError / the SDK error naming the call (see ./errors) */
export async function stopTask(cluster: string, taskArn: string, reason: string): Promise<void> {
  await send(() => ecsClient().send(new StopTaskCommand({ cluster, task: taskArn, reason })), `StopTask ${taskArn}`);
}

/**
 * Point a service at a task definition and desired count (either optional).
 * @throws TransientAwsError / the SDK error naming the call (see ./errors), e.g. `ServiceNotFoundException`
 */
export async function updateService(cluster: string, service: string, change: { taskDefinition?: string; desiredCount?: number }): Promise<void> {
  await send(() => ecsClient().send(new UpdateServiceCommand({ cluster, service, ...change })), `UpdateService ${service} (cluster ${cluster})`);
}

/** The `waitUntilServicesStable` acceptor, plus: the primary deployment runs `taskDefinitionArn`. */
export function isStable(service: Service, taskDefinitionArn: string): boolean {
  const deployments = service.deployments ?? [];
  return (
    deployments.length === 1 &&
    service.runningCount === service.desiredCount &&
    (deployments[0]!.taskDefinition === taskDefinitionArn || service.taskDefinition === taskDefinitionArn)
  );
}

/** The fields of a described task definition that RegisterTaskDefinition does not take (ECS sets them). */
type ReadOnlyTaskDefinitionField = 'taskDefinitionArn' | 'revision' | 'status' | 'requiresAttributes' | 'compatibilities' | 'registeredAt' | 'registeredBy' | 'deregisteredAt' | 'deleteRequestedAt';

/**
 * Everything of a described task definition that RegisterTaskDefinition accepts: the whole
 * description minus the read-only fields. The two type checks below fail to compile when the SDK's
 * `TaskDefinition` gains a field RegisterTaskDefinition does not take (list it as read-only) or the
 * request gains one the description does not carry — so no new field is silently dropped (as
 * `enableFaultInjection` was, when each field was copied by hand).
 */
function registrable(td: TaskDefinition): Omit<TaskDefinition, ReadOnlyTaskDefinitionField> {
  const { taskDefinitionArn: _a, revision: _r, status: _s, requiresAttributes: _q, compatibilities: _c, registeredAt: _t, registeredBy: _b, deregisteredAt: _d, deleteRequestedAt: _x, ...rest } = td;
  return rest;
}
type Registrable = Omit<TaskDefinition, ReadOnlyTaskDefinitionField>;
type NotAccepted = Exclude<keyof Registrable, keyof RegisterTaskDefinitionCommandInput>;
type NotCopied = Exclude<keyof RegisterTaskDefinitionCommandInput, keyof Registrable | 'tags'>;
const _allAccepted: [NotAccepted] extends [never] ? true : NotAccepted = true;
const _allCopied: [NotCopied] extends [never] ? true : NotCopied = true;
void _allAccepted;
void _allCopied;
