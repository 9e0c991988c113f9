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
 * Env: `TABLE_NAME`.
 */
import { z } from 'zod';
import { Ledger } from '../../lib/aws/ledger';
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
