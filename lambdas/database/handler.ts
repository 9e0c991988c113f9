/**
 * database — snapshot before migrating, and the snapshot restore when the database policy calls for it.
 *
 * Events (`action`), all with `plan` (DeploymentPlan, `plan.database` set):
 *  - `createSnapshot` → `{ taken: true, identifier, kind, status, checksLeft, createdAt, message }` (idempotent).
 *  - `checkSnapshot` `{ snapshot }` → same shape with the current `status` (`creating` | `available` | `failed`)
 *    and `checksLeft` decremented.
 *  - `restoreStep` `{ snapshot, restore }` → `{ phase, done, checksLeft, message, names, configureAttempts, unappliedSettings }`:
 *    one idempotent step of restore → configure the restored database with what the restore call cannot take
 *    (monitoring, Performance Insights, …; phase `configuring`, at most MAX_CONFIGURE_ATTEMPTS times) → rename
 *    original aside → rename restored into place (see lib/domain/restore.ts, lib/aws/rds.ts). `restore` is the
 *    previous step's output (`configureAttempts` counts the modifies sent); `unappliedSettings` names settings
 *    that still did not show after the last attempt (the swap went on without them), else [].
 * Errors: `Cutover.Transient` (retried), `Cutover.ResourceState` (restore ran out of time), `Cutover.InvalidInput`.
 */
import * as z from 'zod/mini';
import { applyMissingSettings, createClusterWriter, createSnapshot, describeSnapshot, findDb, missingSettings, rename, restoreAsNew } from '../../lib/aws/rds';
import { InvalidInputError, ResourceStateError } from '../../lib/domain/errors';
import type { DeploymentPlan } from '../../lib/domain/plan';
import { MAX_CONFIGURE_ATTEMPTS, nextRestoreAction, restoreNames, type Observed } from '../../lib/domain/restore';
import { logger } from '../../lib/observability';

/** Restore steps (every RESTORE_CHECK_INTERVAL_SECONDS = 30 s) before giving up: 4 h. */
const RESTORE_CHECKS = 480;

const Event = z.discriminatedUnion('action', [
  z.object({ action: z.literal('createSnapshot'), plan: z.looseObject({}) }),
  z.object({ action: z.literal('checkSnapshot'), plan: z.looseObject({}), snapshot: z.object({ identifier: z.string(), checksLeft: z.int() }) }),
  z.object({
    action: z.literal('restoreStep'),
    plan: z.looseObject({}),
    snapshot: z.object({ identifier: z.string() }),
    restore: z.object({ phase: z.string(), checksLeft: z.optional(z.int()), configureAttempts: z.optional(z.int()), unappliedSettings: z.optional(z.array(z.string())) }),
  }),
]);

export const handler = async (event: unknown): Promise<unknown> => {
  const parsed = Event.safeParse(event);
  if (!parsed.success) throw new InvalidInputError(`database: invalid event: ${parsed.error.message}`);
  const e = parsed.data;
  const plan = e.plan as unknown as DeploymentPlan;
  const db = plan.database;
  if (!db) throw new InvalidInputError('database: the plan has no database; this environment configures none.');
  switch (e.action) {
    case 'createSnapshot': {
      await createSnapshot(db.kind, db.identifier, db.snapshotIdentifier, {
        'cutover:deployment': plan.deploymentId,
        'cutover:service': plan.service,
        'cutover:environment': plan.environment,
      });
      const s = await describeSnapshot(db.kind, db.snapshotIdentifier);
      logger.info('snapshot started', { deploymentId: plan.deploymentId, snapshot: s.identifier });
      return { taken: true, kind: db.kind, ...s, checksLeft: plan.snapshotChecks, message: `snapshot ${s.identifier} of ${db.identifier} is ${s.status}` };
    }
    case 'checkSnapshot': {
      const s = await describeSnapshot(db.kind, e.snapshot.identifier);
      const checksLeft = e.snapshot.checksLeft - 1;
      const message =
        s.status === 'available'
          ? `snapshot ${s.identifier} of ${db.identifier} is available`
          : checksLeft <= 0 && s.status !== 'failed'
            ? `snapshot ${s.identifier} of ${db.identifier} was not available in time (status ${s.status}, ${s.percent}%)`
            : `snapshot ${s.identifier} of ${db.identifier} is ${s.status} (${s.percent}%)`;
      return { taken: true, kind: db.kind, ...s, checksLeft, message };
    }
    case 'restoreStep': {
      const names = restoreNames(db.identifier, plan.deploymentId);
      const [original, restored, aside] = await Promise.all([findDb(db.kind, names.original), findDb(db.kind, names.restored), findDb(db.kind, names.aside)]);
      const configureAttempts = e.restore.configureAttempts ?? 0;
      const observed: Observed = { original, restored, aside, configureAttempts };
      // Before the swap (the original still in place, nothing aside): does the restored one lack settings?
      let unappliedSettings = e.restore.unappliedSettings ?? [];
      if (restored?.status === 'available' && original && !aside) {
        const missing = (await missingSettings(db.kind, names.original, names.restored)).names;
        observed.restored = { ...restored, missingSettings: missing };
        if (configureAttempts >= MAX_CONFIGURE_ATTEMPTS) unappliedSettings = [...missing];
      }
      const action = nextRestoreAction(observed);
      const checksLeft = (e.restore.checksLeft ?? RESTORE_CHECKS) - 1;
      if (action.do !== 'done' && checksLeft <= 0) {
        throw new ResourceStateError(`Restoring ${e.snapshot.identifier} into ${db.identifier} did not finish in time (phase ${action.phase}); ${names.aside} / ${names.restored} are kept for inspection.`);
      }
      switch (action.do) {
        case 'restore':
          await restoreAsNew(db.kind, names.original, e.snapshot.identifier, names.restored);
          break;
        case 'create-writer':
          await createClusterWriter(names.original, names.restored);
          break;
        case 'configure-restored':
          await applyMissingSettings(db.kind, names.original, names.restored);
          break;
        case 'rename-original-aside':
          await rename(db.kind, names.original, names.aside);
          break;
        case 'rename-restored-into-place':
          await rename(db.kind, names.restored, names.original);
          break;
        default:
          break;
      }
      const unapplied = unappliedSettings.length
        ? `; settings of the original that did not apply after ${MAX_CONFIGURE_ATTEMPTS} attempts: ${unappliedSettings.join(', ')} (set them by hand)`
        : '';
      const message =
        action.do === 'done'
          ? `${db.identifier} now holds snapshot ${e.snapshot.identifier}; the previous database is kept as ${names.aside}${unapplied}`
          : `restore of ${e.snapshot.identifier}: ${action.phase}${unapplied}`;
      if (unapplied) logger.warn('restore goes on without some settings of the original', { deploymentId: plan.deploymentId, unappliedSettings });
      logger.info('restore step', { deploymentId: plan.deploymentId, phase: action.phase });
      return {
        phase: action.phase,
        done: action.do === 'done',
        checksLeft,
        message,
        names,
        configureAttempts: configureAttempts + (action.do === 'configure-restored' ? 1 : 0),
        unappliedSettings,
      };
    }
  }
};
