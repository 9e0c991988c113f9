import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CloudWatchServiceException,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  InvalidParameterCombinationException,
  InvalidParameterValueException,
  ListMetricsCommand,
  MissingRequiredParameterException,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  SetAlarmStateCommand,
  type ComparisonOperator,
  type Dimension,
  type MetricAlarm,
  type MetricDatum,
  type PutMetricAlarmInput,
  type StateValue,
} from '@aws-sdk/client-cloudwatch';
import { cloudWatchClient } from '../../lib/aws/clients';
import { SimClock } from '../../lib/local/clock';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';
import type { AlarmStateChangeEvent } from '../../lib/local/simulator';

const START = new Date('2026-11-21T12:00:00.000Z');
const MINUTE = 60_000;
const LB = 'app/shop/50dc6c495c0c9188';
const TG = 'targetgroup/shop-blue/73e2d6bc24d8a067';
let h: ConnectedSimulator;

const at = (ms: number) => new Date(START.getTime() + ms);
const lbDims = (lb = LB): Dimension[] => [{ Name: 'LoadBalancer', Value: lb }];
const cw = () => cloudWatchClient();
const publish = (data: MetricDatum[]) => h.sim.cloudwatch.publishServiceMetrics('AWS/ApplicationELB', data);
const fiveXx = (lb: string, timestamp: Date, value: number): MetricDatum => ({
  MetricName: 'HTTPCode_Target_5XX_Count',
  Dimensions: lbDims(lb),
  Timestamp: timestamp,
  Value: value,
  Unit: 'Count',
});
const alarmDef = (name: string, overrides: Partial<PutMetricAlarmInput> = {}): PutMetricAlarmInput => ({
  AlarmName: name,
  Namespace: 'AWS/ApplicationELB',
  MetricName: 'HTTPCode_Target_5XX_Count',
  Dimensions: lbDims(),
  Statistic: 'Sum',
  Period: 60,
  EvaluationPeriods: 1,
  Threshold: 1,
  ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  ...overrides,
});
const alarmOf = (name: string): MetricAlarm => h.sim.cloudwatch.describeAlarms({ AlarmNames: [name] }).MetricAlarms![0]!;
const stateOf = (name: string): StateValue => alarmOf(name).StateValue!;

describe('simulator: CloudWatch metrics', () => {
  beforeEach(() => {
    h = connectSimulator({ clock: new SimClock({ timeScale: 0, start: START }) });
  });
  afterEach(() => h.close());

  it('GetMetricStatistics aggregates each period of the exact metric (SDK client)', async () => {
    await cw().send(
      new PutMetricDataCommand({
        Namespace: 'Shop/App',
        MetricData: [
          { MetricName: 'Orders', Dimensions: lbDims(), Timestamp: at(5_000), Value: 1, Unit: 'Count' },
          { MetricName: 'Orders', Dimensions: lbDims(), Timestamp: at(30_000), Value: 3, Unit: 'Count' },
          { MetricName: 'Orders', Dimensions: lbDims(), Timestamp: at(MINUTE + 10_000), Values: [10, 20], Counts: [1, 3], Unit: 'Count' },
          { MetricName: 'Orders', Dimensions: [...lbDims(), { Name: 'TargetGroup', Value: TG }], Timestamp: at(10_000), Value: 100, Unit: 'Count' },
        ],
      }),
    );
    h.clock.advance(300);

    const out = await cw().send(
      new GetMetricStatisticsCommand({
        Namespace: 'Shop/App',
        MetricName: 'Orders',
        Dimensions: lbDims(),
        StartTime: at(0),
        EndTime: at(3 * MINUTE),
        Period: 60,
        Statistics: ['Sum', 'Average', 'SampleCount', 'Minimum', 'Maximum'],
      }),
    );

    assert.equal(out.Label, 'Orders');
    assert.deepEqual(out.Datapoints, [
      { Timestamp: at(0), Unit: 'Count', Sum: 4, Average: 2, SampleCount: 2, Minimum: 1, Maximum: 3 },
      { Timestamp: at(MINUTE), Unit: 'Count', Sum: 70, Average: 17.5, SampleCount: 4, Minimum: 10, Maximum: 20 },
    ]);
    const superset = await cw().send(
      new GetMetricStatisticsCommand({
        Namespace: 'Shop/App',
        MetricName: 'Orders',
        Dimensions: [{ Name: 'TargetGroup', Value: TG }, ...lbDims()],
        StartTime: at(0),
        EndTime: at(3 * MINUTE),
        Period: 180,
        Statistics: ['Sum'],
        Unit: 'Count',
      }),
    );
    assert.deepEqual(superset.Datapoints, [{ Timestamp: at(0), Unit: 'Count', Sum: 100 }], 'dimensions match exactly, in any order');
    const otherUnit = await cw().send(
      new GetMetricStatisticsCommand({ Namespace: 'Shop/App', MetricName: 'Orders', Dimensions: lbDims(), StartTime: at(0), EndTime: at(MINUTE), Period: 60, Statistics: ['Sum'], Unit: 'Seconds' }),
    );
    assert.deepEqual(otherUnit.Datapoints, []);
  });

  it('computes percentiles (ExtendedStatistics) from raw values, not from statistic sets or negative values', async () => {
    publish([
      { MetricName: 'TargetResponseTime', Dimensions: lbDims(), Timestamp: at(0), Values: Array.from({ length: 100 }, (_, i) => i + 1), Unit: 'Seconds' },
      { MetricName: 'TargetResponseTime', Dimensions: lbDims(), Timestamp: at(MINUTE), StatisticValues: { SampleCount: 2, Sum: 3, Minimum: 1, Maximum: 2 }, Unit: 'Seconds' },
      { MetricName: 'TargetResponseTime', Dimensions: lbDims(), Timestamp: at(2 * MINUTE), StatisticValues: { SampleCount: 4, Sum: 8, Minimum: 2, Maximum: 2 }, Unit: 'Seconds' },
      { MetricName: 'TargetResponseTime', Dimensions: lbDims(), Timestamp: at(3 * MINUTE), Values: [-1, 5], Unit: 'Seconds' },
    ]);
    h.clock.advance(600);

    const out = await cw().send(
      new GetMetricStatisticsCommand({
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'TargetResponseTime',
        Dimensions: lbDims(),
        StartTime: at(0),
        EndTime: at(4 * MINUTE),
        Period: 60,
        ExtendedStatistics: ['p99', 'p50', 'p100', 'p0.5', 'p10.4'],
      }),
    );

    assert.deepEqual(
      out.Datapoints!.map((d) => d.ExtendedStatistics),
      [{ p99: 99, p50: 50, p100: 100, 'p0.5': 1, 'p10.4': 11 }, {}, { p99: 2, p50: 2, p100: 2, 'p0.5': 2, 'p10.4': 2 }, {}],
    );
  });

  it('GetMetricData returns MetricStat queries (ScanBy, ReturnData, Label) and rejects metric math', async () => {
    for (let minute = 0; minute < 3; minute++) {
      publish([fiveXx(LB, at(minute * MINUTE + 1000), minute + 1), fiveXx(LB, at(minute * MINUTE + 2000), 10 * (minute + 1))]);
    }
    h.clock.advance(600);
    const metric = { Namespace: 'AWS/ApplicationELB', MetricName: 'HTTPCode_Target_5XX_Count', Dimensions: lbDims() };

    const out = await cw().send(
      new GetMetricDataCommand({
        StartTime: at(0),
        EndTime: at(5 * MINUTE),
        MetricDataQueries: [
          { Id: 'sum5xx', MetricStat: { Metric: metric, Period: 60, Stat: 'Sum' } },
          { Id: 'max5xx', MetricStat: { Metric: metric, Period: 120, Stat: 'p100' }, Label: 'worst' },
          { Id: 'hidden', MetricStat: { Metric: metric, Period: 60, Stat: 'Average' }, ReturnData: false },
        ],
      }),
    );
    const ascending = await cw().send(
      new GetMetricDataCommand({
        StartTime: at(0),
        EndTime: at(5 * MINUTE),
        ScanBy: 'TimestampAscending',
        MetricDataQueries: [{ Id: 'count', MetricStat: { Metric: metric, Period: 60, Stat: 'SampleCount' } }],
      }),
    );

    assert.deepEqual(out.MetricDataResults, [
      { Id: 'sum5xx', Label: 'HTTPCode_Target_5XX_Count', Timestamps: [at(2 * MINUTE), at(MINUTE), at(0)], Values: [33, 22, 11], StatusCode: 'Complete' },
      { Id: 'max5xx', Label: 'worst', Timestamps: [at(2 * MINUTE), at(0)], Values: [30, 20], StatusCode: 'Complete' },
    ]);
    assert.deepEqual(ascending.MetricDataResults![0]!.Timestamps, [at(0), at(MINUTE), at(2 * MINUTE)]);
    assert.deepEqual(ascending.MetricDataResults![0]!.Values, [2, 2, 2]);
    await assert.rejects(
      cw().send(
        new GetMetricDataCommand({
          StartTime: at(0),
          EndTime: at(MINUTE),
          MetricDataQueries: [{ Id: 'm1', MetricStat: { Metric: metric, Period: 60, Stat: 'Sum' } }, { Id: 'e1', Expression: 'm1 * 2' }],
        }),
      ),
      (err) => {
        assert.ok(err instanceof CloudWatchServiceException);
        assert.equal(err.name, 'ValidationError');
        assert.match(err.message, /does not implement MetricDataQueries\.member\.2\.Expression .*supports MetricStat queries only/);
        return true;
      },
    );
    await assert.rejects(
      cw().send(new GetMetricDataCommand({ StartTime: at(0), EndTime: at(MINUTE), MetricDataQueries: [{ Id: 'Bad-Id', MetricStat: { Metric: metric, Period: 60, Stat: 'Sum' } }] })),
      /MetricDataQueries\.member\.1\.Id is invalid/,
    );
    await assert.rejects(
      cw().send(new GetMetricDataCommand({ StartTime: at(0), EndTime: at(MINUTE), MetricDataQueries: [{ Id: 'm1', MetricStat: { Metric: metric, Period: 60, Stat: 'tm99' } }] })),
      /MetricStat\.Stat is invalid/,
    );
  });

  it('ListMetrics lists published metrics, filtered by namespace, name and dimension', async () => {
    publish([fiveXx(LB, at(0), 1), { MetricName: 'RequestCount', Dimensions: [...lbDims(), { Name: 'TargetGroup', Value: TG }], Value: 4, Unit: 'Count' }]);
    await cw().send(new PutMetricDataCommand({ Namespace: 'Shop/App', MetricData: [{ MetricName: 'Orders', Value: 1 }] }));

    const all = await cw().send(new ListMetricsCommand({}));
    const byTargetGroup = await cw().send(new ListMetricsCommand({ Namespace: 'AWS/ApplicationELB', Dimensions: [{ Name: 'TargetGroup' }] }));
    h.clock.advance(4 * 3600);
    const recent = await cw().send(new ListMetricsCommand({ RecentlyActive: 'PT3H' }));

    assert.deepEqual(
      all.Metrics!.map((m) => `${m.Namespace}/${m.MetricName}`),
      ['AWS/ApplicationELB/HTTPCode_Target_5XX_Count', 'AWS/ApplicationELB/RequestCount', 'Shop/App/Orders'],
    );
    assert.deepEqual(byTargetGroup.Metrics, [
      { Namespace: 'AWS/ApplicationELB', MetricName: 'RequestCount', Dimensions: [{ Name: 'LoadBalancer', Value: LB }, { Name: 'TargetGroup', Value: TG }] },
    ]);
    assert.deepEqual(recent.Metrics, []);
  });

  it('PutMetricData rejects AWS/ namespaces, too many datums and bad values with typed errors, storing nothing', async () => {
    const put = (Namespace: string | undefined, MetricData: MetricDatum[]) => cw().send(new PutMetricDataCommand({ Namespace, MetricData }));
    const ok: MetricDatum = { MetricName: 'Orders', Value: 1 };

    await assert.rejects(put('AWS/ApplicationELB', [ok]), (err) => {
      assert.ok(err instanceof InvalidParameterValueException);
      assert.match(err.message, /AWS\/ApplicationELB for parameter Namespace is invalid: namespaces starting with AWS\/ are reserved/);
      return true;
    });
    await assert.rejects(put('Shop/App', Array.from({ length: 1001 }, () => ok)), (err) => {
      assert.ok(err instanceof InvalidParameterValueException);
      assert.match(err.message, /MetricData must not have a size greater than 1000/);
      return true;
    });
    await assert.rejects(put('Shop/App', [ok, { MetricName: 'Orders', Value: Number.NaN }]), (err) => {
      assert.ok(err instanceof InvalidParameterValueException);
      assert.match(err.message, /NaN for parameter MetricData\.member\.2\.Value is invalid/);
      return true;
    });
    await assert.rejects(put('Shop/App', [{ MetricName: 'Orders', Value: 2 ** 361 }]), InvalidParameterValueException);
    await assert.rejects(put('Shop/App', [{ MetricName: 'Orders', Values: [1, 2], Counts: [1] }]), /Values and MetricData\.member\.1\.Counts must be of the same size/);
    await assert.rejects(put('Shop/App', [{ MetricName: 'Orders', Values: Array.from({ length: 151 }, (_, i) => i) }]), /must not have a size greater than 150/);
    await assert.rejects(
      put('Shop/App', [{ MetricName: 'Orders', Value: 1, StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 } }]),
      InvalidParameterCombinationException,
    );
    await assert.rejects(put('Shop/App', [{ MetricName: 'Orders' }]), InvalidParameterCombinationException);
    await assert.rejects(put('Shop/App', [{ MetricName: 'Orders', Value: 1, Unit: 'Parsecs' as 'Count' }]), /Unit is invalid/);
    await assert.rejects(put('Shop/App', [{ MetricName: 'Orders', Value: 1, Timestamp: at(-15 * 86_400_000) }]), /two weeks in the past/);
    await assert.rejects(put(undefined, [ok]), MissingRequiredParameterException);
    assert.throws(() => publish([{ MetricName: 'RequestCount', Value: Number.POSITIVE_INFINITY }]), InvalidParameterValueException);

    assert.deepEqual((await cw().send(new ListMetricsCommand({}))).Metrics, [], 'a rejected request stores nothing');
  });

  it('GetMetricStatistics validates statistics, period and the 1,440-datapoint limit', async () => {
    const base = { Namespace: 'Shop/App', MetricName: 'Orders', StartTime: at(0), EndTime: at(MINUTE), Period: 60 };
    await assert.rejects(cw().send(new GetMetricStatisticsCommand({ ...base, Statistics: ['Sum'], ExtendedStatistics: ['p99'] })), InvalidParameterCombinationException);
    await assert.rejects(cw().send(new GetMetricStatisticsCommand({ ...base })), InvalidParameterCombinationException);
    await assert.rejects(cw().send(new GetMetricStatisticsCommand({ ...base, Statistics: ['Sum'], Period: 45 })), /use 1, 5, 10, 20, 30 or a multiple of 60/);
    await assert.rejects(cw().send(new GetMetricStatisticsCommand({ ...base, ExtendedStatistics: ['p101'] })), InvalidParameterValueException);
    await assert.rejects(
      cw().send(new GetMetricStatisticsCommand({ ...base, Statistics: ['Sum'], EndTime: at(1441 * MINUTE) })),
      (err) => err instanceof InvalidParameterCombinationException && /requested up to 1,441 datapoints, which exceeds the limit of 1,440/.test(err.message),
    );
    await assert.rejects(cw().send(new GetMetricStatisticsCommand({ ...base, Statistics: ['Sum'], EndTime: at(0) })), /StartTime must be less than the parameter EndTime/);
  });

  it('publishServiceMetrics allows AWS/ namespaces and stamps datums with the simulated now', async () => {
    h.clock.advance(90);
    publish([{ MetricName: 'RequestCount', Dimensions: lbDims(), Value: 7, Unit: 'Count' }]);
    h.clock.advance(60);

    const out = await cw().send(
      new GetMetricStatisticsCommand({ Namespace: 'AWS/ApplicationELB', MetricName: 'RequestCount', Dimensions: lbDims(), StartTime: at(0), EndTime: at(3 * MINUTE), Period: 60, Statistics: ['Sum'] }),
    );

    assert.deepEqual(out.Datapoints, [{ Timestamp: at(MINUTE), Unit: 'Count', Sum: 7 }]);
  });
});

describe('simulator: CloudWatch alarm evaluation', () => {
  let events: AlarmStateChangeEvent[];
  beforeEach(() => {
    h = connectSimulator({ clock: new SimClock({ timeScale: 0, start: START }) });
    events = [];
    h.sim.cloudwatch.onStateChange((e) => void events.push(e));
  });
  afterEach(() => h.close());

  /**
   * Publish `pattern` (oldest → newest, as in the User Guide's tables: `0` within the threshold, `X`
   * breaching, `-` missing) as the 60 s periods that ended at START, on load balancer `lb`.
   */
  const publishPattern = (lb: string, pattern: string) =>
    pattern.split(' ').forEach((mark, i, marks) => {
      if (mark !== '-') publish([fiveXx(lb, at(-(marks.length - i) * MINUTE + 5000), mark === 'X' ? 5 : 0)]);
    });

  it('follows both tables of "Configuring how CloudWatch alarms treat missing data" for every TreatMissingData', () => {
    // [datapoints, DatapointsToAlarm, MISSING, IGNORE, BREACHING, NOT BREACHING]; EvaluationPeriods 3.
    const rows: [string, number, ...string[]][] = [
      ['0 - X - X', 3, 'OK', 'OK', 'OK', 'OK'],
      ['0 - - - -', 3, 'OK', 'OK', 'OK', 'OK'],
      ['- - - - -', 3, 'INSUFFICIENT_DATA', 'retain', 'ALARM', 'OK'],
      ['0 X X - X', 3, 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
      ['- - X - -', 3, 'ALARM', 'retain', 'ALARM', 'OK'],
      ['0 - X - X', 2, 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
      ['0 0 X 0 X', 2, 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
      ['0 - X - -', 2, 'OK', 'OK', 'ALARM', 'OK'],
      ['- - - - 0', 2, 'OK', 'OK', 'ALARM', 'OK'],
      ['- - - X -', 2, 'ALARM', 'retain', 'ALARM', 'OK'],
    ];
    const treatments = ['missing', 'ignore', 'breaching', 'notBreaching'];
    const expected = new Map<string, StateValue>();
    rows.forEach(([pattern, m, ...outcomes], row) => {
      const lb = `app/row${row}/0000000000000000`;
      publishPattern(lb, pattern);
      treatments.forEach((treat, col) => {
        for (const prior of ['OK', 'ALARM'] as const) {
          const name = `row${row}-${treat}-${prior}`;
          h.sim.cloudwatch.seedMetricAlarm(
            alarmDef(name, { Dimensions: lbDims(lb), EvaluationPeriods: 3, DatapointsToAlarm: m, TreatMissingData: treat }),
            prior,
          );
          expected.set(name, outcomes[col] === 'retain' ? prior : (outcomes[col] as StateValue));
        }
      });
    });

    h.sim.cloudwatch.evaluateAlarms();

    const actual = new Map(h.sim.cloudwatch.describeAlarms({ MaxRecords: 100 }).MetricAlarms!.map((a) => [a.AlarmName!, a.StateValue!]));
    assert.deepEqual(Object.fromEntries(actual), Object.fromEntries(expected));
    assert.equal(events.length, [...expected].filter(([name, state]) => !name.endsWith(`-${state}`)).length, 'one event per transition');
  });

  it('transitions with AWS reason text, StateReasonData, timestamps and a state change event', () => {
    h.sim.cloudwatch.putMetricAlarm(alarmDef('shop-5xx', { AlarmDescription: 'Target 5XX', TreatMissingData: 'notBreaching' }));
    publish([fiveXx(LB, at(1000), 2), fiveXx(LB, at(50_000), 3)]);
    h.clock.advance(30); // 12:00:30: the 12:00 period has not ended, 11:59 is missing
    h.sim.cloudwatch.evaluateAlarms();
    const quiet = alarmOf('shop-5xx');
    assert.equal(quiet.StateValue, 'OK', 'a period is evaluated only once it has ended');
    assert.equal(quiet.StateReason, 'Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].');
    assert.equal(
      quiet.StateReasonData,
      '{"version":"1.0","queryDate":"2026-11-21T12:00:30.000+0000","statistic":"Sum","period":60,"recentDatapoints":[],"threshold":1.0,' +
        '"evaluatedDatapoints":[{"timestamp":"2026-11-21T11:59:00.000+0000"}]}',
    );

    h.clock.advance(35); // 12:01:05
    h.sim.cloudwatch.evaluateAlarms();

    const alarm = alarmOf('shop-5xx');
    assert.equal(alarm.StateValue, 'ALARM');
    assert.equal(alarm.StateReason, 'Threshold Crossed: 1 datapoint [5.0 (21/11/26 12:00:00)] was greater than or equal to the threshold (1.0).');
    assert.equal(
      alarm.StateReasonData,
      '{"version":"1.0","queryDate":"2026-11-21T12:01:05.000+0000","startDate":"2026-11-21T12:00:00.000+0000","statistic":"Sum","period":60,' +
        '"recentDatapoints":[5.0],"threshold":1.0,"evaluatedDatapoints":[{"timestamp":"2026-11-21T12:00:00.000+0000","sampleCount":2.0,"value":5.0}]}',
    );
    assert.deepEqual(alarm.StateUpdatedTimestamp, at(65_000));
    assert.deepEqual(alarm.StateTransitionedTimestamp, at(65_000));
    assert.deepEqual(
      events.map((e) => [e.detail.previousState.value, e.detail.state.value]),
      [
        ['INSUFFICIENT_DATA', 'OK'],
        ['OK', 'ALARM'],
      ],
    );
    assert.deepEqual(events[0]!.detail.previousState, { value: 'INSUFFICIENT_DATA', reason: 'Unchecked: Initial alarm creation', timestamp: '2026-11-21T12:00:00.000+0000' });
    assert.deepEqual(events[1]!.detail.state, { value: 'ALARM', reason: alarm.StateReason, reasonData: alarm.StateReasonData, timestamp: '2026-11-21T12:01:05.000+0000' });
    assert.deepEqual(events[1]!.detail.previousState, {
      value: 'OK',
      reason: quiet.StateReason,
      reasonData: quiet.StateReasonData,
      timestamp: '2026-11-21T12:00:30.000+0000',
    });
    assert.equal(events[1]!.time, '2026-11-21T12:01:05Z');
    assert.equal(events[1]!.detail.configuration.description, 'Target 5XX');

    // The last datapoint is re-evaluated while it is in the evaluation range (N + 2 = 3 periods).
    h.clock.advance(2 * 60);
    h.sim.cloudwatch.evaluateAlarms();
    assert.equal(stateOf('shop-5xx'), 'ALARM');
    assert.equal(events.length, 2, 'no event without a transition');

    h.clock.advance(60); // 12:04:05: 12:01, 12:02 and 12:03 are all missing
    h.sim.cloudwatch.evaluateAlarms();

    assert.equal(stateOf('shop-5xx'), 'OK');
    assert.equal(events.length, 3);
    assert.equal(events[2]!.detail.state.reason, 'Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].');
    assert.deepEqual(events[2]!.detail.previousState, {
      value: 'ALARM',
      reason: alarm.StateReason,
      reasonData: alarm.StateReasonData,
      timestamp: '2026-11-21T12:01:05.000+0000',
    });
  });

  it('evaluates M out of N with the "out of the last" reason form and minimum datapoints per direction', () => {
    h.sim.cloudwatch.seedMetricAlarm(alarmDef('m-of-n', { EvaluationPeriods: 3, DatapointsToAlarm: 2 }), 'OK');
    publishPattern(LB, 'X 0 X');
    h.sim.cloudwatch.evaluateAlarms();
    assert.equal(
      alarmOf('m-of-n').StateReason,
      'Threshold Crossed: 2 out of the last 3 datapoints [5.0 (21/11/26 11:59:00), 5.0 (21/11/26 11:57:00)] were greater than or equal to the threshold (1.0) (minimum 2 datapoints for OK -> ALARM transition).',
    );

    publish([fiveXx(LB, at(5000), 0)]);
    h.clock.advance(60); // newest three: 0 X 0 → only 1 of 3 breaching
    h.sim.cloudwatch.evaluateAlarms();

    assert.equal(stateOf('m-of-n'), 'OK');
    assert.equal(
      alarmOf('m-of-n').StateReason,
      'Threshold Crossed: 2 out of the last 3 datapoints [0.0 (21/11/26 12:00:00), 0.0 (21/11/26 11:58:00)] were not greater than or equal to the threshold (1.0) (minimum 2 datapoints for ALARM -> OK transition).',
    );
    assert.deepEqual(
      events.map((e) => [e.detail.previousState.value, e.detail.state.value]),
      [
        ['OK', 'ALARM'],
        ['ALARM', 'OK'],
      ],
    );
  });

  it('names filled missing datapoints in the reason and goes to INSUFFICIENT_DATA when all are missing', () => {
    h.sim.cloudwatch.seedMetricAlarm(alarmDef('breaching', { EvaluationPeriods: 3, TreatMissingData: 'breaching' }), 'ALARM');
    h.sim.cloudwatch.seedMetricAlarm(alarmDef('missing', { EvaluationPeriods: 3 }), 'OK');
    h.sim.cloudwatch.seedMetricAlarm(alarmDef('silent', { Dimensions: lbDims('app/silent/1'), EvaluationPeriods: 2, TreatMissingData: 'breaching' }), 'OK');
    publishPattern(LB, '- - - 0 X');
    h.sim.cloudwatch.evaluateAlarms();
    assert.equal(stateOf('breaching'), 'OK');
    assert.equal(
      alarmOf('breaching').StateReason,
      'Threshold Crossed: 1 datapoint [0.0 (21/11/26 11:58:00)] was not greater than or equal to the threshold (1.0) and 1 missing datapoint was treated as [Breaching].',
      '0 X + one missing datapoint treated as breaching: 2 of 3 breaching, OK',
    );
    assert.equal(stateOf('missing'), 'OK');
    assert.equal(alarmOf('silent').StateReason, 'Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching].');

    for (const window of ['- - 0 X -', '- 0 X - -', '0 X - - -']) {
      h.clock.advance(60);
      h.sim.cloudwatch.evaluateAlarms();
      assert.equal(stateOf('breaching'), 'OK', `${window}: the non-breaching datapoint is still evaluated`);
    }
    h.clock.advance(60); // X - - - -
    h.sim.cloudwatch.evaluateAlarms();
    assert.equal(stateOf('breaching'), 'ALARM');
    assert.equal(
      alarmOf('breaching').StateReason,
      'Threshold Crossed: 1 datapoint [5.0 (21/11/26 11:59:00)] was greater than or equal to the threshold (1.0) and 2 missing datapoints were treated as [Breaching].',
    );
    assert.equal(stateOf('missing'), 'OK', 'a lone old breaching datapoint does not alarm when missing data is missing');
    h.clock.advance(60); // - - - - -
    h.sim.cloudwatch.evaluateAlarms();

    assert.equal(stateOf('missing'), 'INSUFFICIENT_DATA');
    assert.equal(alarmOf('missing').StateReason, 'Insufficient Data: 3 datapoints were unknown.');
    assert.deepEqual(
      [events.at(-1)!.detail.alarmName, events.at(-1)!.detail.previousState.value, events.at(-1)!.detail.state.value],
      ['missing', 'OK', 'INSUFFICIENT_DATA'],
    );
  });

  it('compares with each ComparisonOperator', () => {
    const operators: ComparisonOperator[] = ['GreaterThanThreshold', 'GreaterThanOrEqualToThreshold', 'LessThanThreshold', 'LessThanOrEqualToThreshold'];
    for (const op of operators) {
      h.sim.cloudwatch.putMetricAlarm(alarmDef(`at-${op}`, { ComparisonOperator: op, Threshold: 5, Dimensions: lbDims('app/at/1') }));
      h.sim.cloudwatch.putMetricAlarm(alarmDef(`below-${op}`, { ComparisonOperator: op, Threshold: 5, Dimensions: lbDims('app/below/1') }));
    }
    publish([fiveXx('app/at/1', at(-MINUTE), 5), fiveXx('app/below/1', at(-MINUTE), 4)]);

    h.sim.cloudwatch.evaluateAlarms();

    assert.deepEqual(
      operators.map((op) => [op, stateOf(`at-${op}`), stateOf(`below-${op}`)]),
      [
        ['GreaterThanThreshold', 'OK', 'OK'],
        ['GreaterThanOrEqualToThreshold', 'ALARM', 'OK'],
        ['LessThanThreshold', 'OK', 'ALARM'],
        ['LessThanOrEqualToThreshold', 'ALARM', 'ALARM'],
      ],
    );
    assert.equal(alarmOf('at-GreaterThanThreshold').StateReason, 'Threshold Crossed: 1 datapoint [5.0 (21/11/26 11:59:00)] was not greater than the threshold (5.0).');
    assert.equal(alarmOf('below-LessThanThreshold').StateReason, 'Threshold Crossed: 1 datapoint [4.0 (21/11/26 11:59:00)] was less than the threshold (5.0).');
  });

  it('evaluates the Statistic or percentile ExtendedStatistic of the period, and the alarm Unit', () => {
    publish(
      [1, 1, 1, 1, 10].map((v, i) => ({ MetricName: 'TargetResponseTime', Dimensions: lbDims(), Timestamp: at(-MINUTE + i * 1000), Value: v, Unit: 'Seconds' as const })),
    );
    const def = (name: string, stat: Partial<PutMetricAlarmInput>) =>
      h.sim.cloudwatch.putMetricAlarm(alarmDef(name, { MetricName: 'TargetResponseTime', Threshold: 5, ComparisonOperator: 'GreaterThanThreshold', Statistic: undefined, ...stat }));
    def('sum', { Statistic: 'Sum' });
    def('average', { Statistic: 'Average' });
    def('maximum', { Statistic: 'Maximum' });
    def('p99', { ExtendedStatistic: 'p99' });
    def('p50', { ExtendedStatistic: 'p50' });
    def('sum-in-ms', { Statistic: 'Sum', Unit: 'Milliseconds' });

    h.sim.cloudwatch.evaluateAlarms();

    assert.deepEqual(
      ['sum', 'average', 'maximum', 'p99', 'p50', 'sum-in-ms'].map((n) => [n, stateOf(n)]),
      [
        ['sum', 'ALARM'],
        ['average', 'OK'],
        ['maximum', 'ALARM'],
        ['p99', 'ALARM'],
        ['p50', 'OK'],
        ['sum-in-ms', 'INSUFFICIENT_DATA'],
      ],
    );
    assert.equal(alarmOf('average').StateReason, 'Threshold Crossed: 1 datapoint [2.8 (21/11/26 11:59:00)] was not greater than the threshold (5.0).');
    assert.match(alarmOf('p99').StateReasonData!, /"statistic":"p99","period":60,"recentDatapoints":\[10\.0\]/);
  });

  it('keeps a SetAlarmState state until an evaluation changes it; ignore keeps it through missing data', async () => {
    h.sim.cloudwatch.seedMetricAlarm(alarmDef('quiet', { TreatMissingData: 'notBreaching' }), 'OK');
    h.sim.cloudwatch.seedMetricAlarm(alarmDef('ignored', { TreatMissingData: 'ignore' }), 'OK');
    await cw().send(new SetAlarmStateCommand({ AlarmName: 'quiet', StateValue: 'ALARM', StateReason: 'drill' }));
    await cw().send(new SetAlarmStateCommand({ AlarmName: 'ignored', StateValue: 'ALARM', StateReason: 'drill' }));
    assert.equal(stateOf('quiet'), 'ALARM');

    h.sim.cloudwatch.evaluateAlarms();

    assert.equal(stateOf('quiet'), 'OK');
    assert.equal(stateOf('ignored'), 'ALARM');
    assert.deepEqual(
      events.map((e) => [e.detail.alarmName, e.detail.previousState.value, e.detail.state.value, e.detail.previousState.reason]),
      [
        ['quiet', 'OK', 'ALARM', 'Seeded by the cutover simulator'],
        ['ignored', 'OK', 'ALARM', 'Seeded by the cutover simulator'],
        ['quiet', 'ALARM', 'OK', 'drill'],
      ],
    );
  });

  it('does not evaluate metric math alarms, and validates the evaluation settings of PutMetricAlarm', async () => {
    await cw().send(
      new PutMetricAlarmCommand({
        AlarmName: 'math',
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        TreatMissingData: 'breaching',
        Metrics: [
          { Id: 'm1', MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB', MetricName: 'HTTPCode_Target_5XX_Count', Dimensions: lbDims() }, Period: 60, Stat: 'Sum' }, ReturnData: false },
          { Id: 'e1', Expression: 'm1 * 2', ReturnData: true },
        ],
      }),
    );
    publish([fiveXx(LB, at(-MINUTE), 9)]);

    h.sim.cloudwatch.evaluateAlarms();

    assert.equal(stateOf('math'), 'INSUFFICIENT_DATA');
    const put = (overrides: Partial<PutMetricAlarmInput>) => cw().send(new PutMetricAlarmCommand(alarmDef('bad', overrides)));
    await assert.rejects(put({ Period: 45 }), /Period: must be 10, 20, 30 or a multiple of 60/);
    await assert.rejects(put({ EvaluationPeriods: 2, DatapointsToAlarm: 3 }), /DatapointsToAlarm: must be an integer from 1 to 2/);
    await assert.rejects(put({ TreatMissingData: 'sometimes' }), InvalidParameterValueException);
    await assert.rejects(put({ Period: 60, EvaluationPeriods: 1441 }), /at most 86400 seconds/);
    const described = await cw().send(new DescribeAlarmsCommand({ AlarmNames: ['bad'] }));
    assert.deepEqual(described.MetricAlarms, []);
  });
});

describe('simulator: CloudWatch alarm evaluation in real time', () => {
  afterEach(() => h.close());

  it('startEvaluation evaluates on real timers at the clock time scale until stopped', async () => {
    // 600 simulated seconds per real second: the 10 s evaluation tick is ~17 real ms.
    h = connectSimulator({ clock: new SimClock({ timeScale: 600 }) });
    const cwSim = h.sim.cloudwatch;
    const events: AlarmStateChangeEvent[] = [];
    cwSim.onStateChange((e) => void events.push(e));
    cwSim.putMetricAlarm(alarmDef('live', { TreatMissingData: 'breaching' }));
    const waitFor = async (what: string, condition: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!condition()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };

    const stop = cwSim.startEvaluation();
    try {
      await waitFor('the first evaluation', () => stateOf('live') === 'ALARM');
      assert.equal(events[0]!.detail.previousState.value, 'INSUFFICIENT_DATA');
      cwSim.setAlarmState({ AlarmName: 'live', StateValue: 'OK', StateReason: 'drill' });
      await waitFor('the next evaluation', () => stateOf('live') === 'ALARM');
    } finally {
      stop();
    }
    cwSim.setAlarmState({ AlarmName: 'live', StateValue: 'OK', StateReason: 'after stop' });
    const eventsAtStop = events.length;
    await new Promise((resolve) => setTimeout(resolve, h.clock.realMs(4 * 10))); // four evaluation ticks

    assert.equal(stateOf('live'), 'OK', 'no evaluation after stop');
    assert.equal(events.length, eventsAtStop);
    const frozen = connectSimulator({ clock: new SimClock({ timeScale: 0 }) });
    assert.equal(typeof frozen.sim.cloudwatch.startEvaluation(), 'function', 'a frozen clock schedules nothing');
  });
});
