/**
 * The sample application's HTTP service (`npm start`; the images' default command).
 *
 * Environment (all required; a missing or malformed one exits 1 with a one-line message):
 * - `PORT`: host port to listen on at 127.0.0.1 (1-65535)
 * - `DATABASE_URL`: postgres://user:password@host:port/database
 * - `APP_VERSION`: `v1` … `v4` (see releases.ts)
 * - `BROKEN_PATH` (optional): a path this build answers with 503 (the demo's v7, whose smoke test fails)
 *
 * Endpoints (every response is JSON and carries `x-app-version`):
 * - `GET /health` → 200 `{"status":"ok","version"}` once `SELECT 1` succeeds, else 503 (the target
 *   group's health check path)
 * - `GET /` → 200 `{"service":"sample-app","version"}`
 * - `POST /orders` `{"item": string}` (v2+: optional `"priority": "standard" | "express"`) → 201
 *   `{"id","version"}` (v2+: and `"priority"`); 400 on bad input
 * - `GET /orders/count` → 200 `{"count"}`
 *
 * v3 is the bad release: every 3rd request other than `/health` answers 500, while `/health` stays 200.
 * Database failures answer 503 (cannot reach the database) or 500 (the database rejected a query).
 *
 * SIGTERM / SIGINT (ECS stops a task with SIGTERM after the load balancer drained it): stop accepting
 * connections, finish the requests in flight (answered with `Connection: close`), close the pool, exit 0.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';
import { readAppVersion, readDatabaseUrl, readPort } from './env';

/** Largest request body accepted, in bytes. */
const MAX_BODY_BYTES = 16 * 1024;
/** Longest accepted `item`, in characters. */
const MAX_ITEM_LENGTH = 200;
const PRIORITIES = ['standard', 'express'] as const;

let port: number;
let databaseUrl: string;
let version: ReturnType<typeof readAppVersion>;
try {
  port = readPort();
  databaseUrl = readDatabaseUrl();
  version = readAppVersion();
} catch (error) {
  process.stderr.write(`sample-app: ${(error as Error).message}\n`);
  process.exit(1);
}

/** v2 and later use the `priority` column that v2's migration adds. */
const usesPriority = version !== 'v1';
/** `BROKEN_PATH` (optional, the demo's v7 image): a path this build answers with 503. */
const brokenPath = process.env.BROKEN_PATH?.startsWith('/') ? process.env.BROKEN_PATH : undefined;

// A small pool: every task of every release shares one database (PGlite in the twin serves a
// bounded number of connections). Idle connections are closed so stopped tasks do not hold slots.
const pool = new pg.Pool({
  connectionString: databaseUrl,
  max: 2,
  idleTimeoutMillis: 10_000,
  // Long enough to ride out a snapshot's brief I/O suspension (RDS: "a few seconds" on a Single-AZ
  // instance) on a busy machine, short of the load generator's 10 s request timeout.
  connectionTimeoutMillis: 8_000,
  query_timeout: 10_000,
});
// An idle client's error (the database restarted, e.g. restored from a snapshot) must not crash the task;
// the pool discards that client and the next query connects anew.
pool.on('error', (error) => process.stderr.write(`sample-app ${version}: idle database connection failed: ${error.message}\n`));

/** An error answered with `status` and `{"error": message}`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Runs a query on the pool. A query the database rejects becomes a 500; failing to reach the database
 * (refused, timed out, connection lost) a 503.
 */
async function query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  try {
    return (await pool.query<R>(text, values)).rows;
  } catch (error) {
    if (error instanceof pg.DatabaseError) {
      throw new HttpError(500, `database rejected the query: ${error.message}`);
    }
    throw new HttpError(503, `database unavailable: ${(error as Error).message || (error as Error).name}`);
  }
}

let shuttingDown = false;
let inFlight = 0;
/** Counts requests other than `/health`, for v3's defect. */
let defectCounter = 0;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-app-version': version,
    ...(shuttingDown ? { connection: 'close' } : {}),
    ...headers,
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body must be at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'request body must be JSON like {"item": "book"}');
  }
}

function parseOrder(body: unknown): { item: string; priority: string | undefined } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'request body must be a JSON object like {"item": "book"}');
  }
  const { item, priority } = body as Record<string, unknown>;
  if (typeof item !== 'string' || item.trim() === '') {
    throw new HttpError(400, `"item" must be a non-empty string (got ${item === undefined ? 'nothing' : JSON.stringify(item)})`);
  }
  if (item.length > MAX_ITEM_LENGTH) {
    throw new HttpError(400, `"item" must be at most ${MAX_ITEM_LENGTH} characters (got ${item.length})`);
  }
  if (priority !== undefined) {
    if (!usesPriority) throw new HttpError(400, `"priority" is not supported by ${version}: send only "item"`);
    if (typeof priority !== 'string' || !(PRIORITIES as readonly string[]).includes(priority)) {
      throw new HttpError(400, `"priority" must be one of ${PRIORITIES.join(', ')} (got ${JSON.stringify(priority)})`);
    }
  }
  return { item, priority: priority as string | undefined };
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const method = req.method ?? 'GET';
  const allow = (methods: string) => {
    if (!methods.split(', ').includes(method)) {
      throw new HttpError(405, `${method} ${path} is not allowed; use ${methods}`, { allow: methods });
    }
  };

  if (path === '/health') {
    allow('GET');
    try {
      await query('SELECT 1');
    } catch (error) {
      send(res, 503, { status: 'unhealthy', version, error: (error as Error).message });
      return;
    }
    send(res, 200, { status: 'ok', version });
    return;
  }

  // A release built with a broken path (the demo's v7: its smoke test fails): that path answers 503.
  if (brokenPath !== undefined && path === brokenPath) {
    send(res, 503, { error: `${path} is not available in this build (BROKEN_PATH)` });
    return;
  }

  defectCounter += 1;
  if (version === 'v3' && defectCounter % 3 === 0) {
    send(res, 500, { error: `internal error (${version} defect: every 3rd request fails)` });
    return;
  }

  switch (path) {
    case '/':
      allow('GET');
      send(res, 200, { service: 'sample-app', version });
      return;
    case '/orders': {
      allow('POST');
      const { item, priority } = parseOrder(await readJson(req));
      if (usesPriority) {
        const [row] = await query<{ id: number; priority: string }>(
          'INSERT INTO orders (item, priority) VALUES ($1, $2) RETURNING id, priority',
          [item, priority ?? 'standard'],
        );
        send(res, 201, { id: row!.id, version, priority: row!.priority });
      } else {
        const [row] = await query<{ id: number }>('INSERT INTO orders (item) VALUES ($1) RETURNING id', [item]);
        send(res, 201, { id: row!.id, version });
      }
      return;
    }
    case '/orders/count': {
      allow('GET');
      const [row] = await query<{ count: number }>('SELECT count(*)::int AS count FROM orders');
      send(res, 200, { count: row!.count });
      return;
    }
    default:
      throw new HttpError(404, `no route for ${method} ${path}; try GET /, GET /health, POST /orders, GET /orders/count`);
  }
}

const server = createServer((req, res) => {
  inFlight += 1;
  res.on('close', () => {
    inFlight -= 1;
  });
  route(req, res).catch((error: unknown) => {
    if (res.headersSent) {
      res.destroy();
    } else if (error instanceof HttpError) {
      send(res, error.status, { error: error.message }, error.headers);
    } else {
      process.stderr.write(`sample-app ${version}: ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}\n`);
      send(res, 500, { error: 'internal error' });
    }
  });
});

// Keep idle connections open longer than the load balancer's idle timeout (ALB default 60 s), so the
// load balancer, not the target, closes them: otherwise a request can race the target's close (a 502).
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

server.on('error', (error) => {
  process.stderr.write(`sample-app ${version}: cannot listen on 127.0.0.1:${port}: ${error.message}\n`);
  process.exit(1);
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`sample-app ${version} listening on http://127.0.0.1:${port} (pid ${process.pid})\n`);
});

function shutdown(signal: NodeJS.Signals): void {
  if (shuttingDown) return;
  shuttingDown = true;
  const pending = inFlight;
  // close() stops accepting; it calls back once every connection has ended. Idle keep-alive connections
  // are closed now; busy ones close after their response, which carries `Connection: close`.
  server.close(() => {
    pool
      .end()
      .catch((error: unknown) => process.stderr.write(`sample-app ${version}: closing the pool: ${(error as Error).message}\n`))
      .finally(() => {
        process.stdout.write(`sample-app ${version} stopped on ${signal} after finishing ${pending} in-flight request(s)\n`);
        process.exit(0);
      });
  });
  server.closeIdleConnections();
}

process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
