/**
 * The living twin end to end: the sample application's releases pushed through the GitHub webhook
 * and deployed by the real state machine onto real processes, a real load balancer and PostgreSQL,
 * under steady traffic. One twin for the file; the steps run in order (v2, v3, v4) as a user's
 * pushes would.
 */
import { parseEcrImage } from '../../lib/domain/image-events';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeAlarmHistoryCommand } from '@aws-sdk/client-cloudwatch';
import type { PushEvent } from '@octokit/webhooks-types';
import { cloudWatchClient } from '../../lib/aws/clients';
import { parseConfig } from '../../lib/config';
import { productionOnly } from '../helpers/plans';
import type { Config } from '../../lib/config/schema';
import { deliverPush, examplePush, nextPush } from '../../lib/local/demo';
import { loadTwinAccountFile } from '../../lib/local/live/account';
import { databaseShape, missingIds, withClient } from '../../lib/local/live/db-inspect';
import { figuresBetween, LoadGenerator, type LoadFigures } from '../../lib/local/live/load-generator';
import type { LiveEcs } from '../../lib/local/simulator';
import { Twin } from '../../lib/local/twin';
import { ROOT_DIR } from '../../lib/catalog';

const SERVICE = 'hello-world';
const ENVIRONMENT = 'production';

describe('e2e: the living twin', () => {
  let twin: Twin<LiveEcs>;
  let load: LoadGenerator;
  let config: Config;
  let dbUrl: string;
  let push: PushEvent | undefined;
  let v2Commit = '';
  const stateDir = mkdtempSync(join(tmpdir(), 'cutover-living-'));
  const env = () => config.services[SERVICE]!.environments[ENVIRONMENT]!;
  const listener = () => {
    const p = env().production;
    return 'listenerArn' in p ? p.listenerArn : p.ruleArn;
  };

  before(async () => {
    // hello-world/production alone, deployed by pushes to master (the sample's staging → production
    // promotion is the demo's: test/e2e/cli-local.test.ts).
    const sample = parseConfig(productionOnly(JSON.parse(readFileSync(join(ROOT_DIR, 'lib/config/samples/hello-world.json'), 'utf8'))));
    // `keep`: these tests check that nothing is lost without an operator; the demo plays `approve`.
    config = structuredClone(sample);
    config.services[SERVICE]!.environments[ENVIRONMENT]!.databaseFailurePolicy = 'keep';
    const { account, images } = loadTwinAccountFile(join(ROOT_DIR, 'lib/config/samples/hello-world.twin.json'));
    const listenerPorts = Object.fromEntries(Object.keys(account.listenerPorts).map((arn) => [arn, 0]));
    // ×60, as `cutover local` runs: real process start-up holds the simulated clock, so a busy machine
    // makes the twin slower, never a false timeout or rollback.
    twin = await Twin.start({ config, port: 0, timeScale: 60, live: { account, images, stateDir, listenerPorts } });
    dbUrl = twin.live.databaseUrl(env().database!.instanceIdentifier!);
    load = new LoadGenerator({ url: twin.live.loadBalancer.url(listener()), ratePerSecond: 40 });
    load.start();
    assert.ok(await load.waitForWrites(10), 'the initial release takes writes');
  });

  after(async () => {
    await load?.stop();
    await twin?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  /** Push `version` (CI pushes its image under the commit's tag first) and wait for the execution. */
  async function deploy(version: string, message: string) {
    push = push ? nextPush(push, message) : { ...examplePush(), head_commit: { ...examplePush().head_commit!, message } };
    const repo = env().imageRepository;
    twin.live.registry.push(`${repo}:${push.after}`, twin.live.registry.resolve(`${repo}:${version}`)!);
    twin.ciPassed(SERVICE, push.after);
    const acked = load.acknowledgedIds();
    const figures: LoadFigures = load.figures();
    const shape = await databaseShape(dbUrl);
    const r = await deliverPush(twin.url, twin.webhookSecret, push);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const done = await twin.sfn.waitForExecution(String(r.body.executionArn));
    await load.waitForWrites(3);
    return {
      commit: push.after,
      done,
      traffic: figuresBetween(figures, load.figures()),
      before: shape,
      after: await databaseShape(dbUrl),
      missing: await missingIds(dbUrl, 'orders', acked),
    };
  }

  /** Image tag of the slot that has 100% of production traffic. */
  function productionImageTag(): string | undefined {
    const weights = twin.sim.elbv2.weights(listener());
    const slot = (['blue', 'green'] as const).find((s) => weights[env().slots[s].targetGroupArn] === 100);
    if (!slot) return undefined;
    const td = twin.sim.ecs.describeService(env().cluster, env().slots[slot].service)!.taskDefinition!;
    const image = twin.sim.ecs.describeTaskDefinition({ taskDefinition: td }).taskDefinition!.containerDefinitions![0]!.image!;
    // Releases run pinned by digest: the commit is the 40-hex tag that points at it in the twin's ECR.
    const ref = parseEcrImage(image);
    if (ref?.digest) return twin.sim.ecr.tagsOf(ref.repositoryName, ref.digest).find((tag) => /^[0-9a-f]{40}$/.test(tag)) ?? ref.digest;
    return image.split(':').pop();
  }

  it('v2 (a migration that adds a column) is promoted with zero failed requests and no lost write', async () => {
    const step = await deploy('v2', 'v2: orders get a priority');
    v2Commit = step.commit;

    assert.equal(step.done.status, 'SUCCEEDED', `${step.done.error}: ${step.done.cause}`);
    assert.equal(productionImageTag(), step.commit, 'production runs v2');
    assert.ok(step.traffic.total.sent > 50, `steady traffic during the deployment (${step.traffic.total.sent} requests)`);
    assert.equal(step.traffic.total.failed, 0, step.traffic.lastError);
    assert.equal(step.traffic.total.serverErrors, 0, step.traffic.lastError);
    assert.ok((step.traffic.byRelease.v1?.ok ?? 0) > 0 && (step.traffic.byRelease.v2?.ok ?? 0) > 0, 'both releases served during the switch');
    assert.deepEqual(step.after.columns.orders, [...step.before.columns.orders!, 'priority']);
    assert.deepEqual(step.missing, []);
    const backfilled = await withClient(dbUrl, (c) => c.query<{ n: string }>(`SELECT count(*)::text AS n FROM orders WHERE priority IS NULL`));
    assert.equal(backfilled.rows[0]!.n, '0', 'existing rows were backfilled');
  });

  it('v3 (answers some requests with 500) is rolled back by the 5xx alarm computed from the load balancer metrics', async () => {
    const step = await deploy('v3', 'v3: new pricing code');

    assert.equal(step.done.status, 'FAILED');
    assert.equal(step.done.error, 'Cutover.RolledBackOnAlarm');
    assert.ok((step.traffic.byRelease.v3?.serverErrors ?? 0) > 0, 'v3 really answered 5xx to real requests');
    const history = await cloudWatchClient().send(new DescribeAlarmHistoryCommand({ AlarmName: 'hello-world-production-5xx', HistoryItemType: 'StateUpdate' }));
    const toAlarm = history.AlarmHistoryItems!.find((h) => h.HistorySummary === 'Alarm updated from OK to ALARM');
    assert.ok(toAlarm, 'the alarm went from OK to ALARM');
    assert.match(JSON.parse(toAlarm.HistoryData!).newState.stateReason, /^Threshold Crossed: 1 datapoint \[\d+\.0 /, 'by evaluating datapoints, not SetAlarmState');
    assert.ok(twin.live.alarmEvents.some((e) => e.detail.alarmName === 'hello-world-production-5xx' && e.detail.state.value === 'ALARM'), 'an alarm state change event was emitted');
    assert.equal(productionImageTag(), v2Commit, 'production traffic is back on v2');
    const v3Slot = (['blue', 'green'] as const).find((s) => twin.sim.elbv2.weights(listener())[env().slots[s].targetGroupArn] === 0)!;
    assert.equal(twin.sim.ecs.describeService(env().cluster, env().slots[v3Slot].service)!.desiredCount, 0, 'v3 scaled down');
    assert.deepEqual(step.missing, []);
  });

  it('v4 (its migration fails) leaves schema and rows as they were and is recorded as failed with the migration error', async () => {
    const migrationsBefore = await withClient(dbUrl, (c) => c.query('SELECT name FROM pgmigrations ORDER BY id'));
    const step = await deploy('v4', 'v4: order tags');

    assert.equal(step.done.status, 'FAILED');
    assert.equal(step.done.error, 'Cutover.MigrationFailed');
    assert.deepEqual(step.after.columns, step.before.columns, 'schema unchanged');
    const migrationsAfter = await withClient(dbUrl, (c) => c.query('SELECT name FROM pgmigrations ORDER BY id'));
    assert.deepEqual(migrationsAfter.rows, migrationsBefore.rows, 'no migration recorded');
    assert.deepEqual(step.missing, [], 'no acknowledged write lost');
    assert.ok(step.after.rows.orders! >= step.before.rows.orders!, 'rows only grew');
    assert.equal(productionImageTag(), v2Commit, 'production still on v2');
    const record = (await twin.ledger.history(SERVICE, ENVIRONMENT, 5)).find((r) => step.done.executionArn.endsWith(`:${r.deploymentId}`));
    assert.equal(record?.status, 'failed');
    assert.match(record?.message ?? '', /Migration "npm run migrate" failed with exit code 1: .* Last log lines of cutover\/app\/[0-9a-f]{32} in \/ecs\/hello-world-production: .*relation "customers" does not exist/);
    assert.equal(step.traffic.total.failed + step.traffic.total.serverErrors, 0, step.traffic.lastError);
  });
});
