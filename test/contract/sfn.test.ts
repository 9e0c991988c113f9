/**
 * Contract: Step Functions as cutover calls it — StartExecution by name (lib/aws/sfn.ts), DescribeExecution,
 * SendTaskSuccess / SendTaskFailure (lib/aws/task-tokens.ts) — on moto and on the twin's Step
 * Functions service (lib/local/stepfunctions over its HTTP API). moto does not run state machines
 * (an execution stays RUNNING and reaches no state): answers to a real task token are asserted on the
 * twin only, and moto accepts any token.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { sfnClient } from '../../lib/aws/clients';
import { startExecutionByName } from '../../lib/aws/sfn';
import { failTask, succeedTask } from '../../lib/aws/task-tokens';
import { ACCOUNT, REGION } from './support/backends';
import { contract, rejectsWith } from './support/suite';

contract('Step Functions (lib/aws/sfn.ts, lib/aws/task-tokens.ts)', (ctx) => {
  const describe = (executionArn: string) => sfnClient().send(new DescribeExecutionCommand({ executionArn }));

  it('StartExecution: a new execution by name; DescribeExecution shows it RUNNING with its input', async () => {
    const started = await startExecutionByName({ stateMachineArn: ctx.fx.stateMachineArn, name: 'delivery-1', input: { n: 1 } });
    assert.deepEqual(started, {
      executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:contract-callback:delivery-1`,
      name: 'delivery-1',
      alreadyStarted: false,
    });
    const d = await describe(started.executionArn);
    assert.equal(d.status, 'RUNNING');
    assert.equal(d.name, 'delivery-1');
    assert.equal(d.stateMachineArn, ctx.fx.stateMachineArn);
    assert.deepEqual(JSON.parse(d.input ?? 'null'), { n: 1 });
    assert.ok(d.startDate instanceof Date);
  });

  it('StartExecution: the same name with other input is ExecutionAlreadyExists (the adapter answers the existing execution)', async () => {
    await startExecutionByName({ stateMachineArn: ctx.fx.stateMachineArn, name: 'delivery-2', input: { n: 2 } });
    await rejectsWith(
      sfnClient().send(new StartExecutionCommand({ stateMachineArn: ctx.fx.stateMachineArn, name: 'delivery-2', input: '{"n":3}' })),
      'ExecutionAlreadyExists',
      ExecutionAlreadyExists,
    );
    const again = await startExecutionByName({ stateMachineArn: ctx.fx.stateMachineArn, name: 'delivery-2', input: { n: 3 } });
    assert.deepEqual(again, { executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:contract-callback:delivery-2`, name: 'delivery-2', alreadyStarted: true, status: 'RUNNING' });
  });

  it('StartExecution: the same name and input while it runs answers the running execution (idempotent)', {}, async () => {
    const first = await sfnClient().send(new StartExecutionCommand({ stateMachineArn: ctx.fx.stateMachineArn, name: 'delivery-3', input: '{"n":4}' }));
    const second = await sfnClient().send(new StartExecutionCommand({ stateMachineArn: ctx.fx.stateMachineArn, name: 'delivery-3', input: '{"n":4}' }));
    assert.equal(second.executionArn, first.executionArn);
    assert.equal(second.startDate?.getTime(), first.startDate?.getTime());
  });

  it('StartExecution: a closed execution\'s name is ExecutionAlreadyExists even with the same input', async () => {
    const s = await startExecutionByName({ stateMachineArn: ctx.fx.stateMachineArn, name: 'delivery-4', input: {} });
    await sfnClient().send(new StopExecutionCommand({ executionArn: s.executionArn, error: 'Contract.Stop', cause: 'test' }));
    assert.equal((await describe(s.executionArn)).status, 'ABORTED');
    await rejectsWith(sfnClient().send(new StartExecutionCommand({ stateMachineArn: ctx.fx.stateMachineArn, name: 'delivery-4', input: '{}' })), 'ExecutionAlreadyExists', ExecutionAlreadyExists);
    const again = await startExecutionByName({ stateMachineArn: ctx.fx.stateMachineArn, name: 'delivery-4', input: {} });
    assert.equal(again.alreadyStarted, true);
    assert.equal(again.status, 'ABORTED');
  });

  it('StartExecution / DescribeExecution: unknown state machine and execution are StateMachineDoesNotExist / ExecutionDoesNotExist', async () => {
    await rejectsWith(
      startExecutionByName({ stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:no-such-machine`, name: 'x', input: {} }),
      'StateMachineDoesNotExist',
      StateMachineDoesNotExist,
    );
    await rejectsWith(describe(`arn:aws:states:${REGION}:${ACCOUNT}:execution:contract-callback:no-such-execution`), 'ExecutionDoesNotExist', ExecutionDoesNotExist);
  });

  it('SendTaskSuccess / SendTaskFailure: a token no task has is closed (TaskDoesNotExist / InvalidToken), not an error', ctx.notOnMoto('accepts any task token'), async () => {
    assert.equal(await succeedTask('AAAAKgAAAAIAAAAAAAAAAcontract-unknown-token', { ok: true }), 'closed');
    assert.equal(await failTask('AAAAKgAAAAIAAAAAAAAAAcontract-unknown-token', 'Cutover.AlarmFiring', 'test'), 'closed');
  });

  it('SendTaskSuccess: answers the waiting state (the execution succeeds with the output); a second answer is closed', ctx.notOnMoto('runs no state machine, so no task token exists'), async () => {
    const s = await startExecutionByName({ stateMachineArn: ctx.fx.stateMachineArn, name: 'bake-1', input: {} });
    const token = await ctx.backend.taskToken(s.executionArn);
    assert.ok(token, 'the execution waits for its token');
    assert.equal(await succeedTask(token, { decision: 'promote' }), 'answered');
    let d = await describe(s.executionArn);
    for (let i = 0; i < 200 && d.status === 'RUNNING'; i++) {
      await new Promise((r) => setImmediate(r));
      d = await describe(s.executionArn);
    }
    assert.equal(d.status, 'SUCCEEDED');
    assert.deepEqual(JSON.parse(d.output ?? 'null'), { decision: 'promote' });
    assert.equal(await succeedTask(token, { decision: 'promote' }), 'closed');
  });

  it('SendTaskFailure: fails the waiting state with the error and cause', ctx.notOnMoto('runs no state machine, so no task token exists'), async () => {
    const s = await startExecutionByName({ stateMachineArn: ctx.fx.stateMachineArn, name: 'bake-2', input: {} });
    const token = await ctx.backend.taskToken(s.executionArn);
    assert.ok(token);
    assert.equal(await failTask(token, 'Cutover.AlarmFiring', 'contract-5xx is in ALARM'), 'answered');
    let d = await describe(s.executionArn);
    for (let i = 0; i < 200 && d.status === 'RUNNING'; i++) {
      await new Promise((r) => setImmediate(r));
      d = await describe(s.executionArn);
    }
    assert.equal(d.status, 'FAILED');
    assert.equal(d.error, 'Cutover.AlarmFiring');
    assert.equal(d.cause, 'contract-5xx is in ALARM');
  });
});
