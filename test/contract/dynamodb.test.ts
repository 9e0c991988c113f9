/**
 * Contract: the ledger (lib/aws/ledger.ts) on DynamoDB — conditional PutItem / UpdateItem / DeleteItem,
 * GetItem, Query — and the Step Functions DescribeExecution it asks about a lock's holder, on moto and
 * on the twin's DynamoDB (dynalite) and Step Functions service, with the same assertions.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { StopExecutionCommand } from '@aws-sdk/client-sfn';
import { dynamoDocClient, sfnClient } from '../../lib/aws/clients';
import { Ledger } from '../../lib/aws/ledger';
import { startExecutionByName } from '../../lib/aws/sfn';
import { DeploymentInProgressError } from '../../lib/domain/errors';
import type { DeploymentPlan } from '../../lib/domain/plan';
import { planFrom } from '../helpers/plans';
import { contract, rejectsWith } from './support/suite';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

contract('DynamoDB ledger (lib/aws/ledger.ts)', (ctx) => {
  let n = 0;
  /** A plan whose execution really runs on the backend (the ledger asks DescribeExecution about it). */
  const runningPlan = async (service: string): Promise<DeploymentPlan> => {
    const name = `ledger-${++n}`;
    const started = await startExecutionByName({ stateMachineArn: ctx.fx.stateMachineArn, name, input: {} });
    const plan = planFrom();
    return { ...plan, service, deploymentId: name, executionArn: started.executionArn, startedAt: later(n).toISOString() };
  };
  const ledger = () => new Ledger(ctx.fx.tableName);

  it('PutItem with a condition: the lock is taken once; another running execution is refused; the holder again is fine', async () => {
    const a = await runningPlan('svc-lock');
    const b = await runningPlan('svc-lock');
    const lock = await ledger().acquire(a, NOW);
    assert.equal(lock.executionArn, a.executionArn);
    assert.deepEqual(await ledger().getLock('svc-lock', a.environment), lock);
    await assert.rejects(ledger().takeLock('svc-lock', b.environment, { deploymentId: b.deploymentId, executionArn: b.executionArn, commit: 'b', purpose: 'deploy' }, NOW), DeploymentInProgressError);
    await ledger().acquire(a, later(1)); // a retried task of the holder
    assert.equal((await ledger().getLock('svc-lock', a.environment))?.executionArn, a.executionArn);
  });

  it('DescribeExecution + conditional PutItem: a lock whose holder stopped is reclaimed', async () => {
    const a = await runningPlan('svc-reclaim');
    const b = await runningPlan('svc-reclaim');
    await ledger().acquire(a, NOW);
    await sfnClient().send(new StopExecutionCommand({ executionArn: a.executionArn }));
    const taken = await ledger().takeLock('svc-reclaim', b.environment, { deploymentId: b.deploymentId, executionArn: b.executionArn, commit: 'b', purpose: 'deploy' }, later(5));
    assert.equal(taken.executionArn, b.executionArn);
    assert.equal(taken.reclaimedFrom, a.executionArn);
  });

  it('DeleteItem with a condition: only the holder releases the lock', async () => {
    const a = await runningPlan('svc-release');
    await ledger().acquire(a, NOW);
    await ledger().releaseLock('svc-release', a.environment, 'arn:aws:states:us-east-1:123456789012:execution:contract-callback:someone-else');
    assert.ok(await ledger().getLock('svc-release', a.environment), 'another execution cannot release it');
    await ledger().releaseLock('svc-release', a.environment, a.executionArn);
    assert.equal(await ledger().getLock('svc-release', a.environment), undefined);
    await ledger().releaseLock('svc-release', a.environment, a.executionArn); // twice is fine
  });

  it('PutItem attribute_not_exists on an existing item is ConditionalCheckFailedException', async () => {
    const item = { pk: 'CONTRACT#ccf', sk: 'X', v: 1 };
    await dynamoDocClient().send(new PutCommand({ TableName: ctx.fx.tableName, Item: item }));
    await rejectsWith(
      dynamoDocClient().send(new PutCommand({ TableName: ctx.fx.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })),
      'ConditionalCheckFailedException',
      ConditionalCheckFailedException,
    );
  });

  it('UpdateItem SET/REMOVE and Query newest first: pending waits, the outcome, the history', async () => {
    const a = await runningPlan('svc-record');
    await ledger().acquire(a, NOW);
    await ledger().setPending(a, 'bake', 'token-1', 'Bake 10%?', later(10), 300);
    let [record] = await ledger().history('svc-record', a.environment);
    assert.equal(record?.pendingTaskToken, 'token-1');
    assert.equal((record as Record<string, unknown> | undefined)?.pendingUntil, later(310).toISOString(), 'the record keeps the wait\'s bound');
    assert.equal((await ledger().getLock('svc-record', a.environment))?.pendingKind, 'bake');
    await ledger().setPending(a, 'approval', 'token-2', 'Promote?', later(20)); // no timeout: pendingUntil removed
    [record] = await ledger().history('svc-record', a.environment);
    assert.equal((record as Record<string, unknown> | undefined)?.pendingUntil, undefined);
    await ledger().finish(a, { status: 'failed', error: 'Cutover.AlarmFiring', message: 'rolled back', liveSlot: 'blue', deploymentId: a.deploymentId }, undefined, later(30));
    [record] = await ledger().history('svc-record', a.environment);
    assert.equal(record?.status, 'failed');
    assert.equal(record?.error, 'Cutover.AlarmFiring');
    assert.equal(record?.pendingTaskToken, undefined);
    assert.equal(await ledger().getLock('svc-record', a.environment), undefined);
    const b = await runningPlan('svc-record');
    await ledger().acquire(b, later(40));
    assert.deepEqual((await ledger().history('svc-record', a.environment)).map((r) => r.deploymentId), [b.deploymentId, a.deploymentId]);
  });

  it('PutItem / conditional UpdateItem on a map attribute: a promotion opens the rollback window, which closes once', async () => {
    const a = await runningPlan('svc-window');
    await ledger().acquire(a, NOW);
    await ledger().finish(a, { status: 'succeeded', error: null, message: 'live', liveSlot: 'green', deploymentId: a.deploymentId }, { slots: { live: 'blue', idle: 'green' } }, later(60));
    const env = await ledger().getEnvironment('svc-window', a.environment);
    assert.equal(env?.liveSlot, 'green');
    assert.equal(env?.current?.deploymentId, a.deploymentId);
    assert.equal(env?.rollbackWindow?.deploymentId, a.deploymentId);
    assert.equal(await ledger().closeRollbackWindow('svc-window', a.environment, 'another-deployment'), false);
    assert.equal(await ledger().closeRollbackWindow('svc-window', a.environment, a.deploymentId), true);
    assert.equal(await ledger().closeRollbackWindow('svc-window', a.environment, a.deploymentId), false);
    assert.equal((await ledger().getEnvironment('svc-window', a.environment))?.rollbackWindow, undefined);
  });

  it('Query with a FilterExpression and paging: the audit timeline, newest first, of one deployment', async () => {
    const base = { service: 'svc-audit', environment: 'production', actor: 'cutover', kind: 'waiting' as const };
    for (let i = 0; i < 5; i++) await ledger().audit({ ...base, at: later(i).toISOString(), deploymentId: i % 2 ? 'odd' : 'even', message: `event ${i}` }, `id${i}`);
    const all = await ledger().timeline('svc-audit', 'production');
    assert.deepEqual(all.map((e) => e.message), ['event 4', 'event 3', 'event 2', 'event 1', 'event 0']);
    const odd = await ledger().timeline('svc-audit', 'production', { deploymentId: 'odd' });
    assert.deepEqual(odd.map((e) => e.message), ['event 3', 'event 1']);
    assert.equal((await ledger().timeline('svc-audit', 'production', { limit: 2 })).length, 2);
  });

  it('conditional UpdateItem: an abort request reaches only the holder\'s lock', async () => {
    const a = await runningPlan('svc-abort');
    await ledger().acquire(a, NOW);
    const request = { by: 'operator', reason: 'test', at: later(1).toISOString() };
    assert.equal(await ledger().requestAbort('svc-abort', a.environment, 'arn:aws:states:us-east-1:123456789012:execution:contract-callback:other', request), false);
    assert.equal(await ledger().requestAbort('svc-abort', a.environment, a.executionArn, request), true);
    assert.deepEqual((await ledger().getLock('svc-abort', a.environment))?.abortRequested, request);
  });

  it('conditional UpdateItem on the pending wait and on a nested attribute: an approval lands only on its own wait, once, and only its own removal takes it back', async () => {
    const a = await runningPlan('svc-approval');
    await ledger().acquire(a, NOW);
    const approval = { id: 'ap-1', by: 'ada', callerArn: 'arn:aws:sts::123456789012:assumed-role/release-managers/ada', at: later(2).toISOString(), tokenHash: 'hash-a' };
    assert.equal(await ledger().recordApproval(a, 'token-a', approval), false, 'not waiting for an approval yet');
    await ledger().setPending(a, 'approval', 'token-a', 'Approve?', later(1), 300);
    assert.equal(await ledger().recordApproval(a, 'token-other', approval), false, 'another wait\'s token');
    assert.equal(await ledger().recordApproval(a, 'token-a', approval), true);
    assert.equal(await ledger().recordApproval(a, 'token-a', { ...approval, id: 'ap-2', by: 'grace' }), false, 'the first approval of a wait counts');
    assert.deepEqual((await ledger().getRecord(a))?.approval, approval);
    await ledger().removeApproval(a, 'ap-2');
    assert.deepEqual((await ledger().getRecord(a))?.approval, approval, 'another approval\'s removal leaves it');
    await ledger().setPending(a, 'approval', 'token-b', 'Approve again?', later(3), 300);
    assert.equal(await ledger().recordApproval(a, 'token-b', { ...approval, id: 'ap-3', tokenHash: 'hash-b' }), true, 'an earlier wait\'s approval does not block the next');
    await ledger().removeApproval(a, 'ap-3');
    assert.equal((await ledger().getRecord(a))?.approval, undefined);
  });
});
