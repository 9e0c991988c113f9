/**
 * The `alarm` function: a watched alarm going to ALARM fails the running bake's (or approval's) task
 * token at once; with no deployment running it rolls back inside the rollback window, and after it
 * notifies or redeploys per `alarmAfterWindow` (SDK clients mocked: DynamoDB for the lock, the
 * environment state and the audit timeline, Step Functions for SendTaskFailure / StartExecution, SNS).
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ExecutionAlreadyExists, SendTaskFailureCommand, StartExecutionCommand, TaskTimedOut } from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import { dynamoMock, resetSdkMocks, sdkError, sfnMock, snsMock, throttlingError } from '../helpers/sdk-mocks';
import { handler, type AlarmAction } from '../../lambdas/alarm/handler';
import { setClockSource } from '../../lib/aws/clock';
import { CONFIG_ENV_VAR } from '../../lib/config/load';
import type { EnvironmentState, ReleaseRef } from '../../lib/domain/records';
import { RollbackInputSchema } from '../../lib/domain/rollback-input';

const CONFIG = readFileSync(new URL('../fixtures/hello-world-production.json', import.meta.url), 'utf8');
const ALARM = 'hello-world-production-5xx';
const LOCK_KEY = { pk: 'LOCK#hello-world#production', sk: 'LOCK' };
const ENV_KEY = { pk: 'ENV#hello-world#production', sk: 'STATE' };
const EVENT_ID = 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92';
const ROLLBACK_SM = 'arn:aws:states:us-east-1:123456789012:stateMachine:cutover-rollback';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:cutover-notifications';
const REASON = /^alarm hello-world-production-5xx went to ALARM at 2026-11-21T10:00:00\.000\+0000: Threshold Crossed: 1 out of the last 1 datapoints/;
/** The sample config with the production environment edited. */
function configWith(edit: (env: Record<string, unknown>) => void): string {
  const raw = JSON.parse(CONFIG);
  edit(raw.services['hello-world'].environments.production);
  return JSON.stringify(raw);
}
const LIVE: ReleaseRef = { deploymentId: 'run-3', commit: '3'.repeat(40), slot: 'green', startedAt: '2026-11-21T09:00:00.000Z', source: 'github-push' };
const environment = (over: Partial<EnvironmentState> = {}): EnvironmentState => ({ ...ENV_KEY, liveSlot: 'green', current: LIVE, updatedAt: 'x', ...over });
const WINDOW = { deploymentId: 'run-3', keptSlot: 'blue' as const, kept: { deploymentId: 'run-2', slot: 'blue' as const }, until: '2026-11-21T10:20:00.000Z', seconds: 1800 };
/** No deployment runs (no lock); the environment state is `env`. */
function idle(env: EnvironmentState | undefined): void {
  dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({});
  dynamoMock.on(GetCommand, { Key: ENV_KEY }).resolves(env ? { Item: env } : {});
}
const audits = () => dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!).filter((i) => String(i.pk).startsWith('AUDIT#'));
/** The one audit item written for the alarm, checked for what every path records. */
function assertAudited(action: AlarmAction['action'], extra: Record<string, unknown> = {}): Record<string, any> {
  const items = audits();
  assert.equal(items.length, 1, 'one audit item per environment');
  const a = items[0]!;
  assert.equal(a.pk, 'AUDIT#hello-world#production');
  assert.match(a.sk, new RegExp(`#alarm-${EVENT_ID}$`));
  assert.equal(a.kind, 'alarm');
  assert.equal(a.actor, `alarm:${ALARM}`);
  assert.equal(a.service, 'hello-world');
  assert.equal(a.environment, 'production');
  assert.match(a.message, new RegExp(`^alarm ${ALARM} went to ALARM .* → ${action}: `));
  assert.deepEqual(a.detail, { action, eventId: EVENT_ID, ...extra });
  return a;
}

/** A "CloudWatch Alarm State Change" event as EventBridge delivers it (CloudWatch User Guide shape). */
function alarmEvent(alarmName = ALARM, value = 'ALARM') {
  return {
    version: '0',
    id: EVENT_ID,
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
    for (const k of [CONFIG_ENV_VAR, 'TABLE_NAME', 'ROLLBACK_STATE_MACHINE_ARN', 'NOTIFICATION_TOPIC_ARN']) saved[k] = process.env[k];
    process.env[CONFIG_ENV_VAR] = CONFIG;
    process.env.TABLE_NAME = 'cutover-ledger';
    process.env.ROLLBACK_STATE_MACHINE_ARN = ROLLBACK_SM;
    process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
    dynamoMock.on(PutCommand).resolves({});
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('fails the bake token of the running deployment with Cutover.AlarmFiring, the alarm and its reason', async () => {
    dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({ Item: { ...LOCK_KEY, acquiredAt: '2026-11-21T09:30:00.000Z', commit: '4'.repeat(40), deploymentId: 'd-1', executionArn: 'arn:x', pendingKind: 'bake', pendingTaskToken: 'bake-token' } });
    sfnMock.on(SendTaskFailureCommand).resolves({});
    const out = await handler(alarmEvent());
    assert.deepEqual(out.environments, [
      { service: 'hello-world', environment: 'production', action: 'failed-bake', deploymentId: 'd-1', detail: 'the bake ended with Cutover.AlarmFiring: the deployment rolls back now' },
    ]);
    const failure = sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
    assert.equal(failure.taskToken, 'bake-token');
    assert.equal(failure.error, 'Cutover.AlarmFiring');
    assert.match(failure.cause!, /^alarm hello-world-production-5xx went to ALARM at 2026-11-21T10:00:00\.000\+0000: Threshold Crossed: 1 out of the last 1 datapoints/);
    const a = assertAudited('failed-bake');
    assert.equal(a.deploymentId, 'd-1');
    assert.equal(sfnMock.commandCalls(StartExecutionCommand).length, 0, 'the deployment rolls back by itself');
  });

  it('fails an approval wait too (failed-approval)', async () => {
    dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({ Item: { ...LOCK_KEY, acquiredAt: '2026-11-21T09:30:00.000Z', commit: '4'.repeat(40), deploymentId: 'd-1', executionArn: 'arn:x', purpose: 'deploy', pendingKind: 'approval', pendingTaskToken: 'approval-token' } });
    sfnMock.on(SendTaskFailureCommand).resolves({});
    const out = await handler(alarmEvent());
    assert.deepEqual(out.environments, [
      { service: 'hello-world', environment: 'production', action: 'failed-approval', deploymentId: 'd-1', detail: 'the approval wait ended with Cutover.AlarmFiring: the deployment rolls back now' },
    ]);
    const failure = sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
    assert.equal(failure.taskToken, 'approval-token');
    assert.equal(failure.error, 'Cutover.AlarmFiring');
    assert.match(failure.cause!, REASON);
    assertAudited('failed-approval');
    assert.equal(sfnMock.commandCalls(StartExecutionCommand).length, 0);
  });

  it('leaves a running rollback (or the window closing) alone', async () => {
    for (const purpose of ['rollback', 'rollback-window']) {
      dynamoMock.resetHistory();
      dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({ Item: { ...LOCK_KEY, acquiredAt: '2026-11-21T09:30:00.000Z', commit: '4'.repeat(40), deploymentId: 'rb-1', executionArn: 'arn:x', purpose, pendingKind: 'bake', pendingTaskToken: 't' } });
      const out = await handler(alarmEvent());
      assert.equal(out.environments[0]!.action, 'rollback-running');
      assertAudited('rollback-running');
    }
    assert.equal(sfnMock.calls().length, 0);
  });

  it('no deployment, rollback window open: starts the rollback named after the event id, with a valid rollback input', async () => {
    idle(environment({ rollbackWindow: WINDOW }));
    const executionArn = `arn:aws:states:us-east-1:123456789012:execution:cutover-rollback:alarm-${EVENT_ID}`;
    sfnMock.on(StartExecutionCommand).resolves({ executionArn, startDate: new Date() });
    const out = await handler(alarmEvent());
    const { detail, ...started } = out.environments[0]!;
    assert.equal(out.environments.length, 1);
    assert.deepEqual(started, { service: 'hello-world', environment: 'production', action: 'rollback-started', deploymentId: 'run-3', executionArn });
    assert.match(detail, /^rolling run-3 .*to the kept slot blue$/);
    const start = sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    assert.equal(sfnMock.commandCalls(StartExecutionCommand).length, 1);
    assert.equal(start.stateMachineArn, ROLLBACK_SM);
    assert.equal(start.name, `alarm-${EVENT_ID}`, 'a redelivered event starts nothing twice');
    const input = RollbackInputSchema.parse(JSON.parse(start.input!));
    assert.equal(input.service, 'hello-world');
    assert.equal(input.environment, 'production');
    assert.match(input.reason, REASON);
    assert.equal(input.toDeployment, undefined, 'the kept slot / last known good release');
    assert.deepEqual(input.trigger, { source: 'alarm', actor: `alarm:${ALARM}`, deliveryId: EVENT_ID });
    const a = assertAudited('rollback-started', { executionArn });
    assert.equal(a.deploymentId, 'run-3');
    assert.equal(snsMock.commandCalls(PublishCommand).length, 0, 'the rollback notifies for itself');
  });

  it('the rollback-started detail reads as one sentence', async () => {
    idle(environment({ rollbackWindow: WINDOW }));
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn:rb', startDate: new Date() });
    const out = await handler(alarmEvent());
    assert.equal(out.environments[0]!.detail, 'rolling run-3 back to the kept slot blue');
  });

  it('a redelivered event (ExecutionAlreadyExists) → rollback-already-started, naming that execution', async () => {
    idle(environment({ rollbackWindow: WINDOW }));
    sfnMock.on(StartExecutionCommand).rejects(sdkError(ExecutionAlreadyExists, 'Execution Already Exists'));
    const out = await handler(alarmEvent());
    const executionArn = `arn:aws:states:us-east-1:123456789012:execution:cutover-rollback:alarm-${EVENT_ID}`;
    assert.deepEqual(out.environments, [
      { service: 'hello-world', environment: 'production', action: 'rollback-already-started', deploymentId: 'run-3', executionArn, detail: 'this alarm event already started a rollback (a redelivery)' },
    ]);
    assertAudited('rollback-already-started', { executionArn });
  });

  it('judges the window by when the alarm fired (state.timestamp), not by when the event arrives or today\'s date', async () => {
    // Inside the window (it closes at 10:20): rolls back, however late this test runs.
    idle(environment({ rollbackWindow: WINDOW }));
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn:rb', startDate: new Date(0) });
    const late = alarmEvent();
    late.time = '2026-11-21T11:00:00Z'; // delivered 40 min after the window closed
    assert.equal((await handler(late)).environments[0]!.action, 'rollback-started');
    // Fired after the window closed: notifies, even though the item still carries the window (its closer is late).
    resetSdkMocks();
    dynamoMock.on(PutCommand).resolves({});
    idle(environment({ rollbackWindow: WINDOW }));
    const after = alarmEvent();
    after.detail.state.timestamp = '2026-11-21T10:20:00.000+0000';
    assert.equal((await handler(after)).environments[0]!.action, 'notified');
    assert.equal(sfnMock.commandCalls(StartExecutionCommand).length, 0);
    assert.match(audits()[0]!.sk, /^2026-11-21T10:20:00\.000Z#alarm-/, 'the audit item carries the time the alarm fired');
  });

  it('without state.timestamp, the event\'s time decides', async () => {
    idle(environment({ rollbackWindow: WINDOW }));
    const base = alarmEvent();
    const { timestamp: _fired, ...state } = base.detail.state;
    const event = { ...base, time: '2026-11-21T10:30:00Z', detail: { ...base.detail, state } };
    assert.equal((await handler(event)).environments[0]!.action, 'notified');
  });

  it('an event without any time is judged at the runtime clock (lib/aws/clock.ts: the twin sets its simulated clock there)', async () => {
    const base = alarmEvent();
    const { timestamp: _fired, ...state } = base.detail.state;
    const { time: _time, ...envelope } = base;
    const event = { ...envelope, detail: { ...base.detail, state } };
    try {
      idle(environment({ rollbackWindow: WINDOW }));
      sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn:rb', startDate: new Date(0) });
      setClockSource(() => new Date('2026-11-21T10:19:59.000Z'));
      assert.equal((await handler(event)).environments[0]!.action, 'rollback-started');
      setClockSource(() => new Date('2026-11-21T10:20:00.000Z'));
      assert.equal((await handler(event)).environments[0]!.action, 'notified');
    } finally {
      setClockSource(undefined);
    }
  });

  it('window over, alarmAfterWindow notify (the default): publishes the alarm with the rollback command, starts nothing', async () => {
    idle(environment());
    const out = await handler(alarmEvent());
    const [env] = out.environments;
    assert.equal(env!.action, 'notified');
    assert.equal(env!.deploymentId, 'run-3');
    assert.equal(env!.detail, 'the rollback window is over and alarmAfterWindow is "notify"; notified (roll back with: cutover rollback hello-world production --reason "<why>")');
    assert.equal(sfnMock.commandCalls(StartExecutionCommand).length, 0);
    const [note] = snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);
    assert.equal(snsMock.commandCalls(PublishCommand).length, 1);
    assert.equal(note!.TopicArn, TOPIC);
    assert.equal(note!.Subject, `hello-world/production: alarm ${ALARM}`);
    assert.equal(note!.MessageAttributes!.kind!.StringValue, 'alarm');
    assert.equal(note!.MessageAttributes!.deploymentId!.StringValue, 'run-3');
    assert.match(note!.Message!, REASON);
    assert.match(note!.Message!, /The live release is 3333333 \(deployment run-3\); the rollback window is over and alarmAfterWindow is "notify"\./);
    assert.match(note!.Message!, /To act:\n  cutover rollback hello-world production --reason "<why>"\n  cutover history hello-world production/);
    assertAudited('notified');
  });

  it('window over, alarmAfterWindow redeploy: starts the rollback (it redeploys the last known good release)', async () => {
    process.env[CONFIG_ENV_VAR] = configWith((e) => { e.alarmAfterWindow = 'redeploy'; });
    idle(environment());
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn:rb', startDate: new Date() });
    const out = await handler(alarmEvent());
    assert.equal(out.environments[0]!.action, 'rollback-started');
    assert.equal(out.environments[0]!.detail, 'rolling run-3 back by redeploying the last known good release');
    const start = sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    assert.equal(start.name, `alarm-${EVENT_ID}`);
    assert.equal(RollbackInputSchema.parse(JSON.parse(start.input!)).trigger?.source, 'alarm');
    assert.equal(snsMock.commandCalls(PublishCommand).length, 0);
    assertAudited('rollback-started', { executionArn: 'arn:rb' });
  });

  it('the live release is itself a rollback\'s redeploy: notifies only, even with alarmAfterWindow redeploy', async () => {
    process.env[CONFIG_ENV_VAR] = configWith((e) => { e.alarmAfterWindow = 'redeploy'; });
    idle(environment({ current: { ...LIVE, source: 'rollback' } }));
    const out = await handler(alarmEvent());
    assert.equal(out.environments[0]!.action, 'notified');
    assert.match(out.environments[0]!.detail, /^the live release is itself a rollback's redeploy, so cutover does not roll back again by itself; notified/);
    assert.equal(sfnMock.commandCalls(StartExecutionCommand).length, 0);
    assert.equal(snsMock.commandCalls(PublishCommand).length, 1);
    assertAudited('notified');
  });

  it('notifying without a topic is skipped, not an error', async () => {
    delete process.env.NOTIFICATION_TOPIC_ARN;
    idle(environment());
    const out = await handler(alarmEvent());
    assert.equal(out.environments[0]!.action, 'notified');
    assert.equal(snsMock.commandCalls(PublishCommand).length, 0);
    assertAudited('notified');
  });

  it('ROLLBACK_STATE_MACHINE_ARN missing is named when a rollback is due', async () => {
    delete process.env.ROLLBACK_STATE_MACHINE_ARN;
    idle(environment({ rollbackWindow: WINDOW }));
    await assert.rejects(handler(alarmEvent()), /ROLLBACK_STATE_MACHINE_ARN is not set/);
    assert.equal(sfnMock.commandCalls(StartExecutionCommand).length, 0);
  });

  it('does nothing to a deployment that is not baking (it checks the alarms itself), nor without a deployment', async () => {
    dynamoMock.on(GetCommand).resolvesOnce({ Item: { ...LOCK_KEY, acquiredAt: '2026-11-21T09:30:00.000Z', commit: '4'.repeat(40), deploymentId: 'd-2', executionArn: 'arn:x', pendingKind: 'database-decision', pendingTaskToken: 'db-token' } });
    const notBaking = await handler(alarmEvent());
    assert.equal(notBaking.environments[0]!.action, 'not-baking');
    dynamoMock.on(GetCommand).resolves({});
    const none = await handler(alarmEvent());
    assert.equal(none.environments[0]!.action, 'no-deployment');
    assert.equal(sfnMock.commandCalls(SendTaskFailureCommand).length, 0, 'a database decision is never failed by an alarm');
    assert.equal(sfnMock.commandCalls(StartExecutionCommand).length, 0, 'nothing promoted: nothing to roll back');
    assert.deepEqual(audits().map((a) => a.detail.action), ['not-baking', 'no-deployment']);
    assert.ok(audits().every((a) => a.actor === `alarm:${ALARM}`));
  });

  it('reports a bake that was already over (a redelivered event is harmless)', async () => {
    dynamoMock.on(GetCommand).resolves({ Item: { ...LOCK_KEY, acquiredAt: '2026-11-21T09:30:00.000Z', commit: '4'.repeat(40), deploymentId: 'd-3', executionArn: 'arn:x', pendingKind: 'bake', pendingTaskToken: 'old-token' } });
    sfnMock.on(SendTaskFailureCommand).rejects(sdkError(TaskTimedOut));
    const out = await handler(alarmEvent());
    assert.equal(out.environments[0]!.action, 'wait-already-over');
    assert.equal(out.environments[0]!.detail, "the bake was already over; the deployment's next alarm check decides");
    assertAudited('wait-already-over');
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
