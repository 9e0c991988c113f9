/**
 * The simulator's SNS (lib/local/simulator/sns.ts), through the real SDK client of lib/aws/clients.ts:
 * topics, Publish with its validation and typed exceptions, the published list and listeners, faults.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthorizationErrorException,
  CreateTopicCommand,
  InvalidParameterException,
  InvalidParameterValueException,
  ListTopicsCommand,
  NotFoundException,
  PublishCommand,
  ThrottledException,
  type PublishCommandInput,
} from '@aws-sdk/client-sns';
import { snsClient } from '../../lib/aws/clients';
import { notify } from '../../lib/aws/notify';
import { logger } from '../../lib/observability';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';
import type { SnsPublishedMessage } from '../../lib/local/simulator';

let h: ConnectedSimulator;
const publish = (input: Partial<PublishCommandInput>) => snsClient().send(new PublishCommand(input as PublishCommandInput));

describe('simulator: SNS', () => {
  beforeEach(() => {
    h = connectSimulator();
    logger.setLogLevel('SILENT');
  });
  afterEach(() => {
    h.close();
    delete process.env.NOTIFICATION_TOPIC_ARN;
  });

  it('creates topics idempotently by name and lists them, paginated by 100', async () => {
    const a = await snsClient().send(new CreateTopicCommand({ Name: 'cutover-notifications' }));
    const again = await snsClient().send(new CreateTopicCommand({ Name: 'cutover-notifications' }));
    for (let i = 0; i < 120; i++) h.sim.sns.seedTopic(`t-${i}`);

    const first = await snsClient().send(new ListTopicsCommand({}));
    const second = await snsClient().send(new ListTopicsCommand({ NextToken: first.NextToken }));

    assert.equal(a.TopicArn, 'arn:aws:sns:us-east-1:123456789012:cutover-notifications');
    assert.equal(again.TopicArn, a.TopicArn);
    assert.equal(first.Topics!.length, 100);
    assert.equal(first.Topics![0]!.TopicArn, a.TopicArn);
    assert.equal(second.Topics!.length, 21);
    assert.equal(second.NextToken, undefined);
    assert.equal(second.Topics!.at(-1)!.TopicArn, 'arn:aws:sns:us-east-1:123456789012:t-119');
    await assert.rejects(snsClient().send(new ListTopicsCommand({ NextToken: 'not-a-token' })), InvalidParameterException);
    await assert.rejects(snsClient().send(new CreateTopicCommand({ Name: 'has space' })), InvalidParameterException);
    await assert.rejects(
      snsClient().send(new CreateTopicCommand({ Name: 'cutover-notifications', Attributes: { DisplayName: 'other' } })),
      /Topic already exists with different attributes/,
    );
  });

  it('publishes: returns a MessageId and keeps subject, message, attributes and simulated time', async () => {
    const arn = h.sim.sns.seedTopic('cutover-notifications');
    h.clock.advance(90_000);

    const out = await publish({
      TopicArn: arn,
      Subject: 'hello-world production: v2 is live',
      Message: 'line one\nline two',
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'succeeded' }, size: { DataType: 'Number', StringValue: '3' } },
    });

    assert.match(out.MessageId!, /^[0-9a-f-]{36}$/);
    assert.equal(h.sim.sns.published.length, 1);
    const [m] = h.sim.sns.published;
    assert.equal(m!.messageId, out.MessageId);
    assert.equal(m!.topicArn, arn);
    assert.equal(m!.subject, 'hello-world production: v2 is live');
    assert.equal(m!.message, 'line one\nline two');
    assert.deepEqual(m!.attributes, { kind: 'succeeded', size: '3' });
    assert.equal(m!.at.getTime(), h.clock.nowMs());
  });

  it('rejects an unknown topic with NotFoundException and a malformed one with InvalidParameterException', async () => {
    h.sim.sns.seedTopic('exists');
    await assert.rejects(publish({ TopicArn: 'arn:aws:sns:us-east-1:123456789012:missing', Message: 'x' }), (err: unknown) => {
      assert.ok(err instanceof NotFoundException);
      assert.equal(err.name, 'NotFoundException');
      assert.equal(err.$metadata.httpStatusCode, 400);
      return true;
    });
    await assert.rejects(publish({ TopicArn: 'missing', Message: 'x' }), InvalidParameterException);
    await assert.rejects(publish({ Message: 'x' }), InvalidParameterException);
    assert.equal(h.sim.sns.published.length, 0);
  });

  it('validates Subject, Message, MessageStructure, attributes and size', async () => {
    const arn = h.sim.sns.seedTopic('n');
    const bad: Array<[string, Partial<PublishCommandInput>, new (...args: never[]) => Error]> = [
      ['newline in subject', { Subject: 'two\nlines', Message: 'x' }, InvalidParameterException],
      ['subject of 101 characters', { Subject: 'a'.repeat(101), Message: 'x' }, InvalidParameterException],
      ['empty subject', { Subject: '', Message: 'x' }, InvalidParameterException],
      ['empty message', { Message: '' }, InvalidParameterException],
      ['json without default', { Message: '{"email":"x"}', MessageStructure: 'json' }, InvalidParameterException],
      ['attribute without value', { Message: 'x', MessageAttributes: { kind: { DataType: 'String', StringValue: '' } } }, InvalidParameterValueException],
      ['attribute of unknown type', { Message: 'x', MessageAttributes: { kind: { DataType: 'Text', StringValue: 'a' } } }, InvalidParameterValueException],
      ['reserved attribute name', { Message: 'x', MessageAttributes: { 'AWS.kind': { DataType: 'String', StringValue: 'a' } } }, InvalidParameterValueException],
      ['message over 256 KiB', { Message: 'x'.repeat(262_145) }, InvalidParameterException],
    ];
    for (const [what, input, Type] of bad) {
      await assert.rejects(publish({ TopicArn: arn, ...input }), Type, what);
    }
    await assert.rejects(publish({ TopicArn: arn, Subject: 'bad\rsubject', Message: 'x' }), /Invalid parameter: Subject/);

    await publish({ TopicArn: arn, Subject: 'a'.repeat(100), Message: 'x'.repeat(262_144) });
    await publish({ TopicArn: arn, Message: '{"default":"d","email":"e"}', MessageStructure: 'json' });
    assert.equal(h.sim.sns.published.length, 2);
  });

  it('FIFO topics need a message group and deduplicate within 5 minutes', async () => {
    const { TopicArn } = await snsClient().send(
      new CreateTopicCommand({ Name: 'events.fifo', Attributes: { FifoTopic: 'true', ContentBasedDeduplication: 'true' } }),
    );
    await assert.rejects(publish({ TopicArn, Message: 'a' }), /MessageGroupId parameter is required/);
    const first = await publish({ TopicArn, Message: 'a', MessageGroupId: 'g' });
    await publish({ TopicArn, Message: 'a', MessageGroupId: 'g' });
    h.clock.advance(5 * 60_000);
    const third = await publish({ TopicArn, Message: 'a', MessageGroupId: 'g' });

    assert.equal(h.sim.sns.published.length, 2);
    assert.ok(BigInt(third.SequenceNumber!) > BigInt(first.SequenceNumber!));
    await assert.rejects(snsClient().send(new CreateTopicCommand({ Name: 'plain', Attributes: { FifoTopic: 'true' } })), InvalidParameterException);
  });

  it('tells onPublish listeners about every message until they unsubscribe', async () => {
    const arn = h.sim.sns.seedTopic('n');
    const seen: SnsPublishedMessage[] = [];
    const off = h.sim.sns.onPublish((m) => {
      seen.push(m);
    });
    h.sim.sns.onPublish(() => {
      throw new Error('a broken listener does not fail Publish');
    });
    const originalError = console.error;
    console.error = () => undefined;
    try {
      await publish({ TopicArn: arn, Subject: 'one', Message: 'first' });
      off();
      await publish({ TopicArn: arn, Subject: 'two', Message: 'second' });
    } finally {
      console.error = originalError;
    }

    assert.deepEqual(seen.map((m) => m.message), ['first']);
    assert.equal(seen[0]!.subject, 'one');
    seen[0]!.attributes.mutated = 'yes';
    assert.deepEqual(h.sim.sns.published[0]!.attributes, {}, 'listeners get a copy');
    assert.equal(h.sim.sns.published.length, 2);
  });

  it('injects faults into SNS calls: typed errors, consumed in order, logged calls', async () => {
    const arn = h.sim.sns.seedTopic('n');
    h.sim.injectFault({ service: 'sns', operation: 'Publish', error: 'AuthorizationErrorException' });
    await assert.rejects(publish({ TopicArn: arn, Message: 'x' }), AuthorizationErrorException);
    assert.equal(h.sim.sns.published.length, 0);

    // The transport answers before the SDK's retry middleware: each injected fault fails one call.
    h.sim.injectFault({ service: 'sns', operation: 'Publish', error: 'ThrottledException', times: 2 });
    await assert.rejects(publish({ TopicArn: arn, Message: 'throttled 1' }), ThrottledException);
    await assert.rejects(publish({ TopicArn: arn, Message: 'throttled 2' }), ThrottledException);
    const out = await publish({ TopicArn: arn, Message: 'after throttling' });
    assert.ok(out.MessageId);
    assert.equal(h.sim.calls.filter((c) => c.service === 'sns' && c.operation === 'Publish').length, 4);

    h.sim.injectFault({ service: 'sns', operation: '*', error: 'ThrottledException' });
    await assert.rejects(snsClient().send(new ListTopicsCommand({})), ThrottledException);
    assert.deepEqual(h.sim.sns.published.map((m) => m.message), ['after throttling']);
  });

  it('receives what notify() sends, with the attributes subscribers filter on', async () => {
    process.env.NOTIFICATION_TOPIC_ARN = h.sim.sns.seedTopic('cutover-notifications');
    const seen: SnsPublishedMessage[] = [];
    h.sim.sns.onPublish((m) => void seen.push(m));

    const outcome = await notify({
      kind: 'awaiting-approval',
      service: 'hello-world',
      environment: 'production',
      deploymentId: 'd-1',
      subject: 'hello-world production: restore needs approval',
      message: 'The migration failed.\nRestoring the snapshot discards 12 minutes of writes.',
      actions: ['cutover approve hello-world production', 'cutover reject hello-world production'],
    });

    assert.equal(outcome, 'published');
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]!.attributes, { kind: 'awaiting-approval', service: 'hello-world', environment: 'production', deploymentId: 'd-1' });
    assert.equal(
      seen[0]!.message,
      'The migration failed.\nRestoring the snapshot discards 12 minutes of writes.\n\nTo act:\n  cutover approve hello-world production\n  cutover reject hello-world production',
    );

    process.env.NOTIFICATION_TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:deleted';
    assert.equal(await notify({ kind: 'failed', service: 's', environment: 'e', subject: 's', message: 'm' }), 'failed');
  });

  it('answers an operation it does not implement with InvalidAction', async () => {
    await assert.rejects(h.sim.send('sns', 'Subscribe', {}), (err: unknown) => {
      assert.equal((err as Error).name, 'InvalidAction');
      assert.match((err as Error).message, /Supported: CreateTopic, ListTopics, Publish/);
      return true;
    });
  });
});
