/**
 * Timers in simulated time for the living twin's ECS: a group of {@link SimClock} timers that can be
 * cleared together when the ECS closes.
 *
 * A timer is due `seconds` simulated seconds after it is set and fires when the clock reaches that
 * instant (holds delay it, `clock.advance()` brings it forward). Timers are unref'd: pending timers
 * never keep the process alive. {@link SimTimers.runDue} fires this group's due timers at once (the
 * ECS calls it before acting on an API call).
 */
import type { Cancel, SimClock } from '../clock';

interface Pending {
  readonly dueMs: number;
  readonly run: () => void;
  readonly onClear?: () => void;
  cancel: Cancel;
}

/** A set of timers due at simulated instants (see the module documentation). */
export class SimTimers {
  private readonly pending = new Set<Pending>();

  constructor(private readonly clock: SimClock) {}

  /**
   * Run `fn` once, `seconds` simulated seconds from now (negative counts as 0).
   * @returns a function that cancels the timer
   */
  after(seconds: number, fn: () => void): () => void {
    const entry = this.add(seconds, fn);
    return () => {
      entry.cancel();
      this.pending.delete(entry);
    };
  }

  /**
   * Wait `seconds` simulated seconds.
   * @returns true once the time has passed; false if {@link clear} cancelled the wait first
   */
  sleep(seconds: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.add(seconds, () => resolve(true), () => resolve(false));
    });
  }

  /** Fire every timer of this group whose simulated due time has come. */
  runDue(): void {
    const now = this.clock.nowMs();
    for (const entry of [...this.pending]) if (entry.dueMs <= now) this.fire(entry);
  }

  /** Cancel every timer; pending {@link sleep}s resolve false. */
  clear(): void {
    const entries = [...this.pending];
    this.pending.clear();
    for (const entry of entries) {
      entry.cancel();
      entry.onClear?.();
    }
  }

  private add(seconds: number, run: () => void, onClear?: () => void): Pending {
    const dueMs = this.clock.nowMs() + Math.max(0, seconds) * 1000;
    const entry: Pending = { dueMs, run, onClear, cancel: () => {} };
    this.pending.add(entry);
    entry.cancel = this.clock.setTimerAt(dueMs, () => this.fire(entry), { unref: true });
    return entry;
  }

  private fire(entry: Pending): void {
    if (!this.pending.delete(entry)) return;
    entry.cancel();
    entry.run();
  }
}
