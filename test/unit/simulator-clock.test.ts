import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimClock } from '../../lib/local/clock';

describe('simulator: SimClock', () => {
  it('starts at the given time and only moves with advance when frozen', async () => {
    const start = new Date('2026-01-01T00:00:00Z');
    const clock = new SimClock({ timeScale: 0, start });

    await sleep(5);
    const before = clock.now();
    clock.advance(300);

    assert.deepEqual(before, start);
    assert.equal(clock.nowMs(), start.getTime() + 300_000);
    assert.equal(clock.elapsedSeconds(start), 300);
    assert.equal(clock.realMs(10), Infinity);
  });

  it('runs timeScale simulated seconds per real second', async () => {
    const clock = new SimClock({ timeScale: 1000 });
    const t0 = clock.nowMs();

    await sleep(20);
    const elapsed = clock.nowMs() - t0;

    assert.ok(elapsed >= 15_000, `at least ~20 simulated seconds passed (${elapsed} ms)`);
    assert.equal(clock.realMs(300), 300);
    assert.equal(clock.realMs(-5), 0);
  });

  it('fails for a negative advance or timeScale', () => {
    assert.throws(() => new SimClock({ timeScale: -1 }), /timeScale/);
    assert.throws(() => new SimClock().advance(-1), /advance/);
  });
});

describe('SimClock: holds and timers', () => {
  const START = new Date('2026-03-01T12:00:00Z');

  it('stands still while held and runs on from where it stood when released (continuous, monotonic)', async () => {
    // Prepare: ×100 000, so 5 real ms would be 500 simulated seconds.
    const clock = new SimClock({ timeScale: 100_000, start: START });

    // Act: hold, let real time pass, release.
    const release = clock.hold('a task to listen', { kind: 'task start' });
    const atHold = clock.nowMs();
    await sleep(5);
    const whileHeld = clock.nowMs();
    const heldInfo = clock.holds();
    release();
    release(); // idempotent
    const afterRelease = clock.nowMs();
    await sleep(2);
    const later = clock.nowMs();

    // Assess
    assert.equal(whileHeld, atHold, 'no simulated time passed while held');
    assert.equal(heldInfo.length, 1);
    assert.equal(heldInfo[0]!.what, 'a task to listen');
    assert.ok(heldInfo[0]!.heldRealMs >= 4, `the hold's real age is reported (${heldInfo[0]!.heldRealMs} ms)`);
    assert.ok(afterRelease >= whileHeld && afterRelease - whileHeld < 1000 * 100, 'no jump on release');
    assert.ok(later > afterRelease + 100_000, 'time runs at the scale again');
    assert.equal(clock.held, false);
    assert.deepEqual(clock.holds(), []);
    assert.equal(clock.holdStats().holds, 1);
    assert.ok(clock.holdStats().heldRealMs >= 4);
    assert.equal(clock.holdStats().byKind['task start']?.holds, 1);
    assert.ok(clock.holdStats().byKind['task start']!.realMs >= 4);
  });

  it('stays held until the last of several holds is released', async () => {
    const clock = new SimClock({ timeScale: 100_000, start: START });
    const a = clock.hold('a');
    const b = clock.hold('b');
    const t0 = clock.nowMs();

    a();
    await sleep(3);

    assert.equal(clock.nowMs(), t0, 'b still holds');
    assert.deepEqual(clock.holds().map((h) => h.what), ['b']);
    b();
    await sleep(2);
    assert.ok(clock.nowMs() > t0);
  });

  it('fires timers in simulated order (ties in the order they were set), through advance on a frozen clock', () => {
    const clock = new SimClock({ timeScale: 0, start: START });
    const fired: string[] = [];
    clock.setTimer(30, () => fired.push('30 s'));
    clock.setTimer(10, () => fired.push('10 s (first)'));
    clock.setTimerAt(START.getTime() + 10_000, () => fired.push('10 s (second)'));
    const cancel = clock.setTimer(20, () => fired.push('20 s (cancelled)'));
    clock.setTimer(20, () => {
      fired.push(`20 s at ${clock.elapsedSeconds(START)} s`);
      clock.setTimer(0, () => fired.push('0 s set by the 20 s timer'));
    });
    cancel();

    clock.advance(25);
    const afterFirst = [...fired];
    clock.advance(5);

    assert.deepEqual(afterFirst, ['10 s (first)', '10 s (second)', '20 s at 25 s', '0 s set by the 20 s timer']);
    assert.deepEqual(fired.slice(afterFirst.length), ['30 s']);
    assert.equal(clock.nextTimerMs(), undefined);
  });

  it('does not fire a timer while held; it fires after the release, when its simulated time comes', async () => {
    // Prepare: 1 simulated second = 1 real ms.
    const clock = new SimClock({ timeScale: 1000, start: START });
    let fired = 0;
    // 50 simulated seconds (50 real ms): a pause of the test process between setTimer and hold (GC, a
    // loaded CI machine) must not let the timer's time come before the hold, as 2 s once did.
    clock.setTimer(50, () => fired++);
    const release = clock.hold('a health check in flight');

    // Act: 100 real ms (100 simulated seconds at this scale) pass while held.
    await sleep(100);
    const whileHeld = fired;
    release();
    await sleep(100);

    // Assess
    assert.equal(whileHeld, 0, 'the timer waited for the hold');
    assert.equal(fired, 1, 'and fired once the clock ran again');
  });

  it('re-arms when the rate changes: a timer set while held fires after release at the right simulated time', async () => {
    const clock = new SimClock({ timeScale: 1000, start: START });
    const release = clock.hold('database start');
    const heldAt = clock.nowMs();
    let firedAt: number | undefined;
    clock.setTimer(3, () => (firedAt = clock.nowMs()));
    await sleep(5);
    assert.equal(firedAt, undefined);

    release();
    await sleep(20);

    assert.ok(firedAt !== undefined, 'fired');
    assert.ok(firedAt >= heldAt + 3000, `not before its simulated time (${firedAt - heldAt} ms after the hold)`);
  });

  it('fires a timer that is already due even while held', async () => {
    const clock = new SimClock({ timeScale: 0, start: START });
    clock.hold('something');
    let fired = false;
    clock.setTimer(0, () => (fired = true));
    await sleep(2);
    assert.equal(fired, true);
  });

  it("releases a hold when its real-time bound passes and reports what, how long and what to do", async () => {
    const clock = new SimClock({ timeScale: 1000, start: START });
    const warnings: string[] = [];
    clock.onWarning((w) => warnings.push(`${w.what} | ${w.message}`));
    const t0 = clock.nowMs();
    clock.hold('task 1a2b of hello-world-green to listen on port 34567', { maxRealMs: 3 });
    clock.hold('custom', { maxRealMs: 3, message: () => 'custom message, computed at expiry' });

    await sleep(15);

    assert.equal(clock.held, false, 'both holds released by their bound');
    assert.ok(clock.nowMs() > t0, 'time runs again');
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /^task 1a2b of hello-world-green to listen on port 34567 \| Gave up waiting for task 1a2b .* after \d+ s real; simulated time runs on without it\. .*--time-scale/);
    assert.equal(warnings[1], 'custom | custom message, computed at expiry');
    assert.equal(clock.holdStats().expired, 2);
  });

  it('a released hold never warns', async () => {
    const clock = new SimClock({ timeScale: 1000 });
    const warnings: unknown[] = [];
    clock.onWarning((w) => warnings.push(w));
    clock.hold('quick work', { maxRealMs: 3 })();
    await sleep(10);
    assert.deepEqual(warnings, []);
  });

  it('keeps a frozen clock frozen: holds, timers and advance work; nothing fires without advance', async () => {
    const clock = new SimClock({ timeScale: 0, start: START });
    let fired = 0;
    clock.setTimer(5, () => fired++);
    const release = clock.hold('x');
    await sleep(3);
    assert.equal(clock.nowMs(), START.getTime());
    assert.equal(fired, 0);
    clock.advance(5); // advance moves time also while held
    assert.equal(fired, 1);
    release();
    await sleep(3);
    assert.equal(clock.nowMs(), START.getTime() + 5000);
  });

  it('sleep resolves at its simulated time and rejects on abort', async () => {
    const clock = new SimClock({ timeScale: 0, start: START });
    const done = clock.sleep(10).then(() => clock.elapsedSeconds(START));
    const aborted = new AbortController();
    const cancelled = clock.sleep(10, { signal: aborted.signal });
    aborted.abort(new Error('stopped'));
    clock.advance(10);
    assert.equal(await done, 10);
    await assert.rejects(cancelled, /stopped/);
  });

  it('rejects a hold without a description or with a bound that is not positive', () => {
    const clock = new SimClock();
    assert.throws(() => clock.hold(''), /description/);
    assert.throws(() => clock.hold('x', { maxRealMs: 0 }), /maxRealMs/);
  });
});
