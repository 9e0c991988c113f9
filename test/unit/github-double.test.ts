import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatGitHubEvent, GitHubDouble, type GitHubDoubleEvent } from '../../lib/local/github/server';

const TOKEN = 'ghs_double_token_123';
const REPO = 'Codertocat/Hello-World';
const SHA = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';

let gh: GitHubDouble;

async function api(method: string, path: string, options: { body?: unknown; auth?: string | null } = {}) {
  const headers: Record<string, string> = { accept: 'application/vnd.github+json' };
  const auth = options.auth === undefined ? `token ${TOKEN}` : options.auth;
  if (auth) headers.authorization = auth;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gh.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe('GitHub double', () => {
  before(async () => {
    gh = await GitHubDouble.start({ token: TOKEN, repositories: [REPO], now: () => Date.parse('2030-06-01T12:00:00Z') });
  });
  after(() => gh.close());

  it('listens on 127.0.0.1 at an ephemeral port', () => {
    assert.match(gh.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers 401 Bad credentials without the right token (token or Bearer accepted)', async () => {
    for (const auth of [null, 'token wrong', 'Basic abc']) {
      const r = await api('GET', `/repos/${REPO}/commits/${SHA}/status`, { auth });
      assert.equal(r.status, 401, String(auth));
      assert.equal(r.body.message, 'Bad credentials');
    }
    assert.equal((await api('GET', `/repos/${REPO}/commits/${SHA}/status`, { auth: `Bearer ${TOKEN}` })).status, 200);
  });

  it('answers 404 Not Found for unknown repositories and paths', async () => {
    const r = await api('GET', `/repos/someone/else/commits/${SHA}/check-runs`);
    assert.equal(r.status, 404);
    assert.equal(r.body.message, 'Not Found');
    assert.equal((await api('GET', '/user')).status, 404);
  });

  it('lists check runs as { total_count, check_runs } with the newest run per name and Link pagination', async () => {
    const sha = 'a'.repeat(40);
    gh.setCheckRun(REPO, sha, { name: 'build', conclusion: 'failure' });
    gh.setCheckRun(REPO, sha, { name: 'build', conclusion: 'success' }); // a completed run is final: this is a re-run
    gh.setCheckRun(REPO, sha, { name: 'test', status: 'in_progress' });
    gh.setCheckRun(REPO, sha, { name: 'test', conclusion: 'neutral', html_url: 'https://ci/test' }); // the in-progress run completes
    const r = await api('GET', `/repos/${REPO}/commits/${sha}/check-runs`);
    assert.equal(r.status, 200);
    assert.equal(r.body.total_count, 2);
    const byName = Object.fromEntries(r.body.check_runs.map((c: any) => [c.name, c]));
    assert.equal(byName.build.conclusion, 'success');
    assert.equal(byName.test.status, 'completed');
    assert.equal(byName.test.conclusion, 'neutral');
    assert.equal(byName.test.html_url, 'https://ci/test');
    assert.equal(byName.build.head_sha, sha);
    assert.equal(typeof byName.build.id, 'number');
    const all = await api('GET', `/repos/${REPO}/commits/${sha}/check-runs?filter=all&per_page=1&page=1`);
    assert.equal(all.body.total_count, 3);
    assert.equal(all.body.check_runs.length, 1);
    assert.match(all.headers.get('link') ?? '', /page=2>; rel="next"/);
  });

  it('gives the combined status: newest per context, overall state, sha and total_count', async () => {
    const sha = 'b'.repeat(40);
    assert.deepEqual((await api('GET', `/repos/${REPO}/commits/${sha}/status`)).body.statuses, []);
    gh.setStatus(REPO, sha, { context: 'ci/jenkins', state: 'pending' });
    gh.setStatus(REPO, sha, { context: 'ci/jenkins', state: 'success', target_url: 'https://ci/1' });
    gh.setStatus(REPO, sha, { context: 'lint', state: 'failure' });
    const r = await api('GET', `/repos/${REPO}/commits/${sha}/status`);
    assert.equal(r.body.state, 'failure');
    assert.equal(r.body.sha, sha);
    assert.equal(r.body.total_count, 2);
    assert.deepEqual(r.body.statuses.map((s: any) => [s.context, s.state, s.target_url]), [['lint', 'failure', null], ['ci/jenkins', 'success', 'https://ci/1']]);
  });

  it('creates deployments (201) and statuses (201), lists them, and applies auto_inactive like GitHub', async () => {
    const sha = 'c'.repeat(40);
    const create = (environment: string, id: string) =>
      api('POST', `/repos/${REPO}/deployments`, { body: { ref: sha, environment, required_contexts: [], auto_merge: false, payload: { cutover: { deploymentId: id } } } });
    const first = await create('staging', 'd-1');
    assert.equal(first.status, 201);
    assert.equal(first.body.sha, sha);
    assert.equal(first.body.ref, sha);
    assert.equal(first.body.environment, 'staging');
    assert.deepEqual(first.body.payload, { cutover: { deploymentId: 'd-1' } });
    assert.equal(first.body.created_at, '2030-06-01T12:00:00.000Z');
    const ok = await api('POST', `/repos/${REPO}/deployments/${first.body.id}/statuses`, { body: { state: 'success', log_url: 'https://log' } });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.target_url, 'https://log');
    const second = await create('staging', 'd-2');
    await api('POST', `/repos/${REPO}/deployments/${second.body.id}/statuses`, { body: { state: 'success' } });
    assert.equal(gh.statuses(first.body.id)[0]!.state, 'inactive', 'GitHub inactivates the prior non-production deployment');
    const prod1 = await create('production', 'd-3');
    assert.equal(prod1.body.production_environment, true);
    await api('POST', `/repos/${REPO}/deployments/${prod1.body.id}/statuses`, { body: { state: 'success' } });
    const prod2 = await create('production', 'd-4');
    await api('POST', `/repos/${REPO}/deployments/${prod2.body.id}/statuses`, { body: { state: 'success' } });
    assert.equal(gh.statuses(prod1.body.id)[0]!.state, 'success', 'but not a production one');
    const list = await api('GET', `/repos/${REPO}/deployments?sha=${sha}&environment=staging`);
    assert.deepEqual(list.body.map((d: any) => d.id), [second.body.id, first.body.id], 'newest first');
    const statuses = await api('GET', `/repos/${REPO}/deployments/${first.body.id}/statuses`);
    assert.deepEqual(statuses.body.map((s: any) => s.state), ['inactive', 'success']);
  });

  it('validates like GitHub: 422 for a missing ref or a long description, 409 for failing required contexts', async () => {
    const sha = 'd'.repeat(40);
    assert.equal((await api('POST', `/repos/${REPO}/deployments`, { body: { environment: 'x' } })).status, 422);
    gh.setStatus(REPO, sha, { context: 'ci', state: 'failure' });
    const conflict = await api('POST', `/repos/${REPO}/deployments`, { body: { ref: sha } });
    assert.equal(conflict.status, 409);
    const d = await api('POST', `/repos/${REPO}/deployments`, { body: { ref: sha, required_contexts: [] } });
    assert.equal(d.status, 201);
    const long = await api('POST', `/repos/${REPO}/deployments/${d.body.id}/statuses`, { body: { state: 'failure', description: 'x'.repeat(141) } });
    assert.equal(long.status, 422);
    assert.match(long.body.errors[0].message, /maximum is 140 characters/);
    assert.equal((await api('POST', `/repos/${REPO}/deployments/${d.body.id}/statuses`, { body: { state: 'exploded' } })).status, 422);
    assert.equal((await api('POST', `/repos/${REPO}/deployments/99999/statuses`, { body: { state: 'success' } })).status, 404);
  });

  it('takes commit statuses and check runs as a CI posts them (201), sends their webhooks, and answers 422 to bad ones', async () => {
    const sha = 'b'.repeat(40);
    const hooks: string[] = [];
    const off = gh.onWebhook((name, payload) => hooks.push(`${name}:${String((payload as { action?: string; state?: string }).action ?? (payload as { state?: string }).state)}`));
    const status = await api('POST', `/repos/${REPO}/statuses/${sha}`, { body: { state: 'success', context: 'build', target_url: 'https://ci.example/1' } });
    assert.equal(status.status, 201);
    assert.deepEqual([status.body.context, status.body.state, status.body.target_url], ['build', 'success', 'https://ci.example/1']);
    const run = await api('POST', `/repos/${REPO}/check-runs`, { body: { name: 'test', head_sha: sha, status: 'completed', conclusion: 'failure' } });
    assert.equal(run.status, 201);
    assert.deepEqual([run.body.name, run.body.status, run.body.conclusion], ['test', 'completed', 'failure']);
    assert.deepEqual(hooks, ['status:success', 'check_run:created', 'check_run:completed']);
    off();
    const combined = await api('GET', `/repos/${REPO}/commits/${sha}/status`);
    assert.equal(combined.body.statuses[0].context, 'build');
    assert.equal((await api('POST', `/repos/${REPO}/statuses/${sha}`, { body: { state: 'done' } })).status, 422);
    assert.equal((await api('POST', `/repos/${REPO}/statuses/not-a-sha`, { body: { state: 'success' } })).status, 422);
    assert.equal((await api('POST', `/repos/${REPO}/check-runs`, { body: { head_sha: sha } })).status, 422);
    assert.equal((await api('POST', `/repos/${REPO}/check-runs`, { body: { name: 'x', head_sha: sha, status: 'in_progress', conclusion: 'success' } })).status, 422);
  });

  it('answers the next n requests with an injected fault', async () => {
    gh.failNext(2, 502);
    assert.equal((await api('GET', `/repos/${REPO}/commits/${SHA}/status`)).status, 502);
    assert.equal((await api('GET', `/repos/${REPO}/commits/${SHA}/status`)).status, 502);
    assert.equal((await api('GET', `/repos/${REPO}/commits/${SHA}/status`)).status, 200);
  });

  it('tells listeners and prints the twin’s lines; emits the webhooks GitHub would send', async () => {
    const events: GitHubDoubleEvent[] = [];
    const hooks: Array<[string, any]> = [];
    const stopEvents = gh.onEvent((e) => events.push(e));
    const stopHooks = gh.onWebhook((name, payload, delivery) => {
      assert.match(delivery, /^[0-9a-f-]{36}$/);
      hooks.push([name, payload]);
    });
    const sha = 'e'.repeat(40);
    gh.setCheckRun(REPO, sha, { name: 'build', status: 'in_progress' });
    gh.setCheckRun(REPO, sha, { name: 'build', conclusion: 'success' });
    gh.setStatus(REPO, sha, { context: 'ci/jenkins', state: 'failure' });
    const d = await api('POST', `/repos/${REPO}/deployments`, { body: { ref: sha, environment: 'production', required_contexts: [] } });
    await api('POST', `/repos/${REPO}/deployments/${d.body.id}/statuses`, { body: { state: 'in_progress' } });
    stopEvents();
    stopHooks();
    assert.deepEqual(events.map(formatGitHubEvent), [
      '⇢ GitHub: check "build" on eeeeeee → in_progress',
      '⇢ GitHub: check "build" on eeeeeee → success',
      '⇢ GitHub: status "ci/jenkins" on eeeeeee → failure',
      `⇢ GitHub: deployment #${d.body.id} production eeeeeee created`,
      `⇢ GitHub: deployment #${d.body.id} production eeeeeee → in_progress`,
    ]);
    assert.deepEqual(hooks.map(([n, p]) => `${n}:${p.action ?? p.state}`), ['check_run:created', 'check_run:completed', 'status:failure']);
    const completed = hooks[1]![1];
    assert.equal(completed.check_run.head_sha, sha);
    assert.equal(completed.check_run.conclusion, 'success');
    assert.equal(completed.repository.full_name, REPO);
    assert.equal(hooks[2]![1].sha, sha);
    assert.equal(hooks[2]![1].context, 'ci/jenkins');
  });
});
