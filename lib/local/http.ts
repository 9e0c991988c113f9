/**
 * The twin's one HTTP server on 127.0.0.1: what API Gateway, EventBridge and the Step Functions
 * endpoint are on AWS.
 *  - `POST /webhooks/github` → an API Gateway HTTP API (payload 2.0) event → the github-webhook handler
 *  - `POST /events` → an EventBridge event (or `{ "Entries": [...] }` as PutEvents sends) → the rules
 *  - `POST /` with `X-Amz-Target: AWSStepFunctions.*` → the Step Functions JSON 1.0 API
 *  - `GET /` → a small JSON index of the twin's URLs and state machines
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** API Gateway HTTP APIs accept payloads up to 10 MB; larger requests get 413 before any handler runs. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

export interface HttpRoutes {
  webhook(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2>;
  events(body: unknown): Promise<{ statusCode: number; body: unknown }>;
  stepFunctions(target: string, body: string): Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;
  index(): unknown;
}

async function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, statusCode: number, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  res.writeHead(statusCode, headers);
  res.end(body);
}

/** Build the API Gateway HTTP API (payload format 2.0) event for a request, as the Lambda integration would. */
export function toApiGatewayEvent(req: IncomingMessage, body: Buffer, routeKey: string): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  const url = new URL(req.url ?? '/', 'http://localhost');
  const text = body.toString('utf8');
  const isText = /json|text|x-www-form-urlencoded/.test(headers['content-type'] ?? '') && Buffer.from(text, 'utf8').equals(body);
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: { method: req.method ?? 'POST', path: url.pathname, protocol: 'HTTP/1.1', sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: crypto.randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: isText ? text : body.toString('base64'),
    isBase64Encoded: !isText,
  };
}

/** Start the server on 127.0.0.1:`port` (0 = any free port). */
export async function startHttpServer(port: number, routes: HttpRoutes): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      if (body === 'too-large') return send(res, 413, JSON.stringify({ message: 'Request Entity Too Large' }));
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const target = req.headers['x-amz-target'];
      if (req.method === 'POST' && typeof target === 'string' && target.startsWith('AWSStepFunctions.')) {
        const out = await routes.stepFunctions(target, body.toString('utf8'));
        return send(res, out.statusCode, out.body, out.headers);
      }
      if (req.method === 'POST' && path === '/webhooks/github') {
        const out = await routes.webhook(toApiGatewayEvent(req, body, 'POST /webhooks/github'));
        return send(res, out.statusCode ?? 200, out.body ?? '', Object.fromEntries(Object.entries(out.headers ?? {}).map(([k, v]) => [k, String(v)])));
      }
      if (req.method === 'POST' && path === '/events') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch {
          return send(res, 400, JSON.stringify({ message: 'The body must be an EventBridge event (JSON).' }));
        }
        const out = await routes.events(parsed);
        return send(res, out.statusCode, JSON.stringify(out.body));
      }
      if (req.method === 'GET' && path === '/') return send(res, 200, JSON.stringify(routes.index(), null, 2));
      return send(res, 404, JSON.stringify({ message: `No route for ${req.method} ${path}. See GET / for what the twin serves.` }));
    } catch (err) {
      // Like API Gateway in front of a failing Lambda: no stack trace to the caller.
      console.error(`cutover twin: ${req.method} ${req.url} failed: ${(err as Error).message}`);
      return send(res, 500, JSON.stringify({ message: 'Internal Server Error' }));
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
