/**
 * The sample application v1–v4 as real child processes against PostgreSQL (PGlite served over the wire):
 * migrations per release, expand-only schema change shared by v1 and v2, v4's failing migration rolled
 * back, v3's 5xx with a healthy /health, and graceful SIGTERM with a request in flight.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';
import {
  MIGRATE_COMMAND,
  RELEASES,
  SAMPLE_APP_DIR,
  releaseMigrations,
  sampleImages,
  type ReleaseVersion,
} from '../../lib/local/sample-app/releases';

interface Proc {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

interface Response {
  readonly status: number;
  readonly version: string | null;
  readonly body: Record<string, unknown>;
}

let pglite: PGlite;
let socketServer: PGLiteSocketServer;
let client: pg.Client;
let databaseUrl: string;
const children: Proc[] = [];
const servers = new Map<ReleaseVersion, { proc: Proc; port: number }>();

function run(argv: readonly string[], env: Record<string, string>, cwd = SAMPLE_APP_DIR): Proc {
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  child.stdout!.on('data', (d: Buffer) => (proc.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (proc.stderr += d.toString()));
  children.push(proc);
  return proc;
}

/** Polls `check` every 25 ms until it returns true; fails after `ms` real milliseconds. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await delay(25);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function request(port: number, method: string, path: string, body?: unknown): Promise<Response> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, version: res.headers.get('x-app-version'), body: (await res.json()) as Record<string, unknown> };
}

async function migrate(version: ReleaseVersion): Promise<Proc & { code: number | null }> {
  const proc = run(MIGRATE_COMMAND, { APP_VERSION: version, DATABASE_URL: databaseUrl });
  const code = await proc.exited;
  return Object.assign(proc, { code });
}

async function startServer(version: ReleaseVersion): Promise<number> {
  const image = sampleImages('sample-app')[`sample-app:${version}`]!;
  const port = await freePort();
  const proc = run(image.command, { ...image.environment, PORT: String(port), DATABASE_URL: databaseUrl }, image.cwd);
  servers.set(version, { proc, port });
  await until(`${version} to log that it listens`, () => proc.stdout.includes('listening') || proc.child.exitCode !== null, 20_000);
  assert.equal(proc.child.exitCode, null, `${version} exited: ${proc.stderr}`);
  await until(`${version} /health to answer 200`, async () => (await request(port, 'GET', '/health').catch(() => undefined))?.status === 200);
  return port;
}

async function scalar<T>(sql: string): Promise<T> {
  const { rows } = await client.query(sql);
  return Object.values(rows[0] as Record<string, unknown>)[0] as T;
}

/** Columns and constraints of `orders`, rows in it, and the applied migrations: what v4 must leave untouched. */
async function databaseState() {
  const columns = await client.query(
    `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name = 'orders' ORDER BY ordinal_position`,
  );
  const constraints = await client.query(`SELECT conname FROM pg_constraint WHERE conrelid = 'orders'::regclass ORDER BY conname`);
  const migrations = await client.query('SELECT name FROM pgmigrations ORDER BY id');
  return {
    columns: columns.rows,
    constraints: constraints.rows.map((r: { conname: string }) => r.conname),
    rows: await scalar<number>('SELECT count(*)::int FROM orders'),
    migrations: migrations.rows.map((r: { name: string }) => r.name),
  };
}

describe('sample-app releases', () => {
  it('lists v1-v4; each image carries its own and earlier migrations, never a later release\'s', () => {
    assert.deepEqual(RELEASES.map((r) => r.version), ['v1', 'v2', 'v3', 'v4']);
    assert.deepEqual(releaseMigrations('v1'), ['0001_create_orders']);
    assert.deepEqual(releaseMigrations('v2'), ['0001_create_orders', '0002_orders_priority']);
    assert.deepEqual(releaseMigrations('v3'), ['0001_create_orders', '0002_orders_priority']);
    assert.deepEqual(releaseMigrations('v4'), ['0001_create_orders', '0002_orders_priority', '0003_orders_customer']);
    assert.throws(() => releaseMigrations('v9'), /APP_VERSION must be one of v1, v2, v3, v4, got "v9"/);
  });

  it('maps repo:v1..v4 to the server command in the sample-app dir with APP_VERSION', () => {
    const images = sampleImages('123456789012.dkr.ecr.us-east-1.amazonaws.com/sample-app');
    assert.deepEqual(Object.keys(images), ['v1', 'v2', 'v3', 'v4'].map((v) => `123456789012.dkr.ecr.us-east-1.amazonaws.com/sample-app:${v}`));
    const v2 = images['123456789012.dkr.ecr.us-east-1.amazonaws.com/sample-app:v2']!;
    assert.deepEqual(v2.command, ['node', '--import', 'tsx', 'server.ts']);
    assert.equal(v2.cwd, SAMPLE_APP_DIR);
    assert.match(SAMPLE_APP_DIR, /lib[\\/]local[\\/]sample-app$/);
    assert.deepEqual(v2.environment, { APP_VERSION: 'v2' });
    assert.throws(() => sampleImages('sample-app:v1'), /without tag or digest/);
  });
});

describe('sample-app v1-v4 as processes against PostgreSQL', { timeout: 60_000 }, () => {
  before(async () => {
    pglite = await PGlite.create();
    socketServer = new PGLiteSocketServer({ db: pglite, port: 0, host: '127.0.0.1', maxConnections: 10 });
    await socketServer.start();
    databaseUrl = `postgres://postgres@${socketServer.getServerConn()}/postgres`;
    client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
  });

  after(async () => {
    for (const proc of children) {
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        proc.child.kill('SIGKILL');
        await proc.exited;
      }
    }
    await client?.end().catch(() => undefined);
    await socketServer?.stop();
    await pglite?.close();
  });

  it('refuses to start without PORT, with a one-line error naming it', async () => {
    const image = sampleImages('sample-app')['sample-app:v1']!;
    const proc = run(image.command, { ...image.environment, PORT: '', DATABASE_URL: databaseUrl });
    assert.equal(await proc.exited, 1);
    assert.equal(proc.stderr.trim().split('\n').length, 1);
    assert.match(proc.stderr, /PORT is required/);
  });

  it('v1: migrate creates orders; the server takes orders and rejects bad input', async () => {
    const m = await migrate('v1');
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /applied 0001_create_orders/);
    assert.equal(await scalar<string | null>(`SELECT to_regclass('public.orders')::text`), 'orders');

    const port = await startServer('v1');
    assert.deepEqual(await request(port, 'GET', '/'), { status: 200, version: 'v1', body: { service: 'sample-app', version: 'v1' } });
    for (const item of ['book', 'pen', 'lamp']) {
      const res = await request(port, 'POST', '/orders', { item });
      assert.equal(res.status, 201);
      assert.equal(res.version, 'v1');
      assert.equal(typeof res.body.id, 'number');
    }
    const bad = await request(port, 'POST', '/orders', { item: 42 });
    assert.equal(bad.status, 400);
    assert.equal(bad.version, 'v1');
    assert.match(String(bad.body.error), /"item" must be a non-empty string/);
    assert.equal((await request(port, 'POST', '/orders', 'not json')).status, 400);
    assert.deepEqual((await request(port, 'GET', '/orders/count')).body, { count: 3 });
  });

  it('v2: expand-only migration backfills priority while v1 keeps working; v2 uses the column', async () => {
    const m = await migrate('v2');
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /applied 0002_orders_priority/);
    assert.doesNotMatch(m.stdout, /0003/);
    assert.deepEqual((await client.query('SELECT DISTINCT priority FROM orders')).rows, [{ priority: 'standard' }]);

    const v1 = servers.get('v1')!.port;
    const afterMigration = await request(v1, 'POST', '/orders', { item: 'mug' });
    assert.equal(afterMigration.status, 201, JSON.stringify(afterMigration.body));
    assert.equal(await scalar<string>(`SELECT priority FROM orders WHERE item = 'mug'`), 'standard');

    const v2 = await startServer('v2');
    const express = await request(v2, 'POST', '/orders', { item: 'desk', priority: 'express' });
    assert.deepEqual({ status: express.status, version: express.version, priority: express.body.priority }, { status: 201, version: 'v2', priority: 'express' });
    assert.equal((await request(v2, 'POST', '/orders', { item: 'desk', priority: 'urgent' })).status, 400);
    assert.deepEqual((await request(v1, 'GET', '/orders/count')).body, { count: 5 });
    assert.deepEqual((await request(v2, 'GET', '/orders/count')).body, { count: 5 });
  });

  it('v3 carries no migration; v4\'s failing migration exits 1 and leaves schema, rows and records as they were', async () => {
    const m3 = await migrate('v3');
    assert.equal(m3.code, 0, m3.stderr);
    assert.match(m3.stdout, /nothing pending/);

    const before = await databaseState();
    assert.deepEqual(before.migrations, ['0001_create_orders', '0002_orders_priority']);

    const m4 = await migrate('v4');
    assert.equal(m4.code, 1, m4.stdout);
    assert.match(m4.stderr, /relation "customers" does not exist/);
    assert.match(m4.stderr, /FAILED, no migration of this run was applied/);
    assert.deepEqual(await databaseState(), before);
    assert.ok(!before.columns.some((c: { column_name: string }) => c.column_name === 'customer_id'));
    for (const v of ['v1', 'v2'] as const) {
      assert.equal((await request(servers.get(v)!.port, 'GET', '/health')).status, 200);
    }
  });

  it('v3 answers every 3rd request with 500 while /health stays 200; v1 and v2 never answer 5xx', async () => {
    const v3 = await startServer('v3');
    const statuses: number[] = [];
    for (let i = 0; i < 9; i += 1) {
      const res = await request(v3, 'GET', '/');
      assert.equal(res.version, 'v3');
      statuses.push(res.status);
      const health = await request(v3, 'GET', '/health');
      assert.deepEqual(health, { status: 200, version: 'v3', body: { status: 'ok', version: 'v3' } });
    }
    assert.deepEqual(statuses, [200, 200, 500, 200, 200, 500, 200, 200, 500]);

    for (const v of ['v1', 'v2'] as const) {
      const port = servers.get(v)!.port;
      for (let i = 0; i < 6; i += 1) {
        assert.ok((await request(port, 'GET', i % 2 ? '/' : '/orders/count')).status < 500);
      }
    }
  });

  it('SIGTERM: stops accepting, finishes the request in flight, exits 0', async () => {
    const { proc, port } = servers.get('v2')!;
    const count = (await request(port, 'GET', '/orders/count')).body.count as number; // warms a pooled connection

    // Hold a transaction open: the PGlite socket server queues other connections' queries until it ends,
    // so v2's INSERT stays in flight.
    await client.query('BEGIN');
    let pending: Promise<Response> | undefined;
    try {
      await client.query('SELECT 1');
      pending = request(port, 'POST', '/orders', { item: 'in-flight' });
      await until('the INSERT to wait for the database', () => socketServer.getStats().queuedQueries >= 1);
      proc.child.kill('SIGTERM');
      await until('the server to stop accepting connections', () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          socket.once('connect', () => {
            socket.destroy();
            resolve(false);
          });
          socket.once('error', () => resolve(true));
        }),
      );
      assert.equal(proc.child.exitCode, null, 'the server must wait for its request in flight');
    } finally {
      await client.query('COMMIT');
    }

    const res = await pending!;
    assert.equal(res.status, 201);
    assert.equal(res.body.version, 'v2');
    assert.equal(await proc.exited, 0);
    assert.match(proc.stdout, /sample-app v2 stopped on SIGTERM after finishing 1 in-flight request\(s\)/);
    assert.equal(await scalar<number>(`SELECT count(*)::int FROM orders`), count + 1);
  });
});
