/**
 * The simulator's CloudWatch Logs (lib/local/simulator/logs.ts), through the real SDK clients of
 * lib/aws/clients.ts: GetLogEvents over the awslogs streams of the living twin's ECS tasks (real child
 * processes writing `<logDir>/<cluster>/<task id>.log`), seeded streams, validation and errors.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AccessDeniedException,
  GetLogEventsCommand,
  InvalidParameterException,
  ResourceNotFoundException,
  type GetLogEventsCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, RunTaskCommand, type LogConfiguration, type Task } from '@aws-sdk/client-ecs';
import { configureClients, ecsClient, logsClient, resetClients } from '../../lib/aws/clients';
import { registerReleaseRevision } from '../../lib/aws/ecs';
import { readTaskLogTail } from '../../lib/aws/logs';
import { parseConfig } from '../../lib/config';
import { SimClock } from '../../lib/local/clock';
import type { LocalImage } from '../../lib/local/live/types';
import { Simulator, type LiveEcs } from '../../lib/local/simulator';
import { connectSimulator } from '../../lib/local/simulator/harness';
import { SEED_LOG_STREAM_PREFIX, seedLogGroupName } from '../../lib/local/simulator/seed';

const CLUSTER = 'apps';
const GROUP = '/ecs/migrations';
const awslogs = (group = GROUP, prefix = 'cutover'): LogConfiguration => ({
  logDriver: 'awslogs',
  options: { 'awslogs-group': group, 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': prefix },
});
const getLogEvents = (input: Partial<GetLogEventsCommandInput>) => logsClient().send(new GetLogEventsCommand(input as GetLogEventsCommandInput));

/** Poll `check` until it returns a value; fail after `timeoutMs` real ms. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('simulated CloudWatch Logs: awslogs streams of live ECS tasks', () => {
  let dir: string;
  let sim: Simulator<LiveEcs>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-logs-'));
    // A migration that prints 30 lines, then its error on stderr, and exits 1.
    await writeFile(
      join(dir, 'migrate.js'),
      `for (let i = 1; i <= 30; i++) console.log('step ' + i);
console.log('');
console.error('error: relation "customers" does not exist');
process.exitCode = 1;`,
    );
    await writeFile(join(dir, 'ok.js'), `console.log('fine');`);
    const images: Record<string, LocalImage> = {
      'app:v1': { command: [process.execPath, join(dir, 'migrate.js')], cwd: dir },
      'app:ok': { command: [process.execPath, join(dir, 'ok.js')], cwd: dir },
    };
    sim = Simulator.live({
      clock: new SimClock({ timeScale: 200 }),
      liveEcs: {
        targets: { register: () => undefined, deregister: () => Promise.resolve(), state: () => undefined },
        images: { resolve: (image) => images[image] },
        logDir: join(dir, 'logs'),
      },
    });
    configureClients({ transport: sim, region: sim.region, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    sim.ecs.createCluster({ clusterName: CLUSTER });
  });

  afterEach(async () => {
    resetClients();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Register `family` (container `app` of `image`, logging with `logConfiguration`), run it, wait until STOPPED. */
  async function runToCompletion(family: string, image: string, logConfiguration?: LogConfiguration): Promise<Task> {
    const { taskDefinition } = sim.ecs.registerTaskDefinition({ family, containerDefinitions: [{ name: 'app', image, essential: true, logConfiguration }] });
    const run = await ecsClient().send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: taskDefinition!.taskDefinitionArn }));
    const taskArn = run.tasks![0]!.taskArn!;
    return waitFor('the task to stop', async () => {
      const t = (await ecsClient().send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] }))).tasks![0]!;
      return t.lastStatus === 'STOPPED' ? t : undefined;
    });
  }
  const taskId = (t: Task) => t.taskArn!.split('/').at(-1)!;

  it('a task that prints and exits non-zero: GetLogEvents (newest first) returns its last lines, oldest first', async () => {
    // Prepare
    const task = await runToCompletion('migrate', 'app:v1', awslogs());
    assert.equal(task.containers![0]!.exitCode, 1);
    // Act
    const out = await getLogEvents({ logGroupName: GROUP, logStreamName: `cutover/app/${taskId(task)}`, startFromHead: false, limit: 3 });
    // Assess
    assert.deepEqual(
      out.events!.map((e) => e.message),
      ['step 29', 'step 30', 'error: relation "customers" does not exist'],
      'blank lines are not events',
    );
    const e = out.events![0]!;
    assert.equal(e.timestamp, task.startedAt!.getTime(), 'timestamp: when the task started (simulated)');
    assert.equal(e.ingestionTime, task.stoppedAt!.getTime());
    assert.match(out.nextBackwardToken!, /^b\/\d+$/);
    assert.match(out.nextForwardToken!, /^f\/\d+$/);
  });

  it('pages with the tokens in both directions; at the end the token comes back unchanged', async () => {
    const task = await runToCompletion('migrate', 'app:v1', awslogs());
    const stream = { logGroupName: GROUP, logStreamName: `cutover/app/${taskId(task)}` };
    const head = await getLogEvents({ ...stream, startFromHead: true, limit: 2 });
    assert.deepEqual(head.events!.map((e) => e.message), ['step 1', 'step 2']);
    const next = await getLogEvents({ ...stream, nextToken: head.nextForwardToken, limit: 2 });
    assert.deepEqual(next.events!.map((e) => e.message), ['step 3', 'step 4']);
    const back = await getLogEvents({ ...stream, nextToken: next.nextBackwardToken, limit: 10 });
    assert.deepEqual(back.events!.map((e) => e.message), ['step 1', 'step 2']);
    const before = await getLogEvents({ ...stream, nextToken: back.nextBackwardToken });
    assert.deepEqual(before.events, []);
    assert.equal(before.nextBackwardToken, back.nextBackwardToken, 'nothing before the first event');
    const all = await getLogEvents(stream);
    assert.equal(all.events!.length, 31, 'without a limit: every event (up to 10,000 / 1 MB)');
    const end = await getLogEvents({ ...stream, nextToken: all.nextForwardToken });
    assert.deepEqual(end.events, []);
    assert.equal(end.nextForwardToken, all.nextForwardToken);
  });

  it('the adapter reads the tail the way checkMigration does (lib/aws/logs.ts through the SDK)', async () => {
    const task = await runToCompletion('migrate', 'app:v1', awslogs());
    const tail = await readTaskLogTail({ taskArn: task.taskArn!, containerName: 'app', logConfiguration: awslogs() }, { maxLines: 2 });
    assert.deepEqual(tail?.lines, ['step 30', 'error: relation "customers" does not exist']);
  });

  it('only tasks whose container logs with awslogs to that group and prefix have a stream', async () => {
    const plain = await runToCompletion('plain', 'app:ok');
    const logged = await runToCompletion('logged', 'app:ok', awslogs());
    const notFound = { name: 'ResourceNotFoundException' };
    // No awslogs in the task definition: the twin has its log file, CloudWatch Logs has nothing.
    await assert.rejects(getLogEvents({ logGroupName: GROUP, logStreamName: `cutover/app/${taskId(plain)}` }), notFound);
    // Another prefix, container or group than the task definition's.
    await assert.rejects(getLogEvents({ logGroupName: GROUP, logStreamName: `other/app/${taskId(logged)}` }), notFound);
    await assert.rejects(getLogEvents({ logGroupName: GROUP, logStreamName: `cutover/web/${taskId(logged)}` }), notFound);
    await assert.rejects(getLogEvents({ logGroupName: '/ecs/other', logStreamName: `cutover/app/${taskId(logged)}` }), notFound);
    const ok = await getLogEvents({ logGroupName: GROUP, logStreamName: `cutover/app/${taskId(logged)}` });
    assert.deepEqual(ok.events!.map((e) => e.message), ['fine']);
  });

  it('an unknown stream → ResourceNotFoundException (the SDK’s class): stream vs group', async () => {
    await runToCompletion('logged', 'app:ok', awslogs());
    const err = await getLogEvents({ logGroupName: GROUP, logStreamName: 'cutover/app/0000000000000000000000000000dead' }).catch((e: unknown) => e);
    assert.ok(err instanceof ResourceNotFoundException, String(err));
    assert.equal(err.message, 'The specified log stream does not exist.');
    await assert.rejects(getLogEvents({ logGroupName: '/ecs/nobody', logStreamName: 'cutover/app/x' }), {
      name: 'ResourceNotFoundException',
      message: 'The specified log group does not exist.',
    });
  });

  it('logs its calls, and injected faults use the SDK’s classes (AccessDeniedException)', async () => {
    sim.calls.length = 0;
    sim.injectFault({ service: 'logs', operation: 'GetLogEvents', error: 'AccessDeniedException', message: 'not authorized' });
    const err = await getLogEvents({ logGroupName: GROUP, logStreamName: 'cutover/app/x' }).catch((e: unknown) => e);
    assert.ok(err instanceof AccessDeniedException, String(err));
    assert.deepEqual(
      sim.calls.map((c) => [c.service, c.operation]),
      [['logs', 'GetLogEvents']],
    );
    // The adapter treats it as "no tail".
    sim.injectFault({ service: 'logs', operation: '*', error: 'AccessDeniedException' });
    assert.equal(await readTaskLogTail({ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/apps/x', containerName: 'app', logConfiguration: awslogs() }), undefined);
  });
});

describe('simulated CloudWatch Logs: validation, seeded streams, the lazy simulator', () => {
  let connected: ReturnType<typeof connectSimulator>;
  beforeEach(() => {
    connected = connectSimulator();
  });
  afterEach(() => connected.close());

  const invalid = async (input: Partial<GetLogEventsCommandInput>, message: RegExp) => {
    const err = await getLogEvents(input).catch((e: unknown) => e);
    assert.ok(err instanceof InvalidParameterException, String(err));
    assert.match(err.message, message);
  };

  it('bad input → InvalidParameterException naming the field and its constraint', async () => {
    await invalid({ logGroupName: GROUP, logStreamName: 's', limit: 0 }, /^1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1$/);
    await invalid({ logGroupName: GROUP, logStreamName: 's', limit: 10_001 }, /at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000/);
    await invalid({ logGroupName: GROUP, logStreamName: 'a:b' }, /Value 'a:b' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: \[\^:\*\]\*/);
    await invalid({ logGroupName: GROUP }, /Value null at 'logStreamName' failed to satisfy constraint: Member must not be null/);
    await invalid({ logGroupName: 'bad group!', logStreamName: 's', startTime: -1 }, /^2 validation errors detected: .*'logGroupName'.*; .*'startTime'.*greater than or equal to 0/);
    await invalid({ logGroupName: GROUP, logGroupIdentifier: GROUP, logStreamName: 's' }, /logGroupName and logGroupIdentifier are mutually exclusive/);
    await invalid({ logStreamName: 's' }, /Either logGroupName or logGroupIdentifier/);
    connected.sim.logs.seedLogEvents(GROUP, 's', ['x']);
    await invalid({ logGroupName: GROUP, logStreamName: 's', nextToken: 'not-a-token' }, /nextToken is invalid/);
  });

  it('seeded streams: newest by default, by group name or ARN; time range filters', async () => {
    const { sim } = connected;
    sim.logs.seedLogEvents(GROUP, 'cutover/app/t1', ['one', 'two'], 1_000);
    sim.logs.seedLogEvents(GROUP, 'cutover/app/t1', ['three'], 2_000);
    const out = await getLogEvents({ logGroupName: GROUP, logStreamName: 'cutover/app/t1', limit: 2 });
    assert.deepEqual(out.events!.map((e) => [e.timestamp, e.message]), [[1_000, 'two'], [2_000, 'three']]);
    const byArn = await getLogEvents({ logGroupIdentifier: `arn:aws:logs:us-east-1:123456789012:log-group:${GROUP}`, logStreamName: 'cutover/app/t1', startFromHead: true, limit: 1 });
    assert.deepEqual(byArn.events!.map((e) => e.message), ['one']);
    const ranged = await getLogEvents({ logGroupName: GROUP, logStreamName: 'cutover/app/t1', startTime: 1_500, endTime: 2_001 });
    assert.deepEqual(ranged.events!.map((e) => e.message), ['three']);
    await assert.rejects(getLogEvents({ logGroupIdentifier: `arn:aws:logs:eu-west-1:123456789012:log-group:${GROUP}`, logStreamName: 'cutover/app/t1' }), {
      name: 'ResourceNotFoundException',
    });
  });

  it('an operation it does not implement → UnknownOperationException listing what it does', async () => {
    await assert.rejects(connected.sim.send('logs', 'PutLogEvents', {}), { name: 'UnknownOperationException', message: /logs:PutLogEvents\. Supported: GetLogEvents/ });
  });

  it('the lazy simulator runs no processes: a seeded environment’s task stream does not exist', async () => {
    const config = parseConfig(JSON.parse(readFileSync(new URL('../fixtures/hello-world-production.json', import.meta.url), 'utf8')));
    connected.sim.seedFromConfig(config);
    await assert.rejects(getLogEvents({ logGroupName: seedLogGroupName('hello-world-production'), logStreamName: 'cutover/app/0123456789abcdef0123456789abcdef' }), {
      name: 'ResourceNotFoundException',
    });
  });

  it('seeded task definitions log with awslogs, and a release revision keeps that configuration', async () => {
    const config = parseConfig(JSON.parse(readFileSync(new URL('../fixtures/hello-world-production.json', import.meta.url), 'utf8')));
    connected.sim.seedFromConfig(config);
    const family = 'hello-world-production';
    const expected = {
      logDriver: 'awslogs',
      options: { 'awslogs-group': `/ecs/${family}`, 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': SEED_LOG_STREAM_PREFIX },
    };
    const first = await ecsClient().send(new DescribeTaskDefinitionCommand({ taskDefinition: `${family}:1` }));
    assert.deepEqual(first.taskDefinition!.containerDefinitions![0]!.logConfiguration, expected);
    // As ecs-release's prepare does: a revision of the live one with the release image.
    const revision = await registerReleaseRevision(first.taskDefinition!.taskDefinitionArn!, 'app', 'repo/hello-world:new', 'run-1');
    const second = await ecsClient().send(new DescribeTaskDefinitionCommand({ taskDefinition: revision.taskDefinitionArn }));
    assert.deepEqual(second.taskDefinition!.containerDefinitions![0]!.logConfiguration, expected);
    assert.equal(second.taskDefinition!.containerDefinitions![0]!.image, 'repo/hello-world:new');
  });
});
