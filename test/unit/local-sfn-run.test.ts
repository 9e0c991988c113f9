import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidDefinition, StateMachineAlreadyExists, type HistoryEvent } from '@aws-sdk/client-sfn';
import { LocalStepFunctions, type TaskHandler } from '../../lib/local/stepfunctions';

const FLAKY = 'arn:aws:lambda:us-east-1:123456789012:function:flaky';
const NOTIFY = 'arn:aws:states:::lambda:invoke';

/** Pass → Wait 300 s → Task (retried) → Choice → Succeed, or → Task that fails → Catch → Fail. */
const definition = {
  Comment: 'local runner test',
  StartAt: 'Init',
  States: {
    Init: {
      Type: 'Pass',
      Parameters: { 'request.$': '$', 'execution.$': '$$.Execution.Name', 'state.$': '$$.State.Name', 'machine.$': '$$.StateMachine.Name' },
      Next: 'Bake',
    },
    Bake: { Type: 'Wait', Seconds: 300, Next: 'CallFlaky' },
    CallFlaky: {
      Type: 'Task',
      Resource: FLAKY,
      ResultPath: '$.flaky',
      Retry: [{ ErrorEquals: ['Cutover.Transient'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 }],
      Next: 'ShouldBreak',
    },
    ShouldBreak: {
      Type: 'Choice',
      Choices: [{ Variable: '$.request.breakIt', BooleanEquals: true, Next: 'Break' }],
      Default: 'Done',
    },
    Break: {
      Type: 'Task',
      Resource: NOTIFY,
      Parameters: { FunctionName: 'breaker', 'Payload.$': '$.request' },
      ResultPath: '$.result',
      Catch: [{ ErrorEquals: ['Cutover.Broken'], ResultPath: '$.failure', Next: 'Failed' }],
      Next: 'Done',
    },
    Failed: { Type: 'Fail', Error: 'DeploymentFailed', CausePath: '$.failure.Cause' },
    Done: { Type: 'Succeed' },
  },
};

function named(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

let service: LocalStepFunctions | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

function setup(handlers: Record<string, TaskHandler>, timeScale = 100_000) {
  const calls: Array<{ resource: string; state: string; input: unknown }> = [];
  service = new LocalStepFunctions({
    timeScale,
    resolveTask: (resource, state) => {
      const handler = handlers[resource];
      return handler && (async (input, ctx) => {
        calls.push({ resource, state, input });
        return handler(input, ctx);
      });
    },
  });
  const { stateMachineArn } = service.createStateMachine({ name: 'runner-test', definition: JSON.stringify(definition) });
  return { svc: service, stateMachineArn: stateMachineArn!, calls };
}

function flakyTwice(): TaskHandler {
  let attempt = 0;
  return async () => {
    attempt += 1;
    if (attempt <= 2) throw named('Cutover.Transient', `throttled (attempt ${attempt})`);
    return { attempt };
  };
}

const types = (events: HistoryEvent[]) => events.map((e) => e.type);

describe('LocalStepFunctions runs ASL definitions', () => {
  it('runs Pass, a scaled Wait, a retried Task and a Choice to success', async () => {
    // Prepare
    const { svc, stateMachineArn, calls } = setup({ [FLAKY]: flakyTwice() });
    const started = Date.now();

    // Act
    const { executionArn } = svc.startExecution({ stateMachineArn, name: 'happy', input: JSON.stringify({ breakIt: false }) });
    const result = await svc.waitForExecution(executionArn!);

    // Assess
    assert.equal(result.status, 'SUCCEEDED');
    assert.ok(Date.now() - started < 2000, 'a 300 s wait at timeScale 100000 takes milliseconds');
    const output = JSON.parse(result.output!);
    assert.deepEqual(output.flaky, { attempt: 3 });
    assert.equal(output.execution, 'happy');
    assert.equal(output.state, 'Init');
    assert.equal(output.machine, 'runner-test');
    assert.equal(calls.length, 3);
    assert.ok(result.stopDate instanceof Date && result.startDate instanceof Date);

    const history = svc.getExecutionHistory({ executionArn: executionArn!, maxResults: 1000 }).events!;
    assert.deepEqual(
      history.map((e) => e.id),
      history.map((_, i) => i + 1),
    );
    assert.equal(history[0]!.type, 'ExecutionStarted');
    assert.equal(history[0]!.previousEventId, 0);
    assert.equal(history.at(-1)!.type, 'ExecutionSucceeded');
    const flaky = types(history).slice(types(history).indexOf('TaskStateEntered'), types(history).indexOf('TaskStateExited') + 1);
    assert.deepEqual(flaky, [
      'TaskStateEntered',
      'LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionFailed',
      'LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionFailed',
      'LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionSucceeded',
      'TaskStateExited',
    ]);
    const failures = history.filter((e) => e.type === 'LambdaFunctionFailed');
    assert.deepEqual(failures.map((e) => e.lambdaFunctionFailedEventDetails), [
      { error: 'Cutover.Transient', cause: 'throttled (attempt 1)' },
      { error: 'Cutover.Transient', cause: 'throttled (attempt 2)' },
    ]);
    for (const t of ['PassStateEntered', 'PassStateExited', 'WaitStateEntered', 'WaitStateExited', 'ChoiceStateEntered', 'SucceedStateEntered']) {
      assert.ok(types(history).includes(t as HistoryEvent['type']), `history has ${t}`);
    }
    assert.ok(history.every((e) => e.timestamp instanceof Date));
  });

  it('catches a task error into a Fail state whose CausePath reads the error', async () => {
    // Prepare
    const { svc, stateMachineArn } = setup({
      [FLAKY]: async () => ({ ok: true }),
      [NOTIFY]: async () => {
        throw named('Cutover.Broken', 'green never became healthy');
      },
    });

    // Act
    const { executionArn } = svc.startExecution({ stateMachineArn, input: JSON.stringify({ breakIt: true }) });
    const result = await svc.waitForExecution(executionArn!);

    // Assess
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'DeploymentFailed');
    assert.equal(result.cause, 'green never became healthy');
    const history = svc.getExecutionHistory({ executionArn: executionArn! }).events!;
    const failed = history.find((e) => e.type === 'TaskFailed');
    assert.deepEqual(failed?.taskFailedEventDetails, {
      resourceType: 'lambda',
      resource: 'invoke',
      error: 'Cutover.Broken',
      cause: 'green never became healthy',
    });
    const scheduled = history.find((e) => e.type === 'TaskScheduled');
    assert.deepEqual(JSON.parse(scheduled!.taskScheduledEventDetails!.parameters!), { FunctionName: 'breaker', Payload: { breakIt: true } });
    assert.deepEqual(types(history).slice(-2), ['FailStateEntered', 'ExecutionFailed']);
    assert.deepEqual(history.at(-1)!.executionFailedEventDetails, { error: 'DeploymentFailed', cause: 'green never became healthy' });
  });

  it('fails the execution with States.Runtime naming a resource nobody handles', async () => {
    // Prepare
    const { svc, stateMachineArn } = setup({});

    // Act
    const { executionArn } = svc.startExecution({ stateMachineArn });
    const result = await svc.waitForExecution(executionArn!);

    // Assess
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'States.Runtime');
    assert.match(result.cause!, /arn:aws:lambda:us-east-1:123456789012:function:flaky/);
  });

  it('times a handler task out after TimeoutSeconds of real time (handlers run in real time), and States.TaskFailed does not retry the timeout', async () => {
    // Prepare
    service = new LocalStepFunctions({ timeScale: 10_000, resolveTask: () => () => new Promise(() => {}) });
    const { stateMachineArn } = service.createStateMachine({
      name: 'slow',
      definition: JSON.stringify({
        StartAt: 'Slow',
        States: {
          Slow: {
            Type: 'Task',
            Resource: NOTIFY,
            TimeoutSeconds: 1,
            Retry: [{ ErrorEquals: ['States.TaskFailed'], MaxAttempts: 5 }],
            End: true,
          },
        },
      }),
    });

    // Act
    const started = Date.now();
    const { executionArn } = service.startExecution({ stateMachineArn: stateMachineArn! });
    const result = await service.waitForExecution(executionArn!);

    // Assess
    assert.ok(Date.now() - started >= 900, 'not scaled by the time scale');
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'States.Timeout');
    const history = service.getExecutionHistory({ executionArn: executionArn! }).events!;
    assert.equal(history.filter((e) => e.type === 'TaskScheduled').length, 1);
    assert.equal(history.filter((e) => e.type === 'TaskTimedOut').length, 1);
  });

  it('overrides Tasks inside Parallel branches and Map item processors', async () => {
    // Prepare
    service = new LocalStepFunctions({
      timeScale: 100_000,
      resolveTask: (resource, state) => async (input) => ({ state, resource, input }),
    });
    const { stateMachineArn } = service.createStateMachine({
      name: 'nested',
      definition: JSON.stringify({
        StartAt: 'Both',
        States: {
          Both: {
            Type: 'Parallel',
            Branches: [
              { StartAt: 'Left', States: { Left: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', End: true } } },
              {
                StartAt: 'Each',
                States: {
                  Each: {
                    Type: 'Map',
                    ItemsPath: '$.items',
                    ItemProcessor: { StartAt: 'Item', States: { Item: { Type: 'Task', Resource: 'arn:aws:states:::ecs:runTask.sync', End: true } } },
                    End: true,
                  },
                },
              },
            ],
            End: true,
          },
        },
      }),
    });

    // Act
    const { executionArn } = service.startExecution({ stateMachineArn: stateMachineArn!, input: JSON.stringify({ items: [1, 2] }) });
    const result = await service.waitForExecution(executionArn!);

    // Assess
    assert.equal(result.status, 'SUCCEEDED');
    const [left, each] = JSON.parse(result.output!);
    assert.equal(left.state, 'Left');
    assert.deepEqual(each.map((r: { state: string; input: unknown }) => [r.state, r.input]), [['Item', 1], ['Item', 2]]);
    const history = service.getExecutionHistory({ executionArn: executionArn!, maxResults: 1000 }).events!;
    assert.ok(types(history).includes('ParallelStateEntered'));
    assert.equal(history.filter((e) => e.type === 'MapIterationStarted').length, 2);
  });

  it('treats ResultPath "$" as replace and bracket ResultPaths as paths (library 3.0.0 does not)', async () => {
    // Prepare
    service = new LocalStepFunctions({
      timeScale: 100_000,
      resolveTask: () => async () => {
        throw named('Cutover.Nope', 'no');
      },
    });
    const { stateMachineArn } = service.createStateMachine({
      name: 'paths',
      definition: JSON.stringify({
        StartAt: 'Shape',
        States: {
          Shape: { Type: 'Pass', Parameters: { 'input.$': '$', progress: 0 }, ResultPath: '$', Next: 'Try' },
          Try: {
            Type: 'Task',
            Resource: NOTIFY,
            Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: "$['failure']", Next: 'Done' }],
            End: true,
          },
          Done: { Type: 'Succeed' },
        },
      }),
    });

    // Act
    const { executionArn } = service.startExecution({ stateMachineArn: stateMachineArn!, input: '{"a":1}' });
    const result = await service.waitForExecution(executionArn!);

    // Assess
    assert.deepEqual(JSON.parse(result.output!), { input: { a: 1 }, progress: 0, failure: { Error: 'Cutover.Nope', Cause: 'no' } });
    const history = service.getExecutionHistory({ executionArn: executionArn! }).events!;
    assert.deepEqual(types(history), [
      'ExecutionStarted', 'PassStateEntered', 'PassStateExited',
      'TaskStateEntered', 'TaskScheduled', 'TaskStarted', 'TaskFailed', 'TaskStateExited',
      'SucceedStateEntered', 'SucceedStateExited', 'ExecutionSucceeded',
    ]);
  });

  it('rejects an invalid definition with InvalidDefinition listing the problems', () => {
    service = new LocalStepFunctions({ resolveTask: () => undefined });
    const bad = { StartAt: 'A', States: { A: { Type: 'Wait', Seconds: 1, Next: 'Nowhere' } } };
    assert.throws(
      () => service!.createStateMachine({ name: 'bad', definition: JSON.stringify(bad) }),
      (err: unknown) => err instanceof InvalidDefinition && /Nowhere/.test(err.message),
    );
    const jsonata = { QueryLanguage: 'JSONata', StartAt: 'A', States: { A: { Type: 'Succeed' } } };
    assert.throws(
      () => service!.createStateMachine({ name: 'jsonata', definition: JSON.stringify(jsonata) }),
      (err: unknown) => err instanceof InvalidDefinition && /JSONata/.test(err.message),
    );
  });

  it('creates idempotently, and refuses the same name with another definition', () => {
    service = new LocalStepFunctions({ resolveTask: () => undefined });
    const text = JSON.stringify(definition);
    const first = service.createStateMachine({ name: 'twice', definition: text });
    assert.deepEqual(service.createStateMachine({ name: 'twice', definition: text }), first);
    assert.throws(
      () => service!.createStateMachine({ name: 'twice', definition: JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Succeed' } } }) }),
      StateMachineAlreadyExists,
    );
  });
});
