/**
 * Resolving a deploy execution's input into a deployment plan: everything the state machine needs,
 * taken from the config once at the start so that later steps never re-read it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Config, TrafficRoute } from '../config/schema';
import { findTarget } from '../config/load';
import {
  CodeCommitDeployInputSchema,
  ExplicitDeployInputSchema,
  type Release,
  type Trigger,
} from './deploy-input';
import { InvalidInputError } from './errors';
import type { SlotName, SlotRef } from './slots';
import { trafficSteps, type TrafficStep } from './traffic-plan';

/** Wait between checks of green's stability, seconds (the `WaitForGreen` state). */
export const GREEN_CHECK_INTERVAL_SECONDS = 15;
/** Wait between snapshot status checks, seconds (`WaitForSnapshot`). */
export const SNAPSHOT_CHECK_INTERVAL_SECONDS = 30;
/** Wait between migration task checks, seconds (`WaitForMigration`). */
export const MIGRATION_CHECK_INTERVAL_SECONDS = 10;
/** Wait between snapshot-restore steps, seconds (`WaitForRestore`). */
export const RESTORE_CHECK_INTERVAL_SECONDS = 30;
/** How long a snapshot may take before the deployment gives up, seconds (2 h). */
export const SNAPSHOT_TIMEOUT_SECONDS = 7200;

/** A production or test route, normalised. */
export interface Route {
  readonly kind: 'listener' | 'rule';
  readonly arn: string;
}

export interface DatabasePlan {
  readonly kind: 'instance' | 'cluster';
  /** DB instance or Aurora cluster identifier. */
  readonly identifier: string;
  /** Migration command (exec form), run as a one-off task of the new release. */
  readonly migrationCommand: string[];
  /** Number of migration checks (every MIGRATION_CHECK_INTERVAL_SECONDS) before the task is stopped. */
  readonly migrationChecks: number;
  /** Identifier of this deployment's snapshot (deterministic, so retries find it). */
  readonly snapshotIdentifier: string;
}

export interface DeploymentPlan {
  /** The execution name; unique per state machine. */
  readonly deploymentId: string;
  readonly executionArn: string;
  /** ISO-8601 start time of the execution. */
  readonly startedAt: string;
  readonly service: string;
  readonly environment: string;
  readonly cluster: string;
  readonly slots: Readonly<Record<SlotName, SlotRef>>;
  readonly containerName: string;
  /** Image reference the new task definition revision uses. */
  readonly image: string;
  readonly release: Release & { migrations: boolean };
  readonly trigger: Trigger;
  readonly production: Route;
  /** Test route, or null. */
  readonly test: Route | null;
  readonly alarms: string[];
  readonly steps: TrafficStep[];
  /** Number of stability checks (every GREEN_CHECK_INTERVAL_SECONDS) before green counts as never stable. */
  readonly stabilizationChecks: number;
  /** Number of snapshot checks before the snapshot counts as failed. */
  readonly snapshotChecks: number;
  readonly database: DatabasePlan | null;
  /** Whether a snapshot is taken before migrating. */
  readonly takeSnapshot: boolean;
  /** Whether the migration task runs. */
  readonly runMigrations: boolean;
  readonly databaseFailurePolicy: 'restore' | 'approve' | 'keep';
}

export const PlanRequestSchema = z.object({
  /** The raw execution input. */
  input: z.unknown(),
  execution: z.object({ id: z.string(), name: z.string(), startTime: z.string() }),
});
export type PlanRequest = z.infer<typeof PlanRequestSchema>;

const route = (r: TrafficRoute): Route => ('listenerArn' in r ? { kind: 'listener', arn: r.listenerArn } : { kind: 'rule', arn: r.ruleArn });

function describeZodIssues(error: z.ZodError, prefix: string): string {
  return error.issues
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
      if (i.code === 'unrecognized_keys') return `${path}: unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`;
      if (i.code === 'invalid_type' && i.input === undefined) return `${path}: required (${i.expected})`;
      return `${path}: ${i.message}`;
    })
    .join('; ');
}

/** Deterministic, RDS-valid snapshot identifier for a deployment (≤ 63 chars, no double hyphens). */
export function snapshotIdentifier(service: string, environment: string, deploymentId: string): string {
  const hash = createHash('sha256').update(deploymentId).digest('hex').slice(0, 10);
  const part = (s: string, n: number) => s.slice(0, n).replace(/-+$/, '');
  return `cutover-${part(service, 20)}-${part(environment, 12)}-${hash}`.replace(/--+/g, '-');
}

/**
 * Resolve the plan.
 * @throws InvalidInputError naming the field and the fix (bad shape, unknown service / environment,
 *   a CodeCommit repository or branch that is not configured)
 */
export function resolvePlan(config: Config, request: PlanRequest): DeploymentPlan {
  const raw = request.input;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidInputError(
      'The execution input must be a JSON object like {"service":"hello-world","environment":"production","release":{"commit":"<sha>"}}.',
    );
  }
  let service: string;
  let environment: string;
  let release: Release;
  let trigger: Trigger;
  if ('codecommit' in raw) {
    const parsed = CodeCommitDeployInputSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidInputError(`Invalid input: ${describeZodIssues(parsed.error, '')}`);
    const cc = parsed.data.codecommit;
    const target = findTarget(config, { codecommit: cc.repositoryName }, cc.referenceName);
    if (!target) {
      throw new InvalidInputError(
        `codecommit: repository "${cc.repositoryName}" branch "${cc.referenceName}" is not configured for any service; add it to the config's repository and branches.`,
      );
    }
    service = target.serviceName;
    environment = target.environmentName;
    release = { commit: cc.commitId, ref: `refs/heads/${cc.referenceName}` };
    trigger = { source: 'codecommit', actor: cc.callerUserArn, deliveryId: cc.eventId };
  } else {
    const parsed = ExplicitDeployInputSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidInputError(`Invalid input: ${describeZodIssues(parsed.error, '')}`);
    ({ service, environment, release } = parsed.data);
    trigger = parsed.data.trigger ?? { source: 'console' };
  }

  const serviceConfig = config.services[service];
  if (!serviceConfig) {
    throw new InvalidInputError(`service: "${service}" is not configured; use one of: ${Object.keys(config.services).join(', ')}.`);
  }
  const env = serviceConfig.environments[environment];
  if (!env) {
    throw new InvalidInputError(
      `environment: "${environment}" is not configured for service "${service}"; use one of: ${Object.keys(serviceConfig.environments).join(', ')}.`,
    );
  }

  const deploymentId = request.execution.name;
  const hasDatabase = env.database !== undefined;
  const migrations = hasDatabase && (env.database!.migration.run === 'always' || (release.migrations ?? true));
  const database: DatabasePlan | null = env.database
    ? {
        kind: env.database.instanceIdentifier ? 'instance' : 'cluster',
        identifier: (env.database.instanceIdentifier ?? env.database.clusterIdentifier)!,
        migrationCommand: env.database.migration.command,
        migrationChecks: Math.ceil(env.database.migration.timeoutSeconds / MIGRATION_CHECK_INTERVAL_SECONDS),
        snapshotIdentifier: snapshotIdentifier(service, environment, deploymentId),
      }
    : null;
  const snapshotPolicy = env.database?.snapshot ?? 'never';
  const takeSnapshot = hasDatabase && (snapshotPolicy === 'always' || (snapshotPolicy === 'before-migrations' && migrations));

  return {
    deploymentId,
    executionArn: request.execution.id,
    startedAt: request.execution.startTime,
    service,
    environment,
    cluster: env.cluster,
    slots: env.slots,
    containerName: env.containerName,
    image: release.image ?? `${env.imageRepository}:${release.commit}`,
    release: { ...release, migrations },
    trigger,
    production: route(env.production),
    test: env.test ? route(env.test) : null,
    alarms: env.alarms,
    steps: trafficSteps(env.strategy),
    stabilizationChecks: Math.ceil(env.stabilizationTimeoutSeconds / GREEN_CHECK_INTERVAL_SECONDS),
    snapshotChecks: Math.ceil(SNAPSHOT_TIMEOUT_SECONDS / SNAPSHOT_CHECK_INTERVAL_SECONDS),
    database,
    takeSnapshot,
    runMigrations: migrations,
    databaseFailurePolicy: env.databaseFailurePolicy,
  };
}
