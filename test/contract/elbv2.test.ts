/**
 * Contract: ELBv2 as cutover calls it (lib/aws/elbv2.ts; ELBv2 reads of lib/aws/inspect.ts) —
 * DescribeListeners, DescribeRules, ModifyListener, ModifyRule, DescribeTargetHealth — on moto and on
 * the twin's simulator, with the same assertions.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ListenerNotFoundException,
  ModifyListenerCommand,
  RuleNotFoundException,
  TargetGroupNotFoundException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { elbv2Client } from '../../lib/aws/clients';
import { getWeights, healthyTargets, setWeights } from '../../lib/aws/elbv2';
import { describeRouteActions, forwardTargets } from '../../lib/aws/inspect';
import { ACCOUNT, REGION } from './support/backends';
import { contract, rejectsWith } from './support/suite';

contract('ELBv2 (lib/aws/elbv2.ts, lib/aws/inspect.ts)', (ctx) => {
  const unknownListener = () => `${ctx.fx.listenerArn.replace(/\/[0-9a-f]+$/, '')}/0123456789abcdef`;

  it('DescribeListeners: a weighted forward default action, as cutover reads weights', async () => {
    assert.deepEqual(await getWeights({ kind: 'listener', arn: ctx.fx.listenerArn }), { [ctx.fx.targetGroups.blue]: 100, [ctx.fx.targetGroups.green]: 0 });
    const out = await elbv2Client().send(new DescribeListenersCommand({ ListenerArns: [ctx.fx.listenerArn] }));
    const l = out.Listeners?.[0];
    assert.equal(l?.ListenerArn, ctx.fx.listenerArn);
    assert.match(ctx.fx.listenerArn, new RegExp(`^arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener/app/contract-alb/[0-9a-f]+/[0-9a-f]+$`));
    assert.equal(l?.LoadBalancerArn, ctx.fx.loadBalancerArn);
    assert.equal(l?.Port, 80);
    assert.equal(l?.DefaultActions?.length, 1);
    assert.equal(l?.DefaultActions?.[0]?.Type, 'forward');
  });

  it('DescribeListeners: a plain TargetGroupArn forward counts as weight 1', async () => {
    assert.deepEqual(await getWeights({ kind: 'listener', arn: ctx.fx.testListenerArn }), { [ctx.fx.targetGroups.green]: 1 });
  });

  it('ModifyListener: weights shifted by setWeights are what DescribeListeners answers next', async () => {
    const route = { kind: 'listener' as const, arn: ctx.fx.listenerArn };
    await setWeights(route, { [ctx.fx.targetGroups.blue]: 90, [ctx.fx.targetGroups.green]: 10 });
    assert.deepEqual(await getWeights(route), { [ctx.fx.targetGroups.blue]: 90, [ctx.fx.targetGroups.green]: 10 });
    await setWeights(route, { [ctx.fx.targetGroups.blue]: 0, [ctx.fx.targetGroups.green]: 100 });
    assert.deepEqual(await getWeights(route), { [ctx.fx.targetGroups.blue]: 0, [ctx.fx.targetGroups.green]: 100 });
    await setWeights(route, { [ctx.fx.targetGroups.blue]: 100, [ctx.fx.targetGroups.green]: 0 });
  });

  it('DescribeRules / ModifyRule: a listener rule\'s weights', async () => {
    const route = { kind: 'rule' as const, arn: ctx.fx.ruleArn };
    assert.deepEqual(await getWeights(route), { [ctx.fx.targetGroups.blue]: 100, [ctx.fx.targetGroups.green]: 0 });
    await setWeights(route, { [ctx.fx.targetGroups.blue]: 50, [ctx.fx.targetGroups.green]: 50 });
    assert.deepEqual(await getWeights(route), { [ctx.fx.targetGroups.blue]: 50, [ctx.fx.targetGroups.green]: 50 });
    const rule = (await elbv2Client().send(new DescribeRulesCommand({ RuleArns: [ctx.fx.ruleArn] }))).Rules?.[0];
    assert.equal(rule?.Priority, '10');
    assert.equal(rule?.IsDefault, false);
    assert.deepEqual(rule?.Conditions?.[0]?.PathPatternConfig?.Values ?? rule?.Conditions?.[0]?.Values, ['/api/*']);
  });

  it('inspect: describeRouteActions and forwardTargets of a listener and a rule', async () => {
    const actions = await describeRouteActions({ listenerArn: ctx.fx.listenerArn });
    assert.deepEqual(forwardTargets(actions ?? []), [
      { targetGroupArn: ctx.fx.targetGroups.blue, weight: 100 },
      { targetGroupArn: ctx.fx.targetGroups.green, weight: 0 },
    ]);
    assert.equal(forwardTargets((await describeRouteActions({ ruleArn: ctx.fx.ruleArn })) ?? [])?.length, 2);
  });

  it('DescribeListeners / ModifyListener: an unknown listener is ListenerNotFoundException (inspect: undefined)', async () => {
    await rejectsWith(getWeights({ kind: 'listener', arn: unknownListener() }), 'ListenerNotFoundException', ListenerNotFoundException);
    await rejectsWith(
      elbv2Client().send(new ModifyListenerCommand({ ListenerArn: unknownListener(), DefaultActions: [{ Type: 'forward', TargetGroupArn: ctx.fx.targetGroups.blue }] })),
      'ListenerNotFoundException',
      ListenerNotFoundException,
    );
    assert.equal(await describeRouteActions({ listenerArn: unknownListener() }), undefined);
  });

  it('DescribeRules: an unknown rule is RuleNotFoundException (inspect: undefined)', async () => {
    const unknownRule = `${ctx.fx.ruleArn.replace(/\/[0-9a-f]+$/, '')}/0123456789abcdef`;
    await rejectsWith(getWeights({ kind: 'rule', arn: unknownRule }), 'RuleNotFoundException', RuleNotFoundException);
    assert.equal(await describeRouteActions({ ruleArn: unknownRule }), undefined);
  });

  it('DescribeTargetHealth: a count of healthy targets; an unknown target group is TargetGroupNotFoundException', async () => {
    const out = await elbv2Client().send(new DescribeTargetHealthCommand({ TargetGroupArn: ctx.fx.targetGroups.green }));
    assert.ok(Array.isArray(out.TargetHealthDescriptions));
    assert.equal(typeof (await healthyTargets(ctx.fx.targetGroups.blue)), 'number');
    const unknown = `${ctx.fx.targetGroups.blue.replace(/\/[0-9a-f]+$/, '')}/0123456789abcdef`.replace('contract-blue', 'no-such-tg');
    await rejectsWith(healthyTargets(unknown), 'TargetGroupNotFoundException', TargetGroupNotFoundException);
  });

  it('DescribeTargetHealth: the live service\'s task is a healthy target of its group', ctx.notOnMoto('ECS services register no targets with their target groups'), async () => {
    assert.equal(await healthyTargets(ctx.fx.targetGroups.blue), 1);
    assert.equal(await healthyTargets(ctx.fx.targetGroups.green), 0);
  });
});
