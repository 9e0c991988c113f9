/**
 * ecs-release — the new release on ECS.
 *
 * Events (`action`), all with `plan` (DeploymentPlan):
 *  - `findImage` → lib/aws/ecr.ts `ImageLookup` plus `message`: is `plan.image` in ECR (DescribeImages by
 *    tag), and its digest-pinned reference `<repositoryUri>@sha256:…` when it is. An image that is not
 *    an ECR reference, or already pinned, is `{ found: true, checked: false }` (ECS pulls it as it is).
 *  - `checkScan` → `ScanDecision` (lib/domain/scan-gate.ts): the pinned image's ECR scan
 *    (DescribeImageScanFindings) against `plan.scan.maxSeverity`; `{ status: 'passed' }` without a gate.
 *  - `prepare` `{ slots }` → `{ taskDefinitionArn, previousTaskDefinitionArn, family, liveService, idleService, desiredCount }`:
 *    registers a revision of the live slot's task definition with the release image (idempotent).
 *  - `runMigration` `{ release }` → `{ ran: true, taskArn, status: 'RUNNING', checksLeft, message }`:
 *    the migration command as a one-off task of the new revision, in the live service's network.
 *  - `checkMigration` `{ migration }` → `{ ran: true, taskArn, status: RUNNING|SUCCEEDED|FAILED|TIMED_OUT, exitCode, checksLeft, message, logTail }`;
 *    stops the task when its checks run out. When the task FAILED and its container logs with `awslogs`,
 *    `message` ends with the last lines of its log stream (`… Last log lines of <stream> in <group>: a | b | c`,
 *    the whole message at most 1 KiB of UTF-8, newest lines kept) and `logTail` is
 *    `{ logGroupName, logStreamName, lines, truncated }`; otherwise `logTail` is null and the message
 *    is the exit code and ECS's reason only (logs that cannot be read never fail the check).
 *    `message` becomes the failure's cause, and so the deployment record's message.
 *  - `runSmokeTest` `{ release, testUrl }` → `{ taskArn, status: 'RUNNING', checksLeft, message }`: the
 *    environment's `verify.command` as a one-off task of the new revision, in the live service's network
 *    (inside the VPC, like the migration), with `CUTOVER_TEST_URL` = the test listener's URL (`startedBy`
 *    `cutover-smoke`; idempotent per execution).
 *  - `checkSmokeTest` `{ smoke }` → `{ taskArn, status: RUNNING|SUCCEEDED|FAILED|TIMED_OUT, checksLeft, message }`;
 *    stops the task when its checks run out; a failure's message carries the exit code, ECS's reason and
 *    the last lines of its log (as a migration's).
 *  - `deployGreen` `{ release }` → `{ deployed: true, service, desiredCount, stable: false, checksLeft }`.
 *  - `checkGreen` `{ release, green }` → same shape with `stable` and `message`, `checksLeft` decremented.
 *  - `scaleDown` `{ slots }` → `{ service, desiredCount: 0 }` (the idle slot).
 * Errors: `Cutover.Transient` (retried), `Cutover.ResourceState` (missing service / container), `Cutover.InvalidInput`.
 */
import * as z from 'zod/mini';
import {
  describeService,
  oneOffTaskStatus,
  registerReleaseRevision,
  runOneOffTask,
  stopTask,
  taskContainerLogging,
  updateService,
} from '../../lib/aws/ecs';
import { awslogsStream, readTaskLogTail } from '../../lib/aws/logs';
import { findImage, scanGate } from '../../lib/aws/ecr';
import { InvalidInputError, ResourceStateError } from '../../lib/domain/errors';
import type { DeploymentPlan } from '../../lib/domain/plan';
import { logger } from '../../lib/observability';
import { greenRollout } from '../../lib/domain/ecs-rollout';

const Slots = z.object({ live: z.enum(['blue', 'green']), idle: z.enum(['blue', 'green']) });
const Release = z.object({
  taskDefinitionArn: z.string(),
  liveService: z.string(),
  idleService: z.string(),
  desiredCount: z.int().check(z.gte(0)),
});
const Event = z.discriminatedUnion('action', [
  z.object({ action: z.literal('findImage'), plan: z.looseObject({}) }),
  z.object({ action: z.literal('checkScan'), plan: z.looseObject({}) }),
  z.object({ action: z.literal('prepare'), plan: z.looseObject({}), slots: Slots }),
  z.object({ action: z.literal('runMigration'), plan: z.looseObject({}), release: Release }),
  z.object({
    action: z.literal('checkMigration'),
    plan: z.looseObject({}),
    migration: z.object({ taskArn: z.string(), checksLeft: z.int() }),
  }),
  z.object({ action: z.literal('runSmokeTest'), plan: z.looseObject({}), release: Release, testUrl: z.string().check(z.minLength(1)) }),
  z.object({ action: z.literal('checkSmokeTest'), plan: z.looseObject({}), smoke: z.object({ taskArn: z.string(), checksLeft: z.int() }) }),
  z.object({ action: z.literal('deployGreen'), plan: z.looseObject({}), release: Release }),
  z.object({ action: z.literal('checkGreen'), plan: z.looseObject({}), release: Release, green: z.object({ checksLeft: z.int() }) }),
  z.object({ action: z.literal('scaleDown'), plan: z.looseObject({}), slots: Slots }),
]);

const commandText = (c: string[]) => c.join(' ');

/** Budget of a failed migration's message with its log tail, in UTF-8 bytes (it becomes the record's cause). */
export const MIGRATION_MESSAGE_MAX_BYTES = 1024;
/** Log events read for a failed migration's tail. */
const LOG_TAIL_LINES = 20;
/** A tail smaller than this is not worth appending. */
const MIN_TAIL_BYTES = 64;
const TAIL_SEPARATOR = ' | ';

/** What checkMigration reports of a failed migration's log. */
interface MigrationLogTail {
  logGroupName: string;
  logStreamName: string;
  lines: string[];
  truncated: boolean;
}

/**
 * The failed migration's message, with the tail of its container's awslogs stream when it can be read:
 * `<base> Last log lines of <stream> in <group>: <line> | <line> | …`, newest lines kept, the whole at
 * most {@link MIGRATION_MESSAGE_MAX_BYTES}. Never throws: without a tail (no awslogs configuration, no
 * stream, no permission, no room, any error) the message is `base` and `logTail` null.
 */
async function withLogTail(
  base: string,
  cluster: string,
  taskArn: string,
  containerName: string,
  deploymentId: string,
): Promise<{ message: string; logTail: MigrationLogTail | null }> {
  const none = { message: base, logTail: null };
  try {
    const logging = await taskContainerLogging(cluster, taskArn, containerName);
    const stream = logging && awslogsStream(logging);
    if (!logging || !stream) return none;
    const prefix = `${base} Last log lines of ${stream.logStreamName} in ${stream.logGroupName}: `;
    const room = MIGRATION_MESSAGE_MAX_BYTES - Buffer.byteLength(prefix);
    if (room < MIN_TAIL_BYTES) return none;
    const tail = await readTaskLogTail(logging, { maxLines: LOG_TAIL_LINES, maxBytes: room, separator: TAIL_SEPARATOR });
    if (!tail) return none;
    return {
      message: `${prefix}${tail.text}`,
      logTail: { logGroupName: tail.logGroupName, logStreamName: tail.logStreamName, lines: tail.lines, truncated: tail.truncated },
    };
  } catch (err) {
    logger.warn('could not read the migration task’s logs; recording the exit code only', {
      deploymentId,
      taskArn,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
    return none;
  }
}

export const handler = async (event: unknown): Promise<unknown> => {
  const parsed = Event.safeParse(event);
  if (!parsed.success) throw new InvalidInputError(`ecs-release: invalid event: ${parsed.error.message}`);
  const e = parsed.data;
  const plan = e.plan as unknown as DeploymentPlan;
  switch (e.action) {
    case 'findImage': {
      const found = await findImage(plan.image);
      const message = found.found
        ? found.checked
          ? `${plan.image} is in ECR: the release runs ${found.reference}`
          : `${plan.image} is not checked (${found.why}); ECS pulls it as it is`
        : found.repositoryMissing
          ? `the ECR repository ${found.repositoryName} does not exist (yet): waiting up to ${plan.imageTimeoutSeconds} s for ${found.repositoryName}:${found.tag} — check imageRepository if it never comes`
          : `${found.repositoryName}:${found.tag} is not in ECR yet (CI may still be building it): waiting up to ${plan.imageTimeoutSeconds} s for the push`;
      logger.info('image lookup', { deploymentId: plan.deploymentId, image: plan.image, found: found.found });
      return { ...found, message };
    }
    case 'checkScan': {
      const decision = await scanGate(plan);
      logger.info('image scan', { deploymentId: plan.deploymentId, image: plan.image, status: decision.status });
      return decision;
    }
    case 'prepare': {
      const liveService = plan.slots[e.slots.live].service;
      const idleService = plan.slots[e.slots.idle].service;
      const live = await describeService(plan.cluster, liveService);
      await describeService(plan.cluster, idleService);
      const revision = await registerReleaseRevision(live.taskDefinition!, plan.containerName, plan.image, plan.deploymentId);
      return { ...revision, liveService, idleService, desiredCount: Math.max(1, live.desiredCount ?? 1) };
    }
    case 'runMigration': {
      if (!plan.database) throw new InvalidInputError('ecs-release: runMigration needs plan.database.');
      const live = await describeService(plan.cluster, e.release.liveService);
      const taskArn = await runOneOffTask({
        cluster: plan.cluster,
        taskDefinitionArn: e.release.taskDefinitionArn,
        containerName: plan.containerName,
        command: plan.database.migrationCommand,
        from: live,
        idempotencyKey: `${plan.executionArn}#migration`,
      });
      logger.info('migration task started', { deploymentId: plan.deploymentId, taskArn });
      return {
        ran: true,
        taskArn,
        status: 'RUNNING',
        exitCode: null,
        checksLeft: plan.database.migrationChecks,
        message: `migration task ${taskArn} started: ${commandText(plan.database.migrationCommand)}`,
      };
    }
    case 'runSmokeTest': {
      const command = plan.verify?.command;
      if (!command) throw new InvalidInputError('ecs-release: runSmokeTest needs plan.verify.command.');
      const live = await describeService(plan.cluster, e.release.liveService);
      const taskArn = await runOneOffTask({
        cluster: plan.cluster,
        taskDefinitionArn: e.release.taskDefinitionArn,
        containerName: plan.containerName,
        command,
        from: live,
        idempotencyKey: `${plan.executionArn}#smoke`,
        environment: { CUTOVER_TEST_URL: e.testUrl },
        startedBy: 'cutover-smoke',
      });
      logger.info('smoke test task started', { deploymentId: plan.deploymentId, taskArn });
      return { taskArn, status: 'RUNNING', checksLeft: plan.verify!.commandChecks, message: `smoke test task ${taskArn} started: ${commandText(command)} with CUTOVER_TEST_URL=${e.testUrl}` };
    }
    case 'checkSmokeTest': {
      const cmd = commandText(plan.verify?.command ?? []);
      const s = await oneOffTaskStatus(plan.cluster, e.smoke.taskArn, plan.containerName);
      const checksLeft = e.smoke.checksLeft - 1;
      if (s.status === 'RUNNING') {
        if (checksLeft > 0) return { taskArn: e.smoke.taskArn, status: 'RUNNING', checksLeft, message: `smoke test "${cmd}" is running` };
        await stopTask(plan.cluster, e.smoke.taskArn, 'cutover: smoke test timed out');
        return { taskArn: e.smoke.taskArn, status: 'TIMED_OUT', checksLeft, message: `the smoke test "${cmd}" did not finish within commandTimeoutSeconds and was stopped` };
      }
      if (s.status === 'SUCCEEDED') return { taskArn: e.smoke.taskArn, status: 'SUCCEEDED', checksLeft, message: `the smoke test "${cmd}" passed (exit 0)` };
      const base = s.status === 'NOT_STARTED' ? `the smoke test "${cmd}" did not start (${s.reason})` : `the smoke test "${cmd}" failed with exit code ${s.exitCode ?? 'none'}: ${s.reason}.`;
      const { message } = await withLogTail(base, plan.cluster, e.smoke.taskArn, plan.containerName, plan.deploymentId);
      return { taskArn: e.smoke.taskArn, status: 'FAILED', checksLeft, message };
    }
    case 'checkMigration': {
      const cmd = commandText(plan.database?.migrationCommand ?? []);
      const s = await oneOffTaskStatus(plan.cluster, e.migration.taskArn, plan.containerName);
      const checksLeft = e.migration.checksLeft - 1;
      if (s.status === 'RUNNING' && checksLeft <= 0) {
        await stopTask(plan.cluster, e.migration.taskArn, 'cutover: migration timed out');
        return {
          ran: true,
          taskArn: e.migration.taskArn,
          status: 'TIMED_OUT',
          exitCode: null,
          checksLeft,
          message: `Migration "${cmd}" did not finish in time and was stopped.`,
          logTail: null,
        };
      }
      if (s.status === 'NOT_STARTED') {
        // Nothing of the command ran: not a failed migration (no restore, no database decision).
        return {
          ran: false,
          taskArn: e.migration.taskArn,
          status: s.status,
          exitCode: null,
          checksLeft,
          message: `Migration "${cmd}" did not start (${s.reason}); nothing of it ran, so the database is as it was.`,
          logTail: null,
        };
      }
      if (s.status === 'FAILED') {
        const base = `Migration "${cmd}" failed with exit code ${s.exitCode ?? 'none'}: ${s.reason}.`;
        const { message, logTail } = await withLogTail(base, plan.cluster, e.migration.taskArn, plan.containerName, plan.deploymentId);
        return { ran: true, taskArn: e.migration.taskArn, status: s.status, exitCode: s.exitCode, checksLeft, message, logTail };
      }
      const message = s.status === 'SUCCEEDED' ? `Migration "${cmd}" succeeded (exit code 0).` : `Migration "${cmd}" is ${s.reason}.`;
      return { ran: true, taskArn: e.migration.taskArn, status: s.status, exitCode: s.exitCode, checksLeft, message, logTail: null };
    }
    case 'deployGreen': {
      await updateService(plan.cluster, e.release.idleService, {
        taskDefinition: e.release.taskDefinitionArn,
        desiredCount: e.release.desiredCount,
      });
      return { deployed: true, service: e.release.idleService, desiredCount: e.release.desiredCount, stable: false, checksLeft: plan.stabilizationChecks, message: 'update started' };
    }
    case 'checkGreen': {
      const svc = await describeService(plan.cluster, e.release.idleService);
      // Every deployment, not only deployments[0]: a circuit-breaker rollback puts its own deployment first.
      const rollout = greenRollout(svc, e.release.taskDefinitionArn);
      const stable = rollout.state === 'stable';
      const checksLeft = rollout.state === 'failed' ? 0 : e.green.checksLeft - 1;
      const lastEvent = svc.events?.[0]?.message;
      const message = stable
        ? `${e.release.idleService} is stable: ${svc.runningCount}/${svc.desiredCount} tasks running the new revision.`
        : `${e.release.idleService} did not become stable: ${svc.runningCount ?? 0}/${svc.desiredCount ?? 0} tasks running, ${svc.deployments?.length ?? 0} deployment(s)${rollout.state === 'failed' ? `, ${rollout.reason}` : ''}${lastEvent ? `; last event: ${lastEvent}` : ''}.`;
      return { deployed: true, service: e.release.idleService, desiredCount: e.release.desiredCount, stable, checksLeft, message };
    }
    case 'scaleDown': {
      const idleService = plan.slots[e.slots.idle].service;
      if (idleService === undefined) throw new ResourceStateError('ecs-release: no idle slot service in the plan.');
      await updateService(plan.cluster, idleService, { desiredCount: 0 });
      return { service: idleService, desiredCount: 0 };
    }
  }
};
