/** lib/domain/change-window.ts: weekly windows in IANA zones, freezes, overrides, and DST transitions (Luxon). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideChangeWindow, describeInstant, isKnownTimeZone, nextOpening, type ChangePolicy } from '../../lib/domain/change-window';

const berlinWorkdays: ChangePolicy = {
  windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00', timezone: 'Europe/Berlin' }],
  freezes: [],
  outsideWindow: 'wait',
};
const at = (iso: string) => new Date(iso);
/** Assert that `actual` has every field of `expected` (deep-equal per field). */
function matches(actual: unknown, expected: Record<string, unknown>): void {
  const a = actual as Record<string, unknown>;
  for (const [k, v] of Object.entries(expected)) {
    if (v !== null && typeof v === 'object') matches(a[k], v as Record<string, unknown>);
    else assert.deepEqual(a[k], v, `${k}: ${JSON.stringify(a[k])} !== ${JSON.stringify(v)}`);
  }
}

describe('decideChangeWindow', () => {
  it('is open inside a weekly window (Berlin winter time is UTC+1)', () => {
    // Monday 2026-12-07 10:30 in Berlin is 09:30Z.
    const d = decideChangeWindow(berlinWorkdays, at('2026-12-07T09:30:00Z'));
    assert.equal(d.open, true);
  });

  it('waits from Saturday until Monday 09:00 Berlin, with the seconds to wait', () => {
    const d = decideChangeWindow(berlinWorkdays, at('2026-12-05T15:00:00Z'));
    matches(d, { open: false, action: 'wait', reason: 'outside-window', until: '2026-12-07T08:00:00.000Z', error: 'Cutover.OutsideChangeWindow' });
    if (d.open) throw new Error('expected closed');
    assert.equal(d.seconds, (Date.parse('2026-12-07T08:00:00Z') - Date.parse('2026-12-05T15:00:00Z')) / 1000);
    assert.ok((d.message).includes('Mon 09:00 Europe/Berlin'));
  });

  it('closes at the end time: 17:00 Berlin on a Friday waits for Monday', () => {
    const d = decideChangeWindow(berlinWorkdays, at('2026-12-04T16:00:00Z'));
    matches(d, { open: false, until: '2026-12-07T08:00:00.000Z' });
    assert.equal(decideChangeWindow(berlinWorkdays, at('2026-12-04T15:59:59Z')).open, true);
  });

  it('refuses outside the window when outsideWindow is refuse, naming the next opening', () => {
    const d = decideChangeWindow({ ...berlinWorkdays, outsideWindow: 'refuse' }, at('2026-12-05T15:00:00Z'));
    matches(d, { open: false, action: 'refuse', error: 'Cutover.OutsideChangeWindow', until: '2026-12-07T08:00:00.000Z' });
    if (d.open) throw new Error('expected closed');
    assert.match(d.message, /^refused: outside its change window/);
  });

  it('a freeze closes an open window, and the wait ends when the freeze does (inside the window)', () => {
    const policy: ChangePolicy = { ...berlinWorkdays, freezes: [{ from: '2026-12-07T00:00:00+01:00', until: '2026-12-08T12:00:00+01:00', reason: 'Black week' }] };
    const d = decideChangeWindow(policy, at('2026-12-07T09:30:00Z'));
    matches(d, { open: false, action: 'wait', reason: 'freeze', error: 'Cutover.ChangeFrozen', until: '2026-12-08T11:00:00.000Z' });
    if (d.open) throw new Error('expected closed');
    assert.equal(d.freeze?.reason, 'Black week');
    assert.ok((d.message).includes('Black week'));
  });

  it('a freeze that ends after the window closed waits for the next day\'s opening', () => {
    const policy: ChangePolicy = { ...berlinWorkdays, freezes: [{ from: '2026-12-07T00:00:00Z', until: '2026-12-07T20:00:00Z', reason: 'audit' }] };
    assert.equal(nextOpening(policy, at('2026-12-07T10:00:00Z'))?.toISOString(), '2026-12-08T08:00:00.000Z');
  });

  it('freezes alone (no windows): open outside them, waiting until chained freezes end', () => {
    const policy: ChangePolicy = {
      windows: [],
      outsideWindow: 'wait',
      freezes: [
        { from: '2026-12-20T00:00:00Z', until: '2026-12-27T00:00:00Z', reason: 'holidays' },
        { from: '2026-12-26T00:00:00Z', until: '2027-01-04T00:00:00Z', reason: 'new year' },
      ],
    };
    assert.equal(decideChangeWindow(policy, at('2026-12-19T23:59:59Z')).open, true);
    matches(decideChangeWindow(policy, at('2026-12-21T00:00:00Z')), { open: false, until: '2027-01-04T00:00:00.000Z', reason: 'freeze' });
    assert.equal(decideChangeWindow(policy, at('2027-01-04T00:00:00Z')).open, true);
  });

  it('an override lets a deployment through a closed window or a freeze and says what it overrode', () => {
    const policy: ChangePolicy = { ...berlinWorkdays, freezes: [{ from: '2026-12-01T00:00:00Z', until: '2026-12-31T00:00:00Z', reason: 'December freeze' }] };
    const d = decideChangeWindow(policy, at('2026-12-05T15:00:00Z'), { reason: 'CVE hotfix', operator: 'alice' });
    matches(d, { open: true, overridden: { reason: 'freeze' } });
    assert.ok((d.message).includes('alice overrode it: "CVE hotfix"'));
  });

  it('a window spanning midnight is open after midnight on the next day', () => {
    const policy: ChangePolicy = { windows: [{ days: ['sat'], start: '22:00', end: '02:00', timezone: 'UTC' }], freezes: [], outsideWindow: 'wait' };
    assert.equal(decideChangeWindow(policy, at('2026-12-06T01:30:00Z')).open, true); // Sunday 01:30
    matches(decideChangeWindow(policy, at('2026-12-06T02:00:00Z')), { open: false, until: '2026-12-12T22:00:00.000Z' });
  });

  it('several windows: the earliest opening of any', () => {
    const policy: ChangePolicy = {
      windows: [berlinWorkdays.windows[0]!, { days: ['sun'], start: '06:00', end: '07:00', timezone: 'America/New_York' }],
      freezes: [],
      outsideWindow: 'wait',
    };
    // Saturday → Sunday 06:00 New York (11:00Z) comes before Monday 09:00 Berlin.
    assert.equal(nextOpening(policy, at('2026-12-05T15:00:00Z'))?.toISOString(), '2026-12-06T11:00:00.000Z');
  });

  it('refuses when no opening exists within the horizon (a freeze over a year)', () => {
    const policy: ChangePolicy = { ...berlinWorkdays, freezes: [{ from: '2026-01-01T00:00:00Z', until: '2028-01-01T00:00:00Z', reason: 'forever' }] };
    matches(decideChangeWindow(policy, at('2026-12-05T15:00:00Z')), { open: false, action: 'refuse', until: null, seconds: 0 });
  });
});

describe('change windows across DST changes (Europe/Berlin, America/New_York)', () => {
  // Europe/Berlin: CET (UTC+1) → CEST (UTC+2) at 02:00 on Sunday 2027-03-28; back at 03:00 on Sunday 2027-10-31.
  const sundayEarly: ChangePolicy = { windows: [{ days: ['sun'], start: '01:00', end: '04:00', timezone: 'Europe/Berlin' }], freezes: [], outsideWindow: 'wait' };

  it('the wall-clock opening keeps its local time on both sides of spring-forward', () => {
    // Saturday before the change: next opening is Sunday 01:00 CET = 00:00Z.
    assert.equal(nextOpening(berlinWorkdays, at('2027-03-27T12:00:00Z'))?.toISOString(), '2027-03-29T07:00:00.000Z'); // Monday 09:00 CEST
    assert.equal(nextOpening(berlinWorkdays, at('2027-03-20T12:00:00Z'))?.toISOString(), '2027-03-22T08:00:00.000Z'); // Monday 09:00 CET
  });

  it('a window across the spring-forward gap is two real hours long (01:00 CET to 04:00 CEST)', () => {
    assert.equal(decideChangeWindow(sundayEarly, at('2027-03-28T00:00:00Z')).open, true); // 01:00 CET
    assert.equal(decideChangeWindow(sundayEarly, at('2027-03-28T01:59:00Z')).open, true); // 03:59 CEST
    assert.equal(decideChangeWindow(sundayEarly, at('2027-03-28T02:00:00Z')).open, false); // 04:00 CEST
  });

  it('an opening time inside the spring-forward gap moves forward by the gap (02:30 → 03:30 CEST)', () => {
    const policy: ChangePolicy = { windows: [{ days: ['sun'], start: '02:30', end: '05:00', timezone: 'Europe/Berlin' }], freezes: [], outsideWindow: 'wait' };
    assert.equal(nextOpening(policy, at('2027-03-27T12:00:00Z'))?.toISOString(), '2027-03-28T01:30:00.000Z'); // 03:30 CEST
  });

  it('a window across fall-back is four real hours long (01:00 CEST to 04:00 CET)', () => {
    assert.equal(decideChangeWindow(sundayEarly, at('2027-10-30T23:00:00Z')).open, true); // 01:00 CEST
    assert.equal(decideChangeWindow(sundayEarly, at('2027-10-31T02:59:00Z')).open, true); // 03:59 CET
    matches(decideChangeWindow(sundayEarly, at('2027-10-31T03:00:00Z')), { open: false, until: '2027-11-07T00:00:00.000Z' }); // next Sunday 01:00 CET
  });

  it('an ambiguous opening time on fall-back day is its second occurrence (02:30 CET, after the clocks went back)', () => {
    const policy: ChangePolicy = { windows: [{ days: ['sun'], start: '02:30', end: '05:00', timezone: 'Europe/Berlin' }], freezes: [], outsideWindow: 'wait' };
    assert.equal(nextOpening(policy, at('2027-10-30T12:00:00Z'))?.toISOString(), '2027-10-31T01:30:00.000Z');
  });

  it('the wait computed on Friday before the US change lands on Monday 09:00 EDT', () => {
    const ny: ChangePolicy = { windows: [{ days: ['mon'], start: '09:00', end: '11:00', timezone: 'America/New_York' }], freezes: [], outsideWindow: 'wait' };
    // US DST starts Sunday 2027-03-14: Monday 09:00 EDT = 13:00Z (a week before it was 14:00Z).
    const d = decideChangeWindow(ny, at('2027-03-12T20:00:00Z'));
    matches(d, { open: false, until: '2027-03-15T13:00:00.000Z' });
    assert.equal(nextOpening(ny, at('2027-03-05T20:00:00Z'))?.toISOString(), '2027-03-08T14:00:00.000Z');
  });
});

describe('helpers', () => {
  it('knows IANA zones and rejects offsets and abbreviations', () => {
    assert.equal(isKnownTimeZone('Europe/Berlin'), true);
    assert.equal(isKnownTimeZone('UTC'), true);
    assert.equal(isKnownTimeZone('Mars/Olympus'), false);
    assert.equal(isKnownTimeZone('CET+1'), false);
  });
  it('describes an instant in UTC and in the zone', () => {
    assert.equal(describeInstant(new Date('2026-12-07T08:00:00Z'), 'Europe/Berlin'), '2026-12-07T08:00:00Z (Mon 09:00 Europe/Berlin)');
  });
});
