/**
 * Reporting a cutover deployment as a GitHub Deployment (the repository's "Deployments" / environments
 * view). Pure: what cutover knows in, the REST request bodies out. lib/aws/github.ts sends them.
 *
 * GitHub REST API, "REST API endpoints for deployments" and "… for deployment statuses":
 *  - `POST /repos/{owner}/{repo}/deployments` {@link DeploymentRequest} → 201 with the deployment (`id`, `sha`,
 *    `ref`, `environment`, `payload`, `created_at`, …). `required_contexts: []` skips GitHub's own commit
 *    status verification (cutover runs its own checks gate, which also knows check runs), `auto_merge: false`
 *    stops GitHub merging the default branch into the ref (cutover deploys exactly the pushed commit).
 *  - `POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses` {@link DeploymentStatusRequest} → 201.
 *    `state`: `error | failure | inactive | in_progress | queued | pending | success`; `description` at most
 *    140 characters; `log_url` (replaces `target_url`, which GitHub sets to the same value); `environment_url`;
 *    `auto_inactive` (default true): on a `success` status GitHub adds an `inactive` status to the prior
 *    deployments of the same repository and environment that had a `success` state — **only** to
 *    non-transient, non-production environments. So for a production environment cutover marks the
 *    deployment it replaced `inactive` itself ({@link inactivatesPreviousItself}).
 *
 * How cutover's life cycle maps ({@link deploymentStatusFor}):
 *  - the deployment starts (recorded, waiting for its lock / gates) → `queued`;
 *  - it begins changing things (snapshot, migrations, green, traffic) → `in_progress`;
 *  - it finishes: `succeeded` → `success` (with the environment URL); `failed` / `rolled-back` → `failure`
 *    (the release did not go live; production stays on the previous release); `rollback-failed` → `error`
 *    (cutover could not restore traffic: someone must look); a failure whose cause is cutover's own machinery
 *    rather than the release (`States.*`, `Lambda.*`, `Cutover.Transient` after its retries) → `error`;
 *    `superseded` (a newer push replaced it before it changed anything) → `inactive`;
 *  - the deployment a success replaced → `inactive` (needed for production environments, see above).
 */
import { InvalidInputError } from './errors';

/** GitHub's limit on a deployment status's (and a deployment's) `description`, in characters. */
export const GITHUB_DESCRIPTION_MAX = 140;

/** A deployment status's `state` as GitHub accepts it. */
export type GitHubDeploymentState = 'error' | 'failure' | 'inactive' | 'in_progress' | 'queued' | 'pending' | 'success';

/** What cutover's payload on a GitHub deployment carries (`payload.cutover`): how cutover finds it again. */
export interface CutoverDeploymentPayload {
  readonly cutover: {
    /** cutover's deployment id (the deploy execution's name): the idempotency key of create-deployment. */
    readonly deploymentId: string;
    readonly service: string;
    /** The deploy execution's ARN, when known. */
    readonly executionArn?: string;
  };
}

/** Body of `POST /repos/{owner}/{repo}/deployments`. */
export interface DeploymentRequest {
  /** The commit SHA (cutover deploys a commit, never a moving branch). */
  readonly ref: string;
  readonly task: 'deploy';
  readonly auto_merge: false;
  /** Empty: GitHub verifies no commit statuses (cutover's checks gate does). */
  readonly required_contexts: [];
  readonly environment: string;
  readonly description: string;
  readonly transient_environment: boolean;
  readonly production_environment: boolean;
  readonly payload: CutoverDeploymentPayload;
}

/** Body of `POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses`. */
export interface DeploymentStatusRequest {
  readonly state: GitHubDeploymentState;
  /** At most {@link GITHUB_DESCRIPTION_MAX} characters. */
  readonly description: string;
  /** Where to follow the deployment: the Step Functions console page of the execution. */
  readonly log_url?: string;
  /** Where the environment is reachable (on `success`). */
  readonly environment_url?: string;
  /** GitHub's default (true) is kept: only set (to false) when a caller asks. */
  readonly auto_inactive?: boolean;
}

/** Input of {@link deploymentRequest}. */
export interface DeploymentRequestInput {
  /** The commit SHA being deployed. */
  readonly sha: string;
  /** cutover environment name; used as GitHub's environment name. */
  readonly environment: string;
  readonly service: string;
  /** cutover's deployment id (the execution name). */
  readonly deploymentId: string;
  readonly executionArn?: string;
  /** @default `cutover: <service> <short sha> to <environment>` */
  readonly description?: string;
  /** The environment will go away (a preview environment): GitHub shows an inactive one as "destroyed". @default false */
  readonly transient?: boolean;
  /** End users use this environment. @default true when the environment is named `production` (GitHub's own default) */
  readonly production?: boolean;
}

/**
 * The body that creates the GitHub deployment of a cutover deployment.
 * @throws InvalidInputError when `sha` is not a 40-character commit SHA or `environment` / `deploymentId` is empty
 */
export function deploymentRequest(input: DeploymentRequestInput): DeploymentRequest {
  if (!/^[0-9a-f]{40}$/i.test(input.sha)) {
    throw new InvalidInputError(`GitHub deployment: sha "${input.sha}" is not a full 40-character commit SHA; pass the release's commit`);
  }
  if (!input.environment) throw new InvalidInputError('GitHub deployment: environment is empty; pass the cutover environment name');
  if (!input.deploymentId) throw new InvalidInputError('GitHub deployment: deploymentId is empty; pass the deploy execution name');
  return {
    ref: input.sha,
    task: 'deploy',
    auto_merge: false,
    required_contexts: [],
    environment: input.environment,
    description: truncateDescription(input.description ?? `cutover: ${input.service} ${input.sha.slice(0, 7)} to ${input.environment}`),
    transient_environment: input.transient ?? false,
    production_environment: input.production ?? input.environment === 'production',
    payload: {
      cutover: {
        deploymentId: input.deploymentId,
        service: input.service,
        ...(input.executionArn ? { executionArn: input.executionArn } : {}),
      },
    },
  };
}

/**
 * cutover's deployment id in a GitHub deployment's `payload` (an object, or the JSON text of one when a
 * deployment was created with a string payload), or undefined when the deployment is not cutover's.
 */
export function cutoverDeploymentIdOf(payload: unknown): string | undefined {
  let p = payload;
  if (typeof p === 'string') {
    try {
      p = JSON.parse(p);
    } catch {
      return undefined;
    }
  }
  const cutover = p && typeof p === 'object' ? (p as { cutover?: unknown }).cutover : undefined;
  const id = cutover && typeof cutover === 'object' ? (cutover as { deploymentId?: unknown }).deploymentId : undefined;
  return typeof id === 'string' && id ? id : undefined;
}

/**
 * `text` on one line and cut to at most `max` characters (UTF-16 code units, never splitting a surrogate
 * pair), ending in `…` when cut: GitHub rejects a longer description with 422.
 */
export function truncateDescription(text: string, max: number = GITHUB_DESCRIPTION_MAX): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line.length <= max) return line;
  let cut = line.slice(0, Math.max(0, max - 1));
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut.trimEnd()}…`;
}

const CONSOLE_DOMAINS: Readonly<Record<string, string>> = {
  aws: 'console.aws.amazon.com',
  'aws-cn': 'console.amazonaws.cn',
  'aws-us-gov': 'console.amazonaws-us-gov.com',
};

/**
 * The Step Functions console page of an execution:
 * `https://<region>.console.aws.amazon.com/states/home?region=<region>#/v2/executions/details/<executionArn>`
 * (China and GovCloud partitions use their own console domains).
 * @param executionArn `arn:<partition>:states:<region>:<account>:execution:<stateMachine>:<name>`
 * @throws InvalidInputError when `executionArn` is not a Step Functions execution ARN
 */
export function stepFunctionsConsoleUrl(executionArn: string): string {
  const m = /^arn:(aws[a-z-]*):states:([a-z0-9-]+):\d{12}:(?:execution|express):[^:]+:[^:]+$/.exec(executionArn);
  const domain = m && CONSOLE_DOMAINS[m[1]];
  if (!m || !domain) {
    throw new InvalidInputError(`"${executionArn}" is not a Step Functions execution ARN (arn:aws:states:<region>:<account>:execution:<state machine>:<name>)`);
  }
  const region = m[2];
  return `https://${region}.${domain}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** A point in a cutover deployment's life that is reported to GitHub. */
export type DeploymentEvent =
  /** The deployment was recorded; it waits for its lock, change window or gates. */
  | { readonly kind: 'queued' }
  /** It began changing things (snapshot, migrations, green service, traffic). */
  | { readonly kind: 'in-progress' }
  /**
   * It finished, as recorded (lib/domain/records.ts `Outcome`): `status`, the Step Functions error name
   * (`error`, null on success) and the operators' message.
   */
  | {
      readonly kind: 'finished';
      readonly status: 'succeeded' | 'failed' | 'rolled-back' | 'rollback-failed' | 'superseded' | 'refused';
      readonly error?: string | null;
      readonly message?: string;
    }
  /** A later deployment of the same service and environment succeeded: this one no longer runs. */
  | { readonly kind: 'replaced'; readonly byCommit?: string };

/** What the status describes; none of it is sent except through the description and URLs. */
export interface DeploymentStatusContext {
  readonly service: string;
  readonly environment: string;
  /** The deployment's commit SHA (shortened to 7 characters in descriptions). */
  readonly commit: string;
  /** The deploy execution: becomes `log_url` (the Step Functions console page). */
  readonly executionArn?: string;
  /** The environment's URL: sent as `environment_url` on success. */
  readonly environmentUrl?: string;
}

/** Step Functions error names that mean cutover's machinery failed, not the release: reported as `error`. */
function isMachineryError(error: string | null | undefined): boolean {
  return !!error && (error.startsWith('States.') || error.startsWith('Lambda.') || error === 'Cutover.Transient');
}

/** The GitHub deployment status state for a cutover deployment event (see the module's mapping). */
export function githubStateFor(event: DeploymentEvent): GitHubDeploymentState {
  switch (event.kind) {
    case 'queued':
      return 'queued';
    case 'in-progress':
      return 'in_progress';
    case 'replaced':
      return 'inactive';
    case 'finished':
      switch (event.status) {
        case 'succeeded':
          return 'success';
        case 'superseded':
          return 'inactive';
        case 'rollback-failed':
          return 'error';
        case 'refused': // turned away (window, freeze, promotion rule): GitHub has no such state; `failure` with the reason in the description
        case 'failed':
        case 'rolled-back':
          return isMachineryError(event.error) ? 'error' : 'failure';
      }
  }
}

/**
 * The deployment status body for `event`: state ({@link githubStateFor}), a description of at most 140
 * characters (the outcome's message when finished, cut to fit), `log_url` from the execution ARN, and
 * `environment_url` on success.
 * @throws InvalidInputError when `context.executionArn` is given but is not an execution ARN
 */
export function deploymentStatusFor(event: DeploymentEvent, context: DeploymentStatusContext): DeploymentStatusRequest {
  const state = githubStateFor(event);
  const short = context.commit.slice(0, 7);
  const where = `${context.service} ${short} to ${context.environment}`;
  let description: string;
  switch (event.kind) {
    case 'queued':
      description = `cutover queued ${where}`;
      break;
    case 'in-progress':
      description = `cutover is deploying ${where}`;
      break;
    case 'replaced':
      description = `replaced by ${event.byCommit ? event.byCommit.slice(0, 7) : 'a newer deployment'}`;
      break;
    case 'finished':
      description = event.message ?? `cutover ${event.status} ${where}`;
      break;
  }
  return {
    state,
    description: truncateDescription(description),
    ...(context.executionArn ? { log_url: stepFunctionsConsoleUrl(context.executionArn) } : {}),
    ...(state === 'success' && context.environmentUrl ? { environment_url: context.environmentUrl } : {}),
  };
}

/**
 * Whether cutover must post `inactive` to the deployment a success replaced, itself: GitHub's
 * `auto_inactive` does it only for non-transient, non-production environments. True for a production
 * environment; false otherwise — also for a transient one, where an `inactive` status means "destroyed"
 * in GitHub, which a replaced preview deployment is not.
 * @param request the replacing deployment's create request
 */
export function inactivatesPreviousItself(request: Pick<DeploymentRequest, 'production_environment' | 'transient_environment'>): boolean {
  return request.production_environment && !request.transient_environment;
}
