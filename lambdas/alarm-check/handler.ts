/**
 * alarm-check — are any of the environment's alarms in ALARM?
 *
 * Event: `{ alarms: string[], phase?: string }` (`phase` only words the message, e.g. "during the bake at 10%").
 * Returns: `{ alarming: boolean, firing: AlarmState[], message: string }`.
 * Throws: `Cutover.ResourceState` when a configured alarm does not exist (a typo must not silently
 * disable protection); `Cutover.Transient` for throttling (retried).
 */
import * as z from 'zod/mini';
import { describeAlarmStates } from '../../lib/aws/cloudwatch';
import { checkAlarms } from '../../lib/domain/alarm-events';
import { InvalidInputError, ResourceStateError } from '../../lib/domain/errors';

const Event = z.object({ alarms: z.array(z.string()), phase: z.optional(z.string()) });

export const handler = async (event: unknown) => {
  const parsed = Event.safeParse(event);
  if (!parsed.success) throw new InvalidInputError(`alarm-check: invalid event: ${parsed.error.message}`);
  const { alarms, phase } = parsed.data;
  if (alarms.length === 0) return { alarming: false, firing: [], message: 'no alarms configured' };
  const check = checkAlarms(alarms, await describeAlarmStates(alarms), phase);
  if (check.kind === 'missing') throw new ResourceStateError(check.message);
  return { alarming: check.kind === 'firing', firing: check.kind === 'firing' ? check.firing : [], message: check.message };
};
