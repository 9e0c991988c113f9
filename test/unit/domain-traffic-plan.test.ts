import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { trafficSteps } from '../../lib/domain/traffic-plan';
import { BAKE_CHECK_INTERVAL_SECONDS, StrategySchema } from '../../lib/config/schema';

describe('trafficSteps', () => {
  it('canary: the canary percent with its bake, then 100% with no bake', () => {
    // Prepare
    const strategy = StrategySchema.parse({ type: 'canary', percent: 10, bakeSeconds: 300 });
    // Act
    const steps = trafficSteps(strategy);
    // Assess
    assert.deepEqual(steps, [
      { percent: 10, bakeSeconds: 300, bakeChecks: 300 / BAKE_CHECK_INTERVAL_SECONDS },
      { percent: 100, bakeSeconds: 0, bakeChecks: 0 },
    ]);
  });

  it('linear: multiples of stepPercent below 100, each baked, then 100% unbaked', () => {
    const steps = trafficSteps(StrategySchema.parse({ type: 'linear', stepPercent: 25, stepBakeSeconds: 60 }));
    assert.deepEqual(
      steps.map((s) => [s.percent, s.bakeSeconds, s.bakeChecks]),
      [
        [25, 60, 4],
        [50, 60, 4],
        [75, 60, 4],
        [100, 0, 0],
      ],
    );
  });

  it('linear: a stepPercent that does not divide 100 still ends at exactly 100', () => {
    const steps = trafficSteps(StrategySchema.parse({ type: 'linear', stepPercent: 30, stepBakeSeconds: 15 }));
    assert.deepEqual(
      steps.map((s) => s.percent),
      [30, 60, 90, 100],
    );
    assert.ok(steps.every((s) => s.percent <= 100));
    assert.equal(steps.at(-1)!.bakeSeconds, 0);
  });

  it('linear: stepPercent 100 is a single step', () => {
    const steps = trafficSteps(StrategySchema.parse({ type: 'linear', stepPercent: 100, stepBakeSeconds: 60 }));
    assert.deepEqual(steps, [{ percent: 100, bakeSeconds: 0, bakeChecks: 0 }]);
  });

  it('all-at-once without bake: one unbaked step at 100 (bakeSeconds defaults to 0)', () => {
    const steps = trafficSteps(StrategySchema.parse({ type: 'all-at-once' }));
    assert.deepEqual(steps, [{ percent: 100, bakeSeconds: 0, bakeChecks: 0 }]);
  });

  it('all-at-once with bake: the 100% step is baked', () => {
    const steps = trafficSteps(StrategySchema.parse({ type: 'all-at-once', bakeSeconds: 120 }));
    assert.deepEqual(steps, [{ percent: 100, bakeSeconds: 120, bakeChecks: 8 }]);
  });

  it('explicit steps are taken as given', () => {
    const steps = trafficSteps(
      StrategySchema.parse({
        type: 'steps',
        steps: [
          { percent: 5, bakeSeconds: 30 },
          { percent: 50, bakeSeconds: 0 },
          { percent: 100, bakeSeconds: 45 },
        ],
      }),
    );
    assert.deepEqual(steps, [
      { percent: 5, bakeSeconds: 30, bakeChecks: 2 },
      { percent: 50, bakeSeconds: 0, bakeChecks: 0 },
      { percent: 100, bakeSeconds: 45, bakeChecks: 3 },
    ]);
  });

  it(`bakeChecks round up to whole ${BAKE_CHECK_INTERVAL_SECONDS}-second checks`, () => {
    const cases: Array<[number, number]> = [
      [0, 0],
      [1, 1],
      [14, 1],
      [15, 1],
      [16, 2],
      [29, 2],
      [30, 2],
      [31, 3],
      [86_400, 5760],
    ];
    for (const [bakeSeconds, expected] of cases) {
      const [first] = trafficSteps(StrategySchema.parse({ type: 'canary', percent: 50, bakeSeconds }));
      assert.equal(first!.bakeChecks, expected, `bakeSeconds ${bakeSeconds}`);
      assert.ok(first!.bakeChecks * BAKE_CHECK_INTERVAL_SECONDS >= bakeSeconds, 'checks cover the whole bake');
    }
  });
});
