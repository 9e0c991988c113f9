/**
 * A PostgreSQL wire-protocol front end for one PGlite database that serialises whole client
 * exchanges, not single messages.
 *
 * PGlite is one PostgreSQL session. `PGLiteSocketServer` (0.2.x) multiplexes clients onto it message
 * by message, so the extended-query messages of two clients (Parse/Bind/Execute/Sync, as `pg` sends
 * for every parameterised query) interleave and clobber each other's unnamed statement and portal
 * ("unnamed prepared statement does not exist", a result given to the wrong client). This server
 * instead runs each client's messages up to a synchronisation point — `Sync`, a simple `Query`, or the
 * startup packet — as one unit under a FIFO lock, and a client whose exchange leaves a transaction
 * open keeps the lock until it commits or rolls back (its disconnection rolls it back). Concurrent
 * transactions therefore run one after the other: correct, never interleaved, and fast enough for the
 * twin. See "Message Flow" in the PostgreSQL protocol documentation (55.2).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

/** SSLRequest / GSSENCRequest / CancelRequest codes (protocol 55.7). */
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

/** A FIFO mutex that one connection holds at a time. */
class SessionLock {
  /** The connection holding the lock. */
  holder: number | undefined;
  private readonly waiters: Array<{ id: number; grant: () => void }> = [];

  /** Resolves when connection `id` holds the lock (at once if it already does). */
  acquire(id: number): Promise<void> {
    if (this.holder === id) return Promise.resolve();
    if (this.holder === undefined) {
      this.holder = id;
      return Promise.resolve();
    }
    return new Promise((grant) => this.waiters.push({ id, grant }));
  }

  /** Connection `id` lets go (a no-op when it does not hold the lock). */
  release(id: number): void {
    if (this.holder !== id) return;
    const next = this.waiters.shift();
    this.holder = next?.id;
    next?.grant();
  }

  /** Forget a connection's place in the queue (it disconnected while waiting). */
  forget(id: number): void {
    const i = this.waiters.findIndex((w) => w.id === id);
    if (i >= 0) this.waiters.splice(i, 1);
    this.release(id);
  }
}

export interface WireServerOptions {
  /** @default 64 */
  readonly maxConnections?: number;
}

/** Serves `db` on 127.0.0.1; see the module comment for how clients share the session. */
export class WireServer {
  private readonly server: Server;
  private readonly lock = new SessionLock();
  private readonly sockets = new Set<Socket>();
  private nextId = 1;

  constructor(
    private readonly db: PGlite,
    opts: WireServerOptions = {},
  ) {
    this.server = createServer((socket) => this.connection(socket));
    this.server.maxConnections = opts.maxConnections ?? 64;
  }

  /**
   * Run `fn` while no client's messages run: it queues for the session like a client (after the units
   * already queued, and after an open transaction ends) and keeps it until `fn` settles. `onQueued` is
   * called at once, when its place in the queue is taken: every unit that arrives later runs after `fn`.
   */
  async exclusive<T>(fn: () => Promise<T>, onQueued?: () => void): Promise<T> {
    const id = -this.nextId++;
    const held = this.lock.acquire(id);
    onQueued?.();
    await held;
    try {
      return await fn();
    } finally {
      this.lock.release(id);
    }
  }

  /**
   * Listen on 127.0.0.1.
   * @param port 0 for any free port
   * @returns the port listened on
   */
  async start(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Stop listening and close every client connection. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private connection(socket: Socket): void {
    const id = this.nextId++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let buffer: Buffer = Buffer.alloc(0);
    let started = false;
    let pending: Buffer[] = [];
    let chain = Promise.resolve();
    let closed = false;

    const run = (messages: Buffer[]) => {
      chain = chain.then(async () => {
        if (closed) return;
        await this.lock.acquire(id);
        try {
          for (const message of messages) {
            if (closed) break;
            const reply = await this.db.execProtocolRaw(new Uint8Array(message));
            if (reply.length > 0 && !socket.destroyed) socket.write(Buffer.from(reply));
          }
        } finally {
          if (closed || !this.db.isInTransaction()) this.lock.release(id);
        }
      }).catch(() => {
        socket.destroy();
      });
    };

    socket.on('data', (data: Buffer) => {
      buffer = buffer.length ? Buffer.concat([buffer, data]) : data;
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          const packet = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            socket.write('N');
            continue;
          }
          if (code === CANCEL_REQUEST) {
            socket.destroy();
            return;
          }
          if (code !== PROTOCOL_3) {
            socket.destroy();
            return;
          }
          started = true;
          run([Buffer.from(packet)]);
          continue;
        }
        if (buffer.length < 5) return;
        const length = 1 + buffer.readInt32BE(1);
        if (buffer.length < length) return;
        const type = String.fromCharCode(buffer[0]!);
        const message = Buffer.from(buffer.subarray(0, length));
        buffer = buffer.subarray(length);
        if (type === 'X') {
          socket.end();
          return;
        }
        pending.push(message);
        if (type === 'S' || type === 'Q' || type === 'H') {
          run(pending);
          pending = [];
        }
      }
    });

    const cleanup = () => {
      if (closed) return;
      closed = true;
      this.sockets.delete(socket);
      chain = chain.then(async () => {
        // A transaction left open by a vanished client is rolled back, as PostgreSQL does.
        if (this.lock.holder === id && this.db.isInTransaction()) await this.db.exec('ROLLBACK').catch(() => undefined);
        this.lock.forget(id);
      });
    };
    socket.on('close', cleanup);
    socket.on('error', cleanup);
  }
}
