/**
 * The `alarm` function: a watched alarm going to ALARM fails the running bake's task token at once
 * (SDK clients mocked: DynamoDB for the lock, Step Functions for SendTaskFailure).
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { SendTaskFailureCommand, TaskTimedOut } from '@aws-sdk/client-sfn';
import { dynamoMock, resetSdkMocks, sdkError, sfnMock, throttlingError } from '../helpers/sdk-mocks';
import { handler } from '../../lambdas/alarm/handler';
import { CONFIG_ENV_VAR } from '../../lib/config/load';

const CONFIG = readFileSync(new URL('../../lib/config/samples/hello-world.json', import.meta.url), 'utf8');
const ALARM = 'hello-world-production-5xx';
const LOCK_KEY = { pk: 'LOCK#hello-world#production', sk: 'LOCK' };

/** A "CloudWatch Alarm State Change" event as EventBridge delivers it (CloudWatch User Guide shape). */
function alarmEvent(alarmName = ALARM, value = 'ALARM') {
  return {
    version: '0',
    id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '123456789012',
    time: '2026-11-21T10:00:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`],
    detail: {
      alarmName,
      state: { value, reason: 'Threshold Crossed: 1 out of the last 1 datapoints [4.0 (21/11/26 09:59:00)] was greater than or equal to the threshold (1.0).', timestamp: '2026-11-21T10:00:00.000+0000' },
      previousState: { value: 'OK', reason: '', timestamp: '2026-11-21T09:00:00.000+0000' },
      configuration: { metrics: [] },
    },
  };
}

describe('alarm handler', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    resetSdkMocks();
    for (const k of [CONFIG_ENV_VAR, 'TABLE_NAME']) saved[k] = process.env[k];
    process.env[CONFIG_ENV_VAR] = CONFIG;
    process.env.TABLE_NAME = 'cutover-ledger';
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('fails the bake token of the running deployment with Cutover.AlarmFiring, the alarm and its reason', async () => {
    dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({ Item: { ...LOCK_KEY, deploymentId: 'd-1', executionArn: 'arn:x', pendingKind: 'bake', pendingTaskToken: 'bake-token' } });
    sfnMock.on(SendTaskFailureCommand).resolves({});
    const out = await handler(alarmEvent());
    assert.deepEqual(out.environments, [
      { service: 'hello-world', environment: 'production', action: 'failed-bake', deploymentId: 'd-1', detail: 'the bake ended with Cutover.AlarmFiring: the deployment rolls back now' },
    ]);
    const failure = sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
    assert.equal(failure.taskToken, 'bake-token');
    assert.equal(failure.error, 'Cutover.AlarmFiring');
    assert.match(failure.cause!, /^alarm hello-world-production-5xx went to ALARM at 2026-11-21T10:00:00\.000\+0000: Threshold Crossed: 1 out of the last 1 datapoints/);
  });

  it('does nothing to a deployment that is not baking (it checks the alarms itself), nor without a deployment', async () => {
    dynamoMock.on(GetCommand).resolvesOnce({ Item: { ...LOCK_KEY, deploymentId: 'd-2', executionArn: 'arn:x', pendingKind: 'database-decision', pendingTaskToken: 'db-token' } });
    const notBaking = await handler(alarmEvent());
    assert.equal(notBaking.environments[0]!.action, 'not-baking');
    dynamoMock.on(GetCommand).resolves({});
    const none = await handler(alarmEvent());
    assert.equal(none.environments[0]!.action, 'no-deployment');
    assert.equal(sfnMock.commandCalls(SendTaskFailureCommand).length, 0, 'a database decision is never failed by an alarm');
  });

  it('reports a bake that was already over (a redelivered event is harmless)', async () => {
    dynamoMock.on(GetCommand).resolves({ Item: { ...LOCK_KEY, deploymentId: 'd-3', executionArn: 'arn:x', pendingKind: 'bake', pendingTaskToken: 'old-token' } });
    sfnMock.on(SendTaskFailureCommand).rejects(sdkError(TaskTimedOut));
    const out = await handler(alarmEvent());
    assert.equal(out.environments[0]!.action, 'bake-already-over');
  });

  it('ignores alarms no environment watches and state changes other than to ALARM', async () => {
    assert.deepEqual((await handler(alarmEvent('someone-elses-alarm'))).environments, []);
    assert.deepEqual((await handler(alarmEvent(ALARM, 'OK'))).environments, []);
    assert.equal(dynamoMock.calls().length, 0);
  });

  it('rejects an event that is not an alarm state change, naming the field', async () => {
    await assert.rejects(handler({ ...alarmEvent(), source: 'aws.codecommit' }), (err: Error) => {
      assert.equal(err.name, 'Cutover.InvalidInput');
      assert.match(err.message, /source: not a CloudWatch event/);
      return true;
    });
    await assert.rejects(handler({ ...alarmEvent(), detail: { state: { value: 'ALARM' } } }), /detail\.alarmName/);
  });

  it('throttling is Cutover.Transient (EventBridge retries the invocation)', async () => {
    dynamoMock.on(GetCommand).rejects(throttlingError('dynamodb'));
    await assert.rejects(handler(alarmEvent()), { name: 'Cutover.Transient' });
  });
});
