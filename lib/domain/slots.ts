/**
 * Blue/green slots: which one is live, judged from the production route's forward weights.
 */
import { ResourceStateError } from './errors';

export type SlotName = 'blue' | 'green';

export interface SlotRef {
  readonly service: string;
  readonly targetGroupArn: string;
}

export interface SlotRoles {
  /** The slot that serves production now (the rollback target). */
  readonly live: SlotName;
  /** The slot the new release goes to. */
  readonly idle: SlotName;
  /** Weights seen on the production route, by slot. */
  readonly weights: Readonly<Record<SlotName, number>>;
}

export const otherSlot = (slot: SlotName): SlotName => (slot === 'blue' ? 'green' : 'blue');

/**
 * Decide the live slot from the production route's weights (target group ARN → weight).
 * The slot with the larger weight is live; on a tie (e.g. a crashed earlier deployment left 50/50)
 * blue is live. A route that forwards to neither slot is a configuration error.
 * @throws ResourceStateError naming the route and the target groups it forwards to
 */
export function slotRoles(
  weightsByTargetGroup: Readonly<Record<string, number>>,
  slots: Readonly<Record<SlotName, SlotRef>>,
  routeArn: string,
): SlotRoles {
  const blue = weightsByTargetGroup[slots.blue.targetGroupArn];
  const green = weightsByTargetGroup[slots.green.targetGroupArn];
  if (blue === undefined && green === undefined) {
    throw new ResourceStateError(
      `${routeArn} does not forward to the blue (${slots.blue.targetGroupArn}) or green (${slots.green.targetGroupArn}) target group; ` +
        `it forwards to ${Object.keys(weightsByTargetGroup).join(', ') || 'nothing'}. Fix the listener or the slots in the config.`,
    );
  }
  const weights = { blue: blue ?? 0, green: green ?? 0 };
  const live: SlotName = weights.green > weights.blue ? 'green' : 'blue';
  return { live, idle: otherSlot(live), weights };
}

/**
 * Forward weights (0-100) putting `percent` of traffic on `idle` and the rest on `live`.
 * @returns target group ARN → weight
 */
export function weightsFor(slots: Readonly<Record<SlotName, SlotRef>>, idle: SlotName, percent: number): Record<string, number> {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new RangeError(`percent must be 0-100, got ${percent}`);
  return {
    [slots[idle].targetGroupArn]: percent,
    [slots[otherSlot(idle)].targetGroupArn]: 100 - percent,
  };
}
