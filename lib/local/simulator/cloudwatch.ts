/**
 * Simulated Amazon CloudWatch: metric data (PutMetricData, GetMetricStatistics, GetMetricData,
 * ListMetrics), metric alarms (PutMetricAlarm, DescribeAlarms, SetAlarmState), alarm evaluation from
 * the stored metric data, and the EventBridge "CloudWatch Alarm State Change" event each state change
 * emits.
 *
 * The event follows the sample in the CloudWatch User Guide ("Alarm events and EventBridge"):
 * `time` without milliseconds (`2019-10-02T17:04:40Z`), state timestamps as
 * `2019-10-02T17:04:40.989+0000`, `detail.configuration.metrics` in the event's camelCase shape.
 *
 * Alarm evaluation follows "Using Amazon CloudWatch alarms" and "Configuring how CloudWatch alarms
 * treat missing data" in the CloudWatch User Guide; see {@link CloudWatchSimulator.evaluateAlarms}.
 * Time is always simulated time ({@link SimClock}); datapoints are kept in memory.
 */
import { randomUUID } from 'node:crypto';
import {
  type AlarmHistoryItem,
  type DescribeAlarmHistoryInput,
  type DescribeAlarmHistoryOutput,
  ComparisonOperator,
  StandardUnit,
  Statistic,
  type Datapoint,
  type DescribeAlarmsInput,
  type DescribeAlarmsOutput,
  type Dimension,
  type GetMetricDataInput,
  type GetMetricDataOutput,
  type GetMetricStatisticsInput,
  type GetMetricStatisticsOutput,
  type ListMetricsInput,
  type ListMetricsOutput,
  type Metric,
  type MetricAlarm,
  type MetricDataQuery,
  type MetricDataResult,
  type MetricDatum,
  type PutMetricAlarmInput,
  type PutMetricDataInput,
  type SetAlarmStateInput,
  type StateValue,
  type Tag,
} from '@aws-sdk/client-cloudwatch';
import type { MetricPublisher } from '../live/types';
import { SimulatedService } from './service';
import { copy, paginate, type SimContext } from './util';

/** One state in an alarm state change event (`detail.state` / `detail.previousState`). */
export interface AlarmEventState {
  value: StateValue;
  reason: string;
  /** JSON text, when the state carried reason data. */
  reasonData?: string;
  /** e.g. `2019-10-02T17:04:40.989+0000` */
  timestamp: string;
}

/** A metric of `detail.configuration.metrics` (metric math expression or metric stat). */
export interface AlarmEventMetric {
  id: string;
  expression?: string;
  label?: string;
  metricStat?: {
    metric: { namespace?: string; name?: string; dimensions: Record<string, string> };
    period?: number;
    stat?: string;
  };
  returnData: boolean;
}

/** The EventBridge event CloudWatch sends when an alarm changes state. */
export interface AlarmStateChangeEvent {
  version: '0';
  id: string;
  'detail-type': 'CloudWatch Alarm State Change';
  source: 'aws.cloudwatch';
  account: string;
  /** e.g. `2019-10-02T17:04:40Z` */
  time: string;
  region: string;
  /** `[alarmArn]` */
  resources: string[];
  detail: {
    alarmName: string;
    state: AlarmEventState;
    previousState: AlarmEventState;
    configuration: { description?: string; metrics: AlarmEventMetric[] };
  };
}

/** Receives alarm state change events; a returned promise's rejection is reported on stderr. */
export type AlarmStateListener = (event: AlarmStateChangeEvent) => void | Promise<void>;

/** DescribeAlarmHistory keeps at most this many items (oldest dropped first). */
const MAX_HISTORY_ITEMS = 10_000;

const STATES: readonly string[] = ['OK', 'ALARM', 'INSUFFICIENT_DATA'];
const UNITS: readonly string[] = Object.values(StandardUnit);
const STATISTICS: readonly string[] = Object.values(Statistic);
/** The comparisons the evaluator implements (the anomaly-band ones need ThresholdMetricId). */
const COMPARISONS: Readonly<Record<string, { phrase: string; test: (value: number, threshold: number) => boolean }>> = {
  [ComparisonOperator.GreaterThanOrEqualToThreshold]: { phrase: 'greater than or equal to', test: (v, t) => v >= t },
  [ComparisonOperator.GreaterThanThreshold]: { phrase: 'greater than', test: (v, t) => v > t },
  [ComparisonOperator.LessThanThreshold]: { phrase: 'less than', test: (v, t) => v < t },
  [ComparisonOperator.LessThanOrEqualToThreshold]: { phrase: 'less than or equal to', test: (v, t) => v <= t },
};
const TREAT_MISSING = ['missing', 'notBreaching', 'breaching', 'ignore'] as const;
type TreatMissing = (typeof TREAT_MISSING)[number];

/** PutMetricData: at most 1000 metrics a request, 150 values a datum, 30 dimensions a metric. */
const MAX_METRIC_DATA = 1000;
const MAX_VALUES = 150;
const MAX_DIMENSIONS = 30;
/** PutMetricData rejects values outside [-2^360, 2^360] and NaN/±Infinity. */
const VALUE_LIMIT = 2 ** 360;
/** PutMetricData accepts timestamps up to two weeks in the past and two hours in the future. */
const MAX_PAST_MS = 14 * 86_400_000;
const MAX_FUTURE_MS = 2 * 3_600_000;
/** Simulated retention of datapoints (AWS keeps 1-minute data for 15 days). */
const RETENTION_MS = 15 * 86_400_000;
/** At most this many stored samples per metric; the oldest are dropped first. */
const MAX_SAMPLES_PER_METRIC = 100_000;
/** GetMetricStatistics returns at most 1,440 datapoints. */
const MAX_STATISTICS_DATAPOINTS = 1440;
/** GetMetricData takes at most 500 queries. */
const MAX_QUERIES = 500;
/** ListMetrics returns 500 metrics a page. */
const LIST_METRICS_PAGE = 500;
/** {@link CloudWatchSimulator.startEvaluation} evaluates every alarm at each multiple of this many simulated seconds. */
export const EVALUATION_INTERVAL_SECONDS = 10;

interface SimAlarm {
  alarm: MetricAlarm;
  /** Metric id used for a single-metric alarm in events (stable per alarm). */
  metricId: string;
  tags: Tag[];
}

/**
 * One stored PutMetricData datum (or one publishServiceMetrics datum) in a metric's time series.
 * `pairs` holds the raw values as `[value, count]` for percentiles; it is absent for a statistic set
 * from which CloudWatch cannot compute percentiles.
 */
interface Sample {
  /** Epoch ms, truncated to the storage resolution (1 s or 60 s). */
  t: number;
  unit: StandardUnit;
  count: number;
  sum: number;
  min: number;
  max: number;
  pairs?: [number, number][];
}

/** A metric: namespace + name + an exact set of dimensions (sorted by name), with its samples sorted by time. */
interface Series {
  namespace: string;
  metricName: string;
  dimensions: Dimension[];
  samples: Sample[];
  /** Simulated epoch ms of the last publication (ListMetrics `RecentlyActive`). */
  lastPublishedMs: number;
}

/** The aggregate of the samples of one period. */
interface Aggregate {
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Raw values for percentiles; undefined when a sample has none or a value is negative. */
  pairs?: [number, number][];
}

/** One period of an alarm's evaluation range; `value` undefined means the datapoint is missing. */
interface Slot {
  /** Period start, epoch ms. */
  t: number;
  value?: number;
  sampleCount?: number;
}

/** The outcome of one alarm evaluation (undefined when the alarm keeps its state). */
interface Decision {
  state: StateValue;
  /** Real datapoints evaluated, newest first. */
  evaluated: Slot[];
  /** Missing datapoints filled in with the TreatMissingData setting, newest first. */
  filled: Slot[];
  /** How the filled datapoints were counted, when they were (breaching / notBreaching). */
  filledAs?: 'Breaching' | 'NonBreaching';
}

export class CloudWatchSimulator extends SimulatedService {
  private readonly alarms = new Map<string, SimAlarm>();
  private readonly listeners = new Set<AlarmStateListener>();
  private readonly metrics = new Map<string, Series>();

  protected readonly operations = {
    PutMetricAlarm: (i: PutMetricAlarmInput) => this.putMetricAlarm(i),
    DescribeAlarms: (i: DescribeAlarmsInput) => this.describeAlarms(i),
    SetAlarmState: (i: SetAlarmStateInput) => this.setAlarmState(i),
    PutMetricData: (i: PutMetricDataInput) => this.putMetricData(i),
    GetMetricStatistics: (i: GetMetricStatisticsInput) => this.getMetricStatistics(i),
    GetMetricData: (i: GetMetricDataInput) => this.getMetricData(i),
    ListMetrics: (i: ListMetricsInput) => this.listMetrics(i),
    DescribeAlarmHistory: (i: DescribeAlarmHistoryInput) => this.describeAlarmHistory(i),
  };
  /** State updates of every alarm, oldest first (DescribeAlarmHistory). */
  private readonly history: AlarmHistoryItem[] = [];

  constructor(ctx: SimContext) {
    super('cloudwatch', ctx);
  }

  // ---------------------------------------------------------------- scenario helpers

  /**
   * Subscribe to alarm state changes (called synchronously, after the state is stored).
   * @returns a function that unsubscribes
   */
  onStateChange(listener: AlarmStateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Create an alarm on the target 5XX count of an ALB (or keep an existing one), already in `state`,
   * without emitting an event.
   * @param state @default 'OK'
   */
  seedAlarm(name: string, state: StateValue = 'OK'): MetricAlarm {
    if (!this.alarms.has(name)) {
      this.seedMetricAlarm(
        {
          AlarmName: name,
          Namespace: 'AWS/ApplicationELB',
          MetricName: 'HTTPCode_Target_5XX_Count',
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
        },
        state,
      );
    }
    return copy(this.alarms.get(name)!.alarm);
  }

  /**
   * Create or update an alarm from a full PutMetricAlarm definition (same validation and errors as
   * {@link putMetricAlarm}) and, when `state` is given, put it in that state without emitting an
   * event (reason `Seeded by the cutover simulator`). Evaluation ({@link evaluateAlarms}) takes over
   * from there.
   * @param state @default a new alarm's `INSUFFICIENT_DATA`, an existing alarm's current state
   * @returns a copy of the stored alarm
   */
  seedMetricAlarm(input: PutMetricAlarmInput, state?: StateValue): MetricAlarm {
    this.checkState(state, 'state', true);
    this.putMetricAlarm(input);
    const entry = this.alarms.get(input.AlarmName!)!;
    if (state !== undefined) this.changeState(entry, state, 'Seeded by the cutover simulator', undefined, false);
    return copy(entry.alarm);
  }

  /**
   * How the twin's own AWS services (the load balancer) publish metrics — a {@link MetricPublisher}
   * (bound: pass `sim.cloudwatch.publishServiceMetrics` as is). Same validation as
   * {@link putMetricData}, except that `AWS/` namespaces are allowed; a datum's `Timestamp` is
   * simulated time and defaults to the clock's now.
   * @example publishServiceMetrics('AWS/ApplicationELB', [{ MetricName: 'RequestCount', Dimensions: [{ Name: 'LoadBalancer', Value: 'app/shop/50dc6c495c0c9188' }], Value: 1, Unit: 'Count' }])
   * @throws the PutMetricData errors (InvalidParameterValueException, ...) for invalid data; nothing is stored then
   */
  readonly publishServiceMetrics: MetricPublisher = (namespace, data) => {
    this.storeMetricData({ Namespace: namespace, MetricData: data }, true);
  };

  /**
   * Evaluate every single-metric alarm now (simulated time), as CloudWatch does on its own schedule;
   * {@link startEvaluation} calls this on a timer, tests call it after `clock.advance`.
   *
   * For an alarm with `Period` P, `EvaluationPeriods` N, `DatapointsToAlarm` M (@default N):
   * - only periods that have ended count; periods are aligned to the epoch (`floor(now / P) * P` ends
   *   the newest one). The evaluation range is the newest N + 2 periods (the User Guide's example
   *   retrieves 5 datapoints for N = 3; AWS does not publish the exact rule).
   * - a period's datapoint is the alarm's `Statistic` / `ExtendedStatistic` (`pNN`) over the samples of
   *   the alarm's exact metric (namespace, name, dimensions; `Unit` when the alarm sets one); a period
   *   without samples (or whose percentile is unavailable) is missing.
   * - with at least N real datapoints in the range, the newest N decide: ALARM when at least M breach
   *   the threshold, else OK; TreatMissingData is not needed.
   * - with none, `missing` → INSUFFICIENT_DATA, `ignore` → keep the state, `breaching` → ALARM,
   *   `notBreaching` → OK.
   * - with fewer than N, all real ones are evaluated and N − (real count) missing ones are filled in:
   *   `breaching` counts them as breaching, `notBreaching` as not; with `missing` / `ignore` they do not
   *   count: ALARM when M real ones breach, OK when a real one does not breach, else (all real ones breach,
   *   fewer than M) the "premature alarm" rule: ALARM (`missing`) or keep the state (`ignore`) when the
   *   oldest breaching datapoint among the newest N periods is at least M periods old, otherwise keep the
   *   state. This reproduces every row of the two tables in "Configuring how CloudWatch alarms treat
   *   missing data".
   *
   * A changed state is stored with AWS's reason text (`Threshold Crossed: 1 datapoint [5.0
   * (21/11/26 12:00:00)] was greater than or equal to the threshold (1.0).`; the `N out of the last N
   * datapoints ... (minimum M datapoints for OK -> ALARM transition)` form when the alarm sets
   * `DatapointsToAlarm`), `StateReasonData` JSON and timestamps, and emits the state change event.
   * An unchanged state is left as is (reason included), so a state set by SetAlarmState lasts until an
   * evaluation changes it.
   *
   * Not evaluated (they keep their state): alarms with `Metrics` (metric math), `ThresholdMetricId`
   * (anomaly detection) or an `ExtendedStatistic` other than a percentile `pNN`.
   * `EvaluateLowSampleCountPercentile` is not applied (always `evaluate`).
   */
  evaluateAlarms(): void {
    const names = [...this.alarms.keys()].sort();
    for (const name of names) {
      const entry = this.alarms.get(name);
      if (entry) this.evaluateAlarm(entry);
    }
  }

  /**
   * Evaluate all alarms ({@link evaluateAlarms}) with the clock's timers at every multiple of
   * {@link EVALUATION_INTERVAL_SECONDS} (10) simulated seconds (`clock.setTimerAt`: while real work
   * holds the clock, no evaluation comes due); the first evaluation happens at the next multiple. (AWS
   * evaluates alarms every minute, or every 10 s for 10/20/30 s periods; a 10 s tick also picks up
   * datapoints published shortly after a period ended.) Timers are unref'd, so they never keep the
   * process alive. On a frozen clock (`timeScale: 0`) nothing is scheduled: call {@link evaluateAlarms}
   * after `clock.advance`. An evaluation error is reported on stderr and evaluation goes on.
   * @returns a function that stops the evaluation (idempotent)
   */
  startEvaluation(): () => void {
    const clock = this.ctx.clock;
    if (clock.timeScale === 0) return () => {};
    const intervalMs = EVALUATION_INTERVAL_SECONDS * 1000;
    let timer: (() => void) | undefined;
    let stopped = false;
    const schedule = () => {
      const next = (Math.floor(clock.nowMs() / intervalMs) + 1) * intervalMs;
      timer = clock.setTimerAt(next, tick, { unref: true });
    };
    const tick = () => {
      if (stopped) return;
      try {
        this.evaluateAlarms();
      } catch (err) {
        console.error('cutover simulator: CloudWatch alarm evaluation failed:', err);
      }
      if (!stopped) schedule();
    };
    schedule();
    return () => {
      stopped = true;
      timer?.();
    };
  }

  // ---------------------------------------------------------------- operations: alarms

  /**
   * PutMetricAlarm: `AlarmName`, `EvaluationPeriods`, `ComparisonOperator` required
   * (MissingRequiredParameterException); a single metric needs `MetricName`, `Namespace`, `Period` and
   * exactly one of `Statistic`/`ExtendedStatistic` (InvalidParameterCombinationException), unless
   * `Metrics` is given. InvalidParameterValueException for: `Period` other than 10, 20, 30 or a multiple
   * of 60; `Period` × `EvaluationPeriods` over one day (periods under an hour) or seven days;
   * `DatapointsToAlarm` outside 1..`EvaluationPeriods`; an unknown `ComparisonOperator`, `Statistic`,
   * `Unit` or `TreatMissingData`. A new alarm starts in INSUFFICIENT_DATA; updating one keeps its state.
   */
  putMetricAlarm(input: PutMetricAlarmInput): Record<string, never> {
    this.errors.require(input, 'AlarmName', 'EvaluationPeriods', 'ComparisonOperator');
    if (input.AlarmName!.length > 255) this.errors.invalid('AlarmName must be at most 255 characters.');
    this.errors.integerInRange('EvaluationPeriods', input.EvaluationPeriods, 1, 100_000);
    this.oneOf('ComparisonOperator', input.ComparisonOperator, Object.values(ComparisonOperator));
    this.oneOf('TreatMissingData', input.TreatMissingData, TREAT_MISSING);
    this.oneOf('Statistic', input.Statistic, STATISTICS);
    this.oneOf('Unit', input.Unit, UNITS);
    if (input.DatapointsToAlarm !== undefined) {
      this.errors.integerInRange('DatapointsToAlarm', input.DatapointsToAlarm, 1, input.EvaluationPeriods!);
    }
    if (!input.Metrics?.length) {
      this.errors.require(input, 'MetricName', 'Namespace', 'Period');
      if ((input.Statistic === undefined) === (input.ExtendedStatistic === undefined)) {
        this.errors.fail('InvalidParameterCombinationException', 'Exactly one of Statistic or ExtendedStatistic must be specified.');
      }
      const period = input.Period!;
      if (!Number.isInteger(period) || !(period === 10 || period === 20 || period === 30 || (period > 0 && period % 60 === 0))) {
        this.errors.invalid(`Invalid value ${period} for Period: must be 10, 20, 30 or a multiple of 60 (seconds).`);
      }
      const limit = period < 3600 ? 86_400 : 604_800;
      if (period * input.EvaluationPeriods! > limit) {
        this.errors.invalid(
          `Period * EvaluationPeriods must be at most ${limit} seconds (${period < 3600 ? 'one day for periods under an hour' : 'seven days'}); got ${period * input.EvaluationPeriods!}.`,
        );
      }
    }
    if (input.Threshold === undefined && input.ThresholdMetricId === undefined) {
      this.errors.fail('InvalidParameterCombinationException', 'Either Threshold or ThresholdMetricId must be specified.');
    }
    const now = new Date(this.nowMs());
    const existing = this.alarms.get(input.AlarmName!);
    const { Tags, ...config } = input;
    const alarm: MetricAlarm = {
      ...copy(config),
      AlarmArn: this.alarmArn(input.AlarmName!),
      ActionsEnabled: input.ActionsEnabled ?? true,
      OKActions: copy(input.OKActions ?? []),
      AlarmActions: copy(input.AlarmActions ?? []),
      InsufficientDataActions: copy(input.InsufficientDataActions ?? []),
      Dimensions: copy(input.Dimensions ?? []),
      AlarmConfigurationUpdatedTimestamp: now,
      StateValue: existing?.alarm.StateValue ?? 'INSUFFICIENT_DATA',
      StateReason: existing?.alarm.StateReason ?? 'Unchecked: Initial alarm creation',
      StateReasonData: existing?.alarm.StateReasonData,
      StateUpdatedTimestamp: existing?.alarm.StateUpdatedTimestamp ?? now,
      StateTransitionedTimestamp: existing?.alarm.StateTransitionedTimestamp ?? now,
    };
    this.alarms.set(input.AlarmName!, { alarm, metricId: existing?.metricId ?? randomUUID(), tags: copy(Tags ?? existing?.tags ?? []) });
    return {};
  }

  /**
   * DescribeAlarms: filters `AlarmNames` (max 100) or `AlarmNamePrefix` (not both:
   * InvalidParameterCombinationException), `StateValue`; alarms sorted by name; `MaxRecords` (1-100,
   * @default 50) and `NextToken` pagination (InvalidNextToken for a foreign token). Only metric
   * alarms exist: `CompositeAlarms` is always empty.
   * More than 100 `AlarmNames` or a `MaxRecords` outside 1-100 break the API model's constraints, which
   * CloudWatch checks before the operation runs: `ValidationError` "1 validation error detected: Value
   * '999' at 'maxRecords' failed to satisfy constraint: …" (as AWS answers; see boto/boto3#3475).
   */
  describeAlarms(input: DescribeAlarmsInput): DescribeAlarmsOutput {
    if ((input.AlarmNames?.length ?? 0) > 100) {
      this.constraintViolation('alarmNames', 'AlarmNames', `[${input.AlarmNames!.join(', ')}]`, 'Member must have length less than or equal to 100');
    }
    if (input.MaxRecords !== undefined && (!Number.isInteger(input.MaxRecords) || input.MaxRecords < 1 || input.MaxRecords > 100)) {
      this.constraintViolation('maxRecords', 'MaxRecords', String(input.MaxRecords), input.MaxRecords < 1 ? 'Member must have value greater than or equal to 1' : 'Member must have value less than or equal to 100');
    }
    if (input.AlarmNames?.length && input.AlarmNamePrefix !== undefined) {
      this.errors.fail('InvalidParameterCombinationException', 'AlarmNames and AlarmNamePrefix cannot be specified together.');
    }
    this.checkState(input.StateValue, 'StateValue', true);
    const wantMetric = !input.AlarmTypes?.length || input.AlarmTypes.includes('MetricAlarm');
    const alarms = [...this.alarms.values()]
      .map((a) => a.alarm)
      .filter(() => wantMetric)
      .filter((a) => !input.AlarmNames?.length || input.AlarmNames.includes(a.AlarmName!))
      .filter((a) => input.AlarmNamePrefix === undefined || a.AlarmName!.startsWith(input.AlarmNamePrefix))
      .filter((a) => input.StateValue === undefined || a.StateValue === input.StateValue)
      .sort((a, b) => (a.AlarmName! < b.AlarmName! ? -1 : a.AlarmName! > b.AlarmName! ? 1 : 0));
    const { page, next } = paginate(
      alarms,
      { size: input.MaxRecords, token: input.NextToken, defaultSize: 50, min: 1, max: 100, sizeField: 'MaxRecords' },
      this.errors,
      () => this.errors.fail('InvalidNextToken', 'The service found that the next token is not valid.'),
    );
    return { MetricAlarms: copy(page), CompositeAlarms: [], NextToken: next };
  }

  /**
   * SetAlarmState: `AlarmName`, `StateValue` (OK | ALARM | INSUFFICIENT_DATA) and `StateReason`
   * required; `StateReasonData` must be JSON (InvalidFormatFault); unknown alarm → ResourceNotFound.
   * A change of state value emits an {@link AlarmStateChangeEvent} to every listener; setting the
   * current value again only updates the reason (no event, as in AWS). The state lasts until the next
   * evaluation ({@link evaluateAlarms}) changes it.
   */
  setAlarmState(input: SetAlarmStateInput): Record<string, never> {
    this.errors.require(input, 'AlarmName', 'StateValue', 'StateReason');
    this.checkState(input.StateValue, 'StateValue', false);
    if (input.StateReasonData !== undefined) {
      try {
        JSON.parse(input.StateReasonData);
      } catch {
        this.errors.fail('InvalidFormatFault', 'StateReasonData is not valid JSON.');
      }
    }
    const entry = this.alarms.get(input.AlarmName!) ?? this.errors.fail('ResourceNotFound', `Alarm ${input.AlarmName} not found`);
    this.changeState(entry, input.StateValue!, input.StateReason!, input.StateReasonData, true);
    return {};
  }

  // ---------------------------------------------------------------- operations: metrics

  /**
   * PutMetricData (API reference "PutMetricData"): `Namespace` and `MetricData` required
   * (MissingRequiredParameterException); InvalidParameterValueException for a namespace starting with
   * `AWS/` (reserved for AWS services), more than 1000 datums, a datum without `MetricName`, more than
   * 30 dimensions (or a duplicate / blank one), a value that is NaN, ±Infinity or outside ±2^360, more
   * than 150 `Values`, `Counts` of another length than `Values` or negative, a `StatisticValues` set with
   * `SampleCount` ≤ 0 or `Minimum` > `Maximum`, an unknown `Unit`, `StorageResolution` other than 1 or
   * 60, a `Timestamp` more than two weeks before or two hours after now (simulated);
   * InvalidParameterCombinationException when a datum has more than one of `Value` / `Values` /
   * `StatisticValues` (or none). Nothing is stored when a datum is invalid. `EntityMetricData` is not
   * supported. `Unit` @default `None`; `Timestamp` @default now.
   */
  putMetricData(input: PutMetricDataInput): Record<string, never> {
    this.storeMetricData(input, false);
    return {};
  }

  /**
   * GetMetricStatistics (API reference "GetMetricStatistics"): the datapoints of one metric (the exact
   * `Dimensions` set it was published with) in [`StartTime`, `EndTime`), one per `Period` that has
   * data, as `Statistics` (SampleCount, Average, Sum, Minimum, Maximum; max 5) or `ExtendedStatistics`
   * (percentiles `p0`..`p100`, e.g. `p99`; max 10) — exactly one of the two
   * (InvalidParameterCombinationException). `Namespace`, `MetricName`, `StartTime`, `EndTime`, `Period`
   * required (MissingRequiredParameterException). `Period` is 1, 5, 10, 20, 30 or a multiple of 60
   * seconds; `StartTime` is rounded down to the period (sub-minute) or the minute; periods are counted
   * from it; more than 1,440 datapoints → InvalidParameterCombinationException. `Unit` filters (no
   * conversion); without it a datapoint per unit. Datapoints come in chronological order. A percentile
   * is left out of a datapoint when it cannot be computed (a negative value, or a statistic set with
   * SampleCount > 1 and Minimum ≠ Maximum); the simulator uses the nearest-rank percentile.
   */
  getMetricStatistics(input: GetMetricStatisticsInput): GetMetricStatisticsOutput {
    this.errors.require(input, 'Namespace', 'MetricName', 'StartTime', 'EndTime', 'Period');
    const hasStats = (input.Statistics?.length ?? 0) > 0;
    const hasExtended = (input.ExtendedStatistics?.length ?? 0) > 0;
    if (hasStats === hasExtended) {
      this.errors.fail(
        'InvalidParameterCombinationException',
        'Exactly one of the parameters Statistics or ExtendedStatistics must be specified.',
      );
    }
    if ((input.Statistics?.length ?? 0) > 5) this.errors.invalid('The collection Statistics must not have a size greater than 5.');
    if ((input.ExtendedStatistics?.length ?? 0) > 10) {
      this.errors.invalid('The collection ExtendedStatistics must not have a size greater than 10.');
    }
    for (const stat of input.Statistics ?? []) this.oneOf('Statistics', stat, STATISTICS);
    for (const stat of input.ExtendedStatistics ?? []) {
      if (percentileOf(stat) === undefined) {
        this.errors.invalid(`The value ${stat} for parameter ExtendedStatistics is invalid: the simulator supports percentiles p0..p100 (e.g. p99, p99.9).`);
      }
    }
    this.checkQueryPeriod('Period', input.Period);
    this.oneOf('Unit', input.Unit, UNITS);
    const dimensions = this.checkDimensions('Dimensions', input.Dimensions);
    const range = this.queryRange(input.StartTime, input.EndTime, input.Period!, 'InvalidParameterValueException');
    if (range.count > MAX_STATISTICS_DATAPOINTS) {
      this.errors.fail(
        'InvalidParameterCombinationException',
        `You have requested up to ${range.count.toLocaleString('en-US')} datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.`,
      );
    }
    const series = this.metrics.get(seriesKey(input.Namespace!, input.MetricName!, dimensions));
    const datapoints: Datapoint[] = [];
    for (let k = 0; k < range.count; k++) {
      const from = range.startMs + k * range.periodMs;
      const samples = series ? samplesIn(series.samples, from, Math.min(from + range.periodMs, range.endMs)) : [];
      const byUnit = new Map<StandardUnit, Sample[]>();
      for (const sample of samples) {
        if (input.Unit !== undefined && sample.unit !== input.Unit) continue;
        const group = byUnit.get(sample.unit);
        if (group) group.push(sample);
        else byUnit.set(sample.unit, [sample]);
      }
      for (const [unit, group] of byUnit) {
        const agg = aggregate(group);
        if (!agg) continue;
        const point: Datapoint = { Timestamp: new Date(from), Unit: unit };
        for (const stat of input.Statistics ?? []) (point as Record<string, unknown>)[stat] = statisticValue(agg, stat);
        if (hasExtended) {
          const extended: Record<string, number> = {};
          for (const stat of input.ExtendedStatistics!) {
            const value = statisticValue(agg, stat);
            if (value !== undefined) extended[stat] = value;
          }
          point.ExtendedStatistics = extended;
        }
        datapoints.push(point);
      }
    }
    return { Label: input.MetricName, Datapoints: datapoints };
  }

  /**
   * GetMetricData (API reference "GetMetricData") for `MetricStat` queries: `MetricDataQueries`
   * (1-500), `StartTime`, `EndTime` required; each query needs a unique `Id` (a lower-case letter, then
   * letters, digits, `_`) and a `MetricStat` with `Metric.Namespace`, `Metric.MetricName`, `Period` (1,
   * 5, 10, 20, 30 or a multiple of 60) and `Stat` (SampleCount, Average, Sum, Minimum, Maximum or a
   * percentile `pNN`); `Unit` filters. Errors: ValidationError (invalid query fields, and any
   * `Expression` — metric math and Metrics Insights are not implemented by the simulator),
   * MissingRequiredParameterException, InvalidNextToken (no pagination: every result is `Complete`).
   * A result per query with `ReturnData` not false: `Label` (@default the metric name) and the periods
   * that have data, newest first (`ScanBy` @default TimestampDescending) or oldest first
   * (TimestampAscending). Periods are counted from `StartTime` rounded as in GetMetricStatistics.
   */
  getMetricData(input: GetMetricDataInput): GetMetricDataOutput {
    this.errors.require(input, 'MetricDataQueries', 'StartTime', 'EndTime');
    if (input.NextToken !== undefined) this.errors.fail('InvalidNextToken', 'The service found that the next token is not valid.');
    this.queryRange(input.StartTime, input.EndTime, 60, 'ValidationError');
    const queries = input.MetricDataQueries!;
    if (queries.length > MAX_QUERIES) this.validation(`The collection MetricDataQueries must not have a size greater than ${MAX_QUERIES}.`);
    if (input.ScanBy !== undefined && input.ScanBy !== 'TimestampDescending' && input.ScanBy !== 'TimestampAscending') {
      this.validation(`The value ${String(input.ScanBy)} for parameter ScanBy is invalid: use TimestampDescending or TimestampAscending.`);
    }
    const ids = new Set<string>();
    queries.forEach((q, i) => {
      const field = `MetricDataQueries.member.${i + 1}`;
      if (typeof q.Id !== 'string' || !/^[a-z][a-zA-Z0-9_]*$/.test(q.Id) || q.Id.length > 255) {
        this.validation(`The value ${String(q.Id)} for parameter ${field}.Id is invalid: it must start with a lower-case letter and contain only letters, digits and underscores.`);
      }
      if (ids.has(q.Id)) this.validation(`The value ${q.Id} for parameter ${field}.Id is invalid: Ids must be unique.`);
      ids.add(q.Id);
      if (q.Expression !== undefined) {
        this.validation(
          `The cutover simulator does not implement ${field}.Expression (metric math / Metrics Insights: ${q.Expression}); it supports MetricStat queries only (Metric, Period, Stat, Unit).`,
        );
      }
      if (!q.MetricStat) this.validation(`Exactly one of ${field}.MetricStat or ${field}.Expression must be specified.`);
      const stat = q.MetricStat;
      if (!stat.Metric?.Namespace || !stat.Metric.MetricName) {
        this.validation(`${field}.MetricStat.Metric must have a Namespace and a MetricName.`);
      }
      this.checkQueryPeriod(`${field}.MetricStat.Period`, stat.Period, true);
      if (typeof stat.Stat !== 'string' || (!STATISTICS.includes(stat.Stat) && percentileOf(stat.Stat) === undefined)) {
        this.validation(
          `The value ${String(stat.Stat)} for parameter ${field}.MetricStat.Stat is invalid: the simulator supports ${STATISTICS.join(', ')} and percentiles p0..p100.`,
        );
      }
      if (stat.Unit !== undefined && !UNITS.includes(stat.Unit)) this.validation(`The value ${stat.Unit} for parameter ${field}.MetricStat.Unit is invalid.`);
      this.checkDimensions(`${field}.MetricStat.Metric.Dimensions`, stat.Metric.Dimensions);
    });
    const descending = input.ScanBy !== 'TimestampAscending';
    const results: MetricDataResult[] = [];
    for (const q of queries) {
      if (q.ReturnData === false) continue;
      const stat = q.MetricStat!;
      const metric = stat.Metric!;
      const range = this.queryRange(input.StartTime, input.EndTime, stat.Period!, 'ValidationError');
      const series = this.metrics.get(seriesKey(metric.Namespace!, metric.MetricName!, sortDimensions(metric.Dimensions ?? [])));
      const points: { t: number; value: number }[] = [];
      for (let k = 0; series && k < range.count; k++) {
        const from = range.startMs + k * range.periodMs;
        const samples = samplesIn(series.samples, from, Math.min(from + range.periodMs, range.endMs)).filter(
          (s) => stat.Unit === undefined || s.unit === stat.Unit,
        );
        const agg = aggregate(samples);
        const value = agg && statisticValue(agg, stat.Stat!);
        if (value !== undefined) points.push({ t: from, value });
      }
      if (descending) points.reverse();
      results.push({
        Id: q.Id,
        Label: q.Label ?? metric.MetricName,
        Timestamps: points.map((p) => new Date(p.t)),
        Values: points.map((p) => p.value),
        StatusCode: 'Complete',
      });
    }
    return { MetricDataResults: results, Messages: [] };
  }

  /**
   * ListMetrics (API reference "ListMetrics"): the metrics that have datapoints (the simulator lists a
   * metric at once, AWS within 15 minutes), filtered by exact `Namespace`, `MetricName` and `Dimensions`
   * (each filter `Name` must be a dimension of the metric, with `Value` when given; max 10 filters), and
   * `RecentlyActive: 'PT3H'` (published within the last three simulated hours); sorted by namespace,
   * name and dimensions; 500 a page with `NextToken`. InvalidParameterValueException for another
   * `RecentlyActive`, too many filters or a token the simulator did not issue.
   */
  listMetrics(input: ListMetricsInput): ListMetricsOutput {
    if (input.RecentlyActive !== undefined && input.RecentlyActive !== 'PT3H') {
      this.errors.invalid(`The value ${String(input.RecentlyActive)} for parameter RecentlyActive is invalid: the only valid value is PT3H.`);
    }
    if ((input.Dimensions?.length ?? 0) > 10) this.errors.invalid('The collection Dimensions must not have a size greater than 10.');
    const now = this.nowMs();
    const metrics: Metric[] = [...this.metrics.values()]
      .filter((s) => input.Namespace === undefined || s.namespace === input.Namespace)
      .filter((s) => input.MetricName === undefined || s.metricName === input.MetricName)
      .filter((s) => input.RecentlyActive === undefined || now - s.lastPublishedMs <= 3 * 3_600_000)
      .filter((s) =>
        (input.Dimensions ?? []).every((f) => s.dimensions.some((d) => d.Name === f.Name && (f.Value === undefined || d.Value === f.Value))),
      )
      .map((s) => ({ Namespace: s.namespace, MetricName: s.metricName, Dimensions: copy(s.dimensions) }))
      .sort((a, b) => compareText(metricSortKey(a), metricSortKey(b)));
    const { page, next } = paginate(
      metrics,
      { token: input.NextToken, defaultSize: LIST_METRICS_PAGE, min: 1, max: LIST_METRICS_PAGE, sizeField: 'NextToken' },
      this.errors,
      () => this.errors.invalid('The service found that the next token is not valid.'),
    );
    return { Metrics: page, NextToken: next };
  }

  // ---------------------------------------------------------------- internals: metric data

  private storeMetricData(input: PutMetricDataInput, allowAwsNamespace: boolean): void {
    this.errors.require(input, 'Namespace', 'MetricData');
    const namespace = input.Namespace!;
    if (typeof namespace !== 'string' || namespace.length > 255 || namespace.startsWith(':')) {
      this.errors.invalid(`The value ${String(namespace)} for parameter Namespace is invalid: 1-255 characters, not starting with ':'.`);
    }
    if (!allowAwsNamespace && namespace.startsWith('AWS/')) {
      this.errors.invalid(`The value ${namespace} for parameter Namespace is invalid: namespaces starting with AWS/ are reserved for AWS services.`);
    }
    const data = input.MetricData!;
    if (data.length > MAX_METRIC_DATA) {
      this.errors.invalid(`The collection MetricData must not have a size greater than ${MAX_METRIC_DATA}.`);
    }
    const now = this.nowMs();
    const samples = data.map((datum, i) => ({ datum, sample: this.toSample(datum, `MetricData.member.${i + 1}`, now) }));
    for (const { datum, sample } of samples) {
      if (!sample) continue;
      const dimensions = sortDimensions(datum.Dimensions ?? []);
      const key = seriesKey(namespace, datum.MetricName!, dimensions);
      let series = this.metrics.get(key);
      if (!series) {
        series = { namespace, metricName: datum.MetricName!, dimensions: copy(dimensions), samples: [], lastPublishedMs: now };
        this.metrics.set(key, series);
      }
      series.lastPublishedMs = now;
      insertSample(series.samples, sample);
      prune(series.samples, now - RETENTION_MS);
    }
  }

  /** Validate one datum; undefined when it carries no sample (all its counts are 0). */
  private toSample(datum: MetricDatum, field: string, now: number): Sample | undefined {
    if (typeof datum?.MetricName !== 'string' || datum.MetricName === '') {
      this.errors.fail('MissingRequiredParameterException', `The parameter ${field}.MetricName must be provided and must not be blank.`);
    }
    if (datum.MetricName.length > 255) this.errors.invalid(`The value for parameter ${field}.MetricName must be at most 255 characters.`);
    this.checkDimensions(`${field}.Dimensions`, datum.Dimensions);
    this.oneOf(`${field}.Unit`, datum.Unit, UNITS);
    if (datum.StorageResolution !== undefined && datum.StorageResolution !== 1 && datum.StorageResolution !== 60) {
      this.errors.invalid(`The value ${datum.StorageResolution} for parameter ${field}.StorageResolution is invalid: use 1 (high resolution) or 60.`);
    }
    let t = now;
    if (datum.Timestamp !== undefined) {
      t = new Date(datum.Timestamp).getTime();
      if (Number.isNaN(t)) this.errors.invalid(`The value for parameter ${field}.Timestamp is not a valid time.`);
      if (t < now - MAX_PAST_MS) this.errors.invalid(`The parameter ${field}.Timestamp must specify a time no more than two weeks in the past.`);
      if (t > now + MAX_FUTURE_MS) this.errors.invalid(`The parameter ${field}.Timestamp must specify a time no more than two hours in the future.`);
    }
    const resolutionMs = datum.StorageResolution === 1 ? 1000 : 60_000;
    t = Math.floor(t / resolutionMs) * resolutionMs;
    const unit = datum.Unit ?? 'None';
    const given = [datum.Value !== undefined && 'Value', datum.Values !== undefined && 'Values', datum.StatisticValues !== undefined && 'StatisticValues'].filter(
      (x): x is string => typeof x === 'string',
    );
    if (given.length > 1) {
      this.errors.fail(
        'InvalidParameterCombinationException',
        `The parameters ${given.map((g) => `${field}.${g}`).join(' and ')} are mutually exclusive and you have specified more than one.`,
      );
    }
    if (given.length === 0) {
      this.errors.fail(
        'InvalidParameterCombinationException',
        `One of the parameters ${field}.Value, ${field}.Values or ${field}.StatisticValues must be specified.`,
      );
    }
    if (datum.Counts !== undefined && datum.Values === undefined) {
      this.errors.fail('InvalidParameterCombinationException', `The parameter ${field}.Counts can only be used with ${field}.Values.`);
    }
    if (datum.Value !== undefined) {
      const v = this.checkValue(`${field}.Value`, datum.Value);
      return { t, unit, count: 1, sum: v, min: v, max: v, pairs: [[v, 1]] };
    }
    if (datum.Values !== undefined) {
      const values = datum.Values;
      if (values.length > MAX_VALUES) this.errors.invalid(`The collection ${field}.Values must not have a size greater than ${MAX_VALUES}.`);
      if (datum.Counts !== undefined && datum.Counts.length !== values.length) {
        this.errors.invalid(`The parameters ${field}.Values and ${field}.Counts must be of the same size.`);
      }
      const pairs: [number, number][] = [];
      values.forEach((value, j) => {
        const v = this.checkValue(`${field}.Values.member.${j + 1}`, value);
        const c = datum.Counts === undefined ? 1 : this.checkValue(`${field}.Counts.member.${j + 1}`, datum.Counts[j]);
        if (c < 0) this.errors.invalid(`The value ${c} for parameter ${field}.Counts.member.${j + 1} is invalid: counts must not be negative.`);
        if (c > 0) pairs.push([v, c]);
      });
      if (pairs.length === 0) return undefined;
      return {
        t,
        unit,
        count: pairs.reduce((n, [, c]) => n + c, 0),
        sum: pairs.reduce((n, [v, c]) => n + v * c, 0),
        min: Math.min(...pairs.map(([v]) => v)),
        max: Math.max(...pairs.map(([v]) => v)),
        pairs,
      };
    }
    const set = datum.StatisticValues!;
    for (const name of ['SampleCount', 'Sum', 'Minimum', 'Maximum'] as const) {
      if (set[name] === undefined || set[name] === null) {
        this.errors.fail('MissingRequiredParameterException', `The parameter ${field}.StatisticValues.${name} must be provided and must not be blank.`);
      }
      this.checkValue(`${field}.StatisticValues.${name}`, set[name]);
    }
    const [count, sum, min, max] = [set.SampleCount!, set.Sum!, set.Minimum!, set.Maximum!];
    if (!(count > 0)) this.errors.invalid(`The value ${count} for parameter ${field}.StatisticValues.SampleCount is invalid: it must be greater than 0.`);
    if (min > max) this.errors.invalid(`The parameter ${field}.StatisticValues.Minimum (${min}) must not be greater than Maximum (${max}).`);
    // Percentiles need raw values: a set qualifies when Min = Max and Sum = Min × SampleCount (PutMetricData).
    const raw = min === max && sum === min * count;
    return { t, unit, count, sum, min, max, pairs: raw ? [[min, count]] : undefined };
  }

  private checkValue(field: string, value: unknown): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > VALUE_LIMIT) {
      this.errors.invalid(`The value ${String(value)} for parameter ${field} is invalid: use a finite number from -2^360 to 2^360 (NaN and Infinity are not supported).`);
    }
    return value;
  }

  /** Validate a Dimensions list (max 30, Name and Value 1-255 characters, unique names); returns it sorted by name. */
  private checkDimensions(field: string, dimensions: Dimension[] | undefined): Dimension[] {
    const list = dimensions ?? [];
    if (list.length > MAX_DIMENSIONS) this.errors.invalid(`The collection ${field} must not have a size greater than ${MAX_DIMENSIONS}.`);
    const names = new Set<string>();
    list.forEach((d, i) => {
      for (const key of ['Name', 'Value'] as const) {
        const value = d?.[key];
        if (typeof value !== 'string' || value === '') {
          this.errors.fail('MissingRequiredParameterException', `The parameter ${field}.member.${i + 1}.${key} must be provided and must not be blank.`);
        }
        if (value.length > 255) this.errors.invalid(`The value for parameter ${field}.member.${i + 1}.${key} must be at most 255 characters.`);
      }
      if (names.has(d.Name!)) this.errors.invalid(`The collection ${field} has the dimension ${d.Name} more than once.`);
      names.add(d.Name!);
    });
    return sortDimensions(list);
  }

  /** GetMetricStatistics / GetMetricData period: 1, 5, 10, 20, 30 or a multiple of 60 seconds. */
  private checkQueryPeriod(field: string, period: unknown, validationError = false): void {
    const ok = typeof period === 'number' && Number.isInteger(period) && ([1, 5, 10, 20, 30].includes(period) || (period > 0 && period % 60 === 0));
    if (!ok) {
      const message = `The value ${String(period)} for parameter ${field} is invalid: use 1, 5, 10, 20, 30 or a multiple of 60 (seconds).`;
      if (validationError) this.validation(message);
      this.errors.invalid(message);
    }
  }

  /**
   * The periods of a query: StartTime rounded down to the period (periods under a minute) or to the
   * minute, then `count` periods of `periodMs` up to EndTime (exclusive).
   */
  private queryRange(start: unknown, end: unknown, period: number, errorName: string): { startMs: number; endMs: number; periodMs: number; count: number } {
    const startMs = new Date(start as Date).getTime();
    const endMs = new Date(end as Date).getTime();
    if (Number.isNaN(startMs) || Number.isNaN(endMs)) this.errors.fail(errorName, 'StartTime and EndTime must be valid times.');
    if (startMs >= endMs) this.errors.fail(errorName, 'The parameter StartTime must be less than the parameter EndTime.');
    const roundMs = period < 60 ? period * 1000 : 60_000;
    const alignedStart = Math.floor(startMs / roundMs) * roundMs;
    const periodMs = period * 1000;
    return { startMs: alignedStart, endMs, periodMs, count: Math.ceil((endMs - alignedStart) / periodMs) };
  }

  /**
   * A request that breaks a constraint of the API model (a member's length or range), answered as AWS
   * answers it before the operation runs: `ValidationError`, "1 validation error detected: Value
   * '<value>' at '<member>' failed to satisfy constraint: <constraint>", followed by the SDK's name of
   * the field (`(MaxRecords)`), so the message also names what the caller set.
   * @param member the member's wire name, lower camel case (e.g. `maxRecords`)
   * @param field the SDK input field (e.g. `MaxRecords`)
   */
  private constraintViolation(member: string, field: string, value: string, constraint: string): never {
    return this.errors.fail('ValidationError', `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: ${constraint} (${field})`);
  }

  /** GetMetricData's validation error (code `ValidationError`, as the service returns for bad queries). */
  private validation(message: string): never {
    return this.errors.fail('ValidationError', message);
  }

  private oneOf(field: string, value: unknown, allowed: readonly string[]): void {
    if (value === undefined) return;
    if (typeof value !== 'string' || !allowed.includes(value)) {
      this.errors.invalid(`The value ${String(value)} for parameter ${field} is invalid: use one of ${allowed.join(', ')}.`);
    }
  }

  // ---------------------------------------------------------------- internals: alarms

  private alarmArn(name: string): string {
    return this.arn('cloudwatch', `alarm:${name}`);
  }

  private checkState(value: unknown, field: string, optional: boolean): void {
    if (value === undefined && optional) return;
    if (typeof value !== 'string' || !STATES.includes(value)) {
      this.errors.invalid(`${field} must be one of OK, ALARM, INSUFFICIENT_DATA; got ${String(value)}.`);
    }
  }

  private evaluateAlarm(entry: SimAlarm): void {
    const a = entry.alarm;
    if (a.Metrics?.length || a.ThresholdMetricId !== undefined || a.Threshold === undefined) return;
    const comparison = COMPARISONS[a.ComparisonOperator ?? ''];
    const stat = a.Statistic ?? a.ExtendedStatistic;
    if (!comparison || stat === undefined || (a.Statistic === undefined && percentileOf(stat) === undefined)) return;
    const now = this.nowMs();
    const periodMs = a.Period! * 1000;
    const n = a.EvaluationPeriods!;
    const m = a.DatapointsToAlarm ?? n;
    const threshold = a.Threshold;
    const breaches = (slot: Slot) => comparison.test(slot.value!, threshold);
    const series = this.metrics.get(seriesKey(a.Namespace!, a.MetricName!, sortDimensions(a.Dimensions ?? [])));
    const newestEnd = Math.floor(now / periodMs) * periodMs;
    const slots: Slot[] = [];
    for (let k = 0; k < n + 2; k++) {
      const from = newestEnd - (k + 1) * periodMs;
      const samples = series ? samplesIn(series.samples, from, from + periodMs).filter((s) => a.Unit === undefined || s.unit === a.Unit) : [];
      const agg = aggregate(samples);
      const value = agg && statisticValue(agg, stat);
      slots.push(value === undefined ? { t: from } : { t: from, value, sampleCount: agg!.count });
    }
    const decision = decide(slots, n, m, (a.TreatMissingData as TreatMissing | undefined) ?? 'missing', breaches);
    if (!decision || decision.state === a.StateValue) return;
    const reason = reasonText(decision, n, m, a.DatapointsToAlarm !== undefined, comparison.phrase, threshold, breaches);
    const reasonData = javaJson({
      version: '1.0',
      queryDate: stateTimestamp(new Date(now)),
      ...(decision.evaluated.length ? { startDate: stateTimestamp(new Date(decision.evaluated[decision.evaluated.length - 1]!.t)) } : {}),
      ...(a.Unit === undefined ? {} : { unit: a.Unit }),
      statistic: stat,
      period: a.Period,
      recentDatapoints: [...decision.evaluated].reverse().map((s) => new JavaDouble(s.value!)),
      threshold: new JavaDouble(threshold),
      evaluatedDatapoints: [...decision.evaluated, ...decision.filled]
        .sort((x, y) => y.t - x.t)
        .map((s) =>
          s.value === undefined
            ? { timestamp: stateTimestamp(new Date(s.t)) }
            : { timestamp: stateTimestamp(new Date(s.t)), sampleCount: new JavaDouble(s.sampleCount!), value: new JavaDouble(s.value) },
        ),
    });
    this.changeState(entry, decision.state, reason, reasonData, true);
  }

  /**
   * DescribeAlarmHistory: state updates (the only history this simulator records), filtered by
   * `AlarmName`, `HistoryItemType` (other types match nothing), `StartDate`/`EndDate`; newest first
   * unless `ScanBy: 'TimestampAscending'`; `MaxRecords` 1-100 (@default 100) and `NextToken` pagination.
   * `HistoryData` is JSON with `oldState` / `newState` as in the CloudWatch console.
   */
  describeAlarmHistory(input: DescribeAlarmHistoryInput): DescribeAlarmHistoryOutput {
    let items = this.history.filter(
      (h) =>
        (input.AlarmName === undefined || h.AlarmName === input.AlarmName) &&
        (input.HistoryItemType === undefined || h.HistoryItemType === input.HistoryItemType) &&
        (input.StartDate === undefined || h.Timestamp! >= new Date(input.StartDate)) &&
        (input.EndDate === undefined || h.Timestamp! <= new Date(input.EndDate)),
    );
    if (input.ScanBy !== 'TimestampAscending') items = [...items].reverse();
    const { page, next } = paginate(
      items,
      { size: input.MaxRecords, token: input.NextToken, defaultSize: 100, min: 1, max: 100, sizeField: 'MaxRecords' },
      this.errors,
      () => this.errors.fail('InvalidNextToken', 'The next token specified is invalid.'),
    );
    return { AlarmHistoryItems: copy(page), NextToken: next };
  }

  private changeState(entry: SimAlarm, value: StateValue, reason: string, reasonData: string | undefined, emit: boolean): void {
    const alarm = entry.alarm;
    const now = new Date(this.nowMs());
    const previous: AlarmEventState = {
      value: alarm.StateValue!,
      reason: alarm.StateReason!,
      ...(alarm.StateReasonData === undefined ? {} : { reasonData: alarm.StateReasonData }),
      timestamp: stateTimestamp(alarm.StateUpdatedTimestamp!),
    };
    const changed = alarm.StateValue !== value;
    alarm.StateReason = reason;
    alarm.StateReasonData = reasonData;
    if (!changed) return;
    const from = alarm.StateValue!;
    alarm.StateValue = value;
    alarm.StateUpdatedTimestamp = now;
    alarm.StateTransitionedTimestamp = now;
    if (!emit) return;
    this.history.push({
      AlarmName: alarm.AlarmName,
      AlarmType: 'MetricAlarm',
      Timestamp: now,
      HistoryItemType: 'StateUpdate',
      HistorySummary: `Alarm updated from ${from} to ${value}`,
      HistoryData: JSON.stringify({
        version: '1.0',
        oldState: { stateValue: from, stateReason: previous.reason },
        newState: { stateValue: value, stateReason: reason, ...(reasonData === undefined ? {} : { stateReasonData: JSON.parse(reasonData) as unknown }) },
      }),
    });
    if (this.history.length > MAX_HISTORY_ITEMS) this.history.splice(0, this.history.length - MAX_HISTORY_ITEMS);
    const event: AlarmStateChangeEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: this.ctx.accountId,
      time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.ctx.region,
      resources: [alarm.AlarmArn!],
      detail: {
        alarmName: alarm.AlarmName!,
        state: { value, reason, ...(reasonData === undefined ? {} : { reasonData }), timestamp: stateTimestamp(now) },
        previousState: previous,
        configuration: {
          ...(alarm.AlarmDescription === undefined ? {} : { description: alarm.AlarmDescription }),
          metrics: this.eventMetrics(entry),
        },
      },
    };
    for (const listener of [...this.listeners]) {
      try {
        const result = listener(copy(event));
        if (result instanceof Promise) result.catch((err: unknown) => console.error('cutover simulator: alarm state listener failed:', err));
      } catch (err) {
        console.error('cutover simulator: alarm state listener failed:', err);
      }
    }
  }

  private eventMetrics(entry: SimAlarm): AlarmEventMetric[] {
    const a = entry.alarm;
    const dims = (list: { Name?: string; Value?: string }[] | undefined) => Object.fromEntries((list ?? []).map((d) => [d.Name!, d.Value!]));
    if (a.Metrics?.length) {
      return a.Metrics.map((m: MetricDataQuery) => ({
        id: m.Id!,
        ...(m.Expression === undefined ? {} : { expression: m.Expression }),
        ...(m.Label === undefined ? {} : { label: m.Label }),
        ...(m.MetricStat
          ? {
              metricStat: {
                metric: { namespace: m.MetricStat.Metric?.Namespace, name: m.MetricStat.Metric?.MetricName, dimensions: dims(m.MetricStat.Metric?.Dimensions) },
                period: m.MetricStat.Period,
                stat: m.MetricStat.Stat,
              },
            }
          : {}),
        returnData: m.ReturnData ?? true,
      }));
    }
    return [
      {
        id: entry.metricId,
        metricStat: {
          metric: { dimensions: dims(a.Dimensions), name: a.MetricName, namespace: a.Namespace },
          period: a.Period,
          stat: a.Statistic ?? a.ExtendedStatistic,
        },
        returnData: true,
      },
    ];
  }
}

/** `2019-10-02T17:04:40.989+0000`, the timestamp format of alarm event states and reason data. */
function stateTimestamp(d: Date): string {
  return d.toISOString().replace('Z', '+0000');
}

// ---------------------------------------------------------------- metric store helpers

function sortDimensions(dimensions: readonly Dimension[]): Dimension[] {
  return [...dimensions].sort((a, b) => compareText(a.Name ?? '', b.Name ?? ''));
}

/** Key of a metric: CloudWatch treats each unique combination of dimensions as a separate metric. */
function seriesKey(namespace: string, metricName: string, sortedDimensions: readonly Dimension[]): string {
  return JSON.stringify([namespace, metricName, ...sortedDimensions.map((d) => [d.Name, d.Value])]);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function metricSortKey(m: Metric): string {
  return JSON.stringify([m.Namespace, m.MetricName, ...(m.Dimensions ?? []).map((d) => [d.Name, d.Value])]);
}

/** Index of the first sample with `t >= ms` (samples are sorted by `t`). */
function lowerBound(samples: readonly Sample[], ms: number): number {
  let lo = 0;
  let hi = samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (samples[mid]!.t < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Samples with `from <= t < to`. */
function samplesIn(samples: readonly Sample[], from: number, to: number): Sample[] {
  return samples.slice(lowerBound(samples, from), lowerBound(samples, to));
}

/** Insert keeping `t` order (appending in the usual case of a current timestamp). */
function insertSample(samples: Sample[], sample: Sample): void {
  if (!samples.length || samples[samples.length - 1]!.t <= sample.t) samples.push(sample);
  else samples.splice(lowerBound(samples, sample.t + 1), 0, sample);
}

/** Drop samples older than `oldestMs` and the oldest beyond {@link MAX_SAMPLES_PER_METRIC}. */
function prune(samples: Sample[], oldestMs: number): void {
  const expired = lowerBound(samples, oldestMs);
  const drop = Math.max(expired, samples.length - MAX_SAMPLES_PER_METRIC);
  if (drop > 0) samples.splice(0, drop);
}

function aggregate(samples: readonly Sample[]): Aggregate | undefined {
  if (!samples.length) return undefined;
  const agg: Aggregate = { count: 0, sum: 0, min: Infinity, max: -Infinity, pairs: [] };
  for (const s of samples) {
    agg.count += s.count;
    agg.sum += s.sum;
    agg.min = Math.min(agg.min, s.min);
    agg.max = Math.max(agg.max, s.max);
    if (!agg.pairs || !s.pairs || s.min < 0) agg.pairs = undefined;
    else for (const pair of s.pairs) agg.pairs.push(pair);
  }
  return agg;
}

/** `p99` → 99, `p99.9` → 99.9; undefined for anything else or outside 0..100. */
function percentileOf(stat: string): number | undefined {
  const match = /^p(\d{1,3}(?:\.\d+)?)$/.exec(stat);
  if (!match) return undefined;
  const p = Number(match[1]);
  return p >= 0 && p <= 100 ? p : undefined;
}

/**
 * A statistic of an aggregate: SampleCount, Sum, Average, Minimum, Maximum, or a percentile `pNN`
 * (nearest rank over the raw values; undefined when the raw values are not available).
 */
function statisticValue(agg: Aggregate, stat: string): number | undefined {
  switch (stat) {
    case 'SampleCount':
      return agg.count;
    case 'Sum':
      return agg.sum;
    case 'Average':
      return agg.sum / agg.count;
    case 'Minimum':
      return agg.min;
    case 'Maximum':
      return agg.max;
  }
  const p = percentileOf(stat);
  if (p === undefined || !agg.pairs?.length) return undefined;
  const sorted = [...agg.pairs].sort((x, y) => x[0] - y[0]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  const rank = Math.max(Math.ceil((p / 100) * total), 1);
  let seen = 0;
  for (const [value, count] of sorted) {
    seen += count;
    if (seen >= rank) return value;
  }
  return sorted[sorted.length - 1]![0];
}

// ---------------------------------------------------------------- alarm evaluation helpers

/**
 * The state an alarm goes to from its evaluation range (`slots`, newest first); undefined keeps the
 * current state. See {@link CloudWatchSimulator.evaluateAlarms} for the rules.
 */
function decide(slots: readonly Slot[], n: number, m: number, treat: TreatMissing, breaches: (s: Slot) => boolean): Decision | undefined {
  const real = slots.filter((s) => s.value !== undefined);
  if (real.length >= n) {
    const evaluated = real.slice(0, n);
    return { state: evaluated.filter(breaches).length >= m ? 'ALARM' : 'OK', evaluated, filled: [] };
  }
  const filled = slots.filter((s) => s.value === undefined).slice(0, n - real.length);
  const breaching = real.filter(breaches).length;
  switch (treat) {
    case 'breaching':
      return { state: breaching + filled.length >= m ? 'ALARM' : 'OK', evaluated: real, filled, filledAs: 'Breaching' };
    case 'notBreaching':
      return { state: breaching >= m ? 'ALARM' : 'OK', evaluated: real, filled, filledAs: 'NonBreaching' };
  }
  if (real.length === 0) return treat === 'missing' ? { state: 'INSUFFICIENT_DATA', evaluated: [], filled } : undefined;
  if (breaching >= m) return { state: 'ALARM', evaluated: real, filled };
  if (breaching < real.length) return { state: 'OK', evaluated: real, filled };
  // Every real datapoint breaches but fewer than M: "Avoiding premature transitions to alarm state".
  let oldest = -1;
  for (let k = 0; k < n; k++) if (slots[k]!.value !== undefined) oldest = k;
  if (treat === 'missing' && oldest >= 0 && oldest + 1 >= m) return { state: 'ALARM', evaluated: real, filled };
  return undefined;
}

/**
 * AWS's state reason, e.g. `Threshold Crossed: 1 datapoint [5.0 (21/11/26 12:00:00)] was greater than
 * or equal to the threshold (1.0).`, `Threshold Crossed: 2 out of the last 3 datapoints [...] were
 * greater than the threshold (1.0) (minimum 2 datapoints for OK -> ALARM transition).` (alarms that set
 * DatapointsToAlarm), `Threshold Crossed: no datapoints were received for 1 period and 1 missing
 * datapoint was treated as [NonBreaching].`, `Insufficient Data: 3 datapoints were unknown.`
 */
function reasonText(
  d: Decision,
  n: number,
  m: number,
  explicitM: boolean,
  phrase: string,
  threshold: number,
  breaches: (s: Slot) => boolean,
): string {
  if (d.state === 'INSUFFICIENT_DATA') return `Insufficient Data: ${plural(n, 'datapoint')} ${n === 1 ? 'was' : 'were'} unknown.`;
  const alarm = d.state === 'ALARM';
  const missing =
    d.filledAs && d.filled.length
      ? ` and ${d.filled.length} missing ${d.filled.length === 1 ? 'datapoint was' : 'datapoints were'} treated as [${d.filledAs}]`
      : '';
  const minimum = explicitM ? ` (minimum ${plural(alarm ? m : n - m + 1, 'datapoint')} for ${alarm ? 'OK -> ALARM' : 'ALARM -> OK'} transition)` : '';
  const matching = d.evaluated.filter((s) => breaches(s) === alarm);
  if (matching.length) {
    const list = matching.map((s) => `${javaDouble(s.value!)} (${reasonDate(s.t)})`).join(', ');
    const count = explicitM ? `${matching.length} out of the last ${n} datapoints` : plural(matching.length, 'datapoint');
    const verb = matching.length === 1 ? 'was' : 'were';
    return `Threshold Crossed: ${count} [${list}] ${verb} ${alarm ? '' : 'not '}${phrase} the threshold (${javaDouble(threshold)})${missing}${minimum}.`;
  }
  const received = d.evaluated.length ? `${plural(d.evaluated.length, 'datapoint')} ${d.evaluated.length === 1 ? 'was' : 'were'}` : 'no datapoints were';
  return `Threshold Crossed: ${received} received for ${plural(n, 'period')}${missing}${minimum}.`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** `dd/MM/yy HH:mm:ss` (UTC), the datapoint time format of state reasons. */
function reasonDate(ms: number): string {
  const d = new Date(ms);
  const two = (x: number) => String(x).padStart(2, '0');
  return `${two(d.getUTCDate())}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/** A number as Java's `Double.toString` prints it (`5.0`, `0.25`, `1.0E7`, `1.5E-4`), as AWS's reasons do. */
function javaDouble(value: number): string {
  const abs = Math.abs(value);
  if (abs === 0 || (abs >= 1e-3 && abs < 1e7)) {
    const text = String(value === 0 ? 0 : value);
    return text.includes('.') ? text : `${text}.0`;
  }
  const [mantissa, exponent] = value.toExponential().split('e') as [string, string];
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${exponent.replace('+', '')}`;
}

/** Marks a number to be written as a Java double in {@link javaJson}. */
class JavaDouble {
  constructor(readonly value: number) {}
}

/** JSON text with {@link JavaDouble} numbers written as doubles (`10.0`), as in AWS's StateReasonData. */
function javaJson(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof JavaDouble ? `@@javaDouble:${javaDouble(v.value)}@@` : v));
  return text.replace(/"@@javaDouble:([^@"]+)@@"/g, '$1');
}
