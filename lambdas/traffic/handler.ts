/**
 * traffic — production traffic between the blue and green target groups (ELBv2 forward weights).
 *
 * Events (`action`), all with `plan` (DeploymentPlan):
 *  - `discover` → `{ live, idle, weights }` — the live slot is the one with the larger weight.
 *  - `shift` `{ slots, index }` → `{ index, percent, bakeSeconds, last, nextIndex }` — applies step
 *    `index` of `plan.steps` (percent 0-100 on the idle slot; `bakeSeconds` of that step, 0 = none).
 *    Idempotent.
 *  - `pointTest` `{ slots }` → `{ route, slot, message }` — the test listener (or rule) forwards 100% to the
 *    idle slot, so the new release can be smoke-tested before it gets production traffic. Idempotent.
 *  - `rollback` `{ slots }` → `{ trafficOn, idleHasTraffic, message }` — 100% back on the live slot if it
 *    has healthy targets; never moves traffic onto a slot without healthy targets.
 *  - `verify` `{ target: 'test'|'production', previous: { attempt } }` → `VerifyRound` (lib/domain/smoke.ts):
 *    one round of the plan's HTTP checks (`plan.verify.http`, each GET once, in parallel, each within its
 *    `timeoutSeconds` — at most 60 s) through the test listener (the new release only, before any
 *    production traffic) or the production listener (at 100%, before success is recorded); `retry` says
 *    whether another round may run after `plan.verify.intervalSeconds`. A failed check is an answer
 *    (`passed: false` with the check, the status and the body's first 200 bytes), not an error.
 *  - `testUrl` → `{ url }`: the test listener's base URL (for the smoke-test command's `CUTOVER_TEST_URL`).
 * Errors: `Cutover.Transient` (retry), `Cutover.ResourceState` (listener not forwarding to the slots, or not found).
 */
import * as z from 'zod/mini';
import { getWeights, healthyTargets, setWeights } from '../../lib/aws/elbv2';
import { listenerUrl, runHttpCheck } from '../../lib/aws/smoke-http';
import { decideRound, judgeHttpCheck, type VerifyPlan } from '../../lib/domain/smoke';
import { InvalidInputError } from '../../lib/domain/errors';
import type { DeploymentPlan } from '../../lib/domain/plan';
import { slotRoles, weightsFor, type SlotName, type SlotRoles } from '../../lib/domain/slots';
import { logger } from '../../lib/observability';

const Slots = z.object({ live: z.enum(['blue', 'green']), idle: z.enum(['blue', 'green']) });
const Event = z.discriminatedUnion('action', [
  z.object({ action: z.literal('discover'), plan: z.looseObject({}) }),
  z.object({ action: z.literal('shift'), plan: z.looseObject({}), slots: Slots, index: z.int().check(z.gte(0)) }),
  z.object({ action: z.literal('pointTest'), plan: z.looseObject({}), slots: Slots }),
  z.object({ action: z.literal('rollback'), plan: z.looseObject({}), slots: Slots }),
  z.object({ action: z.literal('testUrl'), plan: z.looseObject({}) }),
  z.object({ action: z.literal('verify'), plan: z.looseObject({}), target: z.enum(['test', 'production']), previous: z.optional(z.looseObject({ attempt: z.optional(z.number()) })) }),
]);

export const handler = async (event: unknown): Promise<unknown> => {
  const parsed = Event.safeParse(event);
  if (!parsed.success) throw new InvalidInputError(`traffic: invalid event: ${parsed.error.message}`);
  const e = parsed.data;
  const plan = e.plan as unknown as DeploymentPlan;
  switch (e.action) {
    case 'discover': {
      const roles: SlotRoles = slotRoles(await getWeights(plan.production), plan.slots, plan.production.arn);
      return roles;
    }
    case 'shift': {
      const step = plan.steps[e.index];
      if (!step) throw new InvalidInputError(`traffic: step index ${e.index} is out of range (plan has ${plan.steps.length} steps).`);
      await setWeights(plan.production, weightsFor(plan.slots, e.slots.idle, step.percent));
      logger.info('traffic shifted', { deploymentId: plan.deploymentId, idle: e.slots.idle, percent: step.percent });
      return {
        index: e.index,
        percent: step.percent,
        bakeSeconds: step.bakeSeconds,
        last: e.index === plan.steps.length - 1,
        nextIndex: e.index + 1,
      };
    }
    case 'pointTest': {
      if (!plan.test) throw new InvalidInputError('traffic: pointTest needs plan.test (this environment configures no test listener).');
      await setWeights(plan.test, weightsFor(plan.slots, e.slots.idle, 100));
      return { route: plan.test.arn, slot: e.slots.idle, message: `test ${plan.test.kind} forwards 100% to ${e.slots.idle}` };
    }
    case 'testUrl': {
      if (!plan.test) throw new InvalidInputError('traffic: testUrl needs plan.test (this environment configures no test listener).');
      return { url: await listenerUrl(plan.test) };
    }
    case 'verify': {
      const verify: VerifyPlan | null = plan.verify;
      if (!verify) throw new InvalidInputError('traffic: verify needs plan.verify (this environment configures no verification).');
      const route = e.target === 'test' ? plan.test : plan.production;
      if (!route) throw new InvalidInputError('traffic: verify through the test listener needs plan.test.');
      const url = await listenerUrl(route);
      const results = await Promise.all(verify.http.map(async (check) => judgeHttpCheck(check, await runHttpCheck(url, check))));
      const round = decideRound(verify, e.target, (e.previous?.attempt ?? 0) + 1, url, results);
      logger.info('verification round', { deploymentId: plan.deploymentId, target: e.target, attempt: round.attempt, passed: round.passed, retry: round.retry });
      return round;
    }
    case 'rollback': {
      const live: SlotName = e.slots.live;
      const idle: SlotName = e.slots.idle;
      const healthy = await healthyTargets(plan.slots[live].targetGroupArn);
      if (healthy === 0) {
        const idleHealthy = await healthyTargets(plan.slots[idle].targetGroupArn);
        const current = await getWeights(plan.production);
        const idleHasTraffic = (current[plan.slots[idle].targetGroupArn] ?? 0) > 0;
        const message = `${live} has no healthy targets, so traffic was not moved onto it (${idle} has ${idleHealthy} healthy)`;
        logger.error('rollback cannot restore traffic', { deploymentId: plan.deploymentId, message });
        return { trafficOn: idleHasTraffic ? idle : live, idleHasTraffic, message };
      }
      await setWeights(plan.production, weightsFor(plan.slots, idle, 0));
      return { trafficOn: live, idleHasTraffic: false, message: `100% of production traffic on ${live} (${healthy} healthy targets)` };
    }
  }
};
