/**
 * CloudWatch adapter: the state of named alarms (DescribeAlarms, up to 100 names per call, paginated).
 */
import { DescribeAlarmsCommand, type MetricAlarm, type CompositeAlarm } from '@aws-sdk/client-cloudwatch';
import { cloudWatchClient } from './clients';
import { withRetryClassification } from './errors';

export interface AlarmState {
  name: string;
  /** `OK` | `ALARM` | `INSUFFICIENT_DATA` */
  state: string;
  reason: string;
  /** ISO-8601 time of the last state change. */
  since: string | null;
}

/**
 * The states of the named metric and composite alarms; names that do not exist are absent from the result.
 * @throws TransientAwsError for throttling / 5xx / timeouts, other SDK errors as they are; both name the call (see ./errors)
 */
export async function describeAlarmStates(names: readonly string[]): Promise<AlarmState[]> {
  const result: AlarmState[] = [];
  for (let i = 0; i < names.length; i += 100) {
    const chunk = names.slice(i, i + 100);
    let nextToken: string | undefined;
    do {
      const out = await withRetryClassification(
        () => cloudWatchClient().send(new DescribeAlarmsCommand({ AlarmNames: chunk, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], NextToken: nextToken })),
        `CloudWatch DescribeAlarms ${chunk.join(', ')}`,
      );
      const alarms: Array<MetricAlarm | CompositeAlarm> = [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])];
      for (const a of alarms) {
        result.push({
          name: a.AlarmName ?? '?',
          state: a.StateValue ?? 'INSUFFICIENT_DATA',
          reason: a.StateReason ?? '',
          since: a.StateUpdatedTimestamp ? new Date(a.StateUpdatedTimestamp).toISOString() : null,
        });
      }
      nextToken = out.NextToken;
    } while (nextToken);
  }
  return result;
}
