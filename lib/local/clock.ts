/**
 * Simulated time for the local twin.
 *
 * Simulated time runs `timeScale` times faster than real time and can be jumped forward with
 * {@link SimClock.advance}, which makes tests deterministic (`timeScale: 0` is a frozen clock that only
 * moves when advanced). The lazy simulator never uses timers: every resource state (a deployment
 * becoming stable, a snapshot becoming `available`) is computed from {@link SimClock.nowMs} when it is
 * observed. Everything else that waits for simulated time (Wait states, callback timeouts, health-check
 * intervals, alarm evaluation, ECS delays) uses the clock's timers ({@link SimClock.setTimer}).
 *
 * **Holds: real lag never becomes simulated time.** Real work of the living twin (a task process
 * starting until it listens, a health check in flight, a draining target's requests, a database
 * starting or dumping, a Lambda handler running) {@link SimClock.hold}s the clock: while any hold is
 * outstanding, simulated time stands still, so a 30 s health-check grace period or a 600 s
 * stabilization timeout counts only simulated time that passed while no real work was pending — a
 * busy machine makes the twin slower, never wrong. Each hold is bounded in real time: when its bound
 * passes, the hold is released and a warning says what was awaited, for how long, and what to do
 * ({@link SimClock.onWarning}).
 *
 * `nowMs()` is continuous and monotonic: the clock re-anchors whenever its rate changes (a hold taken
 * or released), and timers are re-armed with one real `setTimeout` for the earliest due timer.
 */
import { performance } from 'node:perf_hooks';

/** Longest delay `setTimeout` honours (about 24.8 days); longer real delays are re-armed in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Real milliseconds a hold lasts at most when its creator gives no bound: 60 s. */
export const DEFAULT_HOLD_MAX_REAL_MS = 60_000;

/** What to do when real work outlasts its bound (the end of every hold warning without its own advice). */
export const OVERLOAD_ADVICE = 'The machine may be overloaded: free the CPU (other builds, tests, stress) or run the twin with a smaller --time-scale.';

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
  /**
   * Called when a hold is released by its real-time bound (see {@link SimClock.onWarning}); more
   * listeners can be added later. Without any listener, warnings go to `process.emitWarning`.
   */
  readonly onWarning?: (warning: ClockWarning) => void;
}

/** Options of {@link SimClock.hold}. */
export interface HoldOptions {
  /**
   * Real milliseconds after which the hold is released on its own (and a {@link ClockWarning} is
   * reported). `Infinity` never releases it (only for work that is bounded otherwise).
   * @default DEFAULT_HOLD_MAX_REAL_MS (60 000)
   */
  readonly maxRealMs?: number;
  /**
   * The warning's whole text when the bound passes, e.g. `task 1a2b of hello-world-green has not
   * listened on its port 34567 after 60 s real: …`. A function is called at that moment (so it can
   * name the state of the work then).
   * @default `Gave up waiting for <what> after <n> s real; simulated time runs on without it. <OVERLOAD_ADVICE>`
   */
  readonly message?: string | (() => string);
  /**
   * A short name of the kind of work for {@link SimClock.holdStats}, e.g. `task start`, `health check`,
   * `database`, `handler`. @default 'other'
   */
  readonly kind?: string;
}

/** A hold that is outstanding (for diagnostics: {@link SimClock.holds}). */
export interface HoldInfo {
  /** What is awaited, e.g. `task 1a2b… of hello-world-green to listen on port 34567`. */
  readonly what: string;
  /** Real milliseconds it has been held so far. */
  readonly heldRealMs: number;
  /** Its real-time bound (milliseconds; `Infinity` when unbounded). */
  readonly maxRealMs: number;
}

/** A hold released by its real-time bound. */
export interface ClockWarning {
  /** What was awaited (the hold's `what`). */
  readonly what: string;
  /** Real milliseconds it was held. */
  readonly heldRealMs: number;
  /** The full message: what, how long, what to do. */
  readonly message: string;
}

/** Counters of the clock's holds since construction (e.g. for `npm run bench`). */
export interface HoldStats {
  /** Holds taken. */
  readonly holds: number;
  /** Holds released by their real-time bound (each reported as a warning). */
  readonly expired: number;
  /** Real milliseconds during which at least one hold was outstanding (simulated time stood still). */
  readonly heldRealMs: number;
  /** Per {@link HoldOptions.kind}: holds taken and the sum of their real durations (overlaps count for each), for released holds. */
  readonly byKind: Readonly<Record<string, { readonly holds: number; readonly realMs: number }>>;
}

/** Options of {@link SimClock.setTimer}. */
export interface TimerOptions {
  /**
   * Like `setTimeout(...).unref()`: a pending timer does not keep the process alive.
   * @default false
   */
  readonly unref?: boolean;
}

/** Cancels a timer (or releases a hold); calling it again does nothing. */
export type Cancel = () => void;

interface Timer {
  readonly dueMs: number;
  readonly seq: number;
  readonly fn: () => void;
  readonly ref: boolean;
  cancelled: boolean;
}

interface Hold {
  readonly what: string;
  readonly kind: string;
  readonly sinceReal: number;
  readonly maxRealMs: number;
  readonly message?: string | (() => string);
  bound?: NodeJS.Timeout;
}

export class SimClock {
  /** Simulated seconds per real second while nothing holds the clock (see {@link SimClockOptions.timeScale}). */
  readonly timeScale: number;
  /** Simulated epoch ms at {@link anchorReal}. */
  private anchorSim: number;
  /** `performance.now()` of the last re-anchoring. */
  private anchorReal: number;
  /** Simulated ms per real ms since the anchor: `timeScale` (simulated s per real s), or 0 while held. */
  private rate: number;
  private readonly timers: Timer[] = [];
  private timerSeq = 0;
  /** Pending timers without `unref` (the real timer keeps the process alive while there are any). */
  private refTimers = 0;
  private realTimer?: NodeJS.Timeout;
  private firing = false;
  private readonly activeHolds = new Set<Hold>();
  private readonly warningListeners = new Set<(warning: ClockWarning) => void>();
  private heldSince?: number;
  private heldTotal = 0;
  private holdCount = 0;
  private expiredCount = 0;
  private readonly kinds = new Map<string, { holds: number; realMs: number }>();

  /**
   * @throws Error for a negative or non-finite `timeScale`, or an invalid `start` date
   */
  constructor(opts: SimClockOptions = {}) {
    const timeScale = opts.timeScale ?? 1;
    if (!Number.isFinite(timeScale) || timeScale < 0) {
      throw new Error(`SimClock timeScale must be a finite number >= 0 (simulated seconds per real second), got ${timeScale}`);
    }
    if (opts.start !== undefined && Number.isNaN(opts.start.getTime())) {
      throw new Error('SimClock start must be a valid Date');
    }
    this.timeScale = timeScale;
    this.anchorSim = opts.start?.getTime() ?? Date.now();
    this.anchorReal = performance.now();
    this.rate = timeScale;
    if (opts.onWarning) this.warningListeners.add(opts.onWarning);
  }

  /** Current simulated time as epoch milliseconds (stands still while the clock is held). */
  nowMs(): number {
    return this.anchorSim + (performance.now() - this.anchorReal) * this.rate;
  }

  /** Current simulated time. */
  now(): Date {
    return new Date(this.nowMs());
  }

  /**
   * Real milliseconds that a simulated duration takes at the clock's time scale when nothing holds
   * it (holds make it longer).
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
   * Jump simulated time forward (also while held); timers whose time has come fire before this returns,
   * in simulated order, and pending state transitions happen at the next observation.
   * @param seconds simulated seconds, >= 0
   * @throws Error for a negative or non-finite value (simulated time never runs backwards)
   */
  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new Error(`SimClock.advance takes simulated seconds >= 0, got ${seconds}`);
    }
    this.anchorSim += seconds * 1000;
    this.runDue();
  }

  // ---------------------------------------------------------------- timers

  /**
   * Run `fn` once, `delaySeconds` simulated seconds from now: it fires when simulated time reaches
   * that instant, so holds delay it and {@link advance} brings it forward. Timers due at the same
   * instant fire in the order they were set. A frozen clock fires timers only through `advance`.
   * An exception thrown by `fn` is rethrown asynchronously (like one thrown in a `setTimeout` callback).
   * @param delaySeconds simulated seconds (negative or NaN counts as 0; `Infinity` never fires)
   * @returns a function that cancels the timer
   */
  setTimer(delaySeconds: number, fn: () => void, opts: TimerOptions = {}): Cancel {
    const delay = delaySeconds > 0 ? delaySeconds * 1000 : 0;
    return this.setTimerAt(this.nowMs() + delay, fn, opts);
  }

  /**
   * Run `fn` once when simulated time reaches `atMs` (at once, asynchronously, if it has): see {@link setTimer}.
   * @param atMs simulated epoch milliseconds (`Infinity` never fires)
   * @returns a function that cancels the timer
   */
  setTimerAt(atMs: number, fn: () => void, opts: TimerOptions = {}): Cancel {
    const timer: Timer = { dueMs: Number.isNaN(atMs) ? this.nowMs() : atMs, seq: ++this.timerSeq, fn, ref: opts.unref !== true, cancelled: false };
    if (timer.dueMs === Infinity) return () => {};
    // Sorted by (dueMs, seq): binary search for the insertion point.
    let lo = 0;
    let hi = this.timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timers[mid]!.dueMs <= timer.dueMs) lo = mid + 1;
      else hi = mid;
    }
    this.timers.splice(lo, 0, timer);
    if (timer.ref) this.refTimers++;
    if (lo === 0 || (timer.ref && this.refTimers === 1)) this.arm();
    return () => {
      if (timer.cancelled) return;
      timer.cancelled = true;
      if (timer.ref) this.refTimers--;
      const i = this.timers.indexOf(timer);
      if (i >= 0) this.timers.splice(i, 1);
      if (i === 0 || (timer.ref && this.refTimers === 0)) this.arm();
    };
  }

  /**
   * Wait `seconds` simulated seconds (see {@link setTimer}).
   * @returns resolves once the time has passed; rejects with the signal's reason when `signal` aborts first
   */
  sleep(seconds: number, opts: TimerOptions & { readonly signal?: AbortSignal } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const signal = opts.signal;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => {
        cancel();
        reject(signal!.reason);
      };
      const cancel = this.setTimer(
        seconds,
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        opts,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Simulated epoch ms of the earliest pending timer; undefined when none is pending. */
  nextTimerMs(): number | undefined {
    return this.timers[0]?.dueMs;
  }

  /** Fire, now and in simulated order, every timer whose time has come (e.g. after {@link advance}). */
  runDue(): void {
    if (this.firing) return; // the loop below picks up what became due meanwhile
    this.firing = true;
    const errors: unknown[] = [];
    try {
      while (this.timers.length > 0 && this.timers[0]!.dueMs <= this.nowMs()) {
        const timer = this.timers.shift()!;
        timer.cancelled = true;
        if (timer.ref) this.refTimers--;
        try {
          timer.fn();
        } catch (err) {
          errors.push(err);
        }
      }
    } finally {
      this.firing = false;
      this.arm();
    }
    for (const err of errors) {
      setImmediate(() => {
        throw err;
      });
    }
  }

  /** One real timer for the earliest due timer, at the current rate; none while the clock stands still. */
  private arm(): void {
    if (this.realTimer) clearTimeout(this.realTimer);
    this.realTimer = undefined;
    // While held, the holds' real-time bounds are what lets simulated time run again: they keep the
    // process alive exactly when a pending timer would.
    for (const h of this.activeHolds) {
      if (this.refTimers > 0) h.bound?.ref();
      else h.bound?.unref();
    }
    const first = this.timers[0];
    if (!first || this.firing) return;
    const wait = first.dueMs - this.nowMs();
    let realDelay: number;
    if (wait <= 0) realDelay = 0;
    else if (this.rate === 0) return; // held or frozen: a release or advance re-arms
    else realDelay = Math.min(Math.ceil(wait / this.rate), MAX_TIMEOUT_MS);
    this.realTimer = setTimeout(() => {
      this.realTimer = undefined;
      this.runDue();
    }, realDelay);
    if (this.refTimers === 0) this.realTimer.unref();
  }

  // ---------------------------------------------------------------- holds

  /**
   * Stop simulated time while real work is pending: until every hold is released, `nowMs()` stands
   * still and no timer comes due (timers already due still fire). Release as soon as the work is done
   * (or failed). After `maxRealMs` real milliseconds the hold releases itself and a {@link ClockWarning}
   * is reported, so a stuck process can never freeze the twin.
   * @param what what is awaited, as a noun phrase, e.g. `task 1a2b of hello-world-green to listen on port 34567`
   * @returns the release function (idempotent)
   * @throws Error for an empty `what` or a `maxRealMs` that is not > 0
   */
  hold(what: string, opts: HoldOptions = {}): Cancel {
    if (typeof what !== 'string' || what.length === 0) throw new Error('SimClock.hold needs a description of the awaited work');
    const maxRealMs = opts.maxRealMs ?? DEFAULT_HOLD_MAX_REAL_MS;
    if (!(maxRealMs > 0)) throw new Error(`SimClock.hold maxRealMs must be real milliseconds > 0, got ${maxRealMs}`);
    const hold: Hold = { what, kind: opts.kind ?? 'other', sinceReal: performance.now(), maxRealMs, message: opts.message };
    this.reanchor(() => {
      this.activeHolds.add(hold);
      this.holdCount++;
    });
    if (Number.isFinite(maxRealMs)) {
      hold.bound = setTimeout(() => this.expire(hold), Math.min(maxRealMs, MAX_TIMEOUT_MS));
      if (this.refTimers === 0) hold.bound.unref();
    }
    return () => this.release(hold);
  }

  /** The holds outstanding now, oldest first. */
  holds(): HoldInfo[] {
    const now = performance.now();
    return [...this.activeHolds].map((h) => ({ what: h.what, heldRealMs: now - h.sinceReal, maxRealMs: h.maxRealMs }));
  }

  /** True while at least one hold is outstanding (simulated time stands still). */
  get held(): boolean {
    return this.activeHolds.size > 0;
  }

  /** Counters of holds since construction. */
  holdStats(): HoldStats {
    const running = this.heldSince === undefined ? 0 : performance.now() - this.heldSince;
    return {
      holds: this.holdCount,
      expired: this.expiredCount,
      heldRealMs: this.heldTotal + running,
      byKind: Object.fromEntries([...this.kinds].map(([kind, k]) => [kind, { ...k }])),
    };
  }

  /**
   * Be told when a hold is released by its real-time bound (the twin prints these). While at least one
   * listener is registered, warnings do not go to `process.emitWarning`.
   * @returns a function that removes the listener
   */
  onWarning(listener: (warning: ClockWarning) => void): Cancel {
    this.warningListeners.add(listener);
    return () => void this.warningListeners.delete(listener);
  }

  private release(hold: Hold): void {
    if (!this.activeHolds.has(hold)) return;
    clearTimeout(hold.bound);
    const kind = this.kinds.get(hold.kind) ?? { holds: 0, realMs: 0 };
    kind.holds++;
    kind.realMs += performance.now() - hold.sinceReal;
    this.kinds.set(hold.kind, kind);
    this.reanchor(() => this.activeHolds.delete(hold));
  }

  private expire(hold: Hold): void {
    if (!this.activeHolds.has(hold)) return;
    const heldRealMs = performance.now() - hold.sinceReal;
    this.expiredCount++;
    this.release(hold);
    let message: string;
    try {
      message = typeof hold.message === 'function' ? hold.message() : (hold.message ?? '');
    } catch (err) {
      message = `${hold.what}: ${(err as Error).message}`;
    }
    if (!message) {
      message = `Gave up waiting for ${hold.what} after ${Math.round(heldRealMs / 1000)} s real; simulated time runs on without it. ${OVERLOAD_ADVICE}`;
    }
    const warning: ClockWarning = { what: hold.what, heldRealMs, message };
    if (this.warningListeners.size === 0) {
      process.emitWarning(message, 'CutoverClockWarning');
      return;
    }
    for (const listener of this.warningListeners) {
      try {
        listener(warning);
      } catch {
        // a listener's failure must not break the clock
      }
    }
  }

  /** Apply `change` to the holds, re-anchoring so `nowMs()` stays continuous, and re-arm the timers when the rate changed. */
  private reanchor(change: () => void): void {
    const wasHeld = this.activeHolds.size > 0;
    change();
    const isHeld = this.activeHolds.size > 0;
    if (wasHeld === isHeld) return;
    const real = performance.now();
    this.anchorSim += (real - this.anchorReal) * this.rate;
    this.anchorReal = real;
    this.rate = isHeld ? 0 : this.timeScale;
    if (isHeld) this.heldSince = real;
    else if (this.heldSince !== undefined) {
      this.heldTotal += real - this.heldSince;
      this.heldSince = undefined;
    }
    this.arm();
  }
}
