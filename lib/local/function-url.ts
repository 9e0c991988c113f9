/**
 * The twin's Lambda function URLs with auth type `AWS_IAM` (cutover's `approval` function), as Lambda
 * serves them (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html,
 * https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html):
 *  1. {@link verifyFunctionUrlRequest}: the request must be signed with SigV4 for the service `lambda`
 *     and the twin's region; the signature is recomputed from the request as received (method, path,
 *     query, the signed headers, the body) with the access key's secret and compared in constant time.
 *     The access key names the caller (the twin account's `principals`, lib/local/live/account.ts;
 *     an unlisted key is the IAM user `arn:aws:iam::<account>:user/<access key id>` with secret `local`).
 *  2. {@link toFunctionUrlEvent}: the payload 2.0 event the function gets, with the verified caller in
 *     `requestContext.authorizer.iam`.
 *  3. {@link fromFunctionUrlResult}: the function's result as the HTTP answer.
 * Refused requests are answered as Lambda does: `403 {"Message":"Forbidden"}` with
 * `x-amzn-ErrorType: AccessDeniedException` (the reason is for the twin's log only).
 * {@link handleFunctionUrlRequest} runs the three. Pure but for the function call and the clock.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { LambdaFunctionURLEventWithIAMAuthorizer } from 'aws-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { FUNCTION_URL_SERVICE, Sha256, signableQuery } from '../aws/function-url';
import { arnPartitionAndAccount } from '../domain/approvers';

/** The secret of an access key the twin account does not list (what the twin's CLI signs with). */
export const LOCAL_SECRET_ACCESS_KEY = 'local';

/** How far (real ms) a request's `x-amz-date` may be from the twin's clock, as AWS allows: 5 minutes. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** A principal of the twin account (lib/local/live/account.ts `principals`). */
export interface TwinPrincipal {
  /** IAM user / role ARN or STS assumed-role ARN. */
  readonly arn: string;
  /** @default 'local' ({@link LOCAL_SECRET_ACCESS_KEY}) */
  readonly secretAccessKey?: string;
}

/** A request to a function URL as the twin's HTTP server received it. */
export interface FunctionUrlHttpRequest {
  readonly method: string;
  /** Path and query as received, e.g. `/lambda-url/approval/?dryRun=1`. */
  readonly url: string;
  /** As node:http gives them (lower-case names). */
  readonly headers: IncomingHttpHeaders | Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  /** The client's address. @default '127.0.0.1' */
  readonly sourceIp?: string;
}

/** The HTTP answer of a function URL. */
export interface FunctionUrlHttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string | Buffer;
  /** Why the twin refused or failed the request: for its log, never sent (AWS says only "Forbidden"). */
  readonly reason?: string;
}

/** Who the twin, and its function URLs, serve. */
export interface FunctionUrlAuthOptions {
  /** The twin's region: the signature's credential scope must name it. */
  readonly region: string;
  /** The twin's account id (unlisted access keys are its users; the event's `requestContext.accountId`). */
  readonly accountId: string;
  /** Access key id → principal (the twin account's `principals`). @default {} */
  readonly principals?: Readonly<Record<string, TwinPrincipal>>;
  /** Real time now, ms since the epoch (checks `x-amz-date`). @default Date.now */
  readonly clock?: () => number;
}

/** The verified caller of a function URL. */
export interface FunctionUrlCaller {
  readonly accessKeyId: string;
  /** The caller's ARN (`userArn`). */
  readonly arn: string;
  /** The account of the caller's ARN. */
  readonly accountId: string;
  /** AWS's unique id of the caller: `AIDA…` for a user, `AROA…:<session>` for a role session (the twin derives it from the ARN). */
  readonly userId: string;
}

export type FunctionUrlVerification = { readonly ok: true; readonly caller: FunctionUrlCaller } | { readonly ok: false; readonly reason: string };

/**
 * The principal an access key stands for: the twin account's entry for it. With no `principals` at
 * all, every key is the twin's IAM user `arn:aws:iam::<accountId>:user/<accessKeyId>` with the secret
 * `local`; once the account lists principals, a key it does not list is unknown (`undefined`: refused,
 * as AWS refuses a key it does not know), so nobody can act as a listed identity by naming a key.
 */
export function principalFor(
  accessKeyId: string,
  accountId: string,
  principals: Readonly<Record<string, TwinPrincipal>> = {},
): { arn: string; secretAccessKey: string } | undefined {
  const listed = Object.hasOwn(principals, accessKeyId) ? principals[accessKeyId] : undefined;
  if (listed) return { arn: listed.arn, secretAccessKey: listed.secretAccessKey ?? LOCAL_SECRET_ACCESS_KEY };
  if (Object.keys(principals).length > 0) return undefined;
  return { arn: `arn:aws:iam::${accountId}:user/${accessKeyId}`, secretAccessKey: LOCAL_SECRET_ACCESS_KEY };
}

/** Header values as strings (repeated headers joined with `,`), lower-case names. */
function flatHeaders(headers: FunctionUrlHttpRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : String(v);
  return out;
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * Verify a request's SigV4 signature (header form) as a function URL with AWS_IAM auth does:
 * `Authorization: AWS4-HMAC-SHA256 Credential=<akid>/<yyyymmdd>/<region>/lambda/aws4_request,
 * SignedHeaders=…, Signature=…`, with `x-amz-date` (within {@link MAX_CLOCK_SKEW_MS} of the clock,
 * on the credential's day), `host` and `x-amz-date` among the signed headers, `x-amz-content-sha256`
 * (when sent) equal to the body's SHA-256, and the signature recomputed with the key's secret.
 * `x-amz-security-token` is signed like any header but not checked (the twin has no STS).
 * @returns the caller, or why the request is refused
 */
export async function verifyFunctionUrlRequest(request: FunctionUrlHttpRequest, options: FunctionUrlAuthOptions): Promise<FunctionUrlVerification> {
  const refuse = (reason: string): FunctionUrlVerification => ({ ok: false, reason });
  const headers = flatHeaders(request.headers);
  const authorization = headers.authorization;
  if (!authorization) return refuse('no Authorization header: the function URL uses AWS_IAM auth, sign the request with SigV4');
  const auth = AUTHORIZATION.exec(authorization.trim());
  if (!auth) return refuse('the Authorization header is not "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=<64 hex>"');
  const [, credential, signedHeaderList, signature] = auth as unknown as [string, string, string, string];
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !/^\d{8}$/.test(scope[1]!) || !scope[0]) {
    return refuse(`the credential "${credential}" is not <access key id>/<yyyymmdd>/<region>/<service>/aws4_request`);
  }
  const [accessKeyId, day, region, service] = scope as [string, string, string, string];
  if (service !== FUNCTION_URL_SERVICE) return refuse(`the signature is for the service "${service}", a function URL needs "${FUNCTION_URL_SERVICE}"`);
  if (region !== options.region) return refuse(`the signature is for the region "${region}", the twin runs in "${options.region}"`);

  const amzDate = headers['x-amz-date'];
  const d = amzDate ? AMZ_DATE.exec(amzDate) : null;
  if (!amzDate || !d) return refuse('no valid X-Amz-Date header (yyyymmddThhmmssZ)');
  const signingDate = new Date(Date.UTC(+d[1]!, +d[2]! - 1, +d[3]!, +d[4]!, +d[5]!, +d[6]!));
  if (amzDate.slice(0, 8) !== day) return refuse(`the credential's date ${day} is not the X-Amz-Date's day (${amzDate})`);
  const now = (options.clock ?? Date.now)();
  if (Math.abs(now - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    return refuse(`the signature expired or is early: X-Amz-Date ${amzDate} is more than 5 minutes from the twin's clock (${new Date(now).toISOString()})`);
  }

  const signedHeaders = signedHeaderList.split(';');
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) return refuse(`the header "${required}" must be signed (SignedHeaders=${signedHeaderList})`);
  }
  const missing = signedHeaders.filter((h) => headers[h] === undefined);
  if (missing.length) return refuse(`signed header(s) ${missing.join(', ')} not in the request`);
  const contentSha = headers['x-amz-content-sha256'];
  if (contentSha !== undefined && contentSha !== createHash('sha256').update(request.body).digest('hex')) {
    return refuse('the X-Amz-Content-SHA256 header is not the SHA-256 of the body');
  }

  const principal = principalFor(accessKeyId, options.accountId, options.principals);
  if (!principal) return refuse(`the access key ${accessKeyId} is not one of the twin account's principals (${Object.keys(options.principals ?? {}).join(', ')})`);
  const url = new URL(request.url, 'http://localhost');
  const query = signableQuery(url);
  const host = headers.host ?? '';
  const signer = new SignatureV4({
    service: FUNCTION_URL_SERVICE,
    region,
    credentials: { accessKeyId, secretAccessKey: principal.secretAccessKey },
    sha256: Sha256,
    // Recompute over exactly what was signed: add no x-amz-content-sha256 the client did not send.
    applyChecksum: false,
  });
  const recomputed = await signer.sign(
    {
      method: request.method.toUpperCase(),
      protocol: 'http:',
      hostname: host.replace(/:\d+$/, ''),
      path: url.pathname,
      query,
      headers: Object.fromEntries(signedHeaders.map((h) => [h, headers[h]!])),
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const expected = AUTHORIZATION.exec(String(recomputed.headers.authorization ?? ''));
  const sameHeaders = expected?.[2] === signedHeaderList;
  const sameSignature = expected !== null && timingSafeEqual(Buffer.from(expected[3]!, 'utf8'), Buffer.from(signature, 'utf8'));
  if (!sameHeaders || !sameSignature) {
    return refuse(
      `the signature does not match (access key ${accessKeyId}, ${Object.hasOwn(options.principals ?? {}, accessKeyId) ? "the twin account's secret for it" : 'secret "local"'}): ` +
        'the request was changed after signing, or signed with another secret',
    );
  }
  return { ok: true, caller: { accessKeyId, arn: principal.arn, accountId: arnPartitionAndAccount(principal.arn).account || options.accountId, userId: uniqueIdOf(principal.arn, accessKeyId) } };
}

/** AWS's unique id shape for a principal (`AIDA…` user, `AROA…:<session>` role session), derived from its ARN. */
function uniqueIdOf(arn: string, accessKeyId: string): string {
  const suffix = createHash('sha256').update(arn).digest('hex').slice(0, 17).toUpperCase();
  const session = /:assumed-role\/[^/]+\/(.+)$/.exec(arn)?.[1];
  if (session) return `AROA${suffix}:${session}`;
  if (/:role\//.test(arn)) return `AROA${suffix}:${accessKeyId}`;
  return `AIDA${suffix}`;
}

/** Options of {@link toFunctionUrlEvent}. */
export interface FunctionUrlEventOptions {
  /** The function's account (`requestContext.accountId`). */
  readonly accountId: string;
  /** The URL id (`apiId`, `domainPrefix`). @default 'local' */
  readonly urlId?: string;
  /** Real time of the request. @default now */
  readonly now?: Date;
}

/** `dd/Mon/yyyy:hh:mm:ss +0000`, as function URL events carry `requestContext.time`. */
function clfTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())} +0000`;
}

/**
 * The event a function URL (payload format 2.0) gives the function for `request`, with the verified
 * `caller` in `requestContext.authorizer.iam` (`cognitoIdentity` and `principalOrgId` null). `rawPath`
 * is the path after the function URL's base (`/`); the body is text (`isBase64Encoded` false) unless it
 * is binary.
 */
export function toFunctionUrlEvent(request: FunctionUrlHttpRequest, caller: FunctionUrlCaller, options: FunctionUrlEventOptions): LambdaFunctionURLEventWithIAMAuthorizer {
  const headers = flatHeaders(request.headers);
  const url = new URL(request.url, 'http://localhost');
  const text = request.body.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(request.body);
  const now = options.now ?? new Date();
  const urlId = options.urlId ?? 'local';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    requestContext: {
      accountId: options.accountId,
      apiId: urlId,
      domainName: headers.host ?? 'localhost',
      domainPrefix: urlId,
      http: { method: request.method.toUpperCase(), path: '/', protocol: 'HTTP/1.1', sourceIp: request.sourceIp ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: crypto.randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now.getTime(),
      authorizer: {
        iam: {
          accessKey: caller.accessKeyId,
          accountId: caller.accountId,
          callerId: caller.userId,
          cognitoIdentity: null,
          // Lambda sends null outside an organization; @types/aws-lambda types it string.
          principalOrgId: null as unknown as string,
          userArn: caller.arn,
          userId: caller.userId,
        },
      },
    },
    body: isText ? text : request.body.toString('base64'),
    isBase64Encoded: !isText,
  };
}

/**
 * The HTTP answer for a function's result, as a function URL makes it: an object with a numeric
 * `statusCode` gives its status, `headers` and `body` (base64-decoded with `isBase64Encoded`); any
 * other result is a 200 `application/json` whose body is the result (a string as is, else as JSON).
 * `cookies` are not supported.
 */
export function fromFunctionUrlResult(result: unknown): FunctionUrlHttpResponse {
  if (result !== null && typeof result === 'object' && typeof (result as { statusCode?: unknown }).statusCode === 'number') {
    const r = result as { statusCode: number; headers?: Record<string, unknown>; body?: unknown; isBase64Encoded?: unknown };
    const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
    const text = r.body === undefined || r.body === null ? '' : String(r.body);
    return { statusCode: r.statusCode, headers, body: r.isBase64Encoded === true ? Buffer.from(text, 'base64') : text };
  }
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: typeof result === 'string' ? result : JSON.stringify(result ?? null) };
}

/** The answer to a request whose signature (or caller) is refused: Lambda's own. */
export function forbidden(reason: string): FunctionUrlHttpResponse {
  return {
    statusCode: 403,
    headers: { 'content-type': 'application/json', 'x-amzn-ErrorType': 'AccessDeniedException' },
    body: JSON.stringify({ Message: 'Forbidden' }),
    reason,
  };
}

/** Options of {@link handleFunctionUrlRequest}. */
export interface FunctionUrlHandlingOptions extends FunctionUrlAuthOptions {
  /** The function's name, for messages and the URL id, e.g. `approval`. */
  readonly functionName: string;
  /** Invoke the function with the event (the twin: `LocalLambda.invoke`). Rejects when the function fails. */
  readonly invoke: (event: LambdaFunctionURLEventWithIAMAuthorizer) => Promise<unknown>;
}

/**
 * Serve one request of a function URL with AWS_IAM auth: verify, build the event, invoke, answer.
 * A refused signature → 403 `{"Message":"Forbidden"}` (`x-amzn-ErrorType: AccessDeniedException`);
 * a function error → 502 `{"Message":"Internal Server Error","message":"the <name> function failed (…)"}`
 * (Lambda says only the first; the twin adds what failed). Never throws.
 */
export async function handleFunctionUrlRequest(request: FunctionUrlHttpRequest, options: FunctionUrlHandlingOptions): Promise<FunctionUrlHttpResponse> {
  const verified = await verifyFunctionUrlRequest(request, options);
  if (!verified.ok) return forbidden(verified.reason);
  const event = toFunctionUrlEvent(request, verified.caller, { accountId: options.accountId, urlId: options.functionName, now: new Date((options.clock ?? Date.now)()) });
  try {
    return fromFunctionUrlResult(await options.invoke(event));
  } catch (err) {
    const e = err as { errorType?: unknown; errorMessage?: unknown; name?: unknown; message?: unknown };
    const why = typeof e?.errorType === 'string' ? `${e.errorType}: ${String(e.errorMessage)}` : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const message = `the ${options.functionName} function failed (${why})`;
    return {
      statusCode: 502,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Message: 'Internal Server Error', message }),
      reason: message,
    };
  }
}
