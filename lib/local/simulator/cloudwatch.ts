/**
 * Simulated Amazon CloudWatch metric alarms: PutMetricAlarm, DescribeAlarms, SetAlarmState, and the
 * EventBridge "CloudWatch Alarm State Change" event each state change emits.
 *
 * The event follows the sample in the CloudWatch User Guide ("Alarm events and EventBridge"):
 * `time` without milliseconds (`2019-10-02T17:04:40Z`), state timestamps as
 * `2019-10-02T17:04:40.989+0000`, `detail.configuration.metrics` in the event's camelCase shape.
 */
import { randomUUID } from 'node:crypto';
import type {
  DescribeAlarmsInput,
  DescribeAlarmsOutput,
  MetricAlarm,
  MetricDataQuery,
  PutMetricAlarmInput,
  SetAlarmStateInput,
  StateValue,
  Tag,
} from '@aws-sdk/client-cloudwatch';
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

const STATES: readonly string[] = ['OK', 'ALARM', 'INSUFFICIENT_DATA'];

interface SimAlarm {
  alarm: MetricAlarm;
  /** Metric id used for a single-metric alarm in events (stable per alarm). */
  metricId: string;
  tags: Tag[];
}

export class CloudWatchSimulator extends SimulatedService {
  private readonly alarms = new Map<string, SimAlarm>();
  private readonly listeners = new Set<AlarmStateListener>();

  protected readonly operations = {
    PutMetricAlarm: (i: PutMetricAlarmInput) => this.putMetricAlarm(i),
    DescribeAlarms: (i: DescribeAlarmsInput) => this.describeAlarms(i),
    SetAlarmState: (i: SetAlarmStateInput) => this.setAlarmState(i),
  };

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
      this.putMetricAlarm({
        AlarmName: name,
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'HTTPCode_Target_5XX_Count',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
      this.changeState(this.alarms.get(name)!, state, 'Seeded by the cutover simulator', undefined, false);
    }
    return copy(this.alarms.get(name)!.alarm);
  }

  // ---------------------------------------------------------------- operations

  /**
   * PutMetricAlarm: `AlarmName`, `EvaluationPeriods`, `ComparisonOperator` required
   * (MissingRequiredParameterException); a single metric needs `MetricName`, `Namespace`, `Period` and
   * exactly one of `Statistic`/`ExtendedStatistic` (InvalidParameterCombinationException), unless
   * `Metrics` is given. A new alarm starts in INSUFFICIENT_DATA; updating one keeps its state.
   */
  putMetricAlarm(input: PutMetricAlarmInput): Record<string, never> {
    this.errors.require(input, 'AlarmName', 'EvaluationPeriods', 'ComparisonOperator');
    if (input.AlarmName!.length > 255) this.errors.invalid('AlarmName must be at most 255 characters.');
    this.errors.integerInRange('EvaluationPeriods', input.EvaluationPeriods, 1, 100_000);
    if (!input.Metrics?.length) {
      this.errors.require(input, 'MetricName', 'Namespace', 'Period');
      if ((input.Statistic === undefined) === (input.ExtendedStatistic === undefined)) {
        this.errors.fail('InvalidParameterCombinationException', 'Exactly one of Statistic or ExtendedStatistic must be specified.');
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
   */
  describeAlarms(input: DescribeAlarmsInput): DescribeAlarmsOutput {
    if (input.AlarmNames?.length && input.AlarmNamePrefix !== undefined) {
      this.errors.fail('InvalidParameterCombinationException', 'AlarmNames and AlarmNamePrefix cannot be specified together.');
    }
    if ((input.AlarmNames?.length ?? 0) > 100) this.errors.invalid('AlarmNames can have at most 100 items.');
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
   * current value again only updates the reason (no event, as in AWS).
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

  // ---------------------------------------------------------------- internals

  private alarmArn(name: string): string {
    return this.arn('cloudwatch', `alarm:${name}`);
  }

  private checkState(value: unknown, field: string, optional: boolean): void {
    if (value === undefined && optional) return;
    if (typeof value !== 'string' || !STATES.includes(value)) {
      this.errors.invalid(`${field} must be one of OK, ALARM, INSUFFICIENT_DATA; got ${String(value)}.`);
    }
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
    alarm.StateValue = value;
    alarm.StateUpdatedTimestamp = now;
    alarm.StateTransitionedTimestamp = now;
    if (!emit) return;
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

/** `2019-10-02T17:04:40.989+0000`, the timestamp format of alarm event states. */
function stateTimestamp(d: Date): string {
  return d.toISOString().replace('Z', '+0000');
}
