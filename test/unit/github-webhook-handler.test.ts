import { after, afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ExecutionLimitExceeded,
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { handler, MAX_BODY_BYTES } from '../../lambdas/github-webhook/handler';
import { clearWebhookSecretCache } from '../../lib/aws/webhook-secret';
import { ExplicitDeployInputSchema } from '../../lib/domain/deploy-input';
import { executionArnFor } from '../../lib/domain/github-push';
import {
  captureOutput,
  deletionPush,
  examples,
  masterPush,
  ping,
  sampleConfigText,
  tagPush,
  webhookEvent,
  type WebhookEventOptions,
} from '../helpers/github';

const SECRET = 'It\'s a Secret to Everybody 7f3a9c';
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:cutover-deploy';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cutover/github-webhook-AbCdEf';
const DELIVERY = '72d3162e-cc78-11e3-81ab-4c9367dc0958';

const sfn = mockClient(SFNClient);
const secrets = mockClient(SecretsManagerClient);
const dynamo = mockClient(DynamoDBDocumentClient);
const savedEnv = { ...process.env };
/** Everything the handler logged in this file, checked for the secret at the end. */
let allOutput = '';

interface Call {
  status: number;
  body: Record<string, unknown>;
  output: string;
}

async function call(event: APIGatewayProxyEventV2): Promise<Call> {
  const { result, output } = await captureOutput(() => handler(event));
  allOutput += output;
  const r = result as APIGatewayProxyStructuredResultV2;
  assert.equal(r.headers?.['content-type'], 'application/json', 'every response is JSON');
  return { status: r.statusCode!, body: JSON.parse(r.body!), output };
}

const send = (opts: Partial<WebhookEventOptions> & { payload: unknown }) =>
  call(webhookEvent({ event: 'push', secret: SECRET, deliveryId: DELIVERY, ...opts }));

function startInputs() {
  return sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
}

beforeEach(() => {
  process.env.AWS_REGION = 'us-east-1';
  process.env.CUTOVER_CONFIG = sampleConfigText();
  process.env.STATE_MACHINE_ARN = STATE_MACHINE_ARN;
  process.env.WEBHOOK_SECRET_ARN = SECRET_ARN;
  clearWebhookSecretCache();
  secrets.reset();
  secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ ARN: SECRET_ARN, Name: 'cutover/github-webhook', SecretString: SECRET });
  sfn.reset();
  sfn.on(StartExecutionCommand).callsFake((input: { stateMachineArn: string; name: string }) => ({
    executionArn: executionArnFor(input.stateMachineArn, input.name),
    startDate: new Date(),
  }));
});

afterEach(() => {
  process.env = { ...savedEnv };
});

after(() => {
  assert.ok(allOutput.length > 0, 'the handler logged something');
  assert.ok(!allOutput.includes(SECRET), 'the secret never appears in the log output');
});

describe('github-webhook handler: a push while a deployment runs', () => {
  const holder = {
    pk: 'LOCK#hello-world#production',
    sk: 'LOCK',
    deploymentId: 'earlier-push',
    executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:earlier-push`,
    acquiredAt: '2026-12-05T10:00:00.000Z',
    commit: 'abcdef1234567890abcdef1234567890abcdef12',
    purpose: 'deploy',
  };
  beforeEach(() => {
    dynamo.reset();
    process.env.TABLE_NAME = 'cutover-ledger';
  });

  it('answers 202 queued, naming the deployment it waits behind (the lock read from TABLE_NAME)', async () => {
    dynamo.on(GetCommand, { TableName: 'cutover-ledger', Key: { pk: 'LOCK#hello-world#production', sk: 'LOCK' } }).resolves({ Item: holder });
    const res = await send({ payload: masterPush() });
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'queued');
    assert.deepEqual(res.body.behind, { deploymentId: 'earlier-push', commit: holder.commit, purpose: 'deploy' });
    assert.match(String(res.body.message), /^queued behind deployment earlier-push \(abcdef1\): it deploys when that ends, unless a newer push comes first$/);
    assert.equal(startInputs().length, 1, 'the push was started: it waits in its own execution');
  });

  it('answers 202 started when the lock is free, or held by the push itself (a redelivery)', async () => {
    dynamo.on(GetCommand).resolves({});
    assert.equal((await send({ payload: masterPush() })).body.status, 'started');
    dynamo.on(GetCommand).resolves({ Item: { ...holder, deploymentId: DELIVERY, executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${DELIVERY}` } });
    assert.equal((await send({ payload: masterPush() })).body.status, 'started');
  });

  it('still answers 202 started when the lock cannot be read (the push was started either way)', async () => {
    dynamo.on(GetCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const res = await send({ payload: masterPush() });
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'started');
  });
});

describe('github-webhook handler: deploys', () => {
  it('starts the deploy execution named by the delivery id for a push to a configured branch (202)', async () => {
    // Prepare
    const push = masterPush();
    // Act
    const res = await send({ payload: push });
    // Assess
    const executionArn = `arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:${DELIVERY}`;
    assert.equal(res.status, 202);
    assert.deepEqual(res.body, { executionArn, status: 'started', message: 'deployment started' });
    const [input] = startInputs();
    assert.equal(startInputs().length, 1);
    assert.equal(input!.stateMachineArn, STATE_MACHINE_ARN);
    assert.equal(input!.name, DELIVERY);
    const deployInput = ExplicitDeployInputSchema.parse(JSON.parse(input!.input!));
    assert.deepEqual(deployInput, {
      service: 'hello-world',
      environment: 'production',
      release: { commit: push.head_commit!.id, migrations: false, message: 'Initial commit', ref: 'refs/heads/master', committedAt: new Date(push.head_commit!.timestamp).toISOString() },
      trigger: { source: 'github-push', actor: 'Codertocat', deliveryId: DELIVERY, url: push.compare },
    });
  });

  it('marks the release as carrying migrations when a pushed file is under a migration path', async () => {
    const push = masterPush();
    push.commits[0]!.added.push('migrations/0002_users.sql');
    const res = await send({ payload: push });
    assert.equal(res.status, 202);
    assert.equal(JSON.parse(startInputs()[0]!.input!).release.migrations, true);
  });

  it('accepts a base64-encoded body (signature over the decoded raw bytes)', async () => {
    const res = await send({ payload: masterPush(), base64: true });
    assert.equal(res.status, 202);
    assert.equal(startInputs()[0]!.name, DELIVERY);
  });

  it('reads header names case-insensitively', async () => {
    const event = webhookEvent({ event: 'push', payload: masterPush(), secret: SECRET, deliveryId: DELIVERY });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(event.headers)) headers[k.replace(/(^|-)[a-z]/g, (m) => m.toUpperCase())] = v!;
    assert.ok('X-Hub-Signature-256' in headers && 'X-Github-Delivery' in headers && !('x-github-event' in headers));
    const res = await call({ ...event, headers });
    assert.equal(res.status, 202);
  });

  it('answers a redelivery with the same execution and starts nothing new (ExecutionAlreadyExists)', async () => {
    // Prepare: the first delivery started the execution
    const first = await send({ payload: masterPush() });
    assert.equal(first.status, 202);
    sfn.on(StartExecutionCommand).rejects(
      new ExecutionAlreadyExists({ message: `Execution Already Exists: '${first.body.executionArn}'`, $metadata: {} }),
    );
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: first.body.executionArn as string,
      stateMachineArn: STATE_MACHINE_ARN,
      status: 'SUCCEEDED',
      startDate: new Date(),
    });
    // Act
    const again = await send({ payload: masterPush() });
    // Assess
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, first.body);
    const described = sfn.commandCalls(DescribeExecutionCommand).map((c) => c.args[0].input.executionArn);
    assert.deepEqual(described, [first.body.executionArn]);
    assert.deepEqual(
      startInputs().map((i) => i.name),
      [DELIVERY, DELIVERY],
      'both deliveries ask for the same execution name',
    );
  });

  it('reads the secret once and reuses it for later deliveries (cache)', async () => {
    await send({ payload: ping(), event: 'ping', deliveryId: 'a' });
    await send({ payload: ping(), event: 'ping', deliveryId: 'b' });
    assert.equal(secrets.commandCalls(GetSecretValueCommand).length, 1);
  });

  it('logs the delivery, event, repository, ref and decision, not the payload', async () => {
    const push = masterPush();
    const res = await send({ payload: push });
    assert.equal(res.status, 202);
    const lines = res.output.trim().split('\n').map((l) => JSON.parse(l));
    const started = lines.find((l) => l.message === 'deployment started');
    assert.ok(started, 'a "deployment started" line');
    assert.equal(started.deliveryId, DELIVERY);
    assert.equal(started.event, 'push');
    assert.equal(started.repository, 'Codertocat/Hello-World');
    assert.equal(started.ref, 'refs/heads/master');
    assert.equal(started.decision, 'deploy');
    assert.equal(started.service, 'cutover');
    assert.equal(started.serviceName, 'hello-world');
    assert.ok(!lines.some((l) => /reserved key/.test(l.message)), 'no reserved-key warnings');
    assert.ok(!res.output.includes(push.head_commit!.author.email!), 'no payload content in the log');
    assert.ok(!res.output.includes('head_commit'));
  });
});

describe('github-webhook handler: ping and ignored deliveries (200)', () => {
  it('answers ping with ok and the zen', async () => {
    const p = ping();
    const res = await send({ event: 'ping', payload: p });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { ok: true, zen: p.zen });
  });

  const cases: Array<[string, () => Partial<WebhookEventOptions> & { payload: unknown }, RegExp]> = [
    ['a tag push', () => ({ payload: tagPush() }), /^tag push/],
    ['a branch deletion', () => ({ payload: { ...deletionPush(), ref: 'refs/heads/master' } }), /^branch deletion/],
    ['a push without head commit', () => ({ payload: { ...masterPush(), head_commit: null } }), /no head commit/],
    [
      'an unconfigured repository',
      () => {
        const p = masterPush();
        p.repository.full_name = 'Octocoders/Hello-World';
        return { payload: p };
      },
      /^repository "Octocoders\/Hello-World" is not configured$/,
    ],
    ['an unconfigured branch', () => ({ payload: { ...masterPush(), ref: 'refs/heads/dev' } }), /^branch "dev" of repository/],
    ['another event type', () => ({ event: 'issues', payload: examples('issues')[0] }), /^event "issues" is not handled$/],
  ];
  for (const [what, make, reason] of cases) {
    it(`ignores ${what} with the reason, starting nothing`, async () => {
      const res = await send(make());
      assert.equal(res.status, 200);
      assert.match(String(res.body.ignored), reason);
      assert.equal(startInputs().length, 0);
    });
  }
});

describe('github-webhook handler: rejects', () => {
  it('413 for a body over 1 MiB, before anything else', async () => {
    const body = JSON.stringify(masterPush()).replace(/}$/, `${' '.repeat(MAX_BODY_BYTES)}}`);
    const res = await send({ payload: body, headers: { 'x-github-event': undefined } });
    assert.equal(res.status, 413);
    assert.equal(secrets.commandCalls(GetSecretValueCommand).length, 0);
  });

  it('accepts a body of exactly 1 MiB', async () => {
    const json = JSON.stringify(masterPush());
    const body = json.replace(/}$/, `${' '.repeat(MAX_BODY_BYTES - Buffer.byteLength(json))}}`);
    assert.equal(Buffer.byteLength(body), MAX_BODY_BYTES);
    assert.equal((await send({ payload: body })).status, 202);
  });

  it('400 when X-GitHub-Event is missing (before the signature check)', async () => {
    const res = await send({ payload: masterPush(), secret: undefined, headers: { 'x-github-event': undefined } });
    assert.equal(res.status, 400);
    assert.match(String(res.body.message), /X-GitHub-Event/);
  });

  it('400 when X-GitHub-Delivery is missing', async () => {
    const event = webhookEvent({ event: 'push', payload: masterPush(), secret: SECRET, headers: { 'x-github-delivery': undefined } });
    const res = await call(event);
    assert.equal(res.status, 400);
  });

  it('400 when the delivery id cannot name an execution', async () => {
    const res = await send({ payload: masterPush(), deliveryId: 'bad id/with:chars' });
    assert.equal(res.status, 400);
    assert.match(String(res.body.message), /X-GitHub-Delivery/);
    assert.equal(startInputs().length, 0);
  });

  it('401 when the signature is missing', async () => {
    const res = await send({ payload: masterPush(), secret: undefined });
    assert.equal(res.status, 401);
  });

  it('401 when the signature was made with another secret', async () => {
    const res = await send({ payload: masterPush(), secret: 'not the secret' });
    assert.equal(res.status, 401);
    assert.equal(startInputs().length, 0);
  });

  it('401 when the body was changed after signing', async () => {
    const event = webhookEvent({ event: 'push', payload: masterPush(), secret: SECRET, deliveryId: DELIVERY });
    const res = await call({ ...event, body: event.body!.replace('Initial commit', 'Initial commiT') });
    assert.equal(res.status, 401);
  });

  it('401 for a malformed signature header', async () => {
    const res = await send({ payload: masterPush(), headers: { 'x-hub-signature-256': 'sha1=abc' } });
    assert.equal(res.status, 401);
  });

  it('400 for a signed body that is not JSON', async () => {
    const res = await send({ payload: '{"ref": "refs/heads/master",' });
    assert.equal(res.status, 400);
    assert.match(String(res.body.message), /JSON/);
  });

  it('400 for a signed push body that is not a push payload', async () => {
    const res = await send({ payload: { zen: 'x' } });
    assert.equal(res.status, 400);
  });
});

describe('github-webhook handler: failures', () => {
  for (const name of ['STATE_MACHINE_ARN', 'WEBHOOK_SECRET_ARN', 'CUTOVER_CONFIG']) {
    it(`500 naming ${name} when it is not set, logged once`, async () => {
      delete process.env[name];
      const first = await send({ payload: masterPush() });
      const second = await send({ payload: masterPush() });
      assert.equal(first.status, 500);
      assert.match(String(first.body.message), new RegExp(name));
      assert.deepEqual(second.body, first.body);
      assert.equal((first.output + second.output).match(/misconfigured/g)?.length, 1, 'logged once');
      assert.equal(startInputs().length, 0);
    });
  }

  it('500 naming CUTOVER_CONFIG when the config is invalid', async () => {
    process.env.CUTOVER_CONFIG = '{"services":{}}';
    const res = await send({ payload: masterPush() });
    assert.equal(res.status, 500);
    assert.match(String(res.body.message), /CUTOVER_CONFIG/);
  });

  it('502 naming the error when StartExecution fails, so GitHub can redeliver', async () => {
    sfn.on(StartExecutionCommand).rejects(new StateMachineDoesNotExist({ message: 'State Machine Does Not Exist', $metadata: {} }));
    const res = await send({ payload: masterPush() });
    assert.equal(res.status, 502);
    assert.deepEqual(res.body, { message: 'could not start the deployment: StateMachineDoesNotExist' });
  });

  it('502 when the existing execution of a redelivery cannot be described', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionLimitExceeded({ message: 'no', $metadata: {} }));
    const res = await send({ payload: masterPush() });
    assert.equal(res.status, 502);
  });

  it('502 when the webhook secret cannot be read', async () => {
    secrets.reset();
    secrets.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
    const res = await send({ payload: masterPush() });
    assert.equal(res.status, 502);
    assert.match(String(res.body.message), /ResourceNotFoundException/);
  });
});
