/**
 * Seeding the living twin: the AWS resources a user's account has before cutover's first deployment,
 * created for real — listeners that accept connections, a PostgreSQL per database, the live slot's
 * tasks running the initial release as processes behind the load balancer.
 *
 * Two phases, because the load balancer must listen before tasks can pass health checks:
 * {@link seedLiveResources} (synchronous: clusters, target groups, listeners, alarms, databases being
 * started) and {@link startInitialReleases} (asynchronous: waits for each database, runs the initial
 * release's setup command as a one-off task, starts the live slot and waits until its tasks are healthy).
 */
import type { Service, Task } from '@aws-sdk/client-ecs';
import type { Config, EnvironmentConfig } from '../../config/schema';
import { ConfigError } from '../../config/load';
import { OVERLOAD_ADVICE, type SimClock } from '../clock';
import type { LiveEcs, Simulator } from '../simulator';
import { initialTaskDefinition, NETWORK, SEED_CONTAINER_PORT, seedRoute } from '../simulator/seed';
import { initialReleaseOf, type TwinAccount } from './account';
import type { PostgresHost } from './postgres/host';

/** One environment of the config, with its names. */
interface Environment {
  readonly service: string;
  readonly environment: string;
  readonly env: EnvironmentConfig;
}

function environments(config: Config): Environment[] {
  return Object.entries(config.services).flatMap(([service, s]) =>
    Object.entries(s.environments).map(([environment, env]) => ({ service, environment, env })),
  );
}

/**
 * Create clusters, target groups (with the account's health checks and deregistration delay), the
 * production and test listeners or rules (100% to blue; test to green), the account's alarms (in OK),
 * and the databases (their PostgreSQL servers start in the background).
 * @throws ConfigError when an alarm the config names is not defined in the account
 */
export function seedLiveResources(sim: Simulator<LiveEcs>, config: Config, account: TwinAccount): void {
  const defined = new Set(account.alarms.map((a) => a.AlarmName));
  const undefinedAlarms = environments(config).flatMap(({ env }) => env.alarms.filter((a) => !defined.has(a)));
  if (undefinedAlarms.length > 0) {
    throw new ConfigError(
      `The twin account defines no alarm named ${[...new Set(undefinedAlarms)].join(', ')}: add each alarm the cutover config names to the account's "alarms" (PutMetricAlarm fields).`,
    );
  }
  const tg = account.targetGroups;
  for (const { env } of environments(config)) {
    sim.ecs.createCluster({ clusterName: env.cluster });
    for (const slot of [env.slots.blue, env.slots.green]) {
      sim.elbv2.seedTargetGroup(slot.targetGroupArn, SEED_CONTAINER_PORT, {
        HealthCheckPath: tg.healthCheckPath,
        HealthCheckIntervalSeconds: tg.healthCheckIntervalSeconds,
        HealthCheckTimeoutSeconds: tg.healthCheckTimeoutSeconds,
        HealthyThresholdCount: tg.healthyThresholdCount,
        UnhealthyThresholdCount: tg.unhealthyThresholdCount,
      });
      sim.elbv2.invoke('ModifyTargetGroupAttributes', {
        TargetGroupArn: slot.targetGroupArn,
        Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: String(tg.deregistrationDelaySeconds) }],
      });
    }
    seedRoute(sim.elbv2, env.production, { [env.slots.blue.targetGroupArn]: 100, [env.slots.green.targetGroupArn]: 0 }, 80);
    if (env.test) seedRoute(sim.elbv2, env.test, { [env.slots.green.targetGroupArn]: 100 }, 8080);
    if (env.database?.instanceIdentifier) sim.rds.seedInstance(env.database.instanceIdentifier);
    if (env.database?.clusterIdentifier) sim.rds.seedCluster(env.database.clusterIdentifier);
  }
  for (const alarm of account.alarms) sim.cloudwatch.seedMetricAlarm(alarm, 'OK');
}

export interface StartInitialOptions {
  /** Progress lines. */
  readonly progress?: (line: string) => void;
  /**
   * Real milliseconds to wait for each database, the setup task and each live slot. The real work in
   * them holds the simulated clock (a task starting, a database starting), so this bounds only a
   * machine far too busy or an application that never starts. @default 120000
   */
  readonly timeoutMs?: number;
}

/**
 * For every environment: wait until its database is `available`; register task definition
 * `<service>-<environment>` revision 1 (image `<imageRepository>:<imageTag>` of the service's initial
 * release: the account's `initialReleases[service]`, else `initialRelease`; its environment with `${databaseUrl}` replaced by the database's endpoint URL); run the
 * initial release's setup command (e.g. its migrations) as a one-off task and require exit code 0;
 * create the blue service at the account's desired count and the green one at 0, and wait until
 * blue's deployment has COMPLETED (its tasks healthy in the target group).
 * @throws Error naming the environment and the task's log when the setup command fails or a wait times out
 */
export async function startInitialReleases(
  sim: Simulator<LiveEcs>,
  postgres: PostgresHost,
  config: Config,
  account: TwinAccount,
  opts: StartInitialOptions = {},
): Promise<void> {
  const progress = opts.progress ?? (() => undefined);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  for (const { service, environment, env } of environments(config)) {
    const name = `${service}/${environment}`;
    const initial = initialReleaseOf(account, service);
    let databaseUrl = '';
    const db = env.database;
    if (db) {
      const kind = db.clusterIdentifier ? 'cluster' : 'instance';
      const id = (db.clusterIdentifier ?? db.instanceIdentifier)!;
      progress(`${name}: starting PostgreSQL for ${kind} ${id}`);
      await waitFor(`${name}: database ${id} to become available`, timeoutMs, () => dbStatus(sim, kind, id) === 'available', () => explainClock(sim));
      databaseUrl = await postgres.connectionUrl(id, kind);
    }
    const environmentVars = Object.entries(initial.environment).map(([k, v]) => ({ name: k, value: v.replaceAll('${databaseUrl}', databaseUrl) }));
    const { taskDefinition } = sim.ecs.registerTaskDefinition(initialTaskDefinition(`${service}-${environment}`, env, initial.imageTag, environmentVars, sim.region));
    const tdArn = taskDefinition!.taskDefinitionArn!;
    if (initial.setupCommand) {
      progress(`${name}: running setup task ${initial.setupCommand.join(' ')}`);
      const { tasks } = sim.ecs.runTask({
        cluster: env.cluster,
        taskDefinition: tdArn,
        launchType: 'FARGATE',
        networkConfiguration: NETWORK,
        startedBy: 'cutover-twin-setup',
        overrides: { containerOverrides: [{ name: env.containerName, command: [...initial.setupCommand] }] },
      });
      const taskArn = tasks![0]!.taskArn!;
      let task: Task | undefined;
      await waitFor(
        `${name}: setup task`,
        timeoutMs,
        () => {
          task = sim.ecs.describeTasks({ cluster: env.cluster, tasks: [taskArn] }).tasks?.[0];
          return task?.lastStatus === 'STOPPED';
        },
        () => `The task is ${task?.lastStatus ?? 'unknown'}; its log is logs/${env.cluster}/${taskArn.split('/').pop()}.log in the state directory. ${explainClock(sim)}`,
      );
      const exitCode = task?.containers?.[0]?.exitCode;
      if (exitCode !== 0) {
        throw new Error(
          `${name}: the setup task (${initial.setupCommand.join(' ')}) ended with ${exitCode === undefined ? task?.stoppedReason : `exit code ${exitCode}`}; see its log under the twin's logs directory (task ${taskArn.split('/').pop()}).`,
        );
      }
    }
    for (const [slot, desiredCount] of [
      [env.slots.blue, initial.desiredCount],
      [env.slots.green, 0],
    ] as const) {
      sim.ecs.createService({
        cluster: env.cluster,
        serviceName: slot.service,
        taskDefinition: tdArn,
        desiredCount,
        launchType: 'FARGATE',
        loadBalancers: [{ targetGroupArn: slot.targetGroupArn, containerName: env.containerName, containerPort: SEED_CONTAINER_PORT }],
        networkConfiguration: NETWORK,
        healthCheckGracePeriodSeconds: 30,
      });
    }
    progress(`${name}: starting ${initial.desiredCount} task(s) of ${initial.imageTag} on ${env.slots.blue.service}`);
    let svc: Service | undefined;
    await waitFor(
      `${name}: ${env.slots.blue.service} to become stable`,
      timeoutMs,
      () => {
        svc = sim.ecs.describeService(env.cluster, env.slots.blue.service);
        return svc?.deployments?.length === 1 && svc.deployments[0]!.rolloutState === 'COMPLETED' && svc.runningCount === initial.desiredCount;
      },
      () => explainServiceWait(sim, env.cluster, env.slots.blue.service),
    );
  }
}

/** What the explanations of a wait read: the live ECS and the clock (a `Simulator<LiveEcs>` has both). */
export interface ExplainSource {
  readonly ecs: Pick<LiveEcs, 'describeService' | 'tasksOf'>;
  readonly clock: Pick<SimClock, 'holds'>;
}

/**
 * Why a service is not stable yet, for the message of a start-up wait that gave up: its newest event,
 * its tasks (status, whether each listens on its port yet), the clock's holds, and what to do.
 * @example "Its last event: (service hello-world-blue) has started 2 tasks: … Tasks: 1a2b… RUNNING, not listening on port 40001 yet (pid 123). …"
 */
export function explainServiceWait(sim: ExplainSource, cluster: string, service: string): string {
  const parts: string[] = [];
  const last = sim.ecs.describeService(cluster, service)?.events?.[0]?.message;
  if (last) parts.push(`Its last event: ${last}`);
  const tasks = sim.ecs.tasksOf(cluster, service);
  if (tasks.length > 0) {
    const described = tasks.map((t) => {
      const c = t.containers.find((x) => x.hostPort !== undefined);
      const listening = c === undefined ? '' : c.listening ? `, listening on port ${c.hostPort}` : `, not listening on port ${c.hostPort} yet`;
      return `${t.taskArn.split('/').pop()} ${t.lastStatus}${listening}${c?.pid === undefined ? '' : ` (pid ${c.pid})`}`;
    });
    parts.push(`Tasks: ${described.join('; ')}.`);
  } else {
    parts.push('It has no task that is not STOPPED.');
  }
  parts.push(`The task logs are in the state directory's logs/${cluster}/.`);
  parts.push(explainClock(sim));
  return parts.join(' ');
}

/**
 * What holds the simulated clock now and what to do about a machine too busy, for messages of waits
 * that gave up.
 */
export function explainClock(sim: Pick<ExplainSource, 'clock'>): string {
  const holds = sim.clock.holds();
  const held =
    holds.length === 0
      ? 'Nothing holds the simulated clock now.'
      : `The simulated clock is held for ${holds
          .slice(0, 3)
          .map((h) => `${h.what} (${Math.round(h.heldRealMs / 1000)} s real)`)
          .join(', ')}${holds.length > 3 ? ` and ${holds.length - 3} more` : ''}.`;
  return `${held} ${OVERLOAD_ADVICE}`;
}

/**
 * Status of a DB instance or cluster now (DescribeDBInstances / DescribeDBClusters).
 * @returns e.g. `available`, `creating`, `starting`; undefined when it does not exist
 */
export function dbStatus(sim: Simulator<LiveEcs>, kind: 'instance' | 'cluster', id: string): string | undefined {
  if (kind === 'instance') return sim.rds.describeDBInstances({ DBInstanceIdentifier: id }).DBInstances?.[0]?.DBInstanceStatus;
  return sim.rds.describeDBClusters({ DBClusterIdentifier: id }).DBClusters?.[0]?.Status;
}

/**
 * Poll `done` every 25 real ms until it returns true.
 * @param what what is awaited, for the error message
 * @param timeoutMs real milliseconds
 * @param explain why it may not be done yet and what to do, appended to the error message (called when giving up)
 * @throws Error "Timed out after <s> s real waiting for <what>. <explain()>" when `done` is still false after `timeoutMs`
 */
export async function waitFor(what: string, timeoutMs: number, done: () => boolean, explain?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) {
      let why = '';
      try {
        why = explain ? ` ${explain()}` : '';
      } catch {
        // an explanation that fails must not hide the timeout
      }
      throw new Error(`Timed out after ${Math.round(timeoutMs / 1000)} s real waiting for ${what}.${why}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
