/**
 * Seeding the simulator from a cutover config: the AWS resources a user's account would already have.
 */
import type { KeyValuePair, NetworkConfiguration, RegisterTaskDefinitionRequest } from '@aws-sdk/client-ecs';
import type { Config, EnvironmentConfig, TrafficRoute } from '../../config/schema';
import type { CloudWatchSimulator } from './cloudwatch';
import type { EcsSimulator } from './ecs';
import { forwardAction, type Elbv2Simulator } from './elbv2';
import type { RdsSimulator } from './rds';
import type { SecretsSimulator } from './secrets';

export interface SeedOptions {
  /** Tag of the image both slots run initially (`<imageRepository>:<tag>`). @default 'v1' */
  readonly initialImageTag?: string;
  /** Desired (and running) count of the live (blue) slot. @default 2 */
  readonly liveDesiredCount?: number;
  /** When given, a Secrets Manager secret with this value is created (the GitHub webhook secret). */
  readonly webhookSecret?: string;
  /** Name of that secret. @default 'cutover/github-webhook-secret' */
  readonly webhookSecretName?: string;
}

/** The container port of seeded task definitions and target groups. */
export const SEED_CONTAINER_PORT = 8080;

/** Network configuration of seeded awsvpc services and tasks. */
export const NETWORK: NetworkConfiguration = {
  awsvpcConfiguration: { subnets: ['subnet-0sima', 'subnet-0simb'], securityGroups: ['sg-0sim'], assignPublicIp: 'DISABLED' },
};

interface Services {
  /** Region of the simulator (the task definitions' `awslogs-region`). @default 'us-east-1' */
  readonly region?: string;
  readonly ecs: EcsSimulator;
  readonly elbv2: Elbv2Simulator;
  readonly rds: RdsSimulator;
  readonly cloudwatch: CloudWatchSimulator;
  readonly secrets: SecretsSimulator;
}

/**
 * Create, for every service and environment of `config` (ARNs used verbatim): the ECS cluster; task
 * definition `<service>-<environment>` revision 1 (one container `containerName`, image
 * `<imageRepository>:<initialImageTag>`, port 8080, awsvpc/Fargate, logs to CloudWatch Logs with
 * `awslogs`: see {@link initialTaskDefinition}); both target groups; the load
 * balancer and production listener (or listener + rule) forwarding 100 to blue / 0 to green; the test
 * listener or rule forwarding 100 to green; the blue service (stable, `liveDesiredCount` tasks
 * registered in the blue target group) and the green service (desired 0); the DB instance, or the
 * Aurora cluster with one writer, `available`; each alarm in OK; and the webhook secret if asked.
 * Resources shared between environments (cluster, listener, alarm) are created once.
 */
export function seedFromConfig(sim: Services, config: Config, opts: SeedOptions = {}): void {
  for (const [serviceName, service] of Object.entries(config.services)) {
    for (const [environmentName, env] of Object.entries(service.environments)) {
      seedEnvironment(sim, `${serviceName}-${environmentName}`, env, opts);
    }
  }
  if (opts.webhookSecret !== undefined) {
    sim.secrets.seedSecret(opts.webhookSecretName ?? 'cutover/github-webhook-secret', opts.webhookSecret);
  }
}

function seedEnvironment(sim: Services, family: string, env: EnvironmentConfig, opts: SeedOptions): void {
  const { blue, green } = env.slots;
  sim.ecs.createCluster({ clusterName: env.cluster });
  const { taskDefinition } = sim.ecs.registerTaskDefinition(initialTaskDefinition(family, env, opts.initialImageTag ?? 'v1', [], sim.region));

  sim.elbv2.seedTargetGroup(blue.targetGroupArn, SEED_CONTAINER_PORT);
  sim.elbv2.seedTargetGroup(green.targetGroupArn, SEED_CONTAINER_PORT);
  seedRoute(sim.elbv2, env.production, { [blue.targetGroupArn]: 100, [green.targetGroupArn]: 0 }, 80);
  if (env.test) seedRoute(sim.elbv2, env.test, { [green.targetGroupArn]: 100 }, 8080);

  for (const [slot, desiredCount] of [
    [blue, opts.liveDesiredCount ?? 2],
    [green, 0],
  ] as const) {
    sim.ecs.seedStableService({
      cluster: env.cluster,
      serviceName: slot.service,
      taskDefinition: taskDefinition!.taskDefinitionArn,
      desiredCount,
      launchType: 'FARGATE',
      loadBalancers: [{ targetGroupArn: slot.targetGroupArn, containerName: env.containerName, containerPort: SEED_CONTAINER_PORT }],
      networkConfiguration: NETWORK,
    });
  }

  if (env.database?.instanceIdentifier) sim.rds.seedInstance(env.database.instanceIdentifier);
  if (env.database?.clusterIdentifier) sim.rds.seedCluster(env.database.clusterIdentifier);
  for (const alarm of env.alarms) sim.cloudwatch.seedAlarm(alarm, 'OK');
}

/** `awslogs-stream-prefix` of the seeded task definitions: streams are `cutover/<container>/<task id>`. */
export const SEED_LOG_STREAM_PREFIX = 'cutover';

/**
 * The log group of an environment's seeded task definition: `/ecs/<family>`, the name the ECS console's
 * "Auto-configure CloudWatch Logs" gives a task definition family's group.
 */
export function seedLogGroupName(family: string): string {
  return `/ecs/${family}`;
}

/**
 * The first task definition revision of an environment: family `family`, one container
 * `containerName` of image `<imageRepository>:<imageTag>` on port 8080, awsvpc/Fargate, whose output goes
 * to CloudWatch Logs with the `awslogs` driver: group {@link seedLogGroupName} (`/ecs/<family>`), stream
 * prefix {@link SEED_LOG_STREAM_PREFIX} (streams `cutover/<containerName>/<task id>`), region `region`.
 * @param environment the container's environment variables @default none
 * @param region `awslogs-region` @default 'us-east-1' (the twin's default region)
 */
export function initialTaskDefinition(
  family: string,
  env: EnvironmentConfig,
  imageTag: string,
  environment: KeyValuePair[] = [],
  region = 'us-east-1',
): RegisterTaskDefinitionRequest {
  return {
    family,
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: '256',
    memory: '512',
    containerDefinitions: [
      {
        name: env.containerName,
        image: `${env.imageRepository}:${imageTag}`,
        essential: true,
        portMappings: [{ containerPort: SEED_CONTAINER_PORT, protocol: 'tcp' }],
        ...(environment.length ? { environment } : {}),
        logConfiguration: {
          logDriver: 'awslogs',
          options: {
            'awslogs-group': seedLogGroupName(family),
            'awslogs-region': region,
            'awslogs-stream-prefix': SEED_LOG_STREAM_PREFIX,
          },
        },
      },
    ],
  };
}

/** Create the listener or rule of a route, forwarding by `weights` (listener on `port`). */
export function seedRoute(elbv2: Elbv2Simulator, route: TrafficRoute, weights: Record<string, number>, port: number): void {
  if ('listenerArn' in route) elbv2.seedListener(route.listenerArn, [forwardAction(weights)], { port });
  else elbv2.seedRule(route.ruleArn, [forwardAction(weights)]);
}
