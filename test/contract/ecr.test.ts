/**
 * Contract: Amazon ECR as cutover and the twin use it — the image gate's DescribeImages by tag
 * (lib/aws/ecr.ts findImage), its DescribeImageScanFindings (readScan), and the pushes and re-tags a CI
 * makes with PutImage (`aws ecr put-image`) — on moto and on the twin's simulator
 * (lib/local/simulator/ecr.ts), with the same assertions. Where moto 5.2.1 differs from AWS (ECR API
 * reference), the assertion is skipped on moto only, with the reason:
 *  - moto computes a digest from the manifest's layer digests, AWS (and the twin) from the manifest's
 *    bytes: the tests pass `imageDigest` (which moto takes as given) except where the computation itself
 *    is checked;
 *  - moto answers PutImage into a missing repository or with invalid JSON with an unmodeled 500, an
 *    IMMUTABLE tag overwrite with ImageAlreadyExistsException (AWS: ImageTagAlreadyExistsException),
 *    deletes an image whose only tag moved (AWS keeps it, untagged), and matches BatchGetImage ids by
 *    tag OR digest (no ImageTagDoesNotMatchDigest), naming the image's last tag in `imageId`.
 * The twin has no StartImageScan (cutover never scans; basic scanning runs on push in AWS): a completed
 * scan comes from moto's StartImageScan (its canned CVE-9999-9999 HIGH finding) and from the twin's
 * scenario hook `setScanFindings` with the same finding.
 */
import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  ImageAlreadyExistsException,
  ImageNotFoundException,
  ImageTagAlreadyExistsException,
  InvalidParameterException,
  PutImageCommand,
  RepositoryAlreadyExistsException,
  RepositoryNotFoundException,
  ScanNotFoundException,
  StartImageScanCommand,
} from '@aws-sdk/client-ecr';
import { ecrClient, snsClient } from '../../lib/aws/clients';
import { findImage } from '../../lib/aws/ecr';
import { ACCOUNT, REGION } from './support/backends';
import { contract, rejectsWith, type ContractContext } from './support/suite';

const V2 = 'application/vnd.docker.distribution.manifest.v2+json';

/** A Docker image manifest v2 with one layer, distinct per `seed`. */
function manifest(seed: string): string {
  const hex = (s: string) => createHash('sha256').update(s).digest('hex');
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: V2,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1469, digest: `sha256:${hex(`config ${seed}`)}` },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 3_370_706, digest: `sha256:${hex(`layer ${seed}`)}` }],
  });
}

const sha256 = (text: string) => `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;

/**
 * The ECR client of the backend. The twin: the factory's `ecrClient()` (in-process transport). moto:
 * support/backends.ts does not route `ecr` to moto (its SERVICES list predates ECR), so a client on the
 * endpoint every other factory client uses (read from the SNS client's resolved endpoint) — never AWS.
 */
async function ecrOf(ctx: ContractContext): Promise<ECRClient> {
  if (ctx.kind === 'twin') return ecrClient();
  const endpoint = await snsClient().config.endpoint?.();
  assert.ok(endpoint?.hostname === '127.0.0.1', 'moto backend: the factory clients point at moto on loopback');
  return new ECRClient({
    region: REGION,
    credentials: { accessKeyId: 'contract', secretAccessKey: 'contract' },
    endpoint: `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`,
  });
}

contract('ECR (lib/aws/ecr.ts, CI pushes)', (ctx) => {
  let ecr: ECRClient;
  const repo = 'contract/app';
  const m1 = manifest('v1');
  const m2 = manifest('v2');
  const put = (repositoryName: string, imageManifest: string, imageTag?: string) =>
    ecr.send(new PutImageCommand({ repositoryName, imageManifest, imageDigest: sha256(imageManifest), ...(imageTag ? { imageTag } : {}) }));

  before(async () => {
    ecr = await ecrOf(ctx);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
  });

  it('CreateRepository / DescribeRepositories: ARN, URI, registry, MUTABLE by default', async () => {
    const out = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repo] }));
    const r = out.repositories![0]!;
    assert.equal(r.repositoryName, repo);
    assert.equal(r.repositoryArn, `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${repo}`);
    assert.equal(r.registryId, ACCOUNT);
    assert.equal(r.repositoryUri, `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${repo}`);
    assert.equal(r.imageTagMutability, 'MUTABLE');
    assert.ok(r.createdAt instanceof Date);
    await rejectsWith(ecr.send(new CreateRepositoryCommand({ repositoryName: repo })), 'RepositoryAlreadyExistsException', RepositoryAlreadyExistsException);
    await rejectsWith(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['contract/none'] })), 'RepositoryNotFoundException', RepositoryNotFoundException);
  });

  it('PutImage: the image as pushed; re-tag under a new tag; the same tag and manifest again is ImageAlreadyExistsException', async () => {
    const first = await put(repo, m1, 'v1');
    assert.equal(first.image!.registryId, ACCOUNT);
    assert.equal(first.image!.repositoryName, repo);
    assert.deepEqual(first.image!.imageId, { imageDigest: sha256(m1), imageTag: 'v1' });
    assert.equal(first.image!.imageManifest, m1);
    assert.equal(first.image!.imageManifestMediaType, V2);

    const retag = await put(repo, m1, 'latest');
    assert.deepEqual(retag.image!.imageId, { imageDigest: sha256(m1), imageTag: 'latest' });
    await rejectsWith(put(repo, m1, 'latest'), 'ImageAlreadyExistsException', ImageAlreadyExistsException);
  });

  it('PutImage: without imageDigest, the digest is sha256 of the manifest bytes', ctx.notOnMoto('it hashes the layer digests, not the manifest'), async () => {
    const m = manifest('computed');
    const out = await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: m, imageTag: 'computed' }));
    assert.equal(out.image!.imageId!.imageDigest, sha256(m));
  });

  it('PutImage: a manifest without mediaType needs imageManifestMediaType (InvalidParameterException)', async () => {
    await rejectsWith(
      ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: '{"schemaVersion":2,"layers":[]}', imageTag: 'typeless' })),
      'InvalidParameterException',
      InvalidParameterException,
    );
  });

  it('PutImage: a missing repository is RepositoryNotFoundException', ctx.notOnMoto('it answers an unmodeled 500 ("… is not a repository")'), async () => {
    await rejectsWith(put('contract/none', m1, 'v1'), 'RepositoryNotFoundException', RepositoryNotFoundException);
  });

  it('PutImage: a manifest that is not JSON is InvalidParameterException', ctx.notOnMoto('it answers an unmodeled 500'), async () => {
    await rejectsWith(ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: 'not json', imageTag: 'bad' })), 'InvalidParameterException', InvalidParameterException);
  });

  it('DescribeImages by tag (the image gate): the image with its tags; the adapter pins it by digest', async () => {
    const out = await ecr.send(new DescribeImagesCommand({ repositoryName: repo, registryId: ACCOUNT, imageIds: [{ imageTag: 'v1' }] }));
    assert.equal(out.imageDetails!.length, 1);
    const d = out.imageDetails![0]!;
    assert.equal(d.registryId, ACCOUNT);
    assert.equal(d.repositoryName, repo);
    assert.equal(d.imageDigest, sha256(m1));
    assert.deepEqual([...d.imageTags!].sort(), ['latest', 'v1']);
    assert.ok(d.imagePushedAt instanceof Date);
    assert.equal(d.imageManifestMediaType, V2);
    assert.equal(typeof d.imageSizeInBytes, 'number');
    assert.equal(d.imageScanStatus, undefined, 'not scanned');

    const found = await withEcr(ctx, () => findImage(`${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${repo}:v1`));
    assert.deepEqual(
      { found: found.found, reference: found.reference },
      { found: true, reference: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${repo}@${sha256(m1)}` },
    );
  });

  it('DescribeImages: ImageNotFoundException for a tag that does not exist, RepositoryNotFoundException for a repository', async () => {
    const err = await rejectsWith(
      ecr.send(new DescribeImagesCommand({ repositoryName: repo, imageIds: [{ imageTag: 'never-pushed' }] })),
      'ImageNotFoundException',
      ImageNotFoundException,
    );
    assert.match(err.message, /never-pushed/);
    await rejectsWith(ecr.send(new DescribeImagesCommand({ repositoryName: repo, imageIds: [{ imageDigest: sha256('nothing') }] })), 'ImageNotFoundException', ImageNotFoundException);
    await rejectsWith(ecr.send(new DescribeImagesCommand({ repositoryName: 'contract/none', imageIds: [{ imageTag: 'v1' }] })), 'RepositoryNotFoundException', RepositoryNotFoundException);
    const gate = await withEcr(ctx, () => findImage(`${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/contract/none:v1`));
    assert.deepEqual(gate.found === false && { missing: gate.repositoryMissing }, { missing: true });
  });

  it('BatchGetImage: the manifest of a tag and of a digest; ImageNotFound failures; RepositoryNotFoundException', async () => {
    const out = await ecr.send(new BatchGetImageCommand({ repositoryName: repo, imageIds: [{ imageTag: 'v1' }, { imageTag: 'never-pushed' }] }));
    assert.equal(out.images!.length, 1);
    assert.equal(out.images![0]!.imageManifest, m1);
    assert.equal(out.images![0]!.imageId!.imageDigest, sha256(m1));
    assert.equal(out.images![0]!.repositoryName, repo);
    assert.equal(out.images![0]!.registryId, ACCOUNT);
    assert.deepEqual(out.failures, [{ imageId: { imageTag: 'never-pushed' }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }]);
    const byDigest = await ecr.send(new BatchGetImageCommand({ repositoryName: repo, imageIds: [{ imageDigest: sha256(m1) }] }));
    assert.equal(byDigest.images![0]!.imageManifest, m1);
    await rejectsWith(ecr.send(new BatchGetImageCommand({ repositoryName: 'contract/none', imageIds: [{ imageTag: 'v1' }] })), 'RepositoryNotFoundException', RepositoryNotFoundException);
  });

  it('BatchGetImage: imageId names the tag asked for', ctx.notOnMoto("it names the image's last tag"), async () => {
    const out = await ecr.send(new BatchGetImageCommand({ repositoryName: repo, imageIds: [{ imageTag: 'v1' }] }));
    assert.deepEqual(out.images![0]!.imageId, { imageDigest: sha256(m1), imageTag: 'v1' });
  });

  it('BatchGetImage: a tag with another digest is ImageTagDoesNotMatchDigest', ctx.notOnMoto('it matches tag OR digest'), async () => {
    await put(repo, m2, 'other');
    const out = await ecr.send(new BatchGetImageCommand({ repositoryName: repo, imageIds: [{ imageTag: 'v1', imageDigest: sha256(m2) }] }));
    assert.deepEqual(out.images, []);
    assert.equal(out.failures![0]!.failureCode, 'ImageTagDoesNotMatchDigest');
  });

  it('PutImage: in a MUTABLE repository a tag moves to the new manifest', async () => {
    await put(repo, m2, 'latest');
    const latest = await ecr.send(new DescribeImagesCommand({ repositoryName: repo, imageIds: [{ imageTag: 'latest' }] }));
    assert.equal(latest.imageDetails![0]!.imageDigest, sha256(m2));
    const v1 = await ecr.send(new DescribeImagesCommand({ repositoryName: repo, imageIds: [{ imageDigest: sha256(m1) }] }));
    assert.deepEqual(v1.imageDetails![0]!.imageTags, ['v1']);
  });

  it('PutImage: the image whose last tag moved stays, untagged', ctx.notOnMoto('it deletes that image'), async () => {
    const m3 = manifest('v3');
    await put(repo, m3, 'moving');
    await put(repo, m2, 'moving');
    const out = await ecr.send(new DescribeImagesCommand({ repositoryName: repo, imageIds: [{ imageDigest: sha256(m3) }] }));
    assert.equal(out.imageDetails![0]!.imageTags, undefined);
  });

  it('PutImage: in an IMMUTABLE repository an existing tag is ImageTagAlreadyExistsException', ctx.notOnMoto('it answers ImageAlreadyExistsException'), async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'contract/locked', imageTagMutability: 'IMMUTABLE' }));
    await put('contract/locked', m1, 'v1');
    await rejectsWith(put('contract/locked', m2, 'v1'), 'ImageTagAlreadyExistsException', ImageTagAlreadyExistsException);
  });

  it('DescribeImageScanFindings: ScanNotFoundException before a scan, ImageNotFoundException, RepositoryNotFoundException', async () => {
    await put(repo, manifest('unscanned'), 'unscanned');
    await rejectsWith(ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: repo, imageId: { imageTag: 'unscanned' } })), 'ScanNotFoundException', ScanNotFoundException);
    await rejectsWith(ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: repo, imageId: { imageTag: 'never-pushed' } })), 'ImageNotFoundException', ImageNotFoundException);
    await rejectsWith(ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'contract/none', imageId: { imageTag: 'v1' } })), 'RepositoryNotFoundException', RepositoryNotFoundException);
  });

  it('DescribeImageScanFindings: a completed basic scan (findings, counts, status)', async () => {
    const m = manifest('scanned');
    await put(repo, m, 'scanned');
    const uri = 'https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-9999-9999';
    if (ctx.kind === 'moto') await ecr.send(new StartImageScanCommand({ repositoryName: repo, imageId: { imageTag: 'scanned' } }));
    else ctx.backend.sim!.ecr.setScanFindings(repo, 'scanned', [{ name: 'CVE-9999-9999', severity: 'HIGH', uri }]);

    const out = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: repo, imageId: { imageDigest: sha256(m) } }));
    assert.equal(out.registryId, ACCOUNT);
    assert.equal(out.repositoryName, repo);
    assert.equal(out.imageId!.imageDigest, sha256(m));
    assert.deepEqual(out.imageScanStatus, { status: 'COMPLETE', description: 'The scan was completed successfully.' });
    const f = out.imageScanFindings!;
    assert.ok(f.imageScanCompletedAt instanceof Date);
    assert.deepEqual(f.findingSeverityCounts, { HIGH: 1 });
    assert.deepEqual(
      f.findings!.map((x) => ({ name: x.name, severity: x.severity, uri: x.uri })),
      [{ name: 'CVE-9999-9999', severity: 'HIGH', uri }],
    );
  });
});

/**
 * Run an adapter of lib/aws/ecr.ts against the backend. The twin: as it is (the factory routes ecr).
 * moto: the factory has no ecr endpoint (see {@link ecrOf}), so the adapter's client is swapped for
 * one on moto for the call.
 */
async function withEcr<T>(ctx: ContractContext, run: () => Promise<T>): Promise<T> {
  if (ctx.kind === 'twin') return run();
  const client = ecrClient();
  const moto = await ecrOf(ctx);
  const original = client.send.bind(client);
  (client as { send: unknown }).send = moto.send.bind(moto);
  try {
    return await run();
  } finally {
    (client as { send: unknown }).send = original;
  }
}
