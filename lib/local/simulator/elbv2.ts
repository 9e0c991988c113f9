/**
 * Simulated Elastic Load Balancing v2 (Application Load Balancers): load balancers, target groups,
 * listeners and listener rules with weighted forward actions, and target health fed by the ECS
 * simulator.
 *
 * Forward actions are stored and returned in AWS's normalised shape:
 * `{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn, Weight }], TargetGroupStickinessConfig: { Enabled: false } } }`,
 * plus the top-level `TargetGroupArn` when exactly one target group is forwarded to (as AWS returns
 * it). Both input forms (`TargetGroupArn` alone, or `ForwardConfig`) are accepted.
 *
 * Validation of forward actions (ValidationError unless noted):
 * - 1 to 5 target groups, each existing (else `TargetGroupNotFoundException`) and listed once;
 * - each `Weight` an integer 0-999 (AWS's range; omitted means 1);
 * - `TargetGroupArn` together with `ForwardConfig` must name the same single target group (AWS rule);
 * - at least one weight above 0. AWS's documentation does not state this rule; the simulator enforces
 *   it on purpose because a forward action with all weights 0 routes no request anywhere, which is
 *   never a state cutover should be able to reach unnoticed.
 */
import type {
  Action,
  CreateListenerInput,
  CreateListenerOutput,
  CreateLoadBalancerInput,
  CreateLoadBalancerOutput,
  CreateRuleInput,
  CreateRuleOutput,
  CreateTargetGroupInput,
  CreateTargetGroupOutput,
  DescribeListenersInput,
  DescribeListenersOutput,
  DescribeLoadBalancersInput,
  DescribeLoadBalancersOutput,
  DescribeRulesInput,
  DescribeRulesOutput,
  DescribeTargetGroupAttributesInput,
  DescribeTargetGroupAttributesOutput,
  DescribeTargetGroupsInput,
  DescribeTargetGroupsOutput,
  DescribeTargetHealthInput,
  DescribeTargetHealthOutput,
  Listener,
  LoadBalancer,
  ModifyListenerInput,
  ModifyListenerOutput,
  ModifyRuleInput,
  ModifyRuleOutput,
  ModifyTargetGroupAttributesInput,
  ModifyTargetGroupAttributesOutput,
  Rule,
  RuleCondition,
  TargetGroup,
  TargetGroupAttribute,
  TargetGroupTuple,
  TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { SimulatedService } from './service';
import { copy, digitsId, hexId, paginate, type SimContext } from './util';

/** Supplies the targets registered in a target group (the ECS simulator registers service tasks). */
/** Health check settings of a target group, as CreateTargetGroup takes them. */
export type HealthCheckSettings = Pick<
  CreateTargetGroupInput,
  'HealthCheckPath' | 'HealthCheckIntervalSeconds' | 'HealthCheckTimeoutSeconds' | 'HealthyThresholdCount' | 'UnhealthyThresholdCount' | 'Matcher'
>;

export type TargetSource = (targetGroupArn: string) => TargetHealthDescription[];

const LISTENER_ARN = /^(arn:[^:]+:elasticloadbalancing:[^:]+:\d{12}:)listener\/(app|net|gwy)\/([^/]+)\/([^/]+)\/([^/]+)$/;
const RULE_ARN = /^(arn:[^:]+:elasticloadbalancing:[^:]+:\d{12}:)listener-rule\/(app|net|gwy)\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)$/;
const NAME = /^(?!-)[A-Za-z0-9-]{1,32}(?<!-)$/;

/** Target group attribute key of the deregistration delay (simulated seconds, 0-3600, AWS default 300). */
export const DEREGISTRATION_DELAY = 'deregistration_delay.timeout_seconds';

/** The load balancer ARN a listener ARN belongs to (`...:listener/app/<lb>/<id>/<l>` → `...:loadbalancer/app/<lb>/<id>`). */
export function loadBalancerArnOfListener(listenerArn: string): string {
  const m = LISTENER_ARN.exec(listenerArn);
  if (!m) throw new Error(`Not an ELBv2 listener ARN: ${listenerArn}`);
  return `${m[1]}loadbalancer/${m[2]}/${m[3]}/${m[4]}`;
}

/** The listener ARN a rule ARN belongs to (`...:listener-rule/app/<lb>/<id>/<l>/<r>` → `...:listener/app/<lb>/<id>/<l>`). */
export function listenerArnOfRule(ruleArn: string): string {
  const m = RULE_ARN.exec(ruleArn);
  if (!m) throw new Error(`Not an ELBv2 listener rule ARN: ${ruleArn}`);
  return `${m[1]}listener/${m[2]}/${m[3]}/${m[4]}/${m[5]}`;
}

interface SimRule extends Rule {
  RuleArn: string;
  ListenerArn: string;
}

/** Forward to `weights` (`{ [targetGroupArn]: weight }`) in the AWS action shape. */
export function forwardAction(weights: Record<string, number>): Action {
  return {
    Type: 'forward',
    ForwardConfig: { TargetGroups: Object.entries(weights).map(([TargetGroupArn, Weight]) => ({ TargetGroupArn, Weight })) },
  };
}

/**
 * The actions of a listener (its default actions) or of a listener rule, as
 * {@link Elbv2Simulator.exportRoutes} returns them and {@link Elbv2Simulator.restoreRoutes} takes them.
 * JSON-safe; actions in AWS's normalised shape (forward weights in `ForwardConfig.TargetGroups`).
 */
export interface RouteExport {
  /** Listener ARN or listener rule ARN. */
  readonly arn: string;
  readonly kind: 'listener' | 'rule';
  readonly actions: Action[];
}

export class Elbv2Simulator extends SimulatedService {
  private readonly loadBalancers = new Map<string, LoadBalancer>();
  private readonly targetGroups = new Map<string, TargetGroup>();
  private readonly listeners = new Map<string, Listener>();
  private readonly rules = new Map<string, SimRule>();
  private readonly targetSources: TargetSource[] = [];
  /** Target group ARN → attributes set with ModifyTargetGroupAttributes (defaults are not stored). */
  private readonly targetGroupAttributes = new Map<string, Record<string, string>>();

  protected readonly operations = {
    CreateLoadBalancer: (i: CreateLoadBalancerInput) => this.createLoadBalancer(i),
    CreateTargetGroup: (i: CreateTargetGroupInput) => this.createTargetGroup(i),
    CreateListener: (i: CreateListenerInput) => this.createListener(i),
    CreateRule: (i: CreateRuleInput) => this.createRule(i),
    DescribeLoadBalancers: (i: DescribeLoadBalancersInput) => this.describeLoadBalancers(i),
    DescribeTargetGroups: (i: DescribeTargetGroupsInput) => this.describeTargetGroups(i),
    DescribeListeners: (i: DescribeListenersInput) => this.describeListeners(i),
    DescribeRules: (i: DescribeRulesInput) => this.describeRules(i),
    ModifyListener: (i: ModifyListenerInput) => this.modifyListener(i),
    ModifyRule: (i: ModifyRuleInput) => this.modifyRule(i),
    DescribeTargetHealth: (i: DescribeTargetHealthInput) => this.describeTargetHealth(i),
    DescribeTargetGroupAttributes: (i: DescribeTargetGroupAttributesInput) => this.describeTargetGroupAttributes(i),
    ModifyTargetGroupAttributes: (i: ModifyTargetGroupAttributesInput) => this.modifyTargetGroupAttributes(i),
  };

  constructor(ctx: SimContext) {
    super('elbv2', ctx);
  }

  // ---------------------------------------------------------------- scenario helpers

  /**
   * Register a supplier of targets for {@link describeTargetHealth} (the ECS simulator calls this).
   * @param opts.replace drop the sources registered so far, so that `source` is the only one (the
   *   living twin's load balancer does this: there the targets are the live tasks, not the ECS
   *   simulator's). @default false
   */
  addTargetSource(source: TargetSource, opts: { replace?: boolean } = {}): void {
    if (opts.replace) this.targetSources.length = 0;
    this.targetSources.push(source);
  }

  /** True if a target group with this ARN exists. */
  hasTargetGroup(arn: string): boolean {
    return this.targetGroups.has(arn);
  }

  /** ARNs of the load balancers whose listeners or rules forward to the target group (its `LoadBalancerArns`). */
  loadBalancerArnsOf(targetGroupArn: string): string[] {
    const forwards = (actions: Action[] | undefined) =>
      (actions ?? []).some((a) => a.ForwardConfig?.TargetGroups?.some((g) => g.TargetGroupArn === targetGroupArn));
    const result = new Set<string>();
    for (const l of this.listeners.values()) if (forwards(l.DefaultActions)) result.add(l.LoadBalancerArn!);
    for (const r of this.rules.values()) if (forwards(r.Actions)) result.add(this.listeners.get(r.ListenerArn)!.LoadBalancerArn!);
    return [...result];
  }

  /**
   * Create a load balancer with an explicit ARN (`...:loadbalancer/app/<name>/<id>`), e.g. one taken from
   * a config. Returns the existing one unchanged if the ARN exists.
   */
  seedLoadBalancer(arn: string): LoadBalancer {
    const existing = this.loadBalancers.get(arn);
    if (existing) return copy(existing);
    const name = arn.split('/').at(-2) ?? 'sim';
    const lb = this.newLoadBalancer(arn, name, 'internet-facing');
    return copy(lb);
  }

  /**
   * Create a target group with an explicit ARN (`...:targetgroup/<name>/<id>`), target type `ip`,
   * HTTP on `port`, with CreateTargetGroup's health check settings (AWS defaults for those not given).
   * Returns the existing one unchanged if the ARN exists.
   */
  seedTargetGroup(arn: string, port = 8080, healthCheck: HealthCheckSettings = {}): TargetGroup {
    const existing = this.targetGroups.get(arn);
    if (existing) return copy(existing);
    const tg = this.newTargetGroup(arn, arn.split('/').at(-2) ?? 'sim', { Protocol: 'HTTP', Port: port, TargetType: 'ip', VpcId: 'vpc-0sim', ...healthCheck });
    return copy(tg);
  }

  /**
   * Create a listener with an explicit ARN; its load balancer (derived from the ARN) is created if
   * missing. `defaultActions` are validated like CreateListener. Returns the existing listener
   * unchanged if the ARN exists.
   * @throws ValidationError / TargetGroupNotFoundException for bad actions
   */
  seedListener(arn: string, defaultActions: Action[], opts: { port?: number; protocol?: 'HTTP' | 'HTTPS' } = {}): Listener {
    const existing = this.listeners.get(arn);
    if (existing) return copy(existing);
    const lbArn = loadBalancerArnOfListener(arn);
    this.seedLoadBalancer(lbArn);
    const listener = this.newListener(arn, lbArn, opts.port ?? 80, opts.protocol ?? 'HTTP', this.normalizeActions(defaultActions, 'DefaultActions'));
    return copy(listener);
  }

  /**
   * Create a listener rule with an explicit ARN; its listener (derived from the ARN) is created if
   * missing, with a fixed-response 404 default action. Returns the existing rule unchanged if the ARN exists.
   * @param opts.priority @default the next free priority on the listener
   * @param opts.conditions @default path-pattern `/*`
   */
  seedRule(arn: string, actions: Action[], opts: { priority?: number; conditions?: RuleCondition[] } = {}): Rule {
    const existing = this.rules.get(arn);
    if (existing) return this.ruleOutput(existing);
    const listenerArn = listenerArnOfRule(arn);
    if (!this.listeners.has(listenerArn)) {
      this.seedListener(listenerArn, [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain' } }]);
    }
    const used = [...this.rules.values()].filter((r) => r.ListenerArn === listenerArn).map((r) => Number(r.Priority));
    const rule: SimRule = {
      RuleArn: arn,
      ListenerArn: listenerArn,
      Priority: String(opts.priority ?? Math.max(0, ...used) + 1),
      Conditions: opts.conditions ?? [{ Field: 'path-pattern', Values: ['/*'], PathPatternConfig: { Values: ['/*'] } }],
      Actions: this.normalizeActions(actions, 'Actions'),
      IsDefault: false,
    };
    this.rules.set(arn, rule);
    return this.ruleOutput(rule);
  }

  /**
   * Forward weights of a listener's default actions or of a rule's actions.
   * @returns `{ [targetGroupArn]: weight }`; `{}` when the route has no forward action
   * @throws ListenerNotFoundException / RuleNotFoundException for an unknown ARN
   */
  weights(listenerOrRuleArn: string): Record<string, number> {
    const forward = this.routeActions(listenerOrRuleArn).find((a) => a.Type === 'forward');
    const result: Record<string, number> = {};
    for (const g of forward?.ForwardConfig?.TargetGroups ?? []) result[g.TargetGroupArn!] = g.Weight ?? 1;
    return result;
  }

  /**
   * Pick the target group one request would be routed to, by the forward weights (for a traffic generator).
   * @param random a function returning [0, 1), @default Math.random
   * @returns the target group ARN, or undefined when the route does not forward (or all weights are 0)
   * @throws ListenerNotFoundException / RuleNotFoundException for an unknown ARN
   */
  pickTargetGroup(listenerOrRuleArn: string, random: () => number = Math.random): string | undefined {
    const entries = Object.entries(this.weights(listenerOrRuleArn)).filter(([, w]) => w > 0);
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    if (total === 0) return undefined;
    let r = random() * total;
    for (const [arn, w] of entries) {
      if (r < w) return arn;
      r -= w;
    }
    return entries.at(-1)![0];
  }

  // ---------------------------------------------------------------- account state (the living twin's restarts)

  /** The actions of every listener and listener rule (listeners first, each in creation order). */
  exportRoutes(): RouteExport[] {
    return [
      ...[...this.listeners.values()].map((l) => ({ arn: l.ListenerArn!, kind: 'listener' as const, actions: copy(l.DefaultActions ?? []) })),
      ...[...this.rules.values()].map((r) => ({ arn: r.RuleArn, kind: 'rule' as const, actions: copy(r.Actions ?? []) })),
    ];
  }

  /**
   * Put exported actions back on listeners and rules that exist (e.g. seeded from the config again),
   * as ModifyListener / ModifyRule would: the forward weights a restarted twin routes by. Every route
   * is validated before any changes, so nothing changes unless all are valid.
   * @throws ListenerNotFoundException / RuleNotFoundException naming a route that does not exist;
   *   ValidationError / TargetGroupNotFoundException for invalid actions (as ModifyListener)
   */
  restoreRoutes(routes: readonly RouteExport[]): void {
    const changes = routes.map((route): (() => void) => {
      if (route.kind === 'listener') {
        const listener = this.listener(route.arn);
        const actions = this.normalizeActions(copy(route.actions), 'DefaultActions');
        return () => (listener.DefaultActions = actions);
      }
      const rule = this.rules.get(route.arn) ?? this.errors.fail('RuleNotFoundException', `One or more rules not found: ${route.arn}`);
      const actions = this.normalizeActions(copy(route.actions), 'Actions');
      return () => (rule.Actions = actions);
    });
    for (const apply of changes) apply();
  }

  // ---------------------------------------------------------------- operations

  /** CreateLoadBalancer: `Name` required (1-32 alphanumerics/hyphens). Idempotent for an existing name. */
  createLoadBalancer(input: CreateLoadBalancerInput): CreateLoadBalancerOutput {
    this.errors.require(input, 'Name');
    this.checkName(input.Name!, 'load balancer');
    const existing = [...this.loadBalancers.values()].find((lb) => lb.LoadBalancerName === input.Name);
    if (existing) return { LoadBalancers: [copy(existing)] };
    const arn = this.arn('elasticloadbalancing', `loadbalancer/app/${input.Name}/${hexId(16)}`);
    const lb = this.newLoadBalancer(arn, input.Name!, input.Scheme ?? 'internet-facing');
    return { LoadBalancers: [copy(lb)] };
  }

  /**
   * CreateTargetGroup: `Name` required. An existing name with the same protocol and port returns the
   * existing group (AWS is idempotent); a different configuration → DuplicateTargetGroupNameException.
   */
  createTargetGroup(input: CreateTargetGroupInput): CreateTargetGroupOutput {
    this.errors.require(input, 'Name');
    this.checkName(input.Name!, 'target group');
    this.errors.integerInRange('Port', input.Port, 1, 65535);
    const existing = [...this.targetGroups.values()].find((tg) => tg.TargetGroupName === input.Name);
    if (existing) {
      if (existing.Port !== input.Port || existing.Protocol !== input.Protocol) {
        this.errors.fail('DuplicateTargetGroupNameException', 'A target group with the same name exists, but with different settings');
      }
      return { TargetGroups: [this.targetGroupOutput(existing)] };
    }
    const arn = this.arn('elasticloadbalancing', `targetgroup/${input.Name}/${hexId(16)}`);
    const tg = this.newTargetGroup(arn, input.Name!, input);
    return { TargetGroups: [this.targetGroupOutput(tg)] };
  }

  /**
   * CreateListener: `LoadBalancerArn` (LoadBalancerNotFoundException) and `DefaultActions` required;
   * one listener per port (DuplicateListenerException).
   */
  createListener(input: CreateListenerInput): CreateListenerOutput {
    this.errors.require(input, 'LoadBalancerArn', 'DefaultActions');
    this.errors.integerInRange('Port', input.Port, 1, 65535);
    const lb = this.loadBalancer(input.LoadBalancerArn!);
    const port = input.Port ?? (input.Protocol === 'HTTPS' ? 443 : 80);
    if ([...this.listeners.values()].some((l) => l.LoadBalancerArn === lb.LoadBalancerArn && l.Port === port)) {
      this.errors.fail('DuplicateListenerException', 'A listener already exists on this port for this load balancer');
    }
    const actions = this.normalizeActions(input.DefaultActions!, 'DefaultActions');
    const lbId = lb.LoadBalancerArn!.split(':').at(-1)!.replace(/^loadbalancer\//, '');
    const arn = this.arn('elasticloadbalancing', `listener/${lbId}/${hexId(16)}`);
    const listener = this.newListener(arn, lb.LoadBalancerArn!, port, input.Protocol ?? 'HTTP', actions);
    return { Listeners: [copy(listener)] };
  }

  /**
   * CreateRule: `ListenerArn`, `Conditions`, `Priority` (1-50000, unique per listener → PriorityInUseException)
   * and `Actions` required.
   */
  createRule(input: CreateRuleInput): CreateRuleOutput {
    this.errors.require(input, 'ListenerArn', 'Conditions', 'Priority', 'Actions');
    this.errors.integerInRange('Priority', input.Priority, 1, 50000);
    const listener = this.listener(input.ListenerArn!);
    if ([...this.rules.values()].some((r) => r.ListenerArn === listener.ListenerArn && r.Priority === String(input.Priority))) {
      this.errors.fail('PriorityInUseException', `Priority '${input.Priority}' is currently in use`);
    }
    const actions = this.normalizeActions(input.Actions!, 'Actions');
    const arn = listener.ListenerArn!.replace(':listener/', ':listener-rule/') + `/${hexId(16)}`;
    const rule: SimRule = {
      RuleArn: arn,
      ListenerArn: listener.ListenerArn!,
      Priority: String(input.Priority),
      Conditions: copy(input.Conditions!),
      Actions: actions,
      IsDefault: false,
    };
    this.rules.set(arn, rule);
    return { Rules: [this.ruleOutput(rule)] };
  }

  /**
   * DescribeLoadBalancers: by `LoadBalancerArns` or `Names` (any unknown → LoadBalancerNotFoundException),
   * else all; `Marker`/`PageSize` (1-400) pagination.
   */
  describeLoadBalancers(input: DescribeLoadBalancersInput): DescribeLoadBalancersOutput {
    let items = [...this.loadBalancers.values()];
    if (input.LoadBalancerArns?.length) items = input.LoadBalancerArns.map((arn) => this.loadBalancer(arn));
    else if (input.Names?.length) {
      items = input.Names.map((name) => {
        const lb = items.find((l) => l.LoadBalancerName === name);
        return lb ?? this.errors.fail('LoadBalancerNotFoundException', `Load balancers '[${name}]' not found`);
      });
    }
    const { page, next } = this.page(items, input);
    return { LoadBalancers: copy(page), NextMarker: next };
  }

  /**
   * DescribeTargetGroups: by `TargetGroupArns`, `Names` (unknown → TargetGroupNotFoundException) or
   * `LoadBalancerArn` (target groups its listeners and rules forward to), else all; Marker/PageSize.
   */
  describeTargetGroups(input: DescribeTargetGroupsInput): DescribeTargetGroupsOutput {
    let items = [...this.targetGroups.values()];
    if (input.TargetGroupArns?.length) items = input.TargetGroupArns.map((arn) => this.targetGroup(arn));
    else if (input.Names?.length) {
      items = input.Names.map((name) => {
        const tg = items.find((t) => t.TargetGroupName === name);
        return tg ?? this.errors.fail('TargetGroupNotFoundException', `Target groups '[${name}]' not found`);
      });
    } else if (input.LoadBalancerArn) {
      const lb = this.loadBalancer(input.LoadBalancerArn);
      items = items.filter((tg) => this.loadBalancerArnsOf(tg.TargetGroupArn!).includes(lb.LoadBalancerArn!));
    }
    const { page, next } = this.page(items, input);
    return { TargetGroups: page.map((tg) => this.targetGroupOutput(tg)), NextMarker: next };
  }

  /**
   * DescribeListeners: `ListenerArns` (unknown → ListenerNotFoundException) or `LoadBalancerArn`
   * (LoadBalancerNotFoundException) — one of them is required (ValidationError); Marker/PageSize.
   */
  describeListeners(input: DescribeListenersInput): DescribeListenersOutput {
    let items: Listener[];
    if (input.ListenerArns?.length) items = input.ListenerArns.map((arn) => this.listener(arn));
    else if (input.LoadBalancerArn) {
      const lb = this.loadBalancer(input.LoadBalancerArn);
      items = [...this.listeners.values()].filter((l) => l.LoadBalancerArn === lb.LoadBalancerArn);
    } else {
      this.errors.invalid('You must specify either listener ARNs or a load balancer ARN');
    }
    const { page, next } = this.page(items, input);
    return { Listeners: copy(page), NextMarker: next };
  }

  /**
   * DescribeRules: `RuleArns` (unknown → RuleNotFoundException) or `ListenerArn`
   * (ListenerNotFoundException; its rules by priority, then the default rule, `IsDefault: true`,
   * carrying the listener's default actions). One of them is required (ValidationError); Marker/PageSize.
   */
  describeRules(input: DescribeRulesInput): DescribeRulesOutput {
    let items: Rule[];
    if (input.RuleArns?.length) items = input.RuleArns.map((arn) => this.ruleOutputByArn(arn));
    else if (input.ListenerArn) {
      const listener = this.listener(input.ListenerArn);
      items = [...this.rules.values()]
        .filter((r) => r.ListenerArn === listener.ListenerArn)
        .sort((a, b) => Number(a.Priority) - Number(b.Priority))
        .map((r) => this.ruleOutput(r));
      items.push(this.defaultRule(listener));
    } else {
      this.errors.invalid('You must specify either listener rule ARNs or a listener ARN');
    }
    const { page, next } = this.page(items, input);
    return { Rules: page, NextMarker: next };
  }

  /**
   * ModifyListener: `ListenerArn` required (ListenerNotFoundException); replaces `DefaultActions`
   * (validated as described in the module doc) and optionally `Port`/`Protocol`.
   */
  modifyListener(input: ModifyListenerInput): ModifyListenerOutput {
    this.errors.require(input, 'ListenerArn');
    this.errors.integerInRange('Port', input.Port, 1, 65535);
    const listener = this.listener(input.ListenerArn!);
    const actions = input.DefaultActions === undefined ? undefined : this.normalizeActions(input.DefaultActions, 'DefaultActions');
    if (actions) listener.DefaultActions = actions;
    if (input.Port !== undefined) listener.Port = input.Port;
    if (input.Protocol !== undefined) listener.Protocol = input.Protocol;
    return { Listeners: [copy(listener)] };
  }

  /**
   * ModifyRule: `RuleArn` required (RuleNotFoundException); replaces `Actions` and/or `Conditions`.
   * The default rule cannot be modified (OperationNotPermittedException; use ModifyListener).
   */
  modifyRule(input: ModifyRuleInput): ModifyRuleOutput {
    this.errors.require(input, 'RuleArn');
    const rule = this.rules.get(input.RuleArn!);
    if (!rule) {
      if (this.listenerOfDefaultRule(input.RuleArn!)) {
        this.errors.fail('OperationNotPermittedException', 'The default rule cannot be modified; use ModifyListener to change its actions');
      }
      this.errors.fail('RuleNotFoundException', 'One or more rules not found');
    }
    if (input.Actions !== undefined) rule.Actions = this.normalizeActions(input.Actions, 'Actions');
    if (input.Conditions !== undefined) rule.Conditions = copy(input.Conditions);
    return { Rules: [this.ruleOutput(rule)] };
  }

  /**
   * DescribeTargetHealth: `TargetGroupArn` required (TargetGroupNotFoundException). Targets come from the
   * registered target sources (running ECS service tasks are `healthy`, tasks being stopped `draining`);
   * a target group no listener or rule forwards to reports its targets `unused` (`Target.NotInUse`),
   * as AWS does. `Targets` filters by target id.
   */
  describeTargetHealth(input: DescribeTargetHealthInput): DescribeTargetHealthOutput {
    this.errors.require(input, 'TargetGroupArn');
    const tg = this.targetGroup(input.TargetGroupArn!);
    let descriptions = this.targetSources.flatMap((source) => source(tg.TargetGroupArn!));
    if (this.loadBalancerArnsOf(tg.TargetGroupArn!).length === 0) {
      descriptions = descriptions.map((d) => ({
        ...d,
        TargetHealth: { State: 'unused', Reason: 'Target.NotInUse', Description: 'Target group is not configured to receive traffic from the load balancer' },
      }));
    }
    const wanted = input.Targets?.map((t) => t.Id);
    if (wanted?.length) descriptions = descriptions.filter((d) => wanted.includes(d.Target?.Id));
    return { TargetHealthDescriptions: copy(descriptions) };
  }

  /**
   * DescribeTargetGroupAttributes: `TargetGroupArn` required (TargetGroupNotFoundException). The
   * simulator models one attribute, `deregistration_delay.timeout_seconds` (AWS default `300`).
   */
  describeTargetGroupAttributes(input: DescribeTargetGroupAttributesInput): DescribeTargetGroupAttributesOutput {
    this.errors.require(input, 'TargetGroupArn');
    const tg = this.targetGroup(input.TargetGroupArn!);
    return { Attributes: this.attributesOf(tg.TargetGroupArn!) };
  }

  /**
   * ModifyTargetGroupAttributes: `TargetGroupArn` (TargetGroupNotFoundException) and `Attributes`
   * required. `deregistration_delay.timeout_seconds` takes an integer 0-3600 (ValidationError
   * otherwise, as AWS); any other key is a ValidationError naming the keys the simulator supports.
   * Nothing changes unless every attribute is valid. Returns all attributes of the target group.
   */
  modifyTargetGroupAttributes(input: ModifyTargetGroupAttributesInput): ModifyTargetGroupAttributesOutput {
    this.errors.require(input, 'TargetGroupArn', 'Attributes');
    const tg = this.targetGroup(input.TargetGroupArn!);
    const changes: Record<string, string> = {};
    for (const a of input.Attributes!) {
      if (a.Key !== DEREGISTRATION_DELAY) {
        this.errors.invalid(`Target group attribute key '${String(a.Key)}' is not recognized; the cutover simulator supports: ${DEREGISTRATION_DELAY}`);
      }
      const value = a.Value ?? '';
      if (!/^\d+$/.test(value) || Number(value) > 3600) {
        this.errors.invalid(`'${DEREGISTRATION_DELAY}' value '${value}' is not valid: use an integer from 0 to 3600 (seconds)`);
      }
      changes[a.Key] = String(Number(value));
    }
    const arn = tg.TargetGroupArn!;
    this.targetGroupAttributes.set(arn, { ...this.targetGroupAttributes.get(arn), ...changes });
    return { Attributes: this.attributesOf(arn) };
  }

  // ---------------------------------------------------------------- internals

  private attributesOf(targetGroupArn: string): TargetGroupAttribute[] {
    const values = { [DEREGISTRATION_DELAY]: '300', ...this.targetGroupAttributes.get(targetGroupArn) };
    return Object.entries(values).map(([Key, Value]) => ({ Key, Value }));
  }

  private newLoadBalancer(arn: string, name: string, scheme: LoadBalancer['Scheme']): LoadBalancer {
    const lb: LoadBalancer = {
      LoadBalancerArn: arn,
      LoadBalancerName: name,
      DNSName: `${scheme === 'internal' ? 'internal-' : ''}${name}-${digitsId(10)}.${this.ctx.region}.elb.amazonaws.com`,
      CanonicalHostedZoneId: 'Z35SXDOTRQ7X7K',
      CreatedTime: new Date(this.nowMs()),
      Scheme: scheme,
      VpcId: 'vpc-0sim',
      State: { Code: 'active' },
      Type: 'application',
      AvailabilityZones: [
        { ZoneName: `${this.ctx.region}a`, SubnetId: 'subnet-0sima' },
        { ZoneName: `${this.ctx.region}b`, SubnetId: 'subnet-0simb' },
      ],
      SecurityGroups: ['sg-0sim'],
      IpAddressType: 'ipv4',
    };
    this.loadBalancers.set(arn, lb);
    return lb;
  }

  private newTargetGroup(arn: string, name: string, input: Partial<CreateTargetGroupInput>): TargetGroup {
    const tg: TargetGroup = {
      TargetGroupArn: arn,
      TargetGroupName: name,
      Protocol: input.Protocol ?? 'HTTP',
      Port: input.Port ?? 80,
      VpcId: input.VpcId ?? 'vpc-0sim',
      HealthCheckProtocol: input.HealthCheckProtocol ?? 'HTTP',
      HealthCheckPort: input.HealthCheckPort ?? 'traffic-port',
      HealthCheckEnabled: input.HealthCheckEnabled ?? true,
      HealthCheckIntervalSeconds: input.HealthCheckIntervalSeconds ?? 30,
      HealthCheckTimeoutSeconds: input.HealthCheckTimeoutSeconds ?? 5,
      HealthyThresholdCount: input.HealthyThresholdCount ?? 5,
      UnhealthyThresholdCount: input.UnhealthyThresholdCount ?? 2,
      HealthCheckPath: input.HealthCheckPath ?? '/',
      Matcher: input.Matcher ?? { HttpCode: '200' },
      TargetType: input.TargetType ?? 'instance',
      ProtocolVersion: input.ProtocolVersion ?? 'HTTP1',
      IpAddressType: 'ipv4',
    };
    this.targetGroups.set(arn, tg);
    return tg;
  }

  private newListener(arn: string, lbArn: string, port: number, protocol: Listener['Protocol'], actions: Action[]): Listener {
    const listener: Listener = { ListenerArn: arn, LoadBalancerArn: lbArn, Port: port, Protocol: protocol, DefaultActions: actions };
    this.listeners.set(arn, listener);
    return listener;
  }

  private checkName(name: string, what: string): void {
    if (!NAME.test(name)) {
      this.errors.invalid(`${what} name '${name}' must have 1-32 alphanumeric characters or hyphens, and must not begin or end with a hyphen`);
    }
  }

  /** Validate and normalise an action list (see the module doc for the rules). */
  private normalizeActions(actions: Action[], field: string): Action[] {
    if (!Array.isArray(actions) || actions.length === 0) this.errors.invalid(`${field} must contain at least one action`);
    return actions.map((a) => this.normalizeAction(a, field));
  }

  private normalizeAction(action: Action, field: string): Action {
    if (!action?.Type) this.errors.invalid(`${field}: every action needs a Type`);
    switch (action.Type) {
      case 'forward':
        return this.normalizeForward(action);
      case 'fixed-response':
        if (!action.FixedResponseConfig?.StatusCode) this.errors.invalid('A fixed-response action needs FixedResponseConfig.StatusCode');
        return copy(action);
      case 'redirect':
        if (!action.RedirectConfig?.StatusCode) this.errors.invalid('A redirect action needs RedirectConfig.StatusCode');
        return copy(action);
      case 'authenticate-cognito':
      case 'authenticate-oidc':
        return copy(action);
      default:
        return this.errors.invalid(`Action type '${String(action.Type)}' must be one of forward, fixed-response, redirect, authenticate-cognito, authenticate-oidc`);
    }
  }

  private normalizeForward(action: Action): Action {
    let groups: TargetGroupTuple[] | undefined = action.ForwardConfig?.TargetGroups;
    if (!groups || groups.length === 0) {
      if (!action.TargetGroupArn) this.errors.invalid('A forward action needs TargetGroupArn or ForwardConfig.TargetGroups');
      groups = [{ TargetGroupArn: action.TargetGroupArn, Weight: 1 }];
    } else if (action.TargetGroupArn && (groups.length !== 1 || groups[0]!.TargetGroupArn !== action.TargetGroupArn)) {
      this.errors.invalid('TargetGroupArn and ForwardConfig must specify the same single target group when both are given');
    }
    if (groups.length > 5) this.errors.invalid(`A forward action can have at most 5 target groups, got ${groups.length}`);
    const seen = new Set<string>();
    const normalized = groups.map((g) => {
      if (!g.TargetGroupArn) this.errors.invalid('Every target group in ForwardConfig needs a TargetGroupArn');
      if (!this.targetGroups.has(g.TargetGroupArn)) {
        this.errors.fail('TargetGroupNotFoundException', `One or more target groups not found: ${g.TargetGroupArn}`);
      }
      if (seen.has(g.TargetGroupArn)) this.errors.invalid(`Target group ${g.TargetGroupArn} is listed more than once in ForwardConfig`);
      seen.add(g.TargetGroupArn);
      const weight = g.Weight ?? 1;
      if (!Number.isInteger(weight) || weight < 0 || weight > 999) {
        this.errors.invalid(`Target group weight ${String(g.Weight)} for ${g.TargetGroupArn} is not valid: use an integer from 0 to 999`);
      }
      return { TargetGroupArn: g.TargetGroupArn, Weight: weight };
    });
    if (normalized.every((g) => g.Weight === 0)) {
      this.errors.invalid('At least one target group in a forward action must have a weight greater than 0');
    }
    const result: Action = {
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: normalized,
        TargetGroupStickinessConfig: copy(action.ForwardConfig?.TargetGroupStickinessConfig) ?? { Enabled: false },
      },
    };
    if (normalized.length === 1) result.TargetGroupArn = normalized[0]!.TargetGroupArn;
    if (action.Order !== undefined) result.Order = action.Order;
    return result;
  }

  private loadBalancer(arn: string): LoadBalancer {
    return this.loadBalancers.get(arn) ?? this.errors.fail('LoadBalancerNotFoundException', `One or more load balancers not found: ${arn}`);
  }

  private targetGroup(arn: string): TargetGroup {
    return this.targetGroups.get(arn) ?? this.errors.fail('TargetGroupNotFoundException', `One or more target groups not found: ${arn}`);
  }

  private listener(arn: string): Listener {
    return this.listeners.get(arn) ?? this.errors.fail('ListenerNotFoundException', `One or more listeners not found: ${arn}`);
  }

  /** The default rule's ARN of a listener: `...:listener-rule/app/<lb>/<id>/<l>/default` (stable per listener). */
  private defaultRuleArn(listenerArn: string): string {
    return `${listenerArn.replace(':listener/', ':listener-rule/')}/default`;
  }

  private listenerOfDefaultRule(ruleArn: string): Listener | undefined {
    if (!ruleArn.endsWith('/default')) return undefined;
    return this.listeners.get(ruleArn.slice(0, -'/default'.length).replace(':listener-rule/', ':listener/'));
  }

  private defaultRule(listener: Listener): Rule {
    return { RuleArn: this.defaultRuleArn(listener.ListenerArn!), Priority: 'default', Conditions: [], Actions: copy(listener.DefaultActions), IsDefault: true };
  }

  private ruleOutput(rule: SimRule): Rule {
    const { ListenerArn: _listener, ...out } = rule;
    return copy(out);
  }

  private ruleOutputByArn(arn: string): Rule {
    const rule = this.rules.get(arn);
    if (rule) return this.ruleOutput(rule);
    const listener = this.listenerOfDefaultRule(arn);
    if (listener) return this.defaultRule(listener);
    return this.errors.fail('RuleNotFoundException', `One or more rules not found: ${arn}`);
  }

  /** Actions of a listener (default actions) or a rule. */
  private routeActions(arn: string): Action[] {
    const listener = this.listeners.get(arn);
    if (listener) return listener.DefaultActions ?? [];
    if (arn.includes(':listener/')) return this.errors.fail('ListenerNotFoundException', `One or more listeners not found: ${arn}`);
    return this.ruleOutputByArn(arn).Actions ?? [];
  }

  private targetGroupOutput(tg: TargetGroup): TargetGroup {
    return { ...copy(tg), LoadBalancerArns: this.loadBalancerArnsOf(tg.TargetGroupArn!) };
  }

  private page<T>(items: T[], input: { Marker?: string; PageSize?: number }): { page: T[]; next?: string } {
    return paginate(items, { size: input.PageSize, token: input.Marker, defaultSize: 400, min: 1, max: 400, sizeField: 'PageSize' }, this.errors, () =>
      this.errors.invalid('The marker is not valid'),
    );
  }
}
