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
