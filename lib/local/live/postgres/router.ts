/**
 * The twin's stand-in for RDS endpoint DNS names: one stable loopback TCP port per endpoint name, that
 * forwards each new connection to the database server currently holding the name. RDS endpoints are
 * DNS names derived from the identifier (`<identifier>.<code>.<region>.rds.amazonaws.com`), so after a
 * rename (ModifyDBInstance / ModifyDBCluster with `NewDB…Identifier`) the old name reaches whatever
 * holds it now; the rename reboots the DB and drops its connections. See "Renaming a DB instance" in
 * the Amazon RDS User Guide.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Resolves a holder key to the loopback port of its server, `undefined` while it does not serve. */
export type UpstreamResolver = (key: string) => number | undefined;

interface Endpoint {
  readonly server: Server;
  /** Resolves with the port once listening; rejects if listening failed. */
  readonly listening: Promise<number>;
  port?: number;
  holder?: string;
  /** Open connections: client socket → its upstream socket (each destroys the other when it closes). */
  readonly clients: Map<Socket, Socket>;
}

/**
 * Loopback TCP forwarder keyed by endpoint name (e.g. `instance/orders`): each name gets its own port
 * on first use and keeps it; connections are piped byte for byte to the holder's server.
 */
export class EndpointRouter {
  private readonly endpoints = new Map<string, Endpoint>();
  /** Holder keys whose client → server forwarding is paused, with their hold counts. */
  private readonly holds = new Map<string, number>();
  private closed = false;

  /** @param upstream gives the port of the server for a holder key (see {@link UpstreamResolver}) */
  constructor(private readonly upstream: UpstreamResolver) {}

  /**
   * Make `name` forward new connections to the server of `key` (`undefined`: refuse them, i.e. reset).
   * Creates the endpoint's listener on first use (`127.0.0.1`, a free port, kept for the router's
   * lifetime). If the holder changes, open connections through `name` are closed.
   * @throws Error after {@link close}
   */
  route(name: string, key: string | undefined): void {
    const endpoint = this.ensure(name);
    if (endpoint.holder === key) return;
    endpoint.holder = key;
    for (const client of endpoint.clients.keys()) client.destroy();
    endpoint.clients.clear();
  }

  /**
   * Stop forwarding what clients send to the server of `key` (open and new connections through every
   * name it holds); the bytes wait, in order, and nothing is lost. Answers still reach the clients.
   * Used to order a snapshot before every request sent after it was asked for (see PostgresHost).
   * @returns a function that lets the bytes through again (idempotent; holds nest)
   */
  hold(key: string): () => void {
    this.holds.set(key, (this.holds.get(key) ?? 0) + 1);
    for (const e of this.endpoints.values()) {
      if (e.holder !== key) continue;
      for (const [client, upstream] of e.clients) {
        client.unpipe(upstream);
        client.pause();
      }
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.holds.get(key) ?? 1) - 1;
      if (left > 0) {
        this.holds.set(key, left);
        return;
      }
      this.holds.delete(key);
      for (const e of this.endpoints.values()) {
        if (e.holder === key) for (const [client, upstream] of e.clients) client.pipe(upstream);
      }
    };
  }

  /** The holder key of `name`, `undefined` when nothing holds it (or it was never routed). */
  holder(name: string): string | undefined {
    return this.endpoints.get(name)?.holder;
  }

  /** The port of `name` once it listens, else `undefined`. */
  port(name: string): number | undefined {
    return this.endpoints.get(name)?.port;
  }

  /**
   * The port of `name`, creating its listener (held by nothing) if it has none yet.
   * @throws (rejects with) Error when the listener could not be opened, or after {@link close}
   */
  async listen(name: string): Promise<number> {
    return this.ensure(name).listening;
  }

  /** Stop listening everywhere and close every forwarded connection. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.endpoints.values()];
    this.endpoints.clear();
    await Promise.all(
      all.map(async (e) => {
        for (const client of e.clients.keys()) client.destroy();
        await e.listening.catch(() => undefined);
        await new Promise<void>((resolve) => e.server.close(() => resolve()));
      }),
    );
  }

  private ensure(name: string): Endpoint {
    if (this.closed) throw new Error(`The endpoint router is closed; cannot route ${name}`);
    const existing = this.endpoints.get(name);
    if (existing) return existing;
    const server = createServer((client) => this.forward(endpoint, client));
    const listening = new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        server.off('error', reject);
        const address = server.address();
        endpoint.port = typeof address === 'object' && address ? address.port : undefined;
        if (endpoint.port === undefined) reject(new Error(`Endpoint ${name} has no TCP port`));
        else resolve(endpoint.port);
      });
    });
    listening.catch(() => undefined); // observed through listen(); never an unhandled rejection
    server.on('error', () => undefined);
    const endpoint: Endpoint = { server, listening, clients: new Map() };
    this.endpoints.set(name, endpoint);
    return endpoint;
  }

  private forward(endpoint: Endpoint, client: Socket): void {
    const port = endpoint.holder === undefined ? undefined : this.upstream(endpoint.holder);
    if (port === undefined) {
      // Nothing serves this name: refuse (a reset, as a connection to a host with nothing listening).
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const server = connect({ host: '127.0.0.1', port });
    endpoint.clients.set(client, server);
    const teardown = (): void => {
      endpoint.clients.delete(client);
      client.destroy();
      server.destroy();
    };
    client.on('error', teardown).on('close', teardown);
    server.on('error', teardown).on('close', teardown);
    // While the holder is held (a snapshot is being taken), client bytes wait here, in order.
    if (!this.holds.has(endpoint.holder!)) client.pipe(server);
    server.pipe(client);
  }
}
