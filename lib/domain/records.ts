/**
 * Deployment lock and deployment records: key layout and outcome wording. Pure.
 *
 * One DynamoDB table (keys `pk`, `sk`):
 *  - lock:        pk `LOCK#<service>#<environment>`, sk `LOCK`
 *  - deployment:  pk `DEPLOYMENTS#<service>#<environment>`, sk `<startedAt ISO>#<deploymentId>`
 *  - environment: pk `ENV#<service>#<environment>`, sk `STATE` (live slot, last good release)
 */
import type { DeploymentPlan } from './plan';
import type { SlotName } from './slots';

export const lockKey = (service: string, environment: string) => ({ pk: `LOCK#${service}#${environment}`, sk: 'LOCK' });
export const deploymentKey = (plan: Pick<DeploymentPlan, 'service' | 'environment' | 'startedAt' | 'deploymentId'>) => ({
  pk: `DEPLOYMENTS#${plan.service}#${plan.environment}`,
  sk: `${plan.startedAt}#${plan.deploymentId}`,
});
export const environmentKey = (service: string, environment: string) => ({ pk: `ENV#${service}#${environment}`, sk: 'STATE' });

export type DeploymentStatus = 'in-progress' | 'succeeded' | 'failed' | 'rolled-back' | 'rollback-failed';

/** The state a deploy execution carries (the subset the ledger reads). Fields are as the state machine writes them. */
export interface DeploymentState {
  plan: DeploymentPlan;
  slots?: { live: SlotName; idle: SlotName };
  snapshot?: { taken: boolean; identifier?: string; createdAt?: string };
  migration?: { ran: boolean; status?: string; exitCode?: number | null; message?: string };
  traffic?: { percent?: number };
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
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
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
      : rb.decisionError
        ? `no operator decision arrived (${rb.decisionError.Error}), so nothing was discarded`
        : state.plan.databaseFailurePolicy === 'keep'
          ? 'policy "keep"'
          : state.snapshot?.taken
            ? `policy "${state.plan.databaseFailurePolicy}"`
            : 'no snapshot was taken';
  return ` Database: schema and data kept as they are (${why}).${snap}`;
}

