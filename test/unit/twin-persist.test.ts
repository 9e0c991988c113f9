/**
 * The living twin's account state file (lib/local/live/persist.ts) and the simulator hooks it uses
 * (exportState / restoreState, exportTaskDefinitions / restoreTaskDefinitions, exportRoutes /
 * restoreRoutes). No processes, no network: a seeded simulator, temp files, a fake RDS engine.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../lib/config/schema';
import {
  assertStateMatches,
  describeResume,
  environmentResources,
  environmentTraffic,
  interruptDeployments,
  INTERRUPTED_ERROR,
  parseTwinState,
  readTwinState,
  removeOrphanedDatabaseFiles,
  rewriteDatabaseUrls,
  stateMismatches,
  TwinStateError,
  TwinStateSaver,
  writeTwinState,
  type TwinState,
} from '../../lib/local/live/persist';
import type { LiveServiceExport } from '../../lib/local/live/ecs';
import type { EngineState, RdsEngine } from '../../lib/local/live/postgres/engine';
import { SimClock, Simulator } from '../../lib/local/simulator';
import { forwardAction } from '../../lib/local/simulator/elbv2';
import { NETWORK, SEED_CONTAINER_PORT } from '../../lib/local/simulator/seed';
import { configVariant, ENVIRONMENT, sampleConfig, SERVICE } from '../helpers/twin';

const ACCOUNT = { region: 'us-east-1', accountId: '123456789012' };
const DB_URL = 'postgres://postgres:postgres@127.0.0.1:41001/postgres';

/** A simulator seeded from the sample config (v1 on blue), with one snapshot taken. */
function seededSimulator(config: Config = sampleConfig()): Simulator {
  const sim = new Simulator({ clock: new SimClock({ timeScale: 0, start: new Date('2026-01-05T10:00:00Z') }), snapshotSeconds: 60 });
  sim.seedFromConfig(config);
  sim.rds.createDBSnapshot({ DBSnapshotIdentifier: 'before-v2', DBInstanceIdentifier: 'hello-world-production' });
  return sim;
}

/** The ledger items of a twin that ran v2 (succeeded) and was stopped while v3 ran. */
function ledgerItems() {
  const pk = `DEPLOYMENTS#${SERVICE}#${ENVIRONMENT}`;
  return [
    { pk, sk: '2026-01-05T10:01:00.000Z#d-v2', deploymentId: 'd-v2', executionArn: 'arn:exec:d-v2', service: SERVICE, environment: ENVIRONMENT, status: 'succeeded', commit: 'a'.repeat(40), image: 'repo:a', trigger: { source: 'github' }, startedAt: '2026-01-05T10:01:00.000Z', liveSlot: 'green' },
    { pk, sk: '2026-01-05T10:09:00.000Z#d-v3', deploymentId: 'd-v3', executionArn: 'arn:exec:d-v3', service: SERVICE, environment: ENVIRONMENT, status: 'in-progress', commit: 'b'.repeat(40), image: 'repo:b', trigger: { source: 'github' }, startedAt: '2026-01-05T10:09:00.000Z', pendingTaskToken: 'token', pendingKind: 'bake', pendingQuestion: 'waiting for the bake' },
    { pk: `LOCK#${SERVICE}#${ENVIRONMENT}`, sk: 'LOCK', deploymentId: 'd-v3', executionArn: 'arn:exec:d-v3', acquiredAt: '2026-01-05T10:09:00.000Z', commit: 'b'.repeat(40) },
    { pk: `ENV#${SERVICE}#${ENVIRONMENT}`, sk: 'STATE', liveSlot: 'green', lastGoodDeploymentId: 'd-v2' },
  ];
}

/** A complete state as the twin writes it, from a seeded simulator. */
function sampleState(config: Config = sampleConfig()): TwinState {
  const sim = seededSimulator(config);
  const env = config.services[SERVICE]!.environments[ENVIRONMENT]!;
  const td = sim.ecs.describeService(env.cluster, env.slots.blue.service)!.taskDefinition!;
  const services: LiveServiceExport[] = (['blue', 'green'] as const).map((slot) => ({
    cluster: env.cluster,
    serviceName: env.slots[slot].service,
    taskDefinition: td,
    desiredCount: slot === 'blue' ? 2 : 0,
    launchType: 'FARGATE',
    loadBalancers: [{ targetGroupArn: env.slots[slot].targetGroupArn, containerName: env.containerName, containerPort: SEED_CONTAINER_PORT }],
    networkConfiguration: NETWORK,
    healthCheckGracePeriodSeconds: 30,
    tags: [],
  }));
  return parseTwinState(
    JSON.parse(
      JSON.stringify({
        version: 1,
        savedAt: '2026-01-05T10:10:00.000Z',
        simulatedTimeMs: sim.clock.nowMs(),
        ...ACCOUNT,
        environments: environmentResources(config),
        databaseUrls: { 'hello-world-production': DB_URL },
        images: { 'repo:b': { command: ['node', 'server.ts'], cwd: '/app', environment: { APP_VERSION: 'v3' } } },
        ecs: { taskDefinitions: sim.ecs.exportTaskDefinitions(), services },
        elbv2: { routes: sim.elbv2.exportRoutes() },
        rds: sim.rds.exportState(),
        ledger: { items: ledgerItems() },
      }),
    ),
    'sample state',
  );
}

describe('twin state file: reading and writing', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'cutover-persist-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips a state exactly, through a temporary file that does not stay behind', async () => {
    const state = sampleState();
    const file = join(dir, 'twin-state.json');

    await writeTwinState(file, state);
    const read = readTwinState(file);

    assert.deepEqual(read, state);
    assert.deepEqual(readdirSync(dir), ['twin-state.json']);
  });

  it('reads no state from a directory without a state file', () => {
    assert.equal(readTwinState(join(dir, 'twin-state.json')), undefined);
  });

  it('fails when the file is not JSON, naming the file and --reset', () => {
    const file = join(dir, 'twin-state.json');
    writeFileSync(file, '{"version": 1, "savedAt": "2026');

    assert.throws(() => readTwinState(file), (err: Error) => {
      assert.ok(err instanceof TwinStateError);
      assert.ok(err.message.startsWith(`The twin state file ${file} is corrupt: not JSON`), err.message);
      assert.match(err.message, /--reset/);
      return true;
    });
  });

  it('fails when the file has another format version, naming both versions and --reset', () => {
    assert.throws(() => parseTwinState({ ...sampleState(), version: 2 }, '/s/twin-state.json'), (err: Error) => {
      assert.ok(err instanceof TwinStateError);
      assert.match(err.message, /^The twin state file \/s\/twin-state\.json has format version 2; this cutover reads version 1\. /);
      assert.match(err.message, /--reset/);
      return true;
    });
  });

  it('fails when a field is invalid, naming the file, the field path and --reset', () => {
    const state = structuredClone(sampleState()) as unknown as { rds: { instances: Array<{ resourceId: string }> }; ledger: { items: unknown[] } };
    state.rds.instances[0]!.resourceId = 'not-a-resource-id';
    state.ledger.items.push({ pk: 'X' });

    assert.throws(() => parseTwinState(state, '/s/twin-state.json'), (err: Error) => {
      assert.ok(err instanceof TwinStateError);
      assert.match(err.message, /^The twin state file \/s\/twin-state\.json is corrupt:\n/);
      assert.match(err.message, /  - rds\.instances\.0\.resourceId: use a resource id db-<letters and digits>/);
      assert.match(err.message, /  - ledger\.items\.4\.sk: /);
      assert.match(err.message, /--reset/);
      return true;
    });
  });

  it('fails when the root is not an object', () => {
    assert.throws(() => parseTwinState([1, 2], 'f.json'), /The twin state file f\.json has format version null; this cutover reads version 1/);
  });
});

describe('twin state: does it fit the config?', () => {
  it('fits the config it was written for (the strategy and policy are no resources)', () => {
    const state = sampleState();
    const changed = configVariant((env) => {
      env.strategy = { type: 'all-at-once', bakeSeconds: 0 };
      env.databaseFailurePolicy = 'restore';
    });

    assert.deepEqual(stateMismatches(state, changed, ACCOUNT), []);
    assert.doesNotThrow(() => assertStateMatches(state, 'f.json', changed, ACCOUNT));
  });

  it('names a database identifier the config no longer names, and a renamed slot service', () => {
    const other = configVariant((env) => {
      env.database.instanceIdentifier = 'orders-db';
      env.slots.green.service = 'hello-world-green-2';
    });

    assert.deepEqual(stateMismatches(sampleState(), other, ACCOUNT), [
      'hello-world/production green service: the state has "hello-world-green", the config names "hello-world-green-2"',
      'hello-world/production database: the state has instance "hello-world-production", the config names instance "orders-db"',
      'hello-world/production database: the state has no DB instance "orders-db"',
      'hello-world/production green service: the state has no ECS service "hello-world-green-2" in cluster "hello-world"',
    ]);
  });

  it('names environments only one side has, and another account', () => {
    const raw = JSON.parse(JSON.stringify(sampleConfig())) as { services: Record<string, unknown> };
    raw.services = { shop: raw.services[SERVICE] };
    const other = raw as unknown as Config;

    const lines = stateMismatches(sampleState(), other, { region: 'eu-west-1', accountId: '123456789012' });

    assert.deepEqual(lines, [
      'account: the state is of account 123456789012 in us-east-1, the twin runs account 123456789012 in eu-west-1',
      'shop/production: the config has this environment, the state has not',
      'hello-world/production: the state has this environment, the config has not',
    ]);
  });

  it('assertStateMatches throws a TwinStateError listing every difference, naming the file and --reset', () => {
    const other = configVariant((env) => (env.database.instanceIdentifier = 'orders-db'));

    assert.throws(() => assertStateMatches(sampleState(), '/s/twin-state.json', other, ACCOUNT), (err: Error) => {
      assert.ok(err instanceof TwinStateError);
      assert.match(err.message, /^The twin state in \/s\/twin-state\.json does not match the config and twin account it was started with:\n  - hello-world\/production database: /);
      assert.match(err.message, /start clean with --reset \(`npm start -- --reset`\)/);
      return true;
    });
  });
});

describe('twin state: restoring the ledger', () => {
  it('marks deployments in progress as interrupted, releases every lock, keeps everything else as it was', () => {
    const items = ledgerItems();

    const out = interruptDeployments(items, { at: '2026-01-05T10:10:00.000Z', reason: (r) => `${r.deploymentId} stopped with the twin` });

    assert.equal(out.items.length, 3, 'the lock is not written back');
    assert.deepEqual(out.items[0], items[0], 'a finished deployment is kept as it was');
    assert.deepEqual(out.items[2], items[3], 'the environment state is kept');
    const interrupted = out.items[1] as Record<string, unknown>;
    assert.equal(interrupted.status, 'failed');
    assert.equal(interrupted.error, INTERRUPTED_ERROR);
    assert.equal(interrupted.finishedAt, '2026-01-05T10:10:00.000Z');
    assert.equal(interrupted.message, 'd-v3 stopped with the twin');
    assert.equal('pendingTaskToken' in interrupted, false, 'no operator decision is pending for a gone execution');
    assert.equal('pendingQuestion' in interrupted, false);
    assert.equal('pendingKind' in interrupted, false);
    assert.equal(interrupted.sk, items[1]!.sk, 'same key');
    assert.deepEqual(out.interrupted, [interrupted]);
    assert.deepEqual(out.releasedLocks, [items[2]]);
    assert.equal(items[1]!.status, 'in-progress', 'the input is not changed');
  });
});

describe('twin state: pure helpers', () => {
  it('rewriteDatabaseUrls points every task definition at the endpoint of the same identifier now', () => {
    const tds = sampleState().ecs.taskDefinitions.map((td) => {
      const copy = structuredClone(td);
      copy.taskDefinition.containerDefinitions![0]!.environment = [
        { name: 'DATABASE_URL', value: DB_URL },
        { name: 'OTHER', value: 'keep me' },
      ];
      return copy;
    });
    const now = 'postgres://postgres:postgres@127.0.0.1:52002/postgres';

    const out = rewriteDatabaseUrls(tds, { 'hello-world-production': DB_URL }, { 'hello-world-production': now });

    assert.deepEqual(out[0]!.taskDefinition.containerDefinitions![0]!.environment, [
      { name: 'DATABASE_URL', value: now },
      { name: 'OTHER', value: 'keep me' },
    ]);
    assert.equal(tds[0]!.taskDefinition.containerDefinitions![0]!.environment![0]!.value, DB_URL, 'the input is not changed');
  });

  it('environmentTraffic and describeResume say where production is and what runs there', () => {
    const state = sampleState();
    const traffic = environmentTraffic(state, sampleConfig());

    assert.deepEqual(traffic, [
      { service: SERVICE, environment: ENVIRONMENT, weights: { blue: 100, green: 0 }, live: 'blue', image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world:v1', release: 'v1' },
    ]);
    assert.equal(
      describeResume({ file: 'f', savedAt: state.savedAt, environments: traffic, deployments: 2, interrupted: [{} as never], removed: [] }),
      'production on v1, 2 deployments in history (1 interrupted by the stop)',
    );
  });

  it('removeOrphanedDatabaseFiles deletes data directories and snapshot files no resource references, and keeps the template', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-orphans-'));
    try {
      const state = sampleState();
      const key = state.rds.instances[0]!.resourceId;
      for (const d of [key, 'db-GONE']) mkdirSync(join(dir, 'data', d), { recursive: true });
      mkdirSync(join(dir, 'snapshots'));
      for (const f of ['before-v2.tar.gz', 'deleted.tar.gz', 'before-v2.tar.gz.123-1.tmp']) writeFileSync(join(dir, 'snapshots', f), 'x');
      writeFileSync(join(dir, 'template.tar.gz'), 'x');
      const rds = { ...state.rds, snapshots: state.rds.snapshots.map((s) => ({ ...s, engineKey: s.id })) };

      const removed = removeOrphanedDatabaseFiles(dir, rds);

      assert.deepEqual(removed.sort(), [join(dir, 'data', 'db-GONE'), join(dir, 'snapshots', 'before-v2.tar.gz.123-1.tmp'), join(dir, 'snapshots', 'deleted.tar.gz')]);
      assert.deepEqual(readdirSync(join(dir, 'data')), [key]);
      assert.deepEqual(readdirSync(join(dir, 'snapshots')), ['before-v2.tar.gz']);
      assert.ok(existsSync(join(dir, 'template.tar.gz')));
      assert.deepEqual(removeOrphanedDatabaseFiles(dir, undefined).sort(), [join(dir, 'data', key), join(dir, 'snapshots', 'before-v2.tar.gz')], 'a fresh account references nothing');
      assert.deepEqual(removeOrphanedDatabaseFiles(join(dir, 'missing'), undefined), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** An RdsEngine whose databases become ready when the test says so. */
class FakeEngine implements RdsEngine {
  readonly started: Array<{ key: string; from?: string }> = [];
  readonly ready = new Set<string>();
  private readonly ports = new Map<string, number>();
  startDatabase(key: string, from?: { snapshot: string }): void {
    this.started.push({ key, ...(from ? { from: from.snapshot } : {}) });
  }
  databaseState(key: string): EngineState {
    return this.ready.has(key) ? 'ready' : this.started.some((s) => s.key === key) ? 'pending' : 'failed';
  }
  startSnapshot(): void {}
  snapshotState(): EngineState {
    return 'ready';
  }
  deleteSnapshot(): void {}
  route(kind: string, identifier: string, key: string | undefined): void {
    if (key) this.ports.set(`${kind}/${identifier}`, 40000 + this.ports.size);
  }
  endpointPort(kind: string, identifier: string): number | undefined {
    return this.ports.get(`${kind}/${identifier}`);
  }
}

describe('simulator account state: export and restore', () => {
  it('RDS: the same identifiers, resource ids, ARNs, snapshots and pending renames after a round trip through JSON', () => {
    const sim = seededSimulator();
    sim.rds.modifyDBInstance({ DBInstanceIdentifier: 'hello-world-production', NewDBInstanceIdentifier: 'hello-world-next', ApplyImmediately: false });
    sim.clock.advance(120);
    const before = { instances: sim.rds.describeDBInstances({}).DBInstances, snapshots: sim.rds.describeDBSnapshots({}).DBSnapshots };

    const restored = new Simulator({ clock: new SimClock({ timeScale: 0, start: sim.clock.now() }) });
    restored.rds.restoreState(JSON.parse(JSON.stringify(sim.rds.exportState())));

    assert.deepEqual(restored.rds.describeDBInstances({}).DBInstances, before.instances);
    assert.deepEqual(restored.rds.describeDBSnapshots({}).DBSnapshots, before.snapshots);
    assert.equal(before.instances![0]!.PendingModifiedValues!.DBInstanceIdentifier, 'hello-world-next');
    assert.throws(() => restored.rds.restoreState(sim.rds.exportState()), /restoreState needs an account without RDS resources/);
  });

  it('RDS with an engine: each database starts again under the same key and the instance is starting until it serves', () => {
    const state = seededSimulator().rds.exportState();
    const engine = new FakeEngine();
    const sim = new Simulator({ clock: new SimClock({ timeScale: 0 }), engine });

    sim.rds.restoreState({ ...state, instances: [{ ...state.instances[0]!, status: 'creating', restoringFrom: 'before-v1' }] });
    const key = state.instances[0]!.resourceId;
    const starting = sim.rds.describeDBInstances({}).DBInstances![0]!;
    engine.ready.add(key);
    const available = sim.rds.describeDBInstances({}).DBInstances![0]!;

    assert.deepEqual(engine.started, [{ key, from: 'before-v1' }], 'a database still being restored loads its snapshot into an empty data directory');
    assert.equal(starting.DBInstanceStatus, 'starting');
    assert.equal(available.DBInstanceStatus, 'available');
    assert.equal(available.DbiResourceId, key);
    assert.equal(available.Endpoint?.Port, 40000, 'its endpoint is routed');
  });

  it('RDS: refuses an inconsistent state, changing nothing', () => {
    const state = seededSimulator().rds.exportState();
    const sim = new Simulator({ clock: new SimClock({ timeScale: 0 }) });

    assert.throws(() => sim.rds.restoreState({ ...state, instances: [state.instances[0]!, { ...state.instances[0]!, id: 'other' }] }), /DB instance other has resource id db-\w+, which another resource has too/);
    assert.throws(() => sim.rds.restoreState({ ...state, instances: [{ ...state.instances[0]!, id: 'Bad--Id' }] }), /identifier "Bad--Id" is not a valid RDS identifier/);
    assert.deepEqual(sim.rds.describeDBInstances({}).DBInstances, []);
  });

  it('ECS: task definitions keep their ARNs and revisions; the next registration gets the next revision', () => {
    const sim = seededSimulator();
    const td = sim.ecs.describeTaskDefinition({ taskDefinition: 'hello-world-production' }).taskDefinition!;
    sim.ecs.registerTaskDefinition({ family: td.family!, containerDefinitions: td.containerDefinitions!.map((c) => ({ ...c, image: 'repo:v2' })) });
    const exported = JSON.parse(JSON.stringify(sim.ecs.exportTaskDefinitions()));

    const restored = new Simulator({ clock: new SimClock({ timeScale: 0 }) });
    restored.ecs.restoreTaskDefinitions(exported);
    const next = restored.ecs.registerTaskDefinition({ family: td.family!, containerDefinitions: td.containerDefinitions! });

    for (const ref of ['hello-world-production:1', 'hello-world-production:2']) {
      assert.deepEqual(restored.ecs.describeTaskDefinition({ taskDefinition: ref }), sim.ecs.describeTaskDefinition({ taskDefinition: ref }));
    }
    assert.equal(next.taskDefinition!.taskDefinitionArn, 'arn:aws:ecs:us-east-1:123456789012:task-definition/hello-world-production:3');
  });

  it('ECS: refuses revisions out of order, another account, or a family registered already', () => {
    const exported = seededSimulator().ecs.exportTaskDefinitions();
    const other = new Simulator({ clock: new SimClock({ timeScale: 0 }), accountId: '999999999999' });
    const fresh = () => new Simulator({ clock: new SimClock({ timeScale: 0 }) });
    const second = { ...exported[0]!, taskDefinition: { ...exported[0]!.taskDefinition, revision: 2 } };

    assert.throws(() => fresh().ecs.restoreTaskDefinitions([second]), /expected revision 1 of family hello-world-production next, got 2/);
    assert.throws(() => other.ecs.restoreTaskDefinitions(exported), /this account and region would name it arn:aws:ecs:us-east-1:999999999999:task-definition\/hello-world-production:1/);
    const twice = fresh();
    twice.ecs.restoreTaskDefinitions(exported);
    assert.throws(() => twice.ecs.restoreTaskDefinitions(exported), /family hello-world-production is already registered/);
  });

  it('ELBv2: listener weights come back on the seeded listeners; an unknown route changes nothing', () => {
    const config = sampleConfig();
    const env = config.services[SERVICE]!.environments[ENVIRONMENT]!;
    const listener = 'listenerArn' in env.production ? env.production.listenerArn : env.production.ruleArn;
    const sim = seededSimulator(config);
    sim.elbv2.modifyListener({ ListenerArn: listener, DefaultActions: [forwardAction({ [env.slots.blue.targetGroupArn]: 90, [env.slots.green.targetGroupArn]: 10 })] });
    const routes = JSON.parse(JSON.stringify(sim.elbv2.exportRoutes()));

    const restored = seededSimulator(config);
    restored.elbv2.restoreRoutes(routes);
    const unknown = { arn: listener.replace(/\/[0-9a-f]+$/, '/0000000000000000'), kind: 'listener' as const, actions: routes[0].actions };
    const moved = seededSimulator(config);

    assert.deepEqual(restored.elbv2.weights(listener), { [env.slots.blue.targetGroupArn]: 90, [env.slots.green.targetGroupArn]: 10 });
    assert.throws(() => moved.elbv2.restoreRoutes([...routes, unknown]), { name: 'ListenerNotFoundException' });
    assert.equal(moved.elbv2.weights(listener)[env.slots.blue.targetGroupArn], 100, 'validated before any change');
  });
});

describe('TwinStateSaver', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'cutover-saver-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes when the state changed (not for the clock alone), on every periodic check, and once more on close', async () => {
    const file = join(dir, 'twin-state.json');
    let state = sampleState();
    let collected = 0;
    const saver = new TwinStateSaver({ file, intervalMs: 10, collect: async () => (collected++, { ...state, simulatedTimeMs: state.simulatedTimeMs + collected }) });

    assert.equal(await saver.save(), true, 'the first save writes');
    assert.equal(await saver.save(), false, 'no change: no write');
    saver.start();
    state = { ...state, ledger: { items: [...state.ledger.items, { pk: 'DEPLOYMENTS#x#y', sk: 'z' }] } };
    const deadline = Date.now() + 2000;
    while (saver.writeCount < 2) {
      assert.ok(Date.now() < deadline, 'a periodic check writes the change');
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(readTwinState(file)!.ledger.items.length, 5);
    await saver.close();

    assert.equal(saver.writeCount, 3, 'close writes once more');
    const checks = collected;
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(collected, checks, 'no checks after close');
    assert.deepEqual(readdirSync(dir), ['twin-state.json']);
  });

  it('tells onError about a failed save and keeps the previous file', async () => {
    const file = join(dir, 'twin-state.json');
    const errors: string[] = [];
    let fail = false;
    const saver = new TwinStateSaver({
      file,
      collect: async () => {
        if (fail) throw new Error('dynalite is gone');
        return sampleState();
      },
      onError: (err) => errors.push(err.message),
    });
    await saver.save();
    const before = readFileSync(file, 'utf8');
    fail = true;

    await assert.rejects(saver.save(), /dynalite is gone/);
    saver.requestSave();
    await saver.close();

    assert.deepEqual(errors, ['dynalite is gone', 'dynalite is gone']);
    assert.equal(readFileSync(file, 'utf8'), before);
  });

  it('refuses a non-positive interval', () => {
    assert.throws(() => new TwinStateSaver({ file: 'f', intervalMs: 0, collect: async () => sampleState() }), /intervalMs must be real milliseconds > 0, got 0/);
  });
});

describe('imageLabel', () => {
  it('names a digest-pinned image by the commit tag that points at its digest (the saved images), a tag by itself', async () => {
    const { imageLabel } = await import('../../lib/local/live/persist');
    const { manifestDigest, manifestOf } = await import('../../lib/local/live/registry');
    const repo = '123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world';
    const v2 = { command: ['node', 'server.js'], cwd: '/app', environment: { VERSION: 'v2' } };
    const commit = 'a'.repeat(40);
    const images = { [`${repo}:v2`]: v2, [`${repo}:${commit}`]: v2, [`${repo}:v1`]: { ...v2, environment: { VERSION: 'v1' } } };
    const digest = manifestDigest(manifestOf(v2));
    assert.equal(imageLabel(`${repo}@${digest}`, images), commit);
    assert.equal(imageLabel(`${repo}:v1`, images), 'v1');
    assert.match(imageLabel(`${repo}@sha256:${'f'.repeat(64)}`, images), /^sha256:f{12}…$/);
  });
});
