/**
 * The ledger's items — one model, as zod schemas, for everything cutover keeps in its DynamoDB table:
 * the deployment lock, deployment and rollback records, the environment state (live release, rollback
 * window) and audit timeline events. Pure: no SDK, no I/O.
 *
 * The ledger adapter (`lib/aws/ledger.ts`) writes these shapes and validates what it reads; the
 * operator CLI (`lib/cli/`) reads them through it. The schemas are loose (`z.looseObject`; `zod/mini`, whose functions tree-shake, keeps the Lambda bundles small): fields a
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
import * as z from 'zod/mini';

const nonEmpty = () => z.string().check(z.minLength(1));
const iso = nonEmpty();
/** The typed fields of an item shape (what cutover writes; loose parsing keeps unknown fields besides). */
type Fields<S extends z.core.$ZodShape> = z.output<z.ZodMiniObject<S>>;
const slot = z.enum(['blue', 'green']);

export const lockKey = (service: string, environment: string) => ({ pk: `LOCK#${service}#${environment}`, sk: 'LOCK' });
/** The environment's deploy queue: the one push waiting for the lock (lib/domain/deploy-queue.ts). */
export const queueKey = (service: string, environment: string) => ({ pk: `LOCK#${service}#${environment}`, sk: 'NEXT' });
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
 * an approval gate, an operator's database decision, and the gates before any change: the image,
 * its scan, the commit's checks, and the change window (a closed window or a freeze; ends by itself
 * at the next opening, or at an operator's override).
 */
export const PendingKindSchema = z.enum(['bake', 'approval', 'database-decision', 'image', 'scan', 'checks', 'window']);
export type PendingKind = z.infer<typeof PendingKindSchema>;

/** What an execution holds the environment's lock for. */
export const LockPurposeSchema = z.enum(['deploy', 'rollback', 'rollback-window']);
export type LockPurpose = z.infer<typeof LockPurposeSchema>;

/** Item keys: every stored item has them. */
const Keys = { pk: nonEmpty(), sk: nonEmpty() };

/** The deployment lock of a service and environment: one execution at a time. */
const lockItemShape = {
  ...Keys,
  /** The holding execution's name (a deployment or rollback id). */
  deploymentId: nonEmpty(),
  executionArn: nonEmpty(),
  /** ISO-8601 time the lock was taken. */
  acquiredAt: iso,
  /** The commit being deployed or rolled back to (`-` when unknown). */
  commit: z.string(),
  /** ISO-8601 start time of the holding execution (push order: a newer push supersedes a holder still at a gate). */
  startedAt: z.optional(iso),
  /** Task token of the callback wait the holder is in now (bake, approval, database decision). */
  pendingTaskToken: z.optional(z.string()),
  /** What that wait is: the alarm function fails only `bake` and `approval` tokens. */
  pendingKind: z.optional(PendingKindSchema),
  /** One line for operators: what is awaited and how to answer. */
  pendingQuestion: z.optional(z.string()),
  /** ISO-8601 time the wait began (the holder's own clock). */
  pendingSince: z.optional(iso),
  /** ISO-8601 time the wait ends by itself (its timeout), when it has one. */
  pendingUntil: z.optional(iso),
  /**
   * With `pendingKind: image`: the image reference (`<repositoryUri>:<tag>`) the deployment waits for;
   * with `scan`: the pinned image (`<repositoryUri>@sha256:…`) whose scan it waits for.
   */
  pendingImage: z.optional(z.string()),
  /** What holds the lock. Absent on items written before purposes existed: a deployment. */
  purpose: z.optional(LockPurposeSchema),
  /**
   * An operator's abort that arrived while the deployment was not in a bake or approval wait
   * (`cutover abort`): the next such wait fails at once with `Cutover.Aborted`.
   */
  abortRequested: z.optional(z.looseObject({ by: z.string(), reason: z.string(), at: iso })),
  /** The stale execution this lock was reclaimed from. */
  reclaimedFrom: z.optional(z.string()),
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
  /** ISO-8601 start time of the execution. */
  readonly startedAt?: string;
}

/**
 * The environment's deploy queue (`queueKey`): the newest push waiting for the lock, with the task
 * token of its `WaitForLock` wait, answered when the lock is released.
 */
const queueItemShape = {
  ...Keys,
  deploymentId: nonEmpty(),
  executionArn: nonEmpty(),
  commit: z.string(),
  /** ISO-8601 start time of the queued execution (the push order). */
  startedAt: iso,
  /** ISO-8601 time it was queued (this round). */
  queuedAt: iso,
  taskToken: nonEmpty(),
};
export const QueueItemSchema = z.looseObject(queueItemShape);
export type QueueItem = Fields<typeof queueItemShape>;

/** What started a deployment or a rollback (the deploy input's `trigger`, or a rollback's). */
const triggerItemShape = {
  source: nonEmpty(),
  actor: z.optional(z.string()),
  deliveryId: z.optional(z.string()),
  url: z.optional(z.string()),
  of: z.optional(z.string()),
  reason: z.optional(z.string()),
};
export const TriggerItemSchema = z.looseObject(triggerItemShape);

/**
 * What a record's status means (the README's "Records" section says the same):
 * - `queued`: waiting for the lock behind another execution (a push while a deployment runs);
 * - `in-progress`: holds the lock and runs (gates, changes, traffic, a rollback's database decision);
 * - `succeeded`: reached 100% of production traffic and stayed there — a deployment a later rollback
 *   took production away from is `rolled-back` instead (with `promotedAt`, `rolledBackBy`, `rolledBackAt`);
 * - `failed`: stopped with an error; production traffic was not moved (`trafficAt` absent);
 * - `rolled-back`: production traffic went back to the previous release — during the deployment, or
 *   after its promotion by a rollback (`rolledBackBy`); for a rollback record: it got traffic onto its target;
 * - `rollback-failed`: the rollback could not restore traffic;
 * - `superseded`: a newer push replaced it before it changed anything (queued, or waiting at a gate);
 * - `refused`: turned away before it changed anything: outside its change window or in a freeze
 *   (`outsideWindow: refuse`), or a rollback/redeploy while another execution held the lock.
 */
export const DeploymentStatusSchema = z.enum(['queued', 'in-progress', 'succeeded', 'failed', 'rolled-back', 'rollback-failed', 'superseded', 'refused']);
export type DeploymentStatus = z.infer<typeof DeploymentStatusSchema>;

/** A deployment's (or a rollback's) record. */
const deploymentRecordShape = {
  ...Keys,
  deploymentId: nonEmpty(),
  executionArn: nonEmpty(),
  service: nonEmpty(),
  environment: nonEmpty(),
  status: DeploymentStatusSchema,
  commit: z.string(),
  image: z.string(),
  trigger: TriggerItemSchema,
  /** ISO-8601 times. */
  startedAt: iso,
  finishedAt: z.optional(iso),
  /** Step Functions error name of a failure (`null` on success). */
  error: z.optional(z.nullable(z.string())),
  message: z.optional(z.string()),
  liveSlot: z.optional(slot),
  pendingTaskToken: z.optional(z.string()),
  pendingKind: z.optional(PendingKindSchema),
  pendingQuestion: z.optional(z.string()),
  /** `deploy` (a release) or `rollback` (the rollback state machine). Absent on older items: `deploy`. */
  kind: z.optional(z.enum(['deploy', 'rollback'])),
  /** Set on a succeeded deployment once a rollback took production away from it (the rollback's id). */
  rolledBackBy: z.optional(z.string()),
  /** Why a rollback ran (rollback records). */
  reason: z.optional(z.string()),
  /** A superseded deployment: the deployment id of the newer push that replaced it. */
  supersededBy: z.optional(z.string()),
  /** ISO-8601 commit time of the release (the push's `head_commit.timestamp`), when known: the start of lead time. */
  committedAt: z.optional(iso),
  /** ISO-8601 time the deployment began changing the environment (after every gate and the change window). */
  changesStartedAt: z.optional(iso),
  /** ISO-8601 time the release first got production traffic (its first traffic step, > 0%). */
  trafficAt: z.optional(iso),
  /** ISO-8601 time the release got 100% of production traffic and was recorded live. */
  promotedAt: z.optional(iso),
  /** ISO-8601 time the failure was detected: the alarm's state change, or the failed step (rolled-back deployments, rollback records). */
  detectedAt: z.optional(iso),
  /** ISO-8601 time production traffic was 100% on a healthy release again after that failure. */
  restoredAt: z.optional(iso),
  /** ISO-8601 time a later rollback took production away from this (promoted) deployment (with `rolledBackBy`). */
  rolledBackAt: z.optional(iso),
  /** A promotion rule override, as recorded: who, why, when (`promote-release --force --reason`). */
  promotionOverride: z.optional(z.looseObject({ by: z.string(), reason: z.string(), at: iso })),
  /** A change-window override, as recorded: who, why, when (the deployment ran outside its window or in a freeze). */
  windowOverride: z.optional(z.looseObject({ by: z.string(), reason: z.string(), at: iso, callerArn: z.optional(z.string()) })),
  /** Who may approve this deployment's approval gate (the plan's canonical approver ARNs), written when the gate's wait begins. */
  approvers: z.optional(z.array(z.string())),
  /**
   * The approval, as the approval function recorded it before answering the wait: its `id`, the
   * declared name (`by`), the SigV4-verified caller (`callerArn`), the approver entry it matched, when,
   * the comment, and `tokenHash` (SHA-256 of the wait's task token: the wait it approved).
   */
  approval: z.optional(
    z.looseObject({ id: z.string(), by: z.string(), callerArn: z.string(), at: iso, tokenHash: z.string(), matched: z.optional(z.string()), comment: z.optional(z.string()) }),
  ),
};
export const DeploymentRecordSchema = z.looseObject(deploymentRecordShape);
export type DeploymentRecord = Fields<typeof deploymentRecordShape>;

/** A release as the environment state remembers it. */
const releaseRefShape = {
  /** The deployment (execution name) that made it live; absent for a release cutover did not deploy. */
  deploymentId: z.optional(z.string()),
  commit: z.optional(z.string()),
  image: z.optional(z.string()),
  /** The slot it runs in. */
  slot,
  /** ISO-8601 start of that deployment (with `deploymentId`, the key of its record). */
  startedAt: z.optional(iso),
  /** ISO-8601 time it got 100% of production traffic. */
  promotedAt: z.optional(iso),
  /** What started the deployment that made it live (`github-push`, `rollback`, ...). */
  source: z.optional(z.string()),
  /** Whether that deployment ran the migration command. */
  migrationsRan: z.optional(z.boolean()),
  /** The snapshot that deployment took before migrating (the restore point when rolling it back). */
  snapshot: z.optional(z.nullable(z.looseObject({ identifier: nonEmpty(), createdAt: z.optional(iso) }))),
};
export const ReleaseRefSchema = z.looseObject(releaseRefShape);
export type ReleaseRef = Fields<typeof releaseRefShape>;

/**
 * The rollback window after a promotion: the previous release keeps running on `keptSlot` until
 * `until`, so an alarm or an operator's rollback flips production back at once.
 */
const rollbackWindowShape = {
  /** The promoted deployment this window belongs to. */
  deploymentId: nonEmpty(),
  /** The slot still running the previous release. */
  keptSlot: slot,
  /** The previous release, when known. */
  kept: z.optional(ReleaseRefSchema),
  /** ISO-8601 time the window closes. */
  until: iso,
  /** Length of the window, seconds. */
  seconds: z.number().check(z.nonnegative()),
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
  current: z.optional(ReleaseRefSchema),
  /**
   * Present while the previous release is kept running after a promotion. Removed when the window
   * closes (the `rollback-window` state machine), when a rollback uses it, and when the next
   * deployment starts.
   */
  rollbackWindow: z.optional(RollbackWindowSchema),
  /** Kept for records written before `current` existed. */
  lastGoodDeploymentId: z.optional(z.string()),
  lastGoodCommit: z.optional(z.string()),
  lastGoodImage: z.optional(z.string()),
  /** ISO-8601. */
  updatedAt: iso,
};
export const EnvironmentStateSchema = z.looseObject(environmentStateShape);
export type EnvironmentState = Fields<typeof environmentStateShape>;

/** The item of a release offered to an environment (`promotion.auto: false`): pk `ENV#<service>#<environment>`, sk `OFFER`. */
export const offerKey = (service: string, environment: string) => ({ pk: `ENV#${service}#${environment}`, sk: 'OFFER' });

/**
 * A release offered for promotion to an environment: what `cutover promote-release` deploys by default.
 * Replaced by the next offer; removed when a deployment of it starts there.
 */
const offerItemShape = {
  ...Keys,
  /** The deployment that succeeded in `fromEnvironment` with it. */
  deploymentId: nonEmpty(),
  fromEnvironment: nonEmpty(),
  commit: nonEmpty(),
  /** The image it ran (pinned by digest). */
  image: nonEmpty(),
  migrations: z.boolean(),
  message: z.optional(z.string()),
  committedAt: z.optional(iso),
  /** ISO-8601 time it was offered (after the soak). */
  offeredAt: iso,
};
export const OfferItemSchema = z.looseObject(offerItemShape);
export type OfferItem = Fields<typeof offerItemShape>;

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
  'gates-passed',
  'queued',
  'superseded',
  'promotion',
]);
export type AuditKind = z.infer<typeof AuditKindSchema>;

/** One event of a service and environment's audit timeline (newest first when queried). */
const auditEventShape = {
  ...Keys,
  /** ISO-8601 time of the event. */
  at: iso,
  service: nonEmpty(),
  environment: nonEmpty(),
  kind: AuditKindSchema,
  /** The deployment or rollback (execution name) it belongs to, if any. */
  deploymentId: z.optional(z.string()),
  executionArn: z.optional(z.string()),
  /**
   * Who acted: an operator's name or IAM identity, `alarm:<alarm name>`, a pusher's login, or
   * `cutover` for the state machines' own steps.
   */
  actor: z.string(),
  /**
   * The caller's AWS identity when a person acted through the CLI (STS GetCallerIdentity ARN; on the
   * local twin, `access-key:<id>`), beside `actor`, the declared name anyone can set.
   */
  caller: z.optional(z.string()),
  /** One line for humans. */
  message: z.string(),
  /** Anything else worth keeping (percent, error name, snapshot, ...). */
  detail: z.optional(z.record(z.string(), z.unknown())),
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
export function parseLedgerItem<T>(schema: z.core.$ZodType<T>, item: unknown, what: string): T {
  const parsed = z.safeParse(schema, item);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new LedgerItemError(`${what} in the ledger table is not what cutover writes (${issue.path.join('.') || 'item'}: ${issue.message})`);
}
