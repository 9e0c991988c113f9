import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidOutput, TaskDoesNotExist, TaskTimedOut } from '@aws-sdk/client-sfn';
import { LocalStepFunctions } from '../../lib/local/stepfunctions';

const CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

/** Two callback tasks in a row; each hands its token to the "operator" queue. */
const definition = (extra: Record<string, unknown> = {}) => ({
  StartAt: 'Approve',
  States: {
    Approve: {
      Type: 'Task',
      Resource: CALLBACK,
      Parameters: { FunctionName: 'ledger', Payload: { action: 'approve', 'taskToken.$': '$$.Task.Token', 'deployment.$': '$.id' } },
      ResultPath: '$.approval',
      TimeoutSeconds: 86_400,
      ...extra,
      Next: 'Confirm',
    },
    Confirm: {
      Type: 'Task',
      Resource: CALLBACK,
      Parameters: { FunctionName: 'ledger', Payload: { action: 'confirm', 'taskToken.$': '$$.Task.Token' } },
      ResultPath: '$.confirmation',
      End: true,
    },
  },
});

interface Delivered {
  state: string;
  token: string;
  payloadToken: unknown;
}

let service: LocalStepFunctions | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

/** A service whose callback handler queues each token; `next()` resolves with the next one delivered. */
function setup(extra?: Record<string, unknown>, timeScale = 1000) {
  const delivered: Delivered[] = [];
  const waiting: Array<(d: Delivered) => void> = [];
  service = new LocalStepFunctions({
    timeScale,
    resolveTask: (resource) =>
      resource === CALLBACK
        ? async (input, ctx) => {
            const d = { state: ctx.stateName, token: ctx.taskToken!, payloadToken: (input as { Payload: { taskToken: unknown } }).Payload.taskToken };
            const w = waiting.shift();
            if (w) w(d);
            else delivered.push(d);
            return { StatusCode: 200 };
          }
        : undefined,
  });
  const next = () => new Promise<Delivered>((resolve) => (delivered.length ? resolve(delivered.shift()!) : waiting.push(resolve)));
  const { stateMachineArn } = service.createStateMachine({ name: 'callbacks', definition: JSON.stringify(definition(extra)) });
  return { svc: service, stateMachineArn: stateMachineArn!, next };
}

describe('LocalStepFunctions .waitForTaskToken', () => {
  it('hands each task a fresh token and resumes on SendTaskSuccess with its output', async () => {
    // Prepare
    const { svc, stateMachineArn, next } = setup();
    const { executionArn } = svc.startExecution({ stateMachineArn, input: JSON.stringify({ id: 'd-1' }) });

    // Act
    const first = await next();
    assert.equal(svc.describeExecution({ executionArn: executionArn! }).status, 'RUNNING');
    svc.sendTaskSuccess({ taskToken: first.token, output: JSON.stringify({ decision: 'restore' }) });
    const second = await next();
    svc.sendTaskSuccess({ taskToken: second.token, output: '"yes"' });
    const result = await svc.waitForExecution(executionArn!);

    // Assess
    assert.equal(first.state, 'Approve');
    assert.equal(first.payloadToken, first.token, '$$.Task.Token in Parameters is the token the handler receives');
    assert.equal(second.payloadToken, second.token);
    assert.notEqual(first.token, second.token);
    assert.equal(result.status, 'SUCCEEDED');
    assert.deepEqual(JSON.parse(result.output!), { id: 'd-1', approval: { decision: 'restore' }, confirmation: 'yes' });
    const history = svc.getExecutionHistory({ executionArn: executionArn! }).events!;
    const approve = history.filter((e) => ['TaskScheduled', 'TaskStarted', 'TaskSubmitted', 'TaskSucceeded'].includes(e.type!)).slice(0, 4);
    assert.deepEqual(approve.map((e) => e.type), ['TaskScheduled', 'TaskStarted', 'TaskSubmitted', 'TaskSucceeded']);
    assert.equal(approve[0]!.taskScheduledEventDetails!.resource, 'invoke.waitForTaskToken');
    assert.equal(approve[0]!.taskScheduledEventDetails!.timeoutInSeconds, 86_400);
    assert.equal(approve[3]!.taskSucceededEventDetails!.output, '{"decision":"restore"}');

    // a token is single-use
    assert.throws(() => svc.sendTaskSuccess({ taskToken: first.token, output: '{}' }), TaskTimedOut);
  });

  it('fails the task with the error and cause given to SendTaskFailure', async () => {
    // Prepare
    const { svc, stateMachineArn, next } = setup();
    const { executionArn } = svc.startExecution({ stateMachineArn, input: '{"id":"d-2"}' });

    // Act
    const { token } = await next();
    svc.sendTaskFailure({ taskToken: token, error: 'Cutover.AlarmFired', cause: 'alarm web-5xx is ALARM' });
    const result = await svc.waitForExecution(executionArn!);

    // Assess
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.AlarmFired');
    assert.equal(result.cause, 'alarm web-5xx is ALARM');
    const failed = svc.getExecutionHistory({ executionArn: executionArn! }).events!.find((e) => e.type === 'TaskFailed');
    assert.deepEqual(failed?.taskFailedEventDetails, {
      resourceType: 'lambda',
      resource: 'invoke.waitForTaskToken',
      error: 'Cutover.AlarmFired',
      cause: 'alarm web-5xx is ALARM',
    });
  });

  it('answers unknown tokens with TaskDoesNotExist and bad output with InvalidOutput', async () => {
    const { svc, stateMachineArn, next } = setup();
    assert.throws(() => svc.sendTaskSuccess({ taskToken: 'AQnot-a-token-anyone-issued', output: '{}' }), TaskDoesNotExist);
    assert.throws(() => svc.sendTaskFailure({ taskToken: 'nope' }), TaskDoesNotExist);
    assert.throws(() => svc.sendTaskHeartbeat({ taskToken: 'nope' }), TaskDoesNotExist);

    svc.startExecution({ stateMachineArn, input: '{"id":"d-3"}' });
    const { token } = await next();
    assert.throws(() => svc.sendTaskSuccess({ taskToken: token, output: '{not json' }), InvalidOutput);
  });

  it('times out a task whose heartbeat stops, and keeps one alive that beats', async () => {
    // Prepare: HeartbeatSeconds 100 at timeScale 1000 = 100 ms real.
    const { svc, stateMachineArn, next } = setup({ HeartbeatSeconds: 100 });

    // Act: one execution beats every 30 ms for 300 ms, then succeeds; the other stays silent.
    const alive = svc.startExecution({ stateMachineArn, name: 'alive', input: '{"id":"a"}' }).executionArn!;
    const aliveTask = await next();
    const silent = svc.startExecution({ stateMachineArn, name: 'silent', input: '{"id":"s"}' }).executionArn!;
    await next();
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 30));
      svc.sendTaskHeartbeat({ taskToken: aliveTask.token });
    }
    svc.sendTaskSuccess({ taskToken: aliveTask.token, output: '{}' });
    const silentResult = await svc.waitForExecution(silent);

    // Assess
    assert.equal(silentResult.status, 'FAILED');
    assert.equal(silentResult.error, 'States.Timeout');
    assert.ok(svc.getExecutionHistory({ executionArn: silent }).events!.some((e) => e.type === 'TaskTimedOut'));
    const confirm = await next();
    assert.equal(confirm.state, 'Confirm');
    assert.equal(svc.describeExecution({ executionArn: alive }).status, 'RUNNING');
    svc.stopExecution({ executionArn: alive, error: 'Test.Done', cause: 'enough' });
    const aborted = await svc.waitForExecution(alive);
    assert.equal(aborted.status, 'ABORTED');
    assert.throws(() => svc.sendTaskSuccess({ taskToken: confirm.token, output: '{}' }), TaskTimedOut);
    const history = svc.getExecutionHistory({ executionArn: alive, reverseOrder: true, maxResults: 2 }).events!;
    assert.deepEqual(history.map((e) => e.type), ['ExecutionAborted', 'TaskStateAborted']);
    assert.deepEqual(history[0]!.executionAbortedEventDetails, { error: 'Test.Done', cause: 'enough' });
  });
  it('times a callback task out after TimeoutSecondsPath simulated seconds taken from the state input', async () => {
    // Prepare: the timeout comes from the input (bakeSeconds 200 at timeScale 1000 = 200 ms real).
    const { svc, stateMachineArn, next } = setup({ TimeoutSeconds: undefined, TimeoutSecondsPath: '$.bakeSeconds' });

    // Act
    const started = Date.now();
    const timed = svc.startExecution({ stateMachineArn, name: 'timed', input: '{"id":"t","bakeSeconds":200}' }).executionArn!;
    const task = await next();
    const result = await svc.waitForExecution(timed);
    const elapsed = Date.now() - started;
    const bad = svc.startExecution({ stateMachineArn, name: 'bad', input: '{"id":"b","bakeSeconds":"soon"}' }).executionArn!;
    const badResult = await svc.waitForExecution(bad);

    // Assess: the handler saw its own parameters only; the timeout fired in simulated time.
    assert.equal(task.payloadToken, task.token);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'States.Timeout');
    assert.ok(elapsed >= 190 && elapsed < 5000, `timed out after ${elapsed} ms real`);
    const scheduled = svc.getExecutionHistory({ executionArn: timed }).events!.find((e) => e.type === 'TaskScheduled');
    assert.ok(!scheduled!.taskScheduledEventDetails!.parameters!.includes('__cutover'), 'history shows the parameters as written');
    assert.equal(badResult.status, 'FAILED');
    assert.equal(badResult.error, 'States.Runtime');
    assert.match(badResult.cause ?? '', /TimeoutSecondsPath '\$\.bakeSeconds' must select a positive integer/);
  });
});
