/**
 * Where a rollback goes: a pure decision over the environment state and the deployment history
 * (the `beginRollback` action of the ledger function does the I/O around it).
 */
import { InvalidInputError, NothingToRollBackError } from './errors';
import type { DeploymentRecord, EnvironmentState, ReleaseRef } from './ledger-items';
import type { RollbackPlan } from './plan';
import type { RollbackTarget } from './records';
import { otherSlot, type SlotName } from './slots';

export interface RollbackTargetInput {
  readonly plan: Pick<RollbackPlan, 'service' | 'environment' | 'reason' | 'toDeployment'>;
  /** The environment state (live release, rollback window), if any promotion happened. */
  readonly environment: Pick<EnvironmentState, 'current' | 'rollbackWindow'> | undefined;
  /** The environment's deployment and rollback records, newest first. */
  readonly history: readonly DeploymentRecord[];
  /** Who started the rollback (recorded on a redeploy's trigger). */
  readonly actor: string;
}

/**
 * Decide the rollback's target:
 *  - `kept-slot` while the rollback window is on the environment state (its slot still runs the
 *    previous release) and `toDeployment` is absent or names that release: flip production to it;
 *  - otherwise `redeploy` `toDeployment` (a succeeded deployment, not the live one) or the last
 *    succeeded deployment before the live one that was not rolled back: all at once, no migrations.
 * The window is used while its item exists, even past its `until`: the closer takes the lock before it
 * scales the kept slot down, so a rollback holding the lock still finds it running (and checks health).
 * @returns the target, the slots, whether the database can be restored, the redeploy's deploy input
 * @throws NothingToRollBackError nothing promoted yet, or no earlier good release to redeploy
 * @throws InvalidInputError `toDeployment` names no succeeded deployment, or the live one (names the field and the fix)
 */
export function chooseRollbackTarget(input: RollbackTargetInput): RollbackTarget {
  const { plan, history } = input;
  const who = `${plan.service}/${plan.environment}`;
  const from = input.environment?.current;
  if (!from) throw new NothingToRollBackError(`${who}: no release has been promoted by cutover yet, so there is nothing to roll back to.`);
  const window = input.environment?.rollbackWindow;
  const asRef = (r: DeploymentRecord, slot: SlotName): ReleaseRef => ({ deploymentId: r.deploymentId, commit: r.commit, image: r.image, slot, startedAt: r.startedAt, source: r.trigger.source });
  let target: ReleaseRef;
  let mode: RollbackTarget['mode'];
  if (window && (!plan.toDeployment || plan.toDeployment === window.kept?.deploymentId)) {
    mode = 'kept-slot';
    target = window.kept ?? { slot: window.keptSlot };
  } else {
    mode = 'redeploy';
    if (plan.toDeployment) {
      const r = history.find((h) => h.deploymentId === plan.toDeployment);
      if (!r || r.status !== 'succeeded' || r.kind === 'rollback') {
        throw new InvalidInputError(
          `toDeployment: "${plan.toDeployment}" is not a succeeded deployment of ${who}; pick one from \`cutover history ${plan.service} ${plan.environment}\`, or leave it out to go back to the last known good release.`,
        );
      }
      if (r.deploymentId === from.deploymentId) throw new InvalidInputError(`toDeployment: "${plan.toDeployment}" is the live release of ${who} already.`);
      target = asRef(r, otherSlot(from.slot));
    } else {
      const before = history.filter((h) => from.startedAt === undefined || h.startedAt < from.startedAt);
      const good = before.find((h) => h.status === 'succeeded' && (h.kind ?? 'deploy') === 'deploy' && !h.rolledBackBy && h.deploymentId !== from.deploymentId);
      if (!good) {
        throw new NothingToRollBackError(
          `${who}: the rollback window is over and no earlier succeeded release is known to redeploy. Deploy a fixed release instead (git push, or cutover deploy ${plan.service} ${plan.environment} --commit <sha>).`,
        );
      }
      target = asRef(good, otherSlot(from.slot));
    }
  }
  const restorable = from.migrationsRan === true && !!from.snapshot?.identifier;
  const deployInput = target.commit
    ? {
        service: plan.service,
        environment: plan.environment,
        release: { commit: target.commit, ...(target.image ? { image: target.image } : {}), migrations: false, message: `rollback to ${target.commit.slice(0, 7)}: ${plan.reason}`.slice(0, 1000) },
        trigger: { source: 'rollback', actor: input.actor, of: from.deploymentId ?? 'unknown', reason: plan.reason },
        strategy: { type: 'all-at-once', bakeSeconds: 0 },
      }
    : undefined;
  const rel = (r: ReleaseRef) => (r.commit ? `${r.commit.slice(0, 7)}${r.deploymentId ? ` (${r.deploymentId})` : ''}` : `the release on ${r.slot}`);
  const message =
    mode === 'kept-slot'
      ? `flip production back to the kept slot ${window!.keptSlot} (${rel(target)}) from ${rel(from)}`
      : `redeploy ${rel(target)} (all at once, no migrations) in place of ${rel(from)}`;
  return {
    mode,
    // Where the target will run (the kept slot, or the idle slot a redeploy uses) and the slot rolled back.
    slots: { live: otherSlot(from.slot), idle: from.slot },
    target,
    from,
    database: restorable ? { restorable, snapshot: from.snapshot! } : { restorable: false },
    ...(deployInput ? { deployInput } : {}),
    message,
  };
}
