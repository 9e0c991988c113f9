/**
 * Promotion through environments (config `promotion: { from, auto, soakSeconds }`): a release that
 * succeeded in `from` — the same commit, the same image digest, the same migrations — is deployed to
 * the next environment, started by cutover (`auto`) or offered to an operator (`cutover
 * promote-release`). Pure: the ledger handler reads records and writes offers; this decides.
 *
 * Rules:
 *  - only a deployment whose record is still `succeeded` is promoted (one rolled back later, during
 *    its soak or after, is `rolled-back` and never offered), and only while none of its environment's
 *    alarms is in ALARM;
 *  - an environment with `promotion` accepts only a release whose commit succeeded in `from` and, when
 *    the deployment names a pinned image (`<repository>@sha256:…`), with that very image; an operator's
 *    override (`--force --reason`) is recorded instead;
 *  - the promoted deployment runs the image `from` ran (pinned by digest) and carries its migration
 *    flag, commit message and commit time.
 */
import type { DeploymentRecord } from './ledger-items';
import type { ExplicitDeployInput } from './deploy-input';
import { childExecutionName, type DeploymentPlan } from './plan';

/** The release a promotion carries, as the source deployment ran it. */
export interface PromotedRelease {
  /** The deployment in `from` that succeeded with it. */
  readonly deploymentId: string;
  readonly fromEnvironment: string;
  readonly commit: string;
  /** The image it ran, pinned by digest when the image gate pinned it. */
  readonly image: string;
  readonly migrations: boolean;
  readonly message?: string;
  readonly committedAt?: string;
}

/** Execution name of the deployment that promotes `deploymentId` to `environment` (deterministic: a retried start finds it). */
export function promotionExecutionName(deploymentId: string, environment: string): string {
  return childExecutionName(`${deploymentId}/${environment}`, 'promote');
}

/** The release of a succeeded deployment, to promote. */
export function promotedRelease(plan: Pick<DeploymentPlan, 'deploymentId' | 'environment' | 'image' | 'release'>): PromotedRelease {
  return {
    deploymentId: plan.deploymentId,
    fromEnvironment: plan.environment,
    commit: plan.release.commit,
    image: plan.image,
    migrations: plan.release.migrations,
    ...(plan.release.message ? { message: plan.release.message } : {}),
    ...(plan.release.committedAt ? { committedAt: plan.release.committedAt } : {}),
  };
}

/**
 * The deploy execution input that promotes `release` to `environment`: the same commit, image and
 * migrations; trigger `promotion` of the source deployment.
 * @param actor who promotes: `cutover` (auto) or the operator
 */
export function promotionInput(service: string, environment: string, release: PromotedRelease, actor: string, extra: Pick<ExplicitDeployInput, 'promotionOverride'> = {}): ExplicitDeployInput {
  return {
    service,
    environment,
    release: {
      commit: release.commit,
      image: release.image,
      migrations: release.migrations,
      ...(release.message ? { message: release.message } : {}),
      ...(release.committedAt ? { committedAt: release.committedAt } : {}),
    },
    trigger: { source: 'promotion', actor, of: release.deploymentId, reason: `promoted from ${release.fromEnvironment}` },
    ...extra,
  };
}

/** Whether a commit given in full or shortened (≥ 7 hex characters) names `full`. */
const sameCommit = (a: string, b: string) => {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x.length >= 7 && y.length >= 7 && (x.startsWith(y) || y.startsWith(x));
};

/** What `decidePromotable` found. */
export type PromotableDecision =
  | { readonly promotable: true; readonly from: PromotedRelease; readonly message: string }
  | { readonly promotable: false; readonly message: string };

/**
 * May `plan` (a deployment to an environment with `promotion`) deploy its release? Yes when a record
 * of `promotion.from` (`fromRecords`, any order) has the same commit, status `succeeded` and — when
 * `plan.image` is pinned by digest — the same image. The newest such record is the source.
 */
export function decidePromotable(plan: Pick<DeploymentPlan, 'service' | 'environment' | 'image' | 'release' | 'promotion'>, fromRecords: readonly DeploymentRecord[]): PromotableDecision {
  const from = plan.promotion!.from;
  const commit = plan.release.commit;
  const pinned = plan.image.includes('@sha256:') ? plan.image : undefined;
  const ofCommit = fromRecords.filter((r) => (r.kind ?? 'deploy') === 'deploy' && sameCommit(r.commit, commit)).sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
  const ok = ofCommit.find((r) => r.status === 'succeeded' && (!pinned || r.image === pinned));
  const override = `cutover promote-release ${plan.service} ${plan.environment} --commit ${commit} --force --reason "<why>"`;
  if (ok) {
    return {
      promotable: true,
      from: { deploymentId: ok.deploymentId, fromEnvironment: from, commit: ok.commit, image: ok.image, migrations: plan.release.migrations, ...(ok.committedAt ? { committedAt: ok.committedAt } : {}) },
      message: `release ${commit.slice(0, 7)} succeeded in ${from} (deployment ${ok.deploymentId}, image ${ok.image})`,
    };
  }
  const last = ofCommit[0];
  const why = !last
    ? `it was never deployed to ${from}`
    : last.status === 'succeeded'
      ? `${from} ran it as ${last.image}, not ${pinned}`
      : `its last deployment to ${from} (${last.deploymentId}) is ${last.status}${last.rolledBackBy ? ` (rolled back by ${last.rolledBackBy})` : ''}${last.error ? `: ${last.error}` : ''}`;
  return {
    promotable: false,
    message: `${plan.service}/${plan.environment} accepts only releases that succeeded in ${from}, and release ${commit.slice(0, 7)} did not: ${why}. Deploy it to ${from} first, or override (recorded): ${override}`,
  };
}

/** Whether a succeeded deployment may be promoted now, after its soak. */
export type OfferDecision = { readonly offer: true } | { readonly offer: false; readonly why: string };

/**
 * Decide whether to promote after the soak: the source record must still be `succeeded` (a rollback
 * during the soak made it `rolled-back`) and none of its environment's alarms in ALARM.
 */
export function decideOffer(record: Pick<DeploymentRecord, 'status' | 'rolledBackBy'> | undefined, alarmsInAlarm: readonly string[]): OfferDecision {
  if (!record) return { offer: false, why: 'its record is missing' };
  if (record.status !== 'succeeded') return { offer: false, why: `it is ${record.status}${record.rolledBackBy ? ` (rolled back by ${record.rolledBackBy})` : ''}` };
  if (alarmsInAlarm.length > 0) return { offer: false, why: `alarm${alarmsInAlarm.length > 1 ? 's' : ''} ${alarmsInAlarm.join(', ')} ${alarmsInAlarm.length > 1 ? 'are' : 'is'} in ALARM` };
  return { offer: true };
}
