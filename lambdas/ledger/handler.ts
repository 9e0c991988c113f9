/**
 * ledger — the deployment lock and deployment records (DynamoDB), called by the deploy state machine.
 *
 * Events (`action`):
 *  - `acquire` `{ plan }` → the lock item. Throws `Cutover.DeploymentInProgress` when another execution holds it.
 *  - `finish` `{ outcome: 'succeeded'|'failed'|'rollback-failed', deployment: <the execution state> }` →
 *    `{ status, error, message, liveSlot, deploymentId }`; records it and releases the lock.
 *  - `awaitDatabaseDecision` `{ taskToken, deployment }` (invoked with `.waitForTaskToken`) → stores the
 *    token on the record and publishes the question; the operator answers with SendTaskSuccess
 *    `{"decision":"restore"|"keep","operator":"<name>"}`.
 *  - `awaitBake` `{ taskToken, plan, traffic: { percent, bakeSeconds } }` (invoked with `.waitForTaskToken`,
 *    the state's timeout is the bake time) → stores the token on the record and the lock as a `bake`
 *    wait, then checks the alarms once: one already in ALARM fails the token at once with
 *    `Cutover.AlarmFiring` (an alarm event that came before the token was stored is not missed).
 *    Operators end a bake early with SendTaskSuccess `{"action":"promote-now","operator":"<name>"}`
 *    (skip the remaining steps) or SendTaskFailure error `Cutover.Aborted` (roll back).
 * Env: `TABLE_NAME`.
 */
import { z } from 'zod';
import { describeAlarmStates } from '../../lib/aws/cloudwatch';
import { Ledger } from '../../lib/aws/ledger';
import { failTask } from '../../lib/aws/task-tokens';
import { InvalidInputError } from '../../lib/domain/errors';
import type { DeploymentPlan } from '../../lib/domain/plan';
import { decideOutcome, type DeploymentState, type Outcome } from '../../lib/domain/records';
import { logger } from '../../lib/observability';

const Event = z.discriminatedUnion('action', [
  z.object({ action: z.literal('acquire'), plan: z.looseObject({ deploymentId: z.string() }) }),
  z.object({
    action: z.literal('finish'),
    outcome: z.enum(['succeeded', 'failed', 'rollback-failed']),
    deployment: z.looseObject({ plan: z.looseObject({ deploymentId: z.string() }) }),
  }),
  z.object({
    action: z.literal('awaitBake'),
    taskToken: z.string().min(1),
    plan: z.looseObject({ deploymentId: z.string(), alarms: z.array(z.string()) }),
    traffic: z.looseObject({ percent: z.number(), bakeSeconds: z.number() }),
  }),
  z.object({
    action: z.literal('awaitDatabaseDecision'),
    taskToken: z.string().min(1),
    deployment: z.looseObject({ plan: z.looseObject({ deploymentId: z.string() }) }),
  }),
]);

function tableName(): string {
  const name = process.env.TABLE_NAME;
  if (!name) throw new Error('TABLE_NAME is not set: the ledger function needs the DynamoDB table name.');
  return name;
}

export const handler = async (event: unknown): Promise<unknown> => {
  const parsed = Event.safeParse(event);
  if (!parsed.success) throw new InvalidInputError(`ledger: invalid event: ${parsed.error.message}`);
  const ledger = new Ledger(tableName());
  const e = parsed.data;
  switch (e.action) {
    case 'acquire':
      return ledger.acquire(e.plan as unknown as DeploymentPlan);
    case 'finish': {
      const state = e.deployment as unknown as DeploymentState;
      const outcome: Outcome = decideOutcome(state, e.outcome);
      await ledger.finish(state.plan, outcome);
      logger.info('deployment finished', { deploymentId: outcome.deploymentId, status: outcome.status, message: outcome.message });
      return outcome;
    }
    case 'awaitBake': {
      const plan = e.plan as unknown as DeploymentPlan;
      const { percent, bakeSeconds } = e.traffic;
      const question =
        `${plan.service}/${plan.environment}: deployment ${plan.deploymentId} is baking at ${percent}% for ${bakeSeconds} s; an alarm rolls it back at once. ` +
        'Promote now: SendTaskSuccess {"action":"promote-now","operator":"<name>"}. Abort: SendTaskFailure with error "Cutover.Aborted" and your reason.';
      await ledger.setPending(plan, 'bake', e.taskToken, question);
      const firing = plan.alarms.length > 0 ? (await describeAlarmStates(plan.alarms)).filter((a) => a.state === 'ALARM') : [];
      if (firing.length > 0) {
        const cause = firing.map((f) => `alarm ${f.name} is in ALARM as the bake at ${percent}% starts: ${f.reason}`).join('; ');
        await failTask(e.taskToken, 'Cutover.AlarmFiring', cause);
        logger.warn('alarm already firing as the bake starts', { deploymentId: plan.deploymentId, cause });
        return { waiting: false, alarming: true };
      }
      logger.info('baking', { deploymentId: plan.deploymentId, percent, bakeSeconds });
      return { waiting: true };
    }
    case 'awaitDatabaseDecision': {
      const state = e.deployment as unknown as DeploymentState;
      const plan = state.plan;
      const since = state.snapshot?.createdAt ?? 'the snapshot';
      const question =
        `${plan.service}/${plan.environment}: deployment ${plan.deploymentId} failed after its migrations ran. ` +
        `Restore snapshot ${state.snapshot?.identifier} (discards every write made since ${since}) or keep the database as it is? ` +
        `Answer with SendTaskSuccess {"decision":"restore"} or {"decision":"keep"}; without an answer in 24 h the database is kept.`;
      await ledger.setPendingDecision(plan, e.taskToken, question);
      logger.warn('operator decision needed', { deploymentId: plan.deploymentId, question });
      return { waiting: true };
    }
  }
};
