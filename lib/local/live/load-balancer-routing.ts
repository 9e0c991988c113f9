/**
 * Pure routing helpers of the living twin's Application Load Balancer (no I/O): listener rule
 * evaluation, the action a request gets, weighted target group choice, health check matchers and
 * CloudWatch dimension values.
 *
 * Follows "Listener rules for your Application Load Balancer" (rules are evaluated in priority order,
 * lowest first, and the default rule last; every condition of a rule must match, and any value of a
 * condition; `*` matches 0 or more characters and `?` exactly one) and "Health checks for Application
 * Load Balancer target groups" (`Matcher.HttpCode`: `200`, `200,202` or `200-299`).
 */
import type { Action, Rule, RuleCondition } from '@aws-sdk/client-elastic-load-balancing-v2';

/** What rule evaluation looks at in a request. */
export interface RoutedRequest {
  /** Request target as received, e.g. `/api/orders?x=1` (the query string is ignored by path-pattern). */
  readonly url: string;
  /** The `Host` header, possibly with a port (`shop.example.com:8080`). */
  readonly host?: string;
}

/** `*` → any run of characters, `?` → one character; everything else literal. */
function wildcard(pattern: string, flags: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, flags);
}

/**
 * Whether one rule condition matches. `path-pattern` compares the path without the query string,
 * case-sensitive; `host-header` compares the host name without a port, case-insensitive. Values come
 * from `PathPatternConfig` / `HostHeaderConfig` or the legacy `Values`.
 * Other condition fields (http-header, query-string, http-request-method, source-ip) are not
 * implemented by the twin and never match.
 */
export function conditionMatches(condition: RuleCondition, req: RoutedRequest): boolean {
  switch (condition.Field) {
    case 'path-pattern': {
      const path = req.url.split('?')[0] ?? '/';
      const values = condition.PathPatternConfig?.Values ?? condition.Values ?? [];
      return values.some((v) => wildcard(v, '').test(path));
    }
    case 'host-header': {
      const host = (req.host ?? '').replace(/:\d+$/, '');
      const values = condition.HostHeaderConfig?.Values ?? condition.Values ?? [];
      return values.some((v) => wildcard(v, 'i').test(host));
    }
    default:
      return false;
  }
}

/**
 * The actions of the first rule whose conditions all match, rules taken by priority (numeric, lowest
 * first) with the default rule (`IsDefault`, no conditions) last.
 * @param rules a listener's rules as DescribeRules returns them (default rule included)
 * @returns the matching rule's actions, or undefined when none matches (a listener always has a default rule)
 */
export function matchRule(rules: readonly Rule[], req: RoutedRequest): { rule: Rule; actions: Action[] } | undefined {
  const ordered = [...rules].sort((a, b) => priority(a) - priority(b));
  for (const rule of ordered) {
    if ((rule.Conditions ?? []).every((c) => conditionMatches(c, req))) return { rule, actions: rule.Actions ?? [] };
  }
  return undefined;
}

function priority(rule: Rule): number {
  return rule.IsDefault || rule.Priority === 'default' ? Number.POSITIVE_INFINITY : Number(rule.Priority);
}

/**
 * The action that answers the request: the first `forward`, `fixed-response` or `redirect` action by
 * `Order` (actions without `Order` keep their list position, after ordered ones). `authenticate-*`
 * actions come before it on AWS; the twin skips them (no identity provider on loopback).
 */
export function terminalAction(actions: readonly Action[]): Action | undefined {
  const ordered = actions
    .map((a, i) => ({ a, key: a.Order ?? 50_001 + i }))
    .sort((x, y) => x.key - y.key)
    .map((x) => x.a);
  return ordered.find((a) => a.Type === 'forward' || a.Type === 'fixed-response' || a.Type === 'redirect');
}

/**
 * Pick a target group of a forward action by its weights (`ForwardConfig.TargetGroups[].Weight`,
 * omitted = 1; or the single `TargetGroupArn`).
 * @param random a function returning [0, 1) @default Math.random
 * @returns the target group ARN, or undefined when every weight is 0
 */
export function pickWeighted(action: Action, random: () => number = Math.random): string | undefined {
  const groups = action.ForwardConfig?.TargetGroups?.length
    ? action.ForwardConfig.TargetGroups.map((g) => ({ arn: g.TargetGroupArn!, weight: g.Weight ?? 1 }))
    : action.TargetGroupArn
      ? [{ arn: action.TargetGroupArn, weight: 1 }]
      : [];
  const candidates = groups.filter((g) => g.weight > 0);
  const total = candidates.reduce((sum, g) => sum + g.weight, 0);
  if (total === 0) return undefined;
  let r = random() * total;
  for (const g of candidates) {
    if (r < g.weight) return g.arn;
    r -= g.weight;
  }
  return candidates.at(-1)!.arn;
}

/**
 * Whether an HTTP status matches a target group's `Matcher.HttpCode`: a code (`200`), a list
 * (`200,202`) or a range (`200-299`), or a mix (`200,300-399`).
 * @param httpCode @default '200' (AWS default for HTTP health checks)
 */
export function statusMatches(status: number, httpCode = '200'): boolean {
  return httpCode.split(',').some((part) => {
    const [lo, hi] = part.trim().split('-').map((n) => Number(n.trim()));
    if (lo === undefined || Number.isNaN(lo)) return false;
    return hi === undefined ? status === lo : !Number.isNaN(hi) && status >= lo && status <= hi;
  });
}

/**
 * The `LoadBalancer` dimension of AWS/ApplicationELB metrics: `app/<name>/<id>`.
 * @param loadBalancerArn `arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>`
 */
export function loadBalancerDimension(loadBalancerArn: string): string {
  const i = loadBalancerArn.indexOf(':loadbalancer/');
  return i < 0 ? loadBalancerArn : loadBalancerArn.slice(i + ':loadbalancer/'.length);
}

/**
 * The `TargetGroup` dimension of AWS/ApplicationELB metrics: `targetgroup/<name>/<id>`.
 * @param targetGroupArn `arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>`
 */
export function targetGroupDimension(targetGroupArn: string): string {
  const i = targetGroupArn.indexOf(':targetgroup/');
  return i < 0 ? targetGroupArn : targetGroupArn.slice(i + 1);
}
