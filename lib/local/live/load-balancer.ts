/**
 * The living twin's Application Load Balancer: a real HTTP reverse proxy on 127.0.0.1, one server per
 * listener of the ELBv2 simulator, routing like an ALB and health-checking its targets.
 *
 * Routing ("Listener rules for your Application Load Balancer"): a listener's rules by priority
 * (`path-pattern`, `host-header`), then its default actions. The rules and forward weights are read
 * from the simulator on every request, so a ModifyListener / ModifyRule through the SDK moves traffic
 * at once. `forward` picks a target group by weight and a target of it round robin among the healthy
 * ones — or, when none is healthy, among all registered (not draining) ones: ALB "fails open".
 * `fixed-response` is answered as configured; `redirect` and `authenticate-*` actions are not
 * implemented by the twin (501). Listeners serve plain HTTP (an HTTPS listener too, with
 * `X-Forwarded-Proto: https`).
 *
 * Proxying: method, path and headers (hop-by-hop headers dropped; `X-Forwarded-For` appended,
 * `X-Forwarded-Proto`, `X-Forwarded-Port` = the real port the client connected to, and
 * `X-Amzn-Trace-Id`), bodies streamed both ways. Errors as ALB gives them ("Troubleshoot your
 * Application Load Balancers"): 502 when the connection to the target fails or is reset before a
 * response, 503 when the target group has no registered targets, 504 when the target sends nothing
 * for the idle timeout (real seconds, default 60). Client keep-alive is kept (real 60 s idle).
 *
 * **Connections to targets are never pooled**: every proxied request and every health check opens its
 * own connection (`agent: false`, `Connection: close`). A pooled idle socket can be closed by the
 * target at the very moment the proxy reuses it (ECONNRESET, the request may or may not have been
 * processed), and retrying is only safe when the request provably never reached the target. Without
 * pooling that race does not exist, no retry is ever needed, and "no active connections" of a
 * draining target means exactly "no request in flight". The cost is one loopback TCP handshake per
 * request (tens of microseconds).
 *
 * Health checks and draining ("Health checks for Application Load Balancer target groups",
 * "Deregistration delay"): see {@link LiveLoadBalancer.register} / {@link LiveLoadBalancer.deregister}.
 * Health-check intervals and the host-count metrics' rounds are timers of the simulated clock
 * ({@link SimClock.setTimer}). Real work holds the clock ({@link SimClock.hold}): a health-check
 * request in flight for more than 10 real ms (until it settles, at most its real timeout), and a
 * draining target's requests in flight (at most
 * the deregistration delay, in real seconds: those requests are the application's real work) — so a
 * slow answer on a busy machine never lets a simulated interval or wait run out meanwhile.
 *
 * Metrics ("CloudWatch metrics for your Application Load Balancer", namespace `AWS/ApplicationELB`)
 * go to the {@link MetricPublisher} as they happen, one datum per request and metric (`Value: 1`, or
 * the response time), with simulated timestamps — no aggregation, so every statistic and percentile an
 * alarm may use is exact:
 * - per request that reached a target: `RequestCount`, `HTTPCode_Target_<n>XX_Count`,
 *   `TargetResponseTime` (Seconds, real elapsed time until the response headers; the application runs
 *   in real time), each with dimensions `[LoadBalancer]` and `[LoadBalancer, TargetGroup]`;
 * - for the load balancer's own errors: `HTTPCode_ELB_5XX_Count` and `HTTPCode_ELB_502_Count` /
 *   `_503_` / `_504_` with `[LoadBalancer]` (502/504 also count in `RequestCount`, a target was
 *   chosen; 503 does not);
 * - per target group and health-check interval: `HealthyHostCount` / `UnHealthyHostCount` with
 *   `[LoadBalancer, TargetGroup]`, for each load balancer that forwards to the group.
 * Fixed responses publish nothing (AWS counts them only in `HTTP_Fixed_Response_Count`).
 */
import { randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Dimension, MetricDatum } from '@aws-sdk/client-cloudwatch';
import type { Action, Listener, Rule, TargetGroup, TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Cancel, SimClock } from '../clock';
import { DEREGISTRATION_DELAY, listenerArnOfRule, type Elbv2Simulator } from '../simulator/elbv2';
import {
  loadBalancerDimension,
  matchRule,
  pickWeighted,
  statusMatches,
  targetGroupDimension,
  terminalAction,
} from './load-balancer-routing';
import type { LiveTarget, LiveTargetState, MetricPublisher, TargetRegistry } from './types';

/** Options of {@link LiveLoadBalancer}. */
export interface LiveLoadBalancerOptions {
  /** The ELBv2 simulator whose load balancers, listeners, rules and target groups this serves. */
  readonly elbv2: Elbv2Simulator;
  /**
   * Simulated time: health check intervals pass at its scale (its timers). The health check timeout,
   * the idle timeout and the deregistration delay, which bound the real application's answers, are
   * real seconds; health checks and draining requests in flight hold the clock.
   */
  readonly clock: SimClock;
  /** Where `AWS/ApplicationELB` metrics go (the twin's CloudWatch). */
  readonly publish: MetricPublisher;
  /**
   * Real TCP port on 127.0.0.1 per listener ARN (a rule ARN stands for its listener); 0 picks a free
   * port. Listeners not named get a free port.
   * @default {}
   */
  readonly ports?: Readonly<Record<string, number>>;
  /**
   * ALB `idle_timeout.timeout_seconds`, in REAL seconds (the application answers in real time): a target that sends nothing for this long gets the
   * request answered 504.
   * @default 60
   */
  readonly idleTimeoutSeconds?: number;
  /**
   * Real milliseconds {@link LiveLoadBalancer.close} lets requests in flight finish before cutting them.
   * @default 2000
   */
  readonly closeTimeoutMs?: number;
}

/** A registered target and its health-check bookkeeping. */
interface TargetEntry {
  readonly targetGroupArn: string;
  readonly target: LiveTarget;
  state: LiveTargetState;
  reason?: string;
  description?: string;
  /** Consecutive passed / failed health checks. */
  successes: number;
  failures: number;
  /** Requests proxied to it that have not finished. */
  inFlight: number;
  /** Cancels the next health check (a simulated-clock timer). */
  timer?: Cancel;
  probe?: http.ClientRequest;
  /** Releases the clock hold of the health check in flight. */
  probeHold?: Cancel;
  /** Deregistration in progress: `timer` cancels the (real) deregistration delay, `hold` releases the clock. */
  drain?: { promise: Promise<void>; resolve: () => void; timer?: Cancel; hold?: Cancel };
}

interface GroupState {
  /** `id:port` → entry, in registration order. */
  readonly targets: Map<string, TargetEntry>;
  /** Round-robin counter. */
  next: number;
  /** Cancels the next host-count round (a simulated-clock timer). */
  roundTimer?: Cancel;
}

interface ServedListener {
  readonly listenerArn: string;
  readonly loadBalancerArn: string;
  /** `http` or `https` (for X-Forwarded-Proto). */
  readonly proto: string;
  readonly server: Server;
  port: number;
}

type ProbeResult = { ok: true } | { ok: false; reason: string; description: string };

/** What happened to one proxied request, for metrics. */
type Outcome =
  | { kind: 'target'; status: number; seconds: number }
  | { kind: 'elb'; status: number }
  | { kind: 'aborted' };

const MAX_TIMER_MS = 2_147_483_647;
/** Real milliseconds a health check may be in flight before it holds the clock (an answer within them is not lag). */
const PROBE_HOLD_AFTER_MS = 10;
/** Real milliseconds a health check may hold the clock beyond its own (real) timeout. */
const PROBE_HOLD_MARGIN_MS = 1000;
/** Real milliseconds a draining target's requests may hold the clock beyond its deregistration delay (it is removed then). */
const DRAIN_HOLD_MARGIN_MS = 5000;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);
const REASON_PHRASES: Record<number, string> = {
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
};
const noop = (): void => {};

/**
 * The twin's ALB. Also the {@link TargetRegistry} the live ECS registers its tasks with, and (once
 * started) the only target source of the ELBv2 simulator, so DescribeTargetHealth reports live states.
 */
export class LiveLoadBalancer implements TargetRegistry {
  private readonly elbv2: Elbv2Simulator;
  private readonly clock: SimClock;
  private readonly publishFn: MetricPublisher;
  private readonly idleTimeoutSeconds: number;
  private readonly closeTimeoutMs: number;
  private readonly ports: Readonly<Record<string, number>>;
  private readonly groups = new Map<string, GroupState>();
  private readonly served = new Map<string, ServedListener>();
  private started = false;
  private closed = false;
  private closing?: Promise<void>;
  private publishWarned = false;

  /**
   * @throws Error when `idleTimeoutSeconds` is not a number of seconds from 1 to 4000 (ALB's range) or
   *   `closeTimeoutMs` is negative
   */
  constructor(opts: LiveLoadBalancerOptions) {
    this.elbv2 = opts.elbv2;
    this.clock = opts.clock;
    this.publishFn = opts.publish;
    this.ports = opts.ports ?? {};
    this.idleTimeoutSeconds = opts.idleTimeoutSeconds ?? 60;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 2000;
    if (!(this.idleTimeoutSeconds >= 1 && this.idleTimeoutSeconds <= 4000)) {
      throw new Error(`LiveLoadBalancer idleTimeoutSeconds must be 1-4000 real seconds (ALB idle_timeout.timeout_seconds), got ${this.idleTimeoutSeconds}`);
    }
    if (!(this.closeTimeoutMs >= 0)) throw new Error(`LiveLoadBalancer closeTimeoutMs must be >= 0 real milliseconds, got ${this.closeTimeoutMs}`);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Open one HTTP server on 127.0.0.1 per listener the simulator has now (listeners created later are
   * not served), and become the simulator's only target source (`addTargetSource(..., { replace: true })`).
   * @throws Error when called twice, when a `ports` key names no listener of the simulator, when a
   *   port is not 0-65535, or when a port is in use (the message names the listener and the port)
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('LiveLoadBalancer.start() was already called; create a new LiveLoadBalancer to serve again');
    if (this.closed) throw new Error('LiveLoadBalancer is closed; create a new one');
    this.started = true;
    const listeners = this.allListeners();
    const wanted = new Map<string, number>();
    for (const [arn, port] of Object.entries(this.ports)) {
      const listenerArn = arn.includes(':listener-rule/') ? listenerArnOfRule(arn) : arn;
      if (!listeners.some((l) => l.ListenerArn === listenerArn)) {
        throw new Error(`LiveLoadBalancer ports: ${arn} is not a listener (or rule) of the ELBv2 simulator; create the listener before start()`);
      }
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new Error(`LiveLoadBalancer ports: port ${port} for ${arn} is not valid; use 0 (any free port) or 1-65535`);
      }
      if (!arn.includes(':listener-rule/') || !wanted.has(listenerArn)) wanted.set(listenerArn, port);
    }
    this.elbv2.addTargetSource((tg) => this.describe(tg), { replace: true });
    try {
      for (const l of listeners) await this.serve(l, wanted.get(l.ListenerArn!) ?? 0);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /**
   * Base URL of a listener's server, e.g. `http://127.0.0.1:41237`.
   * @param listenerArn a listener ARN, or a rule ARN (its listener)
   * @throws Error when the load balancer is not started or does not serve that listener
   */
  /** Every served listener's ARN and base URL (`http://127.0.0.1:<port>`). */
  urls(): Record<string, string> {
    return Object.fromEntries([...this.served.entries()].map(([arn, served]) => [arn, `http://127.0.0.1:${served.port}`]));
  }

  url(listenerArn: string): string {
    const arn = listenerArn.includes(':listener-rule/') ? listenerArnOfRule(listenerArn) : listenerArn;
    const served = this.served.get(arn);
    if (!served) throw new Error(`LiveLoadBalancer serves no listener ${listenerArn}${this.started ? '' : ' (call start() first)'}`);
    return `http://127.0.0.1:${served.port}`;
  }

  /**
   * Stop: health checks and timers end, pending deregistrations complete (their promises resolve),
   * servers stop accepting; requests in flight get `closeTimeoutMs` real milliseconds to finish, then
   * their connections are cut. Registered targets keep their last state. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    for (const [, group] of this.groups) {
      group.roundTimer?.();
      for (const entry of [...group.targets.values()]) {
        entry.timer?.();
        entry.probe?.destroy();
        entry.probeHold?.();
        if (entry.state === 'draining') this.remove(entry);
      }
    }
    this.closing = Promise.all([...this.served.values()].map((s) => this.stopServer(s))).then(noop);
    return this.closing;
  }

  // ---------------------------------------------------------------- TargetRegistry

  /**
   * RegisterTargets: the target starts `initial` (`Elb.InitialHealthChecking`) and is health-checked
   * at once, then every `HealthCheckIntervalSeconds` (simulated). As the ELB guide says, a newly
   * registered target must pass one health check to be `healthy`; `UnhealthyThresholdCount`
   * consecutive failures make it `unhealthy` (`Target.ResponseCodeMismatch`, `Target.Timeout` or
   * `Target.FailedHealthChecks`), and `HealthyThresholdCount` consecutive passes make an unhealthy
   * target healthy again. Settings are read from the target group at every check (AWS defaults when
   * unset: path `/`, 30 s, 5 s, 5, 2, `200`); `HealthCheckEnabled: false` makes targets healthy
   * without checks. Registering a registered target is a no-op; registering a draining one ends its
   * deregistration (that promise resolves) and starts it over in `initial`.
   * @throws Error when the target group does not exist in the simulator, the target's id/port is not
   *   valid, or the load balancer is closed
   */
  register(targetGroupArn: string, target: LiveTarget): void {
    if (this.closed) throw new Error('LiveLoadBalancer is closed: cannot register targets');
    if (typeof target?.id !== 'string' || target.id.length === 0) throw new Error('LiveTarget.id must be a non-empty IP address such as 127.0.0.1');
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
      throw new Error(`LiveTarget.port must be an integer 1-65535, got ${String(target.port)}`);
    }
    if (!this.elbv2.hasTargetGroup(targetGroupArn)) {
      throw new Error(`Target group not found: ${targetGroupArn}; create it (CreateTargetGroup) before registering targets`);
    }
    let group = this.groups.get(targetGroupArn);
    if (!group) {
      group = { targets: new Map(), next: 0 };
      this.groups.set(targetGroupArn, group);
    }
    const key = targetKey(target);
    const existing = group.targets.get(key);
    if (existing && existing.state !== 'draining') return;
    if (existing) this.remove(existing);
    const entry: TargetEntry = {
      targetGroupArn,
      target: { id: target.id, port: target.port },
      state: 'initial',
      reason: 'Elb.InitialHealthChecking',
      description: 'Initial health checks in progress',
      successes: 0,
      failures: 0,
      inFlight: 0,
    };
    group.targets.set(key, entry);
    this.schedule(entry, this.clock.nowMs());
    this.scheduleRound(targetGroupArn, group);
  }

  /**
   * DeregisterTargets: the target turns `draining` (`Target.DeregistrationInProgress`) at once and gets
   * no new requests; it is removed as soon as it has no request in flight, or when the target group's
   * `deregistration_delay.timeout_seconds` (default 300) has passed, whichever comes first
   * ("If a deregistering target has no in-flight requests and no active connections, Elastic Load
   * Balancing immediately completes the deregistration process"). Requests still in flight when the
   * delay passes are not cut by the twin. The delay bounds the application's real work (its answers to
   * requests in flight), so it is REAL seconds, and while the target has requests in flight it holds
   * the simulated clock: no simulated wait elsewhere runs out because a request is slow.
   * @returns resolves when the target has been removed (at once if it was not registered)
   */
  deregister(targetGroupArn: string, target: LiveTarget): Promise<void> {
    const entry = this.groups.get(targetGroupArn)?.targets.get(targetKey(target));
    if (!entry) return Promise.resolve();
    if (entry.drain) return entry.drain.promise;
    let resolve = noop;
    const promise = new Promise<void>((r) => (resolve = r));
    entry.drain = { promise, resolve };
    entry.state = 'draining';
    entry.reason = 'Target.DeregistrationInProgress';
    entry.description = 'Target deregistration is in progress';
    entry.timer?.();
    entry.probe?.destroy();
    entry.probeHold?.();
    const delay = this.deregistrationDelay(targetGroupArn);
    if (entry.inFlight === 0 || this.closed || delay <= 0) {
      this.remove(entry);
    } else {
      // The requests in flight are the application's real work: the delay bounds them in real seconds,
      // and they hold the simulated clock meanwhile (so no simulated wait runs out while they finish).
      const where = `${entry.target.id}:${entry.target.port} of ${targetGroupName(targetGroupArn)}`;
      entry.drain.hold = this.clock.hold(`draining target ${where} to finish its requests in flight`, {
        maxRealMs: Math.min(delay * 1000 + DRAIN_HOLD_MARGIN_MS, MAX_TIMER_MS),
        kind: 'drain',
      });
      const timer = setTimeout(() => this.remove(entry), Math.min(delay * 1000, MAX_TIMER_MS)).unref();
      entry.drain.timer = () => clearTimeout(timer);
    }
    return promise;
  }

  /** Current state of a registered target; `undefined` when it is not registered (or was removed). */
  state(targetGroupArn: string, target: LiveTarget): LiveTargetState | undefined {
    return this.groups.get(targetGroupArn)?.targets.get(targetKey(target))?.state;
  }

  // ---------------------------------------------------------------- serving

  private allListeners(): Listener[] {
    const result: Listener[] = [];
    let marker: string | undefined;
    do {
      const page = this.elbv2.describeLoadBalancers({ Marker: marker });
      for (const lb of page.LoadBalancers ?? []) {
        let lMarker: string | undefined;
        do {
          const listeners = this.elbv2.describeListeners({ LoadBalancerArn: lb.LoadBalancerArn, Marker: lMarker });
          result.push(...(listeners.Listeners ?? []));
          lMarker = listeners.NextMarker;
        } while (lMarker);
      }
      marker = page.NextMarker;
    } while (marker);
    return result;
  }

  private async serve(listener: Listener, port: number): Promise<void> {
    const server = http.createServer();
    const served: ServedListener = {
      listenerArn: listener.ListenerArn!,
      loadBalancerArn: listener.LoadBalancerArn!,
      proto: (listener.Protocol ?? 'HTTP').toLowerCase(),
      server,
      port,
    };
    // Client-side keep-alive in real time: scaling it would make keep-alive clients race the close.
    server.keepAliveTimeout = 60_000;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(served, req, res));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) =>
        reject(new Error(`LiveLoadBalancer cannot listen on 127.0.0.1:${port} for ${served.listenerArn}: ${err.code ?? err.message}; choose another port in ports (0 = any free port)`));
      server.once('error', onError);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', onError);
        resolve();
      });
    });
    served.port = (server.address() as AddressInfo).port;
    this.served.set(served.listenerArn, served);
  }

  private async stopServer(s: ServedListener): Promise<void> {
    const closed = new Promise<void>((resolve) => s.server.close(() => resolve()));
    s.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        s.server.closeAllConnections();
        resolve();
      }, this.closeTimeoutMs);
    });
    await Promise.race([closed, cut]);
    clearTimeout(timer);
    await closed;
  }

  private handle(l: ServedListener, req: IncomingMessage, res: ServerResponse): void {
    res.on('error', noop);
    if (this.closed) {
      res.shouldKeepAlive = false;
      res.on('close', () => l.server.closeIdleConnections());
    }
    let action: Action | undefined;
    try {
      const matched = matchRule(this.rulesOf(l.listenerArn), { url: req.url ?? '/', host: req.headers.host });
      action = matched && terminalAction(matched.actions);
    } catch {
      this.elbError(l, req, res, 500);
      return;
    }
    if (action?.Type === 'fixed-response') {
      const cfg = action.FixedResponseConfig!;
      const body = cfg.MessageBody ?? '';
      req.resume();
      res.writeHead(Number(cfg.StatusCode), {
        server: 'awselb/2.0',
        'content-type': cfg.ContentType ?? 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    if (action?.Type !== 'forward') {
      this.elbError(l, req, res, 501, 'The cutover twin implements forward and fixed-response actions only');
      return;
    }
    const targetGroupArn = pickWeighted(action);
    const entry = targetGroupArn ? this.pickTarget(targetGroupArn) : undefined;
    if (!targetGroupArn || !entry) {
      this.elbError(l, req, res, 503);
      return;
    }
    this.proxy(l, targetGroupArn, entry, req, res);
  }

  private rulesOf(listenerArn: string): Rule[] {
    const rules: Rule[] = [];
    let marker: string | undefined;
    do {
      const page = this.elbv2.describeRules({ ListenerArn: listenerArn, Marker: marker });
      rules.push(...(page.Rules ?? []));
      marker = page.NextMarker;
    } while (marker);
    return rules;
  }

  /** Round robin over healthy targets; fail open to all registered (not draining) ones when none is healthy. */
  private pickTarget(targetGroupArn: string): TargetEntry | undefined {
    const group = this.groups.get(targetGroupArn);
    if (!group) return undefined;
    const registered = [...group.targets.values()].filter((e) => e.state !== 'draining');
    if (registered.length === 0) return undefined;
    const healthy = registered.filter((e) => e.state === 'healthy');
    const pool = healthy.length > 0 ? healthy : registered;
    const entry = pool[group.next % pool.length]!;
    group.next = (group.next + 1) % 1_000_000_007;
    return entry;
  }

  private proxy(l: ServedListener, targetGroupArn: string, entry: TargetEntry, req: IncomingMessage, res: ServerResponse): void {
    entry.inFlight++;
    const sent = performance.now();
    let outcome: Outcome = { kind: 'aborted' };
    /** waiting: no answer yet; target: the target's response is being relayed; elb: the LB answered itself. */
    let phase: 'waiting' | 'target' | 'elb' = 'waiting';
    const answerWithError = (status: 502 | 504) => {
      phase = 'elb';
      outcome = { kind: 'elb', status };
      this.elbError(l, req, res, status, undefined, false);
    };
    const upstream = http.request({
      host: entry.target.id,
      port: entry.target.port,
      method: req.method,
      path: req.url,
      headers: this.forwardHeaders(l, req),
      agent: false,
    });
    // The application answers in real time, so the idle timeout that bounds its work is real seconds.
    const idleMs = this.idleTimeoutSeconds * 1000;
    if (Number.isFinite(idleMs)) {
      upstream.setTimeout(Math.min(idleMs, MAX_TIMER_MS), () => {
        if (phase === 'waiting') answerWithError(504);
        else if (phase === 'target') res.destroy();
        upstream.destroy();
      });
    }
    upstream.on('response', (up: IncomingMessage) => {
      if (phase !== 'waiting') {
        up.resume();
        return;
      }
      phase = 'target';
      const status = up.statusCode ?? 502;
      outcome = { kind: 'target', status, seconds: (performance.now() - sent) / 1000 };
      res.writeHead(status, up.statusMessage, responseHeaders(up.headers));
      up.on('aborted', () => res.destroy());
      up.pipe(res);
    });
    upstream.on('error', () => {
      if (phase === 'waiting') answerWithError(502);
      else if (phase === 'target') res.destroy();
    });
    res.on('close', () => {
      upstream.destroy();
      entry.inFlight--;
      if (entry.drain && entry.inFlight === 0) this.remove(entry);
      this.requestMetrics(l, targetGroupArn, outcome);
    });
    req.pipe(upstream);
  }

  private forwardHeaders(l: ServedListener, req: IncomingMessage): OutgoingHttpHeaders {
    const headers: OutgoingHttpHeaders = withoutHopByHop(req.headers);
    const client = req.socket.remoteAddress ?? '127.0.0.1';
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
    headers['x-forwarded-proto'] = l.proto;
    headers['x-forwarded-port'] = String(l.port);
    const epoch = Math.floor(this.clock.nowMs() / 1000).toString(16).padStart(8, '0');
    const id = `1-${epoch}-${randomBytes(12).toString('hex')}`;
    const incoming = req.headers['x-amzn-trace-id'];
    headers['x-amzn-trace-id'] = typeof incoming === 'string' && /Root=/.test(incoming) ? `Self=${id};${incoming}` : `Root=${id}`;
    return headers;
  }

  /** Answer with the load balancer's own error page (as ALB: HTML, `Server: awselb/2.0`). */
  private elbError(l: ServedListener, req: IncomingMessage, res: ServerResponse, status: number, detail?: string, publish = true): void {
    req.resume();
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const title = `${status} ${REASON_PHRASES[status] ?? 'Error'}`;
    const body = `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n${detail ? `<p>${detail}</p>\r\n` : ''}</body>\r\n</html>\r\n`;
    res.writeHead(status, { server: 'awselb/2.0', 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    if (publish) this.requestMetrics(l, undefined, { kind: 'elb', status });
  }

  // ---------------------------------------------------------------- health checks and draining

  /** Health-check `entry` when simulated time reaches `atMs`. */
  private schedule(entry: TargetEntry, atMs: number): void {
    if (!this.isActive(entry)) return;
    entry.timer = this.clock.setTimerAt(atMs, () => void this.check(entry), { unref: true });
  }

  private isActive(entry: TargetEntry): boolean {
    return !this.closed && entry.state !== 'draining' && this.groups.get(entry.targetGroupArn)?.targets.get(targetKey(entry.target)) === entry;
  }

  /**
   * One health check, then the next one `HealthCheckIntervalSeconds` (simulated) after this one began.
   * A request still in flight after {@link PROBE_HOLD_AFTER_MS} real ms holds the simulated clock until
   * it settles: its real duration is not simulated time. (A prompt answer holds nothing: thousands of
   * checks of a few milliseconds would only slow the twin down.)
   */
  private async check(entry: TargetEntry): Promise<void> {
    entry.timer = undefined;
    const tg = this.targetGroup(entry.targetGroupArn);
    if (!tg || !this.isActive(entry)) return;
    const startedMs = this.clock.nowMs();
    if (tg.HealthCheckEnabled === false) {
      this.apply(entry, { ok: true }, tg);
    } else {
      const timeoutMs = (tg.HealthCheckTimeoutSeconds ?? 5) * 1000;
      let release: Cancel | undefined;
      const late = setTimeout(() => {
        release = this.clock.hold(`health check of ${entry.target.id}:${entry.target.port} in ${targetGroupName(entry.targetGroupArn)}`, {
          maxRealMs: timeoutMs + PROBE_HOLD_MARGIN_MS,
          kind: 'health check',
        });
      }, PROBE_HOLD_AFTER_MS);
      late.unref();
      entry.probeHold = () => {
        clearTimeout(late);
        release?.();
      };
      let result: ProbeResult;
      try {
        result = await this.probe(entry, tg);
      } finally {
        entry.probeHold?.();
        entry.probeHold = undefined;
      }
      if (!this.isActive(entry)) return;
      this.apply(entry, result, tg);
    }
    this.schedule(entry, startedMs + (tg.HealthCheckIntervalSeconds ?? 30) * 1000);
  }

  /** One health check: GET HealthCheckPath on the target (or HealthCheckPort), own connection, closed afterwards. */
  private probe(entry: TargetEntry, tg: TargetGroup): Promise<ProbeResult> {
    return new Promise((resolve) => {
      const port = tg.HealthCheckPort && tg.HealthCheckPort !== 'traffic-port' ? Number(tg.HealthCheckPort) : entry.target.port;
      const req = http.request({
        host: entry.target.id,
        port,
        method: 'GET',
        path: tg.HealthCheckPath ?? '/',
        agent: false,
        headers: { host: `${entry.target.id}:${port}`, 'user-agent': 'ELB-HealthChecker/2.0', accept: '*/*' },
      });
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const settle = (result: ProbeResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (entry.probe === req) entry.probe = undefined;
        req.destroy();
        resolve(result);
      };
      // Real seconds: the target answers in real time (a scaled 2 s would be 33 ms at ×60 and fail a busy machine).
      const timeoutMs = (tg.HealthCheckTimeoutSeconds ?? 5) * 1000;
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => settle({ ok: false, reason: 'Target.Timeout', description: 'Request timed out' }), Math.min(timeoutMs, MAX_TIMER_MS));
        timer.unref();
      }
      req.on('response', (res: IncomingMessage) => {
        res.on('error', noop);
        res.resume();
        const code = res.statusCode ?? 0;
        settle(
          statusMatches(code, tg.Matcher?.HttpCode ?? '200')
            ? { ok: true }
            : { ok: false, reason: 'Target.ResponseCodeMismatch', description: `Health checks failed with these codes: [${code}]` },
        );
      });
      req.on('error', () => settle({ ok: false, reason: 'Target.FailedHealthChecks', description: 'Health checks failed' }));
      req.on('close', () => settle({ ok: false, reason: 'Target.FailedHealthChecks', description: 'Health checks failed' }));
      entry.probe = req;
      req.end();
    });
  }

  private apply(entry: TargetEntry, result: ProbeResult, tg: TargetGroup): void {
    if (result.ok) {
      entry.failures = 0;
      entry.successes++;
      if (entry.state === 'initial' || (entry.state === 'unhealthy' && entry.successes >= (tg.HealthyThresholdCount ?? 5))) {
        entry.state = 'healthy';
        entry.reason = undefined;
        entry.description = undefined;
      }
      return;
    }
    entry.successes = 0;
    entry.failures++;
    if (entry.state === 'unhealthy' || entry.failures >= (tg.UnhealthyThresholdCount ?? 2)) {
      entry.state = 'unhealthy';
      entry.reason = result.reason;
      entry.description = result.description;
    }
  }

  /** Publish HealthyHostCount / UnHealthyHostCount of a target group every health check interval. */
  private scheduleRound(targetGroupArn: string, group: GroupState): void {
    if (this.closed || group.roundTimer) return;
    const tg = this.targetGroup(targetGroupArn);
    if (!tg) return;
    group.roundTimer = this.clock.setTimer(
      tg.HealthCheckIntervalSeconds ?? 30,
      () => {
        group.roundTimer = undefined;
        this.hostCountMetrics(targetGroupArn, group);
        this.scheduleRound(targetGroupArn, group);
      },
      { unref: true },
    );
  }

  private remove(entry: TargetEntry): void {
    const group = this.groups.get(entry.targetGroupArn);
    const key = targetKey(entry.target);
    if (group?.targets.get(key) === entry) group.targets.delete(key);
    entry.timer?.();
    entry.probeHold?.();
    entry.drain?.timer?.();
    entry.drain?.hold?.();
    entry.drain?.resolve();
  }

  private targetGroup(arn: string): TargetGroup | undefined {
    try {
      return this.elbv2.describeTargetGroups({ TargetGroupArns: [arn] }).TargetGroups?.[0];
    } catch {
      return undefined;
    }
  }

  private deregistrationDelay(targetGroupArn: string): number {
    try {
      const attrs = this.elbv2.describeTargetGroupAttributes({ TargetGroupArn: targetGroupArn }).Attributes ?? [];
      const value = Number(attrs.find((a) => a.Key === DEREGISTRATION_DELAY)?.Value ?? 300);
      return Number.isFinite(value) ? value : 300;
    } catch {
      return 300;
    }
  }

  /** Target source of the ELBv2 simulator: the live states in DescribeTargetHealth's shape. */
  private describe(targetGroupArn: string): TargetHealthDescription[] {
    const group = this.groups.get(targetGroupArn);
    if (!group) return [];
    const tg = this.targetGroup(targetGroupArn);
    const region = targetGroupArn.split(':')[3] ?? 'us-east-1';
    return [...group.targets.values()].map((e) => ({
      Target: { Id: e.target.id, Port: e.target.port, AvailabilityZone: `${region}a` },
      HealthCheckPort: tg?.HealthCheckPort && tg.HealthCheckPort !== 'traffic-port' ? tg.HealthCheckPort : String(e.target.port),
      TargetHealth: { State: e.state, ...(e.reason ? { Reason: e.reason } : {}), ...(e.description ? { Description: e.description } : {}) } as TargetHealthDescription['TargetHealth'],
    }));
  }

  // ---------------------------------------------------------------- metrics

  private requestMetrics(l: ServedListener, targetGroupArn: string | undefined, outcome: Outcome): void {
    const lb: Dimension[] = [{ Name: 'LoadBalancer', Value: loadBalancerDimension(l.loadBalancerArn) }];
    const both: Dimension[] | undefined = targetGroupArn ? [...lb, { Name: 'TargetGroup', Value: targetGroupDimension(targetGroupArn) }] : undefined;
    const Timestamp = this.clock.now();
    const data: MetricDatum[] = [];
    const add = (MetricName: string, Value: number, Unit: 'Count' | 'Seconds', dims: (Dimension[] | undefined)[]) => {
      for (const Dimensions of dims) if (Dimensions) data.push({ MetricName, Dimensions, Timestamp, Value, Unit });
    };
    if (targetGroupArn) add('RequestCount', 1, 'Count', [lb, both]);
    if (outcome.kind === 'target') {
      add(`HTTPCode_Target_${Math.floor(outcome.status / 100)}XX_Count`, 1, 'Count', [lb, both]);
      add('TargetResponseTime', outcome.seconds, 'Seconds', [lb, both]);
    } else if (outcome.kind === 'elb') {
      add(`HTTPCode_ELB_${Math.floor(outcome.status / 100)}XX_Count`, 1, 'Count', [lb]);
      if ([500, 502, 503, 504].includes(outcome.status)) add(`HTTPCode_ELB_${outcome.status}_Count`, 1, 'Count', [lb]);
    }
    this.publish(data);
  }

  private hostCountMetrics(targetGroupArn: string, group: GroupState): void {
    const tg = this.targetGroup(targetGroupArn);
    if (!tg) return;
    const entries = [...group.targets.values()];
    const healthy = entries.filter((e) => e.state === 'healthy').length;
    const unhealthy = entries.filter((e) => e.state === 'unhealthy').length;
    const Timestamp = this.clock.now();
    const data: MetricDatum[] = [];
    for (const lbArn of tg.LoadBalancerArns ?? []) {
      const Dimensions: Dimension[] = [
        { Name: 'LoadBalancer', Value: loadBalancerDimension(lbArn) },
        { Name: 'TargetGroup', Value: targetGroupDimension(targetGroupArn) },
      ];
      data.push({ MetricName: 'HealthyHostCount', Dimensions, Timestamp, Value: healthy, Unit: 'Count' });
      data.push({ MetricName: 'UnHealthyHostCount', Dimensions, Timestamp, Value: unhealthy, Unit: 'Count' });
    }
    this.publish(data);
  }

  private publish(data: MetricDatum[]): void {
    if (data.length === 0) return;
    try {
      this.publishFn('AWS/ApplicationELB', data);
    } catch (err) {
      if (!this.publishWarned) {
        this.publishWarned = true;
        process.emitWarning(`LiveLoadBalancer: publishing AWS/ApplicationELB metrics failed: ${(err as Error).message}`);
      }
    }
  }
}

/** `hello-world-blue` of a target group ARN (`…:targetgroup/<name>/<id>`), for messages. */
function targetGroupName(arn: string): string {
  return /:targetgroup\/([^/]+)\//.exec(arn)?.[1] ?? arn;
}

function targetKey(target: LiveTarget): string {
  return `${target.id}:${target.port}`;
}

/** Headers without hop-by-hop ones (and those the Connection header names). */
function withoutHopByHop(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** A target's response headers for the client: hop-by-hop and framing headers dropped (Node re-frames). */
function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out = withoutHopByHop(headers);
  delete out['transfer-encoding'];
  return out;
}
