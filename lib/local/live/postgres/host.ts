/**
 * Real PostgreSQL for the twin's RDS: {@link PostgresHost} runs one child process per database
 * (./server.ts: PGlite served over the PostgreSQL wire protocol), writes and restores snapshots as
 * gzip tarballs of the data directory, and routes one stable loopback port per RDS identifier to the
 * database that currently holds the identifier (./router.ts). It implements {@link RdsEngine}, the hook
 * of the RDS simulator: `new Simulator({ clock, engine: host })`.
 *
 * Layout under the state directory given to the constructor (e.g. `<stateDir>/rds`):
 * - `data/<database key>/`           PGlite data directory of a database (reopened when started again)
 * - `snapshots/<snapshot key>.tar.gz` a snapshot (`dumpDataDir('gzip')`), the source of restores
 * - `template.tar.gz`                 an empty database, dumped once by the first new database: later
 *                                     new databases load it instead of running initdb (about 2x faster
 *                                     to start, and the server process stays smaller)
 *
 * Clients connect with `postgres://postgres:postgres@127.0.0.1:<endpoint port>/postgres`
 * ({@link PostgresHost.connectionUrl}); PGlite has one database and accepts any user and password.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { EndpointKind, EngineState, RdsEngine } from './engine';
import { trackProcess } from '../reaper';
import { EndpointRouter } from './router';
import type { ParentMessage, ServerMessage } from './server';

export type { EndpointKind, EngineState, RdsEngine } from './engine';

export interface PostgresHostOptions {
  /** Concurrent client connections each database accepts (PGLiteSocketServer `maxConnections`, >= 2). @default 64 */
  readonly maxConnections?: number;
  /** Real milliseconds a database server may take to start before it is killed and marked `failed`. @default 120000 */
  readonly startTimeoutMs?: number;
  /** Real milliseconds a database server may take to stop cleanly before it is killed. @default 10000 */
  readonly stopTimeoutMs?: number;
}

/** A snapshot written by {@link PostgresHost} (for `npm run bench` and the demo's printout). */
export interface SnapshotMetric {
  /** Snapshot key (the DB snapshot identifier, or `<identifier>.cluster`). */
  readonly snapshot: string;
  /** Database key it was taken of. */
  readonly database: string;
  /** Absolute path of the `.tar.gz` file. */
  readonly file: string;
  /** Size of the file in bytes. */
  readonly bytes: number;
  /** Real milliseconds the dump took in the server (dumpDataDir + write). */
  readonly ms: number;
}

/** A database server start (for `npm run bench` and the demo's printout). */
export interface StartMetric {
  readonly database: string;
  /** Snapshot key it was restored from; absent for a new or reopened database. */
  readonly fromSnapshot?: string;
  /** Size in bytes of that snapshot file. */
  readonly snapshotBytes?: number;
  /** Real milliseconds from spawning the server until it accepted connections (includes loading the snapshot). */
  readonly ms: number;
}

interface DbServer {
  readonly key: string;
  state: EngineState;
  child?: ChildProcess;
  port?: number;
  /** Settles when the server is ready (rejects when it could not start); always has a handler. */
  started: Promise<void>;
  /** Settles when the child exited (at once if none was spawned). */
  exited: Promise<void>;
  stopping: boolean;
  /** Last lines of the server's stderr, for error messages. */
  stderr: string;
  readonly dumps: Map<number, { resolve: (m: { bytes: number; ms: number }) => void; reject: (e: Error) => void; started: () => void }>;
}

interface SnapshotJob {
  state: EngineState;
  /** Settles when the file is written (rejects on failure); always has a handler. */
  done: Promise<void>;
  error?: string;
}

const SERVER_ENTRY = fileURLToPath(new URL('./server.ts', import.meta.url));
/** tsx's loader as a file URL, so the child resolves it whatever its working directory. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const KEY = /^[a-z0-9][a-z0-9.-]*$/i;
const STDERR_TAIL = 4000;

/**
 * Serves the twin's RDS databases with PGlite, one child process each, and their endpoints on loopback.
 * Give it to the simulator as its `engine`; the integrator reads {@link connectionUrl} and {@link metrics},
 * and calls {@link close} on shutdown. All work runs in the background; failures show as `failed` states.
 */
export class PostgresHost implements RdsEngine {
  /** Absolute state directory (see the module comment for its layout). */
  readonly stateDir: string;
  private readonly maxConnections: number;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly servers = new Map<string, DbServer>();
  private readonly snapshots = new Map<string, SnapshotJob>();
  private readonly router = new EndpointRouter((key) => this.serverPort(key));
  private readonly snapshotMetrics: SnapshotMetric[] = [];
  private readonly startMetrics: StartMetric[] = [];
  private dumpSeq = 0;
  private closing = false;
  /** Path of the empty-database template once written (`undefined` if it could not be); unset until a new database needs it. */
  private template?: Promise<string | undefined>;

  /**
   * @param stateDir directory for data directories and snapshot files (created when needed), e.g. `<stateDir>/rds`
   * @throws Error when an option is out of range (names the option)
   */
  constructor(stateDir: string, opts: PostgresHostOptions = {}) {
    this.stateDir = resolve(stateDir);
    this.maxConnections = opts.maxConnections ?? 64;
    this.startTimeoutMs = opts.startTimeoutMs ?? 120_000;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
    if (!Number.isInteger(this.maxConnections) || this.maxConnections < 2) {
      throw new Error(`PostgresHost maxConnections must be an integer >= 2 (several clients share a database), got ${opts.maxConnections}`);
    }
    for (const [name, value] of [
      ['startTimeoutMs', this.startTimeoutMs],
      ['stopTimeoutMs', this.stopTimeoutMs],
    ] as const) {
      if (!(value > 0)) throw new Error(`PostgresHost ${name} must be > 0 (real milliseconds), got ${value}`);
    }
  }

  // ---------------------------------------------------------------- RdsEngine

  /** {@inheritDoc RdsEngine.startDatabase} Data lives in `data/<key>`; restores read `snapshots/<snapshot>.tar.gz`. */
  startDatabase(key: string, from?: { readonly snapshot: string }): void {
    const existing = this.servers.get(key);
    if (existing && existing.state !== 'failed') return;
    const server: DbServer = {
      key,
      state: 'pending',
      started: Promise.resolve(),
      exited: Promise.resolve(),
      stopping: false,
      stderr: '',
      dumps: new Map(),
    };
    server.started = this.launch(server, from);
    this.servers.set(key, server);
    server.started.then(
      () => (server.state = running(server.child) ? 'ready' : 'failed'),
      (err: unknown) => {
        server.state = 'failed';
        server.stderr += `\n${err instanceof Error ? err.message : String(err)}`;
      },
    );
  }

  /** {@inheritDoc RdsEngine.databaseState} */
  databaseState(key: string): EngineState {
    return this.servers.get(key)?.state ?? 'failed';
  }

  /** {@inheritDoc RdsEngine.startSnapshot} Writes `snapshots/<snapshot>.tar.gz` (temp name, then rename). */
  startSnapshot(key: string, snapshot: string): void {
    const job: SnapshotJob = { state: 'pending', done: Promise.resolve() };
    // dump() sends the request to the server synchronously (before its first await) when the server
    // is ready, so that the dump holds exactly the writes made before this call.
    job.done = this.dump(key, snapshot).then(({ file, bytes, ms }) => {
      this.snapshotMetrics.push({ snapshot, database: key, file, bytes, ms });
    });
    this.snapshots.set(snapshot, job);
    job.done.then(
      () => (job.state = 'ready'),
      (err: unknown) => {
        job.state = 'failed';
        job.error = err instanceof Error ? err.message : String(err);
      },
    );
  }

  /** {@inheritDoc RdsEngine.snapshotState} */
  snapshotState(snapshot: string): EngineState {
    return this.snapshots.get(snapshot)?.state ?? 'failed';
  }

  /**
   * {@inheritDoc RdsEngine.deleteSnapshot} Removes the file at once (so that a new snapshot of the same
   * key cannot lose its file to a late delete), or when a dump still being written ends; a failed
   * snapshot has no file to remove.
   */
  deleteSnapshot(snapshot: string): void {
    const job = this.snapshots.get(snapshot);
    if (!job || !KEY.test(snapshot)) return;
    this.snapshots.delete(snapshot);
    const file = this.snapshotFile(snapshot);
    // Only a file this host wrote is removed (a failed snapshot has none; its path may hold something else).
    if (job.state === 'pending') void job.done.then(() => rm(file, { force: true })).catch(() => undefined);
    else if (job.state === 'ready') {
      try {
        rmSync(file, { force: true });
      } catch {
        // Never throw into the simulator: a file that cannot be removed just stays.
      }
    }
  }

  /** {@inheritDoc RdsEngine.route} Identifiers are case-insensitive (lower-cased). Ignored after {@link close}. */
  route(kind: EndpointKind, identifier: string, key: string | undefined): void {
    if (this.closing) return;
    this.router.route(endpointName(kind, identifier), key);
  }

  /** {@inheritDoc RdsEngine.endpointPort} */
  endpointPort(kind: EndpointKind, identifier: string): number | undefined {
    return this.router.port(endpointName(kind, identifier));
  }

  // ---------------------------------------------------------------- for the integrator

  /**
   * Connection URL of an RDS endpoint: `postgres://postgres:postgres@127.0.0.1:<port>/postgres`. The
   * port is stable for the host's lifetime; what answers is whatever holds the identifier at connect time.
   * @param identifier DB instance or DB cluster identifier (case-insensitive)
   * @param kind which namespace the identifier is in @default 'instance'
   * @throws (rejects with) Error when the endpoint's listener could not be opened or the host is closed
   */
  async connectionUrl(identifier: string, kind: EndpointKind = 'instance'): Promise<string> {
    const port = await this.router.listen(endpointName(kind, identifier));
    return `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  }

  /**
   * Wait until database `key` serves connections.
   * @throws (rejects with) Error naming the key and the server's last stderr output when it failed or is unknown
   */
  async whenReady(key: string): Promise<void> {
    const server = this.servers.get(key);
    if (!server) throw new Error(`No database ${key} was started on this PostgresHost`);
    await server.started.catch(() => undefined);
    if (server.state !== 'ready') throw new Error(`Database ${key} is not serving (${server.state}): ${server.stderr.trim().slice(-STDERR_TAIL)}`);
  }

  /**
   * Wait until snapshot `snapshot` is stored.
   * @throws (rejects with) Error with the reason when the snapshot failed or is unknown
   */
  async whenSnapshotted(snapshot: string): Promise<void> {
    const job = this.snapshots.get(snapshot);
    if (!job) throw new Error(`No snapshot ${snapshot} was started on this PostgresHost`);
    await job.done.catch(() => undefined);
    if (job.state !== 'ready') throw new Error(`Snapshot ${snapshot} failed: ${job.error}`);
  }

  /** Absolute path of a snapshot's file (`<stateDir>/snapshots/<snapshot>.tar.gz`). @throws Error for a key with characters other than letters, digits, `.` and `-` */
  snapshotFile(snapshot: string): string {
    return join(this.stateDir, 'snapshots', `${checkKey(snapshot)}.tar.gz`);
  }

  /** Absolute path of a database's data directory (`<stateDir>/data/<key>`). @throws Error for a key with characters other than letters, digits, `.` and `-` */
  dataDir(key: string): string {
    return join(this.stateDir, 'data', checkKey(key));
  }

  /** Snapshots written and servers started so far, oldest first (copies). Durations are real milliseconds. */
  metrics(): { snapshots: SnapshotMetric[]; starts: StartMetric[] } {
    return { snapshots: [...this.snapshotMetrics], starts: [...this.startMetrics] };
  }

  /**
   * Stop the server of database `key` cleanly (its data directory stays and is reopened by a later
   * {@link startDatabase}); connections through its endpoints are refused until then. Unknown keys are ignored.
   */
  async stop(key: string): Promise<void> {
    const server = this.servers.get(key);
    if (!server) return;
    server.stopping = true;
    await server.started.catch(() => undefined);
    const child = server.child;
    if (child && running(child)) {
      const timer = setTimeout(() => child.kill('SIGKILL'), this.stopTimeoutMs);
      if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage);
      else child.kill('SIGTERM');
      await server.exited;
      clearTimeout(timer);
    }
    server.state = 'failed';
    if (this.servers.get(key) === server) this.servers.delete(key);
  }

  /** Stop every server and the endpoint router; waits for snapshots being written. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.snapshots.values()].map((j) => j.done.catch(() => undefined)));
    await Promise.all([...this.servers.keys()].map((key) => this.stop(key)));
    await this.router.close();
  }

  // ---------------------------------------------------------------- internals

  private serverPort(key: string): number | undefined {
    const server = this.servers.get(key);
    return server?.state === 'ready' ? server.port : undefined;
  }

  private async launch(server: DbServer, from: { readonly snapshot: string } | undefined): Promise<void> {
    if (this.closing) throw new Error(`PostgresHost is closed; cannot start database ${server.key}`);
    const dataDir = this.dataDir(server.key);
    let load: string | undefined;
    if (from) {
      load = this.snapshotFile(from.snapshot);
      const job = this.snapshots.get(from.snapshot);
      if (job) await job.done;
      if (!existsSync(load)) throw new Error(`Snapshot file ${load} does not exist: cannot restore database ${server.key} from snapshot ${from.snapshot}`);
    }
    let makeTemplate: ((file: string | undefined) => void) | undefined;
    if (!from && !existsSync(join(dataDir, 'PG_VERSION'))) {
      // A new database: load the empty-database template, or be the one that makes it.
      const templateFile = join(this.stateDir, 'template.tar.gz');
      if (!this.template && existsSync(templateFile)) this.template = Promise.resolve(templateFile);
      if (this.template) load = await this.template;
      else this.template = new Promise((resolve) => (makeTemplate = resolve));
    }
    try {
      await mkdir(dataDir, { recursive: true });
      if (server.stopping || this.closing) throw new Error(`Database ${server.key} was stopped while starting`);
      await this.spawnServer(server, dataDir, load, from);
    } finally {
      if (makeTemplate) {
        const file = join(this.stateDir, 'template.tar.gz');
        // Not yet `ready`, so no client has written to it: the database is still empty.
        makeTemplate(server.port === undefined || server.stopping ? undefined : await this.requestDump(server, file).then(() => file, () => undefined));
      }
    }
  }

  private async spawnServer(server: DbServer, dataDir: string, load: string | undefined, from: { readonly snapshot: string } | undefined): Promise<void> {
    const began = performance.now();
    const args = ['--import', TSX_LOADER, SERVER_ENTRY, '--data-dir', dataDir, '--max-connections', String(this.maxConnections)];
    if (load) args.push('--load', load);
    // Its own process group: the terminal's Ctrl-C reaches the twin, which stops its databases after
    // the tasks that use them. It stops by itself when the IPC channel closes (the twin is gone).
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true });
    server.child = child;
    const untrack = child.pid === undefined ? () => undefined : trackProcess({ pid: child.pid, group: false, what: `PostgreSQL server of database ${server.key}`, owner: dataDir });
    server.exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        untrack();
        resolve();
      }),
    );
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      server.stderr = (server.stderr + chunk).slice(-STDERR_TAIL);
    });
    child.on('error', () => undefined);
    child.on('exit', (code, signal) => {
      server.state = 'failed';
      for (const { reject, started } of server.dumps.values()) started(), reject(new Error(`The server of database ${server.key} exited (${signal ?? code}) during a snapshot`));
      server.dumps.clear();
    });
    child.on('message', (raw) => {
      const msg = raw as ServerMessage;
      if (msg.type === 'dump-started') server.dumps.get(msg.id)?.started();
      else if (msg.type === 'dumped' || msg.type === 'dump-failed') {
        const waiter = server.dumps.get(msg.id);
        waiter?.started();
        server.dumps.delete(msg.id);
        if (msg.type === 'dumped') waiter?.resolve({ bytes: msg.bytes, ms: msg.ms });
        else waiter?.reject(new Error(msg.message));
      }
    });
    server.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`The server of database ${server.key} did not start within ${this.startTimeoutMs} ms`));
      }, this.startTimeoutMs);
      const settle = (fn: () => void): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        fn();
      };
      const onMessage = (raw: unknown): void => {
        const msg = raw as ServerMessage;
        if (msg.type === 'ready') settle(() => resolve(msg.port));
        else if (msg.type === 'error') settle(() => reject(new Error(`The server of database ${server.key} could not start: ${msg.message}`)));
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        settle(() => reject(new Error(`The server of database ${server.key} exited (${signal ?? code}) before it was ready: ${server.stderr.trim()}`)));
      child.on('message', onMessage);
      child.on('exit', onExit);
    });
    if (server.stopping) return; // stop() takes it from here
    const ms = performance.now() - began; // a restore's duration: spawn, load the snapshot, serve
    if (!from) this.startMetrics.push({ database: server.key, ms });
    else {
      const snapshotBytes = this.snapshotMetrics.findLast((m) => m.snapshot === from.snapshot)?.bytes;
      this.startMetrics.push({ database: server.key, fromSnapshot: from.snapshot, ...(snapshotBytes === undefined ? {} : { snapshotBytes }), ms });
    }
  }

  /** Ask the server of `key` to dump itself now (or as soon as it is ready) to the snapshot's file. */
  private async dump(key: string, snapshot: string): Promise<{ file: string; bytes: number; ms: number }> {
    const server = this.servers.get(key);
    if (!server) throw new Error(`No database ${key} is served: cannot snapshot it as ${snapshot}`);
    const file = this.snapshotFile(snapshot);
    if (server.state === 'pending') await server.started.catch(() => undefined);
    if (server.state !== 'ready') throw new Error(`Database ${key} is not serving (${server.state}): cannot snapshot it as ${snapshot}`);
    return { file, ...(await this.requestDump(server, file)) };
  }

  /**
   * Send a dump request to a running server (synchronously) and wait for its reply. Client bytes for
   * this database are held at the endpoint router from now until the server has queued the dump for its
   * session (`dump-started`): the request travels on the IPC channel, the clients' on TCP, and without
   * the hold a write sent after this call could reach the server first and end up in the snapshot. (Not
   * until the dump holds the session: a client in an open transaction must be able to send its COMMIT.)
   */
  private requestDump(server: DbServer, file: string): Promise<{ bytes: number; ms: number }> {
    const child = server.child;
    if (!child?.connected) return Promise.reject(new Error(`The server of database ${server.key} is not running: cannot dump it to ${file}`));
    const id = ++this.dumpSeq;
    const started = this.router.hold(server.key);
    const reply = new Promise<{ bytes: number; ms: number }>((resolve, reject) => server.dumps.set(id, { resolve, reject, started }));
    child.send({ type: 'dump', id, file } satisfies ParentMessage);
    return reply;
  }
}

function running(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

function endpointName(kind: EndpointKind, identifier: string): string {
  return `${kind}/${identifier.toLowerCase()}`;
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new Error(`Invalid database or snapshot key ${JSON.stringify(key)}: use letters, digits, '.' and '-' only (it names a file)`);
  return key;
}
