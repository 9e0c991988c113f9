/**
 * Child-process entry that serves ONE PostgreSQL database of the twin's RDS: PGlite (PostgreSQL
 * compiled to WASM) on a persistent data directory, spoken to over the PostgreSQL wire protocol by
 * {@link WireServer} (./wire.ts, which serialises whole client exchanges on PGlite's one session) on
 * `127.0.0.1` and an ephemeral port. One process per database keeps the
 * twin's event loop free: PGlite runs its WASM on the thread that calls it.
 *
 * Started by {@link PostgresHost} (./host.ts) as
 *   `node --import tsx server.ts --data-dir <dir> [--load <snapshot.tar.gz>] [--max-connections <n>]`
 * with an IPC channel. Messages (see {@link ServerMessage} / {@link ParentMessage}):
 * - child → parent `{ type: 'ready', port }` once it listens; `{ type: 'error', message }` and exit 1
 *   when it cannot start;
 * - parent → child `{ type: 'dump', id, file }`: queue for the session (after the protocol units
 *   already received), reply `{ type: 'dump-started', id }`, then once it holds the session take `dumpDataDir('none')`, release the session, gzip it and write it to `file` (a temp name,
 *   then renamed; its directory is created), reply `{ type: 'dumped', id, bytes, ms }` (`ms`: real
 *   milliseconds) or `{ type: 'dump-failed', id, message }`. The tarball of the data directory is taken
 *   between two protocol messages (PGlite runs one at a time) with every commit already in the WAL
 *   (`synchronous_commit` is on), so it is a crash-consistent copy: opening it replays the committed
 *   writes and rolls back a transaction that was still open;
 * - parent → child `{ type: 'stop' }` (or SIGTERM/SIGINT, or the parent going away: the IPC channel's
 *   `disconnect`, which also happens when the twin is killed with `kill -9`): stop listening, close
 *   PGlite (a clean shutdown that leaves the data directory reopenable) and exit 0; if that takes more
 *   than {@link STOP_DEADLINE_MS}, exit 1 anyway — a server never outlives its twin for long.
 *
 * `--load` initialises a data directory that has no database yet (no `PG_VERSION`) from a tarball
 * made by `dumpDataDir`; a data directory that already holds a database is reopened as it is.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import { WireServer } from './wire';

/** Messages the server process sends to its parent. */
export type ServerMessage =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'dump-started'; readonly id: number }
  | { readonly type: 'dumped'; readonly id: number; readonly bytes: number; readonly ms: number }
  | { readonly type: 'dump-failed'; readonly id: number; readonly message: string };

/** Messages the parent sends to the server process. */
export type ParentMessage = { readonly type: 'dump'; readonly id: number; readonly file: string } | { readonly type: 'stop' };

/** Concurrent client connections accepted when `--max-connections` is not given. */
const DEFAULT_MAX_CONNECTIONS = 64;
/** Real milliseconds a stop may take (finish starting, close the connections and PGlite) before the process exits regardless. */
const STOP_DEADLINE_MS = 10_000;

async function main(): Promise<void> {
  if (!process.send) throw new Error('lib/local/live/postgres/server.ts must be spawned with an IPC channel (stdio "ipc"), e.g. by PostgresHost');
  const { values } = parseArgs({
    options: { 'data-dir': { type: 'string' }, load: { type: 'string' }, 'max-connections': { type: 'string' } },
  });
  const dataDir = values['data-dir'];
  if (!dataDir) throw new Error('--data-dir is required: the directory that holds (or will hold) this database');
  const maxConnections = Number(values['max-connections'] ?? DEFAULT_MAX_CONNECTIONS);
  if (!Number.isInteger(maxConnections) || maxConnections < 2) {
    throw new Error(`--max-connections must be an integer >= 2 (several clients share the database), got ${values['max-connections']}`);
  }

  // Handlers first, so that a stop that arrives while PGlite starts is not lost.
  let db: PGlite | undefined;
  let server: WireServer | undefined;
  let stopping = false;
  let startup: Promise<unknown> = Promise.resolve();
  let port = 0;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => {
      process.stderr.write(`postgres server: did not stop within ${STOP_DEADLINE_MS} ms; exiting without a clean shutdown\n`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    await startup.catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await db?.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('message', (raw) => {
    const msg = raw as ParentMessage;
    if (msg.type === 'stop') void stop();
    else if (msg.type === 'dump') {
      if (db && server && !stopping) void dump(db, server, msg.id, msg.file);
      else send({ type: 'dump-failed', id: msg.id, message: 'the database server is not serving (starting or stopping)' });
    }
  });
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('disconnect', () => void stop());

  startup = (async () => {
    await mkdir(dataDir, { recursive: true });
    const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
    const loadDataDir = values.load && fresh ? new Blob([await readFile(values.load)], { type: 'application/x-gzip' }) : undefined;
    const opened = await PGlite.create(dataDir, { loadDataDir });
    server = new WireServer(opened, { maxConnections });
    port = await server.start(0);
    db = opened;
  })();
  await startup;
  if (!stopping) send({ type: 'ready', port });
}

const gzipAsync = promisify(gzip);

/** Write a gzip tarball of the data directory to `file` (temp name, then rename) and report to the parent. */
async function dump(db: PGlite, wire: WireServer, id: number, file: string): Promise<void> {
  const started = performance.now();
  const temp = `${file}.${process.pid}-${id}.tmp`;
  try {
    // Queuing for the session orders the dump after every unit already received and before the rest.
    // Only the tar is taken while holding the session (about half the time of a gzip dump); the gzip
    // runs on libuv's thread pool after the session is released, so clients wait as little as they can.
    const tarball = await wire.exclusive(() => db.dumpDataDir('none'), () => send({ type: 'dump-started', id }));
    const bytes = await gzipAsync(Buffer.from(await tarball.arrayBuffer()));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(temp, bytes);
    await rename(temp, file);
    send({ type: 'dumped', id, bytes: bytes.length, ms: performance.now() - started });
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    send({ type: 'dump-failed', id, message: err instanceof Error ? err.message : String(err) });
  }
}

function send(msg: ServerMessage): void {
  process.send?.(msg);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`postgres server: ${message}\n`);
  if (process.send) process.send({ type: 'error', message } satisfies ServerMessage, () => process.exit(1));
  else process.exit(1);
});
