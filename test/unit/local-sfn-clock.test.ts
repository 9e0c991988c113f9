/**
 * The local Step Functions service on the twin's SimClock: Wait states, callback timeouts and the
 * execution's TimeoutSeconds are timers of the simulated clock (they wait for holds, `advance` brings
 * them forward), and an in-process handler holds the clock while it runs — except `.sync` tasks and a
 * callback task's wait for its token.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimClock } from '../../lib/local/clock';
import { LocalStepFunctions, type TaskHandler } from '../../lib/local/stepfunctions';

const LAMBDA = 'arn:aws:lambda:us-east-1:123456789012:function:work';
const CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const SYNC = 'arn:aws:states:::states:startExecution.sync:2';
const START = new Date('2026-04-01T00:00:00Z');

let service: LocalStepFunctions | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

function setup(clock: SimClock, definition: unknown, handlers: Record<string, TaskHandler>) {
  service = new LocalStepFunctions({ clock, resolveTask: (resource) => handlers[resource] });
  const { stateMachineArn } = service.createStateMachine({ name: 'clocked', definition: JSON.stringify(definition) });
  return { svc: service, stateMachineArn: stateMachineArn! };
}

/** Resolves once `check()` is true, looking every real millisecond (at most `ms`). */
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(1);
  }
}

describe('LocalStepFunctions on a SimClock', () => {
  it('ends a Wait state (Seconds) when simulated time reaches it: on a frozen clock only through advance', async () => {
    // Prepare
    const clock = new SimClock({ timeScale: 0, start: START });
    const { svc, stateMachineArn } = setup(clock, { StartAt: 'Pause', States: { Pause: { Type: 'Wait', Seconds: 30, End: true } } }, {});

    // Act
    const { executionArn } = svc.startExecution({ stateMachineArn, input: '{"a":1}' });
    await until(() => clock.nextTimerMs() !== undefined);
    clock.advance(29);
    await sleep(5);
    const before = svc.describeExecution({ executionArn }).status;
    clock.advance(1);
    const done = await svc.waitForExecution(executionArn);

    // Assess
    assert.equal(before, 'RUNNING', 'not before 30 simulated seconds');
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(done.output, '{"a":1}');
    const types = svc.getExecutionHistory({ executionArn }).events.map((e) => e.type);
    assert.deepEqual(types, ['ExecutionStarted', 'WaitStateEntered', 'WaitStateExited', 'ExecutionSucceeded']);
  });

  it('holds a Wait state while real work holds the clock', async () => {
    // Prepare: 5 simulated seconds = 5 real ms at ×1000.
    const clock = new SimClock({ timeScale: 1000, start: START });
    const { svc, stateMachineArn } = setup(clock, { StartAt: 'Pause', States: { Pause: { Type: 'Wait', Seconds: 5, End: true } } }, {});
    const release = clock.hold('a task process to listen');

    // Act
    const { executionArn } = svc.startExecution({ stateMachineArn });
    await sleep(30);
    const whileHeld = svc.describeExecution({ executionArn }).status;
    release();
    const done = await svc.waitForExecution(executionArn);

    // Assess
    assert.equal(whileHeld, 'RUNNING', '30 real ms (30 simulated s at the scale) passed, but all of it held');
    assert.equal(done.status, 'SUCCEEDED');
  });

  it('holds the clock while an in-process handler runs, not after', async () => {
    // Prepare: the handler takes ~20 real ms (20 simulated seconds at ×1000 if the clock ran).
    const clock = new SimClock({ timeScale: 1000, start: START });
    const seen: Array<{ start: number; end: number; heldDuring: boolean }> = [];
    const { svc, stateMachineArn } = setup(
      clock,
      { StartAt: 'Work', States: { Work: { Type: 'Task', Resource: LAMBDA, TimeoutSeconds: 1, End: true } } },
      {
        [LAMBDA]: async () => {
          const start = clock.nowMs();
          await sleep(20);
          seen.push({ start, end: clock.nowMs(), heldDuring: clock.held });
          return { ok: true };
        },
      },
    );

    // Act
    const done = await svc.waitForExecution(svc.startExecution({ stateMachineArn }).executionArn);

    // Assess: a 20 ms handler under a 1 s TimeoutSeconds at ×1000 (1 ms if scaled) succeeds.
    assert.equal(done.status, 'SUCCEEDED', done.cause);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.end, seen[0]!.start, 'no simulated time passed during the handler');
    assert.equal(seen[0]!.heldDuring, true);
    assert.equal(clock.held, false, 'released when the handler returned');
    assert.deepEqual(clock.holds(), []);
  });

  it("does not hold the clock while a callback task waits for its token: its TimeoutSeconds passes in simulated time", async () => {
    // Prepare
    const clock = new SimClock({ timeScale: 0, start: START });
    let delivered = false;
    const { svc, stateMachineArn } = setup(
      clock,
      {
        StartAt: 'Approve',
        States: { Approve: { Type: 'Task', Resource: CALLBACK, Parameters: { FunctionName: 'x', Payload: { 't.$': '$$.Task.Token' } }, TimeoutSeconds: 100, End: true } },
      },
      {
        [CALLBACK]: async () => {
          delivered = true;
          return { StatusCode: 200 };
        },
      },
    );

    // Act
    const { executionArn } = svc.startExecution({ stateMachineArn });
    await until(() => delivered && !clock.held);
    clock.advance(99);
    await sleep(5);
    const before = svc.describeExecution({ executionArn }).status;
    clock.advance(1);
    const done = await svc.waitForExecution(executionArn);

    // Assess
    assert.equal(before, 'RUNNING');
    assert.equal(done.status, 'FAILED');
    assert.equal(done.error, 'States.Timeout');
  });

  it('does not hold the clock for a .sync task (its child execution waits on the clock)', async () => {
    const clock = new SimClock({ timeScale: 0, start: START });
    let started = false;
    const { svc, stateMachineArn } = setup(
      clock,
      { StartAt: 'Child', States: { Child: { Type: 'Task', Resource: SYNC, Parameters: { StateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:x' }, TimeoutSeconds: 50, End: true } } },
      {
        [SYNC]: (_input, ctx) =>
          new Promise((_resolve, reject) => {
            started = true;
            ctx.signal.addEventListener('abort', () => reject(new Error('stopped')));
          }),
      },
    );

    const { executionArn } = svc.startExecution({ stateMachineArn });
    await until(() => started);
    const held = clock.held;
    clock.advance(50);
    const done = await svc.waitForExecution(executionArn);

    assert.equal(held, false);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.error, 'States.Timeout', 'the .sync TimeoutSeconds is simulated time');
  });

  it("times the execution's TimeoutSeconds on the clock: TIMED_OUT with ExecutionTimedOut", async () => {
    const clock = new SimClock({ timeScale: 0, start: START });
    const { svc, stateMachineArn } = setup(clock, { TimeoutSeconds: 60, StartAt: 'Long', States: { Long: { Type: 'Wait', Seconds: 3600, End: true } } }, {});

    const { executionArn } = svc.startExecution({ stateMachineArn });
    await until(() => clock.nextTimerMs() !== undefined);
    clock.advance(60);
    const done = await svc.waitForExecution(executionArn);

    assert.equal(done.status, 'TIMED_OUT');
    assert.equal(done.error, 'States.Timeout');
    const last = svc.getExecutionHistory({ executionArn, reverseOrder: true, maxResults: 1 }).events[0]!;
    assert.equal(last.type, 'ExecutionTimedOut');
  });
});
