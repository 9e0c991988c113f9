/**
 * The clock of the runtime the handlers run in — the one place they read the time from.
 *
 * On AWS Lambda it is the system clock (what AWS stamps its events and executions with). The local
 * twin points it at its simulated clock with {@link setClockSource} once at start, as it points the
 * SDK clients at its simulator (lib/aws/clients.ts), so that the times a handler records and decides
 * on are in the same timeline as the twin's alarms, executions and waits. Handlers read it once per
 * invocation ({@link clockNow}) and pass that time on; lib/domain never reads a clock.
 */

let source: () => Date = () => new Date();

/** The current time of the runtime (the system clock, or the twin's simulated clock). */
export function clockNow(): Date {
  return new Date(source().getTime());
}

/**
 * Point {@link clockNow} at another time source (the local twin's simulated clock), or back at the
 * system clock with `undefined`.
 */
export function setClockSource(now: (() => Date) | undefined): void {
  source = now ?? (() => new Date());
}
