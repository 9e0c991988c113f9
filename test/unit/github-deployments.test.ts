import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  cutoverDeploymentIdOf,
  deploymentRequest,
  deploymentStatusFor,
  GITHUB_DESCRIPTION_MAX,
  githubStateFor,
  inactivatesPreviousItself,
  stepFunctionsConsoleUrl,
  truncateDescription,
} from '../../lib/domain/github-deployments';

const SHA = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
const EXEC = 'arn:aws:states:eu-west-1:123456789012:execution:cutover-deploy:d-42';
const ctx = { service: 'hello-world', environment: 'production', commit: SHA, executionArn: EXEC, environmentUrl: 'https://hello.example.com' };

describe('deploymentRequest', () => {
  it('deploys the commit SHA without GitHub merging or verifying statuses, carrying the cutover deployment id', () => {
    const r = deploymentRequest({ sha: SHA, environment: 'production', service: 'hello-world', deploymentId: 'd-42', executionArn: EXEC });
    assert.deepEqual(r, {
      ref: SHA,
      task: 'deploy',
      auto_merge: false,
      required_contexts: [],
      environment: 'production',
      description: 'cutover: hello-world 1a2b3c4 to production',
      transient_environment: false,
      production_environment: true,
      payload: { cutover: { deploymentId: 'd-42', service: 'hello-world', executionArn: EXEC } },
    });
  });

  it('marks only an environment named production as production unless told, and keeps descriptions within 140 characters', () => {
    const r = deploymentRequest({ sha: SHA, environment: 'staging', service: 's', deploymentId: 'd', transient: true, description: 'x'.repeat(300) });
    assert.equal(r.production_environment, false);
    assert.equal(r.transient_environment, true);
    assert.equal(r.description.length, GITHUB_DESCRIPTION_MAX);
    assert.equal(deploymentRequest({ sha: SHA, environment: 'live', service: 's', deploymentId: 'd', production: true }).production_environment, true);
  });

  it('fails on a ref that is not a full commit SHA', () => {
    assert.throws(() => deploymentRequest({ sha: 'main', environment: 'production', service: 's', deploymentId: 'd' }), { name: 'Cutover.InvalidInput', message: /"main" is not a full 40-character commit SHA/ });
  });
});

describe('cutoverDeploymentIdOf', () => {
  it('reads the id from an object or JSON-string payload, and nothing from others', () => {
    assert.equal(cutoverDeploymentIdOf({ cutover: { deploymentId: 'd-1' } }), 'd-1');
    assert.equal(cutoverDeploymentIdOf('{"cutover":{"deploymentId":"d-2"}}'), 'd-2');
    assert.equal(cutoverDeploymentIdOf({}), undefined);
    assert.equal(cutoverDeploymentIdOf('deploy it'), undefined);
    assert.equal(cutoverDeploymentIdOf(null), undefined);
  });
});

describe('stepFunctionsConsoleUrl', () => {
  it('links the execution in its region’s console', () => {
    assert.equal(stepFunctionsConsoleUrl(EXEC), `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXEC}`);
    assert.match(stepFunctionsConsoleUrl('arn:aws-cn:states:cn-north-1:123456789012:execution:m:n'), /^https:\/\/cn-north-1\.console\.amazonaws\.cn\//);
  });

  it('fails on something that is not an execution ARN', () => {
    assert.throws(() => stepFunctionsConsoleUrl('arn:aws:states:eu-west-1:123456789012:stateMachine:m'), { name: 'Cutover.InvalidInput' });
  });
});

describe('githubStateFor / deploymentStatusFor', () => {
  it('maps the life cycle to GitHub states', () => {
    assert.equal(githubStateFor({ kind: 'queued' }), 'queued');
    assert.equal(githubStateFor({ kind: 'in-progress' }), 'in_progress');
    assert.equal(githubStateFor({ kind: 'finished', status: 'succeeded' }), 'success');
    assert.equal(githubStateFor({ kind: 'finished', status: 'failed', error: 'Cutover.MigrationFailed' }), 'failure');
    assert.equal(githubStateFor({ kind: 'finished', status: 'rolled-back', error: 'Cutover.RolledBackOnAlarm' }), 'failure');
    assert.equal(githubStateFor({ kind: 'finished', status: 'failed', error: 'States.Timeout' }), 'error');
    assert.equal(githubStateFor({ kind: 'finished', status: 'failed', error: 'Cutover.Transient' }), 'error');
    assert.equal(githubStateFor({ kind: 'finished', status: 'rollback-failed' }), 'error');
    assert.equal(githubStateFor({ kind: 'finished', status: 'superseded' }), 'inactive');
    assert.equal(githubStateFor({ kind: 'replaced' }), 'inactive');
  });

  it('builds statuses with the console log URL, the environment URL on success only, and ≤ 140-character descriptions', () => {
    const inProgress = deploymentStatusFor({ kind: 'in-progress' }, ctx);
    assert.deepEqual(inProgress, {
      state: 'in_progress',
      description: 'cutover is deploying hello-world 1a2b3c4 to production',
      log_url: stepFunctionsConsoleUrl(EXEC),
    });
    const done = deploymentStatusFor({ kind: 'finished', status: 'succeeded', message: 'live on green' }, ctx);
    assert.equal(done.environment_url, 'https://hello.example.com');
    const failed = deploymentStatusFor({ kind: 'finished', status: 'rolled-back', message: `hello-world/production: release 1a2b3c4 was rolled back: ${'alarm '.repeat(60)}` }, ctx);
    assert.equal(failed.state, 'failure');
    assert.equal(failed.environment_url, undefined);
    assert.ok(failed.description.length <= 140);
    assert.ok(failed.description.endsWith('…'));
    assert.equal(deploymentStatusFor({ kind: 'replaced', byCommit: 'ffffffffff' }, { ...ctx, executionArn: undefined }).log_url, undefined);
  });

  it('cuts descriptions on one line without splitting a surrogate pair', () => {
    assert.equal(truncateDescription('a\n  b'), 'a b');
    const cut = truncateDescription(`${'x'.repeat(138)}😀😀`);
    assert.ok(cut.length <= 140);
    assert.equal(cut, `${'x'.repeat(138)}…`);
  });

  it('marks the replaced deployment inactive itself only for production (GitHub auto_inactive skips it)', () => {
    assert.equal(inactivatesPreviousItself({ production_environment: true, transient_environment: false }), true);
    assert.equal(inactivatesPreviousItself({ production_environment: false, transient_environment: false }), false);
    assert.equal(inactivatesPreviousItself({ production_environment: false, transient_environment: true }), false);
  });
});
