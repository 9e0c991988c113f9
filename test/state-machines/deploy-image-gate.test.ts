/**
 * deploy.asl.json's image gate (issue 12 parts 0 and 1), executed on the twin with its ECR: a
 * deployment takes the lock, looks for `<imageRepository>:<commit>` in ECR and, when CI has not pushed
 * it yet, waits for ECR's push event — having changed nothing (no snapshot, no slot touched, the
 * previous release's rollback window left open). The release then runs pinned by digest.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configVariant, deployInput, ENVIRONMENT, SERVICE, setAlarm, TestTwin, ALARM_5XX } from '../helpers/twin';
import { parseEcrImage } from '../../lib/domain/image-events';

let t: TestTwin | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** All at once, no bake, policy keep, no scan gate; `edit` changes the environment further. */
const fastConfig = (edit: (env: Record<string, any>) => void = () => {}) =>
  configVariant((env) => {
    env.databaseFailurePolicy = 'keep';
    env.strategy = { type: 'all-at-once' };
    delete env.scan;
    edit(env);
  });

const repository = (twin: TestTwin) => parseEcrImage(`${twin.env.imageRepository}:x`)!.repositoryName;

/** Writes to AWS other than the ledger's (snapshots, task definitions, services, listeners). */
const changes = (twin: TestTwin) => twin.writeCalls().filter((c) => c.service !== 'sns' && c.service !== 'ecr').map((c) => `${c.service}:${c.operation}`);

async function imageWait(twin: TestTwin, executionArn: string) {
  return twin.waitFor('the image wait', async () => {
    const lock = await twin.lock();
    return lock?.executionArn === executionArn && lock.pendingKind === 'image' && lock.pendingTaskToken ? lock : undefined;
  });
}

describe('deploy: the image gate', () => {
  it('an image already in ECR: no wait, and the release runs pinned by its digest', async () => {
    t = await TestTwin.start({ autoPushImages: false, config: fastConfig() });
    const input = deployInput();
    const { digest } = t.sim.ecr.pushImage(repository(t), input.release.commit);
    const d = t.startDeployment(input);
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const states = t.statesEntered(d);
    assert.ok(states.includes('FindImage') && states.includes('PinImage') && !states.includes('AwaitImage'), states.join(' → '));
    const live = t.weights().blue === 100 ? 'blue' : 'green';
    assert.equal(t.imageOf(live), `${t.env.imageRepository}@${digest}`, 'the task definition names the digest, not the tag');
    assert.equal((await t.record(d))?.image, `${t.env.imageRepository}@${digest}`);
  });

  it('an image pushed during the wait: nothing changed until ECR\'s push event, then the deployment goes on at once', async () => {
    t = await TestTwin.start({ autoPushImages: false, config: fastConfig((env) => (env.rollbackWindowSeconds = 3600)) });
    const first = deployInput({ message: 'v2' });
    t.sim.ecr.pushImage(repository(t), first.release.commit);
    assert.equal((await t.deploy(first)).result.status, 'SUCCEEDED');
    const windowBefore = (await t.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT))?.rollbackWindow;
    assert.ok(windowBefore, 'v2 opened a rollback window');

    t.sim.calls.length = 0;
    const input = deployInput({ message: 'v3' });
    const d = t.startDeployment(input);
    const lock = await imageWait(t, d.executionArn);
    assert.equal(lock.pendingImage, `${t.env.imageRepository}:${input.release.commit}`);
    assert.match(lock.pendingQuestion ?? '', /waits for its image/);
    assert.deepEqual(changes(t), [], 'no snapshot, no task definition, no service or listener change while waiting');
    assert.deepEqual((await t.twin.ledger.getEnvironment(SERVICE, ENVIRONMENT))?.rollbackWindow, windowBefore, 'the previous release\'s window stays open');

    const { digest } = t.sim.ecr.pushImage(repository(t), input.release.commit);
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.ok(t.statesEntered(d).includes('AwaitImage'));
    const live = t.weights().blue === 100 ? 'blue' : 'green';
    assert.equal(t.imageOf(live), `${t.env.imageRepository}@${digest}`);
    const timeline = await t.twin.ledger.timeline(SERVICE, ENVIRONMENT);
    assert.ok(timeline.some((e) => e.kind === 'gates-passed' && e.deploymentId === d.name));
  });

  it('an image that never comes: Cutover.ImageNotFound after imageTimeoutSeconds, nothing changed, the lock released', async () => {
    t = await TestTwin.start({ autoPushImages: false, config: fastConfig((env) => (env.imageTimeoutSeconds = 120)) });
    t.sim.calls.length = 0;
    const d = t.startDeployment(deployInput());
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.ImageNotFound');
    assert.match(result.cause ?? '', /was not pushed to ECR within 120 s \(imageTimeoutSeconds\); nothing was changed/);
    assert.deepEqual(changes(t), [], 'no AWS resource changed');
    assert.equal(await t.lock(), undefined);
    const record = await t.record(d);
    assert.equal(record?.status, 'failed');
    assert.equal(record?.error, 'Cutover.ImageNotFound');
  });

  it('duplicate and redelivered push events end the wait once; the deployment runs once', async () => {
    t = await TestTwin.start({ autoPushImages: false, config: fastConfig() });
    const input = deployInput();
    const d = t.startDeployment(input);
    await imageWait(t, d.executionArn);
    const events: unknown[] = [];
    const off = t.sim.ecr.onImageAction((e) => void events.push(e));
    t.sim.ecr.pushImage(repository(t), input.release.commit);
    off();
    assert.equal(events.length, 1);
    // EventBridge delivers at least once: the same event again, and again through the twin's /events.
    const again = await fetch(`${t.twin.url}/events`, { method: 'POST', body: JSON.stringify(events[0]) }).then((r) => r.json() as Promise<{ results: Array<{ rule: string; result: { environments: Array<{ action: string }> } }> }>);
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const second = await fetch(`${t.twin.url}/events`, { method: 'POST', body: JSON.stringify(events[0]) }).then((r) => r.json() as Promise<{ results: Array<{ rule: string; result: { environments: Array<{ action: string }> } }> }>);
    for (const r of [again, second]) {
      assert.equal(r.results[0]!.rule, 'image-push');
      assert.ok(['wait-already-over', 'nothing'].includes(r.results[0]!.result.environments[0]!.action), JSON.stringify(r));
    }
    assert.equal(t.twin.sfn.listExecutions({ stateMachineArn: t.twin.deployStateMachineArn, maxResults: 10 }).executions.length, 1);
  });

  it('the live release alarms inside its rollback window while a deployment waits for its image: that deployment stops, the live release rolls back', async () => {
    t = await TestTwin.start({ autoPushImages: false, config: fastConfig((env) => (env.rollbackWindowSeconds = 3600)) });
    const first = deployInput({ message: 'v2' });
    t.sim.ecr.pushImage(repository(t), first.release.commit);
    assert.equal((await t.deploy(first)).result.status, 'SUCCEEDED');
    assert.deepEqual(t.weights(), { blue: 0, green: 100 });
    const d = t.startDeployment(deployInput({ message: 'v3' }));
    await imageWait(t, d.executionArn);
    await setAlarm('ALARM', ALARM_5XX);
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.AlarmFiring');
    const rollback = await t.waitFor('the rollback', () => t!.twin.sfn.listExecutions({ stateMachineArn: t!.twin.stateMachineArns.rollback, maxResults: 10 }).executions[0]);
    const rb = await t.twin.sfn.waitForExecution(rollback.executionArn!);
    assert.equal(rb.status, 'SUCCEEDED', `${rb.error}: ${rb.cause}`);
    assert.deepEqual(t.weights(), { blue: 100, green: 0 }, 'production back on the kept slot');
  });
});

describe('deploy: the scan gate', () => {
  const scanned = (edit: (env: Record<string, any>) => void = () => {}) => fastConfig((env) => {
    env.scan = { maxSeverity: 'HIGH', waitSeconds: 300 };
    edit(env);
  });

  it('a finding above maxSeverity refuses the release before anything changes, naming the counts and the CVE', async () => {
    t = await TestTwin.start({ autoPushImages: false, config: scanned() });
    const input = deployInput();
    t.sim.ecr.pushImage(repository(t), input.release.commit, { findings: [{ name: 'CVE-2024-3094', severity: 'CRITICAL' }, { name: 'CVE-2023-1111', severity: 'HIGH' }] });
    t.sim.calls.length = 0;
    const d = t.startDeployment(input);
    const result = await t.wait(d);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.ScanRefused');
    assert.match(result.cause ?? '', /found 1 CRITICAL, 1 HIGH: above the environment's maxSeverity HIGH \(CVE-2024-3094\); nothing was changed/);
    assert.deepEqual(changes(t), [], 'no snapshot, task definition, service or listener change');
    assert.equal(await t.lock(), undefined);
  });

  it('findings at or under maxSeverity, reported during the wait (ECR\'s scan event): the deployment goes on', async () => {
    t = await TestTwin.start({ autoPushImages: false, config: scanned() });
    const input = deployInput();
    const { digest } = t.sim.ecr.pushImage(repository(t), input.release.commit);
    const d = t.startDeployment(input);
    await t.waitFor('the scan wait', async () => {
      const lock = await t!.lock();
      return lock?.executionArn === d.executionArn && lock.pendingKind === 'scan' ? lock : undefined;
    });
    t.sim.ecr.setScanFindings(repository(t), digest, [{ name: 'CVE-2024-0002', severity: 'HIGH' }]);
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.ok(t.statesEntered(d).includes('AwaitScan'));
  });

  it('no scan result within scan.waitSeconds: Cutover.ScanNotComplete, nothing changed', async () => {
    t = await TestTwin.start({ autoPushImages: false, config: scanned() });
    const input = deployInput();
    t.sim.ecr.pushImage(repository(t), input.release.commit);
    t.sim.calls.length = 0;
    const result = await t.wait(t.startDeployment(input));
    assert.equal(result.error, 'Cutover.ScanNotComplete');
    assert.match(result.cause ?? '', /gave no result within 300 s \(scan\.waitSeconds\); nothing was changed/);
    assert.deepEqual(changes(t), []);
  });
});
