/**
 * plan — first state of the deploy and rollback state machines: validates the execution input and
 * resolves the plan from the config.
 *
 * Event: `{ kind?: 'deploy' | 'rollback', input: <execution input>, execution: { id, name, startTime } }`
 * (see lib/domain/plan.ts).
 * Returns: `DeploymentPlan` (deploy, the default) or `RollbackPlan` (rollback).
 * Throws: `Cutover.InvalidInput` with a message naming the field and the fix; `ConfigError` when
 * `CUTOVER_CONFIG` is missing or invalid.
 * Env: `CUTOVER_CONFIG` (the config as JSON).
 */
import { configFromEnv } from '../../lib/config/load';
import { InvalidInputError } from '../../lib/domain/errors';
import { PlanRequestSchema, resolvePlan, resolveRollbackPlan, type DeploymentPlan, type RollbackPlan } from '../../lib/domain/plan';

export const handler = async (event: unknown): Promise<DeploymentPlan | RollbackPlan> => {
  const request = PlanRequestSchema.safeParse(event);
  if (!request.success) throw new InvalidInputError(`plan: malformed task input: ${request.error.message}`);
  return request.data.kind === 'rollback' ? resolveRollbackPlan(configFromEnv(), request.data) : resolvePlan(configFromEnv(), request.data);
};
