/**
 * Contract: ECS as cutover calls it (lib/aws/ecs.ts; ECS reads of lib/aws/inspect.ts) — DescribeServices,
 * DescribeTaskDefinition, RegisterTaskDefinition, RunTask, DescribeTasks, StopTask, UpdateService,
 * DescribeClusters — on moto and on the twin's simulator, with the same assertions.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterNotFoundException, DescribeServicesCommand, DescribeTasksCommand, DescribeTaskDefinitionCommand, ServiceNotFoundException } from '@aws-sdk/client-ecs';
import { ecsClient } from '../../lib/aws/clients';
import {
  describeService,
  isStable,
  oneOffTaskStatus,
  registerReleaseRevision,
  runOneOffTask,
  stopTask,
  taskContainerLogging,
  updateService,
} from '../../lib/aws/ecs';
import { describeCluster, describeServices, describeTaskDefinition } from '../../lib/aws/inspect';
import { ResourceStateError } from '../../lib/domain/errors';
import { ACCOUNT, REGION } from './support/backends';
import { contract, rejectsWith } from './support/suite';

const IMAGE_V2 = 'public.ecr.aws/docker/library/nginx:1.28';

contract('ECS (lib/aws/ecs.ts, lib/aws/inspect.ts)', (ctx) => {
  it('DescribeServices: the fields cutover reads from a live service', async () => {
    const s = await describeService(ctx.fx.cluster, ctx.fx.services.blue);
    assert.equal(s.serviceName, ctx.fx.services.blue);
    assert.equal(s.serviceArn, `arn:aws:ecs:${REGION}:${ACCOUNT}:service/${ctx.fx.cluster}/${ctx.fx.services.blue}`);
    assert.equal(s.status, 'ACTIVE');
    assert.equal(s.taskDefinition, ctx.fx.taskDefinitionArn);
    assert.equal(s.desiredCount, 1);
    assert.equal(typeof s.runningCount, 'number');
    assert.equal(s.launchType, 'FARGATE');
    assert.deepEqual(s.networkConfiguration?.awsvpcConfiguration?.subnets, [...ctx.fx.network.subnets]);
    assert.deepEqual(s.networkConfiguration?.awsvpcConfiguration?.securityGroups, [ctx.fx.network.securityGroup]);
    assert.equal(s.loadBalancers?.[0]?.targetGroupArn, ctx.fx.targetGroups.blue);
    assert.ok((s.deployments ?? []).length >= 1, 'a service has at least its PRIMARY deployment');
    assert.equal(s.deployments![0]!.taskDefinition, ctx.fx.taskDefinitionArn);
  });

  it('DescribeServices: an unknown service is a MISSING failure (the adapter: ResourceStateError naming it)', async () => {
    const out = await ecsClient().send(new DescribeServicesCommand({ cluster: ctx.fx.cluster, services: ['no-such-service'] }));
    assert.deepEqual(out.services ?? [], []);
    assert.equal(out.failures?.[0]?.reason, 'MISSING');
    assert.match(out.failures?.[0]?.arn ?? '', /no-such-service$/);
    await assert.rejects(describeService(ctx.fx.cluster, 'no-such-service'), (e: Error) => e instanceof ResourceStateError && /MISSING/.test(e.message));
  });

  it('DescribeServices / UpdateService: an unknown cluster is ClusterNotFoundException', async () => {
    await rejectsWith(describeService('no-such-cluster', ctx.fx.services.blue), 'ClusterNotFoundException', ClusterNotFoundException);
    await rejectsWith(updateService('no-such-cluster', ctx.fx.services.blue, { desiredCount: 1 }), 'ClusterNotFoundException', ClusterNotFoundException);
  });

  it('UpdateService: an unknown service is ServiceNotFoundException, named with the call', async () => {
    const err = await rejectsWith(updateService(ctx.fx.cluster, 'no-such-service', { desiredCount: 1 }), 'ServiceNotFoundException', ServiceNotFoundException);
    assert.match(err.message, /^ECS UpdateService no-such-service \(cluster contract\) failed: ServiceNotFoundException: /);
  });

  it('RegisterTaskDefinition: a release revision with the new image and the deployment tag; a retry finds it', async () => {
    const first = await registerReleaseRevision(ctx.fx.taskDefinitionArn, ctx.fx.container, IMAGE_V2, 'dep-contract-1');
    assert.equal(first.family, ctx.fx.family);
    assert.equal(first.previousTaskDefinitionArn, ctx.fx.taskDefinitionArn);
    assert.match(first.taskDefinitionArn, new RegExp(`^arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${ctx.fx.family}:(\\d+)$`));
    assert.notEqual(first.taskDefinitionArn, ctx.fx.taskDefinitionArn);
    const described = await ecsClient().send(new DescribeTaskDefinitionCommand({ taskDefinition: first.taskDefinitionArn, include: ['TAGS'] }));
    const c = described.taskDefinition?.containerDefinitions?.find((d) => d.name === ctx.fx.container);
    assert.equal(c?.image, IMAGE_V2);
    assert.deepEqual(c?.logConfiguration?.options?.['awslogs-group'], ctx.fx.logGroup, 'the rest of the container is copied');
    assert.equal(described.taskDefinition?.networkMode, 'awsvpc');
    assert.deepEqual(described.taskDefinition?.requiresCompatibilities, ['FARGATE']);
    assert.deepEqual(described.tags, [{ key: 'cutover:deployment', value: 'dep-contract-1' }]);
    const retry = await registerReleaseRevision(ctx.fx.taskDefinitionArn, ctx.fx.container, IMAGE_V2, 'dep-contract-1');
    assert.equal(retry.taskDefinitionArn, first.taskDefinitionArn, 'a retried step registers no second revision');
    const latest = await describeTaskDefinition(ctx.fx.family);
    assert.equal(latest?.arn, first.taskDefinitionArn, 'the family resolves to its latest ACTIVE revision');
  });

  it('RegisterTaskDefinition: a container the task definition lacks is refused before any write', async () => {
    await assert.rejects(registerReleaseRevision(ctx.fx.taskDefinitionArn, 'no-such-container', IMAGE_V2, 'dep-contract-x'), (e: Error) => e instanceof ResourceStateError && /no-such-container/.test(e.message));
  });

  it('DescribeTaskDefinition: an unknown family is ClientException "Unable to describe task definition" (inspect: undefined)', async () => {
    await rejectsWith(ecsClient().send(new DescribeTaskDefinitionCommand({ taskDefinition: 'no-such-family' })), 'ClientException');
    assert.equal(await describeTaskDefinition('no-such-family'), undefined);
  });

  it('DescribeClusters / DescribeServices (inspect): found and MISSING', async () => {
    const found = await describeCluster(ctx.fx.cluster);
    assert.equal(found?.status, 'ACTIVE');
    assert.equal(found?.arn, `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${ctx.fx.cluster}`);
    assert.equal(await describeCluster('no-such-cluster'), undefined);
    const services = await describeServices(ctx.fx.cluster, [ctx.fx.services.blue, ctx.fx.services.green, 'no-such-service']);
    assert.deepEqual([...services.keys()].sort(), [ctx.fx.services.blue, ctx.fx.services.green]);
    assert.equal(services.get(ctx.fx.services.green)?.taskDefinition, ctx.fx.taskDefinitionArn);
  });

  it('RunTask → DescribeTasks → DescribeTaskDefinition → StopTask: a one-off task, its log configuration, its end', async () => {
    const from = await describeService(ctx.fx.cluster, ctx.fx.services.blue);
    const taskArn = await runOneOffTask({
      cluster: ctx.fx.cluster,
      taskDefinitionArn: ctx.fx.taskDefinitionArn,
      containerName: ctx.fx.container,
      command: ['npm', 'run', 'migrate'],
      from,
      idempotencyKey: 'contract-migration-1',
    });
    // ECS task ids are 32 hex digits (the ECS API Reference's examples); moto makes UUIDs, ECS's
    // pre-2018 ("short ARN") format — cutover only takes the last segment of the ARN (lib/aws/logs.ts).
    const taskId = ctx.kind === 'moto' ? '[0-9a-f-]{32,36}' : '[0-9a-f]{32}';
    assert.match(taskArn, new RegExp(`^arn:aws:ecs:${REGION}:${ACCOUNT}:task/${ctx.fx.cluster}/${taskId}$`));
    const running = await oneOffTaskStatus(ctx.fx.cluster, taskArn, ctx.fx.container);
    assert.equal(running.status, 'RUNNING');
    assert.equal(running.exitCode, null);
    const logging = await taskContainerLogging(ctx.fx.cluster, taskArn, ctx.fx.container);
    assert.equal(logging?.taskArn, taskArn);
    assert.equal(logging?.containerName, ctx.fx.container);
    assert.deepEqual(logging?.logConfiguration, {
      logDriver: 'awslogs',
      options: { 'awslogs-group': ctx.fx.logGroup, 'awslogs-region': REGION, 'awslogs-stream-prefix': ctx.fx.logPrefix },
    });
    await stopTask(ctx.fx.cluster, taskArn, 'contract: stopped by test');
    await ctx.backend.advance(120);
    const stopped = await oneOffTaskStatus(ctx.fx.cluster, taskArn, ctx.fx.container);
    assert.notEqual(stopped.status, 'RUNNING');
    assert.match(stopped.reason, /contract: stopped by test/);
    const task = (await ecsClient().send(new DescribeTasksCommand({ cluster: ctx.fx.cluster, tasks: [taskArn] }))).tasks?.[0];
    assert.equal(task?.lastStatus, 'STOPPED');
    assert.equal(task?.stoppedReason, 'contract: stopped by test');
  });

  it('StopTask: the task says who stopped it (stopCode UserInitiated) and its container is STOPPED', ctx.notOnMoto('a stopped task has no stopCode, and its container stays PENDING with exitCode 0'), async () => {
    const from = await describeService(ctx.fx.cluster, ctx.fx.services.blue);
    const taskArn = await runOneOffTask({ cluster: ctx.fx.cluster, taskDefinitionArn: ctx.fx.taskDefinitionArn, containerName: ctx.fx.container, command: ['sleep', '3600'], from, idempotencyKey: 'contract-stop' });
    await stopTask(ctx.fx.cluster, taskArn, 'contract: stop code');
    await ctx.backend.advance(120);
    const task = (await ecsClient().send(new DescribeTasksCommand({ cluster: ctx.fx.cluster, tasks: [taskArn] }))).tasks?.[0];
    assert.equal(task?.stopCode, 'UserInitiated');
    assert.equal(task?.containers?.[0]?.lastStatus, 'STOPPED');
  });

  it('DescribeTasks: an unknown task is a MISSING failure', async () => {
    const status = await oneOffTaskStatus(ctx.fx.cluster, `arn:aws:ecs:${REGION}:${ACCOUNT}:task/${ctx.fx.cluster}/ffffffffffffffffffffffffffffffff`, ctx.fx.container);
    assert.equal(status.status, 'FAILED');
    assert.match(status.reason, /MISSING/);
  });

  it('RunTask: a retry with the same clientToken starts no second task', ctx.notOnMoto('RunTask ignores clientToken (every call starts a task)'), async () => {
    const from = await describeService(ctx.fx.cluster, ctx.fx.services.blue);
    const spec = { cluster: ctx.fx.cluster, taskDefinitionArn: ctx.fx.taskDefinitionArn, containerName: ctx.fx.container, command: ['true'], from, idempotencyKey: 'contract-migration-2' };
    assert.equal(await runOneOffTask(spec), await runOneOffTask(spec));
  });

  it('UpdateService: the idle slot onto a new revision; the service then reports it', async () => {
    const rev = await registerReleaseRevision(ctx.fx.taskDefinitionArn, ctx.fx.container, IMAGE_V2, 'dep-contract-2');
    await updateService(ctx.fx.cluster, ctx.fx.services.green, { taskDefinition: rev.taskDefinitionArn, desiredCount: 1 });
    const s = await describeService(ctx.fx.cluster, ctx.fx.services.green);
    assert.equal(s.taskDefinition, rev.taskDefinitionArn);
    assert.equal(s.desiredCount, 1);
  });

  it('UpdateService: a new PRIMARY deployment runs the new revision', ctx.notOnMoto('UpdateService leaves the deployments as they were (no new PRIMARY)'), async () => {
    const rev = await registerReleaseRevision(ctx.fx.taskDefinitionArn, ctx.fx.container, IMAGE_V2, 'dep-contract-2');
    const s = await describeService(ctx.fx.cluster, ctx.fx.services.green);
    const primary = s.deployments?.find((d) => d.status === 'PRIMARY');
    assert.equal(primary?.taskDefinition, rev.taskDefinitionArn);
    assert.equal(primary?.desiredCount, 1);
    assert.equal(s.deployments?.[0], primary, 'DescribeServices lists the PRIMARY deployment first (cutover\'s isStable reads deployments[0])');
  });

  it('UpdateService: the deployment rolls over, then the service is stable (waitUntilServicesStable)', ctx.notOnMoto('never rolls ECS deployments over (runningCount stays 0)'), async () => {
    const rev = await registerReleaseRevision(ctx.fx.taskDefinitionArn, ctx.fx.container, IMAGE_V2, 'dep-contract-3');
    await updateService(ctx.fx.cluster, ctx.fx.services.blue, { taskDefinition: rev.taskDefinitionArn });
    const during = await describeService(ctx.fx.cluster, ctx.fx.services.blue);
    assert.equal(isStable(during, rev.taskDefinitionArn), false, 'two deployments while the new one rolls out');
    assert.equal(during.deployments?.length, 2);
    await ctx.backend.advance(900);
    const after = await describeService(ctx.fx.cluster, ctx.fx.services.blue);
    assert.equal(after.deployments?.length, 1);
    assert.equal(isStable(after, rev.taskDefinitionArn), true);
  });
});
