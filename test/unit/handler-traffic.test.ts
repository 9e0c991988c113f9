import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  ListenerNotFoundException,
  DescribeTargetHealthCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { elbv2Mock, resetSdkMocks, sdkError, throttlingError } from '../helpers/sdk-mocks';
import { planFrom } from '../helpers/plans';
import { handler } from '../../lambdas/traffic/handler';

const RULE_ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/hello-world/50dc6c495c0c9188/f2f7dc8efc522ab2/9a8b7c6d5e4f3a2b';
const plan = planFrom();
const BLUE = plan.slots.blue.targetGroupArn;
const GREEN = plan.slots.green.targetGroupArn;
const LISTENER = plan.production.arn;

const oidc: Action = {
  Type: 'authenticate-oidc',
  Order: 1,
  AuthenticateOidcConfig: {
    Issuer: 'https://idp.example.com',
    AuthorizationEndpoint: 'https://idp.example.com/authorize',
    TokenEndpoint: 'https://idp.example.com/token',
    UserInfoEndpoint: 'https://idp.example.com/userinfo',
    ClientId: 'client',
  },
};
const stickiness = { Enabled: true, DurationSeconds: 3600 };
const forward = (blue: number, green: number): Action => ({
  Type: 'forward',
  Order: 2,
  ForwardConfig: {
    TargetGroups: [
      { TargetGroupArn: BLUE, Weight: blue },
      { TargetGroupArn: GREEN, Weight: green },
    ],
    TargetGroupStickinessConfig: stickiness,
  },
});
const listenerWith = (...actions: Action[]) =>
  elbv2Mock.on(DescribeListenersCommand, { ListenerArns: [LISTENER] }).resolves({ Listeners: [{ ListenerArn: LISTENER, DefaultActions: actions }] });
const healthy = (tg: string, n: number) =>
  elbv2Mock.on(DescribeTargetHealthCommand, { TargetGroupArn: tg }).resolves({
    TargetHealthDescriptions: [
      ...Array.from({ length: n }, (_, i) => ({ Target: { Id: `10.0.0.${i}` }, TargetHealth: { State: 'healthy' as const } })),
      { Target: { Id: '10.0.1.1' }, TargetHealth: { State: 'unhealthy' as const } },
    ],
  });
/** The kept action minus `UseExistingClientSecret` (which the ModifyListener call may add). */
const withoutSecretFlag = (a: Action | undefined): Action | undefined => {
  if (!a?.AuthenticateOidcConfig) return a;
  const { UseExistingClientSecret: _flag, ...config } = a.AuthenticateOidcConfig;
  return { ...a, AuthenticateOidcConfig: config as Action['AuthenticateOidcConfig'] };
};
const weightsSent = (actions: Action[] | undefined) =>
  Object.fromEntries(actions!.find((a) => a.Type === 'forward')!.ForwardConfig!.TargetGroups!.map((g) => [g.TargetGroupArn, g.Weight]));

describe('traffic handler', () => {
  beforeEach(() => resetSdkMocks());

  describe('discover', () => {
    it('finds the live slot from the production listener’s weights', async () => {
      listenerWith(oidc, forward(0, 100));
      const out = await handler({ action: 'discover', plan });
      assert.deepEqual(out, { live: 'green', idle: 'blue', weights: { blue: 0, green: 100 } });
    });

    it('a plain forward to one target group counts as weight 1 → that slot is live', async () => {
      listenerWith({ Type: 'forward', TargetGroupArn: BLUE });
      const out = await handler({ action: 'discover', plan });
      assert.deepEqual(out, { live: 'blue', idle: 'green', weights: { blue: 1, green: 0 } });
    });

    it('a listener without a forward action is Cutover.ResourceState', async () => {
      listenerWith({ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503' } });
      await assert.rejects(handler({ action: 'discover', plan }), { name: 'Cutover.ResourceState', message: /has no forward action/ });
    });

    it('throttling → Cutover.Transient', async () => {
      elbv2Mock.on(DescribeListenersCommand).rejects(throttlingError('elbv2', 'Rate exceeded'));
      await assert.rejects(handler({ action: 'discover', plan }), { name: 'Cutover.Transient' });
    });

    it('a vanished listener fails with ELBv2’s own error, its message naming the call and the listener', async () => {
      elbv2Mock.on(DescribeListenersCommand).rejects(sdkError(ListenerNotFoundException, 'One or more listeners not found'));
      await assert.rejects(handler({ action: 'discover', plan }), (err: Error) => {
        assert.ok(err instanceof ListenerNotFoundException);
        assert.equal(err.message, `ELBv2 DescribeListeners ${plan.production.arn} failed: ListenerNotFoundException: One or more listeners not found`);
        return true;
      });
    });
  });

  describe('shift', () => {
    it('sets the step’s weights with ModifyListener, keeping authenticate-oidc and stickiness', async () => {
      listenerWith(oidc, forward(100, 0));
      const out = await handler({ action: 'shift', plan, slots: { live: 'blue', idle: 'green' }, index: 0 });
      assert.deepEqual(out, { index: 0, percent: 10, bakeSeconds: 300, last: false, nextIndex: 1 });
      const calls = elbv2Mock.commandCalls(ModifyListenerCommand);
      assert.equal(calls.length, 1);
      const input = calls[0]!.args[0].input;
      assert.equal(input.ListenerArn, LISTENER);
      assert.deepEqual(withoutSecretFlag(input.DefaultActions!.find((a) => a.Type === 'authenticate-oidc')), oidc);
      const fwd = input.DefaultActions!.find((a) => a.Type === 'forward')!;
      assert.equal(fwd.Order, 2);
      assert.deepEqual(fwd.ForwardConfig!.TargetGroupStickinessConfig, stickiness);
      assert.deepEqual(weightsSent(input.DefaultActions), { [GREEN]: 10, [BLUE]: 90 });
      assert.equal(input.DefaultActions!.length, 2);
      assert.equal(elbv2Mock.commandCalls(ModifyRuleCommand).length, 0);
    });

    it(
      'the kept authenticate-oidc action reuses the existing client secret (Describe never returns ClientSecret)',
      async () => {
        listenerWith(oidc, forward(100, 0));
        await handler({ action: 'shift', plan, slots: { live: 'blue', idle: 'green' }, index: 0 });
        const kept = elbv2Mock.commandCalls(ModifyListenerCommand)[0]!.args[0].input.DefaultActions!.find((a) => a.Type === 'authenticate-oidc')!;
        assert.equal(kept.AuthenticateOidcConfig!.UseExistingClientSecret, true);
      },
    );

    it('the last step puts 100% on the idle slot (green live → blue gets it)', async () => {
      listenerWith(forward(10, 90));
      const out = (await handler({ action: 'shift', plan, slots: { live: 'green', idle: 'blue' }, index: 1 })) as Record<string, unknown>;
      assert.equal(out.last, true);
      assert.equal(out.percent, 100);
      assert.deepEqual(weightsSent(elbv2Mock.commandCalls(ModifyListenerCommand)[0]!.args[0].input.DefaultActions), { [BLUE]: 100, [GREEN]: 0 });
    });

    it('a rule route uses DescribeRules / ModifyRule, not the listener', async () => {
      const rulePlan = planFrom((env) => (env.production = { ruleArn: RULE_ARN }));
      elbv2Mock.on(DescribeRulesCommand, { RuleArns: [RULE_ARN] }).resolves({ Rules: [{ RuleArn: RULE_ARN, Actions: [forward(100, 0)] }] });
      await handler({ action: 'shift', plan: rulePlan, slots: { live: 'blue', idle: 'green' }, index: 0 });
      assert.equal(elbv2Mock.commandCalls(ModifyListenerCommand).length, 0);
      assert.equal(elbv2Mock.commandCalls(DescribeListenersCommand).length, 0);
      const input = elbv2Mock.commandCalls(ModifyRuleCommand)[0]!.args[0].input;
      assert.equal(input.RuleArn, RULE_ARN);
      assert.deepEqual(weightsSent(input.Actions), { [GREEN]: 10, [BLUE]: 90 });
    });

    it('an index past the last step is Cutover.InvalidInput and changes nothing', async () => {
      await assert.rejects(handler({ action: 'shift', plan, slots: { live: 'blue', idle: 'green' }, index: 2 }), {
        name: 'Cutover.InvalidInput',
        message: /step index 2 is out of range \(plan has 2 steps\)/,
      });
      assert.equal(elbv2Mock.calls().length, 0);
    });
  });

  describe('pointTest', () => {
    it('points the test listener 100% at the idle slot, leaving production alone', async () => {
      const TEST = plan.test!.arn;
      elbv2Mock.on(DescribeListenersCommand, { ListenerArns: [TEST] }).resolves({ Listeners: [{ ListenerArn: TEST, DefaultActions: [forward(100, 0)] }] });
      const out = await handler({ action: 'pointTest', plan, slots: { live: 'blue', idle: 'green' } });
      assert.deepEqual(out, { route: TEST, slot: 'green', message: 'test listener forwards 100% to green' });
      const calls = elbv2Mock.commandCalls(ModifyListenerCommand).map((c) => c.args[0].input);
      assert.equal(calls.length, 1);
      assert.equal(calls[0]!.ListenerArn, TEST);
      assert.deepEqual(weightsSent(calls[0]!.DefaultActions), { [GREEN]: 100, [BLUE]: 0 });
    });

    it('fails as Cutover.InvalidInput when the environment has no test listener', async () => {
      const noTest = planFrom((env) => (delete env.test, delete env.verify));
      await assert.rejects(handler({ action: 'pointTest', plan: noTest, slots: { live: 'blue', idle: 'green' } }), { name: 'Cutover.InvalidInput' });
      assert.equal(elbv2Mock.commandCalls(ModifyListenerCommand).length, 0);
    });
  });

  describe('rollback', () => {
    it('live healthy → 100/0 back on live', async () => {
      healthy(BLUE, 3);
      listenerWith(oidc, forward(90, 10));
      const out = await handler({ action: 'rollback', plan, slots: { live: 'blue', idle: 'green' } });
      assert.deepEqual(out, { trafficOn: 'blue', idleHasTraffic: false, message: '100% of production traffic on blue (3 healthy targets)' });
      const input = elbv2Mock.commandCalls(ModifyListenerCommand)[0]!.args[0].input;
      assert.deepEqual(weightsSent(input.DefaultActions), { [BLUE]: 100, [GREEN]: 0 });
      assert.deepEqual(withoutSecretFlag(input.DefaultActions!.find((a) => a.Type === 'authenticate-oidc')), oidc);
    });

    it('live with 0 healthy targets → does not modify the listener and reports idleHasTraffic', async () => {
      healthy(BLUE, 0);
      healthy(GREEN, 2);
      listenerWith(forward(50, 50));
      const out = await handler({ action: 'rollback', plan, slots: { live: 'blue', idle: 'green' } });
      assert.deepEqual(out, {
        trafficOn: 'green',
        idleHasTraffic: true,
        message: 'blue has no healthy targets, so traffic was not moved onto it (green has 2 healthy)',
      });
      assert.equal(elbv2Mock.commandCalls(ModifyListenerCommand).length, 0);
      assert.equal(elbv2Mock.commandCalls(ModifyRuleCommand).length, 0);
    });

    it('live with 0 healthy targets and no traffic on idle yet → traffic stays on live, untouched', async () => {
      healthy(BLUE, 0);
      healthy(GREEN, 0);
      listenerWith(forward(100, 0));
      const out = (await handler({ action: 'rollback', plan, slots: { live: 'blue', idle: 'green' } })) as Record<string, unknown>;
      assert.equal(out.idleHasTraffic, false);
      assert.equal(out.trafficOn, 'blue');
      assert.equal(elbv2Mock.commandCalls(ModifyListenerCommand).length, 0);
    });
  });
});
