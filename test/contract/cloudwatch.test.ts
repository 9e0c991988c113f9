/**
 * Contract: CloudWatch DescribeAlarms as cutover calls it (lib/aws/cloudwatch.ts, lib/aws/inspect.ts):
 * metric alarms by name, their state, reason and last change, names that do not exist, and the
 * 100-names-per-call chunking — on moto and on the twin's simulator.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { cloudWatchClient } from '../../lib/aws/clients';
import { describeAlarmStates } from '../../lib/aws/cloudwatch';
import { describeAlarms } from '../../lib/aws/inspect';
import { contract, rejectsWith } from './support/suite';

contract('CloudWatch (lib/aws/cloudwatch.ts, lib/aws/inspect.ts)', (ctx) => {
  it('DescribeAlarms: state, reason and time of the last change of each named alarm; unknown names are absent', async () => {
    const states = await describeAlarmStates([ctx.fx.alarms.firing, ctx.fx.alarms.ok, 'no-such-alarm']);
    const byName = new Map(states.map((s) => [s.name, s]));
    assert.deepEqual([...byName.keys()].sort(), [ctx.fx.alarms.firing, ctx.fx.alarms.ok].sort());
    assert.equal(byName.get(ctx.fx.alarms.firing)?.state, 'ALARM');
    assert.equal(byName.get(ctx.fx.alarms.firing)?.reason, 'contract: 5xx above threshold');
    assert.equal(byName.get(ctx.fx.alarms.ok)?.state, 'OK');
    for (const s of states) assert.match(s.since ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  it('DescribeAlarms: more than 100 names are asked in chunks of 100 (the API limit)', async () => {
    const names = [...Array.from({ length: 120 }, (_, i) => `missing-${i}`), ctx.fx.alarms.firing];
    const states = await describeAlarmStates(names);
    assert.deepEqual(states.map((s) => s.name), [ctx.fx.alarms.firing]);
  });

  // A modelled constraint (AlarmNames: at most 100 members; MaxRecords: 1-100) is checked before the
  // operation runs and answered `ValidationError` "1 validation error detected: …", as AWS answers
  // DescribeAlarms with MaxRecords 999 (boto/boto3#3475) — not the operation's InvalidParameterValue.
  it('DescribeAlarms: 101 names in one call is a ValidationError', ctx.notOnMoto('accepts any number of AlarmNames'), async () => {
    const err = await rejectsWith(
      cloudWatchClient().send(new DescribeAlarmsCommand({ AlarmNames: Array.from({ length: 101 }, (_, i) => `a-${i}`) })),
      'ValidationError',
    );
    assert.match(err.message, /alarmNames/i);
  });

  it('DescribeAlarms: MaxRecords above 100 is a ValidationError', ctx.notOnMoto('accepts any MaxRecords'), async () => {
    const err = await rejectsWith(cloudWatchClient().send(new DescribeAlarmsCommand({ MaxRecords: 999 })), 'ValidationError');
    assert.match(err.message, /maxRecords/i);
  });

  it('DescribeAlarms: the metric alarm as configured (inspect)', async () => {
    const found = await describeAlarms([ctx.fx.alarms.firing, ctx.fx.alarms.ok]);
    assert.deepEqual(found.get(ctx.fx.alarms.firing), { name: ctx.fx.alarms.firing, kind: 'metric', state: 'ALARM' });
    const out = await cloudWatchClient().send(new DescribeAlarmsCommand({ AlarmNames: [ctx.fx.alarms.ok], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }));
    const a = out.MetricAlarms?.[0];
    assert.equal(a?.Namespace, 'AWS/ApplicationELB');
    assert.equal(a?.MetricName, 'TargetResponseTime');
    assert.equal(a?.Threshold, 1);
    assert.equal(a?.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    assert.equal(a?.TreatMissingData, 'notBreaching');
    assert.deepEqual(out.CompositeAlarms ?? [], []);
  });
});
