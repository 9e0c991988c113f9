import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeAlarmsCommand, type DescribeAlarmsCommandInput, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { cloudWatchMock, resetSdkMocks, throttlingError } from '../helpers/sdk-mocks';
import { handler } from '../../lambdas/alarm-check/handler';

const alarm = (name: string, state = 'OK', reason = 'Threshold Crossed: no datapoints'): MetricAlarm => ({
  AlarmName: name,
  StateValue: state as MetricAlarm['StateValue'],
  StateReason: reason,
  StateUpdatedTimestamp: new Date('2024-05-01T12:00:00Z'),
});

/** CloudWatch answering for exactly the names asked, with `states` overriding OK. */
function alarmsExist(states: Record<string, string> = {}) {
  cloudWatchMock.on(DescribeAlarmsCommand).callsFake((input: DescribeAlarmsCommandInput) => ({
    MetricAlarms: (input.AlarmNames ?? []).map((n) => alarm(n, states[n] ?? 'OK', states[n] === 'ALARM' ? '5xx > 10 for 1 datapoint' : 'ok')),
  }));
}

describe('alarm-check handler', () => {
  beforeEach(() => resetSdkMocks());

  it('no alarms configured: not alarming, and CloudWatch is not called', async () => {
    const out = await handler({ alarms: [] });
    assert.deepEqual(out, { alarming: false, firing: [], message: 'no alarms configured' });
    assert.equal(cloudWatchMock.calls().length, 0);
  });

  it('all alarms OK: not alarming', async () => {
    alarmsExist();
    const out = await handler({ alarms: ['a-5xx', 'a-latency'], phase: 'during the bake at 10%' });
    assert.equal(out.alarming, false);
    assert.deepEqual(out.firing, []);
    assert.equal(out.message, 'all 2 alarm(s) OK during the bake at 10%');
    const input = cloudWatchMock.commandCalls(DescribeAlarmsCommand)[0]!.args[0].input;
    assert.deepEqual(input.AlarmNames, ['a-5xx', 'a-latency']);
    assert.deepEqual(input.AlarmTypes, ['MetricAlarm', 'CompositeAlarm']);
  });

  it('one alarm in ALARM: alarming, the message names it, the phase and the reason', async () => {
    alarmsExist({ 'a-5xx': 'ALARM' });
    const out = await handler({ alarms: ['a-5xx', 'a-latency'], phase: 'during the bake at 10%' });
    assert.equal(out.alarming, true);
    assert.deepEqual(out.firing.map((f) => [f.name, f.state, f.since]), [['a-5xx', 'ALARM', '2024-05-01T12:00:00.000Z']]);
    assert.equal(out.message, 'alarm a-5xx is in ALARM during the bake at 10%: 5xx > 10 for 1 datapoint');
  });

  it('INSUFFICIENT_DATA is not alarming', async () => {
    alarmsExist({ 'a-5xx': 'INSUFFICIENT_DATA' });
    const out = await handler({ alarms: ['a-5xx'] });
    assert.equal(out.alarming, false);
  });

  it('composite alarms count too', async () => {
    cloudWatchMock.on(DescribeAlarmsCommand).resolves({ CompositeAlarms: [{ AlarmName: 'svc-health', StateValue: 'ALARM', StateReason: 'child in ALARM' }] });
    const out = await handler({ alarms: ['svc-health'] });
    assert.equal(out.alarming, true);
    assert.match(out.message, /alarm svc-health is in ALARM: child in ALARM/);
  });

  it('a configured alarm that does not exist fails with Cutover.ResourceState naming it and the fix', async () => {
    cloudWatchMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [alarm('a-5xx')] });
    await assert.rejects(handler({ alarms: ['a-5xx', 'a-typo'] }), {
      name: 'Cutover.ResourceState',
      message: /^Alarm\(s\) a-typo do not exist in CloudWatch \(DescribeAlarms lists none of that name\); create them or fix "alarms" in the config\./,
    });
  });

  it('more than 100 names are asked in chunks of at most 100', async () => {
    alarmsExist({ 'alarm-205': 'ALARM' });
    const names = Array.from({ length: 250 }, (_, i) => `alarm-${i}`);
    const out = await handler({ alarms: names });
    const calls = cloudWatchMock.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input.AlarmNames!);
    assert.deepEqual(calls.map((c) => c.length), [100, 100, 50]);
    assert.deepEqual(calls.flat(), names);
    assert.equal(out.alarming, true);
    assert.equal(out.firing[0]!.name, 'alarm-205');
  });

  it('follows NextToken within a chunk', async () => {
    cloudWatchMock
      .on(DescribeAlarmsCommand)
      .resolvesOnce({ MetricAlarms: [alarm('a')], NextToken: 'page-2' })
      .resolvesOnce({ MetricAlarms: [alarm('b', 'ALARM', 'high')] });
    const out = await handler({ alarms: ['a', 'b'] });
    const calls = cloudWatchMock.commandCalls(DescribeAlarmsCommand);
    assert.equal(calls.length, 2);
    assert.equal(calls[1]!.args[0].input.NextToken, 'page-2');
    assert.equal(out.alarming, true);
  });

  it('throttling becomes Cutover.Transient (retried by the state machine)', async () => {
    cloudWatchMock.on(DescribeAlarmsCommand).rejects(throttlingError('cloudwatch'));
    await assert.rejects(handler({ alarms: ['a'] }), { name: 'Cutover.Transient', message: /ThrottlingException: Rate exceeded/ });
  });

  it('a malformed event is Cutover.InvalidInput', async () => {
    await assert.rejects(handler({ alarms: 'a' }), { name: 'Cutover.InvalidInput' });
  });
});
