/**
 * Pushes while a deployment runs are queued, not lost (pure decisions; the ledger function carries
 * them out).
 *
 * A deploy execution that finds its environment's lock held waits in `WaitForLock` (a callback wait
 * whose task token is stored on the environment's **queue item**, `LOCK#<service>#<environment>` /
 * `NEXT`). The queue holds one deployment: the newest push wins. A newer push replaces an older
 * queued one, which ends `superseded` (`Cutover.Superseded`, recorded with the newer deployment's id);
 * a deployment that is still waiting at a gate (image, scan, checks) holds the lock but has changed
 * nothing, so a newer push supersedes it the same way. When the lock is released, the queued
 * deployment's wait is answered and it takes the lock (`AcquireLock` again).
 *
 * "Newer" is the order in which pushes reached cutover: the executions' start times (`plan.startedAt`,
 * Step Functions' `$$.Execution.StartTime`), then the deployment id for the same millisecond.
 *
 * A rollback's redeploy never queues (it fails `Cutover.DeploymentInProgress` as before): the
 * rollback hands its lock to it without waking the queue.
 */
import type { LockItem, PendingKind } from './ledger-items';

/**
 * Seconds one `WaitForLock` round lasts before the deployment tries the lock again (`AcquireLock`
 * reclaims a lock whose execution was stopped or timed out without releasing it — nobody wakes the
 * queue then, so such a stall lasts at most one round). 1 h: 13 history events a round.
 */
export const LOCK_WAIT_ROUND_SECONDS = 3600;
/**
 * Seconds a deployment may wait in the queue in all before it fails with `Cutover.LockWaitTimedOut`
 * (2 days: 49 rounds, about 640 history events, which keeps the worst deploy execution under
 * Step Functions' 25,000-event limit; a push that waited longer is stale — start it again).
 */
export const LOCK_WAIT_MAX_SECONDS = 172_800;
/** Pending waits of a lock holder that has changed nothing yet: a newer push supersedes it. */
export const SUPERSEDABLE_WAITS: readonly PendingKind[] = ['image', 'scan', 'checks', 'window'];

/** A push's place in the order: when its execution started (ISO-8601) and its id. */
export interface PushRef {
  readonly deploymentId: string;
  readonly startedAt: string;
  readonly commit?: string;
}

/**
 * Whether push `a` reached cutover after push `b` (start time, then deployment id).
 * Unparsable times compare as text (ISO-8601 strings of one format sort as their instants).
 */
export function isNewerPush(a: PushRef, b: PushRef): boolean {
  const ta = Date.parse(a.startedAt);
  const tb = Date.parse(b.startedAt);
  if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) return ta > tb;
  if (a.startedAt !== b.startedAt) return a.startedAt > b.startedAt;
  return a.deploymentId > b.deploymentId;
}

/** What a deployment that found the lock held does (ledger `awaitLock`). */
export type QueueDecision =
  /** Another, newer push is queued: this one is superseded by it. */
  | { readonly action: 'superseded'; readonly by: PushRef }
  /** Waited longer than LOCK_WAIT_MAX_SECONDS: give up (`Cutover.LockWaitTimedOut`). */
  | { readonly action: 'give-up'; readonly waitedSeconds: number }
  /**
   * Queue (replacing `replaces`, an older queued push, which is superseded); when the lock holder is a
   * deployment still waiting at a gate and older than this push, supersede it too (`supersedeHolder`).
   */
  | { readonly action: 'queue'; readonly replaces?: PushRef; readonly supersedeHolder: boolean };

/**
 * Decide what a deployment whose `AcquireLock` found the lock held does.
 * @param me this deployment
 * @param queued the push queued now (the queue item), if any (may be `me` on a later round)
 * @param holder the lock as read now (absent: it was released meanwhile — queue anyway: the ledger
 *   looks at the lock again after writing the queue item and answers the wait at once)
 * @param now the time of the decision
 */
export function decideQueue(me: PushRef, queued: PushRef | undefined, holder: Pick<LockItem, 'deploymentId' | 'acquiredAt' | 'purpose' | 'pendingKind'> & { startedAt?: string } | undefined, now: Date): QueueDecision {
  if (queued && queued.deploymentId !== me.deploymentId && isNewerPush(queued, me)) return { action: 'superseded', by: queued };
  const waitedSeconds = Math.max(0, Math.floor((now.getTime() - Date.parse(me.startedAt)) / 1000));
  if (Number.isFinite(waitedSeconds) && waitedSeconds >= LOCK_WAIT_MAX_SECONDS) return { action: 'give-up', waitedSeconds };
  const replaces = queued && queued.deploymentId !== me.deploymentId ? queued : undefined;
  return { action: 'queue', ...(replaces ? { replaces } : {}), supersedeHolder: holderIsSupersededBy(holder, me) };
}

/**
 * Whether the lock's holder is a deployment that has changed nothing yet (it waits at a gate: image,
 * scan or checks) and reached cutover before `newer`, so that `newer` supersedes it.
 */
export function holderIsSupersededBy(holder: Pick<LockItem, 'deploymentId' | 'acquiredAt' | 'purpose' | 'pendingKind'> & { startedAt?: string } | undefined, newer: PushRef): boolean {
  if (!holder || (holder.purpose ?? 'deploy') !== 'deploy' || !holder.pendingKind) return false;
  if (!SUPERSEDABLE_WAITS.includes(holder.pendingKind)) return false;
  if (holder.deploymentId === newer.deploymentId) return false;
  return isNewerPush(newer, { deploymentId: holder.deploymentId, startedAt: holder.startedAt ?? holder.acquiredAt });
}

/** The cause a superseded deployment fails with (`Cutover.Superseded`). */
export function supersededCause(me: PushRef, by: PushRef, where: 'queued' | PendingKind): string {
  const waiting = where === 'queued' ? 'while it was queued behind the running deployment' : `while it waited for its ${where === 'window' ? 'change window' : where}`;
  return `deployment ${me.deploymentId}${me.commit ? ` of ${me.commit.slice(0, 7)}` : ''} was superseded by the newer push ${by.deploymentId}${by.commit ? ` of ${by.commit.slice(0, 7)}` : ''} ${waiting}; nothing was changed (the newest push deploys)`;
}

/** What the webhook answers (202) for a push it started: deploying now, or queued behind a running execution. */
export interface PushAnswer {
  readonly executionArn: string;
  /** `started`: it takes the lock now; `queued`: another execution holds it (the push deploys after it, unless a newer push comes first). */
  readonly status: 'started' | 'queued';
  /** The execution holding the lock, when queued. */
  readonly behind?: { readonly deploymentId: string; readonly commit: string; readonly purpose: string };
  readonly message: string;
}

/**
 * The webhook's answer for the push it started as `executionArn`, from the lock as read just after
 * (absent, or held by this execution: started; held by another: queued).
 */
export function pushAnswer(executionArn: string, lock: Pick<LockItem, 'deploymentId' | 'executionArn' | 'commit' | 'purpose'> | undefined): PushAnswer {
  if (!lock || lock.executionArn === executionArn) return { executionArn, status: 'started', message: 'deployment started' };
  const purpose = lock.purpose ?? 'deploy';
  return {
    executionArn,
    status: 'queued',
    behind: { deploymentId: lock.deploymentId, commit: lock.commit, purpose },
    message: `queued behind ${purpose === 'deploy' ? 'deployment' : purpose} ${lock.deploymentId} (${lock.commit.slice(0, 7)}): it deploys when that ends, unless a newer push comes first`,
  };
}
