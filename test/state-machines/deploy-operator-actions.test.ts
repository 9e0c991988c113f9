/**
 * deploy.asl.json: an operator ends a bake early. Promote now (SendTaskSuccess on the bake's task token,
 * found on the lock) skips the rest of the bake and the remaining steps; abort (SendTaskFailure with
 * `Cutover.Aborted`) rolls back. Each asserts the production weights and the record.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { sfnClient } from '../../lib/aws/clients';
import { configVariant, TestTwin } from '../helpers/twin';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** Wait until the deployment is baking; returns the bake's task token from the lock. */
async function bakeToken(twin: TestTwin): Promise<string> {
  for (let i = 0; i < 1000; i++) {
    const lock = await twin.lock();
    if (lock?.pendingKind === 'bake' && lock.pendingTaskToken) return lock.pendingTaskToken;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('the deployment never started baking');
}

describe('deploy: operator promotes now during the canary bake', () => {
  it('goes straight to 100% and succeeds, without waiting out the bake', async () => {
    t = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = 'keep')) });
    const d = t.startDeployment();
    const token = await bakeToken(t);
    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ action: 'promote-now', operator: 'ada' }) }));
    const result = await t.wait(d);

    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.deepEqual(t.weightsSet('green'), [10, 100]);
    assert.deepEqual(t.weights(), { blue: 0, green: 100 });
    const states = t.statesEntered(d);
    assert.ok(states.includes('PromoteNow'));
    assert.ok(!states.includes('CheckAlarms'), 'the bake was cut short, not waited out');
    assert.equal(states.filter((s) => s === 'Bake').length, 1, 'no bake after the promote-now shift');
    assert.equal((await t.record(d))?.status, 'succeeded');
  });
});

describe('deploy: operator aborts during the canary bake', () => {
  it('rolls back to 100% on blue with the operator\'s reason in the cause', async () => {
    t = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = 'keep')) });
    const d = t.startDeployment();
    const token = await bakeToken(t);
    await sfnClient().send(new SendTaskFailureCommand({ taskToken: token, error: 'Cutover.Aborted', cause: 'aborted by ada: checkout latency looks wrong' }));
    const result = await t.wait(d);

    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /aborted by ada: checkout latency looks wrong/);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    assert.equal(t.desiredCount('green'), 0);
    const record = await t.record(d);
    assert.equal(record?.status, 'rolled-back');
    assert.equal(await t.lock(), undefined);
  });
});
