/**
 * lib/aws/logs.ts: the tail of a task container's awslogs stream (GetLogEvents, mocked with
 * aws-sdk-client-mock), and how it is trimmed.
 */
import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AccessDeniedException,
  GetLogEventsCommand,
  InvalidParameterException,
  ResourceNotFoundException,
  type CloudWatchLogsClient,
} from '@aws-sdk/client-cloudwatch-logs';
import type { LogConfiguration } from '@aws-sdk/client-ecs';
import { awslogsStream, readTaskLogTail, trimLogTail } from '../../lib/aws/logs';
import { logsMock, resetSdkMocks, sdkError, throttlingError } from '../helpers/sdk-mocks';

const TASK = 'arn:aws:ecs:us-east-1:123456789012:task/hello-world/0123456789abcdef0123456789abcdef';
const AWSLOGS: LogConfiguration = {
  logDriver: 'awslogs',
  options: { 'awslogs-group': '/ecs/hello-world-production', 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'cutover' },
};
/** The migration task's container; `null`: without a log configuration. */
const source = (logConfiguration: LogConfiguration | null = AWSLOGS) => ({ taskArn: TASK, containerName: 'app', logConfiguration: logConfiguration ?? undefined });
const events = (...messages: string[]) => ({
  events: messages.map((message, i) => ({ timestamp: 1_700_000_000_000 + i, message, ingestionTime: 1_700_000_000_500 })),
  nextForwardToken: 'f/1',
  nextBackwardToken: 'b/0',
});

describe('awslogsStream', () => {
  it('is <prefix>/<container>/<task id> in awslogs-group, in awslogs-region', () => {
    assert.deepEqual(awslogsStream(source()), {
      logGroupName: '/ecs/hello-world-production',
      logStreamName: 'cutover/app/0123456789abcdef0123456789abcdef',
      region: 'eu-west-1',
    });
  });

  it('is undefined without awslogs, without a group, or without a stream prefix (the stream is then named after the Docker container)', () => {
    assert.equal(awslogsStream(source(null)), undefined);
    assert.equal(awslogsStream(source({ logDriver: 'awsfirelens', options: { Name: 'cloudwatch' } })), undefined);
    assert.equal(awslogsStream(source({ logDriver: 'awslogs', options: { 'awslogs-stream-prefix': 'cutover' } })), undefined);
    assert.equal(awslogsStream(source({ logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/x' } })), undefined);
  });
});

describe('readTaskLogTail', () => {
  beforeEach(() => resetSdkMocks());

  it('reads the newest events (startFromHead false, limit) of the stream, in awslogs-region, oldest line first', async () => {
    // Prepare
    logsMock.on(GetLogEventsCommand).resolves(events('applying 0003', 'error: relation "customers" does not exist', 'FAILED'));
    // Act
    const tail = await readTaskLogTail(source(), { maxLines: 5 });
    // Assess
    assert.deepEqual(tail, {
      logGroupName: '/ecs/hello-world-production',
      logStreamName: 'cutover/app/0123456789abcdef0123456789abcdef',
      lines: ['applying 0003', 'error: relation "customers" does not exist', 'FAILED'],
      text: 'applying 0003\nerror: relation "customers" does not exist\nFAILED',
      truncated: false,
    });
    const calls = logsMock.commandCalls(GetLogEventsCommand);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.args[0].input, {
      logGroupName: '/ecs/hello-world-production',
      logStreamName: 'cutover/app/0123456789abcdef0123456789abcdef',
      startFromHead: false,
      limit: 5,
    });
    assert.equal(await (calls[0]!.thisValue as CloudWatchLogsClient).config.region(), 'eu-west-1', 'the client of awslogs-region');
  });

  it('asks for the last 20 events by default', async () => {
    logsMock.on(GetLogEventsCommand).resolves(events('x'));
    await readTaskLogTail(source());
    assert.equal(logsMock.commandCalls(GetLogEventsCommand)[0]!.args[0].input.limit, 20);
  });

  it('no awslogs configuration → undefined, and CloudWatch Logs is not called', async () => {
    assert.equal(await readTaskLogTail(source(null)), undefined);
    assert.equal(await readTaskLogTail(source({ logDriver: 'splunk', options: {} })), undefined);
    assert.equal(logsMock.commandCalls(GetLogEventsCommand).length, 0);
  });

  it('no such group or stream (ResourceNotFoundException) → undefined', async () => {
    logsMock.on(GetLogEventsCommand).rejects(sdkError(ResourceNotFoundException, 'The specified log stream does not exist.'));
    assert.equal(await readTaskLogTail(source()), undefined);
  });

  it('no permission (AccessDeniedException) → undefined', async () => {
    logsMock.on(GetLogEventsCommand).rejects(sdkError(AccessDeniedException, 'User is not authorized to perform: logs:GetLogEvents'));
    assert.equal(await readTaskLogTail(source()), undefined);
  });

  it('a stream without events, or only blank ones → undefined', async () => {
    logsMock.on(GetLogEventsCommand).resolves(events());
    assert.equal(await readTaskLogTail(source()), undefined);
    logsMock.on(GetLogEventsCommand).resolves(events('  ', '\t'));
    assert.equal(await readTaskLogTail(source()), undefined);
  });

  it('throttling → Cutover.Transient; other errors as they are (the caller decides)', async () => {
    logsMock.on(GetLogEventsCommand).rejects(throttlingError('logs'));
    await assert.rejects(readTaskLogTail(source()), { name: 'Cutover.Transient', message: /^CloudWatch Logs GetLogEvents \/ecs\/hello-world-production cutover\/app\/\w+: ThrottlingException: Rate exceeded/ });
    logsMock.on(GetLogEventsCommand).rejects(sdkError(InvalidParameterException, 'bad'));
    await assert.rejects(readTaskLogTail(source()), InvalidParameterException);
  });

  it('keeps the newest lines that fit maxBytes with the separator', async () => {
    logsMock.on(GetLogEventsCommand).resolves(events('first line that will not fit', 'second', 'third'));
    const tail = await readTaskLogTail(source(), { maxBytes: 16, separator: ' | ' });
    assert.deepEqual(tail?.lines, ['second', 'third']);
    assert.equal(tail?.text, 'second | third');
    assert.equal(tail?.truncated, true);
  });

  it('rejects a limit GetLogEvents would reject, and a budget too small to say anything', async () => {
    await assert.rejects(readTaskLogTail(source(), { maxLines: 0 }), RangeError);
    await assert.rejects(readTaskLogTail(source(), { maxLines: 10_001 }), RangeError);
    await assert.rejects(readTaskLogTail(source(), { maxBytes: 8 }), RangeError);
    assert.equal(logsMock.commandCalls(GetLogEventsCommand).length, 0);
  });
});

describe('trimLogTail', () => {
  it('keeps everything that fits, oldest first', () => {
    assert.deepEqual(trimLogTail(['a', 'b', 'c'], 100), { lines: ['a', 'b', 'c'], truncated: false });
  });

  it('drops the oldest lines first; the budget counts separators and UTF-8 bytes', () => {
    // 'é' is 2 bytes: 'ééé' = 6, 'b' + '\n' = 2 → 8 bytes fit, 'a\n' would make 10.
    assert.deepEqual(trimLogTail(['a', 'b', 'ééé'], 8), { lines: ['b', 'ééé'], truncated: true });
    assert.deepEqual(trimLogTail(['a', 'b', 'ééé'], 9), { lines: ['b', 'ééé'], truncated: true });
    assert.deepEqual(trimLogTail(['a', 'b', 'ééé'], 10), { lines: ['a', 'b', 'ééé'], truncated: false });
  });

  it('cuts the newest line on a character boundary, with …, when it alone is too long', () => {
    const { lines, truncated } = trimLogTail(['old', `ERROR ${'é'.repeat(100)}`], 20);
    assert.equal(truncated, true);
    assert.equal(lines.length, 1);
    assert.ok(Buffer.byteLength(lines[0]!) <= 20, `${Buffer.byteLength(lines[0]!)} bytes`);
    assert.match(lines[0]!, /^ERROR é+…$/);
  });

  it('removes colours and control characters, flattens line breaks and drops blank messages', () => {
    assert.deepEqual(trimLogTail(['\u001b[31merror\u001b[0m: boom\u0007', '', '   ', 'multi\nline\r\n', 'tab\there'], 1000), {
      lines: ['error: boom', 'multi line', 'tab here'],
      truncated: false,
    });
  });
});
