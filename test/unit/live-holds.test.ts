/**
 * The living twin under real lag: a container process that is slow to listen holds the simulated
 * clock, so its health-check grace period and the load balancer's health checks count from the moment
 * it listens (no replacement loop), and one that never listens holds it only for `listenTimeoutMs`,
 * then a warning names the task, its service, port and log. Real processes (tiny Node scripts), the
 * real load balancer, a high time scale (×2000: a 30 s grace period is 15 real ms).
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimClock, type ClockWarning } from '../../lib/local/clock';
import { LiveEcs } from '../../lib/local/live/ecs';
import { LiveLoadBalancer } from '../../lib/local/live/load-balancer';
import { explainServiceWait } from '../../lib/local/live/seed';
import type { LocalImage } from '../../lib/local/live/types';
import { Elbv2Simulator, forwardAction } from '../../lib/local/simulator';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const CLUSTER = 'holds';
const TG = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web/0123456789abcdef`;
const LISTENER = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener/app/web/0123456789abcdef/fedcba9876543210`;
const NETWORK = { awsvpcConfiguration: { subnets: ['subnet-1'] } };

const SCRIPTS: Record<string, string> = {
  // Listens on $PORT only after LISTEN_AFTER_MS real milliseconds (a slow start on a busy machine).
  'slow.js': `setTimeout(() => require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1'), Number(process.env.LISTEN_AFTER_MS));`,
  'never.js': `setInterval(() => {}, 1000);`,
  'job.js': `setTimeout(() => process.exit(0), Number(process.env.RUN_MS));`,
};

let dir: string;
let clock: SimClock;
let ecs: LiveEcs | undefined;
let elbv2: Elbv2Simulator;
let lb: LiveLoadBalancer;
let images: Record<string, LocalImage>;
const warnings: ClockWarning[] = [];

/** The live ECS behind the load balancer; a container may take `listenTimeoutMs` real ms to listen. */
function startEcs(listenTimeoutMs: number): LiveEcs {
  ecs = new LiveEcs({ clock, region: REGION, accountId: ACCOUNT }, { elbv2, targets: lb, images: { resolve: (ref) => images[ref] }, logDir: join(dir, 'logs'), listenTimeoutMs, closeGraceMs: 300 });
  ecs.createCluster({ clusterName: CLUSTER });
  return ecs;
}

async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function td(ecs: LiveEcs, family: string, image: string): string {
  return ecs.registerTaskDefinition({
    family,
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    containerDefinitions: [{ name: 'app', image, essential: true, portMappings: [{ containerPort: 8080 }] }],
  }).taskDefinition!.taskDefinitionArn!;
}

function createService(ecs: LiveEcs, name: string, image: string): void {
  ecs.createService({
    cluster: CLUSTER,
    serviceName: name,
    taskDefinition: td(ecs, name, image),
    desiredCount: 1,
    launchType: 'FARGATE',
    networkConfiguration: NETWORK,
    loadBalancers: [{ targetGroupArn: TG, containerName: 'app', containerPort: 8080 }],
    healthCheckGracePeriodSeconds: 30,
  });
}

describe('living twin: real lag holds the simulated clock', () => {
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'live-holds-'));
    for (const [name, source] of Object.entries(SCRIPTS)) await writeFile(join(dir, name), source);
    warnings.length = 0;
    clock = new SimClock({ timeScale: 2000, onWarning: (w) => warnings.push(w) });
    elbv2 = new Elbv2Simulator({ clock, region: REGION, accountId: ACCOUNT });
    elbv2.seedTargetGroup(TG, 8080, { HealthCheckPath: '/', HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2 });
    elbv2.seedListener(LISTENER, [forwardAction({ [TG]: 100 })]);
    lb = new LiveLoadBalancer({ elbv2, clock, publish: () => {}, ports: { [LISTENER]: 0 } });
    await lb.start();
    const node = (script: string, environment: Record<string, string>): LocalImage => ({ command: [process.execPath, join(dir, script)], cwd: dir, environment });
    images = {
      'slow:v1': node('slow.js', { LISTEN_AFTER_MS: '400' }),
      'never:v1': node('never.js', {}),
      'job:v1': node('job.js', { RUN_MS: '150' }),
    };
  });

  afterEach(async () => {
    await ecs?.close();
    ecs = undefined;
    await lb.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a task that listens 400 real ms after its spawn is not replaced: the grace period (15 real ms at ×2000) counts from when it listens', async () => {
    // Prepare
    const ecs = startEcs(10_000);

    // Act
    createService(ecs, 'slow', 'slow:v1');
    const svc = await until("the service to reach a steady state", () => {
      const s = ecs.describeService(CLUSTER, 'slow');
      return s?.deployments?.[0]?.rolloutState === 'COMPLETED' && s;
    });

    // Assess
    const events = (svc.events ?? []).map((e) => e.message ?? '');
    assert.equal(events.filter((m) => m.includes('failed ELB health checks')).length, 0, events.join('\n'));
    assert.equal((await readdir(join(dir, 'logs', CLUSTER))).length, 1, 'one task was ever started');
    assert.equal(ecs.tasksOf(CLUSTER, 'slow')[0]!.containers[0]!.listening, true);
    assert.deepEqual(warnings, []);
    assert.equal(clock.held, false);
  });

  it('a task that never listens holds the clock only for listenTimeoutMs; the warning names the task, service, port, log and what to do', async () => {
    // Prepare
    const ecs = startEcs(300);

    // Act
    createService(ecs, 'never', 'never:v1');
    const task = await until('the task to run', () => ecs.tasksOf(CLUSTER, 'never').find((t) => t.lastStatus === 'RUNNING'));
    const port = task.containers[0]!.hostPort!;
    const heldMeanwhile = clock.holds().map((h) => h.what);
    const explained = explainServiceWait({ ecs, clock }, CLUSTER, 'never');
    const warning = await until('the hold to expire', () => warnings[0]);

    // Assess
    const id = task.taskArn.split('/').pop()!;
    assert.ok(heldMeanwhile.includes(`task ${id} of service never to listen on port ${port}`), heldMeanwhile.join('; '));
    assert.match(explained, new RegExp(`${id} RUNNING, not listening on port ${port} yet`));
    assert.match(explained, /simulated clock is held for task .* to listen on port/);
    assert.match(explained, /smaller --time-scale/);
    assert.match(warning.message, new RegExp(`^task ${id} of service never \\(container app, image never:v1, pid \\d+\\) has not listened on its port ${port} after 0\\.3 s real`));
    assert.match(warning.message, new RegExp(`see its log .*${id}\\.log`));
    assert.match(warning.message, /overloaded .*--time-scale.* or the application does not listen on 127\.0\.0\.1:\$PORT/);
    assert.equal(clock.holds().some((h) => h.what.includes(id)), false, 'released by its bound');
  });

  it('a one-off task with a port (a migration) holds the clock until it exits', async () => {
    // Prepare
    const ecs = startEcs(10_000);

    // Act
    const arn = ecs.runTask({ cluster: CLUSTER, taskDefinition: td(ecs, 'job', 'job:v1'), launchType: 'FARGATE', networkConfiguration: NETWORK }).tasks![0]!.taskArn!;
    await until('the job to run', () => ecs.tasksOf(CLUSTER).some((t) => t.taskArn === arn && t.lastStatus === 'RUNNING'));
    const t0 = clock.nowMs();
    const whileRunning = clock.holds().map((h) => h.what);
    await until('the job to stop', () => ecs.describeTasks({ cluster: CLUSTER, tasks: [arn] }).tasks![0]!.lastStatus === 'STOPPED');
    const stoppedAt = ecs.describeTasks({ cluster: CLUSTER, tasks: [arn] }).tasks![0]!.stoppedAt!.getTime();

    // Assess: ~150 real ms of running would be ~300 simulated seconds at ×2000.
    assert.ok(whileRunning.some((w) => w.startsWith(`one-off task ${arn.split('/').pop()} of job:1 to listen on port`) && w.endsWith('or exit')), whileRunning.join('; '));
    assert.ok(stoppedAt - t0 < 5000, `the run took ${stoppedAt - t0} simulated ms`);
    assert.deepEqual(warnings, []);
  });
});
