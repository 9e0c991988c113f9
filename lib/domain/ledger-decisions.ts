/**
 * Decisions over the ledger's items that depend on time — pure functions that take the items and
 * `now` (or the event's own time) as inputs, so the same inputs always give the same answer, whatever
 * the date, the machine's clock or the delivery delay. Handlers read the clock once (or take the time
 * AWS gives them) and pass it here; nothing in this file reads a clock.
 *
 * Items: lib/domain/ledger-items.ts.
 */
import type { EnvironmentState, LockItem, PendingKind, RollbackWindow } from './ledger-items';

/**
 * How long a database decision waits for an operator (the `AwaitDatabaseDecision` states'
 * `TimeoutSeconds` in state-machines/deploy.asl.json and rollback.asl.json); no answer keeps the database.
 */
export const DATABASE_DECISION_TIMEOUT_SECONDS = 86_400;

/** `Date` or epoch milliseconds. */
export type Instant = Date | number;
const ms = (t: Instant): number => (typeof t === 'number' ? t : t.getTime());

/**
 * Parse a time AWS gives in an event: ISO-8601, including CloudWatch's `2026-11-21T10:00:00.000+0000`
 * (an offset without a colon, which `Date.parse` does not accept on every engine).
 * @returns epoch milliseconds, or `undefined` for a missing or unparseable value
 */
export function parseEventTime(text: string | undefined | null): number | undefined {
  if (!text) return undefined;
  const normalized = text.trim().replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const t = Date.parse(normalized);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The time an event happened: the first of `candidates` that parses (e.g. an alarm's
 * `detail.state.timestamp`, then the envelope's `time`), else `fallback` (the handler's clock).
 * An event delivered late is judged by when it happened, not by when it arrived.
 */
export function eventTime(candidates: readonly (string | undefined | null)[], fallback: Instant): Date {
  for (const c of candidates) {
    const t = parseEventTime(c);
    if (t !== undefined) return new Date(t);
  }
  return new Date(ms(fallback));
}

/**
 * Whether a rollback window is open at `at`: it exists and `at` is before its `until`. A window whose
 * time is over but that is still on the item is closing (its closer runs, or could not): it counts as
 * over. An unparseable `until` counts as open (the closer decides), never as silently over.
 */
export function isRollbackWindowOpen(window: Pick<RollbackWindow, 'until'> | undefined, at: Instant): boolean {
  if (!window) return false;
  const until = parseEventTime(window.until);
  return until === undefined || ms(at) < until;
}

/**
 * When a rollback window opened at `promotedAt` closes.
 * @param seconds the window's length (`rollbackWindowSeconds`), >= 0
 * @returns ISO-8601
 */
export function rollbackWindowUntil(promotedAt: Instant, seconds: number): string {
  return new Date(ms(promotedAt) + Math.max(0, seconds) * 1000).toISOString();
}

/**
 * The bounds of a callback wait a deployment enters at `now` (stored on the lock as `pendingSince` /
 * `pendingUntil`, so `status` can say until when and the alarm function can judge it).
 * @param timeoutSeconds the wait's own timeout (its state's `TimeoutSeconds`); undefined for none
 */
export function pendingWindow(now: Instant, timeoutSeconds?: number): { pendingSince: string; pendingUntil?: string } {
  return {
    pendingSince: new Date(ms(now)).toISOString(),
    ...(timeoutSeconds !== undefined && timeoutSeconds > 0 ? { pendingUntil: new Date(ms(now) + timeoutSeconds * 1000).toISOString() } : {}),
  };
}

/**
 * How long ago a snapshot was taken, for the data-loss question ("discards every write made since …
 * (the last N min)"). `undefined` when unknown or in the future of `now` (a clock that disagrees:
 * better say nothing than a negative age).
 * @returns whole minutes, >= 0
 */
export function minutesSince(since: string | undefined, now: Instant): number | undefined {
  const t = parseEventTime(since);
  if (t === undefined) return undefined;
  const elapsed = ms(now) - t;
  return elapsed >= 0 ? Math.round(elapsed / 60_000) : undefined;
}

// ───────────────────────────── the rollback window's closer ─────────────────────────────

/** First wait before the window's closer tries again while another execution holds the lock, seconds. */
export const WINDOW_BUSY_MIN_RETRY_SECONDS = 60;
/** Longest wait between the closer's tries, seconds (1 h). */
export const WINDOW_BUSY_MAX_RETRY_SECONDS = 3_600;
/**
 * How long after the window ended the closer keeps trying while the environment is busy, seconds
 * (24 h). A deployment may hold the lock for weeks (long bakes): an unbounded loop would end in the
 * execution's timeout or its 25,000-event history limit, both uncatchable. Past this, the closer
 * records that it gave up and says how to scale the kept slot down.
 */
export const WINDOW_BUSY_GIVE_UP_SECONDS = 86_400;

/** What the closer does when the lock is held by another execution. */
export type WindowBusyDecision =
  | { readonly kind: 'retry'; readonly retryInSeconds: number }
  | { readonly kind: 'give-up'; readonly busySeconds: number };

/**
 * The rollback window's closer found the environment busy at `now`: try again later, waiting a tenth
 * of the time it has been busy (between 60 s and 1 h, so ~70 tries in 24 h, ~9 history events each),
 * or give up once it has been busy for WINDOW_BUSY_GIVE_UP_SECONDS.
 * @param windowEndedAt when the window ended (the closer's execution start + the window's seconds)
 * @param now the time of this try
 */
export function decideWindowBusy(windowEndedAt: Instant, now: Instant): WindowBusyDecision {
  const busySeconds = Math.max(0, Math.floor((ms(now) - ms(windowEndedAt)) / 1000));
  if (busySeconds >= WINDOW_BUSY_GIVE_UP_SECONDS) return { kind: 'give-up', busySeconds };
  const retryInSeconds = Math.min(WINDOW_BUSY_MAX_RETRY_SECONDS, Math.max(WINDOW_BUSY_MIN_RETRY_SECONDS, Math.ceil(busySeconds / 10)));
  return { kind: 'retry', retryInSeconds };
}

/**
 * Whether a lock may be taken over: its holder execution is no longer running (stopped, failed, timed
 * out or gone — DescribeExecution's status), so it can never release the lock itself.
 * @param holderStatus the holder's execution status, or `'MISSING'` when it does not exist
 */
export function isLockReclaimable(holderStatus: string | undefined): boolean {
  return holderStatus !== undefined && holderStatus !== 'RUNNING' && holderStatus !== 'PENDING_REDRIVE';
}

/** How the lock of a running execution is named for humans. */
export function lockHolderWhat(purpose: LockItem['purpose']): string {
  return purpose === 'rollback' ? 'rollback' : purpose === 'rollback-window' ? 'closing rollback window' : 'deployment';
}

// ───────────────────────────── the alarm function ─────────────────────────────

/** What the alarm function does about one environment watching an alarm that went to ALARM. */
export type AlarmDecision =
  /** Fail the running deployment's bake or approval wait with `Cutover.AlarmFiring` (it rolls back). */
  | { readonly kind: 'fail-wait'; readonly wait: Extract<PendingKind, 'bake' | 'approval'>; readonly taskToken: string; readonly deploymentId: string }
  /**
   * A deployment waits for its image (it has changed nothing) while the live release alarms inside its
   * rollback window: stop that deployment (fail its wait with `Cutover.AlarmFiring`) and roll the live
   * release back to the kept slot (the rollback takes the lock once the deployment let it go).
   */
  | { readonly kind: 'stop-gate-and-rollback'; readonly taskToken: string; readonly waitingDeploymentId: string; readonly keptSlot: string; readonly deploymentId?: string }
  /** A rollback (or the window closing) holds the environment: it decides on its own. */
  | { readonly kind: 'rollback-running'; readonly deploymentId: string; readonly purpose: 'rollback' | 'rollback-window' }
  /** A deployment runs outside a bake or approval wait: it checks the alarms itself before moving traffic. */
  | { readonly kind: 'not-baking'; readonly deploymentId: string }
  /** Start the rollback state machine: to the kept slot (window open) or a redeploy of the last good release. */
  | { readonly kind: 'start-rollback'; readonly how: 'kept-slot' | 'redeploy'; readonly keptSlot?: string; readonly deploymentId?: string }
  /** Notify only: why cutover does not roll back by itself. */
  | { readonly kind: 'notify'; readonly why: 'window-over' | 'live-is-rollback'; readonly deploymentId?: string }
  /** Nothing promoted and nothing running: nothing to do. */
  | { readonly kind: 'no-deployment' };

export interface AlarmDecisionInput {
  /** The environment's lock (a running deployment, rollback or window closer), if any. */
  readonly lock: Pick<LockItem, 'deploymentId' | 'purpose' | 'pendingKind' | 'pendingTaskToken'> | undefined;
  /** The environment state (live release, rollback window), if any promotion happened. */
  readonly environment: Pick<EnvironmentState, 'current' | 'rollbackWindow'> | undefined;
  /** The environment's `alarmAfterWindow` setting. */
  readonly alarmAfterWindow: 'notify' | 'redeploy';
  /** When the alarm went to ALARM (the event's `detail.state.timestamp`), not when the event arrived. */
  readonly firedAt: Instant;
}

/**
 * Decide what an alarm going to ALARM means for one environment:
 *  - a deployment holds the lock in a bake or approval wait → fail that wait;
 *  - a deployment waits for its image (nothing changed yet) while the live release's rollback window
 *    is open → stop that deployment and roll the live release back to the kept slot;
 *  - a rollback or the window's closer holds it → leave it; any other deployment step → nothing (it
 *    checks the alarms itself before it moves traffic and when each wait starts);
 *  - nothing runs and the live release is itself a rollback's redeploy → notify only (cutover never
 *    rolls a rollback back by itself);
 *  - the rollback window was open when the alarm fired → roll back to the kept slot;
 *  - the window was over → redeploy (`alarmAfterWindow: redeploy`) or notify (`notify`);
 *  - nothing promoted yet → nothing.
 */
export function decideAlarmAction(input: AlarmDecisionInput): AlarmDecision {
  const { lock } = input;
  if (lock) {
    if (lock.purpose === 'rollback' || lock.purpose === 'rollback-window') {
      return { kind: 'rollback-running', deploymentId: lock.deploymentId, purpose: lock.purpose };
    }
    if ((lock.pendingKind === 'bake' || lock.pendingKind === 'approval') && lock.pendingTaskToken) {
      return { kind: 'fail-wait', wait: lock.pendingKind, taskToken: lock.pendingTaskToken, deploymentId: lock.deploymentId };
    }
    if (lock.pendingKind === 'image' && lock.pendingTaskToken) {
      // The waiting deployment changed nothing and left the window open: the live release is what alarms.
      const current = input.environment?.current;
      const window = input.environment?.rollbackWindow;
      if (current && current.source !== 'rollback' && isRollbackWindowOpen(window, input.firedAt)) {
        return { kind: 'stop-gate-and-rollback', taskToken: lock.pendingTaskToken, waitingDeploymentId: lock.deploymentId, keptSlot: window!.keptSlot, ...(current.deploymentId ? { deploymentId: current.deploymentId } : {}) };
      }
    }
    return { kind: 'not-baking', deploymentId: lock.deploymentId };
  }
  const current = input.environment?.current;
  if (!current) return { kind: 'no-deployment' };
  const deploymentId = current.deploymentId;
  // Never roll a rollback back by itself: a redeploy's promotion opens a window whose kept slot holds
  // the very release that was rolled back.
  if (current.source === 'rollback') return { kind: 'notify', why: 'live-is-rollback', ...(deploymentId ? { deploymentId } : {}) };
  const window = input.environment?.rollbackWindow;
  if (isRollbackWindowOpen(window, input.firedAt)) {
    return { kind: 'start-rollback', how: 'kept-slot', keptSlot: window!.keptSlot, ...(deploymentId ? { deploymentId } : {}) };
  }
  if (input.alarmAfterWindow === 'notify') return { kind: 'notify', why: 'window-over', ...(deploymentId ? { deploymentId } : {}) };
  return { kind: 'start-rollback', how: 'redeploy', ...(deploymentId ? { deploymentId } : {}) };
}
