import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  type DBCluster,
  type DBInstance,
} from '@aws-sdk/client-rds';
import pg from 'pg';
import { rdsClient } from '../../lib/aws/clients';
import { SimClock } from '../../lib/local/clock';
import { PostgresHost } from '../../lib/local/live/postgres/host';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';
import { RdsSimulator } from '../../lib/local/simulator/rds';

/** Real-time limit for anything a test waits for (a PGlite start takes ~1-3 s on 2 cores). */
const DEADLINE_MS = 45_000;

let dir: string;
let host: PostgresHost;
let h: ConnectedSimulator;
const clients: pg.Client[] = [];

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${DEADLINE_MS} ms waiting for ${what}`);
    await sleep(20);
  }
}

const instance = async (id: string): Promise<DBInstance> =>
  (await rdsClient().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!;
const cluster = async (id: string): Promise<DBCluster> => (await rdsClient().send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters![0]!;
const availableInstance = (id: string) => until(`instance ${id} available`, async () => ((await instance(id)).DBInstanceStatus === 'available' ? instance(id) : undefined));
const availableCluster = (id: string) => until(`cluster ${id} available`, async () => ((await cluster(id)).Status === 'available' ? cluster(id) : undefined));
const snapshotStatus = async (id: string) => (await rdsClient().send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }))).DBSnapshots![0]!.Status;
const snapshotSettled = (id: string) => until(`snapshot ${id} settled`, async () => ((await snapshotStatus(id)) === 'creating' ? undefined : snapshotStatus(id)));

/** A connected client of `127.0.0.1:<port>` (ended after the test). */
async function connect(port: number): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres' });
  client.on('error', () => undefined); // connections closed by a rename surface as rejected queries
  clients.push(client);
  await client.connect();
  return client;
}

async function ids(client: pg.Client, table = 'orders'): Promise<number[]> {
  return (await client.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) => r.id);
}

describe('live PostgreSQL behind the RDS simulator', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-live-pg-'));
    host = new PostgresHost(join(dir, 'rds'));
    h = connectSimulator({ clock: new SimClock({ timeScale: 1000 }), engine: host });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  });
  after(async () => {
    h.close();
    await host.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves SQL at the endpoint; snapshot, restore and swap put exactly the snapshot rows under the original identifier', async () => {
    h.sim.rds.seedInstance('orders-db');
    const creating = await instance('orders-db');
    const ready = await availableInstance('orders-db');
    const port = ready.Endpoint!.Port!;
    const app = await connect(port);
    await app.query('CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL)');
    await app.query(`INSERT INTO orders VALUES (1, 'tea'), (2, 'cake'), (3, 'jam')`);

    const snap = await rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 'orders-pre', DBInstanceIdentifier: 'orders-db' }));
    await app.query(`INSERT INTO orders VALUES (4, 'bread'), (5, 'milk')`);
    const snapStatus = await snapshotSettled('orders-pre');
    await rdsClient().send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: 'orders-db-restored', DBSnapshotIdentifier: 'orders-pre' }));
    await availableInstance('orders-db-restored');
    await rdsClient().send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'orders-db', NewDBInstanceIdentifier: 'orders-db-aside', ApplyImmediately: true }));
    const oldConnection = await app.query('SELECT 1').then(
      () => 'open',
      () => 'closed',
    );
    const unheld = await connect(port).then(
      () => 'connected',
      () => 'refused',
    );
    await rdsClient().send(
      new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'orders-db-restored', NewDBInstanceIdentifier: 'orders-db', ApplyImmediately: true }),
    );
    const swapped = await availableInstance('orders-db');
    const aside = await availableInstance('orders-db-aside');
    const original = await connect(swapped.Endpoint!.Port!);
    const kept = await connect(aside.Endpoint!.Port!);

    assert.equal(creating.DBInstanceStatus, 'creating');
    assert.equal(ready.Endpoint!.Address, '127.0.0.1');
    assert.equal(await host.connectionUrl('ORDERS-DB'), `postgres://postgres:postgres@127.0.0.1:${port}/postgres`);
    assert.equal(snap.DBSnapshot!.Status, 'creating');
    assert.equal(snapStatus, 'available');
    assert.equal(oldConnection, 'closed', 'a rename closes connections made through the old name');
    assert.equal(unheld, 'refused', 'nothing holds the original name between the two renames');
    assert.equal(swapped.Endpoint!.Port, port, 'the endpoint follows the identifier');
    assert.deepEqual(await ids(original), [1, 2, 3]);
    assert.deepEqual(await ids(kept), [1, 2, 3, 4, 5]);
    const metrics = host.metrics();
    const dumped = metrics.snapshots.find((s) => s.snapshot === 'orders-pre');
    assert.ok(dumped && dumped.bytes > 0 && dumped.ms > 0);
    assert.equal(dumped.file, join(dir, 'rds', 'snapshots', 'orders-pre.tar.gz'));
    assert.ok(metrics.starts.some((s) => s.fromSnapshot === 'orders-pre' && s.snapshotBytes === dumped.bytes && s.ms > 0));
  });

  it('takes a consistent snapshot while another client writes (transfers keep the total)', async () => {
    h.sim.rds.seedInstance('ledger');
    const ledger = await availableInstance('ledger');
    const writer = await connect(ledger.Endpoint!.Port!);
    await writer.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)');
    await writer.query('CREATE TABLE transfers (id serial PRIMARY KEY, src int NOT NULL, dst int NOT NULL, amount int NOT NULL)');
    await writer.query('INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 10) g');
    let committed = 0;
    let writing = true;
    const writes = (async () => {
      for (let n = 0; writing; n++) {
        const [src, dst, amount] = [(n % 10) + 1, ((n * 7 + 3) % 10) + 1, (n % 13) + 1];
        // Separate statements, so that the snapshot can fall inside a transaction.
        await writer.query('BEGIN');
        await writer.query('UPDATE accounts SET balance = balance - $2 WHERE id = $1', [src, amount]);
        await writer.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [dst, amount]);
        await writer.query('INSERT INTO transfers (src, dst, amount) VALUES ($1, $2, $3)', [src, dst, amount]);
        await writer.query('COMMIT');
        committed++;
      }
    })();
    await until('20 transfers', async () => (committed >= 20 ? true : undefined));

    const before = committed;
    await rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 'ledger-busy', DBInstanceIdentifier: 'ledger' }));
    const status = await snapshotSettled('ledger-busy');
    writing = false;
    await writes;
    await rdsClient().send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: 'ledger-copy', DBSnapshotIdentifier: 'ledger-busy' }));
    const copy = await connect((await availableInstance('ledger-copy')).Endpoint!.Port!);
    const total = (await copy.query<{ total: number }>('SELECT sum(balance)::int AS total FROM accounts')).rows[0]!.total;
    const inSnapshot = (await copy.query<{ n: number }>('SELECT count(*)::int AS n FROM transfers')).rows[0]!.n;
    const drift = await copy.query(`
      SELECT a.id FROM accounts a
      WHERE a.balance <> 100 - (SELECT coalesce(sum(amount), 0) FROM transfers WHERE src = a.id) + (SELECT coalesce(sum(amount), 0) FROM transfers WHERE dst = a.id)`);

    assert.equal(status, 'available');
    assert.equal(total, 1000);
    assert.deepEqual(drift.rows, [], 'every balance matches the transfers in the snapshot');
    assert.ok(inSnapshot >= before, `the snapshot has the ${before} transfers committed before CreateDBSnapshot (has ${inSnapshot})`);
    assert.ok(inSnapshot < committed, `the snapshot lacks the transfers committed after it (${inSnapshot} of ${committed})`);
  });

  it('Aurora: the cluster endpoint and its writer serve one database; snapshot, restore, add a writer, swap', async () => {
    h.sim.rds.seedCluster('shop');
    const shop = await availableCluster('shop');
    const writerInstance = await availableInstance('shop-instance-1');
    const viaCluster = await connect(shop.Port!);
    await viaCluster.query('CREATE TABLE orders (id int PRIMARY KEY)');
    await viaCluster.query('INSERT INTO orders VALUES (1), (2)');
    const viaWriter = await connect(writerInstance.Endpoint!.Port!);
    const writerSees = await ids(viaWriter);

    await rdsClient().send(new CreateDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: 'shop-pre', DBClusterIdentifier: 'shop' }));
    await viaCluster.query('INSERT INTO orders VALUES (3)');
    const snapshot = await until('cluster snapshot available', async () => {
      const s = (await rdsClient().send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: 'shop-pre' }))).DBClusterSnapshots![0]!;
      return s.Status === 'available' ? s : undefined;
    });
    await rdsClient().send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'shop-restored', SnapshotIdentifier: 'shop-pre', Engine: 'aurora-postgresql' }));
    const restored = await availableCluster('shop-restored');
    const withoutInstances = await connect(restored.Port!).then(
      () => 'connected',
      () => 'refused',
    );
    await rdsClient().send(
      new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-restored-1', DBClusterIdentifier: 'shop-restored', DBInstanceClass: 'db.r6g.large', Engine: 'aurora-postgresql' }),
    );
    await availableInstance('shop-restored-1');
    await rdsClient().send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'shop', NewDBClusterIdentifier: 'shop-aside', ApplyImmediately: true }));
    await rdsClient().send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'shop-restored', NewDBClusterIdentifier: 'shop', ApplyImmediately: true }));
    const swapped = await availableCluster('shop');
    const aside = await availableCluster('shop-aside');

    assert.equal(shop.Endpoint, '127.0.0.1');
    assert.equal(shop.ReaderEndpoint, '127.0.0.1');
    assert.deepEqual(writerSees, [1, 2], 'the writer instance serves the cluster database');
    assert.equal(snapshot.Status, 'available');
    assert.equal(withoutInstances, 'refused', 'a restored cluster without instances accepts no connections');
    assert.equal(swapped.Port, shop.Port, 'the cluster endpoint follows the identifier');
    assert.deepEqual(await ids(await connect(swapped.Port!)), [1, 2]);
    assert.deepEqual(await ids(await connect(aside.Port!)), [1, 2, 3]);
    assert.deepEqual(await ids(await connect((await instance('shop-instance-1')).Endpoint!.Port!)), [1, 2, 3]);
  });

  it('keeps a new instance creating until both its simulated creation time has passed and its server is up', async () => {
    const frozen = new SimClock({ timeScale: 0 });
    const rds = new RdsSimulator({ clock: frozen, region: 'us-east-1', accountId: '123456789012' }, { engine: host, instanceCreateSeconds: 300 });

    const created = rds.createDBInstance({ DBInstanceIdentifier: 'slow-db', DBInstanceClass: 'db.t4g.micro', Engine: 'postgres' }).DBInstance!;
    await host.whenReady(created.DbiResourceId!);
    const serverUp = rds.describeDBInstances({ DBInstanceIdentifier: 'slow-db' }).DBInstances![0]!;
    frozen.advance(300);
    const both = rds.describeDBInstances({ DBInstanceIdentifier: 'slow-db' }).DBInstances![0]!;
    const client = await connect(both.Endpoint!.Port!);

    assert.equal(created.DBInstanceStatus, 'creating');
    assert.equal(serverUp.DBInstanceStatus, 'creating', 'the simulated 300 s have not passed');
    assert.equal(serverUp.Endpoint, undefined);
    assert.equal(both.DBInstanceStatus, 'available');
    assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
  });

  it('marks a snapshot failed when it cannot be stored, and lets it be deleted', async () => {
    h.sim.rds.seedInstance('fragile');
    await availableInstance('fragile');
    // A directory where the snapshot file goes: writing the file fails (EISDIR).
    await mkdir(join(dir, 'rds', 'snapshots', 'fragile-pre.tar.gz'), { recursive: true });

    await rdsClient().send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier: 'fragile-pre', DBInstanceIdentifier: 'fragile' }));
    const status = await snapshotSettled('fragile-pre');
    const deleted = await rdsClient().send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: 'fragile-pre' }));

    assert.equal(status, 'failed');
    assert.equal(deleted.DBSnapshot!.Status, 'deleted');
    assert.equal((await instance('fragile')).DBInstanceStatus, 'available');
  });
});

describe('PostgresHost', () => {
  let hostDir: string;
  const hosts: PostgresHost[] = [];
  before(async () => {
    hostDir = await mkdtemp(join(tmpdir(), 'cutover-pg-host-'));
  });
  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
    await Promise.all(hosts.map((x) => x.close()));
    await rm(hostDir, { recursive: true, force: true });
  });

  it('reopens a data directory after the host stopped and started again', async () => {
    const first = new PostgresHost(hostDir);
    hosts.push(first);
    first.startDatabase('db-keep');
    first.route('instance', 'keep', 'db-keep');
    await first.whenReady('db-keep');
    const writer = await connect(Number(new URL(await first.connectionUrl('keep')).port));
    await writer.query('CREATE TABLE orders (id int PRIMARY KEY)');
    await writer.query('INSERT INTO orders VALUES (7), (8)');
    await first.close();
    const second = new PostgresHost(hostDir);
    hosts.push(second);

    second.startDatabase('db-keep');
    second.route('instance', 'keep', 'db-keep');
    await second.whenReady('db-keep');
    const reader = await connect(Number(new URL(await second.connectionUrl('keep')).port));

    assert.equal(first.databaseState('db-keep'), 'failed', 'a stopped database no longer serves');
    assert.deepEqual(await ids(reader), [7, 8]);
  });
});
