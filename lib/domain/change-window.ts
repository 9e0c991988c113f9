/**
 * Change windows and freezes: when an environment accepts changes. Pure (given `now`); time-zone and
 * calendar arithmetic is Luxon's (IANA zones from the runtime's ICU data), never hand-written.
 *
 * - A **window** is weekly: on each of its `days` (in its IANA `timezone`) it opens at `start` and
 *   closes at `end` (24-hour `HH:mm`, wall-clock time in that zone). An `end` at or before `start`
 *   closes on the next day (`22:00`–`02:00` spans midnight). With several windows, any open one lets
 *   changes through. Without windows the environment is open except in freezes.
 * - A **freeze** is an absolute period `[from, until)` with a reason; no change starts inside one,
 *   even inside a window.
 * - **DST** (Luxon's rules, the same as the IANA database): a wall-clock time that does not exist on
 *   the spring-forward day (02:30 in Europe/Berlin on the last Sunday of March) is moved forward by the
 *   gap (03:30); one that exists twice on the fall-back day (02:30 on the last Sunday of October) is
 *   its second occurrence (standard time, after the clocks went back), as Luxon resolves it. A window is as long in wall-clock terms on
 *   a DST day as on any other, so it may be an hour shorter or longer in real time.
 *
 * Deployments check the window right before their first change (after every gate); a rollback, and a
 * rollback's redeploy, never do. See `decideChangeWindow`.
 */
import { DateTime, IANAZone, Interval } from 'luxon';

/** Days of the week as the config names them (ISO order: Monday first). */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** One weekly change window. */
export interface WeeklyWindow {
  readonly days: readonly Weekday[];
  /** Opening wall-clock time, `HH:mm` (24 h). */
  readonly start: string;
  /** Closing wall-clock time, `HH:mm`; at or before `start` = the next day. */
  readonly end: string;
  /** IANA time zone, e.g. `Europe/Berlin`. */
  readonly timezone: string;
}

/** One freeze: no change starts in `[from, until)`. */
export interface Freeze {
  /** ISO-8601 instant with an offset, e.g. `2026-12-21T00:00:00+01:00`. */
  readonly from: string;
  /** ISO-8601 instant with an offset; after `from`. */
  readonly until: string;
  readonly reason: string;
}

/** An environment's change policy (the plan's `changeWindow`). */
export interface ChangePolicy {
  readonly windows: readonly WeeklyWindow[];
  readonly freezes: readonly Freeze[];
  /** `wait`: a deployment outside a window (or in a freeze) waits for the next opening; `refuse`: it fails, having changed nothing. */
  readonly outsideWindow: 'wait' | 'refuse';
}

/** An operator's override of the window, as given at start (`cutover deploy --override-window`) or while waiting. */
export interface WindowOverride {
  readonly reason: string;
  readonly operator?: string;
}

/** How far ahead the next opening is looked for, days. No opening within it refuses the deployment. */
export const WINDOW_HORIZON_DAYS = 366;

/**
 * The decision for a deployment about to change its environment at `now`:
 * - `open`: go on (inside a window and no freeze, or an override lets it through — `overridden` then
 *   says what it overrode);
 * - `wait`: closed; wait `seconds` (≥ 1) until `until`, the next instant that is inside a window and
 *   outside every freeze, then decide again;
 * - `refuse`: closed and the policy refuses (or no opening within WINDOW_HORIZON_DAYS).
 * `reason` says why it is closed: `freeze` (with the freeze) or `outside-window`. `message` is one line
 * for operators, with times in UTC and in the window's zone.
 */
export type WindowDecision =
  | { readonly open: true; readonly message: string; readonly overridden?: { readonly reason: 'freeze' | 'outside-window'; readonly message: string } }
  | {
      readonly open: false;
      readonly action: 'wait' | 'refuse';
      readonly reason: 'freeze' | 'outside-window';
      /** ISO-8601 (UTC) next opening, or null when none within WINDOW_HORIZON_DAYS. */
      readonly until: string | null;
      /** Seconds from `now` to `until` (≥ 1; 0 when `until` is null). */
      readonly seconds: number;
      readonly freeze?: Freeze;
      /** The Step Functions error a refusal fails with: `Cutover.ChangeFrozen` or `Cutover.OutsideChangeWindow`. */
      readonly error: 'Cutover.ChangeFrozen' | 'Cutover.OutsideChangeWindow';
      readonly message: string;
    };

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Whether `zone` is an IANA time zone name the runtime knows (`Europe/Berlin`; not `CET+1`). */
export function isKnownTimeZone(zone: string): boolean {
  return zone === 'UTC' || (zone.includes('/') && IANAZone.isValidZone(zone));
}

/** Whether `text` is `HH:mm` (00:00-23:59). */
export function isWallClockTime(text: string): boolean {
  return HHMM.test(text);
}

/** Parse an ISO-8601 instant; null when it is not one or has no offset (`Z` or `±hh:mm`). */
export function parseInstant(text: string): DateTime | null {
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(text)) return null;
  const t = DateTime.fromISO(text, { setZone: true });
  return t.isValid ? t : null;
}

/** The freeze `now` is in, if any (from inclusive, until exclusive). */
export function activeFreeze(freezes: readonly Freeze[], now: Date): Freeze | undefined {
  const t = now.getTime();
  return freezes.find((f) => {
    const from = parseInstant(f.from);
    const until = parseInstant(f.until);
    return from !== null && until !== null && from.toMillis() <= t && t < until.toMillis();
  });
}

/**
 * The openings of one window that may contain or follow `now`: one interval per listed day, from the
 * day before `now` (a window spanning midnight) up to WINDOW_HORIZON_DAYS ahead, in time order.
 */
function* openings(w: WeeklyWindow, now: Date): Generator<Interval> {
  const zone = w.timezone;
  const [sh, sm] = w.start.split(':').map(Number) as [number, number];
  const [eh, em] = w.end.split(':').map(Number) as [number, number];
  const spansMidnight = eh * 60 + em <= sh * 60 + sm;
  let day = DateTime.fromJSDate(now, { zone }).startOf('day').minus({ days: 1 });
  for (let i = 0; i <= WINDOW_HORIZON_DAYS + 1; i++, day = day.plus({ days: 1 })) {
    if (!w.days.includes(WEEKDAYS[day.weekday - 1]!)) continue;
    // Luxon resolves a wall-clock time in a DST gap forward and an ambiguous one to its second (standard-time) occurrence.
    const open = DateTime.fromObject({ year: day.year, month: day.month, day: day.day, hour: sh, minute: sm }, { zone });
    const closeDay = spansMidnight ? day.plus({ days: 1 }) : day;
    const close = DateTime.fromObject({ year: closeDay.year, month: closeDay.month, day: closeDay.day, hour: eh, minute: em }, { zone });
    if (close > open) yield Interval.fromDateTimes(open, close);
  }
}

/** The window that contains `t` (ms), if any. */
function windowAt(windows: readonly WeeklyWindow[], t: number): WeeklyWindow | undefined {
  const at = new Date(t);
  return windows.find((w) => {
    for (const iv of openings(w, at)) {
      if (iv.start!.toMillis() > t) return false;
      if (iv.end!.toMillis() > t) return true;
    }
    return false;
  });
}

/**
 * The first instant at or after `now` inside a window (any window when there are none) and outside
 * every freeze; null when there is none within WINDOW_HORIZON_DAYS.
 */
export function nextOpening(policy: Pick<ChangePolicy, 'windows' | 'freezes'>, now: Date): Date | null {
  const horizon = now.getTime() + WINDOW_HORIZON_DAYS * 86_400_000;
  const freezes = policy.freezes
    .map((f) => ({ from: parseInstant(f.from)?.toMillis() ?? 0, until: parseInstant(f.until)?.toMillis() ?? 0 }))
    .filter((f) => f.until > f.from);
  /** `t` moved past every freeze it falls in (freezes may chain or overlap). */
  const pastFreezes = (t: number): number => {
    for (let moved = true; moved; ) {
      moved = false;
      for (const f of freezes) {
        if (f.from <= t && t < f.until) {
          t = f.until;
          moved = true;
        }
      }
    }
    return t;
  };
  if (policy.windows.length === 0) {
    const t = pastFreezes(now.getTime());
    return t <= horizon ? new Date(t) : null;
  }
  // Candidate openings of every window, merged in time order.
  const intervals: Array<{ start: number; end: number }> = [];
  for (const w of policy.windows) {
    for (const iv of openings(w, now)) {
      if (iv.end!.toMillis() <= now.getTime()) continue;
      intervals.push({ start: iv.start!.toMillis(), end: iv.end!.toMillis() });
    }
  }
  intervals.sort((a, b) => a.start - b.start);
  for (const iv of intervals) {
    const t = pastFreezes(Math.max(iv.start, now.getTime()));
    if (t < iv.end && t <= horizon) return new Date(t);
  }
  return null;
}

/** `2026-12-07T08:00:00Z (Mon 09:00 Europe/Berlin)`: an instant in UTC and in the window's zone. */
export function describeInstant(at: Date, zone: string | undefined): string {
  const utc = DateTime.fromJSDate(at, { zone: 'utc' }).toISO({ suppressMilliseconds: true })!;
  if (!zone || zone === 'UTC') return utc;
  return `${utc} (${DateTime.fromJSDate(at, { zone }).toFormat('ccc HH:mm')} ${zone})`;
}

/** The windows, for people: `mon-fri 09:00-17:00 Europe/Berlin; sat 10:00-12:00 UTC`. */
export function describeWindows(windows: readonly WeeklyWindow[]): string {
  return windows.map((w) => `${w.days.join(',')} ${w.start}-${w.end} ${w.timezone}`).join('; ');
}

/**
 * Decide whether a deployment may change its environment at `now` (see WindowDecision).
 * @param policy the environment's windows, freezes and `outsideWindow`
 * @param now the deciding clock (the handler's, read once)
 * @param override an operator's override with a reason: a closed window or a freeze lets the
 *   deployment through, and the decision says what was overridden (the caller records it)
 */
export function decideChangeWindow(policy: ChangePolicy, now: Date, override?: WindowOverride | null): WindowDecision {
  const zone = policy.windows[0]?.timezone;
  const freeze = activeFreeze(policy.freezes, now);
  const inWindow = policy.windows.length === 0 || windowAt(policy.windows, now.getTime()) !== undefined;
  if (!freeze && inWindow) {
    return { open: true, message: policy.windows.length ? `inside the change window (${describeWindows(policy.windows)})` : 'no freeze is in effect' };
  }
  const reason = freeze ? 'freeze' : 'outside-window';
  const closedWhy = freeze
    ? `in the freeze "${freeze.reason}" (until ${describeInstant(parseInstant(freeze.until)!.toJSDate(), zone)})`
    : `outside its change window (${describeWindows(policy.windows)})`;
  if (override) {
    return {
      open: true,
      message: `${closedWhy}, but ${override.operator ?? 'an operator'} overrode it: "${override.reason}"`,
      overridden: { reason, message: closedWhy },
    };
  }
  const next = nextOpening(policy, now);
  const error = freeze ? 'Cutover.ChangeFrozen' : 'Cutover.OutsideChangeWindow';
  const seconds = next ? Math.max(1, Math.ceil((next.getTime() - now.getTime()) / 1000)) : 0;
  const when = next ? `the next opening is ${describeInstant(next, zone)}` : `no opening within ${WINDOW_HORIZON_DAYS} days`;
  if (policy.outsideWindow === 'refuse' || !next) {
    return { open: false, action: 'refuse', reason, until: next?.toISOString() ?? null, seconds, freeze, error, message: `refused: ${closedWhy}; ${when}` };
  }
  return { open: false, action: 'wait', reason, until: next.toISOString(), seconds, freeze, error, message: `waiting: ${closedWhy}; ${when}` };
}
