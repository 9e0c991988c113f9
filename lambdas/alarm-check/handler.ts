/**
 * alarm-check — are any of the environment's alarms in ALARM?
 *
 * Event: `{ alarms: string[], phase?: string }` (`phase` only words the message, e.g. "during the bake at 10%").
 * Returns: `{ alarming: boolean, firing: AlarmState[], message: string }`.
 * Throws: `Cutover.ResourceState` when a configured alarm does not exist (a typo must not silently
 * disable protection); `Cutover.Transient` for throttling (retried).
 */
import { z } from 'zod';
import { describeAlarmStates } from '../../lib/aws/cloudwatch';
import { InvalidInputError, ResourceStateError } from '../../lib/domain/errors';

const Event = z.object({ alarms: z.array(z.string()), phase: z.string().optional() });

export const handler = async (event: unknown) => {
  const parsed = Event.safeParse(event);
  if (!parsed.success) throw new InvalidInputError(`alarm-check: invalid event: ${parsed.error.message}`);
  const { alarms, phase } = parsed.data;
  if (alarms.length === 0) return { alarming: false, firing: [], message: 'no alarms configured' };
  const states = await describeAlarmStates(alarms);
  const found = new Set(states.map((s) => s.name));
  const missing = alarms.filter((a) => !found.has(a));
  if (missing.length > 0) {
    throw new ResourceStateError(`Alarm(s) ${missing.join(', ')} do not exist in CloudWatch (DescribeAlarms lists none of that name); create them or fix "alarms" in the config.`);
  }
  const firing = states.filter((s) => s.state === 'ALARM');
  const message =
    firing.length === 0
      ? `all ${alarms.length} alarm(s) OK${phase ? ` ${phase}` : ''}`
      : firing.map((f) => `alarm ${f.name} is in ALARM${phase ? ` ${phase}` : ''}: ${f.reason}`).join('; ');
  return { alarming: firing.length > 0, firing, message };
};
