import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { trafficSteps } from '../../lib/domain/traffic-plan';
import { StrategySchema } from '../../lib/config/schema';

describe('trafficSteps', () => {
  it('canary: the canary percent with its bake, then 100% with no bake', () => {
    // Prepare
    const strategy = StrategySchema.parse({ type: 'canary', percent: 10, bakeSeconds: 300 });
    // Act
    const steps = trafficSteps(strategy);
    // Assess
    assert.deepEqual(steps, [
      { percent: 10, bakeSeconds: 300 },
      { percent: 100, bakeSeconds: 0 },
    ]);
  });

  it('linear: multiples of stepPercent below 100, each baked, then 100% unbaked', () => {
    const steps = trafficSteps(StrategySchema.parse({ type: 'linear', stepPercent: 25, stepBakeSeconds: 60 }));
    assert.deepEqual(
      steps.map((s) => [s.percent, s.bakeSeconds]),
      [
        [25, 60],
        [50, 60],
        [75, 60],
        [100, 0],
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
    assert.deepEqual(steps, [{ percent: 100, bakeSeconds: 0 }]);
  });

  it('all-at-once without bake: one unbaked step at 100 (bakeSeconds defaults to 0)', () => {
    const steps = trafficSteps(StrategySchema.parse({ type: 'all-at-once' }));
    assert.deepEqual(steps, [{ percent: 100, bakeSeconds: 0 }]);
  });

  it('all-at-once with bake: the 100% step is baked', () => {
    const steps = trafficSteps(StrategySchema.parse({ type: 'all-at-once', bakeSeconds: 120 }));
    assert.deepEqual(steps, [{ percent: 100, bakeSeconds: 120 }]);
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
      { percent: 5, bakeSeconds: 30 },
      { percent: 50, bakeSeconds: 0 },
      { percent: 100, bakeSeconds: 45 },
    ]);
  });
});
