/**
 * End-to-end helpers: start the local twin on a free port and talk to it over real HTTP, the way
 * GitHub, EventBridge and AWS clients do.
 */
import '../../lib/local/node-warnings'; // the twin's processes drop the SDK's Node 20 notice; so do its tests
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ROOT_DIR } from '../../lib/catalog';
import { parseConfig, type Config } from '../../lib/config';
import { Twin, type TwinOptions } from '../../lib/local/twin';
import { signature } from './github';
import { sampleConfigJson } from './twin';

/**
 * Simulated seconds per real second in e2e tests (env `CUTOVER_E2E_TIME_SCALE`). @default 300
 *
 * Not 3000: the local Step Functions service scales Task `TimeoutSeconds` by the time scale too, so at
 * ×3000 a Lambda task's 60 s timeout is 20 ms of real time, and AcquireLock (a DynamoDB write to
 * dynalite, 10-25 ms) fails with States.Timeout under load. ×300 leaves 200 ms; a deploy takes ~2 s.
 */
export const E2E_TIME_SCALE = Number(process.env.CUTOVER_E2E_TIME_SCALE) || 300;

/** A config file of the repository, parsed and validated (path relative to the repository root). */
export function configFile(path: string): Config {
  return parseConfig(JSON.parse(readFileSync(join(ROOT_DIR, path), 'utf8')), path);
}

/**
 * The sample config: Codertocat/Hello-World master → hello-world / production — without its GitHub
 * access (checks gate, GitHub Deployments) and its verify checks, which the simulator twin these
 * tests start cannot serve (its listeners serve no HTTP; no CI reports checks). The living-twin tests
 * and the demo use the whole sample.
 */
export function sampleConfig(): Config {
  return parseConfig(sampleConfigJson(), 'lib/config/samples/hello-world.json');
}

/** Start the twin on 127.0.0.1 with a free port and the e2e time scale. Call `twin.stop()` after. */
export function startTwin(options: Partial<TwinOptions> = {}): Promise<Twin> {
  return Twin.start({ config: sampleConfig(), port: 0, timeScale: E2E_TIME_SCALE, ...options });
}

/** An SFNClient pointed at the twin's Step Functions endpoint, with fake static credentials. */
export function sfnClientFor(twin: Twin): SFNClient {
  return new SFNClient({
    endpoint: twin.url,
    region: twin.region,
    credentials: { accessKeyId: 'AKIDLOCALTWIN', secretAccessKey: 'local-secret' },
    maxAttempts: 1,
  });
}

export interface HttpResult {
  status: number;
  headers: Headers;
  /** Raw response text. */
  text: string;
  /** Parsed JSON body (`undefined` when the body is not JSON). */
  json: Record<string, unknown> | undefined;
}

async function result(res: Response): Promise<HttpResult> {
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export interface DeliveryOptions {
  /** `X-GitHub-Event`; `undefined` leaves the header out. */
  event: string | undefined;
  /** Payload object (serialized as GitHub does) or the exact raw body. */
  payload: unknown;
  /** Secret to sign with; `undefined` → no `X-Hub-Signature-256` header. */
  secret?: string;
  /** `X-GitHub-Delivery`. @default a random GUID */
  deliveryId?: string;
  /** Extra headers / overrides. */
  headers?: Record<string, string>;
}

/** POST a webhook delivery to `${url}/webhooks/github` with GitHub's headers, signed with `secret`. */
export async function deliver(url: string, opts: DeliveryOptions): Promise<HttpResult> {
  const body = typeof opts.payload === 'string' ? opts.payload : JSON.stringify(opts.payload);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/044aadd',
    'x-github-delivery': opts.deliveryId ?? randomUUID(),
    'x-github-hook-id': '292430182',
    'x-github-hook-installation-target-type': 'repository',
    ...(opts.event !== undefined ? { 'x-github-event': opts.event } : {}),
    ...(opts.secret !== undefined ? { 'x-hub-signature-256': signature(opts.secret, body) } : {}),
    ...opts.headers,
  };
  return result(await fetch(`${url}/webhooks/github`, { method: 'POST', headers, body }));
}

/** POST a JSON body to `${url}${path}`. */
export async function postJson(url: string, path: string, body: unknown): Promise<HttpResult> {
  return result(
    await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

/**
 * `status error: cause` of a closed execution, plus the state whose task failed or timed out — for
 * assertion messages.
 */
export function outcome(twin: Twin, executionArn: string): string {
  const d = twin.sfn.describeExecution({ executionArn });
  const events = (twin.sfn.getExecutionHistory({ executionArn, maxResults: 1000 }).events ?? []) as Array<{ type?: string; stateEnteredEventDetails?: { name?: string } }>;
  let state = '';
  const failedIn: string[] = [];
  for (const e of events) {
    if (e.type?.endsWith('StateEntered')) state = e.stateEnteredEventDetails?.name ?? '';
    if (/(Failed|TimedOut)$/.test(e.type ?? '') && e.type !== 'ExecutionFailed') failedIn.push(`${e.type} in ${state}`);
  }
  return `${d.status} ${d.error ?? ''}: ${d.cause ?? ''}${failedIn.length ? ` [${failedIn.join('; ')}]` : ''}`;
}
