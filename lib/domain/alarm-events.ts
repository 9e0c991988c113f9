/**
 * CloudWatch alarm events: the EventBridge rule that sends an environment's alarms going to ALARM to
 * the `alarm` function, and the parsing of those events. Pure: no AWS SDK, no CDK.
 *
 * Event shape: "CloudWatch Alarm State Change" (CloudWatch User Guide, "Alarm events and EventBridge"):
 * `{ source: "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", resources: [alarmArn],
 *    time, detail: { alarmName, state: { value, reason, timestamp }, previousState: {…} } }`.
 */
import * as z from 'zod/mini';
import type { Config } from '../config/schema';

/** An EventBridge event pattern (the JSON syntax EventBridge stores) for alarms going to ALARM. */
export interface AlarmEventPattern {
  readonly source: readonly ['aws.cloudwatch'];
  readonly 'detail-type': readonly ['CloudWatch Alarm State Change'];
  readonly detail: {
    readonly alarmName: readonly string[];
    readonly state: { readonly value: readonly ['ALARM'] };
  };
}

/** Every alarm name some environment of the config watches, sorted, without duplicates. */
export function watchedAlarms(config: Config): string[] {
  const names = new Set<string>();
  for (const service of Object.values(config.services)) {
    for (const env of Object.values(service.environments)) env.alarms.forEach((a) => names.add(a));
  }
  return [...names].sort();
}

/**
 * The pattern of the rule that invokes the `alarm` function: a configured alarm entering ALARM.
 * @returns the pattern, or `undefined` when no environment has alarms (no rule is needed)
 */
export function alarmEventPattern(config: Config): AlarmEventPattern | undefined {
  const alarmName = watchedAlarms(config);
  if (alarmName.length === 0) return undefined;
  return {
    source: ['aws.cloudwatch'],
    'detail-type': ['CloudWatch Alarm State Change'],
    detail: { alarmName, state: { value: ['ALARM'] } },
  };
}

/** The parts of an alarm event the `alarm` function uses. */
export const AlarmStateChangeSchema = z.object({
  id: z.string().check(z.minLength(1)),
  source: z.literal('aws.cloudwatch', { error: 'source: not a CloudWatch event (expected "aws.cloudwatch")' }),
  'detail-type': z.literal('CloudWatch Alarm State Change', { error: 'detail-type: expected "CloudWatch Alarm State Change"' }),
  time: z.optional(z.string()),
  resources: z._default(z.array(z.string()), []),
  detail: z.object({
    alarmName: z.string().check(z.minLength(1)),
    state: z.object({ value: z.string(), reason: z._default(z.string(), ''), timestamp: z.optional(z.string()) }),
    previousState: z.optional(z.partial(z.object({ value: z.string() }))),
  }),
});
export type AlarmStateChange = z.infer<typeof AlarmStateChangeSchema>;

/** A (service, environment) that watches an alarm. */
export interface WatchingEnvironment {
  readonly service: string;
  readonly environment: string;
}

/** The environments whose `alarms` list names `alarmName` (an alarm may protect several). */
export function environmentsWatching(config: Config, alarmName: string): WatchingEnvironment[] {
  const out: WatchingEnvironment[] = [];
  for (const [service, s] of Object.entries(config.services)) {
    for (const [environment, env] of Object.entries(s.environments)) {
      if (env.alarms.includes(alarmName)) out.push({ service, environment });
    }
  }
  return out;
}

/** One line for records and notifications, e.g. `alarm hello-world-5xx went to ALARM at 2026-…: Threshold Crossed: …`. */
export function alarmReason(event: AlarmStateChange): string {
  const at = event.detail.state.timestamp ?? event.time;
  return `alarm ${event.detail.alarmName} went to ALARM${at ? ` at ${at}` : ''}: ${event.detail.state.reason || 'no reason given'}`;
}

/** An alarm's state as DescribeAlarms reports it (the subset {@link checkAlarms} reads). */
export interface ObservedAlarm {
  readonly name: string;
  /** `OK` | `ALARM` | `INSUFFICIENT_DATA` */
  readonly state: string;
  readonly reason: string;
}

/** What {@link checkAlarms} found. */
export type AlarmCheck<A extends ObservedAlarm = ObservedAlarm> =
  /** A configured alarm does not exist: a typo or a deleted alarm must not silently leave a step unwatched. */
  | { readonly kind: 'missing'; readonly missing: readonly string[]; readonly message: string }
  | { readonly kind: 'firing'; readonly firing: A[]; readonly message: string }
  | { readonly kind: 'ok'; readonly message: string };

/**
 * Judge the configured alarms from what DescribeAlarms returned (names it does not list do not exist).
 * Used before traffic moves (the alarm-check function) and as each bake or approval wait starts.
 * @param names the environment's `alarms`
 * @param observed DescribeAlarms' metric and composite alarms of those names
 * @param when words the message, e.g. `as the bake at 10% starts` (optional)
 */
export function checkAlarms<A extends ObservedAlarm>(names: readonly string[], observed: readonly A[], when?: string): AlarmCheck<A> {
  const found = new Set(observed.map((a) => a.name));
  const missing = names.filter((n) => !found.has(n));
  if (missing.length > 0) {
    return {
      kind: 'missing',
      missing,
      message: `Alarm(s) ${missing.join(', ')} do not exist in CloudWatch${when ? ` ${when}` : ''} (DescribeAlarms lists none of that name); create them or fix "alarms" in the config.`,
    };
  }
  const firing = observed.filter((a) => a.state === 'ALARM');
  if (firing.length > 0) return { kind: 'firing', firing, message: firing.map((f) => `alarm ${f.name} is in ALARM${when ? ` ${when}` : ''}: ${f.reason}`).join('; ') };
  return { kind: 'ok', message: `all ${names.length} alarm(s) OK${when ? ` ${when}` : ''}` };
}
