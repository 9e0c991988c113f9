/**
 * deploy.asl.json's checks gate (issue 12 part 3) and GitHub Deployments (part 5), executed on the twin
 * with its GitHub API double (lib/local/github): a deployment waits until the commit's required check
 * runs are `success` — ended by the `check_run` webhook the double sends to the twin's webhook, which
 * reads the checks again — and fails with the failing check's name and URL otherwise, having changed
 * nothing. Every deployment is reported as a GitHub Deployment whose statuses come in order; a GitHub
 * that cannot be reached does not fail the deployment.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configVariant, deployInput, ENVIRONMENT, GITHUB_TOKEN_SECRET_ARN, SERVICE, TestTwin } from '../helpers/twin';

const REPO = 'Codertocat/Hello-World';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** All at once, no bake, no scan; GitHub access, and the checks gate when `required` is given. */
const githubConfig = (required?: string[], deployments = true) =>
  configVariant(
    (env) => {
      env.databaseFailurePolicy = 'keep';
      env.strategy = { type: 'all-at-once' };
      delete env.scan;
    },
    (svc) => {
      svc.github = { tokenSecretArn: GITHUB_TOKEN_SECRET_ARN, deployments };
      if (required) svc.checks = { required, waitSeconds: 600 };
    },
  );

/** Writes to AWS other than notifications (snapshots, task definitions, services, listeners). */
const changes = (twin: TestTwin) => twin.writeCalls().filter((c) => c.service !== 'sns').map((c) => `${c.service}:${c.operation}`);

const statesOf = (twin: TestTwin) => {
  const deployments = twin.twin.github!.deployments(REPO);
  return deployments.map((d) => ({ sha: d.sha, environment: d.environment, states: twin.twin.github!.statuses(d.id).map((s) => s.state).reverse() }));
};

async function checksWait(twin: TestTwin, executionArn: string) {
  return twin.waitFor('the checks wait', async () => {
    const lock = await twin.lock();
    return lock?.executionArn === executionArn && lock.pendingKind === 'checks' && lock.pendingTaskToken ? lock : undefined;
  });
}

describe('deploy: the checks gate (GitHub)', () => {
  it('waits for the required checks, changing nothing, and goes on when the check_run webhooks say they passed', async () => {
    t = await TestTwin.start({ config: githubConfig(['build', 'test']) });
    const input = deployInput();
    const sha = input.release.commit;
    t.sim.calls.length = 0;
    const d = t.startDeployment(input);
    const lock = await checksWait(t, d.executionArn);
    assert.match(lock.pendingQuestion ?? '', /waits for its required checks on GitHub \(build, test\)/);
    assert.deepEqual(changes(t), [], 'nothing changed while the checks run');
    assert.ok(!t.statesEntered(d).includes('FindImage'), 'the checks come before the image');

    const github = t.twin.github!;
    github.setCheckRun(REPO, sha, { name: 'build', status: 'completed', conclusion: 'success' });
    await t.waitFor('the build webhook to be handled', () => (github.requests().some((r) => r.url.includes(`/commits/${sha}/check-runs`)) ? true : undefined));
    github.setCheckRun(REPO, sha, { name: 'test', status: 'in_progress' });
    github.setCheckRun(REPO, sha, { name: 'test', status: 'completed', conclusion: 'success' });
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const states = t.statesEntered(d);
    assert.deepEqual(states.slice(states.indexOf('CheckChecks'), states.indexOf('FindImage') + 1), ['CheckChecks', 'ChecksResult', 'AwaitChecks', 'ChecksAnswer', 'FindImage']);
    // Reported to GitHub in order: queued while at the gates, in_progress when it changed things, success.
    assert.deepEqual(statesOf(t), [{ sha, environment: ENVIRONMENT, states: ['queued', 'in_progress', 'success'] }]);
    const [deployment] = github.deployments(REPO);
    const last = github.statuses(deployment!.id)[0]!;
    assert.match(last.log_url, new RegExp(`^https://us-east-1\\.console\\.aws\\.amazon\\.com/states/home\\?region=us-east-1#/v2/executions/details/${d.executionArn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  });

  it('checks that passed before the deployment: no wait', async () => {
    t = await TestTwin.start({ config: githubConfig(['build']) });
    const input = deployInput();
    t.twin.github!.setCheckRun(REPO, input.release.commit, { name: 'build', status: 'completed', conclusion: 'success' });
    const { result, d: deployment } = await t.deploy(input);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.ok(!t.statesEntered(deployment).includes('AwaitChecks'));
  });

  it('a required check that fails: Cutover.ChecksFailed naming the check and its URL, nothing changed, lock released', async () => {
    t = await TestTwin.start({ config: githubConfig(['build', 'test']) });
    const input = deployInput();
    const sha = input.release.commit;
    t.sim.calls.length = 0;
    const d = t.startDeployment(input);
    await checksWait(t, d.executionArn);
    t.twin.github!.setCheckRun(REPO, sha, { name: 'test', status: 'completed', conclusion: 'failure', html_url: `https://github.com/${REPO}/runs/4242` });
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.ChecksFailed');
    assert.match(result.cause!, /required check run "test" on [0-9a-f]{7} concluded failure: see https:\/\/github\.com\/Codertocat\/Hello-World\/runs\/4242/);
    assert.deepEqual(changes(t), [], 'no snapshot, no task definition, no slot touched');
    assert.equal(await t.lock(), undefined);
    assert.equal((await t.record(d))?.status, 'failed');
    assert.deepEqual(statesOf(t), [{ sha, environment: ENVIRONMENT, states: ['queued', 'failure'] }]);
  });

  it('checks not decided within checks.waitSeconds: Cutover.ChecksNotComplete', async () => {
    t = await TestTwin.start({ config: githubConfig(['build']) });
    const d = t.startDeployment(deployInput());
    await checksWait(t, d.executionArn);
    t.twin.github!.setCheckRun(REPO, d.input!.release.commit, { name: 'build', status: 'in_progress' });
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.ChecksNotComplete');
    assert.match(result.cause!, /were not all decided within 600 s/);
  });
});

describe('deploy: GitHub Deployments', () => {
  it('a promotion replaces the previous release: success on the new deployment, inactive on the replaced one (production)', async () => {
    t = await TestTwin.start({ config: githubConfig() });
    const first = await t.deploy(deployInput({ message: 'first' }));
    assert.equal(first.result.status, 'SUCCEEDED');
    const second = await t.deploy(deployInput({ message: 'second' }));
    assert.equal(second.result.status, 'SUCCEEDED');
    const reported = statesOf(t);
    assert.deepEqual(
      reported.map((r) => [r.sha, r.states]),
      [
        [second.d.input!.release.commit, ['queued', 'in_progress', 'success']],
        [first.d.input!.release.commit, ['queued', 'in_progress', 'success', 'inactive']],
      ],
    );
  });

  it('a GitHub that answers 502 to everything does not fail the deployment; the failure to report is on the timeline', async () => {
    t = await TestTwin.start({ config: githubConfig() });
    t.twin.github!.failNext(1000, 502);
    const { result, d: deployment } = await t.deploy(deployInput());
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.equal(t.twin.github!.deployments(REPO).length, 0, 'nothing was recorded on GitHub');
    const timeline = await t.twin.ledger.timeline(SERVICE, ENVIRONMENT, { deploymentId: deployment.name });
    const notes = timeline.filter((e) => e.kind === 'notification' && e.message.includes('GitHub deployment status'));
    assert.ok(notes.length >= 3, `each status that could not be posted is audited (${notes.map((n) => n.message).join(' | ')})`);
    assert.match(notes[0]!.message, /the deployment goes on/);
  });

  it('github.deployments false: nothing is reported', async () => {
    t = await TestTwin.start({ config: githubConfig(undefined, false) });
    const { result } = await t.deploy(deployInput());
    assert.equal(result.status, 'SUCCEEDED');
    assert.equal(t.twin.github!.deployments(REPO).length, 0);
  });
});
