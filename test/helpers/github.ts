/**
 * GitHub webhook test helpers: real payloads from `@octokit/webhooks-examples`, signed API Gateway
 * (HTTP API, payload 2.0) events, and capture of what the logger writes.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { productionOnly } from './plans';
import { join } from 'node:path';
import { createHmac, randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { WebhookDefinition } from '@octokit/webhooks-examples';
import type { PingEvent, PushEvent, WebhookEventName } from '@octokit/webhooks-types';
import { ROOT_DIR } from '../../lib/catalog';

const require = createRequire(import.meta.url);
const definitions = require('@octokit/webhooks-examples') as WebhookDefinition[];

/** A deep copy of each real example payload of `event` (edit copies freely). */
export function examples<T extends WebhookEventName>(event: T): WebhookDefinition<T>['examples'] {
  const def = definitions.find((d) => d.name === event);
  if (!def) throw new Error(`@octokit/webhooks-examples has no "${event}" examples`);
  return structuredClone(def.examples) as WebhookDefinition<T>['examples'];
}

function pick<T>(list: T[], predicate: (x: T) => boolean, what: string): T {
  const found = list.find(predicate);
  if (!found) throw new Error(`@octokit/webhooks-examples has no ${what}`);
  return found;
}

/** The real push of a head commit to `Codertocat/Hello-World` `refs/heads/master`. */
export function masterPush(): PushEvent {
  return pick(
    examples('push') as PushEvent[],
    (p) => p.repository.full_name === 'Codertocat/Hello-World' && p.ref === 'refs/heads/master' && p.head_commit !== null,
    'push to Codertocat/Hello-World master with a head commit',
  );
}

/** The real push of tag `refs/tags/simple-tag` (created, with a head commit). */
export function tagPush(): PushEvent {
  return pick(examples('push') as PushEvent[], (p) => p.ref.startsWith('refs/tags/') && !p.deleted, 'tag push');
}

/** A real deletion push (`deleted: true`, `after` all zeros, no head commit). */
export function deletionPush(): PushEvent {
  return pick(examples('push') as PushEvent[], (p) => p.deleted, 'deletion push');
}

/** The real repository `ping`. */
export function ping(): PingEvent {
  return pick(examples('ping') as PingEvent[], (p) => p.hook?.type === 'Repository', 'repository ping');
}

/** The sample config (Codertocat/Hello-World master → hello-world / production, without its staging: `productionOnly`) as JSON text. */
export function sampleConfigText(): string {
  return JSON.stringify(productionOnly(JSON.parse(readFileSync(join(ROOT_DIR, 'lib/config/samples/hello-world.json'), 'utf8'))));
}

/** `sha256=<hex>` as GitHub computes it. */
export function signature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface WebhookEventOptions {
  /** `X-GitHub-Event`. */
  event: string;
  /** Payload object (serialized like GitHub does) or the exact raw body. */
  payload: unknown;
  /** Secret to sign with; `undefined` → no signature header. */
  secret?: string;
  /** `X-GitHub-Delivery`. @default a random GUID */
  deliveryId?: string;
  /** Send the body base64-encoded (`isBase64Encoded: true`). @default false */
  base64?: boolean;
  /** Extra headers / overrides; a `undefined` value removes the header. */
  headers?: Record<string, string | undefined>;
}

/** An API Gateway HTTP API (payload 2.0) event as GitHub's delivery arrives at the webhook function. */
export function webhookEvent(opts: WebhookEventOptions): APIGatewayProxyEventV2 {
  const body = typeof opts.payload === 'string' ? opts.payload : JSON.stringify(opts.payload);
  const deliveryId = opts.deliveryId ?? randomUUID();
  const headers: Record<string, string | undefined> = {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/044aadd',
    'x-github-event': opts.event,
    'x-github-delivery': deliveryId,
    'x-github-hook-id': '292430182',
    ...(opts.secret !== undefined ? { 'x-hub-signature-256': signature(opts.secret, body) } : {}),
    ...opts.headers,
  };
  for (const [k, v] of Object.entries(headers)) if (v === undefined) delete headers[k];
  return {
    version: '2.0',
    routeKey: 'POST /webhooks/github',
    rawPath: '/webhooks/github',
    rawQueryString: '',
    headers: headers as Record<string, string>,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method: 'POST', path: '/webhooks/github', protocol: 'HTTP/1.1', sourceIp: '140.82.115.1', userAgent: 'GitHub-Hookshot/044aadd' },
      requestId: 'req-1',
      routeKey: 'POST /webhooks/github',
      stage: '$default',
      time: '01/Jan/2025:00:00:00 +0000',
      timeEpoch: 1735689600000,
    },
    body: opts.base64 ? Buffer.from(body, 'utf8').toString('base64') : body,
    isBase64Encoded: opts.base64 ?? false,
  };
}

/**
 * Run `fn` while capturing everything written to stdout and stderr (the logger's output), without
 * passing it through.
 */
export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  // Strings are captured (the logger writes strings); binary chunks pass through, since that is how
  // the test runner's child process reports results on stdout.
  const capture = (original: typeof process.stdout.write) =>
    function (this: NodeJS.WriteStream, chunk: string | Uint8Array, ...rest: unknown[]): boolean {
      if (typeof chunk !== 'string') return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
      chunks.push(chunk);
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    } as typeof process.stdout.write;
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
  try {
    const result = await fn();
    return { result, output: chunks.join('') };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}
