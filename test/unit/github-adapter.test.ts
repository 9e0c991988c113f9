import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  clearGitHubCache,
  createDeployment,
  createDeploymentStatus,
  GITHUB_API_URL_ENV,
  GITHUB_PER_PAGE,
  githubApiUrl,
  readChecks,
  type GitHubAccess,
} from '../../lib/aws/github';
import { resetClients } from '../../lib/aws/clients';
import { decideChecks } from '../../lib/domain/checks-gate';
import { deploymentRequest, deploymentStatusFor } from '../../lib/domain/github-deployments';
import { GitHubDouble } from '../../lib/local/github/server';

const TOKEN = 'github_pat_adapter_test';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cutover/github-token-AbCdEf';
const REPO = 'Codertocat/Hello-World';
const SHA = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
const EXEC = 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:d-42';

const secrets = mockClient(SecretsManagerClient);
const savedEnv = { ...process.env };
let gh: GitHubDouble;
let github: GitHubAccess;

const request = (deploymentId: string, environment = 'production') =>
  deploymentRequest({ sha: SHA, environment, service: 'hello-world', deploymentId, executionArn: EXEC });

describe('GitHub adapter (against the GitHub double over HTTP)', () => {
  before(async () => {
    gh = await GitHubDouble.start({ token: TOKEN, repositories: [REPO] });
  });
  after(() => gh.close());

  beforeEach(() => {
    process.env.AWS_REGION = 'us-east-1';
    delete process.env[GITHUB_API_URL_ENV];
    resetClients();
    clearGitHubCache();
    secrets.reset();
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ ARN: SECRET_ARN, Name: 'cutover/github-token', SecretString: TOKEN });
    github = { tokenSecretArn: SECRET_ARN, apiUrl: gh.url };
  });
  afterEach(() => {
    process.env = { ...savedEnv };
  });

  it('reads check runs and statuses in the checks gate’s shapes, following pages', async () => {
    const sha = 'f'.repeat(40);
    for (let i = 0; i < GITHUB_PER_PAGE + 5; i++) gh.setCheckRun(REPO, sha, { name: `job-${i}`, conclusion: 'success' });
    gh.setCheckRun(REPO, sha, { name: 'build', conclusion: 'failure', html_url: 'https://github.com/runs/build' });
    gh.setStatus(REPO, sha, { context: 'ci/jenkins', state: 'success', target_url: 'https://ci/1' });
    const before = gh.requests().length;
    const checks = await readChecks(github, REPO, sha);
    assert.equal(checks.checkRuns.length, GITHUB_PER_PAGE + 6);
    assert.equal(checks.complete, true);
    assert.deepEqual(checks.statuses.map((s) => [s.context, s.state, s.target_url]), [['ci/jenkins', 'success', 'https://ci/1']]);
    const urls = gh.requests().slice(before).map((r) => r.url);
    assert.equal(urls.filter((u) => u.includes('/check-runs')).length, 2, 'two pages of check runs');
    assert.ok(urls.every((u) => u.includes('per_page=100')));
    const decision = decideChecks(['build', 'ci/jenkins'], checks.checkRuns, checks.statuses, sha);
    assert.equal(decision.status, 'failed');
    assert.equal(decision.status === 'failed' && decision.url, 'https://github.com/runs/build');
  });

  it('sends the token read from Secrets Manager, once per cache period', async () => {
    await readChecks(github, REPO, SHA);
    await readChecks(github, REPO, SHA);
    assert.equal(secrets.commandCalls(GetSecretValueCommand).length, 1);
  });

  it('accepts a JSON secret {"token": …}', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: JSON.stringify({ token: TOKEN }) });
    const checks = await readChecks(github, REPO, SHA);
    assert.deepEqual(checks, { checkRuns: [], statuses: [], complete: true });
  });

  it('uses CUTOVER_GITHUB_API_URL over the config’s apiUrl', async () => {
    process.env[GITHUB_API_URL_ENV] = `${gh.url}/`;
    assert.equal(githubApiUrl({ tokenSecretArn: SECRET_ARN, apiUrl: 'https://api.github.com' }), gh.url);
    const checks = await readChecks({ tokenSecretArn: SECRET_ARN, apiUrl: 'https://api.github.com' }, REPO, SHA);
    assert.equal(checks.complete, true);
  });

  it('creates a deployment once per cutover deployment id, and adds statuses', async () => {
    const before = gh.deployments(REPO).length;
    const id = await createDeployment(github, REPO, request('d-42'));
    const again = await createDeployment(github, REPO, request('d-42'));
    assert.equal(again, id, 'a retried task finds the deployment it created');
    const other = await createDeployment(github, REPO, request('d-43'));
    assert.notEqual(other, id);
    assert.equal(gh.deployments(REPO).length, before + 2);
    const created = gh.deployments(REPO).find((d) => d.id === id)!;
    assert.equal(created.sha, SHA);
    assert.equal(created.environment, 'production');
    assert.equal(created.production_environment, true);
    const statusId = await createDeploymentStatus(github, REPO, id, deploymentStatusFor({ kind: 'in-progress' }, { service: 'hello-world', environment: 'production', commit: SHA, executionArn: EXEC }));
    const [status] = gh.statuses(id);
    assert.equal(status!.id, statusId);
    assert.equal(status!.state, 'in_progress');
    assert.match(status!.log_url, /console\.aws\.amazon\.com\/states\/home\?region=us-east-1#\/v2\/executions\/details\/arn:aws:states/);
  });

  it('names the secret and the permission on 401 (bad token), and is not transient', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: 'ghp_wrong' });
    await assert.rejects(readChecks(github, REPO, SHA), (err: Error & { status?: number }) => {
      assert.equal(err.name, 'Cutover.GitHubAccess');
      assert.equal(err.status, 401);
      assert.match(err.message, /rejected the token in secret arn:aws:secretsmanager:.*cutover\/github-token/);
      assert.match(err.message, /Checks: read/);
      return true;
    });
  });

  it('names the repository and the permission on 404', async () => {
    await assert.rejects(createDeployment(github, 'someone/private', request('d-1')), (err: Error) => {
      assert.equal(err.name, 'Cutover.GitHubAccess');
      assert.match(err.message, /404/);
      assert.match(err.message, /someone\/private/);
      assert.match(err.message, /Deployments: write/);
      return true;
    });
  });

  it('classifies 5xx and rate limits as Cutover.Transient', async () => {
    gh.failNext(1, 502);
    await assert.rejects(readChecks(github, REPO, SHA), { name: 'Cutover.Transient', message: /502/ });
    gh.failNext(1, 403, { message: 'API rate limit exceeded for installation ID 1.', headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1900000000' } });
    await assert.rejects(createDeploymentStatus(github, REPO, 1, { state: 'queued', description: 'x' }), { name: 'Cutover.Transient', message: /rate limit/ });
    gh.failNext(1, 429, { headers: { 'retry-after': '30' } });
    await assert.rejects(readChecks(github, REPO, SHA), { name: 'Cutover.Transient', message: /retry after 30 s/ });
  });

  it('classifies an unreachable GitHub as Cutover.Transient', async () => {
    const closed = await GitHubDouble.start({ token: TOKEN });
    const url = closed.url;
    await closed.close();
    await assert.rejects(readChecks({ tokenSecretArn: SECRET_ARN, apiUrl: url }, REPO, SHA), { name: 'Cutover.Transient' });
  });

  it('passes a missing secret on as the SDK’s exception, naming the secret', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).rejects(new ResourceNotFoundException({ message: 'Secrets Manager can’t find the specified secret.', $metadata: {} }));
    await assert.rejects(readChecks(github, REPO, SHA), (err: Error) => {
      assert.ok(err instanceof ResourceNotFoundException);
      assert.match(err.message, /GitHub token from secret arn:aws:secretsmanager/);
      return true;
    });
  });

  it('rejects GitHub’s 422 with its message', async () => {
    const id = await createDeployment(github, REPO, request('d-422'));
    await assert.rejects(createDeploymentStatus(github, REPO, id, { state: 'failure', description: 'x'.repeat(141) }), { name: 'Cutover.GitHubAccess', message: /422/ });
  });
});
