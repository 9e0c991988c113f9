/**
 * The local Step Functions service on a clock far from the real time (the twin's simulated clock):
 * every date it reports — creation, start and stop dates, history timestamps, `$$.Execution.StartTime`
 * and `$$.State.EnteredTime` — is on that clock, so records made from them share the handlers'
 * timeline. Without a clock they stay real time.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimClock } from '../../lib/local/clock';
import { LocalStepFunctions, type TaskHandler } from '../../lib/local/stepfunctions';

const LAMBDA = 'arn:aws:lambda:us-east-1:123456789012:function:work';
/** Five years ahead of any real date this test runs on. */
const START = new Date(Date.now() + 5 * 365 * 86_400_000);
const YEAR_MS = 365 * 86_400_000;

let service: LocalStepFunctions | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

/** Pass → Task (records and returns its parameters) → Wait 120 s → Choice: `$$.Execution.StartTime` is still what the Task saw → Succeed. */
const DEFINITION = {
  StartAt: 'Begin',
  States: {
    Begin: { Type: 'Pass', Next: 'Work' },
    Work: {
      Type: 'Task',
      Resource: LAMBDA,
      Parameters: {
        'startTime.$': '$$.Execution.StartTime',
        'enteredTime.$': '$$.State.EnteredTime',
        'formatted.$': "States.Format('started {}', $$.Execution.StartTime)",
      },
      ResultPath: '$.work',
      Next: 'Pause',
    },
    Pause: { Type: 'Wait', Seconds: 120, Next: 'Check' },
    Check: {
      Type: 'Choice',
      Choices: [{ Variable: '$$.Execution.StartTime', TimestampGreaterThanPath: '$.work.startTime', Next: 'Wrong' }],
      Default: 'Done',
    },
    Wrong: { Type: 'Fail', Error: 'StartTimeChanged' },
    Done: { Type: 'Succeed' },
  },
};

describe('LocalStepFunctions dates', () => {
  it('on a clock years from now, start/stop dates, history timestamps, $$.Execution.StartTime and $$.State.EnteredTime follow the clock', async () => {
    // Prepare: ×1000, so the 120 s Wait takes 0.12 s.
    const clock = new SimClock({ timeScale: 1000, start: START });
    const seen: unknown[] = [];
    const work: TaskHandler = async (input) => {
      seen.push(input);
      return input;
    };
    service = new LocalStepFunctions({ clock, resolveTask: (resource) => (resource === LAMBDA ? work : undefined) });
    const machine = service.createStateMachine({ name: 'dated', definition: JSON.stringify(DEFINITION) });

    // Act
    const started = service.startExecution({ stateMachineArn: machine.stateMachineArn, input: '{}' });
    const done = await service.waitForExecution(started.executionArn);

    // Assess
    assert.equal(done.status, 'SUCCEEDED', `${done.error}: ${done.cause}`);
    const realNow = Date.now();
    // At ×1000 a real millisecond is a simulated second: "on the clock" means within the simulated hour after START.
    const onClock = (d: Date) => d.getTime() >= START.getTime() && d.getTime() < START.getTime() + 3_600_000;
    assert.ok(onClock(machine.creationDate), `creationDate ${machine.creationDate.toISOString()} is on the clock (${START.toISOString()})`);
    assert.ok(onClock(done.startDate) && done.startDate >= machine.creationDate, `startDate ${done.startDate.toISOString()} is on the clock`);
    assert.ok(done.startDate.getTime() - realNow > YEAR_MS, 'startDate is not the real time');
    assert.equal(started.startDate.getTime(), done.startDate.getTime());
    const stop = done.stopDate!.getTime();
    assert.ok(stop - done.startDate.getTime() >= 120_000, `the 120 s Wait is between start and stop (${(stop - done.startDate.getTime()) / 1000} s)`);
    assert.ok(stop - done.startDate.getTime() < 3_600_000, 'and not hours more');

    const events = service.getExecutionHistory({ executionArn: started.executionArn, maxResults: 1000 }).events;
    const times = events.map((e) => e.timestamp!.getTime());
    assert.equal(times[0], done.startDate.getTime(), 'ExecutionStarted is stamped with startDate');
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!, `history timestamps never go back (event ${events[i]!.id} ${events[i]!.type})`);
    assert.ok(times.every((t) => t >= done.startDate.getTime() && t <= stop + 1_000), 'every history timestamp lies between start and stop');
    const entered = events.find((e) => e.type === 'WaitStateEntered')!.timestamp!.getTime();
    const exited = events.find((e) => e.type === 'WaitStateExited')!.timestamp!.getTime();
    assert.ok(exited - entered >= 120_000, `the Wait state lasts 120 simulated seconds in the history (${(exited - entered) / 1000} s)`);

    const params = seen[0] as { startTime: string; enteredTime: string; formatted: string };
    assert.equal(params.startTime, done.startDate.toISOString(), '$$.Execution.StartTime is the execution startDate');
    assert.equal(params.formatted, `started ${done.startDate.toISOString()}`, 'also inside an intrinsic function');
    const enteredTime = Date.parse(params.enteredTime);
    assert.ok(enteredTime >= done.startDate.getTime() && enteredTime <= stop, `$$.State.EnteredTime ${params.enteredTime} is on the clock`);
  });

  it('a clock frozen at a date stamps everything with that date until it is advanced', async () => {
    // Prepare
    const clock = new SimClock({ timeScale: 0, start: START });
    service = new LocalStepFunctions({ clock, resolveTask: () => async () => ({}) });
    const { stateMachineArn } = service.createStateMachine({
      name: 'frozen',
      definition: JSON.stringify({ StartAt: 'Pause', States: { Pause: { Type: 'Wait', Seconds: 30, End: true } } }),
    });

    // Act
    const { executionArn, startDate } = service.startExecution({ stateMachineArn });
    while (clock.nextTimerMs() === undefined) await new Promise((r) => setTimeout(r, 1));
    clock.advance(30);
    const done = await service.waitForExecution(executionArn);

    // Assess
    assert.equal(startDate.getTime(), START.getTime());
    assert.equal(done.stopDate!.getTime(), START.getTime() + 30_000);
    const stamps = service.getExecutionHistory({ executionArn }).events.map((e) => [e.type, e.timestamp!.getTime() - START.getTime()]);
    assert.deepEqual(stamps, [
      ['ExecutionStarted', 0],
      ['WaitStateEntered', 0],
      ['WaitStateExited', 30_000],
      ['ExecutionSucceeded', 30_000],
    ]);
  });

  it('without a clock, dates are real time', async () => {
    // Prepare
    service = new LocalStepFunctions({ timeScale: 1000, resolveTask: () => async () => ({}) });
    const { stateMachineArn } = service.createStateMachine({ name: 'real', definition: JSON.stringify({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }) });
    const before = Date.now();

    // Act
    const { executionArn } = service.startExecution({ stateMachineArn });
    const done = await service.waitForExecution(executionArn);

    // Assess
    assert.ok(done.startDate.getTime() >= before && done.startDate.getTime() <= Date.now());
    assert.ok(done.stopDate!.getTime() >= done.startDate.getTime() && done.stopDate!.getTime() <= Date.now());
  });
});
