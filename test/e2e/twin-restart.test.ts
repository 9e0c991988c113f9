/**
 * The living twin's state survives a restart: a twin started again on the same state directory is
 * the same account — the release it last promoted serves production, the database keeps its rows and
 * its resource id, snapshots and task definition revisions are there, the ledger has its history — and
 * a deployment that was running when the twin stopped comes back interrupted, its lock released.
 * `reset` starts a fresh account; a state file of another config is refused with a clear error.
 *
 * One state directory for the file; the steps run in order, as a user's sessions would.
 */
import { parseEcrImage } from '../../lib/domain/image-events';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeDBInstancesCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import type { PushEvent } from '@octokit/webhooks-types';
import { rdsClient } from '../../lib/aws/clients';
import { ROOT_DIR } from '../../lib/catalog';
import type { Config } from '../../lib/config/schema';
import { deliverPush, examplePush, nextPush } from '../../lib/local/demo';
import { missingIds } from '../../lib/local/live/db-inspect';
import { INTERRUPTED_ERROR, readTwinState, TWIN_STATE_FILE, TwinStateError } from '../../lib/local/live/persist';
import type { LiveEcs } from '../../lib/local/simulator';
import { Twin } from '../../lib/local/twin';
import { runCutover, writeTestAccount } from '../helpers/cli';
import { configVariant, ENVIRONMENT, sampleLiveOptions, SERVICE } from '../helpers/twin';

/** ×30: real process start-up on a busy 2-core machine must fit the config's 600 s (simulated) stabilization timeout. */
const TIME_SCALE = 30;
/** Short simulated snapshot / restore durations: the test is about restarts, not about waiting. */
const SIMULATOR = { snapshotSeconds: 10, restoreSeconds: 20, renameSeconds: 10 } as const;

describe('e2e: the living twin survives a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-restart-'));
  const stateDir = join(dir, 'state');
  // All at once, no bake: each deployment takes a few seconds. Policy `keep`: no operator is asked.
  const config: Config = configVariant((env) => {
    env.strategy = { type: 'all-at-once', bakeSeconds: 0 };
    env.databaseFailurePolicy = 'keep';
  });
  const env = config.services[SERVICE]!.environments[ENVIRONMENT]!;
  const productionArn = 'listenerArn' in env.production ? env.production.listenerArn : env.production.ruleArn;
  let twin: Twin<LiveEcs> | undefined;
  let push: PushEvent | undefined;

  /** Facts taken before the stop, checked after the restart. */
  const before_ = {
    v2Commit: '',
    v2Deployment: '',
    interruptedDeployment: '',
    orderIds: [] as number[],
    dbiResourceId: '',
    snapshots: [] as string[],
    productionTaskDefinition: '',
  };

  function start(extra: Parameters<typeof sampleLiveOptions>[1] = {}, cfg: Config = config): Promise<Twin<LiveEcs>> {
    return Twin.start({ config: cfg, port: 0, timeScale: TIME_SCALE, simulator: SIMULATOR, live: sampleLiveOptions(stateDir, extra) });
  }

  async function stop(): Promise<void> {
    await twin?.stop();
    twin = undefined;
  }

  after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** CI pushes `version`'s image under a new commit, GitHub delivers the push; resolves with the webhook's execution ARN. */
  async function pushRelease(t: Twin<LiveEcs>, version: string, message: string): Promise<{ commit: string; executionArn: string }> {
    push = push ? nextPush(push, message) : { ...examplePush(), head_commit: { ...examplePush().head_commit!, message } };
    t.live.registry.push(`${env.imageRepository}:${push.after}`, t.live.registry.resolve(`${env.imageRepository}:${version}`)!);
    t.ciPassed(Object.keys(t.config.services)[0]!, push.after);
    const r = await deliverPush(t.url, t.webhookSecret, push);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return { commit: push.after, executionArn: String(r.body.executionArn) };
  }

  /** The version the sample app reports on the production listener, over `n` requests (distinct values). */
  async function productionVersions(t: Twin<LiveEcs>, n = 10): Promise<string[]> {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const res = await fetch(t.live.loadBalancer.url(productionArn));
      assert.equal(res.status, 200);
      seen.add(((await res.json()) as { version: string }).version);
    }
    return [...seen].sort();
  }

  /** Writes `n` orders through the production listener; resolves with their ids. */
  async function writeOrders(t: Twin<LiveEcs>, n: number): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${t.live.loadBalancer.url(productionArn)}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ item: `before the restart ${i}` }),
      });
      assert.equal(res.status, 201);
      ids.push(((await res.json()) as { id: number }).id);
    }
    return ids;
  }

  const deploymentId = (executionArn: string) => executionArn.split(':').at(-1)!;

  it('a fresh twin deploys v2 through the webhook, stops during the next deployment, and leaves a valid twin-state.json', async () => {
    twin = await start();
    assert.equal(twin.live.resumed, undefined, 'a fresh account');
    assert.deepEqual(await productionVersions(twin), ['v1']);
    before_.orderIds.push(...(await writeOrders(twin, 5)));

    const v2 = await pushRelease(twin, 'v2', 'v2: orders get a priority');
    const done = await twin.sfn.waitForExecution(v2.executionArn);
    assert.equal(done.status, 'SUCCEEDED', `${done.error}: ${done.cause}`);
    before_.v2Commit = v2.commit;
    before_.v2Deployment = deploymentId(v2.executionArn);
    // The end of an execution writes the state file (a kill after this point loses nothing of it).
    const saved = Date.now() + 5_000;
    while (!readTwinState(join(stateDir, TWIN_STATE_FILE))?.ledger.items.some((i) => i.deploymentId === before_.v2Deployment && i.status === 'succeeded')) {
      assert.ok(Date.now() < saved, 'the state file has the v2 deployment soon after it ended');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(await productionVersions(twin), ['v2']);
    before_.orderIds.push(...(await writeOrders(twin, 5)));

    const instance = (await rdsClient().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: env.database!.instanceIdentifier }))).DBInstances![0]!;
    before_.dbiResourceId = instance.DbiResourceId!;
    const snapshots = (await rdsClient().send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: env.database!.instanceIdentifier }))).DBSnapshots!;
    assert.ok(snapshots.length >= 1, 'v2 took a snapshot before its migration');
    before_.snapshots = snapshots.map((s) => s.DBSnapshotIdentifier!);
    const weights = twin.sim.elbv2.weights(productionArn);
    const liveSlot = (['blue', 'green'] as const).find((s) => weights[env.slots[s].targetGroupArn] === 100)!;
    before_.productionTaskDefinition = twin.sim.ecs.describeService(env.cluster, env.slots[liveSlot].service)!.taskDefinition!;

    // The next deployment is running (it holds the lock) when the twin stops.
    const v3 = await pushRelease(twin, 'v3', 'v3: stopped halfway');
    before_.interruptedDeployment = deploymentId(v3.executionArn);
    const deadline = Date.now() + 30_000;
    while ((await twin.ledger.getLock(SERVICE, ENVIRONMENT))?.executionArn !== v3.executionArn) {
      assert.ok(Date.now() < deadline, 'the v3 deployment took the lock');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(twin.sfn.describeExecution({ executionArn: v3.executionArn }).status, 'RUNNING');
    await stop();

    const state = readTwinState(join(stateDir, TWIN_STATE_FILE));
    assert.ok(state, 'the state file was written');
    assert.equal(state.version, 1);
    assert.ok(state.rds.instances.some((i) => i.resourceId === before_.dbiResourceId));
    assert.ok(state.ecs.taskDefinitions.some((t) => t.taskDefinition.taskDefinitionArn === before_.productionTaskDefinition));
    assert.ok(state.ledger.items.some((i) => i.deploymentId === before_.interruptedDeployment && i.status === 'in-progress'), 'saved while v3 ran');
    assert.ok(Object.keys(state.images).some((ref) => ref.endsWith(`:${before_.v2Commit}`)), 'the pushed v2 image is saved');
  });

  it('started again on the same state directory, it resumes the account: v2 on production, the rows, the snapshot, the resource id, the history', async () => {
    const orphan = join(stateDir, 'rds', 'data', 'db-ORPHANEDBYATEST');
    mkdirSync(orphan, { recursive: true });

    twin = await start();

    const resumed = twin.live.resumed;
    assert.ok(resumed, 'the twin says it resumed');
    // v2 runs pinned by digest: the digest the twin's ECR has under v2's commit tag.
    const pinned = parseEcrImage(resumed.environments[0]!.image ?? '');
    assert.ok(pinned?.digest, `pinned by digest: ${resumed.environments[0]!.image}`);
    assert.ok(twin.sim.ecr.tagsOf(pinned.repositoryName, pinned.digest).includes(before_.v2Commit), 'the digest of v2\'s commit tag');
    assert.ok(resumed.removed.includes(orphan), 'a data directory no resource references is deleted');
    assert.equal(existsSync(orphan), false);
    assert.deepEqual(await productionVersions(twin, 20), ['v2'], 'production answers with v2');
    const dbUrl = twin.live.databaseUrl(env.database!.instanceIdentifier!);
    assert.deepEqual(await missingIds(dbUrl, 'orders', before_.orderIds), [], 'every row written before the stop is there');

    const instance = (await rdsClient().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: env.database!.instanceIdentifier }))).DBInstances![0]!;
    assert.equal(instance.DBInstanceStatus, 'available');
    assert.equal(instance.DbiResourceId, before_.dbiResourceId, 'the database keeps its resource id');
    const snapshots = (await rdsClient().send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: env.database!.instanceIdentifier }))).DBSnapshots!;
    for (const id of before_.snapshots) {
      const s = snapshots.find((x) => x.DBSnapshotIdentifier === id);
      assert.equal(s?.Status, 'available', `snapshot ${id} is listed and available`);
      assert.equal(s?.DbiResourceId, before_.dbiResourceId);
    }
    const weights = twin.sim.elbv2.weights(productionArn);
    const liveSlot = (['blue', 'green'] as const).find((s) => weights[env.slots[s].targetGroupArn] === 100)!;
    assert.equal(twin.sim.ecs.describeService(env.cluster, env.slots[liveSlot].service)!.taskDefinition, before_.productionTaskDefinition, 'same task definition revision');

    const history = await twin.ledger.history(SERVICE, ENVIRONMENT, 20);
    const v2 = history.find((r) => r.deploymentId === before_.v2Deployment);
    assert.equal(v2?.status, 'succeeded', 'the v2 deployment is in the history');
    const v3 = history.find((r) => r.deploymentId === before_.interruptedDeployment);
    assert.equal(v3?.status, 'failed');
    assert.equal(v3?.error, INTERRUPTED_ERROR);
    assert.match(v3?.message ?? '', /the local twin stopped while this deployment ran/);
    assert.equal(v3?.pendingTaskToken, undefined);
    assert.deepEqual(resumed.interrupted.map((r) => r.deploymentId), [before_.interruptedDeployment]);
    assert.equal(await twin.ledger.getLock(SERVICE, ENVIRONMENT), undefined, 'its lock was released');

    // Not wedged: the next deployment takes the lock and promotes.
    const again = await pushRelease(twin, 'v2', 'v2 again, after the restart');
    const done = await twin.sfn.waitForExecution(again.executionArn);
    assert.equal(done.status, 'SUCCEEDED', `${done.error}: ${done.cause}`);
    assert.deepEqual(await productionVersions(twin), ['v2']);
    assert.deepEqual(await missingIds(dbUrl, 'orders', before_.orderIds), []);
    await stop();
  });

  it('`cutover local --exit` on the saved account is refused at once, naming --reset: the demo it would judge plays only on a fresh account', async () => {
    const r = await runCutover(['local', '--port', '0', '--account', writeTestAccount(dir), '--state-dir', stateDir, '--time-scale', String(TIME_SCALE), '--exit'], 60_000);

    assert.equal(r.code, 1, `exit ${r.code} (${r.signal})\n${r.stdout}\n${r.stderr}`);
    assert.ok(
      r.stderr.includes(`cutover: --exit plays the demo and exits with its verdict, but the state directory ${stateDir} holds a saved account (twin-state.json)`),
      r.stderr,
    );
    assert.match(r.stderr, /Add --reset to start clean/);
    assert.doesNotMatch(r.stderr, /^\s+at .+[(:]\d+/m, 'no stack trace');
    assert.doesNotMatch(r.stdout, /Starting the cutover local twin/, 'nothing was started');
  });

  it('`cutover local --exit --no-demo` on the saved account says what it resumed and exits 0', async () => {
    // The config the state was written with: hello-world/production alone (the sample without staging).
    const r = await runCutover(['local', '--port', '0', '--config', join(ROOT_DIR, 'test/fixtures/hello-world-production.json'), '--account', writeTestAccount(dir), '--state-dir', stateDir, '--time-scale', String(TIME_SCALE), '--exit', '--no-demo']);

    assert.equal(r.code, 0, `exit ${r.code} (${r.signal})\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Resumed from ${escape(stateDir)} \\(saved [^)]+\\): production on [0-9a-f]{40}, \\d+ deployments in history`));
    assert.doesNotMatch(r.stdout, /● Push 1/, 'the demo did not play');
  });

  it('`reset: true` starts a fresh account: v1 on production and an empty history', async () => {
    twin = await start({ reset: true });

    assert.equal(twin.live.resumed, undefined);
    assert.deepEqual(await productionVersions(twin), ['v1']);
    assert.deepEqual(await twin.ledger.history(SERVICE, ENVIRONMENT, 20), []);
    const snapshots = (await rdsClient().send(new DescribeDBSnapshotsCommand({}))).DBSnapshots!;
    assert.deepEqual(snapshots, []);
    await stop();
    assert.ok(readTwinState(join(stateDir, TWIN_STATE_FILE)), 'the fresh account is saved too');
  });

  it('a state file written for another config is refused, naming the difference and --reset', async () => {
    const other = configVariant((e) => {
      e.database.instanceIdentifier = 'orders-db';
    });

    await assert.rejects(start({}, other), (err: Error) => {
      assert.ok(err instanceof TwinStateError, String(err));
      assert.ok(err.message.includes(join(stateDir, TWIN_STATE_FILE)), err.message);
      assert.match(err.message, /hello-world\/production database: the state has instance "hello-world-production", the config names instance "orders-db"/);
      assert.match(err.message, /--reset/);
      return true;
    });
  });

  it('a corrupt state file is refused, naming the file and --reset', async () => {
    const file = join(stateDir, TWIN_STATE_FILE);
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 200));

    await assert.rejects(start(), (err: Error) => {
      assert.ok(err instanceof TwinStateError, String(err));
      assert.match(err.message, new RegExp(`${escape(file)} is corrupt: not JSON`));
      assert.match(err.message, /--reset/);
      return true;
    });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
