/**
 * The local Step Functions → Step Functions integration (lib/local/stepfunctions/nested.ts): a
 * parent state machine starts a child with `states:startExecution` (Request Response), `.sync`,
 * `.sync:2` — result shapes, the `States.TaskFailed` cause of a failed / timed-out / aborted child,
 * Name idempotency and ExecutionAlreadyExists, and stopping the child with its waiting parent —
 * and the twin's wiring of it (lib/local/twin.ts): catalog state machine ARNs and the index.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { LocalStepFunctions } from '../../lib/local/stepfunctions';
import { startExecutionPattern, startExecutionTask } from '../../lib/local/stepfunctions/nested';
import type { ExecutionDescription } from '../../lib/local/stepfunctions/service';
import { STATE_MACHINES } from '../../lib/catalog';
import { TABLE_NAME } from '../../lib/local/twin';
import { SERVICE, TestTwin } from '../helpers/twin';

const START = 'arn:aws:states:::states:startExecution';
const SYNC = 'arn:aws:states:::states:startExecution.sync';
const SYNC2 = 'arn:aws:states:::states:startExecution.sync:2';
/** Simulated seconds per real second: a 1-hour Wait takes 36 ms. */
const TIME_SCALE = 100_000;

/**
 * The child: `$.mode` picks what it does — `fail` (Fail state), `hang` (waits ~4 months, i.e. until
 * stopped), anything else succeeds with its input, execution name and a marker.
 */
const CHILD = {
  StartAt: 'Mode',
  States: {
    Mode: {
      Type: 'Choice',
      Choices: [
        { And: [{ Variable: '$.mode', IsPresent: true }, { Variable: '$.mode', StringEquals: 'fail' }], Next: 'Broke' },
        { And: [{ Variable: '$.mode', IsPresent: true }, { Variable: '$.mode', StringEquals: 'hang' }], Next: 'Hang' },
      ],
      Default: 'Work',
    },
    Work: { Type: 'Pass', Parameters: { 'echo.$': '$', 'name.$': '$$.Execution.Name', done: true }, End: true },
    Hang: { Type: 'Wait', Seconds: 10_000_000, Next: 'Work' },
    Broke: { Type: 'Fail', Error: 'Child.Broke', Cause: 'the child failed on purpose' },
  },
};

/** A child whose execution times out after 60 simulated seconds (it waits an hour). */
const SLOW_CHILD = { TimeoutSeconds: 60, StartAt: 'Slow', States: { Slow: { Type: 'Wait', Seconds: 3600, End: true } } };

/**
 * A parent with one Task `RunChild` (`resource`, `parameters`, extra Task fields); any error is
 * caught into `$.failure` and the parent still succeeds, so its output shows what the task saw.
 */
function parent(resource: string, parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    StartAt: 'RunChild',
    States: {
      RunChild: {
        Type: 'Task',
        Resource: resource,
        Parameters: parameters,
        ResultPath: '$.result',
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Caught' }],
        ...extra,
        End: true,
      },
      Caught: { Type: 'Pass', End: true },
    },
  };
}

let service: LocalStepFunctions | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

/** A service whose only task handlers are the nested integration; with the child state machines. */
function setup() {
  const svc: LocalStepFunctions = new LocalStepFunctions({ timeScale: TIME_SCALE, resolveTask: (resource) => startExecutionTask(resource, () => svc) });
  service = svc;
  const childArn = svc.createStateMachine({ name: 'child', definition: JSON.stringify(CHILD) }).stateMachineArn;
  const slowChildArn = svc.createStateMachine({ name: 'slow-child', definition: JSON.stringify(SLOW_CHILD) }).stateMachineArn;
  let parents = 0;
  /** Create a parent state machine and run it; resolves with its closed description and parsed output. */
  const run = async (definition: object, input: unknown = {}): Promise<{ result: ExecutionDescription; output: any; executionArn: string }> => {
    const { stateMachineArn } = svc.createStateMachine({ name: `parent-${++parents}`, definition: JSON.stringify(definition) });
    const { executionArn } = svc.startExecution({ stateMachineArn, input: JSON.stringify(input) });
    const result = await svc.waitForExecution(executionArn);
    return { result, output: result.output === undefined ? undefined : JSON.parse(result.output), executionArn };
  };
  return { svc, childArn, slowChildArn, run };
}

/** The ARN StartExecution gives an execution `name` of `stateMachineArn`. */
const executionArnOf = (stateMachineArn: string, name: string) => `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

/** Resolves when execution `executionArn` enters state `state` (subscribe before it can happen). */
function entered(svc: LocalStepFunctions, executionArn: string, state: string): Promise<void> {
  return new Promise((resolve) => {
    const off = svc.onHistoryEvent((arn, event) => {
      if (arn === executionArn && event.type?.endsWith('StateEntered') && event.stateEnteredEventDetails?.name === state) {
        off();
        resolve();
      }
    });
  });
}

describe('startExecutionPattern', () => {
  it('recognizes the four StartExecution resources in any partition, and nothing else', () => {
    assert.equal(startExecutionPattern(START), 'request-response');
    assert.equal(startExecutionPattern(SYNC), 'sync');
    assert.equal(startExecutionPattern(SYNC2), 'sync:2');
    assert.equal(startExecutionPattern('arn:aws:states:::states:startExecution.waitForTaskToken'), 'callback');
    assert.equal(startExecutionPattern('arn:aws-cn:states:::states:startExecution.sync:2'), 'sync:2');
    assert.equal(startExecutionPattern('arn:aws:states:::lambda:invoke'), undefined);
    assert.equal(startExecutionPattern('arn:aws:states:::states:startExecution.sync:3'), undefined);
    assert.equal(startExecutionTask('arn:aws:states:::aws-sdk:sfn:startExecution', {} as never), undefined);
  });
});

describe('states:startExecution.sync:2 and .sync', () => {
  it('.sync:2 waits for the child and returns its DescribeExecution with Input and Output parsed', async () => {
    // Prepare
    const { svc, childArn, run } = setup();

    // Act
    const { result, output } = await run(parent(SYNC2, { StateMachineArn: childArn, Name: 'child-sync2', 'Input.$': '$.forChild' }), { forChild: { release: 'v2' } });

    // Assess
    assert.equal(result.status, 'SUCCEEDED');
    assert.equal(output.failure, undefined);
    const child = svc.describeExecution({ executionArn: executionArnOf(childArn, 'child-sync2') });
    assert.equal(child.status, 'SUCCEEDED');
    assert.deepEqual(Object.keys(output.result), ['ExecutionArn', 'Input', 'InputDetails', 'Name', 'Output', 'OutputDetails', 'StartDate', 'StateMachineArn', 'Status', 'StopDate']);
    assert.deepEqual(output.result.Output, { echo: { release: 'v2' }, name: 'child-sync2', done: true });
    assert.deepEqual(output.result.Input, { release: 'v2' });
    assert.equal(output.result.ExecutionArn, child.executionArn);
    assert.equal(output.result.StateMachineArn, childArn);
    assert.equal(output.result.Name, 'child-sync2');
    assert.equal(output.result.Status, 'SUCCEEDED');
    assert.deepEqual(output.result.InputDetails, { Included: true });
    assert.deepEqual(output.result.OutputDetails, { Included: true });
    assert.equal(output.result.StartDate, child.startDate.getTime());
    assert.equal(output.result.StopDate, child.stopDate!.getTime());
  });

  it('.sync returns Input and Output as JSON strings, and a string Input is passed as is', async () => {
    const { childArn, run } = setup();

    const { output } = await run(parent(SYNC, { StateMachineArn: childArn, Name: 'child-sync', Input: '{"as":"text"}' }));

    assert.equal(output.result.Status, 'SUCCEEDED');
    assert.equal(output.result.Input, '{"as":"text"}');
    assert.equal(typeof output.result.Output, 'string');
    assert.deepEqual(JSON.parse(output.result.Output), { echo: { as: 'text' }, name: 'child-sync', done: true });
  });

  it('a failed child fails the task with States.TaskFailed; the cause is its DescribeExecution with Error and Cause', async () => {
    const { svc, childArn, run } = setup();

    const { result, output } = await run(parent(SYNC2, { StateMachineArn: childArn, Name: 'child-fails', Input: { mode: 'fail' } }));

    assert.equal(result.status, 'SUCCEEDED', 'the parent caught the failure');
    assert.equal(output.result, undefined);
    assert.equal(output.failure.Error, 'States.TaskFailed');
    const cause = JSON.parse(output.failure.Cause);
    assert.deepEqual(Object.keys(cause), ['Cause', 'Error', 'ExecutionArn', 'Input', 'InputDetails', 'Name', 'StartDate', 'StateMachineArn', 'Status', 'StopDate']);
    assert.equal(cause.Status, 'FAILED');
    assert.equal(cause.Error, 'Child.Broke');
    assert.equal(cause.Cause, 'the child failed on purpose');
    assert.equal(cause.ExecutionArn, executionArnOf(childArn, 'child-fails'));
    assert.deepEqual(cause.Input, { mode: 'fail' }, '.sync:2 parses Input in the cause too');
    assert.equal(svc.describeExecution({ executionArn: cause.ExecutionArn }).status, 'FAILED');
  });

  it('without a Catch, the parent fails with States.TaskFailed and the child description as cause', async () => {
    const { childArn, run } = setup();
    const definition = { StartAt: 'RunChild', States: { RunChild: { Type: 'Task', Resource: SYNC, Parameters: { StateMachineArn: childArn, Input: { mode: 'fail' } }, End: true } } };

    const { result } = await run(definition);

    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'States.TaskFailed');
    const cause = JSON.parse(result.cause!);
    assert.equal(cause.Status, 'FAILED');
    assert.equal(cause.Input, '{"mode":"fail"}', '.sync keeps Input a string');
  });

  it('a timed-out child fails the task with States.TaskFailed, Status TIMED_OUT and Error States.Timeout', async () => {
    const { slowChildArn, run } = setup();

    const { output } = await run(parent(SYNC2, { StateMachineArn: slowChildArn, Name: 'slow' }));

    assert.equal(output.failure.Error, 'States.TaskFailed');
    const cause = JSON.parse(output.failure.Cause);
    assert.equal(cause.Status, 'TIMED_OUT');
    assert.equal(cause.Error, 'States.Timeout');
    assert.deepEqual(cause.Input, {}, 'no Input starts the child with {}');
  });

  it('a child stopped by someone else fails the waiting task with States.TaskFailed, Status ABORTED', async () => {
    const { svc, childArn } = setup();
    const childExecution = executionArnOf(childArn, 'child-stopped');
    const childWaiting = entered(svc, childExecution, 'Hang');
    const { stateMachineArn } = svc.createStateMachine({ name: 'parent-stop-child', definition: JSON.stringify(parent(SYNC2, { StateMachineArn: childArn, Name: 'child-stopped', Input: { mode: 'hang' } })) });
    const { executionArn } = svc.startExecution({ stateMachineArn, input: '{}' });
    await childWaiting;

    svc.stopExecution({ executionArn: childExecution, error: 'Operator.Stop', cause: 'not needed any more' });
    const result = await svc.waitForExecution(executionArn);

    const output = JSON.parse(result.output!);
    assert.equal(output.failure.Error, 'States.TaskFailed');
    const cause = JSON.parse(output.failure.Cause);
    assert.equal(cause.Status, 'ABORTED');
    assert.equal(cause.Error, 'Operator.Stop');
    assert.equal(cause.Cause, 'not needed any more');
  });

  it('stopping the parent while it waits stops the child', async () => {
    const { svc, childArn } = setup();
    const childExecution = executionArnOf(childArn, 'child-of-stopped-parent');
    const childWaiting = entered(svc, childExecution, 'Hang');
    const { stateMachineArn } = svc.createStateMachine({ name: 'parent-stopped', definition: JSON.stringify(parent(SYNC, { StateMachineArn: childArn, Name: 'child-of-stopped-parent', Input: { mode: 'hang' } })) });
    const { executionArn } = svc.startExecution({ stateMachineArn, input: '{}' });
    await childWaiting;

    svc.stopExecution({ executionArn, cause: 'operator stopped the parent' });
    const parentResult = await svc.waitForExecution(executionArn);
    const child = svc.describeExecution({ executionArn: childExecution });

    assert.equal(parentResult.status, 'ABORTED');
    assert.equal(child.status, 'ABORTED');
    assert.match(child.cause ?? '', new RegExp(`parent execution ${executionArn} stopped waiting`));
  });

  it("the .sync task's TimeoutSeconds is simulated time; when it passes, the task times out and the child is stopped", async () => {
    const { svc, childArn, run } = setup();
    const started = Date.now();

    // 600 simulated seconds = 6 ms here; the child would wait ~4 months.
    const { output } = await run(parent(SYNC2, { StateMachineArn: childArn, Name: 'child-too-slow', Input: { mode: 'hang' } }, { TimeoutSeconds: 600 }));
    const child = svc.describeExecution({ executionArn: executionArnOf(childArn, 'child-too-slow') });

    assert.equal(output.failure.Error, 'States.Timeout');
    assert.equal(child.status, 'ABORTED');
    assert.ok(Date.now() - started < 5000, 'the timeout did not wait 600 real seconds');
  });
});

describe('states:startExecution (Request Response)', () => {
  it('returns ExecutionArn and StartDate at once; the child runs on its own with the serialized Input', async () => {
    const { svc, childArn, run } = setup();

    const { result, output } = await run(parent(START, { StateMachineArn: childArn, Name: 'fire-and-forget', 'Input.$': '$.forChild' }), { forChild: { n: 1, list: [1, 2] } });

    assert.equal(result.status, 'SUCCEEDED');
    const childExecution = executionArnOf(childArn, 'fire-and-forget');
    assert.equal(output.result.ExecutionArn, childExecution);
    assert.equal(typeof output.result.StartDate, 'number');
    assert.equal(output.result.SdkHttpMetadata.HttpStatusCode, 200);
    assert.equal(typeof output.result.SdkResponseMetadata.RequestId, 'string');
    assert.equal(output.result.Output, undefined, 'no waiting, no output');
    const child = await svc.waitForExecution(childExecution);
    assert.equal(child.status, 'SUCCEEDED');
    assert.equal(child.input, '{"n":1,"list":[1,2]}');
    assert.equal(output.result.StartDate, child.startDate.getTime());
  });

  it('is idempotent for the same Name and Input while the child runs: one child, the same ExecutionArn', async () => {
    const { svc, childArn, run } = setup();
    const params = { StateMachineArn: childArn, Name: 'only-once', Input: { mode: 'hang' } };
    const definition = {
      StartAt: 'Twice',
      States: {
        Twice: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'StartA', States: { StartA: { Type: 'Task', Resource: START, Parameters: params, End: true } } },
            { StartAt: 'StartB', States: { StartB: { Type: 'Task', Resource: START, Parameters: params, End: true } } },
          ],
          End: true,
        },
      },
    };

    const { result, output } = await run(definition);

    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.equal(output[0].ExecutionArn, executionArnOf(childArn, 'only-once'));
    assert.equal(output[1].ExecutionArn, output[0].ExecutionArn);
    assert.equal(svc.listExecutions({ stateMachineArn: childArn }).executions.length, 1);
  });

  it('fails with StepFunctions.ExecutionAlreadyExistsException for a closed name or other Input', async () => {
    const { svc, childArn, run } = setup();
    const first = await run(parent(START, { StateMachineArn: childArn, Name: 'taken', Input: { n: 1 } }));
    await svc.waitForExecution(first.output.result.ExecutionArn);

    const again = await run(parent(START, { StateMachineArn: childArn, Name: 'taken', Input: { n: 1 } }));

    assert.equal(again.output.failure.Error, 'StepFunctions.ExecutionAlreadyExistsException');
    assert.match(again.output.failure.Cause, /^Execution Already Exists: '.*:execution:child:taken' \(Service: AWSStepFunctions; Status Code: 400; Error Code: ExecutionAlreadyExists; Request ID: [0-9a-f-]{36}; Proxy: null\)$/);
    assert.equal(svc.listExecutions({ stateMachineArn: childArn }).executions.length, 1);

    // A running child of that name, started again with other input.
    const running = await run(parent(START, { StateMachineArn: childArn, Name: 'busy', Input: { mode: 'hang' } }));
    const other = await run(parent(START, { StateMachineArn: childArn, Name: 'busy', Input: { mode: 'hang', other: true } }));
    assert.equal(svc.describeExecution({ executionArn: running.output.result.ExecutionArn }).status, 'RUNNING');
    assert.equal(other.output.failure.Error, 'StepFunctions.ExecutionAlreadyExistsException');
  });

  it('reports other StartExecution errors the same way (StateMachineDoesNotExist)', async () => {
    const { childArn, run } = setup();

    const { output } = await run(parent(START, { StateMachineArn: childArn.replace(':child', ':no-such-machine') }));

    assert.equal(output.failure.Error, 'StepFunctions.StateMachineDoesNotExistException');
    assert.match(output.failure.Cause, /Error Code: StateMachineDoesNotExist;/);
  });

  it('rejects Parameters it does not support with States.Runtime', async () => {
    const { childArn, run } = setup();

    const { output } = await run(parent(START, { StateMachineArn: childArn, TraceHeader: 'x' }));

    assert.equal(output.failure.Error, 'States.Runtime');
    assert.match(output.failure.Cause, /'TraceHeader' are not supported/);
  });
});

describe('the twin runs nested executions of its state machines', () => {
  let t: TestTwin | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('serves every catalog state machine ARN, DynamoDB and the region in its index', async () => {
    t = await TestTwin.start();
    const twin = t.twin;

    const index = (await (await fetch(twin.url)).json()) as Record<string, any>;

    const expected = Object.fromEntries(STATE_MACHINES.map((sm) => [sm.name, `arn:aws:states:us-east-1:123456789012:stateMachine:cutover-${sm.name}`]));
    assert.deepEqual(index.stateMachineArns, expected);
    assert.deepEqual(index.stateMachines, Object.values(expected));
    assert.equal(index.region, 'us-east-1');
    assert.equal(index.dynamodb.tableName, TABLE_NAME);
    assert.match(index.dynamodb.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(twin.stateMachineArn('deploy'), twin.deployStateMachineArn);
    assert.deepEqual(twin.stateMachineArns, expected);
    assert.equal(twin.region, 'us-east-1');
    assert.deepEqual(twin.dynamodb, index.dynamodb);
    // The endpoint is the DynamoDB the ledger uses: ListTables through it names the ledger table.
    const dynamo = new DynamoDBClient({ endpoint: index.dynamodb.endpoint, region: index.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const tables = await dynamo.send(new ListTablesCommand({}));
    dynamo.destroy();
    assert.deepEqual(tables.TableNames, [TABLE_NAME]);
  });

  it('a Task with states:startExecution.sync:2 runs cutover-deploy as a child and sees its failure', async () => {
    t = await TestTwin.start();
    const sfn = t.twin.sfn;
    const deployArn = t.twin.stateMachineArn('deploy');
    const { stateMachineArn } = sfn.createStateMachine({
      name: 'nested-deploy-test',
      definition: JSON.stringify(parent(SYNC2, { StateMachineArn: deployArn, Name: 'nested-deploy', Input: { service: SERVICE } })),
    });

    const { executionArn } = sfn.startExecution({ stateMachineArn, input: '{}' });
    const result = await sfn.waitForExecution(executionArn);

    assert.equal(result.status, 'SUCCEEDED');
    const output = JSON.parse(result.output!);
    assert.equal(output.failure.Error, 'States.TaskFailed');
    const cause = JSON.parse(output.failure.Cause);
    assert.equal(cause.ExecutionArn, executionArnOf(deployArn, 'nested-deploy'));
    assert.equal(cause.Status, 'FAILED');
    assert.equal(cause.Error, 'Cutover.InvalidInput');
    assert.deepEqual(cause.Input, { service: SERVICE });
    assert.equal(sfn.describeExecution({ executionArn: cause.ExecutionArn }).error, 'Cutover.InvalidInput');
  });
});
