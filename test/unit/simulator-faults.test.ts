/**
 * The simulator's fault policy (setFaultPolicy, tagCalls), AWS-like faults by kind (faultAction) and
 * ECS RunTask client-token idempotency — through the real SDK clients.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AccessDeniedException,
  ConflictException,
  DescribeServicesCommand,
  ListTasksCommand,
  RunTaskCommand,
  ServiceNotFoundException,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { PublishCommand } from '@aws-sdk/client-sns';
import { DBSnapshotNotFoundFault, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { cloudWatchClient, ecsClient, elbv2Client, rdsClient, snsClient } from '../../lib/aws/clients';
import { isRetryableAwsError } from '../../lib/aws/errors';
import { loadConfigFile } from '../../lib/config';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';
import { faultAction, FAULT_KINDS } from '../../lib/local/simulator';

const SAMPLE = new URL('../fixtures/hello-world-production.json', import.meta.url).pathname;
const config = loadConfigFile(SAMPLE);
const env = config.services['hello-world']!.environments.production!;
const CLUSTER = env.cluster;
const LISTENER = 'listenerArn' in env.production ? env.production.listenerArn : '';
const NETWORK = { awsvpcConfiguration: { subnets: ['subnet-1'] } };

let h: ConnectedSimulator;

beforeEach(() => {
  h = connectSimulator({ deploymentSeconds: 60 });
  h.sim.seedFromConfig(config);
});
afterEach(() => h.close());

describe('simulator: fault policy', () => {
  it('asks the policy about every call, with the context the tagger gave it, and logs what it did', async () => {
    let who = 'step A';
    h.sim.tagCalls(() => who);
    h.sim.setFaultPolicy((call) => (call.context === 'step B' && call.operation === 'UpdateService' ? faultAction('access-denied', call) : undefined));

    await ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: env.slots.green.service, desiredCount: 1 }));
    who = 'step B';
    const denied = await ecsClient()
      .send(new UpdateServiceCommand({ cluster: CLUSTER, service: env.slots.green.service, desiredCount: 2 }))
      .catch((e: unknown) => e);

    assert.ok(denied instanceof AccessDeniedException, String(denied));
    assert.match((denied as Error).message, /not authorized to perform: ecs:UpdateService/);
    assert.equal((denied as AccessDeniedException).$metadata.httpStatusCode, 403);
    assert.equal(isRetryableAwsError(denied), false);
    const [first, second] = h.sim.calls.filter((c) => c.operation === 'UpdateService');
    assert.deepEqual([first!.context, first!.fault, first!.served], ['step A', undefined, true]);
    assert.deepEqual([second!.context, second!.fault, second!.served], ['step B', 'AccessDeniedException', undefined]);
    assert.equal(h.sim.ecs.describeService(CLUSTER, env.slots.green.service)?.desiredCount, 1, 'the denied call changed nothing');
  });

  it('a fault after the call takes effect: the change happens, the caller gets the SDK TimeoutError (retryable)', async () => {
    h.sim.setFaultPolicy((call) => (call.operation === 'UpdateService' ? faultAction('timeout', call) : undefined));

    const err = await ecsClient()
      .send(new UpdateServiceCommand({ cluster: CLUSTER, service: env.slots.green.service, desiredCount: 3 }))
      .then(() => undefined, (e: unknown) => e as Error);

    assert.equal(err?.name, 'TimeoutError');
    assert.match(err!.message, /exceeded the configured 5000 ms requestTimeout/);
    assert.equal(isRetryableAwsError(err), true);
    assert.equal(h.sim.ecs.describeService(CLUSTER, env.slots.green.service)?.desiredCount, 3, 'the call took effect');
    assert.equal(h.sim.calls.at(-1)!.served, true);
  });

  it('throttling and server faults use each service’s own codes, classified retryable by the SDK’s rules', async () => {
    for (const kind of ['throttling', 'server-error'] as const) {
      h.sim.setFaultPolicy((call) => faultAction(kind, call));
      const errors = await Promise.all([
        ecsClient().send(new DescribeServicesCommand({ cluster: CLUSTER, services: [env.slots.blue.service] })).catch((e: Error) => e),
        elbv2Client().send(new DescribeListenersCommand({ ListenerArns: [LISTENER] })).catch((e: Error) => e),
        rdsClient().send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: 'x' })).catch((e: Error) => e),
        cloudWatchClient().send(new DescribeAlarmsCommand({})).catch((e: Error) => e),
        snsClient().send(new PublishCommand({ TopicArn: 'arn:aws:sns:us-east-1:123456789012:t', Message: 'm' })).catch((e: Error) => e),
      ]);
      const names = errors.map((e) => (e as Error).name);
      assert.deepEqual(
        names,
        kind === 'throttling'
          ? ['ThrottlingException', 'Throttling', 'Throttling', 'Throttling', 'ThrottledException']
          : ['ServerException', 'InternalFailure', 'InternalFailure', 'InternalServiceFault', 'InternalErrorException'],
      );
      for (const e of errors) assert.equal(isRetryableAwsError(e), true, `${(e as Error).name} is retryable`);
    }
  });

  it('a vanished resource is the operation’s own answer: an ECS service MISSING, alarms absent, a NotFound exception', async () => {
    h.sim.setFaultPolicy((call) => faultAction('vanished', call));

    const services = await ecsClient().send(new DescribeServicesCommand({ cluster: CLUSTER, services: [env.slots.blue.service] }));
    const alarms = await cloudWatchClient().send(new DescribeAlarmsCommand({ AlarmNames: env.alarms }));
    const update = await ecsClient().send(new UpdateServiceCommand({ cluster: CLUSTER, service: env.slots.blue.service, desiredCount: 1 })).catch((e: unknown) => e);
    const modify = await elbv2Client()
      .send(new ModifyListenerCommand({ ListenerArn: LISTENER, DefaultActions: [] }))
      .then(() => new Error('no error'), (e: Error) => e);
    const snapshot = await rdsClient().send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: 'snap-1' })).catch((e: unknown) => e);

    assert.deepEqual(services.services, []);
    assert.deepEqual(services.failures, [{ arn: `arn:aws:ecs:us-east-1:123456789012:service/${CLUSTER}/${env.slots.blue.service}`, reason: 'MISSING' }]);
    assert.deepEqual([alarms.MetricAlarms, alarms.CompositeAlarms], [[], []]);
    assert.ok(update instanceof ServiceNotFoundException);
    assert.equal(modify.name, 'ListenerNotFoundException');
    assert.match(modify.message, new RegExp(`Listener '${LISTENER}' not found`));
    assert.ok(snapshot instanceof DBSnapshotNotFoundFault);
    assert.equal(h.sim.ecs.describeService(CLUSTER, env.slots.blue.service)?.desiredCount, 2, 'a vanished-service answer changed nothing');
  });

  it('knows the five kinds; vanished has no answer for an operation that names no existing resource', () => {
    assert.deepEqual(FAULT_KINDS, ['throttling', 'server-error', 'timeout', 'access-denied', 'vanished']);
    assert.equal(faultAction('vanished', { service: 'ecs', operation: 'RegisterTaskDefinition', input: {} }), undefined);
    assert.equal(faultAction('access-denied', { service: 'sns', operation: 'Publish', input: {} })?.error, 'AuthorizationErrorException');
  });

  it('the injectFault queue goes first; clearFaults removes the policy too', async () => {
    h.sim.setFaultPolicy(() => ({ error: 'ServerException' }));
    h.sim.injectFault({ service: 'ecs', operation: 'DescribeServices', error: 'ThrottlingException' });
    const first = await ecsClient().send(new DescribeServicesCommand({ cluster: CLUSTER, services: ['x'] })).catch((e: Error) => e);
    const second = await ecsClient().send(new DescribeServicesCommand({ cluster: CLUSTER, services: ['x'] })).catch((e: Error) => e);
    h.sim.clearFaults();
    const third = await ecsClient().send(new DescribeServicesCommand({ cluster: CLUSTER, services: ['x'] }));

    assert.deepEqual([(first as Error).name, (second as Error).name], ['ThrottlingException', 'ServerException']);
    assert.deepEqual(third.failures?.map((f) => f.reason), ['MISSING']);
  });
});

describe('simulator: ECS RunTask client token', () => {
  const run = (clientToken: string | undefined, command = ['npm', 'run', 'migrate']) =>
    ecsClient().send(
      new RunTaskCommand({
        cluster: CLUSTER,
        taskDefinition: 'hello-world-production',
        networkConfiguration: NETWORK,
        overrides: { containerOverrides: [{ name: 'app', command }] },
        startedBy: 'cutover-migration',
        ...(clientToken ? { clientToken } : {}),
      }),
    );
  /** Migration tasks ECS knows of, running or stopped. */
  const migrationTasks = async () => {
    const list = (desiredStatus: 'RUNNING' | 'STOPPED') => ecsClient().send(new ListTasksCommand({ cluster: CLUSTER, startedBy: 'cutover-migration', desiredStatus }));
    return [...((await list('RUNNING')).taskArns ?? []), ...((await list('STOPPED')).taskArns ?? [])];
  };

  it('a retry with the same token and parameters returns the first task and starts none', async () => {
    const first = await run('token-1');
    h.clock.advance(60);
    const retry = await run('token-1');

    assert.equal(retry.tasks![0]!.taskArn, first.tasks![0]!.taskArn);
    assert.equal((await migrationTasks()).length, 1);
  });

  it('the same token with other parameters is a ConflictException; other tokens and no token start tasks', async () => {
    await run('token-2');
    const conflict = await run('token-2', ['npm', 'run', 'other']).catch((e: unknown) => e);
    await run('token-3');
    await run(undefined);
    await run(undefined);

    assert.ok(conflict instanceof ConflictException, String(conflict));
    assert.equal((await migrationTasks()).length, 4);
  });

  it('a token is remembered for 24 hours', async () => {
    await run('token-4');
    h.clock.advance(24 * 3600);
    await run('token-4');

    assert.equal((await migrationTasks()).length, 2);
  });
});
