/**
 * The executions the state machines start, named as real Step Functions needs them (StartExecution:
 * a name of 1-80 characters, unique per state machine for 90 days; the same name and input while that
 * execution runs returns it again, a closed one or other input is ExecutionAlreadyExists — which the
 * `states:startExecution` integration raises as `StepFunctions.ExecutionAlreadyExistsException`):
 *  - deploy's `StartRollbackWindow` is named after the deployment id (a retried start cannot start a
 *    second window), and a window that already exists under that name is the window, not a failure;
 *  - rollback's `Redeploy` is named after the rollback's execution name, within 80 characters even
 *    when that name has the full 80.
 * Run on the twin with the real definitions and handlers.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { configVariant, deployInput, ENVIRONMENT, SERVICE, TestTwin } from '../helpers/twin';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
/** An execution name of exactly 80 characters (StartExecution's maximum). */
const name80 = (prefix: string) => `${prefix}-${'x'.repeat(80 - prefix.length - 7)}-${Math.random().toString(16).slice(2, 7)}`;

const fastConfig = (edit: (env: Record<string, any>) => void = () => {}) =>
  configVariant((env) => {
    env.databaseFailurePolicy = 'keep';
    env.strategy = { type: 'all-at-once' };
    edit(env);
  });

describe('deploy: StartRollbackWindow', () => {
  it('an 80-character deployment starts its window named <SHA-1 hex of the deployment id>-window (≤ 80 characters)', async () => {
    t = await TestTwin.start({ config: fastConfig((env) => (env.rollbackWindowSeconds = 3600)) });
    const name = name80('deploy');
    assert.equal(name.length, 80);
    const d = t.startDeployment(deployInput(), name);
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const windows = t.twin.sfn.listExecutions({ stateMachineArn: t.twin.stateMachineArns['rollback-window'], maxResults: 100 }).executions;
    assert.equal(windows.length, 1);
    // The plan computes the name (Node's SHA-1, as States.Hash gives on AWS): exact, even for the 80
    // characters that aws-local-stepfunctions 3.0.0's own States.Hash hashes wrong (inputs >= 56 bytes).
    assert.equal(windows[0]!.name, `${sha1(name)}-window`);
  });

  it('a window that already exists under that name (ExecutionAlreadyExists) is the window: no second one, and the deployment says so', async () => {
    t = await TestTwin.start({ config: fastConfig((env) => (env.rollbackWindowSeconds = 3600)) });
    const name = `deploy-${Math.random().toString(16).slice(2, 8)}`;
    const windowArn = t.twin.stateMachineArns['rollback-window'];
    // As after a first StartExecution that started the window but whose answer was lost, then a
    // retry once that window had closed (or with other input): ExecutionAlreadyExists.
    const earlier = t.twin.sfn.startExecution({ stateMachineArn: windowArn, name: `${sha1(name)}-window`, input: '{"windowSeconds":0}' });
    await t.twin.sfn.waitForExecution(earlier.executionArn);
    const d = t.startDeployment(deployInput(), name);
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const failed = t.history(d).find((e) => e.type === 'TaskFailed');
    assert.equal(failed?.taskFailedEventDetails?.error, 'StepFunctions.ExecutionAlreadyExistsException', 'the error the integration raises');
    assert.ok(t.statesEntered(d).includes('RollbackWindowAlreadyStarted'), 'taken as the window, not as a failure to start one');
    const windows = t.twin.sfn.listExecutions({ stateMachineArn: windowArn, maxResults: 100 }).executions;
    assert.equal(windows.length, 1, 'no second window');
  });
});

describe('rollback: Redeploy', () => {
  it('a rollback whose execution name has 80 characters redeploys under <SHA-1 hex of it>-redeploy (≤ 80 characters)', async () => {
    t = await TestTwin.start({ config: fastConfig((env) => (env.rollbackWindowSeconds = 3600)) });
    const v2input = deployInput({ message: 'v2' });
    const v2 = await t.deploy(v2input);
    await t.deploy(deployInput({ message: 'v3' }));
    await t.deploy(deployInput({ message: 'v4' })); // v2 is no longer in the kept slot: a redeploy
    const name = name80('rollback');
    assert.equal(name.length, 80);
    const input = JSON.stringify({ service: SERVICE, environment: ENVIRONMENT, reason: 'v3 corrupts carts', toDeployment: v2.d.name, trigger: { source: 'cli', actor: 'ada' } });
    const { executionArn } = t.twin.sfn.startExecution({ stateMachineArn: t.twin.stateMachineArns.rollback, name, input });
    const result = await t.twin.sfn.waitForExecution(executionArn);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const deploys = t.twin.sfn.listExecutions({ stateMachineArn: t.twin.deployStateMachineArn, maxResults: 100 }).executions;
    const redeploy = deploys.find((e) => e.name!.endsWith('-redeploy'));
    assert.equal(redeploy?.name, `${sha1(name)}-redeploy`);
    assert.ok(redeploy!.name!.length <= 80);
    assert.equal((await t.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT))?.current?.commit, v2input.release.commit);
  });
});
