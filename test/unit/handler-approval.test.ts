/**
 * lambdas/approval: the function URL handler, with the SDK mocked — what it refuses before touching
 * anything (method, identity, body), and the order of its writes when it approves (the approval on the
 * record before SendTaskSuccess; taken back when the wait had closed).
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SendTaskSuccessCommand, TaskTimedOut } from '@aws-sdk/client-sfn';
import type { LambdaFunctionURLEventWithIAMAuthorizer } from 'aws-lambda';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { dynamoMock, resetSdkMocks, sdkError, sfnMock } from '../helpers/sdk-mocks';
import { approvalTokenHash } from '../../lib/domain/approvers';
import { handler } from '../../lambdas/approval/handler';

const CALLER = 'arn:aws:sts::123456789012:assumed-role/release-managers/ada';
const TOKEN = 'token-approval-1';
const LOCK = { pk: 'LOCK#hello-world#production', sk: 'LOCK', deploymentId: 'd-1', executionArn: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:d-1', acquiredAt: '2026-12-05T10:00:00.000Z', commit: 'abc', startedAt: '2026-12-05T10:00:00.000Z' };
const RECORD = {
  pk: 'DEPLOYMENTS#hello-world#production',
  sk: '2026-12-05T10:00:00.000Z#d-1',
  deploymentId: 'd-1',
  executionArn: LOCK.executionArn,
  service: 'hello-world',
  environment: 'production',
  status: 'in-progress',
  commit: 'abc',
  image: 'img',
  trigger: { source: 'console' },
  startedAt: '2026-12-05T10:00:00.000Z',
  pendingKind: 'approval',
  pendingTaskToken: TOKEN,
  approvers: ['arn:aws:iam::123456789012:role/release-managers'],
};

function event(body: unknown, opts: { method?: string; callerArn?: string | null } = {}): LambdaFunctionURLEventWithIAMAuthorizer {
  const iam = opts.callerArn === null ? undefined : { accessKey: 'AKIA1', accountId: '123456789012', callerId: 'AROA1:ada', userArn: opts.callerArn ?? CALLER, userId: 'AROA1:ada', cognitoIdentity: null, principalOrgId: null };
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: {},
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'x',
      domainName: 'x.lambda-url.us-east-1.on.aws',
      domainPrefix: 'x',
      http: { method: opts.method ?? 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 't' },
      requestId: 'r',
      routeKey: '$default',
      stage: '$default',
      time: '',
      timeEpoch: 0,
      ...(iam ? { authorizer: { iam } } : {}),
    },
  } as unknown as LambdaFunctionURLEventWithIAMAuthorizer;
}

const approve = { service: 'hello-world', environment: 'production', decision: 'approve', operator: 'ada' };
const status = async (e: LambdaFunctionURLEventWithIAMAuthorizer) => {
  const out = await handler(e);
  return { status: (out as { statusCode: number }).statusCode, body: JSON.parse((out as { body: string }).body) as { message: string } };
};

describe('approval function', () => {
  const saved = process.env.TABLE_NAME;
  beforeEach(() => {
    resetSdkMocks();
    process.env.TABLE_NAME = 'ledger';
    dynamoMock.on(GetCommand, { Key: { pk: LOCK.pk, sk: 'LOCK' } }).resolves({ Item: LOCK });
    dynamoMock.on(GetCommand, { Key: { pk: RECORD.pk, sk: RECORD.sk } }).resolves({ Item: RECORD });
    dynamoMock.on(UpdateCommand).resolves({});
    dynamoMock.on(PutCommand).resolves({});
    sfnMock.on(SendTaskSuccessCommand).resolves({});
  });
  afterEach(() => {
    process.env.TABLE_NAME = saved;
  });

  it('refuses, touching nothing: not a POST (405), no IAM identity (403), not JSON or a bad field (400)', async () => {
    assert.equal((await status(event(approve, { method: 'GET' }))).status, 405);
    const anonymous = await status(event(approve, { callerArn: null }));
    assert.equal(anonymous.status, 403);
    assert.match(anonymous.body.message, /must use AuthType AWS_IAM/);
    assert.equal((await status(event('{not json'))).status, 400);
    const bad = await status(event({ ...approve, decision: 'maybe' }));
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /^bad request: decision:/);
    assert.equal(dynamoMock.calls().length + sfnMock.calls().length, 0, 'no AWS call');
  });

  it('approves: records the approval bound to the wait token, then answers it, then audits', async () => {
    const out = await status(event({ ...approve, comment: 'ok' }));
    assert.equal(out.status, 200, out.body.message);
    const update = dynamoMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    assert.equal(update.ConditionExpression, 'pendingKind = :approval AND pendingTaskToken = :t AND (attribute_not_exists(approval) OR approval.tokenHash <> :h)');
    assert.equal(update.ExpressionAttributeValues![':t'], TOKEN);
    const recorded = update.ExpressionAttributeValues![':a'];
    assert.equal(recorded.tokenHash, approvalTokenHash(TOKEN), 'bound to this wait');
    assert.deepEqual({ ...recorded, at: undefined, id: undefined }, { id: undefined, by: 'ada', callerArn: CALLER, at: undefined, tokenHash: approvalTokenHash(TOKEN), matched: 'arn:aws:iam::123456789012:role/release-managers', comment: 'ok' });
    const sent = sfnMock.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input;
    assert.deepEqual(JSON.parse(sent.output!), { approved: true, operator: 'ada', callerArn: CALLER, approvalId: recorded.id, comment: 'ok' });
    const audit = dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!).find((i) => String(i.pk).startsWith('AUDIT#'));
    assert.equal(audit?.caller, CALLER);
    assert.equal(audit?.actor, 'ada');
  });

  it('a wait that closed before the answer: 409, and the recorded approval is taken back', async () => {
    sfnMock.on(SendTaskSuccessCommand).rejects(sdkError(TaskTimedOut, 'Task Timed Out'));
    const out = await status(event(approve));
    assert.equal(out.status, 409);
    assert.match(out.body.message, /ended before the answer/);
    const [recording, removal] = dynamoMock.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    assert.equal(removal?.UpdateExpression, 'REMOVE approval');
    assert.equal(removal?.ExpressionAttributeValues?.[':id'], recording?.ExpressionAttributeValues?.[':a'].id, 'only the approval it recorded');
  });

  it('a wait approved already (another approver first): 409 naming who, no second answer', async () => {
    dynamoMock.on(UpdateCommand).rejects(sdkError(ConditionalCheckFailedException, 'The conditional request failed'));
    dynamoMock.on(GetCommand, { Key: { pk: RECORD.pk, sk: RECORD.sk } }).resolves({ Item: { ...RECORD, approval: { id: 'x', by: 'grace', callerArn: 'arn:aws:sts::123456789012:assumed-role/release-managers/grace', at: '2026-12-05T10:01:00.000Z', tokenHash: approvalTokenHash(TOKEN) } } });
    const out = await status(event(approve));
    assert.equal(out.status, 409);
    assert.match(out.body.message, /is approved already, by grace \(arn:aws:sts::123456789012:assumed-role\/release-managers\/grace\)/);
    assert.equal(sfnMock.commandCalls(SendTaskSuccessCommand).length, 0);
  });

  it('a caller who is not an approver: 403 with the approvers, audited, no answer sent', async () => {
    const out = await status(event(approve, { callerArn: 'arn:aws:sts::123456789012:assumed-role/developers/bob' }));
    assert.equal(out.status, 403);
    assert.match(out.body.message, /is not an approver of hello-world\/production/);
    assert.equal(sfnMock.commandCalls(SendTaskSuccessCommand).length, 0);
    assert.equal(dynamoMock.commandCalls(UpdateCommand).length, 0, 'no approval recorded');
    assert.ok(dynamoMock.commandCalls(PutCommand).some((c) => /may not approve/.test(String(c.args[0].input.Item?.message))));
  });
});
