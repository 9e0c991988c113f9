import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2ServiceException,
  ModifyListenerCommand,
  ModifyTargetGroupAttributesCommand,
  type Action,
  type CreateTargetGroupInput,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { elbv2Client } from '../../lib/aws/clients';
import { loadConfigFile } from '../../lib/config';
import { setWeights } from '../../lib/aws/elbv2';
import { SimClock } from '../../lib/local/clock';
import { LiveLoadBalancer, type LiveLoadBalancerOptions } from '../../lib/local/live/load-balancer';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';

/** Simulated seconds per real second: a 5 s health check interval is 250 ms. */
const SCALE = 20;

// ------------------------------------------------------------------ tiny targets

interface TestTarget {
  readonly name: string;
  readonly port: number;
  /** Status `/health` answers, or 'hang' (never answers). */
  health: number | 'hang';
  /** How `/` and other paths behave: answer (after `delayMs`), hang, reset the connection, or hold until released. */
  mode: 'ok' | 'hang' | 'reset' | 'hold';
  delayMs: number;
  healthChecks: number;
  requests: number;
  held: (() => void)[];
  close(): Promise<void>;
}

const targets: TestTarget[] = [];

/** A target server on 127.0.0.1:0 that echoes the request as JSON (`/boom` answers 500, `/slow` takes 60 ms). */
async function startTarget(name: string, init: Partial<Pick<TestTarget, 'health' | 'mode' | 'delayMs'>> = {}): Promise<TestTarget> {
  const server = http.createServer();
  const t: TestTarget = {
    name,
    port: 0,
    health: init.health ?? 200,
    mode: init.mode ?? 'ok',
    delayMs: init.delayMs ?? 0,
    healthChecks: 0,
    requests: 0,
    held: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/health') {
      t.healthChecks++;
      if (t.health !== 'hang') res.writeHead(t.health).end();
      return;
    }
    t.requests++;
    if (t.mode === 'hang') return;
    if (t.mode === 'reset') {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = () => {
        const body = JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(req.url === '/boom' ? 500 : 200, { 'content-type': 'application/json', 'x-target': name }).end(body);
      };
      if (t.mode === 'hold') t.held.push(answer);
      else if (req.url === '/slow') setTimeout(answer, 60);
      else if (t.delayMs > 0) setTimeout(answer, t.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (t as { port: number }).port = (server.address() as AddressInfo).port;
  targets.push(t);
  return t;
}

/** A port nothing listens on (a server is opened and closed on it). */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ------------------------------------------------------------------ helpers

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function send(url: string, opts: { path?: string; method?: string; body?: string; headers?: Record<string, string>; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${opts.path ?? '/'}`, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const nameOf = (r: Reply): string => (JSON.parse(r.body) as { name: string }).name;

/** Poll `condition` every few ms until it holds or `timeoutMs` (real) passes. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}

const forward = (weights: [string, number][]): Action[] => [
  { Type: 'forward', ForwardConfig: { TargetGroups: weights.map(([TargetGroupArn, Weight]) => ({ TargetGroupArn, Weight })) } },
];

interface Setup {
  h: ConnectedSimulator;
  lb: LiveLoadBalancer;
  lbArn: string;
  listener: string;
  url: string;
  metrics: { namespace: string; datum: MetricDatum }[];
  tg(name: string, extra?: Partial<CreateTargetGroupInput>): Promise<string>;
}

let current: Setup | undefined;

/**
 * A simulator on a SimClock at {@link SCALE}, a load balancer `web` with one HTTP listener whose
 * default action `actions(tgs)` builds from target groups created first (`tgNames`), and a started
 * LiveLoadBalancer capturing its metrics.
 */
async function setup(
  tgNames: string[],
  actions: (tgs: string[]) => Action[],
  opts: Partial<LiveLoadBalancerOptions> & { tgSettings?: Partial<CreateTargetGroupInput>; rules?: (tgs: string[], listener: string) => Promise<void> } = {},
): Promise<Setup & { tgs: string[] }> {
  const h = connectSimulator({ clock: new SimClock({ timeScale: SCALE }) });
  const elb = elbv2Client();
  const tg = async (name: string, extra: Partial<CreateTargetGroupInput> = {}) =>
    (
      await elb.send(
        new CreateTargetGroupCommand({
          Name: name,
          Protocol: 'HTTP',
          Port: 8080,
          VpcId: 'vpc-1',
          TargetType: 'ip',
          HealthCheckPath: '/health',
          HealthCheckIntervalSeconds: 5,
          HealthCheckTimeoutSeconds: 2,
          HealthyThresholdCount: 3,
          UnhealthyThresholdCount: 2,
          ...opts.tgSettings,
          ...extra,
        }),
      )
    ).TargetGroups![0]!.TargetGroupArn!;
  const lbArn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'web' }))).LoadBalancers![0]!.LoadBalancerArn!;
  const tgs: string[] = [];
  for (const name of tgNames) tgs.push(await tg(name));
  const listener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: 80, DefaultActions: actions(tgs) }))).Listeners![0]!
    .ListenerArn!;
  if (opts.rules) await opts.rules(tgs, listener);
  const metrics: Setup['metrics'] = [];
  const lb = new LiveLoadBalancer({
    elbv2: h.sim.elbv2,
    clock: h.clock,
    publish: (namespace, data) => data.forEach((datum) => metrics.push({ namespace, datum })),
    ports: { [listener]: 0 },
    ...opts,
  });
  await lb.start();
  current = { h, lb, lbArn, listener, url: lb.url(listener), metrics, tg };
  return { ...current, tgs };
}

afterEach(async () => {
  await current?.lb.close();
  current?.h.close();
  current = undefined;
  for (const t of targets) {
    for (const release of t.held) release();
    await t.close();
  }
  targets.length = 0;
});

const target = (t: TestTarget) => ({ id: '127.0.0.1', port: t.port });

async function health(tgArn: string) {
  const out = await elbv2Client().send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }));
  return out.TargetHealthDescriptions ?? [];
}

// ------------------------------------------------------------------ tests

describe('live load balancer', () => {
  it('routes by the current forward weights: a ModifyListener through the SDK moves traffic at once', async () => {
    const s = await setup(['blue', 'green'], ([b, g]) => forward([[b!, 100], [g!, 0]]));
    const [blueTg, greenTg] = s.tgs as [string, string];
    const blue = await startTarget('blue');
    const green = await startTarget('green');
    s.lb.register(blueTg, target(blue));
    s.lb.register(greenTg, target(green));
    await waitFor('both targets healthy', () => s.lb.state(blueTg, target(blue)) === 'healthy' && s.lb.state(greenTg, target(green)) === 'healthy');

    const before = await Promise.all(Array.from({ length: 10 }, () => send(s.url)));
    await elbv2Client().send(new ModifyListenerCommand({ ListenerArn: s.listener, DefaultActions: forward([[blueTg, 0], [greenTg, 100]]) }));
    const after = await Promise.all(Array.from({ length: 10 }, () => send(s.url)));

    assert.deepEqual(new Set(before.map(nameOf)), new Set(['blue']));
    assert.deepEqual(new Set(after.map(nameOf)), new Set(['green']));
  });

  it('proxies method, path, headers and body, adding X-Forwarded-For/-Proto/-Port and X-Amzn-Trace-Id', async () => {
    const s = await setup(['blue'], ([b]) => forward([[b!, 1]]));
    const blue = await startTarget('blue');
    s.lb.register(s.tgs[0]!, target(blue));
    await waitFor('target healthy', () => s.lb.state(s.tgs[0]!, target(blue)) === 'healthy');

    const reply = await send(s.url, {
      method: 'POST',
      path: '/orders?x=1',
      body: 'hello body',
      headers: { 'content-type': 'text/plain', 'x-custom': 'yes', host: 'shop.example.com', 'x-forwarded-for': '203.0.113.7' },
    });
    const echoed = JSON.parse(reply.body) as { method: string; url: string; body: string; headers: Record<string, string> };

    assert.equal(reply.status, 200);
    assert.equal(reply.headers['x-target'], 'blue');
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.url, '/orders?x=1');
    assert.equal(echoed.body, 'hello body');
    assert.equal(echoed.headers['x-custom'], 'yes');
    assert.equal(echoed.headers.host, 'shop.example.com');
    assert.equal(echoed.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(echoed.headers['x-forwarded-proto'], 'http');
    assert.equal(echoed.headers['x-forwarded-port'], String(new URL(s.url).port));
    assert.match(echoed.headers['x-amzn-trace-id']!, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
  });

  it('balances round robin across the healthy targets of a group', async () => {
    const s = await setup(['blue'], ([b]) => forward([[b!, 1]]));
    const ts = await Promise.all(['a', 'b', 'c'].map((n) => startTarget(n)));
    for (const t of ts) s.lb.register(s.tgs[0]!, target(t));
    await waitFor('all healthy', () => ts.every((t) => s.lb.state(s.tgs[0]!, target(t)) === 'healthy'));

    const names: string[] = [];
    for (let i = 0; i < 9; i++) names.push(nameOf(await send(s.url)));

    assert.deepEqual(names.slice(0, 3).sort(), ['a', 'b', 'c']);
    assert.deepEqual(names.slice(3, 6), names.slice(0, 3));
    assert.deepEqual(names.slice(6, 9), names.slice(0, 3));
  });

  it('evaluates rules by priority (path-pattern, host-header), then the default action; answers fixed-response', async () => {
    const s = await setup(['blue', 'green'], ([b]) => forward([[b!, 1]]), {
      rules: async ([, g], listener) => {
        await elbv2Client().send(
          new CreateRuleCommand({ ListenerArn: listener, Priority: 10, Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*'] } }], Actions: forward([[g!, 1]]) }),
        );
        await elbv2Client().send(
          new CreateRuleCommand({
            ListenerArn: listener,
            Priority: 5,
            Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['admin.*.com'] } }],
            Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403', ContentType: 'text/plain', MessageBody: 'admin is closed' } }],
          }),
        );
      },
    });
    const blue = await startTarget('blue');
    const green = await startTarget('green');
    s.lb.register(s.tgs[0]!, target(blue));
    s.lb.register(s.tgs[1]!, target(green));
    await waitFor('healthy', () => s.lb.state(s.tgs[1]!, target(green)) === 'healthy' && s.lb.state(s.tgs[0]!, target(blue)) === 'healthy');

    const api = await send(s.url, { path: '/api/orders?page=2' });
    const other = await send(s.url, { path: '/apix' });
    const admin = await send(s.url, { path: '/api/orders', headers: { host: 'Admin.Example.com:8080' } });

    assert.equal(nameOf(api), 'green');
    assert.equal(nameOf(other), 'blue');
    assert.equal(admin.status, 403);
    assert.equal(admin.body, 'admin is closed');
    assert.equal(admin.headers['content-type'], 'text/plain');
  });

  it('health checks: initial → healthy after one pass; unhealthy after UnhealthyThresholdCount failures; healthy again after HealthyThresholdCount passes', async () => {
    const s = await setup(['blue'], ([b]) => forward([[b!, 1]]));
    const tgArn = s.tgs[0]!;
    const t = await startTarget('blue', { health: 200 });

    s.lb.register(tgArn, target(t));
    assert.equal(s.lb.state(tgArn, target(t)), 'initial');
    await waitFor('healthy', () => s.lb.state(tgArn, target(t)) === 'healthy');
    assert.equal(t.healthChecks, 1, 'one passed check makes a new target healthy');

    t.health = 500;
    const checksAtFailure = t.healthChecks;
    await waitFor('unhealthy', () => s.lb.state(tgArn, target(t)) === 'unhealthy');
    assert.ok(t.healthChecks - checksAtFailure >= 2, `unhealthy after ${t.healthChecks - checksAtFailure} failed checks, threshold is 2`);
    const [unhealthy] = await health(tgArn);
    assert.deepEqual(unhealthy!.TargetHealth, { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch', Description: 'Health checks failed with these codes: [500]' });

    t.health = 200;
    const checksAtRecovery = t.healthChecks;
    await waitFor('healthy again', () => s.lb.state(tgArn, target(t)) === 'healthy');
    assert.ok(t.healthChecks - checksAtRecovery >= 3, `healthy after ${t.healthChecks - checksAtRecovery} passed checks, threshold is 3`);
  });

  it('health checks: a hanging /health is Target.Timeout, a refused connection Target.FailedHealthChecks, Matcher ranges count', async () => {
    const s = await setup(['blue', 'green'], ([b, g]) => forward([[b!, 1], [g!, 1]]), { tgSettings: { Matcher: { HttpCode: '200-299,418' } } });
    const [blueTg, greenTg] = s.tgs as [string, string];
    const hanging = await startTarget('hanging', { health: 'hang' });
    const teapot = await startTarget('teapot', { health: 418 });
    const refused = { id: '127.0.0.1', port: await closedPort() };

    s.lb.register(blueTg, target(hanging));
    s.lb.register(blueTg, refused);
    s.lb.register(greenTg, target(teapot));
    await waitFor('hanging and refused unhealthy', () => s.lb.state(blueTg, target(hanging)) === 'unhealthy' && s.lb.state(blueTg, refused) === 'unhealthy');
    await waitFor('teapot healthy', () => s.lb.state(greenTg, target(teapot)) === 'healthy');

    const byPort = new Map((await health(blueTg)).map((d) => [d.Target!.Port, d.TargetHealth]));
    assert.equal(byPort.get(hanging.port)!.Reason, 'Target.Timeout');
    assert.equal(byPort.get(refused.port)!.Reason, 'Target.FailedHealthChecks');
  });

  it('fails open: routes to all registered targets when none of the group is healthy', async () => {
    const s = await setup(['blue'], ([b]) => forward([[b!, 1]]));
    const ts = await Promise.all(['a', 'b'].map((n) => startTarget(n, { health: 500 })));
    for (const t of ts) s.lb.register(s.tgs[0]!, target(t));
    await waitFor('both unhealthy', () => ts.every((t) => s.lb.state(s.tgs[0]!, target(t)) === 'unhealthy'));

    const replies = [await send(s.url), await send(s.url), await send(s.url), await send(s.url)];

    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200]);
    assert.deepEqual(new Set(replies.map(nameOf)), new Set(['a', 'b']));
  });

  it('answers 503 without registered targets, 502 when the target refuses or resets, 504 on the idle timeout', async () => {
    const paths = ['/none', '/refused', '/reset', '/hang'];
    const s = await setup(['fallback', 'none', 'refused', 'reset', 'hang'], ([f]) => forward([[f!, 1]]), {
      idleTimeoutSeconds: 1,
      rules: async ([, ...tgs], listener) => {
        for (const [i, tg] of tgs.entries()) {
          await elbv2Client().send(
            new CreateRuleCommand({ ListenerArn: listener, Priority: i + 1, Conditions: [{ Field: 'path-pattern', Values: [paths[i]!] }], Actions: forward([[tg!, 1]]) }),
          );
        }
      },
    });
    const [, , refusedTg, resetTg, hangTg] = s.tgs as [string, string, string, string, string];
    const resetting = await startTarget('reset', { mode: 'reset' });
    const hanging = await startTarget('hang', { mode: 'hang' });
    s.lb.register(refusedTg, { id: '127.0.0.1', port: await closedPort() });
    s.lb.register(resetTg, target(resetting));
    s.lb.register(hangTg, target(hanging));
    await waitFor('reset and hang targets healthy', () => s.lb.state(resetTg, target(resetting)) === 'healthy' && s.lb.state(hangTg, target(hanging)) === 'healthy');

    const [none, refused, reset, hang] = await Promise.all(paths.map((path) => send(s.url, { path })));

    assert.equal(none!.status, 503);
    assert.match(none!.body, /503 Service Temporarily Unavailable/);
    assert.equal(none!.headers.server, 'awselb/2.0');
    assert.equal(refused!.status, 502);
    assert.equal(reset!.status, 502);
    assert.equal(hang!.status, 504);
    assert.equal(hanging.requests, 1);
  });

  it('publishes ALB metrics with AWS names, dimensions, units and simulated timestamps', async () => {
    const s = await setup(['blue', 'empty'], ([b]) => forward([[b!, 1]]), {
      rules: async ([, e], listener) => {
        await elbv2Client().send(new CreateRuleCommand({ ListenerArn: listener, Priority: 1, Conditions: [{ Field: 'path-pattern', Values: ['/empty'] }], Actions: forward([[e!, 1]]) }));
      },
    });
    const [blueTg] = s.tgs as [string, string];
    const blue = await startTarget('blue');
    s.lb.register(blueTg, target(blue));
    await waitFor('healthy', () => s.lb.state(blueTg, target(blue)) === 'healthy');
    const lbDim = { Name: 'LoadBalancer', Value: `app/web/${s.lbArn.split('/').at(-1)}` };
    const tgDim = { Name: 'TargetGroup', Value: `targetgroup/blue/${blueTg.split('/').at(-1)}` };
    await waitFor('HealthyHostCount 1', () =>
      s.metrics.some((m) => m.datum.MetricName === 'HealthyHostCount' && m.datum.Value === 1 && JSON.stringify(m.datum.Dimensions) === JSON.stringify([lbDim, tgDim])),
    );
    s.metrics.length = 0;
    const simBefore = s.h.clock.nowMs();

    assert.equal((await send(s.url, { path: '/ok' })).status, 200);
    assert.equal((await send(s.url, { path: '/boom' })).status, 500);
    assert.equal((await send(s.url, { path: '/empty' })).status, 503);
    await waitFor('metrics of 3 requests', () => s.metrics.filter((m) => m.datum.MetricName === 'HTTPCode_ELB_503_Count').length === 1);

    const request = s.metrics.filter((m) => m.datum.MetricName !== 'HealthyHostCount' && m.datum.MetricName !== 'UnHealthyHostCount');
    const sum = (name: string, dims: object[]) =>
      request
        .filter((m) => m.datum.MetricName === name && JSON.stringify(m.datum.Dimensions) === JSON.stringify(dims))
        .reduce((total, m) => total + m.datum.Value!, 0);
    assert.ok(request.every((m) => m.namespace === 'AWS/ApplicationELB'));
    assert.ok(request.every((m) => m.datum.Timestamp!.getTime() >= simBefore && m.datum.Timestamp!.getTime() <= s.h.clock.nowMs()));
    assert.equal(sum('RequestCount', [lbDim]), 2, 'the 503 chose no target: not in RequestCount');
    assert.equal(sum('RequestCount', [lbDim, tgDim]), 2);
    assert.equal(sum('HTTPCode_Target_2XX_Count', [lbDim]), 1);
    assert.equal(sum('HTTPCode_Target_2XX_Count', [lbDim, tgDim]), 1);
    assert.equal(sum('HTTPCode_Target_5XX_Count', [lbDim, tgDim]), 1);
    assert.equal(sum('HTTPCode_ELB_5XX_Count', [lbDim]), 1);
    assert.equal(sum('HTTPCode_ELB_503_Count', [lbDim]), 1);
    assert.ok(!request.some((m) => m.datum.MetricName === 'HTTPCode_Target_4XX_Count'), 'zero counts are not published');
    const times = request.filter((m) => m.datum.MetricName === 'TargetResponseTime');
    assert.equal(times.length, 4);
    assert.ok(times.every((m) => m.datum.Unit === 'Seconds' && m.datum.Value! >= 0 && m.datum.Value! < 5));
    assert.ok(request.filter((m) => m.datum.MetricName !== 'TargetResponseTime').every((m) => m.datum.Unit === 'Count'));
  });

  it('DescribeTargetHealth through the SDK reports live states; an unused target group reports unused', async () => {
    const s = await setup(['blue'], ([b]) => forward([[b!, 1]]));
    const blueTg = s.tgs[0]!;
    const spareTg = await s.tg('spare');
    const t = await startTarget('blue', { health: 500, mode: 'hold' });

    s.lb.register(blueTg, target(t));
    s.lb.register(spareTg, target(t));
    const initial = await health(blueTg);
    const unused = await health(spareTg);
    t.health = 200;
    await waitFor('healthy', () => s.lb.state(blueTg, target(t)) === 'healthy');
    const healthy = await health(blueTg);
    const inFlight = send(s.url);
    await waitFor('request held by the target', () => t.held.length === 1);
    const removed = s.lb.deregister(blueTg, target(t));
    const draining = await health(blueTg);
    t.held.shift()!();
    await inFlight;
    await removed;
    const gone = await health(blueTg);

    assert.deepEqual(initial.map((d) => [d.Target, d.HealthCheckPort, d.TargetHealth]), [
      [{ Id: '127.0.0.1', Port: t.port, AvailabilityZone: 'us-east-1a' }, String(t.port), { State: 'initial', Reason: 'Elb.InitialHealthChecking', Description: 'Initial health checks in progress' }],
    ]);
    assert.equal(unused[0]!.TargetHealth!.State, 'unused');
    assert.equal(unused[0]!.TargetHealth!.Reason, 'Target.NotInUse');
    assert.deepEqual(healthy[0]!.TargetHealth, { State: 'healthy' });
    assert.deepEqual(draining[0]!.TargetHealth, { State: 'draining', Reason: 'Target.DeregistrationInProgress', Description: 'Target deregistration is in progress' });
    assert.deepEqual(gone, []);
  });

  it('once started, is the only target source: the ECS simulator\'s simulated tasks no longer show in DescribeTargetHealth', async () => {
    const config = loadConfigFile(new URL('../fixtures/hello-world-production.json', import.meta.url).pathname);
    const blueTg = config.services['hello-world']!.environments.production!.slots.blue.targetGroupArn;
    const h = connectSimulator({ clock: new SimClock({ timeScale: SCALE }) });
    h.sim.seedFromConfig(config);
    const lb = new LiveLoadBalancer({ elbv2: h.sim.elbv2, clock: h.clock, publish: () => {} });
    current = { h, lb, lbArn: '', listener: '', url: '', metrics: [], tg: async () => '' };
    const simulated = await health(blueTg);

    await lb.start();
    const beforeRegistration = await health(blueTg);
    const t = await startTarget('live');
    lb.register(blueTg, target(t));
    const live = await health(blueTg);

    assert.ok(simulated.length > 0, 'the seeded service reports simulated tasks before the live load balancer starts');
    assert.deepEqual(beforeRegistration, []);
    assert.deepEqual(live.map((d) => d.Target!.Port), [t.port]);
  });

  it('draining: no new requests, in-flight ones complete, removed when idle or after the deregistration delay', async () => {
    const s = await setup(['blue'], ([b]) => forward([[b!, 1]]));
    const tgArn = s.tgs[0]!;
    const held = await startTarget('held', { mode: 'hold' });
    const other = await startTarget('other');
    s.lb.register(tgArn, target(held));
    s.lb.register(tgArn, target(other));
    await waitFor('healthy', () => s.lb.state(tgArn, target(held)) === 'healthy' && s.lb.state(tgArn, target(other)) === 'healthy');
    const first = Promise.all([send(s.url), send(s.url)]);
    await waitFor('one request held', () => held.held.length === 1);

    let removed = false;
    const deregistered = s.lb.deregister(tgArn, target(held)).then(() => (removed = true));
    const during = await Promise.all(Array.from({ length: 4 }, () => send(s.url)));
    assert.equal(s.lb.state(tgArn, target(held)), 'draining');
    assert.equal(removed, false);
    held.held.shift()!();
    const [a, b] = await first;
    await deregistered;

    assert.deepEqual([a!.status, b!.status], [200, 200]);
    assert.deepEqual(new Set(during.map(nameOf)), new Set(['other']));
    assert.equal(s.lb.state(tgArn, target(held)), undefined);

    // The deregistration delay ends draining even with a request still in flight.
    await elbv2Client().send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tgArn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '2' }] }));
    s.lb.register(tgArn, target(held));
    await waitFor('healthy again', () => s.lb.state(tgArn, target(held)) === 'healthy');
    const stuck = Promise.all([send(s.url), send(s.url)]);
    await waitFor('a request held again', () => held.held.length === 1);
    await s.lb.deregister(tgArn, target(held));
    assert.equal(held.held.length, 1, 'removed while the request is still in flight');
    assert.equal(s.lb.state(tgArn, target(held)), undefined);
    held.held.shift()!();
    assert.deepEqual((await stuck).map((r) => r.status), [200, 200]);
  });

  it('DescribeTargetGroupAttributes / ModifyTargetGroupAttributes: deregistration delay 0-3600, default 300', async () => {
    const s = await setup(['blue'], ([b]) => forward([[b!, 1]]));
    const elb = elbv2Client();
    const TargetGroupArn = s.tgs[0]!;
    const key = 'deregistration_delay.timeout_seconds';

    const before = await elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn }));
    const modified = await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn, Attributes: [{ Key: key, Value: '30' }] }));
    const after = await elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn }));

    assert.deepEqual(before.Attributes, [{ Key: key, Value: '300' }]);
    assert.deepEqual(modified.Attributes, [{ Key: key, Value: '30' }]);
    assert.deepEqual(after.Attributes, [{ Key: key, Value: '30' }]);
    for (const [Key, Value] of [[key, '3601'], [key, '-1'], [key, 'soon'], ['stickiness.enabled', 'true']] as const) {
      await assert.rejects(elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn, Attributes: [{ Key, Value }] })), (err: unknown) => {
        assert.ok(err instanceof ElasticLoadBalancingV2ServiceException);
        assert.equal(err.name, 'ValidationError');
        assert.match(err.message, Key === key ? /0 to 3600/ : /stickiness\.enabled/);
        return true;
      });
    }
    await assert.rejects(elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: `${TargetGroupArn}0` })), { name: 'TargetGroupNotFoundException' });
  });

  it('close() resolves pending deregistrations and cuts requests still in flight after closeTimeoutMs', async () => {
    const s = await setup(['blue'], ([b]) => forward([[b!, 1]]), { closeTimeoutMs: 100 });
    const tgArn = s.tgs[0]!;
    const held = await startTarget('held', { mode: 'hold' });
    s.lb.register(tgArn, target(held));
    await waitFor('healthy', () => s.lb.state(tgArn, target(held)) === 'healthy');
    const stuck = send(s.url).then(
      (r) => r.status,
      (err: Error) => err.message,
    );
    await waitFor('request held', () => held.held.length === 1);
    const deregistered = s.lb.deregister(tgArn, target(held));

    await s.lb.close();
    await deregistered;

    assert.equal(s.lb.state(tgArn, target(held)), undefined);
    assert.match(String(await stuck), /socket hang up|ECONNRESET/);
    assert.throws(() => s.lb.register(tgArn, target(held)), /closed/);
  });

  it('zero failed requests while weights switch 100/0 → 0/100 and the old targets drain, deregister and stop', async () => {
    const s = await setup(['blue', 'green'], ([b, g]) => forward([[b!, 100], [g!, 0]]));
    const [blueTg, greenTg] = s.tgs as [string, string];
    const blues = await Promise.all(['blue-1', 'blue-2'].map((n) => startTarget(n, { delayMs: 1 })));
    const greens = await Promise.all(['green-1', 'green-2'].map((n) => startTarget(n, { delayMs: 1 })));
    for (const t of blues) s.lb.register(blueTg, target(t));
    for (const t of greens) s.lb.register(greenTg, target(t));
    await waitFor('all healthy', () => [...blues.map((t) => s.lb.state(blueTg, target(t))), ...greens.map((t) => s.lb.state(greenTg, target(t)))].every((x) => x === 'healthy'));

    // A keep-alive client with 12 concurrent request loops; every 4th request takes 60 ms at the target.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 12 });
    const outcomes: { name: string; status: number; doneAt: number }[] = [];
    const failures: string[] = [];
    let stop = false;
    let sent = 0;
    const deadline = Date.now() + 20_000;
    const loop = async () => {
      while (!stop && Date.now() < deadline && sent < 20_000) {
        const path = sent++ % 4 === 0 ? '/slow' : '/';
        try {
          const r = await send(s.url, { path, agent, method: sent % 2 ? 'GET' : 'POST', body: sent % 2 ? undefined : 'order' });
          outcomes.push({ name: r.status === 200 ? nameOf(r) : '', status: r.status, doneAt: performance.now() });
          if (r.status !== 200) failures.push(`HTTP ${r.status}: ${r.body.slice(0, 80)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const loops = Array.from({ length: 12 }, loop);
    try {
      await waitFor('100 requests on blue', () => outcomes.length >= 100, 10_000);
      await setWeights({ kind: 'listener', arn: s.listener }, { [blueTg]: 0, [greenTg]: 100 });
      const deregisteredAt = performance.now();
      await Promise.all(blues.map((t) => s.lb.deregister(blueTg, target(t))));
      const blueRequestsAtDrain = blues.map((t) => t.requests);
      await Promise.all(blues.map((t) => t.close()));
      const count = outcomes.length;
      await waitFor('200 more requests on green', () => outcomes.length >= count + 200, 10_000);
      stop = true;
      await Promise.all(loops);

      assert.deepEqual(failures, []);
      assert.ok(outcomes.filter((o) => o.name.startsWith('blue')).length >= 50);
      assert.ok(outcomes.filter((o) => o.name.startsWith('green')).length >= 200);
      assert.ok(
        outcomes.some((o) => o.name.startsWith('blue') && o.doneAt > deregisteredAt),
        'requests in flight on blue when it was deregistered completed during draining',
      );
      assert.deepEqual(blues.map((t) => t.requests), blueRequestsAtDrain, 'nothing reached blue after it drained');
      assert.ok(blues.every((t) => s.lb.state(blueTg, target(t)) === undefined));
    } finally {
      stop = true;
      await Promise.all(loops);
      agent.destroy();
    }
  });
});
