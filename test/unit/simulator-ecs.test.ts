import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClientException,
  ClusterNotFoundException,
  CreateServiceCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  InvalidParameterException,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  ServiceNotActiveException,
  ServiceNotFoundException,
  StopTaskCommand,
  UpdateServiceCommand,
  DeleteServiceCommand,
  waitUntilServicesStable,
  type Service,
} from '@aws-sdk/client-ecs';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ecsClient, elbv2Client } from '../../lib/aws/clients';
import { loadConfigFile } from '../../lib/config';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';

const SAMPLE = new URL('../fixtures/hello-world-production.json', import.meta.url).pathname;
const config = loadConfigFile(SAMPLE);
const env = config.services['hello-world']!.environments.production!;
const CLUSTER = env.cluster;
const BLUE = env.slots.blue;
const GREEN = env.slots.green;
const NETWORK = { awsvpcConfiguration: { subnets: ['subnet-1'] } };

let h: ConnectedSimulator;

async function describe1(name: string): Promise<Service> {
  const out = await ecsClient().send(new DescribeServicesCommand({ cluster: CLUSTER, services: [name] }));
  return out.services![0]!;
}

async function registerRevision(image: string): Promise<string> {
  const out = await ecsClient().send(
    new RegisterTaskDefinitionCommand({
      family: 'hello-world-production',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      containerDefinitions: [{ name: 'app', image, essential: true, portMappings: [{ containerPort: 8080 }] }],
    }),
  );
  return out.taskDefinition!.taskDefinitionArn!;
}

const stable = (s: Service) => s.deployments!.length === 1 && s.runningCount === s.desiredCount;

describe('simulator: ECS', () => {
  beforeEach(() => {
    h = connectSimulator({ deploymentSeconds: 60 });
    h.sim.seedFromConfig(config);
  });
  afterEach(() => h.close());

  it('seeds a stable blue service with 2 healthy targets and an idle green service', async () => {
    const blue = await describe1(BLUE.service);
    const green = await describe1(GREEN.service);
    const health = await elbv2Client().send(new DescribeTargetHealthCommand({ TargetGroupArn: BLUE.targetGroupArn }));

    assert.ok(stable(blue));
    assert.equal(blue.runningCount, 2);
    assert.equal(blue.deployments![0]!.rolloutState, 'COMPLETED');
    assert.match(blue.events![0]!.message!, /has reached a steady state/);
    assert.equal(green.desiredCount, 0);
    assert.ok(stable(green));
    assert.deepEqual(health.TargetHealthDescriptions!.map((d) => d.TargetHealth!.State), ['healthy', 'healthy']);
  });

  it('registers task definition revisions 1, 2, 3 and describes them by family, family:revision and ARN', async () => {
    const arn2 = await registerRevision('repo:v2');
    const arn3 = await registerRevision('repo:v3');

    const latest = await ecsClient().send(new DescribeTaskDefinitionCommand({ taskDefinition: 'hello-world-production' }));
    const second = await ecsClient().send(new DescribeTaskDefinitionCommand({ taskDefinition: 'hello-world-production:2' }));
    const byArn = await ecsClient().send(new DescribeTaskDefinitionCommand({ taskDefinition: arn2, include: ['TAGS'] }));

    assert.equal(arn2, 'arn:aws:ecs:us-east-1:123456789012:task-definition/hello-world-production:2');
    assert.equal(latest.taskDefinition!.taskDefinitionArn, arn3);
    assert.equal(latest.taskDefinition!.revision, 3);
    assert.equal(latest.taskDefinition!.status, 'ACTIVE');
    assert.equal(second.taskDefinition!.containerDefinitions![0]!.image, 'repo:v2');
    assert.deepEqual(byArn.tags, []);
    await assert.rejects(
      ecsClient().send(new DescribeTaskDefinitionCommand({ taskDefinition: 'hello-world-production:9' })),
      (err) => err instanceof ClientException,
    );
  });

  it('rejects tag keys beginning with aws: (any case) on RegisterTaskDefinition, as AWS does', async () => {
    const register = (key: string) =>
      ecsClient().send(
        new RegisterTaskDefinitionCommand({ family: 'hello-world-production', containerDefinitions: [{ name: 'app', image: 'x' }], tags: [{ key, value: 'v' }] }),
      );
    for (const key of ['aws:cloudformation:stack-name', 'AWS:owner']) {
      await assert.rejects(register(key), (err: Error) => err.name === 'InvalidParameterException' && err.message.includes(key));
    }
    await register('team');
  });

  it('becomes stable only after deploymentSeconds, matching the SDK waiter', async () => {
    const arn = await registerRevision(`${env.imageRepository}:v2`);

    await ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: GREEN.service, taskDefinition: arn, desiredCount: 2 }));
    const started = await describe1(GREEN.service);
    h.clock.advance(30);
    const halfway = await describe1(GREEN.service);
    h.clock.advance(29);
    const almost = await describe1(GREEN.service);
    h.clock.advance(1);
    const done = await describe1(GREEN.service);
    const waiter = await waitUntilServicesStable({ client: ecsClient(), maxWaitTime: 30 }, { cluster: CLUSTER, services: [GREEN.service] });
    const health = await elbv2Client().send(new DescribeTargetHealthCommand({ TargetGroupArn: GREEN.targetGroupArn }));

    assert.equal(started.deployments!.length, 2);
    assert.equal(started.deployments![0]!.status, 'PRIMARY');
    assert.equal(started.deployments![0]!.rolloutState, 'IN_PROGRESS');
    assert.equal(started.deployments![1]!.status, 'ACTIVE');
    assert.equal(halfway.runningCount, 1);
    assert.ok(!stable(almost));
    assert.ok(stable(done));
    assert.equal(done.taskDefinition, arn);
    assert.equal(done.deployments![0]!.rolloutState, 'COMPLETED');
    assert.equal(waiter.state, 'SUCCESS');
    assert.equal(health.TargetHealthDescriptions!.filter((d) => d.TargetHealth!.State === 'healthy').length, 2);
  });

  it('never becomes stable with a crashing image; the old deployment keeps serving and events say why', async () => {
    h.sim.ecs.setImageHealth(/:broken$/, 'crash');
    const arn = await registerRevision(`${env.imageRepository}:broken`);

    await ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: BLUE.service, taskDefinition: arn }));
    h.clock.advance(3600);
    const blue = await describe1(BLUE.service);

    assert.ok(!stable(blue));
    assert.equal(blue.deployments!.length, 2);
    assert.equal(blue.deployments![0]!.runningCount, 0);
    assert.ok(blue.deployments![0]!.failedTasks! > 0);
    assert.equal(blue.deployments![0]!.rolloutState, 'IN_PROGRESS');
    assert.equal(blue.runningCount, 2);
    assert.match(blue.events![0]!.message!, /unable to consistently start tasks.*:broken/);
  });

  it('scaling to 0 ramps down and deregisters the targets', async () => {
    await ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: BLUE.service, desiredCount: 0 }));
    const scaling = await describe1(BLUE.service);
    h.clock.advance(60);
    const draining = await elbv2Client().send(new DescribeTargetHealthCommand({ TargetGroupArn: BLUE.targetGroupArn }));
    h.clock.advance(5);
    const gone = await elbv2Client().send(new DescribeTargetHealthCommand({ TargetGroupArn: BLUE.targetGroupArn }));
    const blue = await describe1(BLUE.service);

    assert.equal(scaling.deployments!.length, 1, 'a desiredCount change scales in place, without a new deployment');
    assert.ok(!stable(scaling));
    assert.deepEqual(draining.TargetHealthDescriptions!.map((d) => d.TargetHealth!.State), ['draining']);
    assert.deepEqual(gone.TargetHealthDescriptions, []);
    assert.ok(stable(blue));
    assert.equal(blue.runningCount, 0);
  });

  it('runs a one-off task: PROVISIONING, RUNNING, then STOPPED with the exit code from the hook', async () => {
    const seen: string[][] = [];
    h.sim.ecs.setRunTaskOutcome((task) => {
      seen.push(task.command);
      return { exitCode: 3, reason: 'migration failed', durationSeconds: 40 };
    });

    const run = await ecsClient().send(
      new RunTaskCommand({
        cluster: CLUSTER,
        taskDefinition: 'hello-world-production',
        launchType: 'FARGATE',
        networkConfiguration: NETWORK,
        startedBy: 'cutover',
        overrides: { containerOverrides: [{ name: 'app', command: ['npm', 'run', 'migrate'] }] },
      }),
    );
    const taskArn = run.tasks![0]!.taskArn!;
    h.clock.advance(5);
    const running = await ecsClient().send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] }));
    h.clock.advance(40);
    const stopped = await ecsClient().send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn, 'nope'] }));
    const listed = await ecsClient().send(new ListTasksCommand({ cluster: CLUSTER, startedBy: 'cutover', desiredStatus: 'STOPPED' }));

    assert.deepEqual(seen, [['npm', 'run', 'migrate']]);
    assert.equal(run.tasks![0]!.lastStatus, 'PROVISIONING');
    assert.equal(running.tasks![0]!.lastStatus, 'RUNNING');
    const task = stopped.tasks![0]!;
    assert.equal(task.lastStatus, 'STOPPED');
    assert.equal(task.stopCode, 'EssentialContainerExited');
    assert.equal(task.stoppedReason, 'Essential container in task exited');
    assert.deepEqual(
      task.containers!.map((c) => ({ name: c.name, exitCode: c.exitCode, reason: c.reason, lastStatus: c.lastStatus })),
      [{ name: 'app', exitCode: 3, reason: 'migration failed', lastStatus: 'STOPPED' }],
    );
    assert.deepEqual(stopped.failures, [{ arn: `arn:aws:ecs:us-east-1:123456789012:task/${CLUSTER}/nope`, reason: 'MISSING' }]);
    assert.deepEqual(listed.taskArns, [taskArn]);
  });

  it('exits 0 after 20 s by default, and StopTask stops a running task with UserInitiated', async () => {
    const runInput = { cluster: CLUSTER, taskDefinition: 'hello-world-production', networkConfiguration: NETWORK };
    const a = (await ecsClient().send(new RunTaskCommand(runInput))).tasks![0]!.taskArn!;
    const b = (await ecsClient().send(new RunTaskCommand(runInput))).tasks![0]!.taskArn!;
    h.clock.advance(10);

    const stopping = await ecsClient().send(new StopTaskCommand({ cluster: CLUSTER, task: b, reason: 'timeout' }));
    h.clock.advance(15);
    const out = await ecsClient().send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [a, b] }));

    assert.equal(stopping.task!.desiredStatus, 'STOPPED');
    assert.equal(out.tasks![0]!.containers![0]!.exitCode, 0);
    assert.equal(out.tasks![1]!.stopCode, 'UserInitiated');
    assert.equal(out.tasks![1]!.stoppedReason, 'timeout');
  });

  it('replaces a stopped service task', async () => {
    const before = await ecsClient().send(new ListTasksCommand({ cluster: CLUSTER, serviceName: BLUE.service }));

    await ecsClient().send(new StopTaskCommand({ cluster: CLUSTER, task: before.taskArns![0]! }));
    const after = await ecsClient().send(new ListTasksCommand({ cluster: CLUSTER, serviceName: BLUE.service }));

    assert.equal(before.taskArns!.length, 2);
    assert.equal(after.taskArns!.length, 2);
    assert.ok(!after.taskArns!.includes(before.taskArns![0]!));
  });

  it('reports unknown services as MISSING failures and rejects with the SDK exception classes', async () => {
    const out = await ecsClient().send(new DescribeServicesCommand({ cluster: CLUSTER, services: [BLUE.service, 'ghost'] }));

    assert.equal(out.services!.length, 1);
    assert.deepEqual(out.failures, [{ arn: `arn:aws:ecs:us-east-1:123456789012:service/${CLUSTER}/ghost`, reason: 'MISSING' }]);
    await assert.rejects(ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'ghost', desiredCount: 1 })), (err) => {
      assert.ok(err instanceof ServiceNotFoundException);
      assert.equal(err.$fault, 'client');
      return true;
    });
    await assert.rejects(ecsClient().send(new DescribeServicesCommand({ cluster: 'nope', services: ['x'] })), ClusterNotFoundException);
    await assert.rejects(
      ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: BLUE.service, taskDefinition: 'unknown-family' })),
      ClientException,
    );
  });

  it('validates CreateService and UpdateService input like ECS', async () => {
    const base = { cluster: CLUSTER, taskDefinition: 'hello-world-production', networkConfiguration: NETWORK };

    await assert.rejects(ecsClient().send(new CreateServiceCommand({ ...base, serviceName: undefined as unknown as string })), (err) => {
      assert.ok(err instanceof InvalidParameterException);
      assert.match(err.message, /serviceName/);
      return true;
    });
    await assert.rejects(ecsClient().send(new CreateServiceCommand({ ...base, serviceName: BLUE.service })), /not idempotent/);
    await assert.rejects(
      ecsClient().send(new CreateServiceCommand({ cluster: CLUSTER, taskDefinition: 'hello-world-production', serviceName: 'x' })),
      /Network Configuration must be provided/,
    );
    await assert.rejects(
      ecsClient().send(
        new CreateServiceCommand({
          ...base,
          serviceName: 'x',
          loadBalancers: [{ targetGroupArn: BLUE.targetGroupArn, containerName: 'app', containerPort: 9999 }],
        }),
      ),
      /did not have a container port 9999/,
    );
    await assert.rejects(ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: BLUE.service, desiredCount: -1 })), InvalidParameterException);
  });

  it('deletes a service: DRAINING, then INACTIVE; updates then fail with ServiceNotActiveException', async () => {
    await assert.rejects(ecsClient().send(new DeleteServiceCommand({ cluster: CLUSTER, service: BLUE.service })), /scaled above 0/);

    const deleted = await ecsClient().send(new DeleteServiceCommand({ cluster: CLUSTER, service: BLUE.service, force: true }));
    h.clock.advance(60);
    const inactive = await describe1(BLUE.service);

    assert.equal(deleted.service!.status, 'DRAINING');
    assert.equal(inactive.status, 'INACTIVE');
    await assert.rejects(
      ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: BLUE.service, desiredCount: 1 })),
      ServiceNotActiveException,
    );
  });

  it('rejects an operation it does not implement, naming it', async () => {
    const { ListClustersCommand } = await import('@aws-sdk/client-ecs');

    await assert.rejects(ecsClient().send(new ListClustersCommand({})), /does not implement ecs:ListClusters/);
  });
});
