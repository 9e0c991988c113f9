/**
 * Contract: CloudWatch Logs GetLogEvents as cutover calls it (lib/aws/logs.ts: the tail of a task
 * container's awslogs stream) — on moto and on the twin's simulator.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { GetLogEventsCommand, ResourceNotFoundException } from '@aws-sdk/client-cloudwatch-logs';
import { logsClient } from '../../lib/aws/clients';
import { readTaskLogTail } from '../../lib/aws/logs';
import { ACCOUNT, REGION } from './support/backends';
import { contract, rejectsWith } from './support/suite';

contract('CloudWatch Logs (lib/aws/logs.ts)', (ctx) => {
  const source = (taskId: string) => ({
    taskArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task/${ctx.fx.cluster}/${taskId}`,
    containerName: ctx.fx.container,
    logConfiguration: { logDriver: 'awslogs' as const, options: { 'awslogs-group': ctx.fx.logGroup, 'awslogs-region': REGION, 'awslogs-stream-prefix': ctx.fx.logPrefix } },
  });

  it('GetLogEvents: the tail of a task container\'s awslogs stream, oldest first', async () => {
    const tail = await readTaskLogTail(source(ctx.fx.loggedTaskId));
    assert.deepEqual(tail, {
      logGroupName: ctx.fx.logGroup,
      logStreamName: `${ctx.fx.logPrefix}/${ctx.fx.container}/${ctx.fx.loggedTaskId}`,
      lines: [...ctx.fx.logLines],
      text: ctx.fx.logLines.join('\n'),
      truncated: false,
    });
  });

  it('GetLogEvents: limit with startFromHead false gives the newest events', async () => {
    const tail = await readTaskLogTail(source(ctx.fx.loggedTaskId), { maxLines: 2 });
    assert.deepEqual(tail?.lines, ctx.fx.logLines.slice(-2));
  });

  it('GetLogEvents: the answer\'s shape (events with timestamp, message, ingestionTime; both tokens)', async () => {
    const out = await logsClient().send(
      new GetLogEventsCommand({ logGroupName: ctx.fx.logGroup, logStreamName: `${ctx.fx.logPrefix}/${ctx.fx.container}/${ctx.fx.loggedTaskId}`, startFromHead: true }),
    );
    assert.deepEqual(out.events?.map((e) => e.message), [...ctx.fx.logLines]);
    for (const e of out.events ?? []) {
      assert.equal(typeof e.timestamp, 'number');
      assert.equal(typeof e.ingestionTime, 'number');
    }
    assert.equal(typeof out.nextForwardToken, 'string');
    assert.equal(typeof out.nextBackwardToken, 'string');
  });

  it('GetLogEvents: an unknown stream or group is ResourceNotFoundException (the adapter: no tail)', async () => {
    assert.equal(await readTaskLogTail(source('ffffffffffffffffffffffffffffffff')), undefined);
    await rejectsWith(
      logsClient().send(new GetLogEventsCommand({ logGroupName: ctx.fx.logGroup, logStreamName: 'app/app/ffffffffffffffffffffffffffffffff' })),
      'ResourceNotFoundException',
      ResourceNotFoundException,
    );
    await rejectsWith(
      logsClient().send(new GetLogEventsCommand({ logGroupName: '/ecs/no-such-group', logStreamName: 'app/app/x' })),
      'ResourceNotFoundException',
      ResourceNotFoundException,
    );
  });
});
