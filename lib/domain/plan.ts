/**
 * Resolving a deploy execution's input into a deployment plan: everything the state machine needs,
 * taken from the config once at the start so that later steps never re-read it.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import type { Config, DatabaseConfig, ServiceConfig, Strategy, TrafficRoute } from '../config/schema';
import { findTarget } from '../config/load';
import {
  CodeCommitDeployInputSchema,
  ExplicitDeployInputSchema,
  type Release,
  type Trigger,
} from './deploy-input';
import { canonicalApprovers } from './approvers';
import { InvalidInputError } from './errors';
import { RollbackInputSchema } from './rollback-input';
import type { SlotName, SlotRef } from './slots';
import { trafficSteps, type TrafficStep } from './traffic-plan';
import { verifyPlan, type VerifyPlan } from './smoke';
import type { ChangePolicy, WindowOverride } from './change-window';

/** Wait between checks of green's stability, seconds (the `WaitForGreen` state). */
export const GREEN_CHECK_INTERVAL_SECONDS = 15;
/** Wait between snapshot status checks, seconds (`WaitForSnapshot`). */
export const SNAPSHOT_CHECK_INTERVAL_SECONDS = 30;
/** Shortest wait between migration task checks, seconds (`WaitForMigration`). */
export const MIGRATION_CHECK_INTERVAL_SECONDS = 10;
/**
 * At most this many migration checks per deployment. Each check writes about 9 events to the
 * execution's history (Wait, Task, Choice), and Step Functions fails an execution that passes 25,000
 * events (an uncatchable failure: the lock stays held, nothing is recorded) — a 24 h migration checked
 * every 10 s would write ~78,000. A long migration is therefore checked less often: see
 * `migrationCheckIntervalSeconds`.
 */
export const MIGRATION_MAX_CHECKS = 600;

/**
 * Seconds between checks of a migration that may run `timeoutSeconds`: 10 s, or longer when 10 s would
 * take more than MIGRATION_MAX_CHECKS checks (a timeout over 6,000 s; 86,400 s → 144 s). Step Functions quotas: "Maximum
 * execution history size: 25,000 events".
 * @param timeoutSeconds the migration's timeout (`database.migration.timeoutSeconds`), seconds
 * @returns whole seconds, >= MIGRATION_CHECK_INTERVAL_SECONDS
 */
export function migrationCheckIntervalSeconds(timeoutSeconds: number): number {
  return Math.max(MIGRATION_CHECK_INTERVAL_SECONDS, Math.ceil(timeoutSeconds / MIGRATION_MAX_CHECKS));
}
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
  /** Seconds between migration checks (`WaitForMigration` reads it): see `migrationCheckIntervalSeconds`. */
  readonly migrationCheckIntervalSeconds: number;
  /** Number of migration checks (every `migrationCheckIntervalSeconds`) before the task is stopped; <= MIGRATION_MAX_CHECKS. */
  readonly migrationChecks: number;
  /** Identifier of this deployment's snapshot (deterministic, so retries find it). */
  readonly snapshotIdentifier: string;
}

/** What every execution's plan has: which execution, and where the service and environment run. */
export interface ExecutionPlanBase {
  /** The execution name; unique per state machine. */
  readonly deploymentId: string;
  readonly executionArn: string;
  /** ISO-8601 start time of the execution. */
  readonly startedAt: string;
  readonly service: string;
  readonly environment: string;
  readonly cluster: string;
  readonly slots: Readonly<Record<SlotName, SlotRef>>;
  readonly production: Route;
  /** Test route, or null. */
  readonly test: Route | null;
  readonly database: DatabasePlan | null;
  readonly databaseFailurePolicy: 'restore' | 'approve' | 'keep';
}

export interface DeploymentPlan extends ExecutionPlanBase {
  readonly containerName: string;
  /** Image reference the new task definition revision uses. */
  readonly image: string;
  readonly release: Release & { migrations: boolean };
  readonly trigger: Trigger;
  /** CloudWatch alarms watched while baking; empty for a rollback's redeploy (they describe the release it replaces). */
  readonly alarms: string[];
  readonly steps: TrafficStep[];
  /** Number of stability checks (every GREEN_CHECK_INTERVAL_SECONDS) before green counts as never stable. */
  readonly stabilizationChecks: number;
  /** Number of snapshot checks before the snapshot counts as failed. */
  readonly snapshotChecks: number;
  /** Whether a snapshot is taken before migrating. */
  readonly takeSnapshot: boolean;
  /** Whether the migration task runs. */
  readonly runMigrations: boolean;
  /**
   * The approval gate: the deployment waits for an operator before traffic step `beforeStepIndex`
   * (0 = before any production traffic, the last index = before the step to 100%; -1 = no gate) for
   * at most `timeoutSeconds`. A rollback's redeploy never waits.
   */
  readonly approval: {
    readonly gate: 'none' | 'before-traffic' | 'before-promote';
    readonly timeoutSeconds: number;
    readonly beforeStepIndex: number;
    /**
     * Who may approve (the environment's `approvers`, canonical ARNs: a role name becomes its role ARN
     * in the environment's account; lib/domain/approvers.ts). Present only when the environment names
     * approvers: then `VerifyApproval` accepts only an approval the approval function recorded for one of them.
     */
    readonly approvers?: readonly string[];
  };
  /**
   * Seconds the previous slot keeps running after the promotion (the rollback window); 0 scales it
   * down at once. Always 0 for a rollback's redeploy (its previous slot runs the release rolled back).
   */
  readonly rollbackWindowSeconds: number;
  /**
   * Seconds the deployment waits for its image to appear in ECR (`AwaitImage`'s TimeoutSecondsPath)
   * before it fails with `Cutover.ImageNotFound`, having changed nothing.
   */
  readonly imageTimeoutSeconds: number;
  /** The scan gate (`scan` of the environment), or null without one. */
  readonly scan: { readonly maxSeverity: 'INFORMATIONAL' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL'; readonly waitSeconds: number } | null;
  /** Name of the rollback-window execution this deployment starts: see `childExecutionName` (`<SHA-1 hex>-window`). */
  readonly rollbackWindowExecutionName: string;
  /**
   * GitHub API access of the service (config `github`), or null: where the checks gate reads the
   * commit's checks and where the deployment is reported as a GitHub Deployment (`deployments`).
   */
  readonly github: GitHubPlan | null;
  /**
   * The checks gate (config `checks`): the check runs / commit status contexts that must be `success`
   * and how long to wait for them, seconds (`AwaitChecks`' TimeoutSecondsPath); null without a gate
   * and for a rollback's redeploy (its release passed them before).
   */
  readonly checks: { readonly required: string[]; readonly waitSeconds: number } | null;
  /**
   * Verification (config `verify`, lib/domain/smoke.ts): HTTP checks through the test listener before
   * any production traffic and through the production listener at 100%; null without it and for a
   * rollback's redeploy (it goes back to a release that ran).
   */
  readonly verify: VerifyPlan | null;
  /**
   * The environment's change windows and freezes (lib/domain/change-window.ts), checked right before the
   * first change (`CheckChangeWindow`); null without any, and for a rollback's redeploy (rollbacks are never held).
   */
  readonly changeWindow: ChangePolicy | null;
  /** An operator's override of a closed window or a freeze given at start (the input's `windowOverride`), or null. */
  readonly windowOverride: WindowOverride | null;
  /**
   * This environment's `promotion` (it accepts only releases that succeeded in `from`: the
   * `CheckPromotion` gate), or null: no promotion rule, and for a rollback's redeploy.
   */
  readonly promotion: { readonly from: string; readonly auto: boolean; readonly soakSeconds: number } | null;
  /** An operator's override of that rule (`cutover promote-release --force --reason`), or null. */
  readonly promotionOverride: { readonly reason: string; readonly operator?: string } | null;
  /**
   * The environments that promote from this one (their `promotion.from` names it), offered or started
   * after this deployment succeeds; empty for a rollback's redeploy (it goes back, not forward).
   */
  readonly promotesTo: ReadonlyArray<{ readonly environment: string; readonly auto: boolean }>;
  /** Seconds this release must stay healthy before it is promoted (the largest `soakSeconds` of `promotesTo`). */
  readonly promotionSoakSeconds: number;
}

/** GitHub API access of a deployment's service. */
export interface GitHubPlan {
  /** `owner/name`. */
  readonly repository: string;
  /** Secrets Manager secret ARN whose SecretString is the token. */
  readonly tokenSecretArn: string;
  /** REST API base URL, e.g. `https://api.github.com`. */
  readonly apiUrl: string;
  /** Report the deployment as a GitHub Deployment with statuses. */
  readonly deployments: boolean;
}

export const PlanRequestSchema = z.object({
  /** Which plan: a deploy execution's (default) or a rollback execution's. */
  kind: z.optional(z.enum(['deploy', 'rollback'])),
  /** The raw execution input. */
  input: z.unknown(),
  execution: z.object({ id: z.string(), name: z.string(), startTime: z.string() }),
});
export type PlanRequest = z.infer<typeof PlanRequestSchema>;

const route = (r: TrafficRoute): Route => ('listenerArn' in r ? { kind: 'listener', arn: r.listenerArn } : { kind: 'rule', arn: r.ruleArn });

function describeZodIssues(error: z.core.$ZodError, prefix: string): string {
  return error.issues
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
      if (i.code === 'unrecognized_keys') return `${path || '(input)'}: unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`;
      if (i.code === 'invalid_type' && i.input === undefined) return `${path || '(input)'}: required (${i.expected})`;
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

function databasePlan(db: DatabaseConfig | undefined, service: string, environment: string, deploymentId: string): DatabasePlan | null {
  if (!db) return null;
  const interval = migrationCheckIntervalSeconds(db.migration.timeoutSeconds);
  return {
    kind: db.instanceIdentifier ? 'instance' : 'cluster',
    identifier: (db.instanceIdentifier ?? db.clusterIdentifier)!,
    migrationCommand: db.migration.command,
    migrationCheckIntervalSeconds: interval,
    migrationChecks: Math.ceil(db.migration.timeoutSeconds / interval),
    snapshotIdentifier: snapshotIdentifier(service, environment, deploymentId),
  };
}

/** The environments of `service` whose `promotion.from` is `environment`, in config order. */
export function promotesFrom(service: ServiceConfig, environment: string): Array<{ environment: string; auto: boolean; soakSeconds: number }> {
  return Object.entries(service.environments)
    .filter(([, env]) => env.promotion?.from === environment)
    .map(([name, env]) => ({ environment: name, auto: env.promotion!.auto, soakSeconds: env.promotion!.soakSeconds }));
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
  let strategy: Strategy | undefined;
  let windowOverride: WindowOverride | undefined;
  let promotionOverride: DeploymentPlan['promotionOverride'] | undefined;
  if ('codecommit' in raw) {
    const parsed = CodeCommitDeployInputSchema.safeParse(raw, { reportInput: true });
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
    const parsed = ExplicitDeployInputSchema.safeParse(raw, { reportInput: true });
    if (!parsed.success) throw new InvalidInputError(`Invalid input: ${describeZodIssues(parsed.error, '')}`);
    ({ service, environment, release, strategy, windowOverride, promotionOverride } = parsed.data);
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
  // A rollback's redeploy brings back an older release: its migration command must not run (the
  // schema stays as it is; the database policy of the rollback decides about the snapshot).
  const migrations = hasDatabase && trigger.source !== 'rollback' && (env.database!.migration.run === 'always' || (release.migrations ?? true));
  const database = databasePlan(env.database, service, environment, deploymentId);
  const snapshotPolicy = env.database?.snapshot ?? 'never';
  const steps = trafficSteps(strategy ?? env.strategy);
  const isRollback = trigger.source === 'rollback';
  const gate = isRollback ? 'none' : env.approval;
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
    // A rollback's redeploy replaces the release that set these alarms off: watching them would
    // "roll back" to that release. Green's stability and healthy targets still guard the shift.
    alarms: isRollback ? [] : env.alarms,
    steps,
    stabilizationChecks: Math.ceil(env.stabilizationTimeoutSeconds / GREEN_CHECK_INTERVAL_SECONDS),
    snapshotChecks: Math.ceil(SNAPSHOT_TIMEOUT_SECONDS / SNAPSHOT_CHECK_INTERVAL_SECONDS),
    database,
    takeSnapshot,
    runMigrations: migrations,
    databaseFailurePolicy: env.databaseFailurePolicy,
    approval: {
      gate,
      timeoutSeconds: env.approvalTimeoutSeconds,
      beforeStepIndex: gate === 'before-traffic' ? 0 : gate === 'before-promote' ? steps.length - 1 : -1,
      ...(gate !== 'none' && env.approvers ? { approvers: canonicalApprovers(env.approvers, env.slots.blue.targetGroupArn) } : {}),
    },
    rollbackWindowSeconds: isRollback ? 0 : env.rollbackWindowSeconds,
    rollbackWindowExecutionName: childExecutionName(deploymentId, 'window'),
    imageTimeoutSeconds: env.imageTimeoutSeconds,
    // A rollback's redeploy goes back to a release that ran already: no scan gate.
    scan: !isRollback && env.scan ? { maxSeverity: env.scan.maxSeverity, waitSeconds: env.scan.waitSeconds } : null,
    github:
      serviceConfig.github && 'github' in serviceConfig.repository
        ? { repository: serviceConfig.repository.github, tokenSecretArn: serviceConfig.github.tokenSecretArn, apiUrl: serviceConfig.github.apiUrl, deployments: serviceConfig.github.deployments }
        : null,
    checks: !isRollback && serviceConfig.checks ? { required: serviceConfig.checks.required, waitSeconds: serviceConfig.checks.waitSeconds } : null,
    verify: isRollback ? null : verifyPlan(env.verify),
    changeWindow: isRollback || (env.windows.length === 0 && env.freezes.length === 0) ? null : { windows: env.windows, freezes: env.freezes, outsideWindow: env.outsideWindow },
    windowOverride: windowOverride ?? null,
    promotion: !isRollback && env.promotion ? { from: env.promotion.from, auto: env.promotion.auto, soakSeconds: env.promotion.soakSeconds } : null,
    promotionOverride: promotionOverride ?? null,
    promotesTo: isRollback ? [] : promotesFrom(serviceConfig, environment).map((p) => ({ environment: p.environment, auto: p.auto })),
    promotionSoakSeconds: isRollback ? 0 : Math.max(0, ...promotesFrom(serviceConfig, environment).map((p) => p.soakSeconds)),
  };
}

/**
 * The plan of a `rollback` execution: where the service and environment run, and what the operator
 * or alarm asked for. Which release to go back to (the kept slot or a redeploy) is decided by the
 * ledger's `beginRollback`, which reads the environment state.
 */
export interface RollbackPlan extends ExecutionPlanBase {
  readonly kind: 'rollback';
  readonly alarms: string[];
  /** Why (recorded and notified). */
  readonly reason: string;
  /** The deployment to go back to, when the operator named one. */
  readonly toDeployment: string | null;
  readonly trigger: { readonly source: 'alarm' | 'cli' | 'console'; readonly actor?: string; readonly deliveryId?: string };
  /** Name of the deploy execution a redeploy starts: see `childExecutionName` (`<SHA-1 hex>-redeploy`). */
  readonly redeployExecutionName: string;
}

/**
 * The name of an execution that the execution `parentName` starts (its rollback window, a rollback's
 * redeploy): `<SHA-1 hex of parentName>-<suffix>`. Deterministic, so a retried StartExecution finds the
 * execution it started (ExecutionAlreadyExists) instead of starting a second one, and at most 80
 * characters (StartExecution's limit) whatever the parent's name — 40 + 1 + suffix. The same value
 * `States.Hash(parentName, 'SHA-1')` gives on AWS; computed here because the local runner's SHA-1 is
 * wrong for inputs of 56 bytes or more (aws-local-stepfunctions 3.0.0).
 * @param parentName an execution name (1–80 characters)
 * @param suffix lowercase letters, at most 38 characters
 */
export function childExecutionName(parentName: string, suffix: string): string {
  return `${createHash('sha1').update(parentName, 'utf8').digest('hex')}-${suffix}`;
}

/**
 * Resolve a rollback execution's plan.
 * @throws InvalidInputError naming the field and the fix (bad shape, unknown service or environment)
 */
export function resolveRollbackPlan(config: Config, request: PlanRequest): RollbackPlan {
  const raw = request.input;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidInputError(
      'The execution input must be a JSON object like {"service":"hello-world","environment":"production","reason":"5xx after the release"}.',
    );
  }
  const parsed = RollbackInputSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw new InvalidInputError(`Invalid input: ${describeZodIssues(parsed.error, '')}`);
  const input = parsed.data;
  const serviceConfig = config.services[input.service];
  if (!serviceConfig) {
    throw new InvalidInputError(`service: "${input.service}" is not configured; use one of: ${Object.keys(config.services).join(', ')}.`);
  }
  const env = serviceConfig.environments[input.environment];
  if (!env) {
    throw new InvalidInputError(
      `environment: "${input.environment}" is not configured for service "${input.service}"; use one of: ${Object.keys(serviceConfig.environments).join(', ')}.`,
    );
  }
  const deploymentId = request.execution.name;
  return {
    kind: 'rollback',
    deploymentId,
    executionArn: request.execution.id,
    startedAt: request.execution.startTime,
    service: input.service,
    environment: input.environment,
    cluster: env.cluster,
    slots: env.slots,
    production: route(env.production),
    test: env.test ? route(env.test) : null,
    alarms: env.alarms,
    database: databasePlan(env.database, input.service, input.environment, deploymentId),
    databaseFailurePolicy: env.databaseFailurePolicy,
    reason: input.reason,
    toDeployment: input.toDeployment ?? null,
    trigger: input.trigger ?? { source: 'console' },
    redeployExecutionName: childExecutionName(deploymentId, 'redeploy'),
  };
}
