import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { otherSlot, slotRoles, weightsFor, type SlotName, type SlotRef } from '../../lib/domain/slots';
import { ResourceStateError } from '../../lib/domain/errors';

const BLUE_TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app-blue/0a1b2c3d4e5f6a7b';
const GREEN_TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app-green/1b2c3d4e5f6a7b8c';
const OTHER_TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/other/2c3d4e5f6a7b8c9d';
const ROUTE = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/50dc6c495c0c9188/f2f7dc8efc522ab2';
const slots: Record<SlotName, SlotRef> = {
  blue: { service: 'app-blue', targetGroupArn: BLUE_TG },
  green: { service: 'app-green', targetGroupArn: GREEN_TG },
};

describe('slotRoles', () => {
  it('blue is live when it carries the traffic', () => {
    const roles = slotRoles({ [BLUE_TG]: 100, [GREEN_TG]: 0 }, slots, ROUTE);
    assert.deepEqual(roles, { live: 'blue', idle: 'green', weights: { blue: 100, green: 0 } });
  });

  it('green is live when it carries more traffic', () => {
    const roles = slotRoles({ [BLUE_TG]: 10, [GREEN_TG]: 90 }, slots, ROUTE);
    assert.equal(roles.live, 'green');
    assert.equal(roles.idle, 'blue');
    assert.deepEqual(roles.weights, { blue: 10, green: 90 });
  });

  it('a route forwarding to only one slot counts the other as 0', () => {
    const roles = slotRoles({ [GREEN_TG]: 1 }, slots, ROUTE);
    assert.deepEqual(roles, { live: 'green', idle: 'blue', weights: { blue: 0, green: 1 } });
  });

  it('a tie (e.g. a crashed 50/50 deployment) makes blue live', () => {
    const roles = slotRoles({ [BLUE_TG]: 50, [GREEN_TG]: 50 }, slots, ROUTE);
    assert.equal(roles.live, 'blue');
    assert.equal(roles.idle, 'green');
  });

  it('fails with ResourceStateError naming the route, what it forwards to and the fix when neither slot is forwarded to', () => {
    assert.throws(
      () => slotRoles({ [OTHER_TG]: 100 }, slots, ROUTE),
      (err: unknown) => {
        assert.ok(err instanceof ResourceStateError);
        assert.equal(err.name, 'Cutover.ResourceState');
        assert.match(err.message, new RegExp(ROUTE.replace(/[/.]/g, '\\$&')));
        assert.ok(err.message.includes(OTHER_TG), 'names where it forwards');
        assert.ok(err.message.includes(BLUE_TG) && err.message.includes(GREEN_TG), 'names the slot target groups');
        assert.match(err.message, /Fix the listener or the slots/);
        return true;
      },
    );
  });

  it('fails when the route forwards nowhere at all', () => {
    assert.throws(() => slotRoles({}, slots, ROUTE), (err: Error) => err instanceof ResourceStateError && /forwards to nothing/.test(err.message));
  });
});

describe('weightsFor', () => {
  it('puts percent on the idle slot and the rest on the other', () => {
    assert.deepEqual(weightsFor(slots, 'green', 10), { [GREEN_TG]: 10, [BLUE_TG]: 90 });
    assert.deepEqual(weightsFor(slots, 'blue', 100), { [BLUE_TG]: 100, [GREEN_TG]: 0 });
    assert.deepEqual(weightsFor(slots, 'green', 0), { [GREEN_TG]: 0, [BLUE_TG]: 100 });
  });

  it('otherSlot flips', () => {
    assert.equal(otherSlot('blue'), 'green');
    assert.equal(otherSlot('green'), 'blue');
  });

  for (const bad of [-1, 101, 12.5, Number.NaN]) {
    it(`fails with RangeError for percent ${bad}`, () => {
      assert.throws(() => weightsFor(slots, 'green', bad), (err: Error) => err instanceof RangeError && err.message.includes(String(bad)));
    });
  }
});
