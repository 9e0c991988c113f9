/**
 * Reporting a cutover deployment to GitHub as a GitHub Deployment with statuses (issue 12 part 5),
 * best effort: a failure to report is logged and returned, never thrown — reporting never fails or
 * delays a deployment beyond the adapter's request timeouts (lib/aws/github.ts, 5 s a request).
 *
 * Statuses, in order (lib/domain/github-deployments.ts maps them): `queued` when the deployment is
 * recorded (queued behind the lock, or waiting at its gates), `in_progress` when it begins changing
 * things, then `success` (with `environment_url`), `failure` / `error`, or `inactive` for a superseded
 * push; and `inactive` on the deployment a success replaced, in a production environment (GitHub's
 * `auto_inactive` does that only for other environments). Each status finds its GitHub deployment again by cutover's deployment id in the deployment's
 * payload (createDeployment is idempotent), so a retried ledger task posts to the same deployment.
 * Follows the GitHub REST API "Deployments" and "Deployment statuses" endpoints.
 */
import type { GitHubPlan } from '../domain/plan';
import { deploymentRequest, deploymentStatusFor, type DeploymentEvent } from '../domain/github-deployments';
import { createDeployment, createDeploymentStatus } from './github';
import { logger } from '../observability';

/** What {@link reportToGitHub} did. */
export type GitHubReport =
  | { readonly reported: true; readonly githubDeploymentId: number; readonly state: string }
  | { readonly reported: false; readonly reason: string };

/** The deployment being reported (a DeploymentPlan has these fields). */
export interface ReportedDeployment {
  readonly deploymentId: string;
  /** The deploy execution (the status's `log_url`); unknown for a replaced release recorded earlier. */
  readonly executionArn?: string;
  readonly service: string;
  readonly environment: string;
  readonly release: { readonly commit: string };
  readonly github: GitHubPlan | null;
}

/**
 * Post `event` for `deployment` to its GitHub Deployment (created on first use).
 * @param environmentUrl sent as `environment_url` on success
 * @returns `reported: false` with the reason when GitHub reporting is off for the service (no `github`,
 *   or `github.deployments: false`) or GitHub could not be reached / refused; never throws
 */
export async function reportToGitHub(deployment: ReportedDeployment, event: DeploymentEvent, environmentUrl?: string): Promise<GitHubReport> {
  const github = deployment.github;
  if (!github || !github.deployments) return { reported: false, reason: 'GitHub deployments are not configured for this service' };
  try {
    const request = deploymentRequest({
      sha: deployment.release.commit,
      environment: deployment.environment,
      service: deployment.service,
      deploymentId: deployment.deploymentId,
      ...(deployment.executionArn ? { executionArn: deployment.executionArn } : {}),
    });
    const id = await createDeployment(github, github.repository, request);
    const status = deploymentStatusFor(event, {
      service: deployment.service,
      environment: deployment.environment,
      commit: deployment.release.commit,
      ...(deployment.executionArn ? { executionArn: deployment.executionArn } : {}),
      ...(environmentUrl ? { environmentUrl } : {}),
    });
    await createDeploymentStatus(github, github.repository, id, status);
    return { reported: true, githubDeploymentId: id, state: status.state };
  } catch (err) {
    const reason = `${err instanceof Error ? err.name : 'Error'}: ${err instanceof Error ? err.message : String(err)}`;
    logger.warn('could not report the deployment to GitHub (the deployment goes on)', { deploymentId: deployment.deploymentId, event: event.kind, reason });
    return { reported: false, reason };
  }
}
