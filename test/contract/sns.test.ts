/**
 * Contract: SNS Publish as cutover calls it (lib/aws/notify.ts) — on moto and on the twin's simulator.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidParameterException, NotFoundException, PublishCommand } from '@aws-sdk/client-sns';
import { snsClient } from '../../lib/aws/clients';
import { MAX_SUBJECT_CHARS, NOTIFICATION_TOPIC_ENV, notificationPublishInput, notify, type Notification } from '../../lib/aws/notify';
import { logger } from '../../lib/observability';
import { ACCOUNT, REGION } from './support/backends';
import { contract, rejectsWith } from './support/suite';

const NOTE: Notification = {
  kind: 'rolled-back',
  service: 'hello-world',
  environment: 'production',
  deploymentId: 'dep-contract',
  subject: 'x'.repeat(150),
  message: 'Rolled back: 5xx alarm fired during the canary.',
  actions: ['cutover history hello-world production'],
};

contract('SNS (lib/aws/notify.ts)', (ctx) => {
  const saved = process.env[NOTIFICATION_TOPIC_ENV];
  before(() => logger.setLogLevel('SILENT'));
  after(() => {
    if (saved === undefined) delete process.env[NOTIFICATION_TOPIC_ENV];
    else process.env[NOTIFICATION_TOPIC_ENV] = saved;
  });

  it('CreateTopic: the topic ARN', () => {
    assert.equal(ctx.fx.topicArn, `arn:aws:sns:${REGION}:${ACCOUNT}:contract-notifications`);
  });

  it('Publish: a notification (subject of MAX_SUBJECT_CHARS, attributes, actions) is accepted with a MessageId', async () => {
    const input = notificationPublishInput(NOTE, ctx.fx.topicArn);
    assert.equal(input.Subject?.length, MAX_SUBJECT_CHARS);
    const out = await snsClient().send(new PublishCommand(input));
    assert.match(out.MessageId ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    process.env[NOTIFICATION_TOPIC_ENV] = ctx.fx.topicArn;
    assert.equal(await notify(NOTE), 'published');
  });

  it('Publish: an unknown topic is NotFoundException (notify: failed, never throws)', async () => {
    const unknown = `arn:aws:sns:${REGION}:${ACCOUNT}:no-such-topic`;
    await rejectsWith(snsClient().send(new PublishCommand({ TopicArn: unknown, Message: 'x' })), 'NotFoundException', NotFoundException);
    process.env[NOTIFICATION_TOPIC_ENV] = unknown;
    assert.equal(await notify(NOTE), 'failed');
  });

  it('Publish: an empty message is InvalidParameterException', ctx.notOnMoto('publishes an empty message'), async () => {
    await rejectsWith(snsClient().send(new PublishCommand({ TopicArn: ctx.fx.topicArn, Message: '' })), 'InvalidParameterException', InvalidParameterException);
  });

  it('Publish: a subject with a line break is InvalidParameterException', ctx.notOnMoto('accepts line breaks in Subject'), async () => {
    await rejectsWith(
      snsClient().send(new PublishCommand({ TopicArn: ctx.fx.topicArn, Message: 'x', Subject: 'two\nlines' })),
      'InvalidParameterException',
      InvalidParameterException,
    );
  });

  it('Publish: a subject longer than 100 characters is InvalidParameterException', async () => {
    await rejectsWith(
      snsClient().send(new PublishCommand({ TopicArn: ctx.fx.topicArn, Message: 'x', Subject: 'x'.repeat(101) })),
      'InvalidParameterException',
      InvalidParameterException,
    );
  });

  it('Publish: a message attribute without a value is InvalidParameterValueException naming it', async () => {
    // SNS answers InvalidParameterValue (the SDK's InvalidParameterValueException), as LocalStack
    // reproduces it from AWS (localstack/localstack#6938); moto answers InvalidParameterException.
    const err = await rejectsWith(
      snsClient().send(new PublishCommand({ TopicArn: ctx.fx.topicArn, Message: 'x', MessageAttributes: { kind: { DataType: 'String', StringValue: '' } } })),
      ctx.kind === 'moto' ? 'InvalidParameterException' : 'InvalidParameterValueException',
    );
    assert.match(err.message, /kind/);
  });
});
