/** lib/domain/smoke.ts and lib/aws/smoke-http.ts: judging HTTP checks, the cause's 200 bytes, listener URLs, one GET with its timeout. */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeListenersCommand, DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { decideRound, firstBytes, judgeHttpCheck, verifyPlan } from '../../lib/domain/smoke';
import { listenerArnOf, listenerUrl, LISTENER_URLS_ENV, runHttpCheck } from '../../lib/aws/smoke-http';

const check = { path: '/health', expectStatus: 200, expectBodyContains: '"status":"ok"', timeoutSeconds: 1 };
const LISTENER = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/a1b2c3d4e5f60718';
const RULE = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/a1b2c3d4e5f60718/9683b2d02a6cabee';
const elbv2 = mockClient(ElasticLoadBalancingV2Client);
afterEach(() => {
  elbv2.reset();
  delete process.env[LISTENER_URLS_ENV];
});

describe('verify: judging', () => {
  it('passes on the expected status and text; fails naming what came', () => {
    assert.equal(judgeHttpCheck(check, { kind: 'response', status: 200, body: '{"status":"ok"}', ms: 3 }).ok, true);
    assert.equal(judgeHttpCheck(check, { kind: 'response', status: 503, body: 'down', ms: 3 }).detail, 'GET /health answered 503, expected 200; body: "down"');
    assert.equal(judgeHttpCheck(check, { kind: 'response', status: 200, body: '{"status":"degraded"}', ms: 3 }).detail, 'GET /health answered 200 without "\\"status\\":\\"ok\\"" in its body: "{\\"status\\":\\"degraded\\"}"');
    assert.equal(judgeHttpCheck(check, { kind: 'error', error: 'ECONNREFUSED', ms: 1 }).detail, 'GET /health: no answer (ECONNREFUSED)');
  });

  it('quotes the body to 200 bytes of UTF-8, never cutting a character', () => {
    assert.equal(firstBytes('a'.repeat(200)), 'a'.repeat(200));
    assert.equal(firstBytes('a'.repeat(201)), `${'a'.repeat(200)}…`);
    const euros = '€'.repeat(100); // 3 bytes each
    const cut = firstBytes(euros);
    assert.equal(cut, `${'€'.repeat(66)}…`, '66 × 3 = 198 bytes: the 67th would pass 200');
  });

  it('decides a round: retry while attempts remain, the message names the listener and the failed checks', () => {
    const plan = verifyPlan({ http: [{ path: '/health', expectStatus: 200, timeoutSeconds: 10 }], commandTimeoutSeconds: 600, attempts: 2, intervalSeconds: 5, afterPromotion: true })!;
    const failed = [{ path: '/health', ok: false, detail: 'GET /health answered 500, expected 200; body: ""' }];
    assert.deepEqual([decideRound(plan, 'test', 1, 'http://x', failed).retry, decideRound(plan, 'test', 2, 'http://x', failed).retry], [true, false]);
    assert.equal(decideRound(plan, 'production', 2, 'http://x', failed).message, '1 of 1 HTTP check(s) failed through the production listener (100% on the new release) at http://x after 2 attempt(s): GET /health answered 500, expected 200; body: ""');
    assert.equal(decideRound(plan, 'test', 1, 'http://x', [{ path: '/health', ok: true, detail: '' }]).passed, true);
    assert.equal(verifyPlan(undefined), null);
  });
});

describe('verify: listener URL and one GET', () => {
  it('builds the URL from DescribeListeners and DescribeLoadBalancers; a rule uses its listener', async () => {
    elbv2.on(DescribeListenersCommand, { ListenerArns: [LISTENER] }).resolves({ Listeners: [{ ListenerArn: LISTENER, LoadBalancerArn: 'arn:lb', Port: 8443, Protocol: 'HTTPS' }] });
    elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: ['arn:lb'] }).resolves({ LoadBalancers: [{ DNSName: 'web-123.us-east-1.elb.amazonaws.com' }] });
    assert.equal(await listenerUrl({ kind: 'listener', arn: LISTENER }), 'https://web-123.us-east-1.elb.amazonaws.com:8443');
    assert.equal(listenerArnOf({ kind: 'rule', arn: RULE }), LISTENER);
    assert.equal(await listenerUrl({ kind: 'rule', arn: RULE }), 'https://web-123.us-east-1.elb.amazonaws.com:8443');
  });

  it('a listener that does not exist is Cutover.ResourceState naming it; the override needs no AWS call', async () => {
    elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
    await assert.rejects(listenerUrl({ kind: 'listener', arn: LISTENER }), (err: Error) => err.name === 'Cutover.ResourceState' && err.message.includes(LISTENER));
    process.env[LISTENER_URLS_ENV] = JSON.stringify({ [LISTENER]: 'http://127.0.0.1:4782/' });
    elbv2.reset();
    assert.equal(await listenerUrl({ kind: 'listener', arn: LISTENER }), 'http://127.0.0.1:4782');
    assert.equal(elbv2.calls().length, 0);
  });

  it('GETs once: status and body; a slow answer times out; a closed port is an error answer, not a throw', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('late'), 3000).unref();
      else res.writeHead(418).end('{"status":"ok"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const answer = await runHttpCheck(url, check);
      assert.equal(answer.kind, 'response');
      assert.equal(answer.kind === 'response' && answer.status, 418);
      const slow = await runHttpCheck(url, { ...check, path: '/slow' });
      assert.deepEqual(slow.kind === 'error' && slow.error, 'timed out after 1 s');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    const refused = await runHttpCheck(url, check);
    assert.equal(refused.kind, 'error');
    // A closed server: the kept-alive socket is gone (UND_ERR_SOCKET) or a new one is refused (ECONNREFUSED).
    assert.match(refused.kind === 'error' ? refused.error : '', /ECONNREFUSED|UND_ERR_SOCKET|other side closed/);
  });
});
