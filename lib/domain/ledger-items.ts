/**
 * The ledger's items — one model, as zod schemas, for everything cutover keeps in its DynamoDB table:
 * the deployment lock, deployment and rollback records, the environment state (live release, rollback
 * window) and audit timeline events. Pure: no SDK, no I/O.
 *
 * The ledger adapter (`lib/aws/ledger.ts`) writes these shapes and validates what it reads; the
 * operator CLI (`lib/cli/`) reads them through it. The schemas are loose (`z.looseObject`): fields a
 * newer cutover writes are kept as they are, so an older reader still reads newer items.
 *
 * Table layout (keys `pk`, `sk`):
 *  - lock:        pk `LOCK#<service>#<environment>`, sk `LOCK`
 *  - deployment:  pk `DEPLOYMENTS#<service>#<environment>`, sk `<startedAt ISO>#<deploymentId>`
 *  - environment: pk `ENV#<service>#<environment>`, sk `STATE`
 *  - audit:       pk `AUDIT#<service>#<environment>`, sk `<at ISO>#<id>`
 *
 * Times are ISO-8601 strings (UTC, as `Date.prototype.toISOString` writes them).
 */
import { z } from 'zod';

const iso = z.string().min(1);
/** The typed fields of an item shape (what cutover writes; loose parsing keeps unknown fields besides). */
type Fields<S extends z.ZodRawShape> = z.output<z.ZodObject<S>>;
const slot = z.enum(['blue', 'green']);

export const lockKey = (service: string, environment: string) => ({ pk: `LOCK#${service}#${environment}`, sk: 'LOCK' });
export const deploymentKey = (plan: { readonly service: string; readonly environment: string; readonly startedAt: string; readonly deploymentId: string }) => ({
  pk: `DEPLOYMENTS#${plan.service}#${plan.environment}`,
  sk: `${plan.startedAt}#${plan.deploymentId}`,
});
export const environmentKey = (service: string, environment: string) => ({ pk: `ENV#${service}#${environment}`, sk: 'STATE' });
/** Partition of a service and environment's audit timeline. */
export const auditPartition = (service: string, environment: string) => `AUDIT#${service}#${environment}`;
/** Partition of a service and environment's deployment records. */
export const deploymentsPartition = (service: string, environment: string) => `DEPLOYMENTS#${service}#${environment}`;

/**
 * The kinds of callback waits a deployment can be in: a bake (an alarm or an operator ends it early),
 * an approval gate, an operator's database decision.
 */
export const PendingKindSchema = z.enum(['bake', 'approval', 'database-decision']);
export type PendingKind = z.infer<typeof PendingKindSchema>;

/** What an execution holds the environment's lock for. */
export const LockPurposeSchema = z.enum(['deploy', 'rollback', 'rollback-window']);
export type LockPurpose = z.infer<typeof LockPurposeSchema>;

/** Item keys: every stored item has them. */
const Keys = { pk: z.string().min(1), sk: z.string().min(1) };

/** The deployment lock of a service and environment: one execution at a time. */
const lockItemShape = {
  ...Keys,
  /** The holding execution's name (a deployment or rollback id). */
  deploymentId: z.string().min(1),
  executionArn: z.string().min(1),
  /** ISO-8601 time the lock was taken. */
  acquiredAt: iso,
  /** The commit being deployed or rolled back to (`-` when unknown). */
  commit: z.string(),
  /** Task token of the callback wait the holder is in now (bake, approval, database decision). */
  pendingTaskToken: z.string().optional(),
  /** What that wait is: the alarm function fails only `bake` and `approval` tokens. */
  pendingKind: PendingKindSchema.optional(),
  /** One line for operators: what is awaited and how to answer. */
  pendingQuestion: z.string().optional(),
  /** ISO-8601 time the wait began (the holder's own clock). */
  pendingSince: iso.optional(),
  /** ISO-8601 time the wait ends by itself (its timeout), when it has one. */
  pendingUntil: iso.optional(),
  /** What holds the lock. Absent on items written before purposes existed: a deployment. */
  purpose: LockPurposeSchema.optional(),
  /**
   * An operator's abort that arrived while the deployment was not in a bake or approval wait
   * (`cutover abort`): the next such wait fails at once with `Cutover.Aborted`.
   */
  abortRequested: z.looseObject({ by: z.string(), reason: z.string(), at: iso }).optional(),
  /** The stale execution this lock was reclaimed from. */
  reclaimedFrom: z.string().optional(),
};
export const LockItemSchema = z.looseObject(lockItemShape);
/** (Typed without the index signature of loose parsing, so `Omit`/`Pick` keep the named fields.) */
export type LockItem = Fields<typeof lockItemShape>;

/** Who takes a lock: any execution of cutover's state machines. */
export interface LockHolder {
  readonly deploymentId: string;
  readonly executionArn: string;
  /** The commit being deployed or rolled back to (`-` when unknown). */
  readonly commit: string;
  readonly purpose: LockPurpose;
}

/** What started a deployment or a rollback (the deploy input's `trigger`, or a rollback's). */
const triggerItemShape = {
  source: z.string().min(1),
  actor: z.string().optional(),
  deliveryId: z.string().optional(),
  url: z.string().optional(),
  of: z.string().optional(),
  reason: z.string().optional(),
};
export const TriggerItemSchema = z.looseObject(triggerItemShape);

export const DeploymentStatusSchema = z.enum(['in-progress', 'succeeded', 'failed', 'rolled-back', 'rollback-failed']);
export type DeploymentStatus = z.infer<typeof DeploymentStatusSchema>;

/** A deployment's (or a rollback's) record. */
const deploymentRecordShape = {
  ...Keys,
  deploymentId: z.string().min(1),
  executionArn: z.string().min(1),
  service: z.string().min(1),
  environment: z.string().min(1),
  status: DeploymentStatusSchema,
  commit: z.string(),
  image: z.string(),
  trigger: TriggerItemSchema,
  /** ISO-8601 times. */
  startedAt: iso,
  finishedAt: iso.optional(),
  /** Step Functions error name of a failure (`null` on success). */
  error: z.string().nullable().optional(),
  message: z.string().optional(),
  liveSlot: slot.optional(),
  pendingTaskToken: z.string().optional(),
  pendingKind: PendingKindSchema.optional(),
  pendingQuestion: z.string().optional(),
  /** `deploy` (a release) or `rollback` (the rollback state machine). Absent on older items: `deploy`. */
  kind: z.enum(['deploy', 'rollback']).optional(),
  /** Set on a succeeded deployment once a rollback took production away from it (the rollback's id). */
  rolledBackBy: z.string().optional(),
  /** Why a rollback ran (rollback records). */
  reason: z.string().optional(),
};
export const DeploymentRecordSchema = z.looseObject(deploymentRecordShape);
export type DeploymentRecord = Fields<typeof deploymentRecordShape>;

/** A release as the environment state remembers it. */
const releaseRefShape = {
  /** The deployment (execution name) that made it live; absent for a release cutover did not deploy. */
  deploymentId: z.string().optional(),
  commit: z.string().optional(),
  image: z.string().optional(),
  /** The slot it runs in. */
  slot,
  /** ISO-8601 start of that deployment (with `deploymentId`, the key of its record). */
  startedAt: iso.optional(),
  /** ISO-8601 time it got 100% of production traffic. */
  promotedAt: iso.optional(),
  /** What started the deployment that made it live (`github-push`, `rollback`, ...). */
  source: z.string().optional(),
  /** Whether that deployment ran the migration command. */
  migrationsRan: z.boolean().optional(),
  /** The snapshot that deployment took before migrating (the restore point when rolling it back). */
  snapshot: z.looseObject({ identifier: z.string().min(1), createdAt: iso.optional() }).nullable().optional(),
};
export const ReleaseRefSchema = z.looseObject(releaseRefShape);
export type ReleaseRef = Fields<typeof releaseRefShape>;

/**
 * The rollback window after a promotion: the previous release keeps running on `keptSlot` until
 * `until`, so an alarm or an operator's rollback flips production back at once.
 */
const rollbackWindowShape = {
  /** The promoted deployment this window belongs to. */
  deploymentId: z.string().min(1),
  /** The slot still running the previous release. */
  keptSlot: slot,
  /** The previous release, when known. */
  kept: ReleaseRefSchema.optional(),
  /** ISO-8601 time the window closes. */
  until: iso,
  /** Length of the window, seconds. */
  seconds: z.number().nonnegative(),
};
export const RollbackWindowSchema = z.looseObject(rollbackWindowShape);
export type RollbackWindow = Fields<typeof rollbackWindowShape>;

/**
 * The environment state item: what is live, and the rollback window after the last promotion.
 * Written by the ledger when a deployment is promoted or rolled back.
 */
const environmentStateShape = {
  ...Keys,
  /** Slot with 100% of production traffic. */
  liveSlot: slot,
  /** The live release (as of the last promotion or rollback). */
  current: ReleaseRefSchema.optional(),
  /**
   * Present while the previous release is kept running after a promotion. Removed when the window
   * closes (the `rollback-window` state machine), when a rollback uses it, and when the next
   * deployment starts.
   */
  rollbackWindow: RollbackWindowSchema.optional(),
  /** Kept for records written before `current` existed. */
  lastGoodDeploymentId: z.string().optional(),
  lastGoodCommit: z.string().optional(),
  lastGoodImage: z.string().optional(),
  /** ISO-8601. */
  updatedAt: iso,
};
export const EnvironmentStateSchema = z.looseObject(environmentStateShape);
export type EnvironmentState = Fields<typeof environmentStateShape>;

/** What an audit timeline event is about. */
export const AuditKindSchema = z.enum([
  'deployment-started',
  'waiting',
  'operator-action',
  'alarm',
  'deployment-finished',
  'rollback-started',
  'rollback-finished',
  'rollback-window-opened',
  'rollback-window-closed',
  'rollback-window-close-failed',
  'notification',
]);
export type AuditKind = z.infer<typeof AuditKindSchema>;

/** One event of a service and environment's audit timeline (newest first when queried). */
const auditEventShape = {
  ...Keys,
  /** ISO-8601 time of the event. */
  at: iso,
  service: z.string().min(1),
  environment: z.string().min(1),
  kind: AuditKindSchema,
  /** The deployment or rollback (execution name) it belongs to, if any. */
  deploymentId: z.string().optional(),
  executionArn: z.string().optional(),
  /**
   * Who acted: an operator's name or IAM identity, `alarm:<alarm name>`, a pusher's login, or
   * `cutover` for the state machines' own steps.
   */
  actor: z.string(),
  /** One line for humans. */
  message: z.string(),
  /** Anything else worth keeping (percent, error name, snapshot, ...). */
  detail: z.record(z.string(), z.unknown()).optional(),
};
export const AuditEventSchema = z.looseObject(auditEventShape);
export type AuditEvent = Fields<typeof auditEventShape>;

/** Thrown when an item read from the table does not have the shape cutover writes. */
export class LedgerItemError extends Error {
  override readonly name = 'Cutover.CorruptLedgerItem';
}

/**
 * Validate an item read from the table.
 * @param what e.g. `the lock of hello-world/production` (for the error)
 * @returns the item, typed (unknown fields kept)
 * @throws LedgerItemError naming the item, the first bad field and the problem
 */
export function parseLedgerItem<T>(schema: z.ZodType<T>, item: unknown, what: string): T {
  const parsed = schema.safeParse(item);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new LedgerItemError(`${what} in the ledger table is not what cutover writes (${issue.path.join('.') || 'item'}: ${issue.message})`);
}
