/**
 * lib/aws/sfn.ts — starting executions by name, idempotently (StartExecution; DescribeExecution when
 * the name exists), as the webhook, the alarm function and the CLI do. SDK mocked.
 */
import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeExecutionCommand, ExecutionAlreadyExists, StartExecutionCommand, StateMachineDoesNotExist } from '@aws-sdk/client-sfn';
import { resetSdkMocks, sdkError, sfnMock, throttlingError } from '../helpers/sdk-mocks';
import { executionName, startExecutionByName } from '../../lib/aws/sfn';

const SM = 'arn:aws:states:us-east-1:123456789012:stateMachine:cutover-rollback';
const ARN = 'arn:aws:states:us-east-1:123456789012:execution:cutover-rollback:alarm-1';

describe('startExecutionByName', () => {
  beforeEach(() => resetSdkMocks());

  it('starts a new execution with the name and the input as JSON', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: ARN, startDate: new Date(0) });
    const out = await startExecutionByName({ stateMachineArn: SM, name: 'alarm-1', input: { service: 's' } });
    assert.deepEqual(out, { executionArn: ARN, name: 'alarm-1', alreadyStarted: false });
    assert.deepEqual(sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input, { stateMachineArn: SM, name: 'alarm-1', input: '{"service":"s"}' });
    assert.equal(sfnMock.commandCalls(DescribeExecutionCommand).length, 0);
  });

  it('a name that exists (a retry, a redelivery): answers that execution and its status, starts nothing', async () => {
    sfnMock.on(StartExecutionCommand).rejects(sdkError(ExecutionAlreadyExists, 'Execution Already Exists'));
    sfnMock.on(DescribeExecutionCommand).resolves({ executionArn: ARN, status: 'SUCCEEDED', stateMachineArn: SM, startDate: new Date(0) });
    const out = await startExecutionByName({ stateMachineArn: SM, name: 'alarm-1', input: {} });
    assert.deepEqual(out, { executionArn: ARN, name: 'alarm-1', alreadyStarted: true, status: 'SUCCEEDED' });
    assert.equal(sfnMock.commandCalls(DescribeExecutionCommand)[0]!.args[0].input.executionArn, ARN);
  });

  it('throttling is Cutover.Transient (the caller retries); other errors pass unchanged', async () => {
    sfnMock.on(StartExecutionCommand).rejects(throttlingError('sfn'));
    await assert.rejects(startExecutionByName({ stateMachineArn: SM, name: 'a', input: {} }), { name: 'Cutover.Transient' });
    sfnMock.on(StartExecutionCommand).rejects(sdkError(StateMachineDoesNotExist, 'State Machine Does Not Exist'));
    await assert.rejects(startExecutionByName({ stateMachineArn: SM, name: 'a', input: {} }), { name: 'StateMachineDoesNotExist' });
  });

  it('refuses a name Step Functions would refuse, before calling it', async () => {
    await assert.rejects(startExecutionByName({ stateMachineArn: SM, name: 'has space', input: {} }), /name "has space" is not 1-80 characters/);
    await assert.rejects(startExecutionByName({ stateMachineArn: SM, name: 'x'.repeat(81), input: {} }), /not 1-80 characters/);
    assert.equal(sfnMock.calls().length, 0);
  });

  it('executionName makes a valid name of any text', () => {
    assert.equal(executionName('alarm-c4c1c1c9:6542/e61b 6ef0'), 'alarm-c4c1c1c9-6542-e61b-6ef0');
    assert.equal(executionName('y'.repeat(100)).length, 80);
    assert.throws(() => executionName(''), /empty execution name/);
  });
});
