import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CloudWatchServiceException,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  InvalidNextToken,
  MissingRequiredParameterException,
  PutMetricAlarmCommand,
  ResourceNotFound,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import { isThrottlingError } from '@smithy/core/retry';
import { cloudWatchClient } from '../../lib/aws/clients';
import { isRetryableAwsError } from '../../lib/aws/errors';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';
import type { AlarmStateChangeEvent } from '../../lib/local/simulator';

const START = new Date('2026-03-01T12:00:00.000Z');
let h: ConnectedSimulator;

const putAlarm = (name: string, description?: string) =>
  cloudWatchClient().send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      AlarmDescription: description,
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
      Dimensions: [{ Name: 'LoadBalancer', Value: 'app/shop/50dc6c495c0c9188' }],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    }),
  );

describe('simulator: CloudWatch', () => {
  beforeEach(async () => {
    const { SimClock } = await import('../../lib/local/clock');
    h = connectSimulator({ clock: new SimClock({ timeScale: 0, start: START }) });
  });
  afterEach(() => h.close());

  it('creates alarms in INSUFFICIENT_DATA with the AWS ARN', async () => {
    await putAlarm('shop-5xx');

    const out = await cloudWatchClient().send(new DescribeAlarmsCommand({ AlarmNames: ['shop-5xx'] }));

    const alarm = out.MetricAlarms![0]!;
    assert.equal(alarm.AlarmArn, 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:shop-5xx');
    assert.equal(alarm.StateValue, 'INSUFFICIENT_DATA');
    assert.equal(alarm.StateReason, 'Unchecked: Initial alarm creation');
    assert.deepEqual(alarm.StateUpdatedTimestamp, START);
    assert.deepEqual(out.CompositeAlarms, []);
  });

  it('SetAlarmState changes the state and emits the EventBridge "CloudWatch Alarm State Change" event', async () => {
    await putAlarm('shop-5xx', 'Too many 5xx');
    h.sim.cloudwatch.seedAlarm('ignored');
    await cloudWatchClient().send(new SetAlarmStateCommand({ AlarmName: 'shop-5xx', StateValue: 'OK', StateReason: 'quiet' }));
    const events: AlarmStateChangeEvent[] = [];
    h.sim.cloudwatch.onStateChange((e) => void events.push(e));
    h.clock.advance(90.5);

    await cloudWatchClient().send(
      new SetAlarmStateCommand({ AlarmName: 'shop-5xx', StateValue: 'ALARM', StateReason: 'Threshold Crossed', StateReasonData: '{"version":"1.0"}' }),
    );
    await cloudWatchClient().send(new SetAlarmStateCommand({ AlarmName: 'shop-5xx', StateValue: 'ALARM', StateReason: 'still' }));
    const alarm = (await cloudWatchClient().send(new DescribeAlarmsCommand({ AlarmNames: ['shop-5xx'] }))).MetricAlarms![0]!;

    assert.equal(events.length, 1, 'setting the same state again emits nothing');
    const { id, ...event } = events[0]!;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(event, {
      version: '0',
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: '123456789012',
      time: '2026-03-01T12:01:30Z',
      region: 'us-east-1',
      resources: ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:shop-5xx'],
      detail: {
        alarmName: 'shop-5xx',
        state: { value: 'ALARM', reason: 'Threshold Crossed', reasonData: '{"version":"1.0"}', timestamp: '2026-03-01T12:01:30.500+0000' },
        previousState: { value: 'OK', reason: 'quiet', timestamp: '2026-03-01T12:00:00.000+0000' },
        configuration: {
          description: 'Too many 5xx',
          metrics: [
            {
              id: events[0]!.detail.configuration.metrics[0]!.id,
              metricStat: {
                metric: { dimensions: { LoadBalancer: 'app/shop/50dc6c495c0c9188' }, name: 'HTTPCode_Target_5XX_Count', namespace: 'AWS/ApplicationELB' },
                period: 60,
                stat: 'Sum',
              },
              returnData: true,
            },
          ],
        },
      },
    });
    assert.equal(alarm.StateValue, 'ALARM');
    assert.equal(alarm.StateReason, 'still');
  });

  it('rejects SetAlarmState for an unknown alarm with ResourceNotFound, and missing fields', async () => {
    await assert.rejects(cloudWatchClient().send(new SetAlarmStateCommand({ AlarmName: 'nope', StateValue: 'ALARM', StateReason: 'x' })), (err) => {
      assert.ok(err instanceof ResourceNotFound);
      return true;
    });
    await putAlarm('a');
    await assert.rejects(
      cloudWatchClient().send(new SetAlarmStateCommand({ AlarmName: 'a', StateValue: 'BROKEN' as 'OK', StateReason: 'x' })),
      /must be one of OK, ALARM, INSUFFICIENT_DATA/,
    );
    await assert.rejects(
      cloudWatchClient().send(new PutMetricAlarmCommand({ AlarmName: 'b', EvaluationPeriods: 1, ComparisonOperator: undefined as unknown as 'GreaterThanThreshold' })),
      MissingRequiredParameterException,
    );
  });

  it('filters and paginates DescribeAlarms (MaxRecords, NextToken), sorted by name', async () => {
    for (const name of ['shop-b', 'shop-a', 'shop-c', 'other-1', 'shop-e', 'shop-d', 'shop-f']) h.sim.cloudwatch.seedAlarm(name);
    await cloudWatchClient().send(new SetAlarmStateCommand({ AlarmName: 'shop-c', StateValue: 'ALARM', StateReason: 'x' }));

    const names: string[][] = [];
    let token: string | undefined;
    do {
      const page = await cloudWatchClient().send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'shop-', MaxRecords: 4, NextToken: token }));
      names.push(page.MetricAlarms!.map((a) => a.AlarmName!));
      token = page.NextToken;
    } while (token);
    const inAlarm = await cloudWatchClient().send(new DescribeAlarmsCommand({ StateValue: 'ALARM' }));

    assert.deepEqual(names, [['shop-a', 'shop-b', 'shop-c', 'shop-d'], ['shop-e', 'shop-f']]);
    assert.deepEqual(inAlarm.MetricAlarms!.map((a) => a.AlarmName), ['shop-c']);
    await assert.rejects(cloudWatchClient().send(new DescribeAlarmsCommand({ NextToken: 'bogus' })), InvalidNextToken);
    await assert.rejects(cloudWatchClient().send(new DescribeAlarmsCommand({ MaxRecords: 101 })), /MaxRecords/);
  });

  it('injects a throttling fault that the SDK classifies as throttling, consumed after `times`', async () => {
    h.sim.injectFault({ service: 'cloudwatch', operation: 'DescribeAlarms', error: 'Throttling', times: 2 });
    const errors: unknown[] = [];

    for (let i = 0; i < 2; i++) await cloudWatchClient().send(new DescribeAlarmsCommand({})).catch((e: unknown) => errors.push(e));
    const third = await cloudWatchClient().send(new DescribeAlarmsCommand({}));

    assert.equal(errors.length, 2);
    for (const err of errors) {
      assert.ok(err instanceof CloudWatchServiceException);
      assert.equal(err.name, 'Throttling');
      assert.equal(err.$fault, 'client');
      assert.equal(err.$metadata.httpStatusCode, 400);
      assert.ok(isThrottlingError(err as Parameters<typeof isThrottlingError>[0]));
      assert.ok(isRetryableAwsError(err));
    }
    assert.deepEqual(third.MetricAlarms, []);
    assert.deepEqual(
      h.sim.calls.map((c) => [c.service, c.operation]),
      [
        ['cloudwatch', 'DescribeAlarms'],
        ['cloudwatch', 'DescribeAlarms'],
        ['cloudwatch', 'DescribeAlarms'],
      ],
    );
    assert.deepEqual(h.sim.calls[0]!.at, START);
  });

  it('injects latency and modelled errors, and clears faults', async () => {
    h.sim.injectFault({ service: 'cloudwatch', operation: '*', latencyMs: 50 });
    h.sim.injectFault({ service: 'cloudwatch', operation: 'PutMetricAlarm', error: 'ThrottlingException', message: 'slow down' });
    h.sim.injectFault({ service: 'cloudwatch', operation: 'SetAlarmState', error: 'ResourceNotFound' });

    const t0 = performance.now();
    await cloudWatchClient().send(new DescribeAlarmsCommand({}));
    const elapsed = performance.now() - t0;
    await assert.rejects(cloudWatchClient().send(new SetAlarmStateCommand({ AlarmName: 'x', StateValue: 'OK', StateReason: 'x' })), ResourceNotFound);
    h.sim.clearFaults();
    await putAlarm('after-clear');

    assert.ok(elapsed >= 45, `latency fault delayed the call (${elapsed} ms)`);
    assert.equal(h.sim.cloudwatch.seedAlarm('after-clear').AlarmName, 'after-clear');
    assert.throws(() => h.sim.injectFault({ service: 'ecs', operation: 'RunTask' }), /error code .* latencyMs/);
  });

  it('rejects an operation it does not implement, naming it', async () => {
    await assert.rejects(cloudWatchClient().send(new DeleteAlarmsCommand({ AlarmNames: ['x'] })), (err) => {
      assert.ok(err instanceof CloudWatchServiceException);
      assert.match(err.message, /does not implement cloudwatch:DeleteAlarms/);
      return true;
    });
  });
});
