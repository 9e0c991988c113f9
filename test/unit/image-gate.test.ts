/**
 * The image gate (issue 12 part 1): what an image reference names (lib/domain/image-events.ts), the
 * ECR lookup (lib/aws/ecr.ts, DescribeImages mocked), the ledger's awaitImage / beginChanges, the
 * image-events function that ends a wait on ECR's push event, and the alarm decision while a
 * deployment waits for its image.
 */
import { withoutGitHub } from '../helpers/plans';
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DescribeImagesCommand, ImageNotFoundException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SendTaskSuccessCommand, TaskTimedOut } from '@aws-sdk/client-sfn';
import { dynamoMock, ecrMock, resetSdkMocks, sdkError, sfnMock, throttlingError } from '../helpers/sdk-mocks';
import { parseConfig } from '../../lib/config';
import { decideImagePush, environmentsUsingRepository, imageEventPattern, parseEcrImage, pinnedReference } from '../../lib/domain/image-events';
import { decideAlarmAction } from '../../lib/domain/ledger-decisions';
import { resolvePlan } from '../../lib/domain/plan';
import { findImage } from '../../lib/aws/ecr';
import { handler as ledger } from '../../lambdas/ledger/handler';
import { handler as ecsRelease } from '../../lambdas/ecs-release/handler';
import { handler as imageEvents } from '../../lambdas/image-events/handler';

const REPO = '123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world';
const SHA = 'c0ffee0'.padEnd(40, '1');
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const SAMPLE = withoutGitHub(JSON.parse(readFileSync(new URL('../fixtures/hello-world-production.json', import.meta.url), 'utf8')));
const config = parseConfig(SAMPLE);
const plan = resolvePlan(config, {
  input: { service: 'hello-world', environment: 'production', release: { commit: SHA } },
  execution: { id: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:run-1', name: 'run-1', startTime: '2024-05-01T12:00:00.000Z' },
});
const LOCK_KEY = { pk: 'LOCK#hello-world#production', sk: 'LOCK' };
const pushEvent = (over: Record<string, unknown> = {}, detail: Record<string, unknown> = {}) => ({
  version: '0',
  id: 'evt-1',
  'detail-type': 'ECR Image Action',
  source: 'aws.ecr',
  account: '123456789012',
  time: '2024-05-01T12:01:00Z',
  region: 'us-east-1',
  resources: [],
  detail: { result: 'SUCCESS', 'repository-name': 'hello-world', 'image-digest': DIGEST, 'action-type': 'PUSH', 'image-tag': SHA, ...detail },
  ...over,
});

describe('image references (lib/domain/image-events.ts)', () => {
  it('parses ECR references with a tag, a digest, or both; anything else is not ECR', () => {
    assert.deepEqual(parseEcrImage(`${REPO}:${SHA}`), { registryId: '123456789012', region: 'us-east-1', repositoryName: 'hello-world', repositoryUri: REPO, tag: SHA });
    assert.equal(parseEcrImage(`${REPO}@${DIGEST}`)?.digest, DIGEST);
    assert.equal(parseEcrImage('123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v1')?.repositoryName, 'team/app');
    for (const other of ['nginx:1.27', 'ghcr.io/acme/app:v1', `${REPO}:bad tag`, `${REPO}@sha256:short`, `${REPO.replace('123456789012', '1234')}:v1`, 'registry.example/app@sha256:abc']) {
      assert.equal(parseEcrImage(other), undefined, other);
    }
    assert.equal(pinnedReference(parseEcrImage(`${REPO}:v1`)!, DIGEST), `${REPO}@${DIGEST}`);
  });

  it('the rule listens for successful pushes to the configured repositories only', () => {
    assert.deepEqual(imageEventPattern(config), { source: ['aws.ecr'], 'detail-type': ['ECR Image Action'], detail: { 'action-type': ['PUSH'], result: ['SUCCESS'], 'repository-name': ['hello-world'] } });
    assert.deepEqual(environmentsUsingRepository(config, 'hello-world'), [{ service: 'hello-world', environment: 'production' }]);
    assert.deepEqual(environmentsUsingRepository(config, 'hello-world', '999999999999'), [], 'another account\'s repository of the same name');
    const raw = structuredClone(SAMPLE);
    raw.services['hello-world'].environments.production.imageRepository = 'ghcr.io/acme/hello-world';
    assert.equal(imageEventPattern(parseConfig(raw)), undefined);
  });

  it('a push ends only the wait for exactly that repository and tag', () => {
    const lock = { deploymentId: 'run-1', pendingKind: 'image' as const, pendingTaskToken: 'tok', pendingImage: `${REPO}:${SHA}` };
    assert.deepEqual(decideImagePush({ lock, repositoryName: 'hello-world', tag: SHA, digest: DIGEST }), { kind: 'end-wait', taskToken: 'tok', deploymentId: 'run-1', reference: `${REPO}@${DIGEST}`, digest: DIGEST, tag: SHA });
    assert.equal(decideImagePush({ lock, repositoryName: 'hello-world', tag: 'other', digest: DIGEST }).kind, 'nothing');
    assert.equal(decideImagePush({ lock, repositoryName: 'other', tag: SHA, digest: DIGEST }).kind, 'nothing');
    assert.equal(decideImagePush({ lock: { ...lock, pendingKind: 'bake' }, repositoryName: 'hello-world', tag: SHA, digest: DIGEST }).kind, 'nothing');
    assert.equal(decideImagePush({ lock: undefined, repositoryName: 'hello-world', tag: SHA, digest: DIGEST }).kind, 'nothing');
  });

  it('an alarm while a deployment waits for its image: inside the live release\'s window, stop it and roll back; otherwise leave it', () => {
    const lock = { deploymentId: 'run-2', purpose: 'deploy' as const, pendingKind: 'image' as const, pendingTaskToken: 'tok' };
    const environment = { current: { deploymentId: 'run-1', commit: SHA, slot: 'green' as const, source: 'github-push' }, rollbackWindow: { deploymentId: 'run-1', keptSlot: 'blue' as const, until: '2031-05-01T10:30:00.000Z', seconds: 1800 } };
    const at = new Date('2031-05-01T10:10:00Z');
    assert.deepEqual(decideAlarmAction({ lock, environment, alarmAfterWindow: 'notify', firedAt: at }), { kind: 'stop-gate-and-rollback', taskToken: 'tok', waitingDeploymentId: 'run-2', keptSlot: 'blue', deploymentId: 'run-1' });
    assert.equal(decideAlarmAction({ lock, environment, alarmAfterWindow: 'notify', firedAt: new Date('2031-05-01T10:40:00Z') }).kind, 'not-baking', 'window over');
    assert.equal(decideAlarmAction({ lock, environment: { ...environment, current: { ...environment.current, source: 'rollback' } }, alarmAfterWindow: 'notify', firedAt: at }).kind, 'not-baking');
    assert.equal(decideAlarmAction({ lock: { ...lock, pendingKind: 'bake' }, environment, alarmAfterWindow: 'notify', firedAt: at }).kind, 'fail-wait');
  });
});

describe('image gate handlers (SDK mocked)', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    resetSdkMocks();
    for (const k of ['TABLE_NAME', 'NOTIFICATION_TOPIC_ARN', 'CUTOVER_CONFIG']) saved[k] = process.env[k];
    process.env.TABLE_NAME = 'cutover-ledger-test';
    process.env.CUTOVER_CONFIG = JSON.stringify(SAMPLE);
    delete process.env.NOTIFICATION_TOPIC_ARN;
    dynamoMock.on(GetCommand).resolves({});
    dynamoMock.on(QueryCommand).resolves({ Items: [] });
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('findImage: DescribeImages by tag in the image\'s registry; the digest pins the release', async () => {
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: DIGEST, imageTags: [SHA], imagePushedAt: new Date('2024-05-01T11:59:00Z') }] });
    const found = await findImage(`${REPO}:${SHA}`);
    assert.deepEqual(found, { found: true, checked: true, reference: `${REPO}@${DIGEST}`, digest: DIGEST, tag: SHA, pushedAt: '2024-05-01T11:59:00.000Z' });
    assert.deepEqual(ecrMock.commandCalls(DescribeImagesCommand)[0]!.args[0].input, { registryId: '123456789012', repositoryName: 'hello-world', imageIds: [{ imageTag: SHA }] });
  });

  it('findImage: a missing tag or repository is "not found"; throttling is Cutover.Transient; other registries are not checked', async () => {
    ecrMock.on(DescribeImagesCommand).rejectsOnce(sdkError(ImageNotFoundException, 'no image')).rejectsOnce(sdkError(RepositoryNotFoundException, 'no repo')).rejectsOnce(throttlingError('ecr'));
    assert.deepEqual(await findImage(`${REPO}:${SHA}`), { found: false, reference: `${REPO}:${SHA}`, repositoryName: 'hello-world', tag: SHA, repositoryMissing: false });
    assert.equal(((await findImage(`${REPO}:${SHA}`)) as { repositoryMissing: boolean }).repositoryMissing, true);
    await assert.rejects(findImage(`${REPO}:${SHA}`), (err: Error) => err.name === 'Cutover.Transient');
    assert.deepEqual(await findImage('ghcr.io/acme/app:v1'), { found: true, reference: 'ghcr.io/acme/app:v1', checked: false, why: 'not an Amazon ECR image reference' });
    assert.equal(((await findImage(`${REPO}@${DIGEST}`)) as { checked: boolean }).checked, false);
    assert.equal(ecrMock.commandCalls(DescribeImagesCommand).length, 3);
  });

  it('ecs-release findImage says what the deployment waits for', async () => {
    ecrMock.on(DescribeImagesCommand).rejects(sdkError(ImageNotFoundException, 'no image'));
    const out = (await ecsRelease({ action: 'findImage', plan })) as { found: boolean; message: string };
    assert.equal(out.found, false);
    assert.equal(out.message, `hello-world:${SHA} is not in ECR yet (CI may still be building it): waiting up to 600 s for the push`); // the sample's imageTimeoutSeconds
  });

  it('ledger awaitImage: stores the token as an image wait with the image, and ends it at once when the image came meanwhile', async () => {
    ecrMock.on(DescribeImagesCommand).rejectsOnce(sdkError(ImageNotFoundException, 'no image')).resolves({ imageDetails: [{ imageDigest: DIGEST, imageTags: [SHA] }] });
    const waiting = await ledger({ action: 'awaitImage', taskToken: 'tok-1', plan, image: { found: false } });
    assert.deepEqual(waiting, { waiting: true });
    const lockUpdate = dynamoMock.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((u) => u.Key!.pk === LOCK_KEY.pk)!;
    assert.match(lockUpdate.UpdateExpression!, /pendingKind = :k.*pendingImage = :i/);
    assert.equal(lockUpdate.ExpressionAttributeValues![':k'], 'image');
    assert.equal(lockUpdate.ExpressionAttributeValues![':i'], `${REPO}:${SHA}`);
    assert.match(String(lockUpdate.ExpressionAttributeValues![':q']), /waits for its image .* without it in 600 s it fails, having changed nothing/);
    assert.equal(sfnMock.commandCalls(SendTaskSuccessCommand).length, 0);

    const arrived = await ledger({ action: 'awaitImage', taskToken: 'tok-2', plan, image: { found: false } });
    assert.deepEqual(arrived, { waiting: false, found: true });
    const [success] = sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    assert.equal(success!.taskToken, 'tok-2');
    assert.equal(JSON.parse(success!.output!).reference, `${REPO}@${DIGEST}`);
  });

  it('ledger beginChanges: clears the wait from the lock and closes the rollback window, only now', async () => {
    dynamoMock.on(UpdateCommand).resolves({});
    const out = await ledger({ action: 'beginChanges', plan: { ...plan, image: `${REPO}@${DIGEST}` }, image: { found: true, checked: true, reference: `${REPO}@${DIGEST}` } });
    assert.deepEqual(out, { closedRollbackWindow: true });
    const updates = dynamoMock.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    assert.ok(updates.some((u) => u.Key!.pk === LOCK_KEY.pk && /^REMOVE pendingTaskToken, pendingKind, pendingQuestion, pendingSince, pendingUntil, pendingImage$/.test(u.UpdateExpression!) && u.ConditionExpression === 'executionArn = :me'));
    assert.ok(updates.some((u) => u.Key!.pk === 'ENV#hello-world#production' && u.UpdateExpression === 'REMOVE rollbackWindow'));
    const audits = dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!).filter((i) => String(i.pk).startsWith('AUDIT#'));
    assert.deepEqual(audits.map((a) => a.kind), ['gates-passed', 'rollback-window-closed']);
    assert.match(audits[0]!.message, /pinned: .*@sha256:/);
  });

  it('image-events: a push ends the matching wait with the pinned image; a redelivery finds it over; other events change nothing', async () => {
    dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({ Item: { ...LOCK_KEY, deploymentId: 'run-1', executionArn: plan.executionArn, acquiredAt: '2024-05-01T12:00:00.000Z', commit: SHA, purpose: 'deploy', pendingKind: 'image', pendingTaskToken: 'tok', pendingImage: `${REPO}:${SHA}` } });
    sfnMock.on(SendTaskSuccessCommand).resolvesOnce({}).rejects(sdkError(TaskTimedOut, 'Task Timed Out'));
    const first = await imageEvents(pushEvent());
    assert.deepEqual(first.environments, [{ service: 'hello-world', environment: 'production', deploymentId: 'run-1', action: 'ended-wait', detail: `the image is there: ${REPO}@${DIGEST}` }]);
    assert.deepEqual(JSON.parse(sfnMock.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!), { found: true, checked: true, reference: `${REPO}@${DIGEST}`, digest: DIGEST, tag: SHA });
    const again = await imageEvents(pushEvent());
    assert.equal(again.environments[0]!.action, 'wait-already-over');
    assert.equal((await imageEvents(pushEvent({}, { 'image-tag': 'latest' }))).environments[0]!.action, 'nothing');
    assert.deepEqual((await imageEvents(pushEvent({}, { 'action-type': 'DELETE' }))).environments, []);
    assert.deepEqual((await imageEvents(pushEvent({}, { result: 'FAILURE' }))).environments, []);
    assert.deepEqual((await imageEvents(pushEvent({ account: '999999999999' }))).environments, [], 'another account\'s repository');
    assert.equal(sfnMock.commandCalls(SendTaskSuccessCommand).length, 2);
    await assert.rejects(imageEvents({ source: 'aws.ecr' }), (err: Error) => err.name === 'Cutover.InvalidInput' && /^image-events: not an ECR image action event: /.test(err.message));
  });
});
