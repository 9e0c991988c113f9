/**
 * GitHub → the twin's webhook endpoint over real HTTP, with real @octokit/webhooks-examples payloads
 * signed as GitHub signs them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { Twin } from '../../lib/local/twin';
import { masterPush, ping, signature, tagPush } from '../helpers/github';
import { deliver, outcome, sfnClientFor, startTwin, type HttpResult } from '../helpers/http';

describe('e2e: GitHub webhook over HTTP', () => {
  let twin: Twin;
  let sfn: SFNClient;

  const executionCount = async () =>
    (await sfn.send(new ListExecutionsCommand({ stateMachineArn: twin.deployStateMachineArn }))).executions?.length ?? 0;

  /** Assert a delivery started nothing: the execution count is unchanged. */
  const startsNothing = async (send: () => Promise<HttpResult>): Promise<HttpResult> => {
    const before = await executionCount();
    const res = await send();
    assert.equal(await executionCount(), before, 'no execution may start for this delivery');
    return res;
  };

  before(async () => {
    twin = await startTwin();
    sfn = sfnClientFor(twin);
  });
  after(async () => {
    sfn?.destroy();
    await twin?.stop();
  });

  it('a signed push to Codertocat/Hello-World master → 202, an execution named by the delivery id that succeeds; a redelivery answers with the same execution', async () => {
    const deliveryId = randomUUID();
    const push = masterPush();
    assert.equal(await executionCount(), 0);

    const res = await deliver(twin.url, { event: 'push', payload: push, secret: twin.webhookSecret, deliveryId });

    assert.equal(res.status, 202, res.text);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const executionArn = res.json?.executionArn;
    assert.equal(executionArn, `arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:${deliveryId}`);

    // GitHub redelivers while the execution still runs (a slow 202) — same execution.
    const early = await deliver(twin.url, { event: 'push', payload: push, secret: twin.webhookSecret, deliveryId });
    assert.equal(early.status, 202, early.text);
    assert.equal(early.json?.executionArn, executionArn);

    const done = await twin.sfn.waitForExecution(executionArn as string);
    assert.equal(done.status, 'SUCCEEDED', outcome(twin, executionArn as string));
    assert.equal(done.name, deliveryId);
    const input = JSON.parse(done.input ?? '{}') as { service: string; environment: string; release: { commit: string; ref: string }; trigger: { source: string; deliveryId: string } };
    assert.equal(input.service, 'hello-world');
    assert.equal(input.environment, 'production');
    assert.equal(input.release.commit, push.head_commit!.id);
    assert.equal(input.trigger.source, 'github-push');
    assert.equal(input.trigger.deliveryId, deliveryId);

    // And after it has finished.
    const late = await deliver(twin.url, { event: 'push', payload: push, secret: twin.webhookSecret, deliveryId });
    assert.equal(late.status, 202, late.text);
    assert.equal(late.json?.executionArn, executionArn);

    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: twin.deployStateMachineArn }));
    assert.deepEqual(
      listed.executions?.map((e) => [e.name, e.status]),
      [[deliveryId, 'SUCCEEDED']],
    );
  });

  it('a bad signature → 401, no execution', async () => {
    const res = await startsNothing(() =>
      deliver(twin.url, { event: 'push', payload: masterPush(), secret: 'not-the-webhook-secret' }),
    );
    assert.equal(res.status, 401);
    assert.deepEqual(res.json, { message: 'the signature does not match the body' });
  });

  it('a body changed after signing → 401, no execution', async () => {
    const body = JSON.stringify(masterPush());
    const tampered = body.replace('"Initial commit"', '"Tampered commit"');
    assert.notEqual(tampered, body);
    const res = await startsNothing(() =>
      deliver(twin.url, {
        event: 'push',
        payload: tampered,
        headers: { 'x-hub-signature-256': signature(twin.webhookSecret, body) },
      }),
    );
    assert.equal(res.status, 401);
  });

  it('a missing signature → 401, no execution', async () => {
    const res = await startsNothing(() => deliver(twin.url, { event: 'push', payload: masterPush() }));
    assert.equal(res.status, 401);
    assert.deepEqual(res.json, { message: 'X-Hub-Signature-256 is required' });
  });

  it('a signed body that is not JSON → 400, no execution', async () => {
    const res = await startsNothing(() =>
      deliver(twin.url, { event: 'push', payload: '{"ref": "refs/heads/master", ', secret: twin.webhookSecret }),
    );
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { message: 'the body is not valid JSON' });
  });

  it('a missing X-GitHub-Event header → 400, no execution', async () => {
    const res = await startsNothing(() => deliver(twin.url, { event: undefined, payload: masterPush(), secret: twin.webhookSecret }));
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { message: 'X-GitHub-Event and X-GitHub-Delivery headers are required' });
  });

  it('a body over 1 MiB → 413, no execution', async () => {
    const push = masterPush() as unknown as Record<string, unknown>;
    push.padding = 'x'.repeat(1_048_576);
    const res = await startsNothing(() => deliver(twin.url, { event: 'push', payload: push, secret: twin.webhookSecret }));
    assert.equal(res.status, 413);
    assert.match(String(res.json?.message), /at most 1048576 are accepted/);
  });

  it('a ping → 200 with its zen, no execution', async () => {
    const payload = ping();
    const res = await startsNothing(() => deliver(twin.url, { event: 'ping', payload, secret: twin.webhookSecret }));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { ok: true, zen: payload.zen });
  });

  it('a tag push → 200 ignored, no execution', async () => {
    const res = await startsNothing(() => deliver(twin.url, { event: 'push', payload: tagPush(), secret: twin.webhookSecret }));
    assert.equal(res.status, 200);
    const body = res.json;
    assert.deepEqual(Object.keys(body ?? {}), ['ignored']);
    assert.match(String(body?.ignored), /tag/i);
  });

  it('a push to a branch the config does not map → 200 ignored, no execution', async () => {
    const push = masterPush();
    push.ref = 'refs/heads/feature/not-configured';
    const res = await startsNothing(() => deliver(twin.url, { event: 'push', payload: push, secret: twin.webhookSecret }));
    assert.equal(res.status, 200);
    const body = res.json;
    assert.deepEqual(Object.keys(body ?? {}), ['ignored']);
    assert.match(String(body?.ignored), /feature\/not-configured/);
  });

  it('an event cutover does not handle (issues) → 200 ignored, no execution', async () => {
    const res = await startsNothing(() =>
      deliver(twin.url, { event: 'issues', payload: { action: 'opened' }, secret: twin.webhookSecret }),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { ignored: 'event "issues" is not handled' });
  });

  it('only the one deployable delivery ever started an execution', async () => {
    assert.equal(await executionCount(), 1);
  });
});
