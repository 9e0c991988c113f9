/**
 * HTTP checks of a release through a listener (issue 12 part 4): the listener's URL from ELBv2, and
 * one GET per check with its timeout.
 *
 * URL: DescribeListeners (Protocol, Port, LoadBalancerArn) and DescribeLoadBalancers (DNSName) →
 * `http(s)://<DNSName>:<port>`. A listener **rule** route uses its listener (the rule ARN
 * `listener-rule/app/<lb>/<id>/<listener-id>/<rule-id>` names it); its host-header and path conditions
 * are not applied — give checks whose paths the rule matches. The function must reach the listener:
 * an internet-facing load balancer, or the function in the load balancer's VPC.
 * `CUTOVER_LISTENER_URLS` (JSON `{"<listener ARN>": "<base URL>"}`) overrides the URL of the listeners
 * it names — how the twin points checks at its local load balancer, like an SDK endpoint override.
 */
import { DescribeListenersCommand, DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { elbv2Client } from './clients';
import { withRetryClassification } from './errors';
import { ResourceStateError } from '../domain/errors';
import type { Route } from '../domain/plan';
import type { HttpAnswer, HttpCheck } from '../domain/smoke';

/** Env var: JSON map listener ARN → base URL (the twin's override). */
export const LISTENER_URLS_ENV = 'CUTOVER_LISTENER_URLS';
/** Bytes of a body read at most. */
const MAX_BODY_BYTES = 65_536;

/** The listener ARN of a route (a rule's listener for a rule route). */
export function listenerArnOf(route: Route): string {
  if (route.kind === 'listener') return route.arn;
  const m = /^(arn:[^:]+:elasticloadbalancing:[^:]+:\d{12}:)listener-rule\/(app\/[^/]+\/[0-9a-f]+\/[0-9a-f]+)\/[0-9a-f]+$/.exec(route.arn);
  if (!m) throw new ResourceStateError(`${route.arn} is not a listener rule ARN of an Application Load Balancer`);
  return `${m[1]}listener/${m[2]}`;
}

/**
 * The base URL of the route's listener, e.g. `http://my-alb-123.us-east-1.elb.amazonaws.com:8080`.
 * @throws Cutover.ResourceState when the listener or its load balancer does not exist; Cutover.Transient on throttling / 5xx
 */
export async function listenerUrl(route: Route): Promise<string> {
  const listenerArn = listenerArnOf(route);
  const override = overrides()[listenerArn];
  if (override) return override.replace(/\/+$/, '');
  const listeners = await withRetryClassification(() => elbv2Client().send(new DescribeListenersCommand({ ListenerArns: [listenerArn] })));
  const listener = listeners.Listeners?.[0];
  if (!listener?.LoadBalancerArn || !listener.Port) throw new ResourceStateError(`listener ${listenerArn} was not found (DescribeListeners)`);
  const lbs = await withRetryClassification(() => elbv2Client().send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [listener.LoadBalancerArn!] })));
  const dns = lbs.LoadBalancers?.[0]?.DNSName;
  if (!dns) throw new ResourceStateError(`the load balancer ${listener.LoadBalancerArn} of listener ${listenerArn} was not found (DescribeLoadBalancers)`);
  const scheme = listener.Protocol === 'HTTPS' ? 'https' : 'http';
  return `${scheme}://${dns}:${listener.Port}`;
}

function overrides(): Record<string, string> {
  const text = process.env[LISTENER_URLS_ENV];
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/**
 * GET `<baseUrl><check.path>` once, within `check.timeoutSeconds` (real time). Never throws: a timeout or
 * a refused connection is an `error` answer. Reads at most 64 KiB of the body.
 */
export async function runHttpCheck(baseUrl: string, check: HttpCheck): Promise<HttpAnswer> {
  const started = Date.now();
  try {
    const res = await fetch(`${baseUrl}${check.path}`, { method: 'GET', redirect: 'manual', headers: { 'user-agent': 'cutover-verify' }, signal: AbortSignal.timeout(check.timeoutSeconds * 1000) });
    const body = await readBody(res);
    return { kind: 'response', status: res.status, body, ms: Date.now() - started };
  } catch (err) {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    const error = e.name === 'TimeoutError' ? `timed out after ${check.timeoutSeconds} s` : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err));
    return { kind: 'error', error, ms: Date.now() - started };
  }
}

async function readBody(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    if (size >= MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}
