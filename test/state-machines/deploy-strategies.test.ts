/**
 * deploy.asl.json with each traffic strategy: the production weights cutover sets on the idle slot
 * (recorded from the simulator's ModifyListener calls) follow the plan step by step, with one bake
 * (a callback wait) and one end-of-bake alarm check after each step that has bake time.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Strategy } from '../../lib/config/schema';
import { trafficSteps } from '../../lib/domain/traffic-plan';
import { configVariant, TestTwin } from '../helpers/twin';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

const CASES: Array<{ name: string; strategy: Strategy; weights: number[]; bakes: number }> = [
  { name: 'linear 25%', strategy: { type: 'linear', stepPercent: 25, stepBakeSeconds: 30 }, weights: [25, 50, 75, 100], bakes: 3 },
  { name: 'linear 30% (last step capped at 100)', strategy: { type: 'linear', stepPercent: 30, stepBakeSeconds: 15 }, weights: [30, 60, 90, 100], bakes: 3 },
  { name: 'all-at-once', strategy: { type: 'all-at-once', bakeSeconds: 0 }, weights: [100], bakes: 0 },
  { name: 'all-at-once with a bake', strategy: { type: 'all-at-once', bakeSeconds: 45 }, weights: [100], bakes: 1 },
  {
    name: 'explicit steps',
    strategy: { type: 'steps', steps: [{ percent: 5, bakeSeconds: 15 }, { percent: 50, bakeSeconds: 20 }, { percent: 100, bakeSeconds: 0 }] },
    weights: [5, 50, 100],
    bakes: 2,
  },
];

for (const c of CASES) {
  describe(`deploy: ${c.name} strategy`, () => {
    it(`shifts production traffic ${c.weights.join(' → ')} and promotes`, async () => {
      // Prepare
      t = await TestTwin.start({
        config: configVariant((env) => {
          env.strategy = c.strategy;
          env.databaseFailurePolicy = 'keep';
        }),
      });
      assert.deepEqual(trafficSteps(c.strategy).map((s) => s.percent), c.weights, 'the plan itself');
      // Act
      const { d, result } = await t.deploy();
      // Assess
      assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
      assert.deepEqual(t.weightsSet('green'), c.weights, 'green weight per ModifyListener');
      assert.deepEqual(
        t.weightsSet('blue'),
        c.weights.map((w) => 100 - w),
        'blue keeps the rest',
      );
      assert.deepEqual(t.weights(), { blue: 0, green: 100 });
      const states = t.statesEntered(d);
      assert.equal(states.filter((s) => s === 'ShiftTraffic').length, c.weights.length);
      assert.equal(states.filter((s) => s === 'Bake').length, c.bakes, 'one bake per step with bake time');
      assert.equal(states.filter((s) => s === 'CheckAlarms').length, c.bakes, 'one alarm check as each bake ends');
      assert.equal((await t.record(d))?.status, 'succeeded');
    });
  });
}
