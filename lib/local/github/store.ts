/**
 * The state of the twin's GitHub double (lib/local/github/server.ts): repositories, check runs, commit
 * statuses, deployments and deployment statuses, with GitHub's REST shapes (the fields cutover reads and a
 * few more, so a reader recognizes them). No I/O; the server turns HTTP requests into calls here.
 *
 * Every change is told to `onEvent` listeners (the twin prints {@link formatGitHubEvent} lines) and, where
 * GitHub would send a webhook (`check_run`, `status`), to `onWebhook` listeners with the event name and a
 * payload shaped like GitHub's.
 */
import { randomUUID } from 'node:crypto';

/** A check run (Checks API `check-run`, trimmed). */
export interface CheckRun {
  id: number;
  name: string;
  head_sha: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  started_at: string;
  completed_at: string | null;
  html_url: string;
  details_url: string | null;
  url: string;
  external_id: string;
  output: { title: string | null; summary: string | null; text: string | null; annotations_count: number; annotations_url: string };
  check_suite: { id: number };
  app: { id: number; slug: string; name: string };
  pull_requests: never[];
}

/** A commit status (Statuses API `simple-commit-status`). */
export interface CommitStatus {
  id: number;
  context: string;
  state: 'error' | 'failure' | 'pending' | 'success';
  description: string | null;
  target_url: string | null;
  url: string;
  avatar_url: string | null;
  created_at: string;
  updated_at: string;
}

/** A deployment (Deployments API `deployment`, trimmed). */
export interface Deployment {
  id: number;
  url: string;
  sha: string;
  ref: string;
  task: string;
  payload: Record<string, unknown> | string;
  original_environment: string;
  environment: string;
  description: string | null;
  created_at: string;
  updated_at: string;
  statuses_url: string;
  repository_url: string;
  transient_environment: boolean;
  production_environment: boolean;
  creator: { login: string };
}

/** A deployment status (Deployments API `deployment-status`, trimmed). */
export interface DeploymentStatus {
  id: number;
  url: string;
  state: 'error' | 'failure' | 'inactive' | 'in_progress' | 'queued' | 'pending' | 'success';
  description: string;
  environment: string;
  target_url: string;
  log_url: string;
  environment_url: string;
  created_at: string;
  updated_at: string;
  deployment_url: string;
  repository_url: string;
  creator: { login: string };
}

/** What the double tells its listeners. */
export type GitHubDoubleEvent =
  | { readonly type: 'check_run'; readonly repository: string; readonly sha: string; readonly name: string; readonly status: string; readonly conclusion: string | null }
  | { readonly type: 'status'; readonly repository: string; readonly sha: string; readonly context: string; readonly state: string }
  | { readonly type: 'deployment'; readonly repository: string; readonly id: number; readonly environment: string; readonly sha: string }
  | { readonly type: 'deployment_status'; readonly repository: string; readonly id: number; readonly environment: string; readonly sha: string; readonly state: string };

/**
 * The twin's line for an event:
 * `⇢ GitHub: deployment #3 production 1a2b3c4 → in_progress`, `⇢ GitHub: check "build" on 1a2b3c4 → success`.
 */
export function formatGitHubEvent(event: GitHubDoubleEvent): string {
  const short = event.sha.slice(0, 7);
  switch (event.type) {
    case 'check_run':
      return `⇢ GitHub: check "${event.name}" on ${short} → ${event.status === 'completed' ? (event.conclusion ?? 'completed') : event.status}`;
    case 'status':
      return `⇢ GitHub: status "${event.context}" on ${short} → ${event.state}`;
    case 'deployment':
      return `⇢ GitHub: deployment #${event.id} ${event.environment} ${short} created`;
    case 'deployment_status':
      return `⇢ GitHub: deployment #${event.id} ${event.environment} ${short} → ${event.state}`;
  }
}

/** Input of {@link GitHubStore.setCheckRun}. */
export interface CheckRunInput {
  readonly name: string;
  /** @default 'completed' when a conclusion is given, else 'queued' */
  readonly status?: 'queued' | 'in_progress' | 'completed';
  /** `success | failure | neutral | cancelled | skipped | timed_out | action_required | stale`; only with `completed`. */
  readonly conclusion?: string | null;
  /** @default `https://github.com/<repo>/runs/<id>` */
  readonly html_url?: string;
  readonly details_url?: string;
}

/** Input of {@link GitHubStore.setStatus}. */
export interface StatusInput {
  readonly context: string;
  readonly state: CommitStatus['state'];
  readonly target_url?: string;
  readonly description?: string;
}

/** Body of create-deployment, as the server parsed it. */
export interface CreateDeploymentInput {
  readonly ref?: unknown;
  readonly task?: unknown;
  readonly auto_merge?: unknown;
  readonly required_contexts?: unknown;
  readonly payload?: unknown;
  readonly environment?: unknown;
  readonly description?: unknown;
  readonly transient_environment?: unknown;
  readonly production_environment?: unknown;
}

/** Body of create-deployment-status, as the server parsed it. */
export interface CreateDeploymentStatusInput {
  readonly state?: unknown;
  readonly description?: unknown;
  readonly log_url?: unknown;
  readonly target_url?: unknown;
  readonly environment?: unknown;
  readonly environment_url?: unknown;
  readonly auto_inactive?: unknown;
}

/** A GitHub API error the server answers with (`status` and GitHub's JSON error body). */
export class GitHubApiFault extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: ReadonlyArray<Record<string, string>>,
  ) {
    super(message);
  }
}

interface Repo {
  readonly fullName: string;
  readonly id: number;
  readonly checkRuns: CheckRun[];
  /** Per SHA, newest first. */
  readonly statuses: Map<string, CommitStatus[]>;
  readonly deployments: Deployment[];
}

const SHA = /^[0-9a-f]{40}$/;
const DEPLOYMENT_STATES = new Set(['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success']);
const STATUS_STATES = new Set(['error', 'failure', 'pending', 'success']);

/** The double's data; see the module comment. */
export class GitHubStore {
  private readonly repos = new Map<string, Repo>();
  private readonly deploymentStatuses = new Map<number, DeploymentStatus[]>();
  private readonly deploymentRepo = new Map<number, string>();
  private readonly eventListeners = new Set<(e: GitHubDoubleEvent) => void>();
  private readonly webhookListeners = new Set<(eventName: string, payload: Record<string, unknown>, deliveryId: string) => void>();
  private nextId = { checkRun: 1, status: 1, deployment: 1, deploymentStatus: 1, suite: 1, repo: 1 };

  /**
   * @param apiUrl the double's base URL (for the `url` fields)
   * @param now the clock for `created_at` etc., ms since the epoch (the twin passes its simulated clock)
   */
  constructor(
    private readonly apiUrl: () => string,
    private readonly now: () => number = Date.now,
  ) {}

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Make `fullName` (`owner/name`) known; the API answers 404 for any other repository. */
  addRepository(fullName: string): void {
    if (!/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(fullName)) throw new Error(`GitHub double: "${fullName}" is not an owner/name repository`);
    if (!this.repos.has(fullName.toLowerCase())) {
      this.repos.set(fullName.toLowerCase(), { fullName, id: this.nextId.repo++, checkRuns: [], statuses: new Map(), deployments: [] });
    }
  }

  /** The repository, or a 404 fault (GitHub's names are case-insensitive). */
  repo(fullName: string): Repo {
    const r = this.repos.get(fullName.toLowerCase());
    if (!r) throw new GitHubApiFault(404, 'Not Found');
    return r;
  }

  private known(fullName: string): Repo {
    const r = this.repos.get(fullName.toLowerCase());
    if (!r) throw new Error(`GitHub double: unknown repository "${fullName}"; add it first (repositories option or addRepository)`);
    return r;
  }

  /** Listen to changes; returns the function that stops listening. */
  onEvent(listener: (e: GitHubDoubleEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Listen to the webhooks GitHub would send (`check_run`, `status`); returns the function that stops listening. */
  onWebhook(listener: (eventName: string, payload: Record<string, unknown>, deliveryId: string) => void): () => void {
    this.webhookListeners.add(listener);
    return () => this.webhookListeners.delete(listener);
  }

  private emit(e: GitHubDoubleEvent): void {
    for (const l of this.eventListeners) l(e);
  }

  private webhook(eventName: string, payload: Record<string, unknown>): void {
    for (const l of this.webhookListeners) l(eventName, payload, randomUUID());
  }

  private repositoryPayload(r: Repo): Record<string, unknown> {
    const [owner, name] = r.fullName.split('/');
    return {
      id: r.id,
      name,
      full_name: r.fullName,
      private: false,
      owner: { login: owner, type: 'Organization' },
      html_url: `https://github.com/${r.fullName}`,
      url: `${this.apiUrl()}/repos/${r.fullName}`,
    };
  }

  /**
   * Create or update a check run of `name` on `sha`. The newest run of that name is updated while it is
   * not completed; a completed run is final, so setting it again creates a new run (a re-run).
   * Tells listeners; on creation GitHub's `check_run` webhook with `action: "created"`, on completion with
   * `action: "completed"`.
   * @throws Error for an unknown repository, a SHA that is not 40 lowercase hex characters, or a conclusion without `completed`
   */
  setCheckRun(repository: string, sha: string, input: CheckRunInput): CheckRun {
    const r = this.known(repository);
    if (!SHA.test(sha)) throw new Error(`GitHub double: "${sha}" is not a 40-character lowercase commit SHA`);
    const status = input.status ?? (input.conclusion ? 'completed' : 'queued');
    if (status !== 'completed' && input.conclusion) throw new Error(`GitHub double: a ${status} check run has no conclusion`);
    const latest = r.checkRuns.filter((c) => c.head_sha === sha && c.name === input.name).at(-1);
    const now = this.iso();
    let run: CheckRun;
    let created = false;
    if (latest && latest.status !== 'completed') {
      run = latest;
    } else {
      const id = this.nextId.checkRun++;
      run = {
        id,
        name: input.name,
        head_sha: sha,
        status: 'queued',
        conclusion: null,
        started_at: now,
        completed_at: null,
        html_url: input.html_url ?? `https://github.com/${r.fullName}/runs/${id}`,
        details_url: input.details_url ?? null,
        url: `${this.apiUrl()}/repos/${r.fullName}/check-runs/${id}`,
        external_id: '',
        output: { title: null, summary: null, text: null, annotations_count: 0, annotations_url: `${this.apiUrl()}/repos/${r.fullName}/check-runs/${id}/annotations` },
        check_suite: { id: this.nextId.suite++ },
        app: { id: 15368, slug: 'github-actions', name: 'GitHub Actions' },
        pull_requests: [],
      };
      r.checkRuns.push(run);
      created = true;
    }
    run.status = status;
    run.conclusion = status === 'completed' ? (input.conclusion ?? 'success') : null;
    run.completed_at = status === 'completed' ? now : null;
    if (input.html_url) run.html_url = input.html_url;
    if (input.details_url) run.details_url = input.details_url;
    this.emit({ type: 'check_run', repository: r.fullName, sha, name: run.name, status: run.status, conclusion: run.conclusion });
    const payload = (action: string) => ({
      action,
      check_run: { ...structuredClone(run), check_suite: { id: run.check_suite.id, head_sha: sha, status: run.status, conclusion: run.conclusion } },
      repository: this.repositoryPayload(r),
      sender: { login: 'github-actions[bot]', type: 'Bot' },
    });
    if (created) this.webhook('check_run', payload('created'));
    if (run.status === 'completed') this.webhook('check_run', payload('completed'));
    return structuredClone(run);
  }

  /**
   * Add a commit status (statuses are never updated: a new one of the same context supersedes the old).
   * Tells listeners and sends GitHub's `status` webhook.
   * @throws Error for an unknown repository, a bad SHA or state
   */
  setStatus(repository: string, sha: string, input: StatusInput): CommitStatus {
    const r = this.known(repository);
    if (!SHA.test(sha)) throw new Error(`GitHub double: "${sha}" is not a 40-character lowercase commit SHA`);
    if (!STATUS_STATES.has(input.state)) throw new Error(`GitHub double: status state "${input.state}" is not error, failure, pending or success`);
    const now = this.iso();
    const id = this.nextId.status++;
    const status: CommitStatus = {
      id,
      context: input.context,
      state: input.state,
      description: input.description ?? null,
      target_url: input.target_url ?? null,
      url: `${this.apiUrl()}/repos/${r.fullName}/statuses/${sha}`,
      avatar_url: null,
      created_at: now,
      updated_at: now,
    };
    const list = r.statuses.get(sha) ?? [];
    list.unshift(status);
    r.statuses.set(sha, list);
    this.emit({ type: 'status', repository: r.fullName, sha, context: status.context, state: status.state });
    this.webhook('status', {
      id,
      sha,
      name: r.fullName,
      target_url: status.target_url,
      context: status.context,
      description: status.description,
      state: status.state,
      commit: { sha },
      branches: [],
      created_at: now,
      updated_at: now,
      repository: this.repositoryPayload(r),
      sender: { login: 'ci-bot', type: 'User' },
    });
    return structuredClone(status);
  }

  /** Check runs of `sha`, oldest first (as stored). */
  checkRuns(repository: string, sha: string): CheckRun[] {
    return structuredClone(this.repo(repository).checkRuns.filter((c) => c.head_sha === sha));
  }

  /** GitHub's combined status of `sha`: the newest status per context (newest first) and the overall state. */
  combinedStatus(repository: string, sha: string): { state: string; statuses: CommitStatus[] } {
    const all = this.repo(repository).statuses.get(sha) ?? [];
    const seen = new Set<string>();
    const latest = all.filter((s) => !seen.has(s.context) && seen.add(s.context));
    const state = latest.some((s) => s.state === 'error' || s.state === 'failure')
      ? 'failure'
      : latest.length === 0 || latest.some((s) => s.state === 'pending')
        ? 'pending'
        : 'success';
    return { state, statuses: structuredClone(latest) };
  }

  /** Deployments of a repository, newest first (as GitHub lists them); read-back for tests and the twin. */
  deployments(repository: string): Deployment[] {
    return structuredClone([...this.repo(repository).deployments].reverse());
  }

  /** One deployment, or a 404 fault. */
  deployment(repository: string, id: number): Deployment {
    const d = this.repo(repository).deployments.find((x) => x.id === id);
    if (!d) throw new GitHubApiFault(404, 'Not Found');
    return structuredClone(d);
  }

  /** Statuses of a deployment, newest first (as GitHub lists them); empty for an unknown id. */
  statuses(deploymentId: number): DeploymentStatus[] {
    return structuredClone([...(this.deploymentStatuses.get(deploymentId) ?? [])].reverse());
  }

  /**
   * `POST /repos/{owner}/{repo}/deployments`: validates like GitHub (422 without a ref, 409 when
   * `required_contexts` — all contexts when omitted — are not all `success`), then stores and returns the
   * deployment. The double only knows commits by SHA: a `ref` that is not a 40-character SHA is 422.
   */
  createDeployment(repository: string, body: CreateDeploymentInput): Deployment {
    const r = this.repo(repository);
    if (typeof body.ref !== 'string' || body.ref === '') throw new GitHubApiFault(422, 'Invalid request.\n\n"ref" wasn\'t supplied.');
    const sha = body.ref.toLowerCase();
    if (!SHA.test(sha)) throw new GitHubApiFault(422, `No ref found for: ${body.ref}`);
    const environment = typeof body.environment === 'string' && body.environment ? body.environment : 'production';
    const description = typeof body.description === 'string' ? body.description : null;
    if (description && description.length > 140) {
      throw new GitHubApiFault(422, 'Validation Failed', [{ resource: 'Deployment', code: 'custom', field: 'description', message: 'description is too long (maximum is 140 characters)' }]);
    }
    const combined = this.combinedStatus(repository, sha).statuses;
    const contexts = Array.isArray(body.required_contexts) ? (body.required_contexts as string[]) : combined.map((s) => s.context);
    const failing = contexts.filter((c) => combined.find((s) => s.context === c)?.state !== 'success');
    if (failing.length > 0) {
      throw new GitHubApiFault(409, `Conflict: Commit status checks failed for ${body.ref}.`, failing.map((c) => ({ contexts: c })));
    }
    const id = this.nextId.deployment++;
    const now = this.iso();
    const base = `${this.apiUrl()}/repos/${r.fullName}`;
    const deployment: Deployment = {
      id,
      url: `${base}/deployments/${id}`,
      sha,
      ref: body.ref,
      task: typeof body.task === 'string' ? body.task : 'deploy',
      payload: (typeof body.payload === 'string' || (body.payload && typeof body.payload === 'object') ? body.payload : {}) as Deployment['payload'],
      original_environment: environment,
      environment,
      description,
      created_at: now,
      updated_at: now,
      statuses_url: `${base}/deployments/${id}/statuses`,
      repository_url: base,
      transient_environment: body.transient_environment === true,
      production_environment: typeof body.production_environment === 'boolean' ? body.production_environment : environment === 'production',
      creator: { login: 'cutover' },
    };
    r.deployments.push(deployment);
    this.deploymentRepo.set(id, r.fullName);
    this.emit({ type: 'deployment', repository: r.fullName, id, environment, sha });
    return structuredClone(deployment);
  }

  /**
   * `POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses`: validates the state and the
   * 140-character description (422), stores the status, and applies `auto_inactive` (default true) as
   * GitHub does: a `success` adds an `inactive` status to the repository's prior deployments of the same
   * environment whose latest status is `success`, unless they are transient or production deployments.
   */
  createDeploymentStatus(repository: string, deploymentId: number, body: CreateDeploymentStatusInput): DeploymentStatus {
    const r = this.repo(repository);
    const deployment = r.deployments.find((d) => d.id === deploymentId);
    if (!deployment) throw new GitHubApiFault(404, 'Not Found');
    if (typeof body.state !== 'string' || !DEPLOYMENT_STATES.has(body.state)) {
      throw new GitHubApiFault(422, 'Validation Failed', [{ resource: 'DeploymentStatus', code: 'invalid', field: 'state' }]);
    }
    const description = typeof body.description === 'string' ? body.description : '';
    if (description.length > 140) {
      throw new GitHubApiFault(422, 'Validation Failed', [{ resource: 'DeploymentStatus', code: 'custom', field: 'description', message: 'description is too long (maximum is 140 characters)' }]);
    }
    const logUrl = typeof body.log_url === 'string' ? body.log_url : typeof body.target_url === 'string' ? body.target_url : '';
    const status = this.addDeploymentStatus(r, deployment, {
      state: body.state as DeploymentStatus['state'],
      description,
      logUrl,
      environment: typeof body.environment === 'string' && body.environment ? body.environment : deployment.environment,
      environmentUrl: typeof body.environment_url === 'string' ? body.environment_url : '',
    });
    if (status.state === 'success' && body.auto_inactive !== false) {
      for (const prior of r.deployments) {
        if (prior.id === deployment.id || prior.environment !== deployment.environment || prior.transient_environment || prior.production_environment) continue;
        const latest = this.deploymentStatuses.get(prior.id)?.at(-1);
        if (latest?.state === 'success') {
          this.addDeploymentStatus(r, prior, { state: 'inactive', description: '', logUrl: '', environment: prior.environment, environmentUrl: '' });
        }
      }
    }
    return status;
  }

  private addDeploymentStatus(
    r: Repo,
    deployment: Deployment,
    s: { state: DeploymentStatus['state']; description: string; logUrl: string; environment: string; environmentUrl: string },
  ): DeploymentStatus {
    const id = this.nextId.deploymentStatus++;
    const now = this.iso();
    const status: DeploymentStatus = {
      id,
      url: `${deployment.url}/statuses/${id}`,
      state: s.state,
      description: s.description,
      environment: s.environment,
      target_url: s.logUrl,
      log_url: s.logUrl,
      environment_url: s.environmentUrl,
      created_at: now,
      updated_at: now,
      deployment_url: deployment.url,
      repository_url: deployment.repository_url,
      creator: { login: 'cutover' },
    };
    const list = this.deploymentStatuses.get(deployment.id) ?? [];
    list.push(status);
    this.deploymentStatuses.set(deployment.id, list);
    deployment.updated_at = now;
    this.emit({ type: 'deployment_status', repository: r.fullName, id: deployment.id, environment: s.environment, sha: deployment.sha, state: s.state });
    return structuredClone(status);
  }
}
