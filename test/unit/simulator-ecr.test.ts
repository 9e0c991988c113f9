/**
 * The simulator's Amazon ECR (lib/local/simulator/ecr.ts) through the SDK's ECR client, routed to it
 * by the client factory: repositories, PutImage with ECR's digest and re-tag semantics, DescribeImages,
 * BatchGetImage, basic scan findings, the "ECR Image Action" / "ECR Image Scan" events and autoPush.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRServiceException,
  ImageAlreadyExistsException,
  ImageDigestDoesNotMatchException,
  ImageNotFoundException,
  ImageTagAlreadyExistsException,
  InvalidParameterException,
  PutImageCommand,
  RepositoryAlreadyExistsException,
  RepositoryNotFoundException,
  ScanNotFoundException,
} from '@aws-sdk/client-ecr';
import { ecrClient } from '../../lib/aws/clients';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';
import type { EcrEvent } from '../../lib/local/simulator';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
let h: ConnectedSimulator;

/** A Docker image manifest v2 with one layer, distinct per `seed`. */
function manifest(seed: string, layerSize = 2000): string {
  const hex = (s: string) => createHash('sha256').update(s).digest('hex');
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 100, digest: `sha256:${hex(`config ${seed}`)}` },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layerSize, digest: `sha256:${hex(`layer ${seed}`)}` }],
  });
}

const sha256 = (text: string) => `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;

describe('simulator: ECR', () => {
  beforeEach(() => {
    h = connectSimulator();
  });
  afterEach(() => h.close());

  it('handles ecr and names the operations it does not implement', async () => {
    assert.equal(h.sim.handles('ecr'), true);
    assert.deepEqual(h.sim.ecr.supportedOperations(), ['BatchGetImage', 'CreateRepository', 'DescribeImageScanFindings', 'DescribeImages', 'DescribeRepositories', 'PutImage']);
    await assert.rejects(h.sim.send('ecr', 'DeleteRepository', { repositoryName: 'app' }), (err: Error) => {
      assert.ok(err instanceof ECRServiceException);
      assert.equal(err.name, 'UnknownOperationException');
      assert.match(err.message, /ecr:DeleteRepository/);
      return true;
    });
  });

  it('CreateRepository / DescribeRepositories: ARN, URI, registry, MUTABLE by default; duplicates and bad names refused', async () => {
    h.clock.advance(60);
    const created = await ecrClient().send(new CreateRepositoryCommand({ repositoryName: 'team/app' }));
    await ecrClient().send(new CreateRepositoryCommand({ repositoryName: 'locked', imageTagMutability: 'IMMUTABLE' }));

    const repo = created.repository!;
    assert.equal(repo.repositoryName, 'team/app');
    assert.equal(repo.repositoryArn, `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team/app`);
    assert.equal(repo.registryId, ACCOUNT);
    assert.equal(repo.repositoryUri, `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/team/app`);
    assert.equal(repo.imageTagMutability, 'MUTABLE');
    assert.equal(repo.createdAt!.getTime(), h.clock.nowMs());
    const all = await ecrClient().send(new DescribeRepositoriesCommand({}));
    assert.deepEqual(all.repositories!.map((r) => [r.repositoryName, r.imageTagMutability]), [['locked', 'IMMUTABLE'], ['team/app', 'MUTABLE']]);
    const one = await ecrClient().send(new DescribeRepositoriesCommand({ repositoryNames: ['team/app'] }));
    assert.equal(one.repositories![0]!.repositoryUri, repo.repositoryUri);
    const paged = await ecrClient().send(new DescribeRepositoriesCommand({ maxResults: 1 }));
    assert.equal(paged.repositories!.length, 1);
    const rest = await ecrClient().send(new DescribeRepositoriesCommand({ maxResults: 1, nextToken: paged.nextToken }));
    assert.equal(rest.repositories![0]!.repositoryName, 'team/app');
    assert.equal(rest.nextToken, undefined);

    await assert.rejects(ecrClient().send(new CreateRepositoryCommand({ repositoryName: 'team/app' })), RepositoryAlreadyExistsException);
    await assert.rejects(ecrClient().send(new CreateRepositoryCommand({ repositoryName: 'Upper/Case' })), InvalidParameterException);
    await assert.rejects(ecrClient().send(new DescribeRepositoriesCommand({ repositoryNames: ['nope'] })), RepositoryNotFoundException);
  });

  it('PutImage: the digest is sha256 of the manifest bytes; the answer names the image', async () => {
    h.sim.ecr.seedRepository('app');
    const m = manifest('v1');

    const out = await ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: m, imageTag: 'v1' }));

    assert.equal(out.image!.imageId!.imageDigest, sha256(m));
    assert.equal(out.image!.imageId!.imageDigest, `sha256:${createHash('sha256').update(Buffer.from(m, 'utf8')).digest('hex')}`);
    assert.deepEqual(out.image, {
      registryId: ACCOUNT,
      repositoryName: 'app',
      imageId: { imageDigest: sha256(m), imageTag: 'v1' },
      imageManifest: m,
      imageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    });
    // imageDigest given: it must be the one ECR computes.
    const m2 = manifest('v2');
    const withDigest = await ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: m2, imageTag: 'v2', imageDigest: sha256(m2) }));
    assert.equal(withDigest.image!.imageId!.imageDigest, sha256(m2));
    await assert.rejects(
      ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: manifest('v3'), imageTag: 'v3', imageDigest: sha256('other') })),
      ImageDigestDoesNotMatchException,
    );
  });

  it('PutImage: re-tag, same tag again, a moving tag (MUTABLE) and an immutable tag', async () => {
    h.sim.ecr.seedRepository('app');
    await ecrClient().send(new CreateRepositoryCommand({ repositoryName: 'locked', imageTagMutability: 'IMMUTABLE' }));
    const m1 = manifest('one');
    const m2 = manifest('two');
    await ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: m1, imageTag: 'abc123' }));

    h.clock.advance(30);
    const retag = await ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: m1, imageTag: 'latest' }));
    assert.equal(retag.image!.imageId!.imageDigest, sha256(m1));
    assert.deepEqual(h.sim.ecr.tagsOf('app', sha256(m1)), ['abc123', 'latest']);

    await assert.rejects(ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: m1, imageTag: 'latest' })), ImageAlreadyExistsException);

    await ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: m2, imageTag: 'latest' }));
    assert.deepEqual(h.sim.ecr.tagsOf('app', sha256(m1)), ['abc123']);
    assert.deepEqual(h.sim.ecr.tagsOf('app', sha256(m2)), ['latest']);
    // The image a tag left stays, untagged once it has no tag left.
    await ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: m2, imageTag: 'abc123' }));
    const untagged = await ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', filter: { tagStatus: 'UNTAGGED' } }));
    assert.deepEqual(untagged.imageDetails!.map((d) => [d.imageDigest, d.imageTags]), [[sha256(m1), undefined]]);
    const first = h.sim.ecr.imageByDigest('app', sha256(m1));
    assert.equal(first?.pushedAt.getTime(), h.clock.nowMs() - 30_000, 're-tags keep the first push time');

    await ecrClient().send(new PutImageCommand({ repositoryName: 'locked', imageManifest: m1, imageTag: 'v1' }));
    await assert.rejects(ecrClient().send(new PutImageCommand({ repositoryName: 'locked', imageManifest: m2, imageTag: 'v1' })), ImageTagAlreadyExistsException);
    // Another tag for the same manifest is fine in an immutable repository.
    await ecrClient().send(new PutImageCommand({ repositoryName: 'locked', imageManifest: m1, imageTag: 'v1-again' }));
  });

  it('PutImage: validation and a missing repository', async () => {
    h.sim.ecr.seedRepository('app');
    await assert.rejects(ecrClient().send(new PutImageCommand({ repositoryName: 'nope', imageManifest: manifest('x'), imageTag: 'x' })), RepositoryNotFoundException);
    await assert.rejects(ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: 'not json', imageTag: 'x' })), /Invalid JSON syntax/);
    await assert.rejects(ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: '{"schemaVersion":2}', imageTag: 'x' })), InvalidParameterException);
    await assert.rejects(ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: manifest('x'), imageTag: '-bad' })), InvalidParameterException);
    const typed = await ecrClient().send(
      new PutImageCommand({ repositoryName: 'app', imageManifest: '{"schemaVersion":2}', imageTag: 'x', imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json' }),
    );
    assert.equal(typed.image!.imageManifestMediaType, 'application/vnd.oci.image.manifest.v1+json');
  });

  it('DescribeImages: details by tag and by digest, listing with tagStatus and pages; scan summary once scanned', async () => {
    h.clock.advance(120);
    const v1 = h.sim.ecr.pushImage('app', 'v1', { manifest: manifest('v1', 5000) });
    h.sim.ecr.pushImage('app', 'v2', { manifest: manifest('v2') });

    const byTag = await ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', registryId: ACCOUNT, imageIds: [{ imageTag: 'v1' }] }));
    assert.deepEqual(byTag.imageDetails, [
      {
        registryId: ACCOUNT,
        repositoryName: 'app',
        imageDigest: v1.digest,
        imageTags: ['v1'],
        imageSizeInBytes: 5100,
        imagePushedAt: new Date(h.clock.nowMs()),
        imageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        artifactMediaType: 'application/vnd.docker.container.image.v1+json',
      },
    ]);
    const byDigest = await ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', imageIds: [{ imageDigest: v1.digest }, { imageTag: 'v1', imageDigest: v1.digest }] }));
    assert.deepEqual(byDigest.imageDetails!.map((d) => d.imageTags), [['v1']], 'the same image once');

    const all = await ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app' }));
    assert.deepEqual(all.imageDetails!.map((d) => d.imageTags), [['v1'], ['v2']]);
    const page1 = await ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', maxResults: 1, filter: { tagStatus: 'TAGGED' } }));
    const page2 = await ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', maxResults: 1, filter: { tagStatus: 'TAGGED' }, nextToken: page1.nextToken }));
    assert.deepEqual([...page1.imageDetails!, ...page2.imageDetails!].map((d) => d.imageTags![0]), ['v1', 'v2']);
    assert.equal(page2.nextToken, undefined);
    const none = await ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', filter: { tagStatus: 'UNTAGGED' } }));
    assert.deepEqual(none.imageDetails, []);

    h.clock.advance(5);
    h.sim.ecr.setScanFindings('app', 'v1', [
      { name: 'CVE-2024-0001', severity: 'HIGH' },
      { name: 'CVE-2024-0002', severity: 'HIGH' },
      { name: 'CVE-2024-0003', severity: 'LOW' },
    ]);
    const scanned = await ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', imageIds: [{ imageTag: 'v1' }] }));
    assert.deepEqual(scanned.imageDetails![0]!.imageScanStatus, { status: 'COMPLETE', description: 'The scan was completed successfully.' });
    assert.deepEqual(scanned.imageDetails![0]!.imageScanFindingsSummary?.findingSeverityCounts, { HIGH: 2, LOW: 1 });
    assert.equal(scanned.imageDetails![0]!.imageScanFindingsSummary?.imageScanCompletedAt?.getTime(), h.clock.nowMs());
  });

  it('DescribeImages: RepositoryNotFoundException, ImageNotFoundException for an id that does not exist, bad parameters', async () => {
    const v1 = h.sim.ecr.pushImage('app', 'v1');
    await assert.rejects(ecrClient().send(new DescribeImagesCommand({ repositoryName: 'nope' })), RepositoryNotFoundException);
    await assert.rejects(ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', registryId: '210987654321' })), RepositoryNotFoundException);
    await assert.rejects(ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', imageIds: [{ imageTag: 'v2' }] })), (err: Error) => {
      assert.ok(err instanceof ImageNotFoundException);
      assert.match(err.message, /imageTag:'v2'/);
      return true;
    });
    await assert.rejects(ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', imageIds: [{ imageTag: 'v1' }, { imageTag: 'v2' }] })), ImageNotFoundException);
    await assert.rejects(ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', imageIds: [{ imageDigest: sha256('nothing') }] })), ImageNotFoundException);
    await assert.rejects(ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', imageIds: [{ imageTag: 'v1', imageDigest: sha256('nothing') }] })), ImageNotFoundException);
    await assert.rejects(ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', imageIds: [{ imageDigest: v1.digest }], maxResults: 5 })), InvalidParameterException);
    await assert.rejects(ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', maxResults: 0 })), InvalidParameterException);
    await assert.rejects(ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', nextToken: 'forged' })), InvalidParameterException);
  });

  it('BatchGetImage: manifests, and the failures ImageNotFound, ImageTagDoesNotMatchDigest, MissingDigestAndTag, InvalidImageDigest', async () => {
    const v1 = h.sim.ecr.pushImage('app', 'v1', { manifest: manifest('v1') });
    const v2 = h.sim.ecr.pushImage('app', 'v2', { manifest: manifest('v2') });

    const out = await ecrClient().send(
      new BatchGetImageCommand({
        repositoryName: 'app',
        imageIds: [{ imageTag: 'v1' }, { imageDigest: v2.digest }, { imageTag: 'v3' }, { imageTag: 'v1', imageDigest: v2.digest }, {}, { imageDigest: 'sha256:short' }],
      }),
    );

    assert.deepEqual(out.images, [
      { registryId: ACCOUNT, repositoryName: 'app', imageId: { imageDigest: v1.digest, imageTag: 'v1' }, imageManifest: v1.manifest, imageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json' },
      { registryId: ACCOUNT, repositoryName: 'app', imageId: { imageDigest: v2.digest }, imageManifest: v2.manifest, imageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json' },
    ]);
    assert.deepEqual(
      out.failures!.map((f) => [f.imageId, f.failureCode]),
      [
        [{ imageTag: 'v3' }, 'ImageNotFound'],
        [{ imageTag: 'v1', imageDigest: v2.digest }, 'ImageTagDoesNotMatchDigest'],
        [{}, 'MissingDigestAndTag'],
        [{ imageDigest: 'sha256:short' }, 'InvalidImageDigest'],
      ],
    );
    assert.equal(out.failures![0]!.failureReason, 'Requested image not found');
    await assert.rejects(ecrClient().send(new BatchGetImageCommand({ repositoryName: 'nope', imageIds: [{ imageTag: 'v1' }] })), RepositoryNotFoundException);
    await assert.rejects(ecrClient().send(new BatchGetImageCommand({ repositoryName: 'app', imageIds: [] })), InvalidParameterException);
  });

  it('DescribeImageScanFindings: findings and counts; ScanNotFoundException before a scan; ImageNotFoundException', async () => {
    const plain = h.sim.ecr.pushImage('app', 'plain');
    h.clock.advance(10);
    const vulnerable = h.sim.ecr.pushImage('app', 'vulnerable', {
      manifest: manifest('vulnerable'),
      findings: [
        { name: 'CVE-2024-3094', severity: 'CRITICAL', uri: 'https://nvd.nist.gov/vuln/detail/CVE-2024-3094', description: 'xz backdoor' },
        { name: 'CVE-2023-4863', severity: 'HIGH' },
        { name: 'CVE-2023-0001', severity: 'INFORMATIONAL' },
      ],
    });

    const out = await ecrClient().send(new DescribeImageScanFindingsCommand({ repositoryName: 'app', imageId: { imageTag: 'vulnerable' } }));
    assert.equal(out.registryId, ACCOUNT);
    assert.equal(out.repositoryName, 'app');
    assert.deepEqual(out.imageId, { imageDigest: vulnerable.digest, imageTag: 'vulnerable' });
    assert.deepEqual(out.imageScanStatus, { status: 'COMPLETE', description: 'The scan was completed successfully.' });
    assert.deepEqual(out.imageScanFindings!.findingSeverityCounts, { CRITICAL: 1, HIGH: 1, INFORMATIONAL: 1 });
    assert.equal(out.imageScanFindings!.imageScanCompletedAt!.getTime(), h.clock.nowMs());
    assert.deepEqual(out.imageScanFindings!.findings, [
      { name: 'CVE-2024-3094', severity: 'CRITICAL', uri: 'https://nvd.nist.gov/vuln/detail/CVE-2024-3094', description: 'xz backdoor' },
      { name: 'CVE-2023-4863', severity: 'HIGH' },
      { name: 'CVE-2023-0001', severity: 'INFORMATIONAL' },
    ]);
    const page = await ecrClient().send(new DescribeImageScanFindingsCommand({ repositoryName: 'app', imageId: { imageDigest: vulnerable.digest }, maxResults: 2 }));
    assert.equal(page.imageScanFindings!.findings!.length, 2);
    assert.deepEqual(page.imageScanFindings!.findingSeverityCounts, { CRITICAL: 1, HIGH: 1, INFORMATIONAL: 1 }, 'counts cover every page');
    const next = await ecrClient().send(
      new DescribeImageScanFindingsCommand({ repositoryName: 'app', imageId: { imageDigest: vulnerable.digest }, maxResults: 2, nextToken: page.nextToken }),
    );
    assert.deepEqual(next.imageScanFindings!.findings!.map((f) => f.name), ['CVE-2023-0001']);

    await assert.rejects(ecrClient().send(new DescribeImageScanFindingsCommand({ repositoryName: 'app', imageId: { imageDigest: plain.digest } })), ScanNotFoundException);
    await assert.rejects(ecrClient().send(new DescribeImageScanFindingsCommand({ repositoryName: 'app', imageId: { imageTag: 'nope' } })), ImageNotFoundException);
    await assert.rejects(ecrClient().send(new DescribeImageScanFindingsCommand({ repositoryName: 'nope', imageId: { imageTag: 'plain' } })), RepositoryNotFoundException);
    // An empty scan is a scan: no findings, no counts.
    h.sim.ecr.setScanFindings('app', plain.digest, []);
    const clean = await ecrClient().send(new DescribeImageScanFindingsCommand({ repositoryName: 'app', imageId: { imageTag: 'plain' } }));
    assert.deepEqual(clean.imageScanFindings!.findings, []);
    assert.deepEqual(clean.imageScanFindings!.findingSeverityCounts, {});
  });

  it('onImageAction: every push, PutImage and pushImage, re-tags included, as the "ECR Image Action" event', async () => {
    const events: EcrEvent[] = [];
    const off = h.sim.ecr.onImageAction((e) => void events.push(e));
    h.clock.advance(3.5);
    const pushed = h.sim.ecr.pushImage('app', 'abc123');
    await ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: pushed.manifest, imageTag: 'prod' }));
    await assert.rejects(ecrClient().send(new PutImageCommand({ repositoryName: 'app', imageManifest: pushed.manifest, imageTag: 'prod' })), ImageAlreadyExistsException);
    off();
    h.sim.ecr.pushImage('app', 'after-unsubscribe');

    assert.equal(events.length, 2, 'one event per successful push, none for a refused one or after unsubscribing');
    const time = new Date(h.clock.nowMs()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    assert.match(events[0]!.id, /^[0-9a-f-]{36}$/);
    assert.notEqual(events[0]!.id, events[1]!.id);
    assert.deepEqual(
      events.map(({ id: _id, ...e }) => e),
      ['abc123', 'prod'].map((tag) => ({
        version: '0',
        'detail-type': 'ECR Image Action',
        source: 'aws.ecr',
        account: ACCOUNT,
        time,
        region: REGION,
        resources: [],
        detail: { result: 'SUCCESS', 'repository-name': 'app', 'image-digest': pushed.digest, 'action-type': 'PUSH', 'image-tag': tag },
      })),
    );
    assert.equal(pushed.digest, sha256(pushed.manifest));
  });

  it('onScanComplete: the "ECR Image Scan" event for setScanFindings and pushImage with findings', () => {
    const events: EcrEvent[] = [];
    h.sim.ecr.onScanComplete((e) => void events.push(e));
    const image = h.sim.ecr.pushImage('app', 'v1', { findings: [{ name: 'CVE-2024-1', severity: 'MEDIUM' }] });
    h.sim.ecr.pushImage('app', 'v1-copy', { manifest: image.manifest });
    h.sim.ecr.setScanFindings('app', 'v1-copy', [
      { name: 'CVE-2024-1', severity: 'MEDIUM' },
      { name: 'CVE-2024-2', severity: 'CRITICAL' },
    ]);

    assert.equal(events.length, 2);
    const { id: _id, ...first } = events[0]!;
    assert.deepEqual(first, {
      version: '0',
      'detail-type': 'ECR Image Scan',
      source: 'aws.ecr',
      account: ACCOUNT,
      time: new Date(h.clock.nowMs()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: REGION,
      resources: [`arn:aws:ecr:${REGION}:${ACCOUNT}:repository/app`],
      detail: { 'scan-status': 'COMPLETE', 'repository-name': 'app', 'finding-severity-counts': { MEDIUM: 1 }, 'image-digest': image.digest, 'image-tags': ['v1'] },
    });
    assert.deepEqual(events[1]!.detail['finding-severity-counts'], { CRITICAL: 1, MEDIUM: 1 });
    assert.deepEqual(events[1]!.detail['image-tags'], ['v1', 'v1-copy']);
    assert.throws(() => h.sim.ecr.setScanFindings('app', 'missing', []), ImageNotFoundException);
  });

  it('pushImage: a deterministic default manifest; imageByDigest / tagsOf read the registry', () => {
    const a = h.sim.ecr.pushImage('hello', 'v1');
    const other = connectSimulator();
    try {
      assert.deepEqual(other.sim.ecr.pushImage('hello', 'v1'), a, 'same repository and tag, same manifest and digest');
    } finally {
      other.close();
      h = connectSimulator();
    }
    const b = h.sim.ecr.pushImage('hello', 'v1');
    const c = h.sim.ecr.pushImage('hello', 'v2');
    assert.notEqual(b.digest, c.digest);
    assert.equal(JSON.parse(b.manifest).mediaType, 'application/vnd.docker.distribution.manifest.v2+json');

    const info = h.sim.ecr.imageByDigest('hello', b.digest);
    assert.deepEqual(info, { repositoryName: 'hello', digest: b.digest, manifest: b.manifest, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', tags: ['v1'], pushedAt: new Date(h.clock.nowMs()) });
    assert.equal(h.sim.ecr.imageByDigest('hello', sha256('none')), undefined);
    assert.equal(h.sim.ecr.imageByDigest('nope', b.digest), undefined);
    assert.deepEqual(h.sim.ecr.tagsOf('nope', b.digest), []);
    assert.throws(() => h.sim.ecr.pushImage('hello', 'v1'), ImageAlreadyExistsException);
  });

  it('autoPush (test convenience): an unknown tag answers as pushed before, silently; off by default', async () => {
    await assert.rejects(ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', imageIds: [{ imageTag: 'v1' }] })), RepositoryNotFoundException);
    const events: EcrEvent[] = [];
    h.sim.ecr.onImageAction((e) => void events.push(e));
    h.sim.ecr.autoPush = true;

    const described = await ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', imageIds: [{ imageTag: 'v1' }] }));
    const got = await ecrClient().send(new BatchGetImageCommand({ repositoryName: 'other', imageIds: [{ imageTag: 'v9' }] }));

    assert.deepEqual(described.imageDetails![0]!.imageTags, ['v1']);
    assert.equal(described.imageDetails![0]!.imageDigest, sha256(h.sim.ecr.imageByDigest('app', described.imageDetails![0]!.imageDigest!)!.manifest));
    assert.equal(got.images![0]!.imageId!.imageTag, 'v9');
    assert.deepEqual(got.failures, []);
    assert.deepEqual(events, [], 'no push event');
    assert.equal((await ecrClient().send(new DescribeRepositoriesCommand({ repositoryNames: ['app', 'other'] }))).repositories!.length, 2);
    // The same image pushImage would have pushed: a later push of that tag is ImageAlreadyExists.
    assert.throws(() => h.sim.ecr.pushImage('app', 'v1'), ImageAlreadyExistsException);
    // Digests are never invented.
    await assert.rejects(ecrClient().send(new DescribeImagesCommand({ repositoryName: 'app', imageIds: [{ imageDigest: sha256('none') }] })), ImageNotFoundException);
  });
});
