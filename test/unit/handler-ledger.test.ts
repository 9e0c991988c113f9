import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeExecutionCommand, ExecutionDoesNotExist, SendTaskFailureCommand, TaskTimedOut } from '@aws-sdk/client-sfn';
import { cloudWatchMock, dynamoMock, resetSdkMocks, sdkError, sfnMock, throttlingError } from '../helpers/sdk-mocks';
import { handler } from '../../lambdas/ledger/handler';
import { parseConfig } from '../../lib/config';
import { resolvePlan, type DeploymentPlan } from '../../lib/domain/plan';
import type { DeploymentState } from '../../lib/domain/records';

const TABLE = 'cutover-ledger-test';
const SHA = 'c0ffee0'.padEnd(40, '1');
const config = parseConfig(JSON.parse(readFileSync(new URL('../../lib/config/samples/hello-world.json', import.meta.url), 'utf8')));
const planFor = (name: string): DeploymentPlan =>
  resolvePlan(config, {
    input: { service: 'hello-world', environment: 'production', release: { commit: SHA } },
    execution: { id: `arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:${name}`, name, startTime: '2024-05-01T12:00:00.000Z' },
  });
const plan = planFor('run-1');
const LOCK_KEY = { pk: 'LOCK#hello-world#production', sk: 'LOCK' };
const RECORD_KEY = { pk: 'DEPLOYMENTS#hello-world#production', sk: '2024-05-01T12:00:00.000Z#run-1' };
const ccf = () => sdkError(ConditionalCheckFailedException, 'The conditional request failed');

describe('ledger handler', () => {
  let savedTable: string | undefined;
  beforeEach(() => {
    resetSdkMocks();
    savedTable = process.env.TABLE_NAME;
    process.env.TABLE_NAME = TABLE;
  });
  afterEach(() => {
    if (savedTable === undefined) delete process.env.TABLE_NAME;
    else process.env.TABLE_NAME = savedTable;
  });

  describe('acquire', () => {
    it('puts the lock with the same-execution condition, then the in-progress record', async () => {
      dynamoMock.on(PutCommand).resolves({});
      const lock = (await handler({ action: 'acquire', plan })) as Record<string, unknown>;
      const puts = dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input);
      assert.equal(puts.length, 2);
      assert.equal(puts[0]!.TableName, TABLE);
      assert.equal(puts[0]!.ConditionExpression, 'attribute_not_exists(pk) OR executionArn = :me');
      assert.deepEqual(puts[0]!.ExpressionAttributeValues, { ':me': plan.executionArn });
      assert.deepEqual({ pk: puts[0]!.Item!.pk, sk: puts[0]!.Item!.sk }, LOCK_KEY);
      assert.equal(puts[0]!.Item!.executionArn, plan.executionArn);
      assert.equal(puts[1]!.ConditionExpression, 'attribute_not_exists(pk)');
      assert.deepEqual({ pk: puts[1]!.Item!.pk, sk: puts[1]!.Item!.sk }, RECORD_KEY);
      assert.equal(puts[1]!.Item!.status, 'in-progress');
      assert.equal(puts[1]!.Item!.image, plan.image);
      assert.equal(lock.deploymentId, 'run-1');
      assert.equal(lock.commit, SHA);
    });

    it('another holder → Cutover.DeploymentInProgress naming the holder (read back with GetCommand)', async () => {
      const holder = {
        ...LOCK_KEY,
        deploymentId: 'run-0',
        executionArn: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:run-0',
        acquiredAt: '2024-05-01T11:58:00.000Z',
        commit: 'deadbee'.padEnd(40, '0'),
      };
      dynamoMock.on(PutCommand).rejects(ccf());
      dynamoMock.on(GetCommand).resolves({ Item: holder });
      sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
      await assert.rejects(handler({ action: 'acquire', plan }), (err: Error) => {
        assert.equal(err.name, 'Cutover.DeploymentInProgress');
        assert.match(err.message, /^hello-world\/production is locked by deployment run-0 \(commit deadbee, since 2024-05-01T11:58:00\.000Z, execution arn:.*:run-0\)/);
        assert.match(err.message, /still running/);
        assert.match(err.message, /Wait for it to finish, or stop that execution/);
        return true;
      });
      const get = dynamoMock.commandCalls(GetCommand)[0]!.args[0].input;
      assert.deepEqual(get.Key, LOCK_KEY);
      assert.equal(get.ConsistentRead, true);
      assert.equal(dynamoMock.commandCalls(PutCommand).length, 1, 'no deployment record for a deployment that did not start');
    });

    for (const [what, behave] of [
      ['stopped', (m: typeof sfnMock) => m.on(DescribeExecutionCommand).resolves({ status: 'ABORTED' })],
      ['gone', (m: typeof sfnMock) => m.on(DescribeExecutionCommand).rejects(sdkError(ExecutionDoesNotExist, 'Execution Does Not Exist'))],
    ] as const) {
      it(`reclaims the lock of a ${what} execution with a write conditional on that stale holder`, async () => {
        const stale = 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:run-0';
        dynamoMock.on(PutCommand).rejectsOnce(ccf()).resolves({});
        dynamoMock.on(GetCommand).resolves({ Item: { ...LOCK_KEY, deploymentId: 'run-0', executionArn: stale, acquiredAt: 'x', commit: SHA } });
        behave(sfnMock);
        const lock = (await handler({ action: 'acquire', plan })) as { executionArn: string };
        assert.equal(lock.executionArn, plan.executionArn);
        assert.equal(sfnMock.commandCalls(DescribeExecutionCommand)[0]!.args[0].input.executionArn, stale);
        const puts = dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input);
        assert.equal(puts[1]!.ConditionExpression, 'executionArn = :stale');
        assert.deepEqual(puts[1]!.ExpressionAttributeValues, { ':stale': stale });
        assert.equal(puts[1]!.Item!.reclaimedFrom, stale);
        assert.equal(puts[2]!.Item!.status, 'in-progress', 'the deployment record is created');
      });
    }

    it('a lock that vanished between the write and the read still fails readably', async () => {
      dynamoMock.on(PutCommand).rejects(ccf());
      dynamoMock.on(GetCommand).resolves({});
      await assert.rejects(handler({ action: 'acquire', plan }), { name: 'Cutover.DeploymentInProgress', message: /locked by deployment \(unknown\)/ });
    });

    it('a retry by the same execution succeeds even though its record exists already', async () => {
      dynamoMock.on(PutCommand, { Item: LOCK_KEY }).resolves({}); // condition `executionArn = :me` holds
      dynamoMock.on(PutCommand, { Item: RECORD_KEY }).rejects(ccf()); // record written by the first attempt
      const lock = (await handler({ action: 'acquire', plan })) as Record<string, unknown>;
      assert.equal(lock.executionArn, plan.executionArn);
      const puts = dynamoMock.commandCalls(PutCommand);
      assert.equal(puts.length, 2);
      await assert.rejects(puts[1]!.returnValue, ConditionalCheckFailedException, 'the record write really was refused');
    });

    it('throttling → Cutover.Transient', async () => {
      dynamoMock.on(PutCommand).rejects(throttlingError('dynamodb'));
      await assert.rejects(handler({ action: 'acquire', plan }), { name: 'Cutover.Transient' });
    });

    it('TABLE_NAME missing is named', async () => {
      delete process.env.TABLE_NAME;
      await assert.rejects(handler({ action: 'acquire', plan }), /TABLE_NAME is not set/);
      assert.equal(dynamoMock.calls().length, 0);
    });
  });

  describe('finish', () => {
    const state = (over: Partial<DeploymentState> = {}): DeploymentState => ({ plan, slots: { live: 'blue', idle: 'green' }, ...over });

    it('succeeded: updates the record, writes the environment state, releases only its own lock', async () => {
      const out = (await handler({ action: 'finish', outcome: 'succeeded', deployment: state() })) as Record<string, unknown>;
      assert.equal(out.status, 'succeeded');
      assert.equal(out.liveSlot, 'green');
      const update = dynamoMock.commandCalls(UpdateCommand)[0]!.args[0].input;
      assert.deepEqual(update.Key, RECORD_KEY);
      assert.equal(update.ExpressionAttributeValues![':s'], 'succeeded');
      assert.equal(update.ExpressionAttributeValues![':l'], 'green');
      assert.equal(update.ExpressionAttributeValues![':e'], null);
      assert.match(update.UpdateExpression!, /REMOVE pendingTaskToken, pendingKind, pendingQuestion/);
      const puts = dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!);
      assert.equal(puts.length, 1);
      assert.deepEqual(
        { pk: puts[0]!.pk, sk: puts[0]!.sk, liveSlot: puts[0]!.liveSlot, lastGoodDeploymentId: puts[0]!.lastGoodDeploymentId, lastGoodCommit: puts[0]!.lastGoodCommit },
        { pk: 'ENV#hello-world#production', sk: 'STATE', liveSlot: 'green', lastGoodDeploymentId: 'run-1', lastGoodCommit: SHA },
      );
      const del = dynamoMock.commandCalls(DeleteCommand)[0]!.args[0].input;
      assert.deepEqual(del.Key, LOCK_KEY);
      assert.equal(del.ConditionExpression, 'executionArn = :me');
      assert.deepEqual(del.ExpressionAttributeValues, { ':me': plan.executionArn });
    });

    it('failed: records the failure and does not touch the environment state', async () => {
      const out = (await handler({
        action: 'finish',
        outcome: 'failed',
        deployment: state({ failure: { Error: 'Cutover.GreenUnstable', Cause: 'never stable' } }),
      })) as Record<string, unknown>;
      assert.equal(out.status, 'failed');
      const update = dynamoMock.commandCalls(UpdateCommand)[0]!.args[0].input;
      assert.equal(update.ExpressionAttributeValues![':s'], 'failed');
      assert.equal(update.ExpressionAttributeValues![':e'], 'Cutover.GreenUnstable');
      assert.equal(dynamoMock.commandCalls(PutCommand).length, 0);
      assert.equal(dynamoMock.commandCalls(DeleteCommand).length, 1);
    });

    it('a lock held by someone else (or gone) is left alone: ConditionalCheckFailed is ignored', async () => {
      dynamoMock.on(DeleteCommand).rejects(ccf());
      const out = (await handler({ action: 'finish', outcome: 'rollback-failed', deployment: state({ failure: { Error: 'X' } }) })) as Record<string, unknown>;
      assert.equal(out.status, 'rollback-failed');
    });

    it('other Delete errors are not swallowed', async () => {
      dynamoMock.on(DeleteCommand).rejects(throttlingError('dynamodb'));
      await assert.rejects(handler({ action: 'finish', outcome: 'failed', deployment: state() }), { name: 'Cutover.Transient' });
    });
  });

  describe('awaitDatabaseDecision', () => {
    it('stores the task token and the question on the deployment record', async () => {
      const deployment: DeploymentState = {
        plan,
        snapshot: { taken: true, identifier: 'snap-1', createdAt: '2024-05-01T12:01:00.000Z' },
      };
      const out = await handler({ action: 'awaitDatabaseDecision', taskToken: 'token-123', deployment });
      assert.deepEqual(out, { waiting: true });
      const update = dynamoMock.commandCalls(UpdateCommand)[0]!.args[0].input;
      assert.deepEqual(update.Key, RECORD_KEY);
      assert.equal(update.UpdateExpression, 'SET pendingTaskToken = :t, pendingKind = :k, pendingQuestion = :q');
      assert.equal(update.ExpressionAttributeValues![':k'], 'database-decision');
      assert.equal(update.ExpressionAttributeValues![':t'], 'token-123');
      assert.match(update.ExpressionAttributeValues![':q'], /Restore snapshot snap-1 \(discards every write made since 2024-05-01T12:01:00\.000Z\)/);
    });

    it('an empty token is Cutover.InvalidInput', async () => {
      await assert.rejects(handler({ action: 'awaitDatabaseDecision', taskToken: '', deployment: { plan } }), { name: 'Cutover.InvalidInput' });
      assert.equal(dynamoMock.calls().length, 0);
    });
  });
  describe('awaitBake', () => {
    const traffic = { index: 0, percent: 10, bakeSeconds: 300, last: false, nextIndex: 1 };
    const alarms = (state: 'OK' | 'ALARM') => ({
      MetricAlarms: plan.alarms.map((name, i) => ({ AlarmName: name, StateValue: i === 0 ? state : 'OK', StateReason: 'Threshold Crossed: 1 datapoint [3.0] was >= 1.0' })),
    });

    it('stores the bake token on the record and on the lock (only while this execution holds it)', async () => {
      dynamoMock.on(UpdateCommand).resolves({});
      cloudWatchMock.on(DescribeAlarmsCommand).resolves(alarms('OK'));
      const out = await handler({ action: 'awaitBake', taskToken: 'bake-token', plan, traffic });
      assert.deepEqual(out, { waiting: true });
      const [record, lock] = dynamoMock.commandCalls(UpdateCommand).map((c) => c.args[0].input);
      assert.deepEqual(record!.Key, RECORD_KEY);
      assert.deepEqual(lock!.Key, { pk: 'LOCK#hello-world#production', sk: 'LOCK' });
      assert.equal(lock!.ConditionExpression, 'executionArn = :me');
      for (const u of [record!, lock!]) {
        assert.equal(u.ExpressionAttributeValues![':t'], 'bake-token');
        assert.equal(u.ExpressionAttributeValues![':k'], 'bake');
        assert.match(u.ExpressionAttributeValues![':q'], /baking at 10% for 300 s; an alarm rolls it back at once\. Promote now: SendTaskSuccess \{"action":"promote-now"/);
      }
      assert.equal(sfnMock.commandCalls(SendTaskFailureCommand).length, 0, 'no alarm: the bake runs');
    });

    it('fails its own token at once with Cutover.AlarmFiring when an alarm is already in ALARM', async () => {
      dynamoMock.on(UpdateCommand).resolves({});
      cloudWatchMock.on(DescribeAlarmsCommand).resolves(alarms('ALARM'));
      sfnMock.on(SendTaskFailureCommand).resolves({});
      const out = await handler({ action: 'awaitBake', taskToken: 'bake-token', plan, traffic });
      assert.deepEqual(out, { waiting: false, alarming: true });
      const failure = sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
      assert.equal(failure.taskToken, 'bake-token');
      assert.equal(failure.error, 'Cutover.AlarmFiring');
      assert.match(failure.cause!, new RegExp(`alarm ${plan.alarms[0]} is in ALARM as the bake at 10% starts: Threshold Crossed`));
    });

    it('keeps the record when the lock is no longer this execution\'s, and tolerates a token already closed', async () => {
      dynamoMock.on(UpdateCommand, { Key: { pk: 'LOCK#hello-world#production', sk: 'LOCK' } }).rejects(sdkError(ConditionalCheckFailedException));
      dynamoMock.on(UpdateCommand, { Key: RECORD_KEY }).resolves({});
      cloudWatchMock.on(DescribeAlarmsCommand).resolves(alarms('ALARM'));
      sfnMock.on(SendTaskFailureCommand).rejects(sdkError(TaskTimedOut));
      const out = await handler({ action: 'awaitBake', taskToken: 'bake-token', plan, traffic });
      assert.deepEqual(out, { waiting: false, alarming: true });
    });

    it('a bake without bake seconds is Cutover.InvalidInput, with nothing written', async () => {
      await assert.rejects(handler({ action: 'awaitBake', taskToken: 't', plan, traffic: { percent: 10 } }), { name: 'Cutover.InvalidInput' });
      assert.equal(dynamoMock.calls().length, 0);
    });
  });
});
