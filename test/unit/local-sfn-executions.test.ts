import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ExecutionAlreadyExists,
  InvalidArn,
  InvalidExecutionInput,
  InvalidName,
  StateMachineDoesNotExist,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { LocalStepFunctions, type TaskHandler } from '../../lib/local/stepfunctions';

const HOLD = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const holding = JSON.stringify({
  StartAt: 'Hold',
  States: { Hold: { Type: 'Task', Resource: HOLD, Parameters: { 'token.$': '$$.Task.Token' }, End: true } },
});

let service: LocalStepFunctions | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

function create(definition: string, options: { timeScale?: number; handler?: TaskHandler; clock?: { realMs(s: number): number; now(): Date } } = {}) {
  const tokens: string[] = [];
  service = new LocalStepFunctions({
    timeScale: options.timeScale ?? 100_000,
    clock: options.clock,
    resolveTask: () =>
      options.handler ??
      (async (_input, ctx) => {
        tokens.push(ctx.taskToken!);
        return {};
      }),
  });
  const { stateMachineArn } = service.createStateMachine({ name: 'machine', definition });
  return { svc: service, stateMachineArn: stateMachineArn!, tokens };
}

describe('LocalStepFunctions StartExecution semantics', () => {
  it('is idempotent for the same name and input while running, and refuses otherwise', async () => {
    // Prepare
    const { svc, stateMachineArn, tokens } = create(holding);
    const first = svc.startExecution({ stateMachineArn, name: 'deploy-1', input: '{"a":1}' });

    // Act / Assess
    assert.deepEqual(svc.startExecution({ stateMachineArn, name: 'deploy-1', input: '{"a":1}' }), first);
    assert.throws(() => svc.startExecution({ stateMachineArn, name: 'deploy-1', input: '{"a":2}' }), ExecutionAlreadyExists);
    assert.equal(svc.listExecutions({ stateMachineArn }).executions!.length, 1);

    while (tokens.length === 0) await new Promise((r) => setImmediate(r));
    svc.sendTaskSuccess({ taskToken: tokens[0]!, output: '{}' });
    await svc.waitForExecution(first.executionArn!);
    assert.throws(() => svc.startExecution({ stateMachineArn, name: 'deploy-1', input: '{"a":1}' }), ExecutionAlreadyExists);
  });

  it('validates names, input and ARNs like Step Functions', () => {
    const { svc, stateMachineArn } = create(holding);
    for (const name of ['', 'has space', 'colon:name', 'x'.repeat(81), 'slash/name', 'tab\tname']) {
      assert.throws(() => svc.startExecution({ stateMachineArn, name }), InvalidName, JSON.stringify(name));
    }
    assert.doesNotThrow(() => svc.startExecution({ stateMachineArn, name: 'ok-Name_1.2' }));
    assert.throws(() => svc.startExecution({ stateMachineArn, input: '{not json' }), InvalidExecutionInput);
    assert.throws(() => svc.startExecution({ stateMachineArn, input: JSON.stringify({ big: 'x'.repeat(256 * 1024) }) }), InvalidExecutionInput);
    assert.throws(() => svc.startExecution({ stateMachineArn: `${stateMachineArn}-gone` }), StateMachineDoesNotExist);
    assert.throws(() => svc.startExecution({ stateMachineArn: 'deploy' }), InvalidArn);
    assert.throws(() => svc.describeExecution({ executionArn: stateMachineArn }), InvalidArn);
    assert.match(svc.startExecution({ stateMachineArn }).executionArn!, /:execution:machine:[0-9a-f-]{36}$/);
  });

  it('scales SecondsPath and Timestamp waits and exposes the context object', async () => {
    // Prepare: a clock at a fixed simulated "now", 1 simulated hour per real millisecond.
    const simNow = new Date('2030-01-01T00:00:00Z');
    const { svc, stateMachineArn } = create(
      JSON.stringify({
        StartAt: 'ByPath',
        States: {
          ByPath: { Type: 'Wait', SecondsPath: '$.bake', Next: 'Until' },
          Until: { Type: 'Wait', TimestampPath: '$.until', Next: 'Context' },
          Context: {
            Type: 'Pass',
            Parameters: {
              'id.$': '$$.Execution.Id',
              'start.$': '$$.Execution.StartTime',
              'role.$': '$$.Execution.RoleArn',
              'machine.$': '$$.StateMachine.Id',
              'state.$': '$$.State.Name',
              'entered.$': '$$.State.EnteredTime',
              'greeting.$': "States.Format('hello from {}', $$.State.Name)",
            },
            End: true,
          },
        },
      }),
      { clock: { realMs: (s) => s / 3600, now: () => simNow } },
    );
    const seen: HistoryEvent[] = [];
    const unsubscribe = svc.onHistoryEvent((_arn, e) => seen.push(e));
    const started = Date.now();

    // Act
    const { executionArn } = svc.startExecution({
      stateMachineArn,
      input: JSON.stringify({ bake: 3600, until: '2030-01-01T02:00:00Z' }),
    });
    const result = await svc.waitForExecution(executionArn!);
    unsubscribe();

    // Assess
    assert.equal(result.status, 'SUCCEEDED', result.cause);
    assert.ok(Date.now() - started < 1000);
    const out = JSON.parse(result.output!);
    assert.equal(out.id, executionArn);
    assert.equal(out.machine, stateMachineArn);
    assert.equal(out.role, 'arn:aws:iam::123456789012:role/cutover-local-stepfunctions');
    assert.equal(out.state, 'Context');
    assert.equal(out.greeting, 'hello from Context');
    assert.ok(!Number.isNaN(Date.parse(out.start)) && !Number.isNaN(Date.parse(out.entered)));
    const history = svc.getExecutionHistory({ executionArn: executionArn! }).events!;
    assert.deepEqual(seen.map((e) => e.id), history.map((e) => e.id), 'the listener saw every event');
    assert.deepEqual(
      history.filter((e) => e.type!.startsWith('Wait')).map((e) => e.type),
      ['WaitStateEntered', 'WaitStateExited', 'WaitStateEntered', 'WaitStateExited'],
    );
  });

  it('times out an execution after its TimeoutSeconds (scaled)', async () => {
    const { svc, stateMachineArn } = create(
      JSON.stringify({ TimeoutSeconds: 1000, StartAt: 'Long', States: { Long: { Type: 'Wait', Seconds: 100_000, End: true } } }),
      { timeScale: 20_000 },
    );
    const { executionArn } = svc.startExecution({ stateMachineArn });
    const result = await svc.waitForExecution(executionArn!);
    assert.equal(result.status, 'TIMED_OUT');
    const last = svc.getExecutionHistory({ executionArn: executionArn!, reverseOrder: true, maxResults: 1 }).events![0]!;
    assert.equal(last.type, 'ExecutionTimedOut');
  });

  it('aborts an execution stopped before it began', async () => {
    const { svc, stateMachineArn, tokens } = create(holding);
    const { executionArn } = svc.startExecution({ stateMachineArn });
    svc.stopExecution({ executionArn: executionArn! });
    const result = await svc.waitForExecution(executionArn!);
    assert.equal(result.status, 'ABORTED');
    assert.deepEqual(tokens, [], 'no task ran');
    assert.deepEqual(svc.getExecutionHistory({ executionArn: executionArn! }).events!.map((e) => e.type), ['ExecutionStarted', 'ExecutionAborted']);
  });
});
