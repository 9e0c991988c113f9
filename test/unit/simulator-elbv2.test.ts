import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2ServiceException,
  ListenerNotFoundException,
  ModifyListenerCommand,
  ModifyRuleCommand,
  OperationNotPermittedException,
  PriorityInUseException,
  RuleNotFoundException,
  TargetGroupNotFoundException,
  type Action,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { elbv2Client } from '../../lib/aws/clients';
import { loadConfigFile, parseConfig } from '../../lib/config';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';

const SAMPLE = new URL('../fixtures/hello-world-production.json', import.meta.url).pathname;
const config = loadConfigFile(SAMPLE);
const env = config.services['hello-world']!.environments.production!;
const BLUE_TG = env.slots.blue.targetGroupArn;
const GREEN_TG = env.slots.green.targetGroupArn;
const PROD = (env.production as { listenerArn: string }).listenerArn;
const TEST = (env.test as { listenerArn: string }).listenerArn;

const forward = (weights: [string, number][]): Action[] => [
  { Type: 'forward', ForwardConfig: { TargetGroups: weights.map(([TargetGroupArn, Weight]) => ({ TargetGroupArn, Weight })) } },
];

/** Asserts that a promise rejects with the named ELBv2 error, an instance of the SDK's service exception. */
async function rejectsWith(promise: Promise<unknown>, name: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ElasticLoadBalancingV2ServiceException, `expected an ELBv2 service exception, got ${String(err)}`);
    assert.equal(err.name, name);
    if (message) assert.match(err.message, message);
    return true;
  });
}

let h: ConnectedSimulator;

describe('simulator: ELBv2', () => {
  beforeEach(() => {
    h = connectSimulator();
    h.sim.seedFromConfig(config);
  });
  afterEach(() => h.close());

  it('seeds the production listener 100/0 and the test listener 100 to green, with config ARNs verbatim', async () => {
    const out = await elbv2Client().send(new DescribeListenersCommand({ ListenerArns: [PROD, TEST] }));

    assert.deepEqual(out.Listeners![0]!.DefaultActions![0]!.ForwardConfig!.TargetGroups, [
      { TargetGroupArn: BLUE_TG, Weight: 100 },
      { TargetGroupArn: GREEN_TG, Weight: 0 },
    ]);
    assert.equal(out.Listeners![1]!.DefaultActions![0]!.TargetGroupArn, GREEN_TG);
    assert.equal(out.Listeners![0]!.LoadBalancerArn, 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/hello-world/50dc6c495c0c9188');
  });

  it('shifts weights with ModifyListener and reports them in AWS shape', async () => {
    const modified = await elbv2Client().send(new ModifyListenerCommand({ ListenerArn: PROD, DefaultActions: forward([[BLUE_TG, 90], [GREEN_TG, 10]]) }));
    const described = await elbv2Client().send(new DescribeListenersCommand({ ListenerArns: [PROD] }));

    const expected = {
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: BLUE_TG, Weight: 90 },
          { TargetGroupArn: GREEN_TG, Weight: 10 },
        ],
        TargetGroupStickinessConfig: { Enabled: false },
      },
    };
    assert.deepEqual(modified.Listeners![0]!.DefaultActions, [expected]);
    assert.deepEqual(described.Listeners![0]!.DefaultActions, [expected]);
    assert.deepEqual(h.sim.elbv2.weights(PROD), { [BLUE_TG]: 90, [GREEN_TG]: 10 });
  });

  it('accepts the single TargetGroupArn form and normalises it', async () => {
    await elbv2Client().send(new ModifyListenerCommand({ ListenerArn: PROD, DefaultActions: [{ Type: 'forward', TargetGroupArn: GREEN_TG }] }));

    assert.deepEqual(h.sim.elbv2.weights(PROD), { [GREEN_TG]: 1 });
  });

  it('validates forward weights and target groups', async () => {
    const modify = (actions: Action[]) => elbv2Client().send(new ModifyListenerCommand({ ListenerArn: PROD, DefaultActions: actions }));
    const others = [1, 2, 3, 4, 5].map((i) => h.sim.elbv2.seedTargetGroup(`arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg${i}/00000000000000${i}0`).TargetGroupArn!);

    await rejectsWith(modify(forward([[BLUE_TG, 1000], [GREEN_TG, 0]])), 'ValidationError', /0 to 999/);
    await rejectsWith(modify(forward([[BLUE_TG, -1]])), 'ValidationError', /0 to 999/);
    await rejectsWith(modify(forward([[BLUE_TG, 0], [GREEN_TG, 0]])), 'ValidationError', /greater than 0/);
    await rejectsWith(modify(forward([[BLUE_TG, 50], [BLUE_TG, 50]])), 'ValidationError', /more than once/);
    await rejectsWith(modify(forward([[BLUE_TG, 1], ...others.map((arn): [string, number] => [arn, 1])])), 'ValidationError', /at most 5/);
    await rejectsWith(modify([{ Type: 'forward', TargetGroupArn: BLUE_TG, ForwardConfig: { TargetGroups: [{ TargetGroupArn: GREEN_TG }] } }]), 'ValidationError');
    await rejectsWith(modify([]), 'ValidationError');
    await assert.rejects(modify(forward([[BLUE_TG, 50], [`${GREEN_TG}0`, 50]])), TargetGroupNotFoundException);
    await assert.rejects(
      elbv2Client().send(new ModifyListenerCommand({ ListenerArn: `${PROD}0`, DefaultActions: forward([[BLUE_TG, 1]]) })),
      ListenerNotFoundException,
    );
    assert.deepEqual(h.sim.elbv2.weights(PROD), { [BLUE_TG]: 100, [GREEN_TG]: 0 }, 'rejected calls change nothing');
  });

  it('routes by rule when the config gives a ruleArn; the default rule is read-only', async () => {
    const raw = structuredClone(config) as unknown as { services: Record<string, { environments: Record<string, Record<string, unknown>> }> };
    const ruleArn = `${PROD.replace(':listener/', ':listener-rule/')}/9f8e7d6c5b4a3210`;
    raw.services['hello-world']!.environments.production!.production = { ruleArn };
    delete raw.services['hello-world']!.environments.production!.test;
    delete raw.services['hello-world']!.environments.production!.verify;
    h.close();
    h = connectSimulator();
    h.sim.seedFromConfig(parseConfig(raw));

    await elbv2Client().send(new ModifyRuleCommand({ RuleArn: ruleArn, Actions: forward([[BLUE_TG, 75], [GREEN_TG, 25]]) }));
    const rules = await elbv2Client().send(new DescribeRulesCommand({ ListenerArn: PROD }));
    const byArn = await elbv2Client().send(new DescribeRulesCommand({ RuleArns: [ruleArn] }));

    assert.deepEqual(rules.Rules!.map((r) => [r.Priority, r.IsDefault]), [['1', false], ['default', true]]);
    assert.equal(rules.Rules![1]!.Actions![0]!.Type, 'fixed-response');
    assert.deepEqual(byArn.Rules![0]!.Actions![0]!.ForwardConfig!.TargetGroups!.map((g) => g.Weight), [75, 25]);
    assert.deepEqual(h.sim.elbv2.weights(ruleArn), { [BLUE_TG]: 75, [GREEN_TG]: 25 });
    await assert.rejects(
      elbv2Client().send(new ModifyRuleCommand({ RuleArn: rules.Rules![1]!.RuleArn!, Actions: forward([[BLUE_TG, 1]]) })),
      OperationNotPermittedException,
    );
    await assert.rejects(elbv2Client().send(new ModifyRuleCommand({ RuleArn: `${ruleArn}0`, Actions: forward([[BLUE_TG, 1]]) })), RuleNotFoundException);
  });

  it('picks target groups by weight', async () => {
    await elbv2Client().send(new ModifyListenerCommand({ ListenerArn: PROD, DefaultActions: forward([[BLUE_TG, 90], [GREEN_TG, 10]]) }));

    assert.equal(h.sim.elbv2.pickTargetGroup(PROD, () => 0), BLUE_TG);
    assert.equal(h.sim.elbv2.pickTargetGroup(PROD, () => 0.899), BLUE_TG);
    assert.equal(h.sim.elbv2.pickTargetGroup(PROD, () => 0.9), GREEN_TG);
    assert.equal(h.sim.elbv2.pickTargetGroup(PROD, () => 0.999), GREEN_TG);
    const counts = { [BLUE_TG]: 0, [GREEN_TG]: 0 };
    for (let i = 0; i < 1000; i++) counts[h.sim.elbv2.pickTargetGroup(PROD, () => i / 1000)!]! += 1;
    assert.deepEqual(counts, { [BLUE_TG]: 900, [GREEN_TG]: 100 });
  });

  it('creates load balancers, target groups, listeners and rules, validating them', async () => {
    const lb = (await elbv2Client().send(new CreateLoadBalancerCommand({ Name: 'shop', Subnets: ['subnet-1'] }))).LoadBalancers![0]!;
    const tg = (await elbv2Client().send(new CreateTargetGroupCommand({ Name: 'shop-blue', Protocol: 'HTTP', Port: 8080, VpcId: 'vpc-1', TargetType: 'ip' })))
      .TargetGroups![0]!;
    const listener = (
      await elbv2Client().send(
        new CreateListenerCommand({ LoadBalancerArn: lb.LoadBalancerArn, Protocol: 'HTTP', Port: 80, DefaultActions: forward([[tg.TargetGroupArn!, 1]]) }),
      )
    ).Listeners![0]!;
    const rule = (
      await elbv2Client().send(
        new CreateRuleCommand({
          ListenerArn: listener.ListenerArn,
          Priority: 10,
          Conditions: [{ Field: 'path-pattern', Values: ['/api/*'] }],
          Actions: forward([[tg.TargetGroupArn!, 1]]),
        }),
      )
    ).Rules![0]!;
    const groups = await elbv2Client().send(new DescribeTargetGroupsCommand({ LoadBalancerArn: lb.LoadBalancerArn }));

    assert.match(lb.LoadBalancerArn!, /^arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer\/app\/shop\/[0-9a-f]{16}$/);
    assert.match(listener.ListenerArn!, /:listener\/app\/shop\/[0-9a-f]{16}\/[0-9a-f]{16}$/);
    assert.match(rule.RuleArn!, /:listener-rule\/app\/shop\/[0-9a-f]{16}\/[0-9a-f]{16}\/[0-9a-f]{16}$/);
    assert.deepEqual(groups.TargetGroups!.map((g) => [g.TargetGroupName, g.LoadBalancerArns]), [['shop-blue', [lb.LoadBalancerArn]]]);
    await rejectsWith(elbv2Client().send(new CreateLoadBalancerCommand({ Name: '-bad-' })), 'ValidationError');
    await assert.rejects(
      elbv2Client().send(
        new CreateRuleCommand({ ListenerArn: listener.ListenerArn, Priority: 10, Conditions: [{ Field: 'path-pattern', Values: ['/x'] }], Actions: forward([[tg.TargetGroupArn!, 1]]) }),
      ),
      PriorityInUseException,
    );
    await rejectsWith(elbv2Client().send(new DescribeListenersCommand({})), 'ValidationError', /listener ARNs or a load balancer ARN/);
  });

  it('paginates with Marker / PageSize', async () => {
    const first = await elbv2Client().send(new DescribeTargetGroupsCommand({ PageSize: 1 }));
    const second = await elbv2Client().send(new DescribeTargetGroupsCommand({ PageSize: 1, Marker: first.NextMarker }));
    const all = await elbv2Client().send(new DescribeLoadBalancersCommand({}));

    assert.equal(first.TargetGroups![0]!.TargetGroupArn, BLUE_TG);
    assert.ok(first.NextMarker);
    assert.equal(second.TargetGroups![0]!.TargetGroupArn, GREEN_TG);
    assert.equal(second.NextMarker, undefined);
    assert.equal(all.LoadBalancers!.length, 1);
    await rejectsWith(elbv2Client().send(new DescribeTargetGroupsCommand({ PageSize: 401 })), 'ValidationError');
    await rejectsWith(elbv2Client().send(new DescribeTargetGroupsCommand({ Marker: 'garbage' })), 'ValidationError');
  });

  it('reports target health of the live slot and fails for unknown target groups', async () => {
    const health = await elbv2Client().send(new DescribeTargetHealthCommand({ TargetGroupArn: BLUE_TG }));

    assert.equal(health.TargetHealthDescriptions!.length, 2);
    assert.deepEqual(health.TargetHealthDescriptions![0]!.Target!.Port, 8080);
    await assert.rejects(elbv2Client().send(new DescribeTargetHealthCommand({ TargetGroupArn: `${BLUE_TG}0` })), TargetGroupNotFoundException);
  });
});
