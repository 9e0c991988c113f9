/**
 * Simulated time for the local twin.
 *
 * The simulator never uses timers: every resource state (a deployment becoming stable, a snapshot
 * becoming `available`) is computed from {@link SimClock.now} when it is observed. Simulated time runs
 * `timeScale` times faster than real time and can also be jumped forward with {@link SimClock.advance},
 * which makes tests deterministic (use `timeScale: 0` for a clock that only moves when advanced).
 */
import { performance } from 'node:perf_hooks';

export interface SimClockOptions {
  /**
   * Simulated seconds per real second. `1000` makes a 300 s bake pass in 0.3 s of real time;
   * `0` freezes the clock so that only {@link SimClock.advance} moves it.
   * @default 1
   */
  readonly timeScale?: number;
  /**
   * Simulated time at construction.
   * @default the real current time
   */
  readonly start?: Date;
}

export class SimClock {
  /** Simulated seconds per real second (see {@link SimClockOptions.timeScale}). */
  readonly timeScale: number;
  private readonly startMs: number;
  private readonly realStart: number;
  private advancedMs = 0;

  constructor(opts: SimClockOptions = {}) {
    const timeScale = opts.timeScale ?? 1;
    if (!Number.isFinite(timeScale) || timeScale < 0) {
      throw new Error(`SimClock timeScale must be a finite number >= 0 (simulated seconds per real second), got ${timeScale}`);
    }
    if (opts.start !== undefined && Number.isNaN(opts.start.getTime())) {
      throw new Error('SimClock start must be a valid Date');
    }
    this.timeScale = timeScale;
    this.startMs = opts.start?.getTime() ?? Date.now();
    this.realStart = performance.now();
  }

  /** Current simulated time as epoch milliseconds. */
  nowMs(): number {
    return this.startMs + (performance.now() - this.realStart) * this.timeScale + this.advancedMs;
  }

  /** Current simulated time. */
  now(): Date {
    return new Date(this.nowMs());
  }

  /**
   * Real milliseconds that a simulated duration takes, e.g. to `setTimeout` until a bake ends.
   * @param simulatedSeconds duration in simulated seconds (negative counts as 0)
   * @returns real milliseconds, at least 0; `Infinity` for a frozen clock (`timeScale: 0`) and a positive duration
   */
  realMs(simulatedSeconds: number): number {
    if (!(simulatedSeconds > 0)) return 0;
    if (this.timeScale === 0) return Infinity;
    return (simulatedSeconds * 1000) / this.timeScale;
  }

  /**
   * Simulated seconds elapsed since `since` (negative if `since` lies in the simulated future).
   * @param since a simulated instant, e.g. a resource's creation time
   */
  elapsedSeconds(since: Date): number {
    return (this.nowMs() - since.getTime()) / 1000;
  }

  /**
   * Jump simulated time forward; pending state transitions whose time has come happen at the next
   * observation.
   * @param seconds simulated seconds, >= 0
   * @throws Error for a negative or non-finite value (simulated time never runs backwards)
   */
  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new Error(`SimClock.advance takes simulated seconds >= 0, got ${seconds}`);
    }
    this.advancedMs += seconds * 1000;
  }
}
