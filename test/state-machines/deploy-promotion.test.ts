/**
 * Promotion through environments (issue 13 part 1), executed on the twin with two environments of
 * hello-world: staging (pushes) and production (`promotion: { from: staging }`):
 *  - auto: a staging success starts production's deployment of the very same commit and image digest;
 *  - a staging deployment that was rolled back is never promoted;
 *  - manual (`auto: false`): the success leaves an offer; deploying it goes through production's
 *    approval gate;
 *  - production refuses a release that did not succeed in staging (`Cutover.NotPromotable`, recorded
 *    `refused`), unless an operator forces it with a reason (recorded).
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { sfnClient } from '../../lib/aws/clients';
import { parseConfig } from '../../lib/config/load';
import { promotionExecutionName, promotionInput } from '../../lib/domain/promotion';
import { addEnvironmentLikeProduction, deployInput, ENVIRONMENT, sampleConfigJson, SERVICE, setAlarm, TestTwin } from '../helpers/twin';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

const STAGING = 'staging';
const STAGING_ALARM = 'hello-world-staging-5xx';

/** hello-world with staging (a copy of production on its own resources) and production promoting from it. */
function twoEnvironments(opts: { auto: boolean; soakSeconds?: number; approval?: string; stagingStrategy?: unknown }) {
  const raw = sampleConfigJson() as any;
  const svc = raw.services[SERVICE];
  const prod = svc.environments[ENVIRONMENT];
  prod.databaseFailurePolicy = 'keep';
  prod.strategy = { type: 'all-at-once' };
  const staging = addEnvironmentLikeProduction(svc, STAGING);
  staging.alarms = [STAGING_ALARM];
  staging.databaseFailurePolicy = 'keep';
  delete staging.scan;
  if (opts.stagingStrategy) staging.strategy = opts.stagingStrategy;
  prod.promotion = { from: STAGING, auto: opts.auto, ...(opts.soakSeconds !== undefined ? { soakSeconds: opts.soakSeconds } : {}) };
  if (opts.approval) prod.approval = opts.approval;
  svc.environments = { staging, production: prod };
  svc.branches = { master: STAGING };
  return parseConfig(raw, 'two environments');
}

const history = (twin: TestTwin, environment: string) => twin.twin.ledger.history(SERVICE, environment, 100);
const recordOf = async (twin: TestTwin, environment: string, id: string) => (await history(twin, environment)).find((r) => r.deploymentId === id);

function executionNamed(twin: TestTwin, name: string) {
  return twin.twin.sfn.listExecutions({ stateMachineArn: twin.twin.deployStateMachineArn, maxResults: 100 }).executions.find((e) => e.name === name);
}

describe('deploy: promotion from staging to production', () => {
  it('auto: a staging success deploys the very same commit and image digest to production', async () => {
    t = await TestTwin.start({ config: twoEnvironments({ auto: true }) });
    const { d, result } = await t.deploy({ ...deployInput({ message: 'v2' }), environment: STAGING });
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.ok(t.statesEntered(d).includes('StartPromotions'));
    const name = promotionExecutionName(d.name, ENVIRONMENT);
    const promoted = await t.waitFor('the promoted deployment', () => executionNamed(t!, name));
    const done = await t.twin.sfn.waitForExecution(promoted.executionArn!);
    assert.equal(done.status, 'SUCCEEDED', `${done.error}: ${done.cause}`);
    const staging = (await recordOf(t, STAGING, d.name))!;
    const production = (await recordOf(t, ENVIRONMENT, name))!;
    assert.equal(production.status, 'succeeded');
    assert.equal(production.commit, staging.commit);
    assert.match(staging.image, /@sha256:/, 'staging ran the image pinned by digest');
    assert.equal(production.image, staging.image, 'production runs the very same digest');
    assert.deepEqual([production.trigger.source, production.trigger.of], ['promotion', d.name]);
    const timeline = await t.twin.ledger.timeline(SERVICE, ENVIRONMENT, { deploymentId: name });
    assert.ok(timeline.some((e) => e.kind === 'promotion' && /succeeded in staging/.test(e.message)), timeline.map((e) => e.message).join('\n'));
  });

  it('a staging deployment rolled back by an alarm is never promoted', async () => {
    t = await TestTwin.start({ config: twoEnvironments({ auto: true, stagingStrategy: { type: 'canary', percent: 10, bakeSeconds: 600 } }) });
    const d = t.startDeployment({ ...deployInput(), environment: STAGING });
    await t.untilStateEntered(d, 'Bake');
    await setAlarm('ALARM', STAGING_ALARM);
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal((await recordOf(t, STAGING, d.name))?.status, 'rolled-back');
    assert.ok(!t.statesEntered(d).includes('OfferPromotion'));
    assert.equal(executionNamed(t, promotionExecutionName(d.name, ENVIRONMENT)), undefined, 'no production deployment');
    assert.equal(await t.twin.ledger.getOffer(SERVICE, ENVIRONMENT), undefined, 'nothing offered');
  });

  it('a release rolled back during its soak is not promoted', async () => {
    t = await TestTwin.start({ config: twoEnvironments({ auto: true, soakSeconds: 3600 }) });
    const d = t.startDeployment({ ...deployInput(), environment: STAGING });
    await t.untilStateEntered(d, 'SoakBeforePromotion');
    await setAlarm('ALARM', STAGING_ALARM); // inside the rollback window: the rollback state machine flips staging back
    await t.waitFor('staging rolled back', async () => ((await recordOf(t!, STAGING, d.name))?.status === 'rolled-back' ? true : undefined));
    t.twin.clock.advance(3600);
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', 'the deployment itself had succeeded');
    assert.deepEqual(JSON.parse(result.output ?? '{}').status, 'succeeded');
    assert.equal(executionNamed(t, promotionExecutionName(d.name, ENVIRONMENT)), undefined, 'not promoted');
    const audit = await t.twin.ledger.timeline(SERVICE, STAGING, { deploymentId: d.name });
    assert.ok(audit.some((e) => e.kind === 'promotion' && /is not promoted .*rolled-back/.test(e.message)), audit.map((e) => e.message).join('\n'));
  });

  it('manual: the success is offered; deploying the offer waits for production\'s approval, then succeeds', async () => {
    t = await TestTwin.start({ config: twoEnvironments({ auto: false, approval: 'before-traffic' }) });
    const { d, result } = await t.deploy({ ...deployInput({ message: 'v2' }), environment: STAGING });
    assert.equal(result.status, 'SUCCEEDED');
    const offer = await t.twin.ledger.getOffer(SERVICE, ENVIRONMENT);
    assert.ok(offer, 'offered to production');
    assert.equal(offer.deploymentId, d.name);
    assert.equal(offer.image, (await recordOf(t, STAGING, d.name))!.image);
    assert.equal(executionNamed(t, promotionExecutionName(d.name, ENVIRONMENT)), undefined, 'not started by itself');

    const p = t.startDeployment(promotionInput(SERVICE, ENVIRONMENT, { ...offer, migrations: offer.migrations }, 'ada'));
    const lock = await t.waitFor('the approval', async () => {
      const l = await t!.lock();
      return l?.executionArn === p.executionArn && l.pendingKind === 'approval' ? l : undefined;
    });
    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: lock.pendingTaskToken!, output: JSON.stringify({ approved: true, operator: 'ada' }) }));
    const done = await t.wait(p);
    assert.equal(done.status, 'SUCCEEDED', `${done.error}: ${done.cause}`);
    assert.equal(await t.twin.ledger.getOffer(SERVICE, ENVIRONMENT), undefined, 'the offer is taken');
  });

  it('production refuses a release that did not succeed in staging, and records it', async () => {
    t = await TestTwin.start({ config: twoEnvironments({ auto: true }) });
    t.sim.calls.length = 0;
    const { d, result } = await t.deploy(deployInput());
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.NotPromotable');
    assert.match(result.cause ?? '', /accepts only releases that succeeded in staging.*never deployed to staging.*--force --reason/);
    const r = (await recordOf(t, ENVIRONMENT, d.name))!;
    assert.equal(r.status, 'refused');
    assert.deepEqual(t.writeCalls().filter((c) => c.service !== 'sns').map((c) => `${c.service}:${c.operation}`), [], 'nothing changed');
  });

  it('--force with a reason deploys it anyway and records who and why', async () => {
    t = await TestTwin.start({ config: twoEnvironments({ auto: true }) });
    const { d, result } = await t.deploy({ ...deployInput(), trigger: { source: 'promotion', actor: 'ada' }, promotionOverride: { reason: 'staging is down; hotfix', operator: 'ada' } });
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const r = (await recordOf(t, ENVIRONMENT, d.name))!;
    assert.deepEqual([r.promotionOverride?.by, r.promotionOverride?.reason], ['ada', 'staging is down; hotfix']);
    const audit = await t.twin.ledger.timeline(SERVICE, ENVIRONMENT, { deploymentId: d.name });
    assert.ok(audit.some((e) => e.detail?.action === 'force-promotion' && e.actor === 'ada'));
  });
});
