/**
 * How a release's ECS rollout stands, from one DescribeServices answer. Pure: the shape is the part of
 * an ECS `Service` it reads (no SDK import).
 *
 * ECS lists a service's deployments with the PRIMARY (newest) first. With the deployment circuit
 * breaker's rollback on, a failed rollout is *not* `deployments[0]`: ECS starts a rollback deployment
 * of the previous revision, which becomes PRIMARY, and the failed deployment (`rolloutState: FAILED`,
 * `rolloutStateReason`) is another element until it drains away (Amazon ECS developer guide, "How the
 * Amazon ECS deployment circuit breaker detects failures"). Reading only the first element missed the
 * failure until the stabilization timeout.
 */

/** The fields of an ECS deployment this reads. */
export interface DeploymentView {
  readonly status?: string;
  readonly taskDefinition?: string;
  readonly rolloutState?: string;
  readonly rolloutStateReason?: string;
}

/** The fields of an ECS service this reads. */
export interface ServiceView {
  readonly taskDefinition?: string;
  readonly desiredCount?: number;
  readonly runningCount?: number;
  readonly deployments?: readonly DeploymentView[];
}

export type Rollout =
  | { readonly state: 'stable' }
  | { readonly state: 'in-progress' }
  /** Given up: ECS failed the rollout, or another revision replaced the release's (a circuit-breaker rollback, or someone). */
  | { readonly state: 'failed'; readonly reason: string };

/**
 * The rollout of `taskDefinitionArn` on a service that cutover just updated to it.
 * - stable: one deployment (the release's) and running = desired (the SDK waiter's acceptor, plus the revision);
 * - failed: any deployment of the release is FAILED, or the PRIMARY deployment runs another revision;
 * - in-progress otherwise.
 */
export function greenRollout(service: ServiceView, taskDefinitionArn: string): Rollout {
  const deployments = service.deployments ?? [];
  const ours = deployments.filter((d) => d.taskDefinition === taskDefinitionArn);
  const failed = ours.find((d) => d.rolloutState === 'FAILED');
  if (failed) return { state: 'failed', reason: `rollout FAILED: ${failed.rolloutStateReason ?? 'no reason given'}` };
  const primary = deployments.find((d) => d.status === 'PRIMARY') ?? deployments[0];
  if (primary?.taskDefinition !== undefined && primary.taskDefinition !== taskDefinitionArn) {
    return {
      state: 'failed',
      reason: `the PRIMARY deployment runs ${primary.taskDefinition}, not ${taskDefinitionArn} (ECS rolled the service back${primary.rolloutStateReason ? `: ${primary.rolloutStateReason}` : ''}, or it was updated by someone else)`,
    };
  }
  const stable = deployments.length === 1 && service.runningCount === service.desiredCount && (primary?.taskDefinition ?? service.taskDefinition) === taskDefinitionArn;
  return stable ? { state: 'stable' } : { state: 'in-progress' };
}
