import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateServiceCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  InvalidParameterException,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
  type ContainerDefinition,
  type Service,
  type Task,
} from '@aws-sdk/client-ecs';
import { configureClients, ecsClient, resetClients } from '../../lib/aws/clients';
import { isStable, oneOffTaskStatus, runOneOffTask } from '../../lib/aws/ecs';
import { SimClock } from '../../lib/local/clock';
import { LiveEcs } from '../../lib/local/live/ecs';
import type { ImageRegistry, LiveTarget, LiveTargetState, LocalImage, TargetRegistry } from '../../lib/local/live/types';
import { Elbv2Simulator, forwardAction } from '../../lib/local/simulator';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const CLUSTER = 'live';
const TG = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web/0123456789abcdef`;
const LISTENER = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener/app/web/0123456789abcdef/fedcba9876543210`;
const NETWORK = { awsvpcConfiguration: { subnets: ['subnet-1'] } };

/** Test programs the images run. */
const SCRIPTS: Record<string, string> = {
  'server.js': `require('node:http').createServer((req, res) => res.end(process.env.VERSION)).listen(Number(process.env.PORT), '127.0.0.1');`,
  'sick.js': `require('node:http').createServer((req, res) => { res.statusCode = 500; res.end('sick'); }).listen(Number(process.env.PORT), '127.0.0.1');`,
  'crash.js': `console.error('crashing on start'); process.exit(1);`,
  'job.js': `const e = process.env;
console.log(JSON.stringify({ args: process.argv.slice(2), image: e.FROM_IMAGE, td: e.FROM_TD, override: e.FROM_OVERRIDE, leak: e.LIVE_ECS_TEST_LEAK ?? null }));
process.exit(Number(process.argv[2] ?? 0));`,
  'sleep.js': `if (process.argv[2] === 'ignore-term') process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
setInterval(() => {}, 1000); console.log('sleeping');`,
};

/**
 * A load balancer stand-in: it health-checks each registered target with an HTTP GET every 20 ms
 * (200 → healthy; another status or, once it was up, no answer → unhealthy) and removes a
 * deregistered target at the next check.
 */
class HttpHealthRegistry implements TargetRegistry {
  readonly deregistered: string[] = [];
  private readonly entries = new Map<string, { tg: string; target: LiveTarget; state: LiveTargetState; checking: boolean; removed?: () => void }>();
  private readonly timer = setInterval(() => this.check(), 20);

  register(tg: string, target: LiveTarget): void {
    const key = `${tg} ${target.id}:${target.port}`;
    if (!this.entries.has(key)) this.entries.set(key, { tg, target, state: 'initial', checking: false });
  }

  deregister(tg: string, target: LiveTarget): Promise<void> {
    const entry = this.entries.get(`${tg} ${target.id}:${target.port}`);
    if (!entry) return Promise.resolve();
    this.deregistered.push(`${target.id}:${target.port}`);
    entry.state = 'draining';
    return new Promise((resolve) => (entry.removed = resolve));
  }

  state(tg: string, target: LiveTarget): LiveTargetState | undefined {
    return this.entries.get(`${tg} ${target.id}:${target.port}`)?.state;
  }

  close(): void {
    clearInterval(this.timer);
    for (const entry of this.entries.values()) entry.removed?.();
  }

  private check(): void {
    for (const [key, entry] of this.entries) {
      if (entry.state === 'draining') {
        this.entries.delete(key);
        entry.removed?.();
        continue;
      }
      if (entry.checking) continue;
      entry.checking = true;
      const done = (state: LiveTargetState | undefined) => {
        entry.checking = false;
        if (state && entry.state !== 'draining') entry.state = state;
      };
      get({ host: entry.target.id, port: entry.target.port, path: '/', timeout: 500 }, (res) => {
        res.resume();
        done(res.statusCode === 200 ? 'healthy' : 'unhealthy');
      }).on('error', () => done(entry.state === 'initial' ? undefined : 'unhealthy'));
    }
  }
}

let dir: string;
let clock: SimClock;
let registry: HttpHealthRegistry;
let ecs: LiveEcs;

function image(script: string, environment: Record<string, string> = {}, args: string[] = []): LocalImage {
  return { command: [process.execPath, join(dir, script), ...args], cwd: dir, environment };
}

async function registerTd(family: string, container: Partial<ContainerDefinition> & { image: string }): Promise<string> {
  const out = await ecsClient().send(
    new RegisterTaskDefinitionCommand({
      family,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      containerDefinitions: [{ name: 'app', essential: true, ...container }],
    }),
  );
  return out.taskDefinition!.taskDefinitionArn!;
}

async function describeSvc(name: string): Promise<Service> {
  const out = await ecsClient().send(new DescribeServicesCommand({ cluster: CLUSTER, services: [name] }));
  return out.services![0]!;
}

async function describeTask(taskArn: string): Promise<Task> {
  const out = await ecsClient().send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] }));
  return out.tasks![0]!;
}

/** Poll `check` until it returns a value other than undefined/false; fail after `timeoutMs` real ms. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/**
 * Wait until a new service's first deployment has COMPLETED (all tasks healthy in the target group).
 * (`isStable` alone would not do: a service's first deployment is its only one, and `runningCount`
 * counts RUNNING tasks whether or not their targets are healthy yet, as in ECS.)
 */
async function waitSteady(name: string, taskDefinitionArn: string): Promise<void> {
  await waitFor(`${name} to reach a steady state`, async () => {
    const svc = await describeSvc(name);
    return isStable(svc, taskDefinitionArn) && svc.deployments![0]!.rolloutState === 'COMPLETED';
  });
}

const servicePids = (service: string) => ecs.tasksOf(CLUSTER, service).flatMap((t) => t.containers.map((c) => c.pid!));

async function createWebService(name: string, taskDefinition: string, desiredCount: number, extra: { healthCheckGracePeriodSeconds?: number } = {}) {
  await ecsClient().send(
    new CreateServiceCommand({
      cluster: CLUSTER,
      serviceName: name,
      taskDefinition,
      desiredCount,
      launchType: 'FARGATE',
      networkConfiguration: NETWORK,
      loadBalancers: [{ targetGroupArn: TG, containerName: 'app', containerPort: 8080 }],
      ...extra,
    }),
  );
}

describe('live ECS: tasks are child processes', () => {
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'live-ecs-'));
    for (const [name, source] of Object.entries(SCRIPTS)) await writeFile(join(dir, name), source);
    clock = new SimClock({ timeScale: 200 });
    const ctx = { clock, region: REGION, accountId: ACCOUNT };
    const elbv2 = new Elbv2Simulator(ctx);
    elbv2.seedTargetGroup(TG, 8080);
    elbv2.seedListener(LISTENER, [forwardAction({ [TG]: 100 })]);
    registry = new HttpHealthRegistry();
    const images: Record<string, LocalImage> = {
      'web:v1': image('server.js', { VERSION: 'v1' }),
      'web:v2': image('server.js', { VERSION: 'v2' }),
      'sick:v1': image('sick.js'),
      'crash:v1': image('crash.js'),
      'job:v1': image('job.js', { FROM_IMAGE: 'image', FROM_TD: 'image' }),
      'sleep:v1': image('sleep.js'),
    };
    const imageRegistry: ImageRegistry = { resolve: (ref) => images[ref] };
    ecs = new LiveEcs(ctx, {
      elbv2,
      targets: registry,
      images: imageRegistry,
      logDir: join(dir, 'logs'),
      timings: { restartDelaySeconds: 4, maxRestartDelaySeconds: 20 },
      closeGraceMs: 300,
    });
    configureClients({
      transport: { handles: (service) => service === 'ecs', send: async (_service, operation, input) => structuredClone(ecs.invoke(operation, input)) },
      region: REGION,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    ecs.createCluster({ clusterName: CLUSTER });
  });

  afterEach(async () => {
    delete process.env.LIVE_ECS_TEST_LEAK;
    await ecs.close();
    registry.close();
    resetClients();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a one-off task as a process: exit codes 0 and 3, its output in the task log, only the documented environment', async () => {
    process.env.LIVE_ECS_TEST_LEAK = 'must not reach tasks';
    const td = await registerTd('job', { image: 'job:v1', environment: [{ name: 'FROM_TD', value: 'td' }] });
    const from = { launchType: 'FARGATE', networkConfiguration: NETWORK } as Service;
    const job = [process.execPath, join(dir, 'job.js')];
    const ok = await runOneOffTask({ cluster: CLUSTER, taskDefinitionArn: td, containerName: 'app', command: [...job, '0', 'up'], from, idempotencyKey: 'a' });
    const failing = await ecsClient().send(
      new RunTaskCommand({
        cluster: CLUSTER,
        taskDefinition: td,
        networkConfiguration: NETWORK,
        overrides: { containerOverrides: [{ name: 'app', command: [...job, '3'], environment: [{ name: 'FROM_OVERRIDE', value: 'override' }] }] },
      }),
    );
    assert.equal(failing.tasks![0]!.lastStatus, 'PROVISIONING');
    const failingArn = failing.tasks![0]!.taskArn!;

    const okStatus = await waitFor('the exit-0 task', async () => {
      const s = await oneOffTaskStatus(CLUSTER, ok, 'app');
      return s.status !== 'RUNNING' && s;
    });
    assert.deepEqual(okStatus, { status: 'SUCCEEDED', exitCode: 0, reason: 'Essential container in task exited' });
    const failed = await waitFor('the exit-3 task', async () => {
      const t = await describeTask(failingArn);
      return t.lastStatus === 'STOPPED' && t;
    });
    assert.equal(failed.containers![0]!.exitCode, 3);
    assert.equal(failed.stopCode, 'EssentialContainerExited');
    assert.ok(failed.startedAt! <= failed.stoppedAt!);
    assert.equal((await oneOffTaskStatus(CLUSTER, failingArn, 'app')).status, 'FAILED');

    const okLog = await readFile(join(dir, 'logs', CLUSTER, `${ok.split('/').at(-1)}.log`), 'utf8');
    assert.deepEqual(JSON.parse(okLog), { args: ['0', 'up'], image: 'image', td: 'td', leak: null });
    const failedLog = await readFile(join(dir, 'logs', CLUSTER, `${failingArn.split('/').at(-1)}.log`), 'utf8');
    assert.deepEqual(JSON.parse(failedLog), { args: ['3'], image: 'image', td: 'td', override: 'override', leak: null });
  });

  it('stops a task whose image is unknown with CannotPullContainerError, before any process runs', async () => {
    const td = await registerTd('ghost', { image: 'ghost:v9' });
    const out = await ecsClient().send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: td, networkConfiguration: NETWORK }));
    const task = await waitFor('the task to stop', async () => {
      const t = await describeTask(out.tasks![0]!.taskArn!);
      return t.lastStatus === 'STOPPED' && t;
    });
    assert.equal(task.stopCode, 'TaskFailedToStart');
    assert.match(task.stoppedReason!, /^CannotPullContainerError: .*ghost:v9/);
    assert.equal(task.startedAt, undefined);
    assert.equal(task.containers![0]!.exitCode, undefined);
  });

  it('StopTask sends SIGTERM (exit 143), then SIGKILL after the stop timeout to a process that ignores it (exit 137)', async () => {
    const polite = await registerTd('sleep', { image: 'sleep:v1' });
    const stubborn = await registerTd('stubborn', { image: 'sleep:v1', command: [process.execPath, join(dir, 'sleep.js'), 'ignore-term'], stopTimeout: 1 }) // real seconds;
    const run = async (td: string) =>
      (await ecsClient().send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: td, networkConfiguration: NETWORK }))).tasks![0]!.taskArn!;
    const arns = [await run(polite), await run(stubborn)];
    for (const arn of arns) await waitFor('RUNNING', async () => (await describeTask(arn)).lastStatus === 'RUNNING');
    await waitFor('both logs to say sleeping', async () => {
      const logs = await Promise.all(arns.map((a) => readFile(join(dir, 'logs', CLUSTER, `${a.split('/').at(-1)}.log`), 'utf8').catch(() => '')));
      return logs.every((l) => l.includes('sleeping'));
    });
    for (const arn of arns) await ecsClient().send(new StopTaskCommand({ cluster: CLUSTER, task: arn, reason: 'test' }));
    const stopped = await Promise.all(
      arns.map((arn) =>
        waitFor('STOPPED', async () => {
          const t = await describeTask(arn);
          return t.lastStatus === 'STOPPED' && t;
        }),
      ),
    );
    assert.deepEqual(
      stopped.map((t) => [t.stopCode, t.stoppedReason, t.containers![0]!.exitCode]),
      [
        ['UserInitiated', 'test', 143],
        ['UserInitiated', 'test', 137],
      ],
    );
    // SIGKILL came only after the 20 s (simulated) stop timeout.
    assert.ok(stopped[1]!.stoppedAt!.getTime() - stopped[1]!.stoppingAt!.getTime() >= 20_000);
  });

  it('rolls a service from v1 to v2: stable only once v2 tasks are healthy and the v1 processes have exited', async () => {
    const v1 = await registerTd('web', { image: 'web:v1', portMappings: [{ containerPort: 8080 }] });
    await createWebService('web', v1, 2);
    await waitSteady('web', v1);
    const v1Tasks = ecs.tasksOf(CLUSTER, 'web');
    assert.equal(v1Tasks.length, 2);
    assert.deepEqual(await Promise.all(v1Tasks.map((t) => httpGet(t.containers[0]!.hostPort!))), ['v1', 'v1']);
    const described = await describeTask(v1Tasks[0]!.taskArn);
    assert.deepEqual(described.containers![0]!.networkBindings, [
      { bindIP: '127.0.0.1', containerPort: 8080, hostPort: v1Tasks[0]!.containers[0]!.hostPort, protocol: 'tcp' },
    ]);
    const clusters = await ecsClient().send(new DescribeClustersCommand({ clusters: [CLUSTER] }));
    assert.equal(clusters.clusters![0]!.runningTasksCount, 2);
    const v1Pids = servicePids('web');

    const v2 = await registerTd('web', { image: 'web:v2', portMappings: [{ containerPort: 8080 }] });
    await ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'web', taskDefinition: v2 }));
    let sawTwoDeployments = false;
    const stable = await waitFor('v2 to be stable', async () => {
      const svc = await describeSvc('web');
      if (svc.deployments!.length === 2) sawTwoDeployments = true;
      if (!isStable(svc, v2)) return undefined;
      // At the first observation of stability: the old processes are gone, the new targets healthy.
      assert.deepEqual(v1Pids.filter(alive), []);
      for (const t of ecs.tasksOf(CLUSTER, 'web')) {
        assert.equal(registry.state(TG, { id: '127.0.0.1', port: t.containers[0]!.hostPort! }), 'healthy');
      }
      return svc;
    });
    assert.ok(sawTwoDeployments, 'the rollout had an old and a new deployment');
    assert.equal(stable.deployments![0]!.rolloutState, 'COMPLETED');
    assert.match(stable.events![0]!.message!, /\(service web\) has reached a steady state\./);
    const v2Tasks = ecs.tasksOf(CLUSTER, 'web');
    assert.deepEqual(await Promise.all(v2Tasks.map((t) => httpGet(t.containers[0]!.hostPort!))), ['v2', 'v2']);
    // Old tasks were drained from the target group before they stopped.
    assert.equal(registry.deregistered.length, 2);
    const old = await describeTask(v1Tasks[0]!.taskArn);
    assert.equal(old.stopCode, 'ServiceSchedulerInitiated');
    assert.equal(old.containers![0]!.exitCode, 143);

    // Scale to 0 stops everything.
    const v2Pids = servicePids('web');
    await ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'web', desiredCount: 0 }));
    await waitFor('the service to be empty and stable', async () => {
      const svc = await describeSvc('web');
      return isStable(svc, v2) && ecs.tasksOf(CLUSTER, 'web').length === 0;
    });
    assert.deepEqual(v2Pids.filter(alive), []);
  });

  it('a crashing release never becomes stable: the old task keeps serving, failedTasks grow, the service says it cannot start tasks', async () => {
    const v1 = await registerTd('web', { image: 'web:v1', portMappings: [{ containerPort: 8080 }] });
    await createWebService('web', v1, 1);
    await waitSteady('web', v1);
    const [v1Pid] = servicePids('web');

    const bad = await registerTd('web', { image: 'crash:v1', portMappings: [{ containerPort: 8080 }] });
    await ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'web', taskDefinition: bad }));
    const svc = await waitFor('three failed tasks and the throttle event', async () => {
      const s = await describeSvc('web');
      assert.equal(isStable(s, bad), false);
      const unable = s.events!.some((e) => e.message === '(service web) is unable to consistently start tasks successfully. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.');
      return s.deployments![0]!.failedTasks! >= 3 && unable && s;
    });
    assert.equal(svc.deployments!.length, 2);
    assert.equal(svc.deployments![1]!.runningCount, 1);
    assert.ok(alive(v1Pid!), 'the v1 process still runs');
    const crashed = ecs.tasksOf(CLUSTER, 'web').filter((t) => t.taskDefinitionArn === bad);
    assert.ok(crashed.length <= 1, 'failed tasks are replaced one at a time');
    const log = await readFile(join(dir, 'logs', CLUSTER, `${(await lastStoppedTask(bad)).split('/').at(-1)}.log`), 'utf8');
    assert.match(log, /crashing on start/);
  });

  it('replaces a task whose target stays unhealthy after the grace period', async () => {
    const td = await registerTd('sick', { image: 'sick:v1', portMappings: [{ containerPort: 8080 }] });
    await createWebService('sick', td, 1, { healthCheckGracePeriodSeconds: 10 });
    const svc = await waitFor('the ELB health check event', async () => {
      const s = await describeSvc('sick');
      return s.events!.some((e) => /^\(service sick\) \(task [0-9a-f]{32}\) failed ELB health checks in \(target-group .*targetgroup\/web\//.test(e.message!)) && s;
    });
    assert.equal(isStable(svc, td), false);
    const stopped = await waitFor('the unhealthy task to stop', async () => {
      const arn = await lastStoppedTask(td).catch(() => undefined);
      return arn ? describeTask(arn) : undefined;
    });
    assert.equal(stopped.stopCode, 'ServiceSchedulerInitiated');
    assert.equal(stopped.stoppedReason, `Task failed ELB health checks in (target-group ${TG})`);
    assert.ok(stopped.stoppingAt!.getTime() - stopped.startedAt!.getTime() >= 10_000, 'not before the grace period');
  });

  it('validates like the simulator', async () => {
    const td = await registerTd('web', { image: 'web:v1', portMappings: [{ containerPort: 8080 }] });
    await assert.rejects(
      ecsClient().send(
        new CreateServiceCommand({
          cluster: CLUSTER,
          serviceName: 'web',
          taskDefinition: td,
          networkConfiguration: NETWORK,
          loadBalancers: [{ targetGroupArn: TG, containerName: 'app', containerPort: 9999 }],
        }),
      ),
      (err: Error) => err instanceof InvalidParameterException && /container port 9999/.test(err.message),
    );
    await assert.rejects(
      ecsClient().send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: 'web', taskDefinition: td, networkConfiguration: NETWORK, healthCheckGracePeriodSeconds: 5 })),
      InvalidParameterException,
    );
  });

  it('close() leaves no process behind, even one that ignores SIGTERM', async () => {
    const web = await registerTd('web', { image: 'web:v1', portMappings: [{ containerPort: 8080 }] });
    await createWebService('web', web, 2);
    const stubborn = await registerTd('stubborn', { image: 'sleep:v1', command: [process.execPath, join(dir, 'sleep.js'), 'ignore-term'] });
    const run = await ecsClient().send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: stubborn, networkConfiguration: NETWORK }));
    const runArn = run.tasks![0]!.taskArn!;
    const pids = await waitFor('three processes', () => {
      const all = ecs.tasksOf(CLUSTER).flatMap((t) => t.containers.map((c) => c.pid).filter((p) => p !== undefined));
      return all.length === 3 && all;
    });
    await waitFor('the stubborn task to ignore signals', async () =>
      (await readFile(join(dir, 'logs', CLUSTER, `${runArn.split('/').at(-1)}.log`), 'utf8').catch(() => '')).includes('sleeping'),
    );
    assert.equal(pids.filter(alive).length, 3);
    await ecs.close();
    assert.deepEqual(pids.filter(alive), []);
  });
});

/** ARN of the most recently stopped task of a task definition (tasks listed with desiredStatus STOPPED). */
async function lastStoppedTask(taskDefinitionArn: string): Promise<string> {
  const listed = await ecsClient().send(new ListTasksCommand({ cluster: CLUSTER, desiredStatus: 'STOPPED' }));
  const described = await ecsClient().send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: listed.taskArns! }));
  const mine = described.tasks!.filter((t) => t.taskDefinitionArn === taskDefinitionArn && t.lastStatus === 'STOPPED');
  const last = mine.sort((a, b) => b.stoppedAt!.getTime() - a.stoppedAt!.getTime())[0];
  if (!last) throw new Error('no stopped task yet');
  return last.taskArn!;
}
