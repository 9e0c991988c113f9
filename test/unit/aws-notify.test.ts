/**
 * lib/aws/notify.ts: deployment notifications over SNS Publish (mocked with aws-sdk-client-mock):
 * skipped without a topic, the Publish input (subject, message with actions, attributes), limits, and
 * failures that are logged and reported, never thrown.
 */
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { AuthorizationErrorException, NotFoundException, PublishCommand, type PublishCommandInput } from '@aws-sdk/client-sns';
import {
  MAX_MESSAGE_BYTES,
  notificationMessage,
  notificationSubject,
  notify,
  type Notification,
} from '../../lib/aws/notify';
import { logger } from '../../lib/observability';
import { resetSdkMocks, sdkError, snsMock } from '../helpers/sdk-mocks';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:cutover-notifications';
const base: Notification = {
  kind: 'rolled-back',
  service: 'hello-world',
  environment: 'production',
  deploymentId: '5b097e97-0d5e-4d0c-9e57-1f1f5b1f2a11',
  subject: 'hello-world production: v3 rolled back (alarm hello-world-production-5xx)',
  message: 'Alarm hello-world-production-5xx went to ALARM during the bake at 10%.\nTraffic is back on blue.',
};
const published = (): PublishCommandInput[] => snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);

describe('notify', () => {
  beforeEach(() => {
    resetSdkMocks();
    delete process.env.NOTIFICATION_TOPIC_ARN;
  });
  afterEach(() => {
    delete process.env.NOTIFICATION_TOPIC_ARN;
    mock.restoreAll();
  });

  it('is skipped, without calling SNS, when NOTIFICATION_TOPIC_ARN is unset or blank', async () => {
    const debug = mock.method(logger, 'debug');
    assert.equal(await notify(base), 'skipped');
    process.env.NOTIFICATION_TOPIC_ARN = '  ';
    assert.equal(await notify(base), 'skipped');

    assert.equal(snsMock.calls().length, 0);
    assert.equal(debug.mock.callCount(), 2);
    assert.match(String(debug.mock.calls[0]!.arguments[0]), /NOTIFICATION_TOPIC_ARN is not set/);
  });

  it('publishes subject, message with actions under "To act:", and String attributes for filter policies', async () => {
    process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });

    const outcome = await notify({ ...base, actions: ['cutover status hello-world production', 'cutover redeploy\nhello-world production'] });

    assert.equal(outcome, 'published');
    assert.deepEqual(published(), [
      {
        TopicArn: TOPIC,
        Subject: 'hello-world production: v3 rolled back (alarm hello-world-production-5xx)',
        Message:
          'Alarm hello-world-production-5xx went to ALARM during the bake at 10%.\nTraffic is back on blue.\n\n' +
          'To act:\n  cutover status hello-world production\n  cutover redeploy hello-world production',
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'rolled-back' },
          service: { DataType: 'String', StringValue: 'hello-world' },
          environment: { DataType: 'String', StringValue: 'production' },
          deploymentId: { DataType: 'String', StringValue: '5b097e97-0d5e-4d0c-9e57-1f1f5b1f2a11' },
        },
      },
    ]);
  });

  it('sends no "To act:" section without actions and no deploymentId attribute without a deployment', async () => {
    process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-2' });

    await notify({ kind: 'alarm', service: 'hello-world', environment: 'production', subject: 'alarm', message: 'body\n\n' });

    const [input] = published();
    assert.equal(input!.Message, 'body');
    assert.deepEqual(Object.keys(input!.MessageAttributes!), ['kind', 'service', 'environment']);
  });

  it('cuts a long subject to 100 printable ASCII characters on one line', async () => {
    process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-3' });
    const long = `hello-world production:\r\nrelease ${'x'.repeat(150)} — café…`;

    await notify({ ...base, subject: long });

    const subject = published()[0]!.Subject!;
    assert.equal(subject.length, 100);
    assert.match(subject, /^[\x20-\x7e]+$/);
    assert.ok(subject.startsWith('hello-world production: release xxx'), subject);
    assert.ok(subject.endsWith('...'), subject);
    assert.equal(notificationSubject('v2 — café…\tlive ✔'), 'v2 - cafe... live ?');
    assert.equal(notificationSubject('\n\n', 'cutover failed: hello-world production'), 'cutover failed: hello-world production');
    assert.equal(notificationSubject('a'.repeat(100)), 'a'.repeat(100));
  });

  it('keeps the message within 256 KiB, cutting the body and keeping the actions', async () => {
    process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-4' });

    await notify({ ...base, message: 'é'.repeat(200_000), actions: ['cutover approve hello-world production'] });

    const input = published()[0]!;
    const attributeBytes = Object.entries(input.MessageAttributes!).reduce(
      (sum, [name, v]) => sum + Buffer.byteLength(name) + Buffer.byteLength(v.DataType!) + Buffer.byteLength(v.StringValue!),
      0,
    );
    assert.ok(Buffer.byteLength(input.Message!) + attributeBytes <= MAX_MESSAGE_BYTES);
    assert.ok(Buffer.byteLength(input.Message!) > MAX_MESSAGE_BYTES - 1_000);
    assert.ok(!input.Message!.includes('\uFFFD'), 'no character is split');
    assert.match(input.Message!, /é\n… \(message truncated\)\n\nTo act:\n {2}cutover approve hello-world production$/);
    assert.equal(notificationMessage({ message: 'short' }, 100), 'short');
  });

  it('returns failed and logs a warning, never throwing, when Publish fails', async () => {
    process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
    const warn = mock.method(logger, 'warn');
    snsMock
      .on(PublishCommand)
      .rejectsOnce(sdkError(NotFoundException, 'Topic does not exist'))
      .rejectsOnce(sdkError(AuthorizationErrorException, 'User is not authorized to perform: SNS:Publish'))
      .rejectsOnce(new Error('socket hang up'));

    const outcomes = [await notify(base), await notify(base), await notify(base)];

    assert.deepEqual(outcomes, ['failed', 'failed', 'failed']);
    assert.equal(warn.mock.callCount(), 3);
    const fields = warn.mock.calls.map((c) => c.arguments[1] as { reason: string; error: { name: string }; topicArn: string });
    assert.deepEqual(fields.map((f) => f.error.name), ['NotFoundException', 'AuthorizationErrorException', 'Error']);
    assert.match(fields[0]!.reason, /topic does not exist/);
    assert.match(fields[1]!.reason, /sns:Publish/);
    assert.equal(fields[2]!.topicArn, TOPIC);
  });

  it('does not throw even for a malformed notification or a throwing logger', async () => {
    process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
    mock.method(logger, 'warn', () => {
      throw new Error('log sink down');
    });
    snsMock.on(PublishCommand).rejects(new Error('boom'));

    assert.equal(await notify(undefined as unknown as Notification), 'failed');
    assert.equal(await notify(base), 'failed');
  });
});
