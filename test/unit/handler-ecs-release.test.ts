import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  LimitExceededException,
  RegisterTaskDefinitionCommand,
  ServiceNotFoundException,
  RunTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
  type DescribeServicesCommandInput,
  type Service,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { AccessDeniedException, GetLogEventsCommand, ResourceNotFoundException } from '@aws-sdk/client-cloudwatch-logs';
import { ecsMock, logsMock, resetSdkMocks, sdkError, throttlingError } from '../helpers/sdk-mocks';
import { handler, MIGRATION_MESSAGE_MAX_BYTES } from '../../lambdas/ecs-release/handler';
import { parseConfig } from '../../lib/config';
import { resolvePlan } from '../../lib/domain/plan';

const SHA = '1234567890abcdef1234567890abcdef12345678';
const plan = resolvePlan(parseConfig(JSON.parse(readFileSync(new URL('../fixtures/hello-world-production.json', import.meta.url), 'utf8'))), {
  input: { service: 'hello-world', environment: 'production', release: { commit: SHA } },
  execution: { id: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:run-1', name: 'run-1', startTime: '2024-05-01T12:00:00.000Z' },
});
const FAMILY = 'hello-world-production';
const TD_ARN = (rev: number) => `arn:aws:ecs:us-east-1:123456789012:task-definition/${FAMILY}:${rev}`;
const NETWORK = { awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-app'], assignPublicIp: 'DISABLED' as const } };

const service = (name: string, over: Partial<Service> = {}): Service => ({
  serviceName: name,
  serviceArn: `arn:aws:ecs:us-east-1:123456789012:service/hello-world/${name}`,
  status: 'ACTIVE',
  desiredCount: 3,
  runningCount: 3,
  taskDefinition: TD_ARN(3),
  launchType: 'FARGATE',
  platformVersion: 'LATEST',
  networkConfiguration: NETWORK,
  deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: TD_ARN(3), rolloutState: 'COMPLETED' }],
  ...over,
});
const liveTd: TaskDefinition = {
  taskDefinitionArn: TD_ARN(3),
  family: FAMILY,
  revision: 3,
  taskRoleArn: 'arn:aws:iam::123456789012:role/app-task',
  executionRoleArn: 'arn:aws:iam::123456789012:role/app-exec',
  networkMode: 'awsvpc',
  requiresCompatibilities: ['FARGATE'],
  cpu: '256',
  memory: '512',
  runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
  containerDefinitions: [
    { name: 'app', image: 'repo/hello-world:old', essential: true, portMappings: [{ containerPort: 8080 }], environment: [{ name: 'A', value: '1' }] },
    { name: 'log-router', image: 'amazon/aws-for-fluent-bit:2', essential: false },
  ],
};
const liveTags = [{ key: 'team', value: 'web' }, { key: 'cutover:deployment', value: 'run-0' }];

/** Both slot services exist; `green` overrides the idle (green) service. */
function servicesExist(green: Partial<Service> = {}) {
  ecsMock.on(DescribeServicesCommand).callsFake((input: DescribeServicesCommandInput) => {
    const name = input.services![0]!;
    if (name === 'hello-world-blue') return { services: [service(name)], failures: [] };
    if (name === 'hello-world-green') return { services: [service(name, { desiredCount: 0, runningCount: 0, ...green })], failures: [] };
    return { services: [], failures: [{ arn: name, reason: 'MISSING' }] };
  });
}
const release = { taskDefinitionArn: TD_ARN(4), liveService: 'hello-world-blue', idleService: 'hello-world-green', desiredCount: 3 };

describe('ecs-release handler', () => {
  beforeEach(() => resetSdkMocks());

  describe('prepare', () => {
    it('registers a revision copying the live task definition with only the image of the release container changed', async () => {
      // Prepare
      servicesExist();
      ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: liveTd, tags: liveTags });
      ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { ...liveTd, taskDefinitionArn: TD_ARN(4), revision: 4 } });
      // Act
      const out = await handler({ action: 'prepare', plan, slots: { live: 'blue', idle: 'green' } });
      // Assess
      assert.deepEqual(out, {
        taskDefinitionArn: TD_ARN(4),
        previousTaskDefinitionArn: TD_ARN(3),
        family: FAMILY,
        liveService: 'hello-world-blue',
        idleService: 'hello-world-green',
        desiredCount: 3,
      });
      const reg = ecsMock.commandCalls(RegisterTaskDefinitionCommand);
      assert.equal(reg.length, 1);
      const input = reg[0]!.args[0].input;
      assert.equal(input.family, FAMILY);
      assert.deepEqual(input.containerDefinitions, [
        { ...liveTd.containerDefinitions![0], image: plan.image },
        liveTd.containerDefinitions![1],
      ]);
      for (const k of ['taskRoleArn', 'executionRoleArn', 'networkMode', 'requiresCompatibilities', 'cpu', 'memory', 'runtimePlatform'] as const) {
        assert.deepEqual(input[k], liveTd[k], k);
      }
      assert.deepEqual(input.tags, [{ key: 'team', value: 'web' }, { key: 'cutover:deployment', value: 'run-1' }]);
      const describes = ecsMock.commandCalls(DescribeTaskDefinitionCommand).map((c) => c.args[0].input);
      assert.deepEqual(describes.map((d) => d.taskDefinition), [TD_ARN(3), FAMILY]);
      assert.ok(describes.every((d) => d.include?.includes('TAGS')));
    });

    it('copies every field RegisterTaskDefinition accepts (enableFaultInjection too), none of the read-only ones, and no aws: tags (AWS rejects them)', async () => {
      servicesExist();
      const described = {
        ...liveTd,
        enableFaultInjection: true,
        revision: 3,
        status: 'ACTIVE' as const,
        requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.logging-driver.awslogs' }],
        compatibilities: ['EC2' as const, 'FARGATE' as const],
        registeredAt: new Date('2026-01-01T00:00:00Z'),
        registeredBy: 'arn:aws:iam::123456789012:role/ci',
      };
      const tags = [...liveTags, { key: 'aws:cloudformation:stack-name', value: 'app' }, { key: 'aws:cloudformation:logical-id', value: 'TaskDef' }];
      ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: described, tags });
      ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { ...liveTd, taskDefinitionArn: TD_ARN(4), revision: 4 } });
      await handler({ action: 'prepare', plan, slots: { live: 'blue', idle: 'green' } });
      const input = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input as unknown as Record<string, unknown>;
      assert.equal(input.enableFaultInjection, true);
      for (const k of ['taskDefinitionArn', 'revision', 'status', 'requiresAttributes', 'compatibilities', 'registeredAt', 'registeredBy']) assert.ok(!(k in input), `${k} is read-only`);
      assert.deepEqual(input.tags, [{ key: 'team', value: 'web' }, { key: 'cutover:deployment', value: 'run-1' }]);
    });

    it('a retry finds the latest revision tagged with this deployment and registers nothing', async () => {
      servicesExist();
      ecsMock.on(DescribeTaskDefinitionCommand, { taskDefinition: TD_ARN(3) }).resolves({ taskDefinition: liveTd, tags: liveTags });
      ecsMock
        .on(DescribeTaskDefinitionCommand, { taskDefinition: FAMILY })
        .resolves({ taskDefinition: { ...liveTd, taskDefinitionArn: TD_ARN(4), revision: 4 }, tags: [{ key: 'cutover:deployment', value: 'run-1' }] });
      const out = (await handler({ action: 'prepare', plan, slots: { live: 'blue', idle: 'green' } })) as Record<string, unknown>;
      assert.equal(out.taskDefinitionArn, TD_ARN(4));
      assert.equal(ecsMock.commandCalls(RegisterTaskDefinitionCommand).length, 0);
    });

    it('green live: the revision is made from green’s task definition for blue', async () => {
      ecsMock.on(DescribeServicesCommand).callsFake((input: DescribeServicesCommandInput) => ({
        services: [service(input.services![0]!, input.services![0] === 'hello-world-green' ? { taskDefinition: TD_ARN(7), desiredCount: 5 } : { desiredCount: 0 })],
      }));
      ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { ...liveTd, taskDefinitionArn: TD_ARN(7) }, tags: [] });
      ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TD_ARN(8) } });
      const out = (await handler({ action: 'prepare', plan, slots: { live: 'green', idle: 'blue' } })) as Record<string, unknown>;
      assert.equal(out.previousTaskDefinitionArn, TD_ARN(7));
      assert.equal(out.idleService, 'hello-world-blue');
      assert.equal(out.desiredCount, 5);
    });

    it('a task definition without the configured container is Cutover.ResourceState naming it and the fix', async () => {
      servicesExist();
      ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { ...liveTd, containerDefinitions: [{ name: 'web', image: 'x' }] }, tags: [] });
      await assert.rejects(handler({ action: 'prepare', plan, slots: { live: 'blue', idle: 'green' } }), {
        name: 'Cutover.ResourceState',
        message: /has no container "app" \(it has web\); fix "containerName" in the config/,
      });
      assert.equal(ecsMock.commandCalls(RegisterTaskDefinitionCommand).length, 0);
    });

    it('a missing idle service is Cutover.ResourceState', async () => {
      ecsMock.on(DescribeServicesCommand, { services: ['hello-world-blue'] }).resolves({ services: [service('hello-world-blue')] });
      ecsMock.on(DescribeServicesCommand, { services: ['hello-world-green'] }).resolves({ services: [], failures: [{ reason: 'MISSING' }] });
      await assert.rejects(handler({ action: 'prepare', plan, slots: { live: 'blue', idle: 'green' } }), {
        name: 'Cutover.ResourceState',
        message: /ECS service hello-world-green in cluster hello-world is not usable \(DescribeServices: MISSING\)/,
      });
    });

    it('throttling from ECS → Cutover.Transient', async () => {
      ecsMock.on(DescribeServicesCommand).rejects(throttlingError('ecs'));
      await assert.rejects(handler({ action: 'prepare', plan, slots: { live: 'blue', idle: 'green' } }), {
        name: 'Cutover.Transient',
        message: /^ECS DescribeServices hello-world-blue \(cluster hello-world\): ThrottlingException: Rate exceeded/,
      });
    });

    it('ECS’s modelled LimitExceededException → Cutover.Transient too', async () => {
      ecsMock.on(DescribeServicesCommand).rejects(sdkError(LimitExceededException, 'too many'));
      await assert.rejects(handler({ action: 'prepare', plan, slots: { live: 'blue', idle: 'green' } }), { name: 'Cutover.Transient' });
    });
  });

  describe('runMigration', () => {
    const runOnce = async () => {
      servicesExist();
      ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/hello-world/t1' }] });
      return (await handler({ action: 'runMigration', plan, release })) as Record<string, unknown>;
    };

    it('runs the command as a one-off task in the live service’s network', async () => {
      const out = await runOnce();
      assert.equal(out.status, 'RUNNING');
      assert.equal(out.taskArn, 'arn:aws:ecs:us-east-1:123456789012:task/hello-world/t1');
      assert.equal(out.checksLeft, plan.database!.migrationChecks);
      const input = ecsMock.commandCalls(RunTaskCommand)[0]!.args[0].input;
      assert.equal(input.cluster, 'hello-world');
      assert.equal(input.taskDefinition, TD_ARN(4));
      assert.equal(input.count, 1);
      assert.equal(input.launchType, 'FARGATE');
      assert.deepEqual(input.networkConfiguration, NETWORK);
      assert.deepEqual(input.overrides, { containerOverrides: [{ name: 'app', command: ['npm', 'run', 'migrate'] }] });
      assert.ok(input.clientToken && input.clientToken.length > 0 && input.clientToken.length <= 64, `clientToken ${input.clientToken}`);
    });

    it('a retry sends the same clientToken (no second task); another execution a different one', async () => {
      const token = () => ecsMock.commandCalls(RunTaskCommand)[0]!.args[0].input.clientToken;
      await runOnce();
      const first = token();
      resetSdkMocks();
      await runOnce();
      assert.equal(token(), first);
      resetSdkMocks();
      servicesExist();
      ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/hello-world/t2' }] });
      await handler({ action: 'runMigration', plan: { ...plan, executionArn: `${plan.executionArn}-2` }, release });
      assert.notEqual(token(), first);
    });

    it('RunTask failures are Cutover.ResourceState with the reason', async () => {
      servicesExist();
      ecsMock.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:MEMORY', detail: 'no capacity' }] });
      await assert.rejects(handler({ action: 'runMigration', plan, release }), { name: 'Cutover.ResourceState', message: /RESOURCE:MEMORY \(no capacity\)/ });
    });
  });

  describe('checkMigration', () => {
    const TASK = 'arn:aws:ecs:us-east-1:123456789012:task/hello-world/t1';
    const stopped = (exitCode: number | undefined, reason = 'Essential container in task exited') =>
      ecsMock.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'STOPPED', stoppedReason: reason, containers: [{ name: 'app', exitCode }] }] });

    it('exit 0 → SUCCEEDED', async () => {
      stopped(0);
      const out = (await handler({ action: 'checkMigration', plan, migration: { taskArn: TASK, checksLeft: 10 } })) as Record<string, unknown>;
      assert.equal(out.status, 'SUCCEEDED');
      assert.equal(out.exitCode, 0);
      assert.equal(out.checksLeft, 9);
      assert.equal(out.message, 'Migration "npm run migrate" succeeded (exit code 0).');
      assert.equal(ecsMock.commandCalls(StopTaskCommand).length, 0);
    });

    it('exit 0 of a task someone stopped (stopCode UserInitiated) → FAILED: a migration that exits 0 on SIGTERM did not finish', async () => {
      ecsMock.on(DescribeTasksCommand).resolves({
        tasks: [{ taskArn: TASK, lastStatus: 'STOPPED', stopCode: 'UserInitiated', stoppedReason: 'Task stopped by user', containers: [{ name: 'app', exitCode: 0 }] }],
      });
      const out = (await handler({ action: 'checkMigration', plan, migration: { taskArn: TASK, checksLeft: 10 } })) as Record<string, unknown>;
      assert.equal(out.status, 'FAILED');
      assert.match(out.message as string, /Task stopped by user/);
    });

    it('stopped before its container ran (TaskFailedToStart, image pull) → NOT_STARTED, ran: false (nothing of it ran)', async () => {
      ecsMock.on(DescribeTasksCommand).resolves({
        tasks: [{ taskArn: TASK, lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)', containers: [{ name: 'app' }] }],
      });
      const out = (await handler({ action: 'checkMigration', plan, migration: { taskArn: TASK, checksLeft: 10 } })) as Record<string, unknown>;
      assert.equal(out.status, 'NOT_STARTED');
      assert.equal(out.ran, false);
      assert.match(out.message as string, /did not start \(TaskFailedToStart: CannotPullContainerError/);
    });

    it('exit 1 → FAILED with the exit code and the reason in the message', async () => {
      stopped(1);
      const out = (await handler({ action: 'checkMigration', plan, migration: { taskArn: TASK, checksLeft: 10 } })) as Record<string, unknown>;
      assert.equal(out.status, 'FAILED');
      assert.equal(out.exitCode, 1);
      assert.match(out.message as string, /failed with exit code 1: Essential container in task exited/);
    });

    describe('a failed migration is recorded with the migration’s own error (its awslogs tail)', () => {
      const TASK_ID = '0123456789abcdef0123456789abcdef';
      const MIGRATION_TASK = `arn:aws:ecs:us-east-1:123456789012:task/hello-world/${TASK_ID}`;
      const GROUP = '/ecs/hello-world-production';
      const STREAM = `cutover/app/${TASK_ID}`;
      const awslogs = { logDriver: 'awslogs' as const, options: { 'awslogs-group': GROUP, 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'cutover' } };
      /** The migration task stopped with `exitCode`, running revision 4 whose `app` container logs with `logConfiguration` (null: none). */
      const failedTask = (logConfiguration: typeof awslogs | null = awslogs, exitCode = 1) => {
        ecsMock.on(DescribeTasksCommand).resolves({
          tasks: [
            {
              taskArn: MIGRATION_TASK,
              taskDefinitionArn: TD_ARN(4),
              lastStatus: 'STOPPED',
              stopCode: 'EssentialContainerExited',
              stoppedReason: 'Essential container in task exited',
              containers: [{ name: 'app', exitCode }],
            },
          ],
        });
        ecsMock.on(DescribeTaskDefinitionCommand).resolves({
          taskDefinition: { ...liveTd, taskDefinitionArn: TD_ARN(4), containerDefinitions: [{ ...liveTd.containerDefinitions![0], image: plan.image, logConfiguration: logConfiguration ?? undefined }] },
        });
      };
      const logLines = (...messages: string[]) =>
        logsMock.on(GetLogEventsCommand).resolves({
          events: messages.map((message) => ({ timestamp: 1, message, ingestionTime: 2 })),
          nextForwardToken: 'f/1',
          nextBackwardToken: 'b/0',
        });
      const check = async () => (await handler({ action: 'checkMigration', plan, migration: { taskArn: MIGRATION_TASK, checksLeft: 10 } })) as Record<string, any>;
      const TODAY = 'Migration "npm run migrate" failed with exit code 1: Essential container in task exited.';

      it('appends the last lines of the task’s awslogs stream to the message and reports them in logTail', async () => {
        // Prepare
        failedTask();
        logLines(
          'migrate v4: ### MIGRATION 0003_orders_customer (UP) ###',
          'error: relation "customers" does not exist',
          'migrate v4: FAILED, no migration of this run was applied (the transaction was rolled back): relation "customers" does not exist (SQLSTATE 42P01)',
        );
        // Act
        const out = await check();
        // Assess
        assert.equal(out.status, 'FAILED');
        assert.equal(out.exitCode, 1);
        assert.equal(
          out.message,
          `${TODAY} Last log lines of ${STREAM} in ${GROUP}: migrate v4: ### MIGRATION 0003_orders_customer (UP) ### | error: relation "customers" does not exist | ` +
            'migrate v4: FAILED, no migration of this run was applied (the transaction was rolled back): relation "customers" does not exist (SQLSTATE 42P01)',
        );
        assert.deepEqual(out.logTail, {
          logGroupName: GROUP,
          logStreamName: STREAM,
          lines: [
            'migrate v4: ### MIGRATION 0003_orders_customer (UP) ###',
            'error: relation "customers" does not exist',
            'migrate v4: FAILED, no migration of this run was applied (the transaction was rolled back): relation "customers" does not exist (SQLSTATE 42P01)',
          ],
          truncated: false,
        });
        assert.deepEqual(ecsMock.commandCalls(DescribeTaskDefinitionCommand).map((c) => c.args[0].input.taskDefinition), [TD_ARN(4)], 'the revision the task ran');
        assert.deepEqual(logsMock.commandCalls(GetLogEventsCommand).map((c) => c.args[0].input), [
          { logGroupName: GROUP, logStreamName: STREAM, startFromHead: false, limit: 20 },
        ]);
      });

      it('keeps the message within 1 KiB: the newest lines, the oldest dropped', async () => {
        failedTask();
        logLines(...Array.from({ length: 20 }, (_, i) => `line ${String(i).padStart(2, '0')} ${'x'.repeat(90)}`), 'ERROR: the last line says why');
        const out = await check();
        assert.ok(Buffer.byteLength(out.message) <= MIGRATION_MESSAGE_MAX_BYTES, `${Buffer.byteLength(out.message)} bytes`);
        assert.ok(MIGRATION_MESSAGE_MAX_BYTES <= 1024);
        assert.ok(out.message.startsWith(`${TODAY} Last log lines of ${STREAM} in ${GROUP}: `));
        assert.ok(out.message.endsWith(' | ERROR: the last line says why'), out.message);
        assert.ok(!out.message.includes('line 00'), 'the oldest lines are dropped');
        assert.equal(out.logTail.truncated, true);
        assert.equal(out.logTail.lines.at(-1), 'ERROR: the last line says why');
      });

      it('without awslogs in the task definition: today’s message, logTail null, no log read', async () => {
        failedTask(null);
        const out = await check();
        assert.equal(out.message, TODAY);
        assert.equal(out.logTail, null);
        assert.equal(logsMock.commandCalls(GetLogEventsCommand).length, 0);
      });

      for (const [what, error] of [
        ['no stream (ResourceNotFoundException)', sdkError(ResourceNotFoundException, 'The specified log stream does not exist.')],
        ['no permission (AccessDeniedException)', sdkError(AccessDeniedException, 'not authorized to perform: logs:GetLogEvents')],
        ['throttled even after the SDK’s retries', throttlingError('logs')],
      ] as const) {
        it(`${what}: today’s message, and the check does not fail`, async () => {
          failedTask();
          logsMock.on(GetLogEventsCommand).rejects(error);
          const out = await check();
          assert.equal(out.status, 'FAILED');
          assert.equal(out.message, TODAY);
          assert.equal(out.logTail, null);
        });
      }

      it('ECS cannot describe the task definition: today’s message, the check does not fail', async () => {
        failedTask();
        ecsMock.on(DescribeTaskDefinitionCommand).rejects(throttlingError('ecs'));
        const out = await check();
        assert.equal(out.message, TODAY);
        assert.equal(out.logTail, null);
      });

      it('a migration that succeeded reads no logs', async () => {
        failedTask(awslogs, 0);
        const out = await check();
        assert.equal(out.status, 'SUCCEEDED');
        assert.equal(out.logTail, null);
        assert.equal(logsMock.commandCalls(GetLogEventsCommand).length, 0);
      });
    });

    it('still running with checks left → RUNNING, task not stopped', async () => {
      ecsMock.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'RUNNING', containers: [{ name: 'app' }] }] });
      const out = (await handler({ action: 'checkMigration', plan, migration: { taskArn: TASK, checksLeft: 2 } })) as Record<string, unknown>;
      assert.equal(out.status, 'RUNNING');
      assert.equal(out.checksLeft, 1);
      assert.equal(ecsMock.commandCalls(StopTaskCommand).length, 0);
    });

    it('still running at the last check → StopTask and TIMED_OUT', async () => {
      ecsMock.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'RUNNING', containers: [{ name: 'app' }] }] });
      const out = (await handler({ action: 'checkMigration', plan, migration: { taskArn: TASK, checksLeft: 1 } })) as Record<string, unknown>;
      assert.equal(out.status, 'TIMED_OUT');
      assert.equal(out.checksLeft, 0);
      assert.match(out.message as string, /did not finish in time and was stopped/);
      const stop = ecsMock.commandCalls(StopTaskCommand);
      assert.equal(stop.length, 1);
      assert.deepEqual({ cluster: stop[0]!.args[0].input.cluster, task: stop[0]!.args[0].input.task }, { cluster: 'hello-world', task: TASK });
    });
  });

  describe('deployGreen / checkGreen / scaleDown', () => {
    it('deployGreen points the idle service at the new revision and the live desired count', async () => {
      const out = (await handler({ action: 'deployGreen', plan, release })) as Record<string, unknown>;
      assert.equal(out.checksLeft, plan.stabilizationChecks);
      assert.equal(out.stable, false);
      const input = ecsMock.commandCalls(UpdateServiceCommand)[0]!.args[0].input;
      assert.deepEqual(
        { cluster: input.cluster, service: input.service, taskDefinition: input.taskDefinition, desiredCount: input.desiredCount },
        { cluster: 'hello-world', service: 'hello-world-green', taskDefinition: TD_ARN(4), desiredCount: 3 },
      );
    });

    it('deployGreen on a service that vanished fails with ECS’s own error, its message naming the call and the service', async () => {
      ecsMock.on(UpdateServiceCommand).rejects(sdkError(ServiceNotFoundException, 'Service not found.'));
      // The cause a rollback records is this message: it must say what failed on what, not only "Service not found.".
      await assert.rejects(handler({ action: 'deployGreen', plan, release }), (err: Error) => {
        assert.ok(err instanceof ServiceNotFoundException, 'same class: Step Functions and callers still match it');
        assert.equal(err.name, 'ServiceNotFoundException');
        assert.equal(err.message, 'ECS UpdateService hello-world-green (cluster hello-world) failed: ServiceNotFoundException: Service not found.');
        return true;
      });
    });

    const check = async (green: Partial<Service>, checksLeft = 10) => {
      servicesExist(green);
      return (await handler({ action: 'checkGreen', plan, release, green: { checksLeft } })) as Record<string, any>;
    };
    const primary = (over = {}) => ({ id: 'ecs-svc/2', status: 'PRIMARY', taskDefinition: TD_ARN(4), rolloutState: 'COMPLETED' as const, ...over });

    it('one deployment of the new revision, running = desired → stable', async () => {
      const out = await check({ desiredCount: 3, runningCount: 3, taskDefinition: TD_ARN(4), deployments: [primary()] });
      assert.equal(out.stable, true);
      assert.equal(out.checksLeft, 9);
      assert.match(out.message, /is stable: 3\/3 tasks/);
    });

    it('two deployments (old still draining) → not stable', async () => {
      const out = await check({
        desiredCount: 3,
        runningCount: 3,
        taskDefinition: TD_ARN(4),
        deployments: [primary({ rolloutState: 'IN_PROGRESS' }), { id: 'ecs-svc/1', status: 'ACTIVE', taskDefinition: TD_ARN(3) }],
      });
      assert.equal(out.stable, false);
      assert.equal(out.checksLeft, 9);
      assert.match(out.message, /2 deployment\(s\)/);
    });

    it('running < desired → not stable, last event quoted', async () => {
      const out = await check({
        desiredCount: 3,
        runningCount: 1,
        taskDefinition: TD_ARN(4),
        deployments: [primary({ rolloutState: 'IN_PROGRESS' })],
        events: [{ id: 'e1', message: '(service hello-world-green) has started 2 tasks' }],
      });
      assert.equal(out.stable, false);
      assert.match(out.message, /1\/3 tasks running.*last event: \(service hello-world-green\) has started 2 tasks/);
    });

    it('stable on the old revision is not stable for this release', async () => {
      const out = await check({ desiredCount: 3, runningCount: 3, taskDefinition: TD_ARN(3), deployments: [primary({ taskDefinition: TD_ARN(3) })] });
      assert.equal(out.stable, false);
    });

    it('rolloutState FAILED → checksLeft 0 (give up now)', async () => {
      const out = await check({ desiredCount: 3, runningCount: 0, taskDefinition: TD_ARN(4), deployments: [primary({ rolloutState: 'FAILED' })] }, 30);
      assert.equal(out.stable, false);
      assert.equal(out.checksLeft, 0);
      assert.match(out.message, /rollout FAILED/);
    });

    it('a circuit-breaker rollback (rollback deployment PRIMARY, ours FAILED second) → checksLeft 0 at once, with ECS’s reason', async () => {
      const out = await check(
        {
          desiredCount: 3,
          runningCount: 3,
          taskDefinition: TD_ARN(3),
          deployments: [
            primary({ id: 'ecs-svc/3', taskDefinition: TD_ARN(3), rolloutState: 'IN_PROGRESS', rolloutStateReason: 'ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.' }),
            { id: 'ecs-svc/2', status: 'ACTIVE', taskDefinition: TD_ARN(4), rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' },
          ],
        },
        30,
      );
      assert.equal(out.stable, false);
      assert.equal(out.checksLeft, 0);
      assert.match(out.message, /rollout FAILED: ECS deployment circuit breaker: tasks failed to start\./);
    });

    it('the PRIMARY deployment runs another revision (rolled back, or replaced) → checksLeft 0', async () => {
      const out = await check({ desiredCount: 3, runningCount: 3, taskDefinition: TD_ARN(3), deployments: [primary({ taskDefinition: TD_ARN(3) })] }, 30);
      assert.equal(out.checksLeft, 0);
      assert.match(out.message, /PRIMARY deployment runs .*task-definition\/hello-world-production:3, not/);
    });

    it('scaleDown sets the idle slot’s desired count to 0', async () => {
      const out = await handler({ action: 'scaleDown', plan, slots: { live: 'blue', idle: 'green' } });
      assert.deepEqual(out, { service: 'hello-world-green', desiredCount: 0 });
      const input = ecsMock.commandCalls(UpdateServiceCommand)[0]!.args[0].input;
      assert.equal(input.service, 'hello-world-green');
      assert.equal(input.desiredCount, 0);
      assert.equal(input.taskDefinition, undefined);
    });
  });
});
