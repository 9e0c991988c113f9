/**
 * Deployment outcomes: what a finished deployment or rollback is recorded as, and the wording operators
 * read. Pure. The ledger's item model (lock, records, environment state, audit events, keys) is
 * lib/domain/ledger-items.ts; time-dependent decisions over it are lib/domain/ledger-decisions.ts.
 */
import type { DeploymentPlan, RollbackPlan } from './plan';
import type { SlotName } from './slots';
import type { DeploymentStatus, ReleaseRef } from './ledger-items';

// The item model moved to ledger-items.ts; these names stay importable from here for existing callers.
export { auditPartition, deploymentKey, environmentKey, lockKey } from './ledger-items';
export type { AuditEvent, AuditKind, DeploymentStatus, EnvironmentState, ReleaseRef } from './ledger-items';

/** The state a deploy execution carries (the subset the ledger reads). Fields are as the state machine writes them. */
export interface DeploymentState {
  plan: DeploymentPlan;
  slots?: { live: SlotName; idle: SlotName };
  snapshot?: { taken: boolean; identifier?: string; createdAt?: string };
  migration?: { ran: boolean; status?: string; exitCode?: number | null; message?: string };
  traffic?: { percent?: number };
  /** The approval gate's answer (SendTaskSuccess output), e.g. `{ approved: true, operator }`. */
  approval?: { approved?: boolean; operator?: string; comment?: string };
  /** An operator's promote-now (the bake's SendTaskSuccess output). */
  promoteNow?: { action?: string; operator?: string };
  failure?: { Error: string; Cause?: string } | null;
  rollback?: {
    traffic?: { trafficOn?: SlotName; message?: string; idleHasTraffic?: boolean };
    scaleDown?: unknown;
    scaleDownError?: { Error: string; Cause?: string };
    error?: { Error: string; Cause?: string };
    database?: { action: 'kept' | 'restored' };
    decision?: { decision?: string; operator?: string };
    decisionError?: { Error: string; Cause?: string };
    restore?: { message?: string };
    restoreError?: { Error: string; Cause?: string };
  };
}

/** The readable part of a Step Functions error cause: a Lambda error's `errorMessage`, else the raw text. */
export function causeText(cause: string | undefined): string {
  if (!cause) return 'no cause given';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown; Error?: unknown; Cause?: unknown; Name?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
    // A child execution's failure (states:startExecution.sync:2): its DescribeExecution output.
    if (parsed && typeof parsed.Error === 'string') {
      return `${typeof parsed.Name === 'string' ? `execution ${parsed.Name} ` : ''}failed with ${parsed.Error}: ${causeText(typeof parsed.Cause === 'string' ? parsed.Cause : undefined)}`;
    }
  } catch {
    /* not JSON: the cause is already text */
  }
  return cause;
}

export interface Outcome {
  status: Exclude<DeploymentStatus, 'in-progress'>;
  /** Step Functions error name for the Fail state (null on success). */
  error: string | null;
  /** One paragraph for operators: what happened, where production traffic is, what happened to the database. */
  message: string;
  /** Slot serving production afterwards. */
  liveSlot: SlotName;
  deploymentId: string;
}

/**
 * Decide the recorded outcome of a finished deployment.
 * @param requested what the state machine asks to record: `succeeded`, `failed` (failed or rolled back,
 *   decided from the state) or `rollback-failed`
 */
export function decideOutcome(state: DeploymentState, requested: 'succeeded' | 'failed' | 'rollback-failed'): Outcome {
  const { plan } = state;
  const who = `${plan.service}/${plan.environment}`;
  const rel = `release ${plan.release.commit.slice(0, 7)}${plan.release.message ? ` ("${plan.release.message}")` : ''}`;
  const live = state.slots?.live ?? 'blue';
  const idle = state.slots?.idle ?? 'green';
  if (requested === 'succeeded') {
    return {
      status: 'succeeded',
      error: null,
      message: `${who}: ${rel} is live on ${idle} with 100% of production traffic. ${live} keeps the previous release running as the rollback target.`,
      liveSlot: idle,
      deploymentId: plan.deploymentId,
    };
  }
  const failure = state.failure ?? { Error: 'Cutover.Unknown', Cause: 'unknown failure' };
  const cause = causeText(failure.Cause).replace(/\.+$/, '');
  const db = databaseSentence(state);
  if (requested === 'rollback-failed') {
    const err = state.rollback?.error;
    return {
      status: 'rollback-failed',
      error: 'Cutover.RollbackFailed',
      message: `${who}: ${rel} failed (${failure.Error}: ${cause}) and the rollback could not restore traffic (${err ? `${err.Error}: ${causeText(err.Cause)}` : 'unknown error'}). Check the production listener by hand.${db}`,
      liveSlot: live,
      deploymentId: plan.deploymentId,
    };
  }
  if (failure.Error === 'Cutover.Superseded') {
    // A newer push replaced it before it changed anything (queued, or waiting at a gate).
    return {
      status: 'superseded',
      error: 'Cutover.Superseded',
      message: `${who}: ${rel} was superseded: ${cause}. Production traffic was not moved${state.slots ? ` (100% on ${live})` : ''}.`,
      liveSlot: live,
      deploymentId: plan.deploymentId,
    };
  }
  if (failure.Error === 'Cutover.OutsideChangeWindow' || failure.Error === 'Cutover.ChangeFrozen' || failure.Error === 'Cutover.NotPromotable') {
    // Turned away by its change window or a freeze (outsideWindow: refuse), or by the promotion rule, before any change.
    const fix = failure.Error === 'Cutover.NotPromotable' ? '' : ` Deploy it inside a window, or override with a reason: cutover deploy ${plan.service} ${plan.environment} --commit ${plan.release.commit} --override-window "<why>".`;
    return {
      status: 'refused',
      error: failure.Error,
      message: `${who}: ${rel} was refused: ${cause}. Nothing was changed.${fix}`,
      liveSlot: live,
      deploymentId: plan.deploymentId,
    };
  }
  const rolledBack = state.rollback?.traffic !== undefined;
  if (rolledBack) {
    const t = state.rollback!.traffic!;
    const traffic = t.idleHasTraffic
      ? `Production traffic stays on ${idle}: ${t.message ?? `${live} is not healthy`}.`
      : `Production traffic is 100% on ${live}; ${idle} ${state.rollback?.scaleDownError ? `could not be scaled down (${causeText(state.rollback.scaleDownError.Cause)})` : 'was scaled down'}.`;
    return {
      status: 'rolled-back',
      error: failure.Error === 'Cutover.AlarmFiring' ? 'Cutover.RolledBackOnAlarm' : 'Cutover.RolledBack',
      message: `${who}: ${rel} was rolled back: ${cause}. ${traffic}${db}`,
      liveSlot: t.idleHasTraffic ? idle : live,
      deploymentId: plan.deploymentId,
    };
  }
  return {
    status: 'failed',
    error: failure.Error,
    message: `${who}: ${rel} failed: ${cause}. Production traffic was not moved${state.slots ? ` (100% on ${live})` : ''}.${db}`,
    liveSlot: live,
    deploymentId: plan.deploymentId,
  };
}

/**
 * Why the database was kept when the operator's answer was neither {"decision":"restore"} nor
 * {"decision":"keep"} (the state machines' DatabaseDecision keeps it rather than fail on the answer).
 */
const UNREADABLE_ANSWER = 'the operator\'s answer could not be read (expected {"decision":"restore"} or {"decision":"keep"}), so nothing was discarded';

function databaseSentence(state: DeploymentState): string {
  if (!state.migration?.ran) return '';
  const rb = state.rollback ?? {};
  const snap = state.snapshot?.taken ? ` Snapshot ${state.snapshot.identifier} is kept.` : '';
  if (rb.restoreError) return ` Database: restoring the snapshot failed (${causeText(rb.restoreError.Cause)}); check the database by hand.${snap}`;
  if (rb.database?.action === 'restored') {
    return ` Database: restored from snapshot ${state.snapshot?.identifier} (writes after ${state.snapshot?.createdAt ?? 'the snapshot'} are not in it; the previous instance was renamed aside and kept).`;
  }
  const why =
    rb.decision?.decision === 'keep'
      ? `an operator${rb.decision.operator ? ` (${rb.decision.operator})` : ''} chose to keep it`
      : rb.decision !== undefined
        ? UNREADABLE_ANSWER
        : rb.decisionError
        ? `no operator decision arrived (${rb.decisionError.Error}), so nothing was discarded`
        : state.plan.databaseFailurePolicy === 'keep'
          ? 'policy "keep"'
          : state.snapshot?.taken
            ? `policy "${state.plan.databaseFailurePolicy}"`
            : 'no snapshot was taken';
  return ` Database: schema and data kept as they are (${why}).${snap}`;
}


/** What `beginRollback` decided (the `$.rollbackTarget` of a rollback execution). */
export interface RollbackTarget {
  /** `kept-slot`: flip production to the slot kept by the rollback window; `redeploy`: deploy `target` again. */
  mode: 'kept-slot' | 'redeploy';
  /** `live`: where the target runs afterwards (the kept slot, or the slot a redeploy uses); `idle`: the slot rolled back (scaled down). */
  slots: { live: SlotName; idle: SlotName };
  /** The release to go back to. */
  target: ReleaseRef;
  /** The release rolled back (the live one when the rollback started). */
  from: ReleaseRef;
  /** Whether the release rolled back changed the database and left a snapshot to restore. */
  database: { restorable: boolean; snapshot?: { identifier: string; createdAt?: string } };
  /** The deploy execution input of a redeploy (also a fallback when the kept slot is unhealthy); absent when the target's commit is unknown. */
  deployInput?: Record<string, unknown>;
  /** One line: what the rollback is going to do. */
  message: string;
}

/** The state a rollback execution carries (state-machines/rollback.asl.json). */
export interface RollbackState {
  plan: RollbackPlan;
  rollbackTarget?: RollbackTarget;
  /** Result of the traffic function's `rollback` onto the kept slot. */
  traffic?: { trafficOn?: SlotName; idleHasTraffic?: boolean; message?: string };
  scaleDownError?: { Error: string; Cause?: string };
  /** The redeploy's child execution (`states:startExecution.sync:2`). */
  redeploy?: { executionArn?: string; status?: string; outcome?: Partial<Outcome> };
  database?: { action: 'none' | 'kept' | 'restored' };
  decision?: { decision?: string; operator?: string };
  decisionError?: { Error: string; Cause?: string };
  restore?: { message?: string; done?: boolean };
  restoreError?: { Error: string; Cause?: string };
  failure?: { Error: string; Cause?: string } | null;
  /** Set by `RecordTrafficRestored` (the ledger's `rollbackTrafficMoved`): the environment state already names the target. */
  trafficRecorded?: { recorded?: boolean };
}

/**
 * Decide the recorded outcome of a finished rollback.
 * @param requested `rolled-back` (the state machine got traffic onto the target) or `failed`
 */
export function decideRollbackOutcome(state: RollbackState, requested: 'rolled-back' | 'failed'): Outcome {
  const { plan } = state;
  const who = `${plan.service}/${plan.environment}`;
  const t = state.rollbackTarget;
  const rel = (r: ReleaseRef | undefined) =>
    r?.commit ? `release ${r.commit.slice(0, 7)}${r.deploymentId ? ` (deployment ${r.deploymentId})` : ''}` : `the release on ${r?.slot ?? '?'}`;
  const by = plan.trigger.actor ? ` by ${plan.trigger.actor}` : '';
  const db = rollbackDatabaseSentence(state);
  if (requested === 'failed' || !t) {
    const failure = state.failure ?? { Error: 'Cutover.Unknown', Cause: 'unknown failure' };
    const where = t?.from ? ` Production traffic stays on ${t.from.slot} (${rel(t.from)}).` : '';
    return {
      status: 'failed',
      error: failure.Error === 'Cutover.DeploymentInProgress' || failure.Error === 'Cutover.NothingToRollBack' ? failure.Error : 'Cutover.RollbackFailed',
      message: `${who}: the rollback${by} ("${plan.reason}") failed: ${failure.Error}: ${causeText(failure.Cause).replace(/\.+$/, '')}.${where}${db}`,
      liveSlot: t?.from.slot ?? 'blue',
      deploymentId: plan.deploymentId,
    };
  }
  const viaKept = state.traffic !== undefined && state.traffic.idleHasTraffic === false;
  const how = viaKept
    ? `production traffic is 100% on the kept slot ${t.slots!.live} again (${state.traffic!.message ?? 'healthy'}); ${t.slots!.idle} ${state.scaleDownError ? `could not be scaled down (${causeText(state.scaleDownError.Cause)})` : 'was scaled down'}`
    : `${rel(t.target)} was deployed again${state.redeploy?.outcome?.liveSlot ? ` and is live on ${state.redeploy.outcome.liveSlot}` : ''}${state.redeploy?.executionArn ? ` (execution ${state.redeploy.executionArn.split(':').at(-1)})` : ''}`;
  return {
    status: 'rolled-back',
    error: null,
    message: `${who}: rolled back${by} from ${rel(t.from)} to ${rel(t.target)} ("${plan.reason}"): ${how}.${db}`,
    liveSlot: viaKept ? t.slots!.live : ((state.redeploy?.outcome?.liveSlot as SlotName | undefined) ?? t.target.slot),
    deploymentId: plan.deploymentId,
  };
}

function rollbackDatabaseSentence(state: RollbackState): string {
  const t = state.rollbackTarget;
  if (!t?.database.restorable) return '';
  const snap = t.database.snapshot!;
  if (state.restoreError) return ` Database: restoring snapshot ${snap.identifier} failed (${causeText(state.restoreError.Cause)}); check the database by hand.`;
  if (state.database?.action === 'restored') {
    return ` Database: restored from snapshot ${snap.identifier} (writes after ${snap.createdAt ?? 'the snapshot'} are not in it; the previous instance was renamed aside and kept).`;
  }
  if (state.database?.action !== 'kept') return '';
  const why =
    state.decision?.decision === 'keep'
      ? `an operator${state.decision.operator ? ` (${state.decision.operator})` : ''} chose to keep it`
      : state.decision !== undefined
        ? UNREADABLE_ANSWER
        : state.decisionError
        ? `no operator decision arrived (${state.decisionError.Error}), so nothing was discarded`
        : `policy "${state.plan.databaseFailurePolicy}"`;
  return ` Database: schema and data kept as they are (${why}); snapshot ${snap.identifier} is kept.`;
}
