/**
 * The twin's one HTTP server on 127.0.0.1: what API Gateway, EventBridge and the Step Functions
 * endpoint are on AWS.
 *  - `POST /webhooks/github` → an API Gateway HTTP API (payload 2.0) event → the github-webhook handler
 *  - `POST /events` → an EventBridge event (or `{ "Entries": [...] }` as PutEvents sends) → the rules
 *  - `POST /` with `X-Amz-Target: AWSStepFunctions.*` → the Step Functions JSON 1.0 API
 *  - `POST /` with `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.*` → the simulated ECR (AWS JSON
 *    1.1), so a CI step or `aws ecr put-image --endpoint-url <twin>` pushes or re-tags an image
 *  - `POST /aws/<service>/<Operation>` → the simulated account's read-only ECS / ELBv2 / RDS / CloudWatch
 *    calls (Describe* / List* / Get*), for `cutover doctor` in another process (lib/aws/inspect.ts)
 *  - `/lambda-url/<function>/` (or without the trailing slash), any method → a Lambda function URL with
 *    AWS_IAM auth: SigV4 verified, the caller in the event (lib/local/function-url.ts), e.g. `approval`
 *  - `GET /` → a small JSON index of the twin's URLs and state machines
 *
 * **Readiness.** The server listens as soon as the twin starts, and until the twin is ready (its
 * databases, services, state machines and handlers are up) every endpoint answers `503 Service
 * Unavailable` with `Retry-After` and a JSON body that says what it is waiting for
 * (`{"status":"starting","waitingFor":[…],"retryAfterSeconds":2,"message":…}`); the Step Functions API
 * answers in its own error shape (AWS JSON 1.0: `{"__type":"ServiceUnavailable","message":…}`, header
 * `x-amzn-ErrorType`), which the SDKs and the AWS CLI retry. So nothing delivered while the twin starts
 * (or stops) is half-handled: the sender is told to come back. See {@link Readiness}.
 *
 * **Errors.** An unexpected error of a route is logged (one line: the request and the error) and
 * answered `500` with a message that names what failed — never a silent 500, never a stack trace.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { FunctionUrlHttpRequest, FunctionUrlHttpResponse } from './function-url';
import { isStepFunctionsRequest, stepFunctionsError } from './stepfunctions/api';

/** API Gateway HTTP APIs accept payloads up to 10 MB; larger requests get 413 before any handler runs. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

/** Seconds a client is told to wait (`Retry-After`) while the twin starts: a start takes about 10 s. */
export const STARTING_RETRY_AFTER_SECONDS = 2;
/** Seconds a client is told to wait while the twin stops: the time a restart takes. */
export const STOPPING_RETRY_AFTER_SECONDS = 10;

/** `starting` and `stopping` answer every request with 503 + Retry-After; `ready` serves. */
export type TwinStatus = 'starting' | 'ready' | 'stopping';

/** The JSON body of a 503 while the twin is not ready (also in the Step Functions error body). */
export interface NotReadyBody {
  readonly status: Exclude<TwinStatus, 'ready'>;
  /** One sentence: what the twin is doing, what it waits for, when to retry. */
  readonly message: string;
  /** What the twin still waits for before it serves, in order, e.g. `the initial release (…)`; empty when stopping. */
  readonly waitingFor: string[];
  /** The same as the `Retry-After` header: seconds to wait before retrying. */
  readonly retryAfterSeconds: number;
}

/**
 * Whether the twin serves yet, and what it still waits for. The twin names its start-up steps with
 * {@link waitFor} (in order), ticks them off with {@link done}, and calls {@link ready} when everything
 * is up; {@link stopping} when it begins to stop. Until `ready` (and from `stopping` on) the HTTP
 * server answers every request with 503, `Retry-After` and {@link NotReadyBody}.
 */
export class Readiness {
  private current: TwinStatus = 'starting';
  private readonly pending = new Map<string, string>();

  /** The current status. */
  get status(): TwinStatus {
    return this.current;
  }

  /**
   * Name something the twin waits for before it is ready, or say what it is doing now (a second call
   * with the same `key` replaces the description and keeps its place).
   * @param key a short stable name, e.g. `services`
   * @param description what a client reads, e.g. `the initial release: starting 2 task(s) of v1 on hello-world-blue`
   */
  waitFor(key: string, description: string): void {
    this.pending.set(key, description);
  }

  /** Tick off what {@link waitFor} named (unknown keys are ignored). */
  done(key: string): void {
    this.pending.delete(key);
  }

  /** The twin serves: requests are routed from now on. */
  ready(): void {
    this.pending.clear();
    this.current = 'ready';
  }

  /** The twin stops: requests are answered 503 again. */
  stopping(): void {
    this.pending.clear();
    this.current = 'stopping';
  }

  /** The 503 body for now; undefined once ready. */
  notReady(): NotReadyBody | undefined {
    if (this.current === 'ready') return undefined;
    if (this.current === 'stopping') {
      return {
        status: 'stopping',
        message: `The cutover local twin is stopping; nothing was done with this request. Retry in ${STOPPING_RETRY_AFTER_SECONDS} s, once the twin runs again.`,
        waitingFor: [],
        retryAfterSeconds: STOPPING_RETRY_AFTER_SECONDS,
      };
    }
    const waitingFor = [...this.pending.values()];
    return {
      status: 'starting',
      message:
        `The cutover local twin is starting; nothing was done with this request. Retry in ${STARTING_RETRY_AFTER_SECONDS} s` +
        (waitingFor.length ? ` (waiting for ${waitingFor.join('; ')}).` : '.'),
      waitingFor,
      retryAfterSeconds: STARTING_RETRY_AFTER_SECONDS,
    };
  }
}

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** Until it is ready, every request is answered 503 (see {@link Readiness}). @default always ready */
  readonly readiness?: Readiness;
  /** Where unexpected errors and 5xx answers are reported, one line each. @default console.error */
  readonly log?: (line: string) => void;
}

export interface HttpRoutes {
  webhook(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2>;
  events(body: unknown): Promise<{ statusCode: number; body: unknown }>;
  stepFunctions(target: string, body: string): Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;
  /** ECR's JSON 1.1 API: `operation` from `X-Amz-Target`, e.g. `PutImage`. @default none: 404 */
  ecr?(operation: string, body: string): Promise<{ statusCode: number; body: string }>;
  /** `POST /aws/<service>/<Operation>` (`path` is the part after `/aws`). @default none: 404 */
  aws?(path: string, body: string): Promise<{ statusCode: number; body: string }>;
  /**
   * `/lambda-url/<name>/` (also without the trailing slash), any method: the function URL of function `name`
   * (e.g. `approval`), with the request as received. The answer's `reason` (a refusal's or a failure's)
   * is logged, never sent. @default none: 404
   */
  functionUrl?(name: string, request: FunctionUrlHttpRequest): Promise<FunctionUrlHttpResponse>;
  index(): unknown;
}

/** `/lambda-url/<name>` or `/lambda-url/<name>/`: a function URL of the twin. */
const FUNCTION_URL_PATH = /^\/lambda-url\/([a-z0-9-]+)\/?$/;

/** `X-Amz-Target` prefix of Amazon ECR's API (AWS JSON 1.1). */
const ECR_TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The `__type` of an AWS JSON error body, if it has one. */
function messageType(body: string): string | undefined {
  try {
    const t = (JSON.parse(body) as { __type?: unknown }).__type;
    return typeof t === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
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

function send(res: ServerResponse, statusCode: number, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  res.writeHead(statusCode, headers);
  res.end(body);
}

/** The `message` member of a JSON body (API Gateway's and Step Functions' error shapes), if any. */
function messageOf(body: string | undefined): string | undefined {
  try {
    const parsed = JSON.parse(body ?? '') as { message?: unknown; Message?: unknown };
    const message = parsed.message ?? parsed.Message;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}

/** One line for the log: the error's name and message (no stack: the message says what failed). */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
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

/**
 * Start the server on 127.0.0.1:`port` (0 = any free port). With `options.readiness`, it answers 503
 * until that is ready (see {@link Readiness}); routes are only called once it is.
 * @returns the server, its URL (`http://127.0.0.1:<port>`) and `close()` (drops open connections)
 * @throws (rejects with) the listen error, e.g. `EADDRINUSE` when the port is taken
 */
export async function startHttpServer(
  port: number,
  routes: HttpRoutes,
  options: HttpServerOptions = {},
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const log = options.log ?? ((line: string) => console.error(line));
  const server = createServer(async (req, res) => {
    const what = `${req.method} ${req.url}`;
    const sfnRequest = req.method === 'POST' && isStepFunctionsRequest(req.headers);
    /** Answer and, for a 5xx, log why (a route's error answer says what failed in its `message`). */
    const answer = (statusCode: number, body: string | Buffer, headers?: Record<string, string>) => {
      if (statusCode >= 500) {
        const text = body.toString('utf8');
        log(`cutover twin: ${what} answered ${statusCode}: ${messageOf(text) ?? text.slice(0, 500)}`);
      }
      send(res, statusCode, body, headers);
    };
    try {
      const body = await readBody(req);
      if (body === 'too-large') return send(res, 413, JSON.stringify({ message: 'Request Entity Too Large' }));
      const notReady = options.readiness?.notReady();
      if (notReady) {
        const retryAfter = { 'retry-after': String(notReady.retryAfterSeconds) };
        if (sfnRequest) {
          const out = stepFunctionsError(503, 'ServiceUnavailable', notReady.message, { ...notReady });
          return send(res, out.statusCode, out.body, { ...out.headers, ...retryAfter });
        }
        return send(res, 503, JSON.stringify(notReady), { 'content-type': 'application/json', ...retryAfter });
      }
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (sfnRequest) {
        const out = await routes.stepFunctions(String(req.headers['x-amz-target']), body.toString('utf8'));
        return answer(out.statusCode, out.body, out.headers);
      }
      const target = headerText(req.headers['x-amz-target']);
      if (req.method === 'POST' && target?.startsWith(ECR_TARGET_PREFIX) && routes.ecr) {
        const out = await routes.ecr(target.slice(ECR_TARGET_PREFIX.length), body.toString('utf8'));
        const type = out.statusCode >= 400 ? messageType(out.body) : undefined;
        return answer(out.statusCode, out.body, { 'content-type': 'application/x-amz-json-1.1', ...(type ? { 'x-amzn-errortype': type } : {}) });
      }
      if (req.method === 'POST' && path === '/webhooks/github') {
        const out = await routes.webhook(toApiGatewayEvent(req, body, 'POST /webhooks/github'));
        return answer(out.statusCode ?? 200, out.body ?? '', Object.fromEntries(Object.entries(out.headers ?? {}).map(([k, v]) => [k, String(v)])));
      }
      if (req.method === 'POST' && path === '/events') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch {
          return send(res, 400, JSON.stringify({ message: 'The body must be an EventBridge event (JSON).' }));
        }
        const out = await routes.events(parsed);
        return answer(out.statusCode, JSON.stringify(out.body));
      }
      // Any method, as Lambda passes it: the function answers what it does not serve (the approval function: 405).
      const functionUrl = FUNCTION_URL_PATH.exec(path);
      if (functionUrl && routes.functionUrl) {
        const out = await routes.functionUrl(functionUrl[1]!, {
          method: req.method ?? 'POST',
          url: req.url ?? '/',
          headers: req.headers,
          body,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        });
        // A refusal says only "Forbidden", as Lambda does; the twin's log says why (a 5xx is logged by `answer`).
        if (out.reason && out.statusCode < 500) log(`cutover twin: ${what} answered ${out.statusCode}: ${out.reason}`);
        return answer(out.statusCode, out.body, out.headers);
      }
      if (req.method === 'POST' && path.startsWith('/aws/') && routes.aws) {
        const out = await routes.aws(path.slice('/aws'.length), body.toString('utf8'));
        return answer(out.statusCode, out.body);
      }
      if (req.method === 'GET' && path === '/') return send(res, 200, JSON.stringify(routes.index(), null, 2));
      return send(res, 404, JSON.stringify({ message: `No route for ${req.method} ${path}. See GET / for what the twin serves.` }));
    } catch (err) {
      // Logged and answered with what failed; no stack trace to the caller.
      const message = `The cutover local twin failed to handle ${what}: ${describeError(err)}. This is a bug of the twin; its output has this line too.`;
      if (res.headersSent) {
        log(`cutover twin: ${what} failed after its answer began: ${describeError(err)}`);
        return void res.destroy();
      }
      if (sfnRequest) {
        const out = stepFunctionsError(500, 'InternalFailure', message);
        return answer(out.statusCode, out.body, out.headers);
      }
      return answer(500, JSON.stringify({ message }));
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
