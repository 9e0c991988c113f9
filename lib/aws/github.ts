/**
 * The GitHub REST API adapter: reading a commit's checks (the checks gate) and reporting GitHub
 * Deployments. Thin: every call is one of the routes below through `@octokit/core`'s `request`; decisions
 * are in lib/domain/checks-gate.ts and lib/domain/github-deployments.ts.
 *
 * Routes (GitHub REST API docs, "Checks → check runs", "Commits → commit statuses", "Deployments"):
 *  - `GET  /repos/{owner}/{repo}/commits/{ref}/check-runs`    (Checks: read)
 *  - `GET  /repos/{owner}/{repo}/commits/{ref}/status`        (Commit statuses: read) — the combined status
 *  - `GET  /repos/{owner}/{repo}/deployments?sha=&environment=` (Deployments: read)
 *  - `POST /repos/{owner}/{repo}/deployments`                 (Deployments: write)
 *  - `POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses` (Deployments: write)
 *
 * **Token.** The token is the `SecretString` of the Secrets Manager secret `github.tokenSecretArn` — the token
 * itself, or JSON `{"token":"…"}` — read through Powertools Parameters over the factory's client
 * (lib/aws/clients.ts `secretsManagerClient`, which the twin points at its simulator) and cached for
 * {@link GITHUB_TOKEN_MAX_AGE_SECONDS}, like lib/aws/webhook-secret.ts.
 *
 * **Base URL.** `github.apiUrl` (config; GitHub Enterprise Server: `https://<host>/api/v3`), unless the
 * environment variable {@link GITHUB_API_URL_ENV} (`CUTOVER_GITHUB_API_URL`) is set: the twin's and tests'
 * override, pointing every service at the GitHub double — like the SDK's `AWS_ENDPOINT_URL_*`. One
 * Octokit is kept per (base URL, token); `fetch` is Node's own.
 *
 * **Errors.** Every call is bounded by {@link GITHUB_REQUEST_TIMEOUT_MS} per request and maps failures:
 *  - 5xx, 429, a rate-limited 403 (`x-ratelimit-remaining: 0`, `retry-after`, or a "rate limit" message),
 *    timeouts and network errors → `TransientAwsError` (`Cutover.Transient`: the state machines retry it
 *    with backoff);
 *  - 401 → {@link GitHubAccessError} naming the token secret ("GitHub rejected the token");
 *  - 403 / 404 → {@link GitHubAccessError} naming the repository, the secret and the permission the token
 *    needs (GitHub answers 404, not 403, for a private repository the token cannot see);
 *  - other 4xx (422 validation, 409) → {@link GitHubAccessError} with GitHub's message.
 * No retries here: retrying is the state machine's job (a Lambda function's time is short).
 */
import { Octokit } from '@octokit/core';
import { clearSecretCache, secretText } from './secret-string';
import { isRetryableAwsError } from './errors';
import { CutoverError, TransientAwsError } from '../domain/errors';
import type { CheckRunLike, CommitStatusLike } from '../domain/checks-gate';
import { cutoverDeploymentIdOf, type DeploymentRequest, type DeploymentStatusRequest } from '../domain/github-deployments';

/** Environment variable that overrides every service's `github.apiUrl` (the twin's / tests' GitHub double). */
export const GITHUB_API_URL_ENV = 'CUTOVER_GITHUB_API_URL';
/** Seconds a token read from Secrets Manager is reused. */
export const GITHUB_TOKEN_MAX_AGE_SECONDS = 300;
/** Milliseconds one GitHub request may take before it is abandoned (transient). */
export const GITHUB_REQUEST_TIMEOUT_MS = 5000;
/** Items per page (GitHub's maximum). */
export const GITHUB_PER_PAGE = 100;
/** Pages read at most per list (so at most 500 check runs / statuses / deployments). */
export const GITHUB_MAX_PAGES = 5;

/** GitHub access of a service (structurally the config's `github` / the plan's `GitHubPlan`). */
export interface GitHubAccess {
  /** Secrets Manager secret ARN (or name) whose SecretString is the token. */
  readonly tokenSecretArn: string;
  /** REST API base URL. @default 'https://api.github.com' */
  readonly apiUrl?: string;
}

/** A GitHub failure that retrying will not fix (bad token, missing permission, unknown repository, rejected request). */
export class GitHubAccessError extends CutoverError {
  override readonly name = 'Cutover.GitHubAccess';
  constructor(
    message: string,
    /** The HTTP status GitHub answered. */
    readonly status: number,
  ) {
    super(message);
  }
}

/** What {@link readChecks} returns: the commit's check runs and commit statuses, in the checks gate's shapes. */
export interface CommitChecks {
  readonly checkRuns: CheckRunLike[];
  /** The combined status's statuses (the newest per context, newest first). */
  readonly statuses: CommitStatusLike[];
  /** False when there were more than {@link GITHUB_MAX_PAGES} pages of either (the rest was not read). */
  readonly complete: boolean;
}

const clients = new Map<string, Octokit>();

/** Forget cached tokens and Octokit instances (tests; after a token rotation). */
export function clearGitHubCache(): void {
  clearSecretCache();
  clients.clear();
}

/** The base URL in effect: `CUTOVER_GITHUB_API_URL` if set, else `github.apiUrl`, else api.github.com; no trailing slash. */
export function githubApiUrl(github: GitHubAccess): string {
  const url = process.env[GITHUB_API_URL_ENV] || github.apiUrl || 'https://api.github.com';
  return url.replace(/\/+$/, '');
}

/**
 * The token: the secret's SecretString, or its `token` field when the SecretString is a JSON object.
 * @throws the SDK's exception when Secrets Manager fails (e.g. `ResourceNotFoundException`, unwrapped from
 *   Powertools' `GetParameterError`; throttling and 5xx become `TransientAwsError`), or `GitHubAccessError`
 *   when the secret is empty
 */
export async function getGitHubToken(secretId: string): Promise<string> {
  let text: string;
  try {
    text = await secretText(secretId, GITHUB_TOKEN_MAX_AGE_SECONDS);
  } catch (e) {
    if (isRetryableAwsError(e)) throw new TransientAwsError(`Secrets Manager GetSecretValue ${secretId}: ${(e as Error).name}: ${(e as Error).message}`);
    if (e instanceof Error) e.message = `reading the GitHub token from secret ${secretId} failed: ${e.name}: ${e.message}`;
    throw e;
  }
  let token = text.trim();
  if (token.startsWith('{')) {
    try {
      const parsed = JSON.parse(token) as { token?: unknown };
      token = typeof parsed.token === 'string' ? parsed.token.trim() : '';
    } catch {
      /* not JSON: the token itself */
    }
  }
  if (!token) {
    throw new GitHubAccessError(`secret ${secretId} holds no GitHub token: store the token as its SecretString (or {"token":"…"})`, 0);
  }
  return token;
}

async function octokitFor(github: GitHubAccess): Promise<Octokit> {
  const baseUrl = githubApiUrl(github);
  const token = await getGitHubToken(github.tokenSecretArn);
  const key = `${baseUrl}\n${token}`;
  let client = clients.get(key);
  if (!client) {
    if (clients.size >= 20) clients.clear(); // rotated tokens: do not grow forever
    client = new Octokit({ auth: token, baseUrl, userAgent: 'cutover' });
    clients.set(key, client);
  }
  return client;
}

function splitRepository(repository: string): { owner: string; repo: string } {
  const m = /^([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)$/.exec(repository);
  if (!m) throw new GitHubAccessError(`"${repository}" is not a GitHub repository in the owner/name form`, 0);
  return { owner: m[1], repo: m[2] };
}

/** An HTTP error of `@octokit/request` (its `RequestError`, name `HttpError`): the status and the response headers. */
interface HttpError extends Error {
  readonly status: number;
  readonly response?: { readonly headers?: Record<string, string | undefined> };
}

const isHttpError = (err: unknown): err is HttpError => err instanceof Error && typeof (err as { status?: unknown }).status === 'number';

const isRateLimited = (err: HttpError): boolean => {
  const h = err.response?.headers;
  return err.status === 429 || (err.status === 403 && (h?.['x-ratelimit-remaining'] === '0' || h?.['retry-after'] !== undefined || /rate limit/i.test(err.message)));
};

/**
 * Run GitHub calls, mapping failures (see the module comment).
 * @param what the call, e.g. `reading the checks of 1a2b3c4`
 * @param permission what the token needs for it, e.g. `Checks: read and Commit statuses: read`
 */
async function call<T>(github: GitHubAccess, repository: string, what: string, permission: string, fn: (o: Octokit) => Promise<T>): Promise<T> {
  const octokit = await octokitFor(github);
  try {
    return await fn(octokit);
  } catch (err) {
    if (err instanceof CutoverError) throw err;
    const at = `GitHub ${githubApiUrl(github)} ${repository}: ${what}`;
    if (!isHttpError(err)) {
      // Not an HTTP answer: a timeout or a network error (@octokit/request reports most as status 500).
      if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError' || err.name === 'TypeError')) {
        throw new TransientAwsError(`${at} failed: ${err.name}: ${err.message}`);
      }
      throw err;
    }
    const { status, message } = err;
    if (isRateLimited(err)) {
      const h = err.response?.headers;
      const reset = h?.['retry-after'] ? `retry after ${h['retry-after']} s` : h?.['x-ratelimit-reset'] ? `the limit resets at ${new Date(Number(h['x-ratelimit-reset']) * 1000).toISOString()}` : 'retry later';
      throw new TransientAwsError(`${at}: GitHub rate limit (${status}: ${message}); ${reset}`);
    }
    if (status >= 500) throw new TransientAwsError(`${at}: GitHub answered ${status} (${message})`);
    if (status === 401) {
      throw new GitHubAccessError(
        `${at}: GitHub rejected the token in secret ${github.tokenSecretArn} (401 ${message}): store a valid token (fine-grained or GitHub App installation token with ${permission}) as its SecretString`,
        status,
      );
    }
    if (status === 403 || status === 404) {
      throw new GitHubAccessError(
        `${at}: GitHub answered ${status} (${message}): ${status === 404 ? `the repository ${repository} (or what the call names) does not exist, or` : ''} the token in secret ${github.tokenSecretArn} may not use it; give the token access to ${repository} with ${permission}`.replace(/:  /, ': '),
        status,
      );
    }
    throw new GitHubAccessError(`${at}: GitHub answered ${status}: ${message}`, status);
  }
}

const signal = () => ({ signal: AbortSignal.timeout(GITHUB_REQUEST_TIMEOUT_MS) });

interface RawCheckRun {
  id: number;
  name: string;
  status: string;
  conclusion: string | null;
  started_at: string | null;
  html_url: string | null;
  details_url: string | null;
}
interface RawStatus {
  context: string;
  state: string;
  target_url: string | null;
  description: string | null;
  updated_at?: string | null;
}
interface RawDeployment {
  id: number;
  sha: string;
  environment: string;
  payload: unknown;
}

/**
 * Read a list page by page (`GITHUB_PER_PAGE` a page) until a short page, `total` items, or
 * {@link GITHUB_MAX_PAGES} pages; `complete` is false when pages were left unread.
 */
async function paged<T>(fetchPage: (page: number) => Promise<{ items: T[]; total: number }>): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  for (let page = 1; page <= GITHUB_MAX_PAGES; page++) {
    const got = await fetchPage(page);
    items.push(...got.items);
    if (got.items.length < GITHUB_PER_PAGE || items.length >= got.total) return { items, complete: true };
  }
  return { items, complete: false };
}

/**
 * A commit's check runs and commit statuses, for the checks gate (`decideChecks`).
 * Follows `GET /repos/{owner}/{repo}/commits/{ref}/check-runs` (`per_page=100`, pages until `total_count`
 * is read) and `GET /repos/{owner}/{repo}/commits/{ref}/status` (the combined status: the newest status per
 * context; pages while a page is full), at most {@link GITHUB_MAX_PAGES} pages each, both at once.
 * @param repository `owner/name`
 * @param sha the commit SHA
 * @throws TransientAwsError (retry) or GitHubAccessError (fix the token / permissions), see the module comment
 */
export async function readChecks(github: GitHubAccess, repository: string, sha: string): Promise<CommitChecks> {
  const { owner, repo } = splitRepository(repository);
  return call(github, repository, `reading the checks of ${sha.slice(0, 7)}`, 'Checks: read and Commit statuses: read', async (octokit) => {
    const runs = () =>
      paged(async (page) => {
        const res = await octokit.request('GET /repos/{owner}/{repo}/commits/{ref}/check-runs', { owner, repo, ref: sha, per_page: GITHUB_PER_PAGE, page, request: signal() });
        const data = res.data as unknown as { total_count: number; check_runs: RawCheckRun[] };
        const items: CheckRunLike[] = data.check_runs.map((r) => ({ id: Number(r.id), name: r.name, status: r.status, conclusion: r.conclusion, started_at: r.started_at, html_url: r.html_url, details_url: r.details_url }));
        return { items, total: data.total_count };
      });
    const statuses = () =>
      paged(async (page) => {
        const res = await octokit.request('GET /repos/{owner}/{repo}/commits/{ref}/status', { owner, repo, ref: sha, per_page: GITHUB_PER_PAGE, page, request: signal() });
        const data = res.data as unknown as { total_count: number; statuses: RawStatus[] };
        const items: CommitStatusLike[] = data.statuses.map((s) => ({ context: s.context, state: s.state, target_url: s.target_url, description: s.description, updated_at: s.updated_at ?? null }));
        return { items, total: data.total_count };
      });
    const [r, s] = await Promise.all([runs(), statuses()]);
    return { checkRuns: r.items, statuses: s.items, complete: r.complete && s.complete };
  });
}

/**
 * Create the GitHub deployment of a cutover deployment, once: first looks for an existing deployment of
 * the same commit and environment whose `payload.cutover.deploymentId` is the request's
 * (`GET /repos/{owner}/{repo}/deployments?sha=&environment=`, newest first, up to {@link GITHUB_MAX_PAGES}
 * pages) and returns its id; otherwise `POST /repos/{owner}/{repo}/deployments` with `request`. So a
 * retried task does not create a second deployment.
 * @param request from `deploymentRequest` (lib/domain/github-deployments.ts)
 * @returns the GitHub deployment id
 * @throws TransientAwsError or GitHubAccessError (also for GitHub's 409 / 422 answers)
 */
export async function createDeployment(github: GitHubAccess, repository: string, request: DeploymentRequest): Promise<number> {
  const { owner, repo } = splitRepository(repository);
  const wanted = request.payload.cutover.deploymentId;
  return call(github, repository, `creating the deployment of ${request.ref.slice(0, 7)} to ${request.environment}`, 'Deployments: write', async (octokit) => {
    for (let page = 1; page <= GITHUB_MAX_PAGES; page++) {
      const res = await octokit.request('GET /repos/{owner}/{repo}/deployments', {
        owner,
        repo,
        sha: request.ref,
        environment: request.environment,
        per_page: GITHUB_PER_PAGE,
        page,
        request: signal(),
      });
      const list = res.data as unknown as RawDeployment[];
      const found = list.find((d) => cutoverDeploymentIdOf(d.payload) === wanted);
      if (found) return Number(found.id);
      if (list.length < GITHUB_PER_PAGE) break;
    }
    const res = await octokit.request('POST /repos/{owner}/{repo}/deployments', {
      owner,
      repo,
      ...request,
      required_contexts: [...request.required_contexts],
      payload: { ...request.payload },
      request: signal(),
    });
    if (res.status !== 201) {
      // 202: GitHub merged the default branch instead (only with auto_merge, which cutover never asks for).
      throw new GitHubAccessError(`GitHub ${githubApiUrl(github)} ${repository}: creating the deployment answered ${res.status} without a deployment`, res.status);
    }
    return Number((res.data as unknown as RawDeployment).id);
  });
}

/**
 * Add a status to a GitHub deployment: `POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses`.
 * @param deploymentId the GitHub deployment id ({@link createDeployment})
 * @param status from `deploymentStatusFor` (lib/domain/github-deployments.ts)
 * @returns the new status's id
 * @throws TransientAwsError or GitHubAccessError (404 also when the deployment does not exist)
 */
export async function createDeploymentStatus(github: GitHubAccess, repository: string, deploymentId: number, status: DeploymentStatusRequest): Promise<number> {
  const { owner, repo } = splitRepository(repository);
  return call(github, repository, `setting deployment #${deploymentId} to ${status.state}`, 'Deployments: write', async (octokit) => {
    const res = await octokit.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
      owner,
      repo,
      deployment_id: deploymentId,
      ...status,
      request: signal(),
    });
    return Number((res.data as unknown as { id: number }).id);
  });
}
