/**
 * deploy.asl.json and rollback.asl.json as AWS runs them when an operator types an answer by hand
 * (Step Functions console "Send task success", or the AWS CLI) instead of using `cutover`: a success
 * answer that is not the documented shape must neither crash a Choice (a comparison on a missing path
 * is an uncatchable States.Runtime: the execution fails with the lock held and nothing recorded) nor be
 * read as a yes. The safe way for each question:
 *  - approval: only `{"approved":true}` approves; anything else is not an approval → rolled back, green
 *    never gets production traffic;
 *  - bake: only `{"action":"promote-now"}` promotes; anything else promotes nothing → rolled back;
 *  - database decision (rollback state machine): only `{"decision":"restore"}` restores; anything else
 *    keeps the database (never discards writes). The deploy state machine's is in
 *    deploy-migration-failure.test.ts.
 * Each names the expected answer in the cause and releases the lock.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { sfnClient } from '../../lib/aws/clients';
import { configVariant, ENVIRONMENT, SERVICE, TestTwin } from '../helpers/twin';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** Answers an operator may type by hand that are not the documented shape. */
const UNREADABLE: unknown[] = [{}, { Approved: true, action: 'promote', decision: 'Restore' }, 'yes', null, { approved: 'true', action: 7, decision: ['restore'] }];

async function pendingToken(twin: TestTwin, kind: 'approval' | 'bake' | 'database-decision'): Promise<string> {
  const lock = await twin.waitFor(`the ${kind} wait`, async () => {
    const l = await twin.lock();
    return l?.pendingKind === kind && l.pendingTaskToken ? l : undefined;
  });
  return lock.pendingTaskToken!;
}

describe('deploy: an approval answer that is not {"approved":true}', () => {
  it('{"approved":false} is not an approval: rolled back, green never got production traffic', async () => {
    t = await TestTwin.start({ config: configVariant((env) => ((env.databaseFailurePolicy = 'keep'), (env.approval = 'before-traffic'))) });
    const d = t.startDeployment();
    const token = await pendingToken(t, 'approval');
    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ approved: false, operator: 'ada' }) }));
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /not an approval.*expected \{"approved":true\}/);
    assert.ok(t.weightsSet('green').every((w) => w === 0), `green never got production traffic: ${t.weightsSet('green')}`);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.equal((await t.record(d))?.status, 'rolled-back');
    assert.equal(await t.lock(), undefined, 'the lock is released');
  });

  for (const answer of UNREADABLE) {
    it(`${JSON.stringify(answer)}: rolled back, not an uncatchable States.Runtime`, async () => {
      t = await TestTwin.start({ config: configVariant((env) => ((env.databaseFailurePolicy = 'keep'), (env.approval = 'before-traffic'))) });
      const d = t.startDeployment();
      const token = await pendingToken(t, 'approval');
      await sfnClient().send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(answer) }));
      const result = await t.wait(d);
      assert.equal(result.error, 'Cutover.RolledBack', `${result.error}: ${result.cause}`);
      assert.match(result.cause!, /expected \{"approved":true\}/);
      assert.ok(t.weightsSet('green').every((w) => w === 0));
      assert.equal(await t.lock(), undefined, 'the lock is released');
    });
  }
});

describe('deploy: a bake answer that is not {"action":"promote-now"}', () => {
  for (const answer of UNREADABLE) {
    it(`${JSON.stringify(answer)}: promotes nothing, rolled back with the expected answer in the cause`, async () => {
      t = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = 'keep')) });
      const d = t.startDeployment();
      const token = await pendingToken(t, 'bake');
      await sfnClient().send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(answer) }));
      const result = await t.wait(d);
      assert.equal(result.status, 'FAILED');
      assert.equal(result.error, 'Cutover.RolledBack', `${result.error}: ${result.cause}`);
      assert.match(result.cause!, /expected \{"action":"promote-now"\}/);
      assert.ok(!t.statesEntered(d).includes('PromoteNow'));
      assert.ok(!t.weightsSet('green').includes(100), `never promoted: ${t.weightsSet('green')}`);
      assert.deepEqual(t.weights(), { blue: 100, green: 0 });
      assert.equal(await t.lock(), undefined, 'the lock is released');
    });
  }
});

describe('rollback: a database decision that is not {"decision":"restore"} or {"decision":"keep"}', () => {
  for (const answer of UNREADABLE) {
    it(`${JSON.stringify(answer)}: keeps the database, the rollback succeeds and says the answer could not be read`, async () => {
      t = await TestTwin.start({
        config: configVariant((env) => {
          env.strategy = { type: 'all-at-once' };
          env.rollbackWindowSeconds = 3600;
          env.databaseFailurePolicy = 'approve';
        }),
      });
      assert.equal((await t.deploy()).result.status, 'SUCCEEDED');
      const name = `rb-${Math.random().toString(16).slice(2, 8)}`;
      const input = JSON.stringify({ service: SERVICE, environment: ENVIRONMENT, reason: 'bad data', trigger: { source: 'cli', actor: 'ada' } });
      const { executionArn } = t.twin.sfn.startExecution({ stateMachineArn: t.twin.stateMachineArns.rollback, name, input });
      const rb = { executionArn, name, input: undefined };
      const token = await pendingToken(t, 'database-decision');
      await sfnClient().send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(answer) }));
      const done = await t.wait(rb);
      assert.equal(done.status, 'SUCCEEDED', `${done.error}: ${done.cause}`);
      assert.ok(!t.statesEntered(rb).includes('RestoreSnapshot'));
      assert.match(JSON.parse(done.output!).message, /the operator's answer could not be read \(expected \{"decision":"restore"\} or \{"decision":"keep"\}\)/);
      assert.equal(await t.lock(), undefined, 'the lock is released');
    });
  }
});
