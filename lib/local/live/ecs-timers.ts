/**
 * Timers in simulated time for the living twin's ECS.
 *
 * A timer is due `seconds` simulated seconds after it is set. It fires by a real `setTimeout` of
 * `clock.realMs(seconds)` (unref'd: pending timers never keep the process alive), or earlier when
 * {@link SimTimers.runDue} finds simulated time past its due time (after `clock.advance()`). On a frozen
 * clock (`timeScale: 0`) only `runDue` fires timers.
 */
import type { SimClock } from '../clock';

/** Longest delay `setTimeout` honours (about 24.8 days); longer ones fire only through `runDue`. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

interface Pending {
  readonly dueMs: number;
  readonly run: () => void;
  readonly onClear?: () => void;
  handle?: NodeJS.Timeout;
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
    return this.add(seconds, fn);
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

  /** Fire every timer whose simulated due time has come (call after `clock.advance()`). */
  runDue(): void {
    const now = this.clock.nowMs();
    for (const entry of [...this.pending]) if (entry.dueMs <= now) this.fire(entry);
  }

  /** Cancel every timer; pending {@link sleep}s resolve false. */
  clear(): void {
    const entries = [...this.pending];
    this.pending.clear();
    for (const entry of entries) {
      clearTimeout(entry.handle);
      entry.onClear?.();
    }
  }

  private add(seconds: number, run: () => void, onClear?: () => void): () => void {
    const entry: Pending = { dueMs: this.clock.nowMs() + Math.max(0, seconds) * 1000, run, onClear };
    this.pending.add(entry);
    const realMs = this.clock.realMs(seconds);
    if (realMs <= MAX_TIMEOUT_MS) {
      entry.handle = setTimeout(() => this.fire(entry), realMs);
      entry.handle.unref();
    }
    return () => {
      clearTimeout(entry.handle);
      this.pending.delete(entry);
    };
  }

  private fire(entry: Pending): void {
    if (!this.pending.delete(entry)) return;
    clearTimeout(entry.handle);
    entry.run();
  }
}
