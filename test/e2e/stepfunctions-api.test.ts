/**
 * The twin's Step Functions JSON API through a real `@aws-sdk/client-sfn` SFNClient, as an operator's
 * script or the console would use it.
 */
import { sampleConfigJson } from '../helpers/twin';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  StartExecutionCommand,
  StopExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { parseConfig } from '../../lib/config';
import type { Twin } from '../../lib/local/twin';
import { outcome, sfnClientFor, startTwin } from '../helpers/http';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('e2e: Step Functions API through SFNClient', () => {
  let twin: Twin;
  let sfn: SFNClient;

  /** Poll DescribeExecution (as a script would) until the execution has closed. */
  const untilDone = async (executionArn: string, timeoutMs = 30_000): Promise<DescribeExecutionCommandOutput> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (d.status !== 'RUNNING') return d;
      if (Date.now() > deadline) throw new Error(`${executionArn} still RUNNING after ${timeoutMs} ms`);
      await sleep(25);
    }
  };

  /** Every history event of an execution, following nextToken. */
  const history = async (executionArn: string): Promise<HistoryEvent[]> => {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 100 }));
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return events;
  };

  before(async () => {
    // Snapshots take a simulated day, so an execution that takes one waits in WaitForSnapshot long
    // enough to be stopped. Migrations run only for releases that carry them (`when-changed`), so
    // the other executions here (releases without migrations) take no snapshot.
    const raw = sampleConfigJson() as unknown as { services: Record<string, { environments: Record<string, { database: { migration: Record<string, unknown> } }> }> };
    raw.services['hello-world']!.environments.production!.database.migration.run = 'when-changed';
    twin = await startTwin({ config: parseConfig(raw), simulator: { snapshotSeconds: 86_400 } });
    sfn = sfnClientFor(twin);
  });
  after(async () => {
    sfn?.destroy();
    await twin?.stop();
  });

  it('ListStateMachines lists the deploy state machine; DescribeStateMachine returns its substituted definition', async () => {
    const list = await sfn.send(new ListStateMachinesCommand({}));
    const deploy = list.stateMachines?.find((m) => m.stateMachineArn === twin.deployStateMachineArn);
    assert.ok(deploy, `deploy is not in ${JSON.stringify(list.stateMachines?.map((m) => m.stateMachineArn))}`);
    assert.equal(deploy.name, 'cutover-deploy');
    assert.equal(deploy.type, 'STANDARD');
    assert.ok(deploy.creationDate instanceof Date, 'creationDate is parsed as a Date (epoch seconds on the wire)');

    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: twin.deployStateMachineArn }));
    assert.equal(described.name, 'cutover-deploy');
    assert.equal(described.status, 'ACTIVE');
    const definition = JSON.parse(described.definition ?? '{}') as { StartAt: string; States: Record<string, { Resource?: string }> };
    assert.equal(definition.StartAt, 'Initialize');
    assert.match(definition.States.ResolvePlan!.Resource!, /^arn:aws:lambda:us-east-1:123456789012:function:/);
    assert.doesNotMatch(described.definition ?? '', /\$\{[A-Za-z]+\}/, 'no placeholder is left');
  });

  it('StartExecution of a console-style input → DescribeExecution until SUCCEEDED, listed, with a full history', async () => {
    const input = {
      service: 'hello-world',
      environment: 'production',
      release: { commit: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c', migrations: false, message: 'Console deploy' },
      trigger: { source: 'console', actor: 'operator@example.com' },
    };
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: twin.deployStateMachineArn, name: 'console-deploy-1', input: JSON.stringify(input) }),
    );
    assert.equal(started.executionArn, 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:console-deploy-1');
    assert.ok(started.startDate instanceof Date);

    const done = await untilDone(started.executionArn!);
    assert.equal(done.status, 'SUCCEEDED', outcome(twin, started.executionArn!));
    assert.deepEqual(JSON.parse(done.input!), input);
    const output = JSON.parse(done.output!) as { status: string; message: string };
    assert.equal(output.status, 'succeeded');
    assert.match(output.message, /^hello-world\/production: release 0d1a26e .*is live on (green|blue) with 100% of production traffic/);
    assert.ok(done.stopDate instanceof Date && done.stopDate >= done.startDate!);

    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: twin.deployStateMachineArn }));
    const item = listed.executions?.find((e) => e.executionArn === started.executionArn);
    assert.equal(item?.name, 'console-deploy-1');
    assert.equal(item?.status, 'SUCCEEDED');
    const succeeded = await sfn.send(new ListExecutionsCommand({ stateMachineArn: twin.deployStateMachineArn, statusFilter: 'SUCCEEDED' }));
    assert.deepEqual(succeeded.executions?.map((e) => e.name), ['console-deploy-1']);

    const events = await history(started.executionArn!);
    assert.equal(events[0]?.type, 'ExecutionStarted');
    assert.equal(events.at(-1)?.type, 'ExecutionSucceeded');
    assert.deepEqual(events.map((e) => e.id), events.map((_, i) => i + 1), 'event ids are 1..n in order');
    const entered = events.filter((e) => e.type === 'TaskStateEntered').map((e) => e.stateEnteredEventDetails?.name);
    assert.equal(entered[0], 'ResolvePlan');
    for (const state of ['AcquireLock', 'DeployGreen', 'ShiftTraffic', 'Promote']) assert.ok(entered.includes(state), `${state} entered`);
    assert.ok(!entered.includes('CreateSnapshot'), 'a release without migrations takes no snapshot');
  });

  it('an input with a bad field → FAILED with Cutover.InvalidInput and a cause that names the field', async () => {
    const started = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: twin.deployStateMachineArn,
        name: 'console-typo',
        input: JSON.stringify({ service: 'hello-world', environment: 'production', release: { commit: 'HEAD~1' } }),
      }),
    );
    const done = await untilDone(started.executionArn!);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.error, 'Cutover.InvalidInput');
    assert.match(done.cause ?? '', /release\.commit/);
    assert.match(done.cause ?? '', /git commit SHA/);

    const events = await history(started.executionArn!);
    const failed = events.at(-1);
    assert.equal(failed?.type, 'ExecutionFailed');
    assert.equal(failed?.executionFailedEventDetails?.error, 'Cutover.InvalidInput');
    assert.ok(!events.some((e) => e.stateEnteredEventDetails?.name === 'AcquireLock'), 'nothing past ResolvePlan ran');
  });

  it('StopExecution of a running execution → ABORTED, with ExecutionAborted last in its history', async () => {
    const started = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: twin.deployStateMachineArn,
        name: 'to-be-stopped',
        input: JSON.stringify({ service: 'hello-world', environment: 'production', release: { commit: '9f2c3b1', migrations: true } }),
      }),
    );
    const arn = started.executionArn!;
    // Wait (through the API) until it is waiting for its day-long snapshot.
    const deadline = Date.now() + 20_000;
    while (!(await history(arn)).some((e) => e.type === 'WaitStateEntered' && e.stateEnteredEventDetails?.name === 'WaitForSnapshot')) {
      assert.ok(Date.now() < deadline, 'the execution never reached WaitForSnapshot');
      await sleep(10);
    }
    assert.equal((await sfn.send(new DescribeExecutionCommand({ executionArn: arn }))).status, 'RUNNING');

    const stopped = await sfn.send(new StopExecutionCommand({ executionArn: arn, error: 'Operator.Stop', cause: 'stopped from the e2e test' }));
    assert.ok(stopped.stopDate instanceof Date);

    const done = await untilDone(arn);
    assert.equal(done.status, 'ABORTED');
    const events = await history(arn);
    assert.equal(events.at(-1)?.type, 'ExecutionAborted');
    assert.equal(events.at(-1)?.executionAbortedEventDetails?.error, 'Operator.Stop');
    const aborted = await sfn.send(new ListExecutionsCommand({ stateMachineArn: twin.deployStateMachineArn, statusFilter: 'ABORTED' }));
    assert.deepEqual(aborted.executions?.map((e) => e.name), ['to-be-stopped']);
  });
});
