/**
 * Calls of a Lambda function URL whose auth type is `AWS_IAM` (cutover's `approval` function): an
 * HTTP POST of JSON, signed with AWS Signature Version 4 for the service `lambda`, as Lambda requires
 * (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html). Lambda verifies the signature
 * and hands the caller's identity to the function; the local twin verifies it the same way
 * (lib/local/function-url.ts).
 *
 * Credentials and region come from the one client factory (lib/aws/clients.ts `signingContext`): the
 * twin's static ones after `configureClients`, else the SDK's default chain and region.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Checksum, SourceData } from '@smithy/types';
import { signingContext } from './clients';

/** The SigV4 service name of Lambda function URLs. */
export const FUNCTION_URL_SERVICE = 'lambda';

/** Real milliseconds {@link invokeFunctionUrl} waits for the whole answer by default. */
export const DEFAULT_FUNCTION_URL_TIMEOUT_MS = 30_000;

/** `<url-id>.lambda-url.<region>.on.aws`: the host of a function URL on AWS. */
const FUNCTION_URL_HOST = /^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/;

function toBuffer(data: SourceData): Buffer | string {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/**
 * SHA-256 (and, with a secret, HMAC-SHA256) over node:crypto, as the SigV4 signer wants it
 * (`ChecksumConstructor` of @smithy/types).
 */
export class Sha256 implements Checksum {
  private hash: Hash | Hmac;

  /** @param secret with one, an HMAC-SHA256 keyed by it; without, a plain SHA-256 */
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

/**
 * The region of a function URL on AWS (`https://<url-id>.lambda-url.<region>.on.aws/`), or undefined
 * for any other host (e.g. the local twin's `http://127.0.0.1:4780/lambda-url/approval/`).
 */
export function functionUrlRegion(url: string | URL): string | undefined {
  const host = (typeof url === 'string' ? new URL(url) : url).hostname.toLowerCase();
  return FUNCTION_URL_HOST.exec(host)?.[1];
}

/** What to sign a request with. */
export interface SigningContext {
  /** The region in the credential scope, e.g. `eu-west-1`. */
  readonly region: string;
  readonly credentials: AwsCredentialIdentity;
}

/** A request ready to send: the headers include `authorization`. */
export interface SignedFunctionUrlRequest {
  readonly method: 'POST';
  readonly url: URL;
  /** Lower-case names: `host`, `content-type`, `x-amz-date`, `x-amz-content-sha256`, `authorization` (and `x-amz-security-token` with temporary credentials). */
  readonly headers: Record<string, string>;
  /** The request body, exactly as signed. */
  readonly body: string;
}

/**
 * Sign a POST of `body` (JSON text) to the function URL `url` with SigV4 (service `lambda`, the
 * context's region); no network. The signed headers are `host`, `content-type`, `x-amz-date`,
 * `x-amz-content-sha256` (the body's SHA-256) and, with temporary credentials, `x-amz-security-token`.
 * @param signingDate the request's time (`x-amz-date`); AWS rejects a signature more than 5 minutes
 *   off its clock @default now
 * @throws Error when `url` is not an http(s) URL
 */
export async function signFunctionUrlRequest(
  url: string | URL,
  body: string,
  context: SigningContext,
  signingDate: Date = new Date(),
): Promise<SignedFunctionUrlRequest> {
  const target = parseUrl(url);
  const query = signableQuery(target);
  const signer = new SignatureV4({ service: FUNCTION_URL_SERVICE, region: context.region, credentials: context.credentials, sha256: Sha256 });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port ? { port: Number(target.port) } : {}),
      path: target.pathname,
      query,
      headers: { host: target.host, 'content-type': 'application/json' },
      body,
    },
    { signingDate },
  );
  const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  return { method: 'POST', url: target, headers, body };
}

/**
 * A URL's query as the SigV4 signer takes it (a repeated key → its values in order); the signer and
 * the twin's verifier (lib/local/function-url.ts) must read it alike.
 */
export function signableQuery(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const seen = query[key];
    query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return query;
}

function parseUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    throw new Error(`"${url}" is not a URL: a function URL looks like https://<url-id>.lambda-url.<region>.on.aws/.`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new Error(`"${url}" is not an http(s) URL: a function URL looks like https://<url-id>.lambda-url.<region>.on.aws/.`);
  }
  return parsed;
}

/** The answer of a function URL. */
export interface FunctionUrlResponse {
  /** The HTTP status: the function's `statusCode`, or Lambda's own (403 when the signature or the caller's permission is refused, 502 when the function failed). */
  readonly status: number;
  /** The body parsed as JSON; undefined when it is empty or not JSON (then see `text`). */
  readonly body: unknown;
  /** The body as received (UTF-8). */
  readonly text: string;
}

/** Options of {@link invokeFunctionUrl}. */
export interface InvokeFunctionUrlOptions {
  /** Real milliseconds to wait for the whole answer (connection included). @default 30000 ({@link DEFAULT_FUNCTION_URL_TIMEOUT_MS}) */
  readonly timeoutMs?: number;
}

/**
 * POST `body` as JSON to the function URL `url`, signed with SigV4 (service `lambda`) with the
 * client factory's credentials (lib/aws/clients.ts `signingContext`). The region in the signature is
 * the URL's own for `https://<url-id>.lambda-url.<region>.on.aws/`, else the factory's region (the
 * local twin's URL). Any HTTP status is an answer, not an error: a 403 `{"Message":"Forbidden"}` means
 * the signature or the caller's permission was refused; the function's own errors come with its
 * status and `{ message }` body.
 * @param body any JSON-serializable value
 * @returns the status, the parsed JSON body (undefined when not JSON) and the body text
 * @throws Error when `url` is not an http(s) URL; the SDK's error when no credentials (or no region,
 *   for a URL that does not name one) can be found; an Error naming the URL and the cause when the
 *   request fails on the network (refused, reset, DNS, TLS) or no full answer came within `timeoutMs`
 */
export async function invokeFunctionUrl(url: string, body: unknown, opts: InvokeFunctionUrlOptions = {}): Promise<FunctionUrlResponse> {
  const target = parseUrl(url);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_FUNCTION_URL_TIMEOUT_MS;
  const context = await signingContext(functionUrlRegion(target));
  const signed = await signFunctionUrlRequest(target, JSON.stringify(body ?? null), context);
  const { status, text } = await send(signed, timeoutMs);
  let parsed: unknown;
  try {
    parsed = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status, body: parsed, text };
}

/** Send a signed request; resolves with the status and body text. */
function send(signed: SignedFunctionUrlRequest, timeoutMs: number): Promise<{ status: number; text: string }> {
  const where = signed.url.toString();
  const payload = Buffer.from(signed.body, 'utf8');
  const requestFn = signed.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const e = err as { code?: string; message?: string };
      const cause = e?.code && e.message && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : (e?.message ?? e?.code ?? String(err));
      reject(new Error(`The function URL ${where} could not be called: ${cause}.`, { cause: err }));
    };
    const req = requestFn(
      signed.url,
      { method: signed.method, headers: { ...signed.headers, 'content-length': String(payload.length) } },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no full answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', fail);
    req.end(payload);
  });
}
