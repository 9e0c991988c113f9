/**
 * Traffic plans: the steps in which production traffic moves to the new release.
 * Pure functions; percentages are 0-100 of production traffic on the new release, times in seconds.
 */
import type { Strategy } from '../config/schema';

export interface TrafficStep {
  /** Percent (1-100) of production traffic on the new release during this step. */
  readonly percent: number;
  /** Bake time after the shift, seconds, as configured (0: no bake). */
  readonly bakeSeconds: number;
}

const step = (percent: number, bakeSeconds: number): TrafficStep => ({ percent, bakeSeconds });

/**
 * Expand a strategy into explicit steps. The last step is always 100 percent.
 * - all-at-once: one step at 100 (bake = strategy.bakeSeconds, default 0)
 * - canary {percent, bakeSeconds}: percent → bake → 100 (no bake after 100)
 * - linear {stepPercent, stepBakeSeconds}: stepPercent, 2×, … up to 100, baking after each step but the last
 * - steps: as given
 */
export function trafficSteps(strategy: Strategy): TrafficStep[] {
  switch (strategy.type) {
    case 'all-at-once':
      return [step(100, strategy.bakeSeconds)];
    case 'canary':
      return [step(strategy.percent, strategy.bakeSeconds), step(100, 0)];
    case 'linear': {
      const steps: TrafficStep[] = [];
      for (let p = strategy.stepPercent; p < 100; p += strategy.stepPercent) steps.push(step(p, strategy.stepBakeSeconds));
      steps.push(step(100, 0));
      return steps;
    }
    case 'steps':
      return strategy.steps.map((s) => step(s.percent, s.bakeSeconds));
  }
}
