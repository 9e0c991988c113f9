/**
 * The twin's ECR over HTTP (AWS JSON 1.1 on the twin's endpoint, `X-Amz-Target:
 * AmazonEC2ContainerRegistry_V20150921.*`), as a CI step or `aws ecr put-image --endpoint-url <twin>`
 * reaches it: a deployment started while its image does not exist waits; re-tagging the v2 manifest as
 * the commit (BatchGetImage, then PutImage — how ECR re-tags) makes ECR emit its push event, the
 * deployment goes on and runs the v2 digest. A real SDK client over real HTTP, not the in-process transport.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BatchGetImageCommand, ECRClient, ImageAlreadyExistsException, PutImageCommand } from '@aws-sdk/client-ecr';
import type { Twin } from '../../lib/local/twin';
import { parseEcrImage } from '../../lib/domain/image-events';
import { outcome, startTwin } from '../helpers/http';

describe('e2e: ECR API on the twin endpoint', () => {
  let twin: Twin;
  let ecr: ECRClient;
  before(async () => {
    twin = await startTwin({ autoPushImages: false });
    ecr = new ECRClient({ endpoint: twin.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCALTWIN', secretAccessKey: 'local-secret' }, maxAttempts: 1 });
  });
  after(async () => {
    ecr?.destroy();
    await twin?.stop();
  });

  it('a deployment waiting for its image goes on when the v2 manifest is re-tagged as its commit through the API', async () => {
    const env = twin.config.services['hello-world']!.environments.production!;
    const repo = parseEcrImage(`${env.imageRepository}:v2`)!.repositoryName;
    const { digest } = twin.sim.ecr.pushImage(repo, 'v2', { findings: [] }); // CI pushed v2 and ECR scanned it clean
    const commit = 'c0ffee2'.padEnd(40, '2');
    const { executionArn } = twin.sfn.startExecution({
      stateMachineArn: twin.deployStateMachineArn,
      name: 'waits-for-ecr',
      input: JSON.stringify({ service: 'hello-world', environment: 'production', release: { commit } }),
    });
    const deadline = Date.now() + 30_000;
    while ((await twin.ledger.getLock('hello-world', 'production'))?.pendingKind !== 'image') {
      assert.ok(Date.now() < deadline, `the deployment waits for its image (${outcome(twin, executionArn)})`);
      await new Promise((r) => setTimeout(r, 20));
    }

    const got = await ecr.send(new BatchGetImageCommand({ repositoryName: repo, imageIds: [{ imageTag: 'v2' }] }));
    const manifest = got.images![0]!.imageManifest!;
    const put = await ecr.send(new PutImageCommand({ repositoryName: repo, imageTag: commit, imageManifest: manifest }));
    assert.equal(put.image?.imageId?.imageDigest, digest, 'a re-tag: same manifest, same digest');
    await assert.rejects(ecr.send(new PutImageCommand({ repositoryName: repo, imageTag: commit, imageManifest: manifest })), (err: Error) => err instanceof ImageAlreadyExistsException, 'the typed error over HTTP');

    const done = await twin.sfn.waitForExecution(executionArn);
    assert.equal(done.status, 'SUCCEEDED', outcome(twin, executionArn));
    const live = twin.sim.elbv2.weights(env.production && 'listenerArn' in env.production ? env.production.listenerArn : '');
    const slot = (['blue', 'green'] as const).find((s) => live[env.slots[s].targetGroupArn] === 100)!;
    const td = twin.sim.ecs.describeService(env.cluster, env.slots[slot].service)!.taskDefinition!;
    const image = twin.sim.ecs.describeTaskDefinition({ taskDefinition: td }).taskDefinition!.containerDefinitions!.find((c) => c.name === env.containerName)!.image;
    assert.equal(image, `${env.imageRepository}@${digest}`, 'the release runs the v2 digest');
  });
});
