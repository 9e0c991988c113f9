import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  InvalidArn,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  TaskDoesNotExist,
} from '@aws-sdk/client-sfn';
import { LocalStepFunctions, handleStepFunctionsRequest, isStepFunctionsRequest } from '../../lib/local/stepfunctions';

const CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const definition = JSON.stringify({
  StartAt: 'Wait',
  States: {
    Wait: { Type: 'Wait', Seconds: 60, Next: 'Approve' },
    Approve: {
      Type: 'Task',
      Resource: CALLBACK,
      Parameters: { FunctionName: 'ledger', Payload: { 'token.$': '$$.Task.Token', 'id.$': '$.id' } },
      End: true,
    },
  },
});

describe('Step Functions JSON API through a real SFNClient', () => {
  const tokens = new Map<string, string>(); // deployment id → task token
  const waiters = new Map<string, () => void>();
  let service: LocalStepFunctions;
  let server: Server;
  let client: SFNClient;

  const tokenFor = (id: string) =>
    tokens.has(id) ? Promise.resolve(tokens.get(id)!) : new Promise<string>((resolve) => waiters.set(id, () => resolve(tokens.get(id)!)));

  before(async () => {
    service = new LocalStepFunctions({
      timeScale: 100_000,
      resolveTask: () => async (input) => {
        const { token, id } = (input as { Payload: { token: string; id: string } }).Payload;
        tokens.set(id, token);
        waiters.get(id)?.();
        return {};
      },
    });
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (!isStepFunctionsRequest(req.headers)) {
          res.writeHead(404).end();
          return;
        }
        void handleStepFunctionsRequest(service, String(req.headers['x-amz-target']), Buffer.concat(chunks).toString('utf8')).then((r) => {
          res.writeHead(r.statusCode, r.headers).end(r.body);
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new SFNClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' },
      maxAttempts: 1,
    });
  });

  after(async () => {
    client.destroy();
    await service.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('creates, lists and describes state machines', async () => {
    const created = await client.send(new CreateStateMachineCommand({ name: 'deploy', definition, roleArn: 'arn:aws:iam::123456789012:role/sfn' }));
    assert.equal(created.stateMachineArn, 'arn:aws:states:us-east-1:123456789012:stateMachine:deploy');
    assert.ok(created.creationDate instanceof Date);

    const listed = await client.send(new ListStateMachinesCommand({}));
    assert.deepEqual(listed.stateMachines?.map((m) => [m.name, m.type]), [['deploy', 'STANDARD']]);

    const described = await client.send(new DescribeStateMachineCommand({ stateMachineArn: created.stateMachineArn }));
    assert.equal(described.definition, definition);
    assert.equal(described.roleArn, 'arn:aws:iam::123456789012:role/sfn');
    assert.equal(described.status, 'ACTIVE');
  });

  it('runs an execution to completion with SendTaskSuccess and reads its history', async () => {
    const stateMachineArn = 'arn:aws:states:us-east-1:123456789012:stateMachine:deploy';
    const started = await client.send(new StartExecutionCommand({ stateMachineArn, name: 'release-42', input: '{"id":"r42"}' }));
    assert.equal(started.executionArn, 'arn:aws:states:us-east-1:123456789012:execution:deploy:release-42');
    assert.ok(started.startDate instanceof Date);

    const again = await client.send(new StartExecutionCommand({ stateMachineArn, name: 'release-42', input: '{"id":"r42"}' }));
    assert.deepEqual([again.executionArn, again.startDate?.getTime()], [started.executionArn, started.startDate?.getTime()]);

    const running = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    assert.equal(running.status, 'RUNNING');
    assert.equal(running.input, '{"id":"r42"}');

    await client.send(new SendTaskSuccessCommand({ taskToken: await tokenFor('r42'), output: '{"approved":true}' }));
    await service.waitForExecution(started.executionArn!);

    const done = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(done.output, '{"approved":true}');
    assert.ok(done.stopDate instanceof Date && done.stopDate.getTime() >= done.startDate!.getTime());

    const page1 = await client.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn, maxResults: 3 }));
    assert.deepEqual(page1.events?.map((e) => e.type), ['ExecutionStarted', 'WaitStateEntered', 'WaitStateExited']);
    assert.ok(page1.events![0]!.timestamp instanceof Date);
    assert.ok(page1.nextToken);
    const page2 = await client.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn, maxResults: 100, nextToken: page1.nextToken }));
    assert.equal(page2.nextToken, undefined);
    assert.equal(page2.events?.[0]?.id, 4);
    assert.equal(page2.events?.at(-1)?.type, 'ExecutionSucceeded');
    const latest = await client.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn, reverseOrder: true, maxResults: 1, includeExecutionData: false }));
    assert.deepEqual(latest.events?.[0]?.executionSucceededEventDetails, {});

    await assert.rejects(
      client.send(new StartExecutionCommand({ stateMachineArn, name: 'release-42', input: '{"id":"r42"}' })),
      ExecutionAlreadyExists,
    );
  });

  it('stops an execution and lists executions newest first, filtered and paginated', async () => {
    const stateMachineArn = 'arn:aws:states:us-east-1:123456789012:stateMachine:deploy';
    const a = await client.send(new StartExecutionCommand({ stateMachineArn, name: 'release-43', input: '{"id":"r43"}' }));
    const b = await client.send(new StartExecutionCommand({ stateMachineArn, name: 'release-44', input: '{"id":"r44"}' }));
    await tokenFor('r43');

    const stopped = await client.send(new StopExecutionCommand({ executionArn: a.executionArn, error: 'Operator.Cancelled', cause: 'wrong build' }));
    assert.ok(stopped.stopDate instanceof Date);
    const aborted = await client.send(new DescribeExecutionCommand({ executionArn: a.executionArn }));
    assert.deepEqual([aborted.status, aborted.error, aborted.cause], ['ABORTED', 'Operator.Cancelled', 'wrong build']);

    const all = await client.send(new ListExecutionsCommand({ stateMachineArn }));
    assert.deepEqual(all.executions?.map((e) => e.name), ['release-44', 'release-43', 'release-42']);
    const running = await client.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING' }));
    assert.deepEqual(running.executions?.map((e) => e.executionArn), [b.executionArn]);
    const first = await client.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 2 }));
    assert.equal(first.executions?.length, 2);
    const rest = await client.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 2, nextToken: first.nextToken }));
    assert.deepEqual(rest.executions?.map((e) => e.name), ['release-42']);
    assert.equal(rest.nextToken, undefined);
  });

  it('returns errors as the SDK typed exceptions', async () => {
    await assert.rejects(
      client.send(new DescribeExecutionCommand({ executionArn: 'arn:aws:states:us-east-1:123456789012:execution:deploy:missing' })),
      (err: unknown) => err instanceof ExecutionDoesNotExist && /missing/.test(err.message) && err.$metadata.httpStatusCode === 400,
    );
    await assert.rejects(client.send(new DescribeExecutionCommand({ executionArn: 'not-an-arn' })), InvalidArn);
    await assert.rejects(client.send(new SendTaskSuccessCommand({ taskToken: 'AQunknown', output: '{}' })), TaskDoesNotExist);
  });

  it('answers an unknown operation with UnknownOperationException', async () => {
    const r = await handleStepFunctionsRequest(service, 'AWSStepFunctions.DeleteEverything', '{}');
    assert.equal(r.statusCode, 400);
    assert.equal(r.headers['x-amzn-errortype'], 'UnknownOperationException');
    assert.equal(r.headers['content-type'], 'application/x-amz-json-1.0');
    assert.equal(JSON.parse(r.body).__type, 'UnknownOperationException');
    assert.equal(isStepFunctionsRequest({ 'x-amz-target': 'DynamoDB_20120810.GetItem' }), false);
  });
});
