/**
 * The twin's GitHub API double: a small `node:http` server on 127.0.0.1 that answers exactly the REST
 * endpoints cutover's GitHub adapter (lib/aws/github.ts) calls, with GitHub's status codes, JSON shapes,
 * `Link` pagination headers and error bodies. No network beyond loopback; state in memory
 * (lib/local/github/store.ts).
 *
 * Endpoints (paths as on api.github.com; `owner/repo` case-insensitive):
 *  - `GET  /repos/{owner}/{repo}/commits/{ref}/check-runs` (`per_page` ≤ 100, default 30; `page`; `check_name`;
 *    `status`; `filter=latest|all` — `latest`, the default, keeps the newest run per name)
 *    → `{ total_count, check_runs: [...] }`
 *  - `GET  /repos/{owner}/{repo}/commits/{ref}/status` (`per_page`, `page`) → `{ state, statuses, sha, total_count, commit_url, url, repository }`
 *  - `GET  /repos/{owner}/{repo}/deployments` (`sha`, `ref`, `task`, `environment`, `per_page`, `page`) → `[deployment]`, newest first
 *  - `POST /repos/{owner}/{repo}/deployments` → 201 deployment (422 / 409 like GitHub, see the store)
 *  - `GET  /repos/{owner}/{repo}/deployments/{id}` → deployment
 *  - `GET  /repos/{owner}/{repo}/deployments/{id}/statuses` → `[deployment status]`, newest first
 *  - `POST /repos/{owner}/{repo}/deployments/{id}/statuses` → 201 deployment status
 * Every request needs `Authorization: token <token>` or `Bearer <token>` equal to the configured token
 * (else 401 `{"message":"Bad credentials",…}`); unknown repositories and paths are 404 `{"message":"Not Found",…}`.
 * `failNext(n, status)` answers the next n requests with an error instead (fault injection).
 *
 * The twin sets a service's `github.apiUrl` (or `CUTOVER_GITHUB_API_URL`) to {@link GitHubDouble.url}, prints
 * {@link formatGitHubEvent} lines from `onEvent`, and delivers `onWebhook` payloads, signed, to its webhook endpoint.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  GitHubApiFault,
  GitHubStore,
  type CheckRun,
  type CheckRunInput,
  type CommitStatus,
  type Deployment,
  type DeploymentStatus,
  type GitHubDoubleEvent,
  type StatusInput,
} from './store';

export { formatGitHubEvent, GitHubStore } from './store';
export type { CheckRun, CheckRunInput, CommitStatus, Deployment, DeploymentStatus, GitHubDoubleEvent, StatusInput } from './store';

const DOCS = 'https://docs.github.com/rest';
/** Largest request body the double reads (GitHub's REST bodies here are small). */
const MAX_BODY_BYTES = 1024 * 1024;

export interface GitHubDoubleOptions {
  /** The token requests must carry (`Authorization: token <token>` or `Bearer <token>`). */
  readonly token: string;
  /** Repositories (`owner/name`) that exist; others are 404. More with {@link GitHubDouble.addRepository}. @default none */
  readonly repositories?: readonly string[];
  /** Port on 127.0.0.1. @default 0 (an ephemeral port) */
  readonly port?: number;
  /** Clock for `created_at` / `updated_at`, ms since the epoch (the twin's simulated clock). @default Date.now */
  readonly now?: () => number;
}

/** An injected fault: the HTTP status, and optionally headers and the message of GitHub's error body. */
export interface Fault {
  readonly status: number;
  readonly message?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A request the double answered (read-back for tests). */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query, e.g. `/repos/o/r/commits/<sha>/check-runs?per_page=100&page=2`. */
  readonly url: string;
  readonly status: number;
}

type Route = {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handle: (m: RegExpExecArray, query: URLSearchParams, body: unknown) => { status: number; body: unknown; headers?: Record<string, string> };
};

const defaultMessage = (status: number): string =>
  status === 401 ? 'Bad credentials' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : status === 429 ? 'Too Many Requests' : status >= 500 ? 'Server Error' : 'Error';

/** See the module comment. Start with {@link GitHubDouble.start}; stop with {@link GitHubDouble.close}. */
export class GitHubDouble {
  /** The data; also reachable through the methods below. */
  readonly store: GitHubStore;
  private readonly faults: Fault[] = [];
  private readonly log: RecordedRequest[] = [];
  private readonly routes: Route[];
  private baseUrl = '';

  private constructor(
    private readonly server: Server,
    private readonly token: string,
    now: (() => number) | undefined,
  ) {
    this.store = new GitHubStore(() => this.baseUrl, now);
    this.routes = this.makeRoutes();
  }

  /**
   * Start the double on 127.0.0.1.
   * @throws Error when the token is empty or the port cannot be bound
   */
  static async start(options: GitHubDoubleOptions): Promise<GitHubDouble> {
    if (!options.token) throw new Error('GitHub double: give it a token (the one cutover reads from Secrets Manager)');
    const server = createServer();
    const double = new GitHubDouble(server, options.token, options.now);
    for (const r of options.repositories ?? []) double.addRepository(r);
    server.on('request', (req, res) => void double.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    double.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return double;
  }

  /** The API base URL, e.g. `http://127.0.0.1:54321` (what `github.apiUrl` / `CUTOVER_GITHUB_API_URL` is set to). */
  get url(): string {
    return this.baseUrl;
  }

  /** Make a repository (`owner/name`) exist. */
  addRepository(fullName: string): void {
    this.store.addRepository(fullName);
  }

  /** Create or update a check run (see {@link GitHubStore.setCheckRun}); sends the `check_run` webhook. */
  setCheckRun(repository: string, sha: string, input: CheckRunInput): CheckRun {
    return this.store.setCheckRun(repository, sha, input);
  }

  /** Add a commit status (see {@link GitHubStore.setStatus}); sends the `status` webhook. */
  setStatus(repository: string, sha: string, input: StatusInput): CommitStatus {
    return this.store.setStatus(repository, sha, input);
  }

  /** The repository's deployments, newest first. @throws GitHubApiFault 404 for an unknown repository */
  deployments(repository: string): Deployment[] {
    return this.store.deployments(repository);
  }

  /** A deployment's statuses, newest first. */
  statuses(deploymentId: number): DeploymentStatus[] {
    return this.store.statuses(deploymentId);
  }

  /** Listen to changes (check runs, statuses, deployments, deployment statuses); returns the unsubscribe function. */
  onEvent(listener: (event: GitHubDoubleEvent) => void): () => void {
    return this.store.onEvent(listener);
  }

  /**
   * Listen to the webhooks GitHub would send: `check_run` (`created`, `completed`) and `status`, with
   * GitHub-shaped payloads and a fresh delivery id; the twin signs and delivers them. Returns the unsubscribe function.
   */
  onWebhook(listener: (eventName: string, payload: Record<string, unknown>, deliveryId: string) => void): () => void {
    return this.store.onWebhook(listener);
  }

  /**
   * Answer the next `n` requests (authenticated or not) with `status` and GitHub's error body, e.g.
   * `failNext(2, 502)`; `failNext(1, 403, { headers: { 'x-ratelimit-remaining': '0' }, message: 'API rate limit exceeded' })`.
   */
  failNext(n: number, status: number, options: Omit<Fault, 'status'> = {}): void {
    for (let i = 0; i < n; i++) this.faults.push({ status, ...options });
  }

  /** The requests answered so far, oldest first. */
  requests(): RecordedRequest[] {
    return [...this.log];
  }

  /** Stop listening and close open connections. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      this.log.push({ method, url, status });
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(text)),
        'x-github-media-type': 'github.v3; format=json',
        'x-github-request-id': `CUT0:${this.log.length}`,
        ...headers,
      });
      res.end(text);
    };
    const error = (status: number, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
      send(status, { message, ...extra, documentation_url: DOCS, status: String(status) }, headers);
    try {
      const raw = await readBody(req);
      const fault = this.faults.shift();
      if (fault) return error(fault.status, fault.message ?? defaultMessage(fault.status), {}, { ...fault.headers });
      const auth = /^(?:token|bearer)\s+(.+)$/i.exec(req.headers.authorization ?? '');
      if (!auth || auth[1] !== this.token) return error(401, 'Bad credentials');
      const parsed = new URL(url, 'http://localhost');
      const route = this.routes.find((r) => r.method === method && r.pattern.test(parsed.pathname));
      if (!route) return error(404, 'Not Found');
      let body: unknown;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          return error(400, 'Problems parsing JSON');
        }
      }
      const out = route.handle(route.pattern.exec(parsed.pathname)!, parsed.searchParams, body ?? {});
      return send(out.status, out.body, out.headers);
    } catch (err) {
      if (err instanceof GitHubApiFault) return error(err.status, err.message, err.errors ? { errors: err.errors } : {});
      return error(500, `GitHub double: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private makeRoutes(): Route[] {
    const repo = (m: RegExpExecArray) => decodeURIComponent(`${m[1]}/${m[2]}`);
    const page = (query: URLSearchParams) => {
      const perPage = Math.min(100, Math.max(1, Number(query.get('per_page') ?? 30) || 30));
      const p = Math.max(1, Number(query.get('page') ?? 1) || 1);
      return { perPage, page: p };
    };
    /** GitHub's `Link` header for page `p` of `total` items. */
    const link = (query: URLSearchParams, path: string, p: number, perPage: number, total: number): Record<string, string> => {
      const last = Math.max(1, Math.ceil(total / perPage));
      const at = (n: number) => {
        const q = new URLSearchParams(query);
        q.set('per_page', String(perPage));
        q.set('page', String(n));
        return `<${this.baseUrl}${path}?${q.toString()}>`;
      };
      const parts: string[] = [];
      if (p > 1) parts.push(`${at(p - 1)}; rel="prev"`, `${at(1)}; rel="first"`);
      if (p < last) parts.push(`${at(p + 1)}; rel="next"`, `${at(last)}; rel="last"`);
      return parts.length > 0 ? { link: parts.join(', ') } : {};
    };
    const slice = <T>(items: T[], perPage: number, p: number) => items.slice((p - 1) * perPage, p * perPage);
    const R = '/repos/([^/]+)/([^/]+)';
    return [
      {
        method: 'GET',
        pattern: new RegExp(`^${R}/commits/([^/]+)/check-runs$`),
        handle: (m, query) => {
          const name = repo(m);
          const sha = decodeURIComponent(m[3]).toLowerCase();
          let runs = this.store.checkRuns(name, sha);
          if (query.get('check_name')) runs = runs.filter((r) => r.name === query.get('check_name'));
          if (query.get('status')) runs = runs.filter((r) => r.status === query.get('status'));
          if ((query.get('filter') ?? 'latest') === 'latest') runs = runs.filter((r) => runs.findLast((x) => x.name === r.name) === r);
          runs.sort((a, b) => b.id - a.id);
          const { perPage, page: p } = page(query);
          return {
            status: 200,
            body: { total_count: runs.length, check_runs: slice(runs, perPage, p) },
            headers: link(query, `/repos/${name}/commits/${m[3]}/check-runs`, p, perPage, runs.length),
          };
        },
      },
      {
        method: 'GET',
        pattern: new RegExp(`^${R}/commits/([^/]+)/status$`),
        handle: (m, query) => {
          const name = repo(m);
          const sha = decodeURIComponent(m[3]).toLowerCase();
          const r = this.store.repo(name);
          const { state, statuses } = this.store.combinedStatus(name, sha);
          const { perPage, page: p } = page(query);
          return {
            status: 200,
            body: {
              state,
              statuses: slice(statuses, perPage, p),
              sha,
              total_count: statuses.length,
              repository: { id: r.id, full_name: r.fullName, name: r.fullName.split('/')[1], owner: { login: r.fullName.split('/')[0] } },
              commit_url: `${this.baseUrl}/repos/${r.fullName}/commits/${sha}`,
              url: `${this.baseUrl}/repos/${r.fullName}/commits/${sha}/status`,
            },
          };
        },
      },
      {
        method: 'GET',
        pattern: new RegExp(`^${R}/deployments$`),
        handle: (m, query) => {
          const name = repo(m);
          let list = this.store.deployments(name);
          for (const key of ['sha', 'ref', 'task', 'environment'] as const) {
            const want = query.get(key);
            if (want !== null && want !== '') list = list.filter((d) => d[key] === want);
          }
          const { perPage, page: p } = page(query);
          return { status: 200, body: slice(list, perPage, p), headers: link(query, `/repos/${name}/deployments`, p, perPage, list.length) };
        },
      },
      {
        method: 'POST',
        pattern: new RegExp(`^${R}/deployments$`),
        handle: (m, _query, body) => ({ status: 201, body: this.store.createDeployment(repo(m), asObject(body)) }),
      },
      {
        method: 'GET',
        pattern: new RegExp(`^${R}/deployments/(\\d+)$`),
        handle: (m) => ({ status: 200, body: this.store.deployment(repo(m), Number(m[3])) }),
      },
      {
        method: 'GET',
        pattern: new RegExp(`^${R}/deployments/(\\d+)/statuses$`),
        handle: (m, query) => {
          const name = repo(m);
          this.store.deployment(name, Number(m[3])); // 404 for an unknown deployment
          const list = this.store.statuses(Number(m[3]));
          const { perPage, page: p } = page(query);
          return { status: 200, body: slice(list, perPage, p), headers: link(query, `/repos/${name}/deployments/${m[3]}/statuses`, p, perPage, list.length) };
        },
      },
      {
        // Create a commit status (REST "Create a commit status"), as a CI reports one; sends the `status` webhook.
        method: 'POST',
        pattern: new RegExp(`^${R}/statuses/([^/]+)$`),
        handle: (m, _query, body) => {
          const b = asObject(body);
          const sha = decodeURIComponent(m[3]!);
          if (!/^[0-9a-f]{40}$/.test(sha)) throw new GitHubApiFault(422, 'No commit found for SHA: ' + sha);
          if (typeof b.state !== 'string' || !['error', 'failure', 'pending', 'success'].includes(b.state)) throw new GitHubApiFault(422, 'Validation Failed', [{ resource: 'Status', field: 'state', code: 'custom', message: 'state is not included in the list' }]);
          const context = typeof b.context === 'string' && b.context ? b.context : 'default';
          return {
            status: 201,
            body: this.store.setStatus(repo(m), sha, {
              context,
              state: b.state as 'error' | 'failure' | 'pending' | 'success',
              ...(typeof b.target_url === 'string' ? { target_url: b.target_url } : {}),
              ...(typeof b.description === 'string' ? { description: b.description } : {}),
            }),
          };
        },
      },
      {
        // Create a check run (REST "Create a check run"; on GitHub only a GitHub App may): sends the `check_run` webhooks.
        method: 'POST',
        pattern: new RegExp(`^${R}/check-runs$`),
        handle: (m, _query, body) => {
          const b = asObject(body);
          const sha = typeof b.head_sha === 'string' ? b.head_sha : '';
          if (typeof b.name !== 'string' || !b.name) throw new GitHubApiFault(422, 'Validation Failed', [{ resource: 'CheckRun', field: 'name', code: 'missing_field' }]);
          if (!/^[0-9a-f]{40}$/.test(sha)) throw new GitHubApiFault(422, 'Validation Failed', [{ resource: 'CheckRun', field: 'head_sha', code: 'invalid' }]);
          const status = b.status === 'queued' || b.status === 'in_progress' || b.status === 'completed' ? b.status : undefined;
          const conclusion = typeof b.conclusion === 'string' ? b.conclusion : undefined;
          if (conclusion && status && status !== 'completed') throw new GitHubApiFault(422, 'Validation Failed', [{ resource: 'CheckRun', field: 'conclusion', code: 'invalid', message: 'a conclusion needs status completed' }]);
          return {
            status: 201,
            body: this.store.setCheckRun(repo(m), sha, {
              name: b.name,
              ...(status ? { status } : {}),
              ...(conclusion ? { conclusion } : {}),
              ...(typeof b.details_url === 'string' ? { details_url: b.details_url } : {}),
            }),
          };
        },
      },
      {
        method: 'POST',
        pattern: new RegExp(`^${R}/deployments/(\\d+)/statuses$`),
        handle: (m, _query, body) => ({ status: 201, body: this.store.createDeploymentStatus(repo(m), Number(m[3]), asObject(body)) }),
      },
    ];
  }
}

function asObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new GitHubApiFault(400, 'Problems parsing JSON');
  return body as Record<string, unknown>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new GitHubApiFault(413, 'Payload too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
