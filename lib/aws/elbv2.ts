/**
 * ELBv2 adapter: read and set the forward weights of a listener's default action or a listener rule.
 * Follows DescribeListeners / DescribeRules / ModifyListener / ModifyRule and DescribeTargetHealth.
 * Weights are 0-999 in ELB; cutover uses 0-100 (percent).
 * Errors: `TransientAwsError` for throttling / 5xx / timeouts, other SDK errors as they are; both name
 * the call and its ARN (see ./errors).
 */
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { elbv2Client } from './clients';
import { withRetryClassification } from './errors';
import { ResourceStateError } from '../domain/errors';
import type { Route } from '../domain/plan';

async function actionsOf(route: Route): Promise<Action[]> {
  const client = elbv2Client();
  if (route.kind === 'listener') {
    const out = await withRetryClassification(() => client.send(new DescribeListenersCommand({ ListenerArns: [route.arn] })), `ELBv2 DescribeListeners ${route.arn}`);
    return out.Listeners?.[0]?.DefaultActions ?? [];
  }
  const out = await withRetryClassification(() => client.send(new DescribeRulesCommand({ RuleArns: [route.arn] })), `ELBv2 DescribeRules ${route.arn}`);
  return out.Rules?.[0]?.Actions ?? [];
}

/**
 * The forward weights of a route: target group ARN → weight.
 * @throws ResourceStateError when the route has no forward action
 */
export async function getWeights(route: Route): Promise<Record<string, number>> {
  const forward = (await actionsOf(route)).find((a) => a.Type === 'forward');
  if (!forward) throw new ResourceStateError(`${route.arn} has no forward action; cutover shifts traffic by forward weights.`);
  const groups = forward.ForwardConfig?.TargetGroups;
  if (groups && groups.length > 0) {
    return Object.fromEntries(groups.map((g) => [g.TargetGroupArn!, g.Weight ?? 1]));
  }
  return forward.TargetGroupArn ? { [forward.TargetGroupArn]: 1 } : {};
}

/**
 * Set the route's forward action to the given weights, keeping its other actions (e.g. authenticate-*)
 * and the forward action's stickiness settings. Idempotent.
 */
export async function setWeights(route: Route, weights: Record<string, number>): Promise<void> {
  const actions = await actionsOf(route);
  const existing = actions.find((a) => a.Type === 'forward');
  const forward: Action = {
    Type: 'forward',
    Order: existing?.Order,
    ForwardConfig: {
      TargetGroups: Object.entries(weights).map(([TargetGroupArn, Weight]) => ({ TargetGroupArn, Weight })),
      ...(existing?.ForwardConfig?.TargetGroupStickinessConfig
        ? { TargetGroupStickinessConfig: existing.ForwardConfig.TargetGroupStickinessConfig }
        : {}),
    },
  };
  // Describe* never returns an OIDC client secret; Modify* needs it or UseExistingClientSecret.
  const kept = actions
    .filter((a) => a.Type !== 'forward')
    .map((a) => (a.AuthenticateOidcConfig ? { ...a, AuthenticateOidcConfig: { ...a.AuthenticateOidcConfig, UseExistingClientSecret: true } } : a));
  const next = [...kept, forward];
  const client = elbv2Client();
  if (route.kind === 'listener') {
    await withRetryClassification(() => client.send(new ModifyListenerCommand({ ListenerArn: route.arn, DefaultActions: next })), `ELBv2 ModifyListener ${route.arn}`);
  } else {
    await withRetryClassification(() => client.send(new ModifyRuleCommand({ RuleArn: route.arn, Actions: next })), `ELBv2 ModifyRule ${route.arn}`);
  }
}

/** Number of targets in state `healthy` in a target group. */
export async function healthyTargets(targetGroupArn: string): Promise<number> {
  const out = await withRetryClassification(
    () => elbv2Client().send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn })),
    `ELBv2 DescribeTargetHealth ${targetGroupArn}`,
  );
  return (out.TargetHealthDescriptions ?? []).filter((t) => t.TargetHealth?.State === 'healthy').length;
}
