/**
 * plan — first state of the deploy state machine: validates the execution input and resolves the
 * deployment plan from the config.
 *
 * Event: `{ input: <execution input>, execution: { id, name, startTime } }` (see lib/domain/plan.ts).
 * Returns: `DeploymentPlan`.
 * Throws: `Cutover.InvalidInput` with a message naming the field and the fix; `ConfigError` when
 * `CUTOVER_CONFIG` is missing or invalid.
 * Env: `CUTOVER_CONFIG` (the config as JSON).
 */
import { configFromEnv } from '../../lib/config/load';
import { InvalidInputError } from '../../lib/domain/errors';
import { PlanRequestSchema, resolvePlan, type DeploymentPlan } from '../../lib/domain/plan';

export const handler = async (event: unknown): Promise<DeploymentPlan> => {
  const request = PlanRequestSchema.safeParse(event);
  if (!request.success) throw new InvalidInputError(`plan: malformed task input: ${request.error.message}`);
  return resolvePlan(configFromEnv(), request.data);
};
