/**
 * Records that count right (issue 13 part 4), executed on the twin: what the ledger says about each
 * deployment is what DORA metrics are computed from (lib/domain/dora.ts), so
 *  - a promoted deployment carries changesStartedAt, trafficAt, promotedAt (and committedAt when known);
 *  - one rolled back at its canary carries trafficAt, detectedAt (the alarm's state change) and restoredAt;
 *  - a promoted deployment a later rollback took production away from is `rolled-back` (not `succeeded`),
 *    with rolledBackBy / rolledBackAt, and the environment state names the release production is on as
 *    soon as traffic moved — also while the rollback waits for its database decision;
 *  - a rollback refused beside a running deployment is recorded `refused`.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { sfnClient } from '../../lib/aws/clients';
import { ALARM_5XX, configVariant, deployInput, ENVIRONMENT, SERVICE, setAlarm, TestTwin, type StartedDeployment } from '../helpers/twin';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

function startRollback(twin: TestTwin, input: Record<string, unknown> = {}, name = `rb-${Math.random().toString(16).slice(2, 8)}`): StartedDeployment {
  const text = JSON.stringify({ service: SERVICE, environment: ENVIRONMENT, reason: 'checkout errors', ...input });
  const { executionArn } = twin.twin.sfn.startExecution({ stateMachineArn: twin.twin.stateMachineArns.rollback, name, input: text });
  return { executionArn, name, input: undefined };
}

const fast = (edit: (env: Record<string, any>) => void = () => {}) =>
  configVariant((env) => {
    env.databaseFailurePolicy = 'keep';
    env.strategy = { type: 'all-at-once' };
    delete env.verify;
    edit(env);
  });

describe('records that count right', () => {
  it('a promoted deployment records when its changes began, when it got traffic, when it went live, and its commit time', async () => {
    t = await TestTwin.start({ config: fast() });
    const input = deployInput({ committedAt: '2026-01-02T03:04:05.000Z' });
    const { d, result } = await t.deploy(input);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const r = (await t.record(d))!;
    assert.equal(r.status, 'succeeded');
    assert.equal(r.committedAt, '2026-01-02T03:04:05.000Z');
    assert.ok(r.changesStartedAt && r.trafficAt && r.promotedAt, JSON.stringify(r));
    assert.ok(r.startedAt <= r.changesStartedAt! && r.changesStartedAt! <= r.trafficAt! && r.trafficAt! <= r.promotedAt!, 'in time order');
    assert.equal(r.detectedAt, undefined);
  });

  it('a deployment rolled back at its canary: traffic, detection (the alarm\'s time) and restore times', async () => {
    t = await TestTwin.start({ config: fast((env) => (env.strategy = { type: 'canary', percent: 10, bakeSeconds: 600 })) });
    const d = t.startDeployment(deployInput());
    await t.untilStateEntered(d, 'Bake');
    await setAlarm('ALARM', ALARM_5XX);
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    const r = (await t.record(d))!;
    assert.equal(r.status, 'rolled-back');
    assert.equal(r.promotedAt, undefined, 'it never went live');
    assert.ok(r.trafficAt && r.detectedAt && r.restoredAt, JSON.stringify(r));
    const alarm = (await t.twin.ledger.timeline(SERVICE, ENVIRONMENT, { deploymentId: d.name })).filter((e) => e.kind === 'alarm').at(-1); // the first (oldest)
    assert.ok(alarm, 'the alarm is on the timeline');
    assert.equal(r.detectedAt, alarm.at, 'detection is the alarm\'s state change');
    assert.ok(r.trafficAt! <= r.detectedAt! && r.detectedAt! <= r.restoredAt!);
  });

  it('a later rollback: the promoted deployment becomes rolled-back, and status names the kept release while the database decision waits', async () => {
    t = await TestTwin.start({ config: fast((env) => {
      env.rollbackWindowSeconds = 3600;
      env.databaseFailurePolicy = 'approve';
    }) });
    const v2 = await t.deploy(deployInput({ message: 'v2' }));
    assert.equal(v2.result.status, 'SUCCEEDED');
    const v3 = await t.deploy(deployInput({ message: 'v3' }));
    assert.equal(v3.result.status, 'SUCCEEDED');
    assert.equal((await t.record(v3.d))?.status, 'succeeded');

    const rb = startRollback(t, { reason: 'bad carts', trigger: { source: 'cli', actor: 'ada' } });
    const lock = await t.waitFor('the database decision', async () => {
      const l = await t!.lock();
      return l?.pendingKind === 'database-decision' ? l : undefined;
    });
    // While the decision waits, the environment state already says v2 is live (production traffic is on it).
    const env = await t.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT);
    assert.equal(env?.current?.deploymentId, v2.d.name, 'the live release is the one production is on');
    assert.equal(t.weights()[env!.liveSlot], 100);
    const rolledBack = (await t.record(v3.d))!;
    assert.equal(rolledBack.status, 'rolled-back', 'no longer listed succeeded');
    assert.equal(rolledBack.rolledBackBy, rb.name);
    assert.ok(rolledBack.promotedAt && rolledBack.rolledBackAt && rolledBack.rolledBackAt >= rolledBack.promotedAt);

    await sfnClient().send(new SendTaskSuccessCommand({ taskToken: lock.pendingTaskToken!, output: JSON.stringify({ decision: 'keep', operator: 'ada' }) }));
    assert.equal((await t.wait(rb)).status, 'SUCCEEDED');
    const rbRecord = (await t.record(rb))!;
    assert.equal(rbRecord.kind, 'rollback');
    assert.equal(rbRecord.status, 'rolled-back');
    assert.ok(rbRecord.detectedAt && rbRecord.restoredAt && rbRecord.detectedAt <= rbRecord.restoredAt, JSON.stringify(rbRecord));
    assert.equal(rbRecord.detectedAt, rbRecord.startedAt, 'an operator\'s rollback: detection is when it was started');
    assert.equal((await t.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT))?.current?.deploymentId, v2.d.name, 'finishing it changes nothing more');
  });

  it('a rollback refused beside a running deployment is recorded refused', async () => {
    t = await TestTwin.start({ config: configVariant((env) => (env.databaseFailurePolicy = 'keep')) });
    await t.deploy();
    const running = t.startDeployment();
    await t.untilStateEntered(running, 'Bake');
    const rb = startRollback(t, {});
    const result = await t.wait(rb);
    assert.equal(result.error, 'Cutover.DeploymentInProgress');
    const r = (await t.record(rb))!;
    assert.equal(r.status, 'refused');
    assert.equal(r.kind, 'rollback');
    assert.equal(r.error, 'Cutover.DeploymentInProgress');
    assert.match(r.message ?? '', /refused: Cutover\.DeploymentInProgress: .*abort it instead/);
    assert.equal((await t.lock())?.deploymentId, running.name);
  });
});
