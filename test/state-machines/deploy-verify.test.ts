/**
 * deploy.asl.json's verification (issue 12 part 4), executed on the twin: HTTP checks through the test
 * listener before any production traffic, retried `attempts` rounds `intervalSeconds` apart, and again
 * through the production listener at 100% before success is recorded. The simulator's listeners serve
 * no HTTP, so each test runs the release's answers as local HTTP servers and points the listeners at
 * them with CUTOVER_LISTENER_URLS (the override the living twin sets to its load balancer).
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LISTENER_URLS_ENV } from '../../lib/aws/smoke-http';
import { configVariant, deployInput, TestTwin } from '../helpers/twin';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** An HTTP server whose answer to each path is `answer(path, n)` (n: requests so far to that path). */
async function serve(answer: (path: string, n: number) => { status: number; body: string }): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const counts = new Map<string, number>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const n = (counts.get(path) ?? 0) + 1;
    counts.set(path, n);
    requests.push(path);
    const a = answer(path, n);
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

const ok = () => ({ status: 200, body: '{"status":"ok","count":3}' });
const verifyConfig = (verify: Record<string, unknown> = {}) =>
  configVariant((env) => {
    env.databaseFailurePolicy = 'keep';
    env.strategy = { type: 'canary', percent: 10, bakeSeconds: 30 };
    env.verify = { http: [{ path: '/health', expectBodyContains: '"status":"ok"' }, { path: '/orders/count' }], attempts: 3, intervalSeconds: 5, ...verify };
  });

describe('deploy: verification through the test and production listeners', () => {
  let savedEnv: string | undefined;
  const servers: Array<{ close: () => Promise<void> }> = [];
  before(() => (savedEnv = process.env[LISTENER_URLS_ENV]));
  after(async () => {
    if (savedEnv === undefined) delete process.env[LISTENER_URLS_ENV];
    else process.env[LISTENER_URLS_ENV] = savedEnv;
    for (const s of servers) await s.close();
  });
  /** Point the test and production listeners of the config at two servers. */
  async function listeners(test: Parameters<typeof serve>[0], production: Parameters<typeof serve>[0]) {
    const [testServer, prodServer] = [await serve(test), await serve(production)];
    servers.push(testServer, prodServer);
    const env = t!.env as { test: { listenerArn: string }; production: { listenerArn: string } };
    process.env[LISTENER_URLS_ENV] = JSON.stringify({ [env.test.listenerArn]: testServer.url, [env.production.listenerArn]: prodServer.url });
    return { testServer, prodServer };
  }
  /** Percent of production traffic the deployment's new slot got from any production listener change. */
  const productionWeightsOnNew = (twin: TestTwin, newTg: string) =>
    twin.sim.calls
      .filter((c) => c.operation === 'ModifyListener' && (c.input as { ListenerArn?: string }).ListenerArn === (twin.env as { production: { listenerArn: string } }).production.listenerArn)
      .map((c) => (c.input as { DefaultActions: Array<{ ForwardConfig: { TargetGroups: Array<{ TargetGroupArn: string; Weight: number }> } }> }).DefaultActions[0]!.ForwardConfig.TargetGroups.find((g) => g.TargetGroupArn === newTg)?.Weight ?? 0);

  it('a release that passes: checked through the test listener before traffic and through production at 100%, then promoted', async () => {
    t = await TestTwin.start({ config: verifyConfig() });
    const { testServer, prodServer } = await listeners(ok, ok);
    const { d, result } = await t.deploy(deployInput());
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const states = t.statesEntered(d);
    assert.ok(states.indexOf('VerifyTest') < states.indexOf('ShiftTraffic'), 'the test listener is checked before production traffic moves');
    assert.ok(states.indexOf('VerifyProduction') > states.lastIndexOf('ShiftTraffic') && states.indexOf('VerifyProduction') < states.indexOf('Promote'), 'production is checked at 100%, before success is recorded');
    assert.deepEqual(testServer.requests.sort(), ['/health', '/orders/count']);
    assert.deepEqual(prodServer.requests.sort(), ['/health', '/orders/count']);
  });

  it('a smoke test that fails: rolled back before any production traffic, naming the check, the status and the body\'s first 200 bytes', async () => {
    t = await TestTwin.start({ config: verifyConfig() });
    const long = `{"error":"export is not configured","detail":"${'x'.repeat(400)}"}`;
    const { testServer, prodServer } = await listeners((path) => (path === '/orders/count' ? { status: 503, body: long } : ok()), ok);
    const newTg = t.weights().blue === 100 ? (t.env as any).slots.green.targetGroupArn : (t.env as any).slots.blue.targetGroupArn;
    const { d, result } = await t.deploy(deployInput());
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /1 of 2 HTTP check\(s\) failed through the test listener \(no production traffic on the new release\)/);
    assert.match(result.cause!, /GET \/orders\/count answered 503, expected 200; body: /);
    const quoted = /body: "((?:[^"\\]|\\.)*)"/.exec(result.cause!)![1]!;
    assert.ok(JSON.parse(`"${quoted}"`).length <= 201, 'the body is quoted to 200 bytes (and an ellipsis)');
    assert.equal(testServer.requests.filter((p) => p === '/orders/count').length, 3, 'three rounds (attempts)');
    const states = t.statesEntered(d);
    assert.ok(states.includes('WaitBeforeVerifyTest') && states.includes('VerifyFailed') && !states.includes('ShiftTraffic'));
    assert.deepEqual(productionWeightsOnNew(t, newTg).filter((w) => w > 0), [], 'the production listener never forwarded to the new release');
    assert.equal(prodServer.requests.length, 0);
    assert.equal((await t.record(d))?.status, 'rolled-back');
  });

  it('a check that fails once, then passes: retried after intervalSeconds, and the release goes on', async () => {
    t = await TestTwin.start({ config: verifyConfig() });
    await listeners((path, n) => (path === '/health' && n === 1 ? { status: 503, body: '{"status":"starting"}' } : ok()), ok);
    const { d, result } = await t.deploy(deployInput());
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.equal(t.statesEntered(d).filter((s) => s === 'VerifyTest').length, 2);
  });

  it('post-deployment verification that fails at 100%: rolled back to the previous release, which still runs', async () => {
    t = await TestTwin.start({ config: verifyConfig() });
    const before = t.weights();
    await listeners(ok, (path) => (path === '/health' ? { status: 500, body: 'boom' } : ok()));
    const { d, result } = await t.deploy(deployInput());
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /through the production listener \(100% on the new release\)/);
    assert.match(result.cause!, /GET \/health answered 500, expected 200; body: "boom"/);
    assert.deepEqual(t.weights(), before, 'production is back on the previous release');
    assert.ok(!t.statesEntered(d).includes('Promote'));
  });

  it('verify without afterPromotion: production is not checked', async () => {
    t = await TestTwin.start({ config: verifyConfig({ afterPromotion: false }) });
    const { prodServer } = await listeners(ok, ok);
    const { d, result } = await t.deploy(deployInput());
    assert.equal(result.status, 'SUCCEEDED');
    assert.ok(!t.statesEntered(d).includes('VerifyProduction'));
    assert.equal(prodServer.requests.length, 0);
  });

  it('the smoke-test command: a one-off task of the new release with CUTOVER_TEST_URL, before traffic; its failure rolls back with its exit code', async () => {
    t = await TestTwin.start({ config: verifyConfig({ command: ['npm', 'run', 'smoke'] }) });
    const { testServer } = await listeners(ok, ok);
    const started: Array<{ command: string[]; startedBy?: string }> = [];
    t.sim.ecs.setRunTaskOutcome((task) => {
      started.push({ command: task.command, startedBy: task.startedBy });
      return { exitCode: task.startedBy === 'cutover-smoke' && started.filter((s) => s.startedBy === 'cutover-smoke').length > 1 ? 1 : 0, durationSeconds: 15 };
    });
    const passing = await t.deploy(deployInput());
    assert.equal(passing.result.status, 'SUCCEEDED', `${passing.result.error}: ${passing.result.cause}`);
    const states = t.statesEntered(passing.d);
    assert.ok(states.indexOf('RunSmokeTest') > states.indexOf('VerifyTest') && states.indexOf('RunSmokeTest') < states.indexOf('ShiftTraffic'));
    const runTask = t.sim.calls.find((c) => c.operation === 'RunTask' && (c.input as { startedBy?: string }).startedBy === 'cutover-smoke')!;
    const override = (runTask.input as { overrides: { containerOverrides: Array<{ command: string[]; environment: Array<{ name: string; value: string }> }> } }).overrides.containerOverrides[0]!;
    assert.deepEqual(override.command, ['npm', 'run', 'smoke']);
    assert.deepEqual(override.environment, [{ name: 'CUTOVER_TEST_URL', value: testServer.url }]);

    const failing = await t.deploy(deployInput());
    assert.equal(failing.result.status, 'FAILED');
    assert.equal(failing.result.error, 'Cutover.RolledBack');
    assert.match(failing.result.cause!, /the smoke test "npm run smoke" failed with exit code 1/);
    assert.ok(!t.statesEntered(failing.d).includes('ShiftTraffic'), 'no production traffic moved');
  });
});
