/**
 * Simulated Amazon ECR (private registry): repositories, images (a manifest and its tags), image
 * pushes with the "ECR Image Action" EventBridge event, and basic scan findings with the "ECR Image
 * Scan" event. Follows the ECR API reference (DescribeImages, BatchGetImage, PutImage,
 * DescribeImageScanFindings, CreateRepository, DescribeRepositories) and the ECR User Guide's
 * "Amazon ECR events and EventBridge" for the events' shapes.
 *
 * - An image's digest is `sha256:` + the SHA-256 of its manifest's bytes, as ECR computes it.
 * - PutImage of a manifest under a new tag re-tags it (same digest); the same tag and manifest again is
 *   `ImageAlreadyExistsException`; a tag moves to a new manifest in a MUTABLE repository
 *   (`ImageTagAlreadyExistsException` in an IMMUTABLE one).
 * - DescribeImages of an id that does not exist is `ImageNotFoundException`; of a repository that does
 *   not exist `RepositoryNotFoundException`.
 * - Scenario hooks: `pushImage`, `setScanFindings`, `onImageAction`, `onScanComplete`, `tagsOf`,
 *   `autoPush` (state-machine tests that are not about the image wait).
 */
import { createHash, randomUUID } from 'node:crypto';
import type {
  BatchGetImageRequest,
  BatchGetImageResponse,
  CreateRepositoryRequest,
  CreateRepositoryResponse,
  DescribeImageScanFindingsRequest,
  DescribeImageScanFindingsResponse,
  DescribeImagesRequest,
  DescribeImagesResponse,
  DescribeRepositoriesRequest,
  DescribeRepositoriesResponse,
  ImageIdentifier,
  PutImageRequest,
  PutImageResponse,
  Repository,
} from '@aws-sdk/client-ecr';
import { SimulatedService } from './service';
import type { SimContext } from './util';

/** Severities of ECR basic scanning findings. */
export type EcrSeverity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'INFORMATIONAL' | 'UNDEFINED';

/** One vulnerability finding of a scan. */
export interface EcrFinding {
  /** The CVE id, e.g. `CVE-2024-3094`. */
  readonly name: string;
  readonly severity: EcrSeverity;
  readonly uri?: string;
  readonly description?: string;
}

/** An EventBridge event as ECR emits it. */
export interface EcrEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'ECR Image Action' | 'ECR Image Scan';
  readonly source: 'aws.ecr';
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: Record<string, unknown>;
}

interface SimImage {
  digest: string;
  manifest: string;
  mediaType: string;
  pushedAtMs: number;
  scan?: { findings: EcrFinding[]; completedAtMs: number };
}

interface SimRepository {
  name: string;
  createdAtMs: number;
  mutability: 'MUTABLE' | 'IMMUTABLE';
  /** digest → image */
  images: Map<string, SimImage>;
  /** tag → digest */
  tags: Map<string, string>;
}

const REPOSITORY_NAME = /^(?=.{2,256}$)((?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}$/;
const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const SEVERITIES: EcrSeverity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'];

/** `sha256:<hex>` of a manifest's bytes: the image digest ECR computes. */
export function ecrDigest(manifest: string): string {
  return `sha256:${createHash('sha256').update(manifest, 'utf8').digest('hex')}`;
}

export class EcrSimulator extends SimulatedService {
  private readonly repositories = new Map<string, SimRepository>();
  private readonly imageListeners = new Set<(event: EcrEvent) => void>();
  private readonly scanListeners = new Set<(event: EcrEvent) => void>();
  /**
   * Test convenience (the lazily computed twin of state-machine tests that are not about the image
   * wait): DescribeImages / BatchGetImage of a tag that does not exist answer as if it had been pushed
   * before (repository and image are created silently, no event). Off in the living twin.
   */
  autoPush = false;

  protected readonly operations = {
    CreateRepository: (i: CreateRepositoryRequest) => this.createRepository(i),
    DescribeRepositories: (i: DescribeRepositoriesRequest) => this.describeRepositories(i),
    DescribeImages: (i: DescribeImagesRequest) => this.describeImages(i),
    BatchGetImage: (i: BatchGetImageRequest) => this.batchGetImage(i),
    PutImage: (i: PutImageRequest) => this.putImage(i),
    DescribeImageScanFindings: (i: DescribeImageScanFindingsRequest) => this.describeImageScanFindings(i),
  };

  constructor(ctx: SimContext) {
    super('ecr', ctx);
  }

  // ───────────────────────────── scenario hooks ─────────────────────────────

  /** Create `name` if missing. */
  seedRepository(name: string): void {
    if (!this.repositories.has(name)) this.createRepository({ repositoryName: name });
  }

  /**
   * Push an image as `docker push` would: creates the repository when missing, stores the manifest
   * under `tag` (a re-tag when the manifest exists), emits "ECR Image Action" (PUSH, SUCCESS) and,
   * with `findings`, a completed scan ("ECR Image Scan").
   * @param opts.manifest the image manifest @default a Docker v2 manifest derived from repository and tag
   * @returns the image's digest and manifest
   * @throws ImageAlreadyExistsException when the tag already points at this manifest
   */
  pushImage(repositoryName: string, tag: string, opts: { manifest?: string; findings?: EcrFinding[] } = {}): { digest: string; manifest: string } {
    this.seedRepository(repositoryName);
    const manifest = opts.manifest ?? defaultManifest(repositoryName, tag);
    const out = this.putImage({ repositoryName, imageTag: tag, imageManifest: manifest });
    const digest = out.image!.imageId!.imageDigest!;
    if (opts.findings) this.setScanFindings(repositoryName, digest, opts.findings);
    return { digest, manifest };
  }

  /** Give the image (by digest or tag) a completed basic scan with `findings`; emits "ECR Image Scan". */
  setScanFindings(repositoryName: string, digestOrTag: string, findings: EcrFinding[]): void {
    const repo = this.repository(repositoryName);
    const image = this.find(repo, digestOrTag.startsWith('sha256:') ? { imageDigest: digestOrTag } : { imageTag: digestOrTag });
    if (!image) this.errors.fail('ImageNotFoundException', `The image with imageId ${digestOrTag} does not exist within the repository with name '${repositoryName}' in the registry with id '${this.ctx.accountId}'`);
    image.scan = { findings: findings.map((f) => ({ ...f })), completedAtMs: this.nowMs() };
    const counts = severityCounts(image.scan.findings);
    this.emit(this.scanListeners, 'ECR Image Scan', [this.repositoryArn(repositoryName)], {
      'scan-status': 'COMPLETE',
      'repository-name': repositoryName,
      'finding-severity-counts': counts,
      'image-digest': image.digest,
      'image-tags': this.tagsOf(repositoryName, image.digest),
    });
  }

  /** Listen to "ECR Image Action" events (every successful push or re-tag). @returns unsubscribe */
  onImageAction(listener: (event: EcrEvent) => void): () => void {
    this.imageListeners.add(listener);
    return () => void this.imageListeners.delete(listener);
  }

  /** Listen to "ECR Image Scan" events. @returns unsubscribe */
  onScanComplete(listener: (event: EcrEvent) => void): () => void {
    this.scanListeners.add(listener);
    return () => void this.scanListeners.delete(listener);
  }

  /** Tags that point at `digest` in `repositoryName`, sorted (empty when none). */
  tagsOf(repositoryName: string, digest: string): string[] {
    const repo = this.repositories.get(repositoryName);
    if (!repo) return [];
    return [...repo.tags].filter(([, d]) => d === digest).map(([t]) => t).sort();
  }

  // ───────────────────────────── operations ─────────────────────────────

  /** CreateRepository: a valid, new name (RepositoryAlreadyExistsException); MUTABLE unless said otherwise. */
  createRepository(input: CreateRepositoryRequest): CreateRepositoryResponse {
    this.errors.require(input, 'repositoryName');
    const name = input.repositoryName!;
    if (!REPOSITORY_NAME.test(name)) this.errors.invalid(`Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''`);
    if (this.repositories.has(name)) {
      this.errors.fail('RepositoryAlreadyExistsException', `The repository with name '${name}' already exists in the registry with id '${this.ctx.accountId}'`);
    }
    const mutability = input.imageTagMutability === 'IMMUTABLE' ? 'IMMUTABLE' : 'MUTABLE';
    this.repositories.set(name, { name, createdAtMs: this.nowMs(), mutability, images: new Map(), tags: new Map() });
    return { repository: this.describeRepository(this.repositories.get(name)!) };
  }

  describeRepositories(input: DescribeRepositoriesRequest): DescribeRepositoriesResponse {
    const names = input.repositoryNames ?? [...this.repositories.keys()].sort();
    return { repositories: names.map((n) => this.describeRepository(this.repository(n))) };
  }

  /**
   * DescribeImages: the images of `repositoryName` (all, or `imageIds` by tag and/or digest;
   * `filter.tagStatus` TAGGED / UNTAGGED / ANY). An id that matches nothing: ImageNotFoundException.
   */
  describeImages(input: DescribeImagesRequest): DescribeImagesResponse {
    this.errors.require(input, 'repositoryName');
    this.checkRegistry(input.registryId);
    this.autoCreate(input.repositoryName!, input.imageIds);
    const repo = this.repository(input.repositoryName!);
    let images: SimImage[];
    if (input.imageIds && input.imageIds.length > 0) {
      images = [];
      for (const id of input.imageIds) {
        const image = this.find(repo, id);
        if (!image) {
          this.errors.fail('ImageNotFoundException', `The image with imageId {imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'} does not exist within the repository with name '${repo.name}' in the registry with id '${this.ctx.accountId}'`);
        }
        if (!images.includes(image)) images.push(image);
      }
    } else {
      const status = input.filter?.tagStatus ?? 'ANY';
      images = [...repo.images.values()].filter((i) => {
        const tagged = this.tagsOf(repo.name, i.digest).length > 0;
        return status === 'ANY' || (status === 'TAGGED') === tagged;
      });
    }
    this.errors.integerInRange('maxResults', input.maxResults, 1, 1000);
    const start = input.nextToken ? Number(input.nextToken) : 0;
    const size = input.maxResults ?? 100;
    const page = images.slice(start, start + size);
    return {
      imageDetails: page.map((i) => ({
        registryId: this.ctx.accountId,
        repositoryName: repo.name,
        imageDigest: i.digest,
        ...(this.tagsOf(repo.name, i.digest).length ? { imageTags: this.tagsOf(repo.name, i.digest) } : {}),
        imageSizeInBytes: Buffer.byteLength(i.manifest, 'utf8') * 1000,
        imagePushedAt: new Date(i.pushedAtMs),
        imageManifestMediaType: i.mediaType,
        ...(i.scan
          ? {
              imageScanStatus: { status: 'COMPLETE', description: 'The scan was completed successfully.' },
              imageScanFindingsSummary: { imageScanCompletedAt: new Date(i.scan.completedAtMs), findingSeverityCounts: severityCounts(i.scan.findings) },
            }
          : {}),
      })),
      ...(start + size < images.length ? { nextToken: String(start + size) } : {}),
    };
  }

  /** BatchGetImage: each id's manifest, or a failure (ImageNotFound, ImageTagDoesNotMatchDigest). */
  batchGetImage(input: BatchGetImageRequest): BatchGetImageResponse {
    this.errors.require(input, 'repositoryName', 'imageIds');
    this.checkRegistry(input.registryId);
    this.autoCreate(input.repositoryName!, input.imageIds);
    const repo = this.repository(input.repositoryName!);
    const images: NonNullable<BatchGetImageResponse['images']> = [];
    const failures: NonNullable<BatchGetImageResponse['failures']> = [];
    for (const id of input.imageIds!) {
      if (id.imageTag && id.imageDigest && repo.tags.get(id.imageTag) !== undefined && repo.tags.get(id.imageTag) !== id.imageDigest) {
        failures.push({ imageId: id, failureCode: 'ImageTagDoesNotMatchDigest', failureReason: 'Requested image tag does not match the requested image digest' });
        continue;
      }
      const image = this.find(repo, id);
      if (!image) {
        failures.push({ imageId: id, failureCode: id.imageTag ? 'ImageNotFound' : 'ImageNotFound', failureReason: 'Requested image not found' });
        continue;
      }
      images.push({ registryId: this.ctx.accountId, repositoryName: repo.name, imageId: { imageDigest: image.digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) }, imageManifest: image.manifest, imageManifestMediaType: image.mediaType });
    }
    return { images, failures };
  }

  /**
   * PutImage: stores `imageManifest` (digest = its SHA-256; `imageDigest`, when given, must match) under
   * `imageTag`. Emits "ECR Image Action" PUSH / SUCCESS.
   */
  putImage(input: PutImageRequest): PutImageResponse {
    this.errors.require(input, 'repositoryName', 'imageManifest');
    this.checkRegistry(input.registryId);
    const repo = this.repository(input.repositoryName!);
    const tag = input.imageTag;
    if (tag !== undefined && !TAG.test(tag)) this.errors.invalid(`Invalid parameter at 'imageTag' failed to satisfy constraint: 'must satisfy regular expression '[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}''`);
    const manifest = input.imageManifest!;
    const digest = ecrDigest(manifest);
    if (input.imageDigest && input.imageDigest !== digest) {
      this.errors.fail('ImageDigestDoesNotMatchException', `The provided image digest '${input.imageDigest}' does not match the calculated image digest '${digest}'`);
    }
    const existingDigest = tag !== undefined ? repo.tags.get(tag) : undefined;
    if (existingDigest === digest || (tag === undefined && repo.images.has(digest))) {
      this.errors.fail('ImageAlreadyExistsException', `Image with digest '${digest}'${tag !== undefined ? ` and tag '${tag}'` : ''} already exists in the repository with name '${repo.name}' in registry with id '${this.ctx.accountId}'`);
    }
    if (existingDigest !== undefined && repo.mutability === 'IMMUTABLE') {
      this.errors.fail('ImageTagAlreadyExistsException', `The image tag '${tag}' already exists in the '${repo.name}' repository and cannot be overwritten because the repository is immutable.`);
    }
    let image = repo.images.get(digest);
    if (!image) {
      image = { digest, manifest, mediaType: input.imageManifestMediaType ?? mediaTypeOf(manifest), pushedAtMs: this.nowMs() };
      repo.images.set(digest, image);
    }
    if (tag !== undefined) repo.tags.set(tag, digest);
    this.emit(this.imageListeners, 'ECR Image Action', [], {
      result: 'SUCCESS',
      'repository-name': repo.name,
      'image-digest': digest,
      'action-type': 'PUSH',
      ...(tag !== undefined ? { 'image-tag': tag } : {}),
    });
    return { image: { registryId: this.ctx.accountId, repositoryName: repo.name, imageId: { imageDigest: digest, ...(tag !== undefined ? { imageTag: tag } : {}) }, imageManifest: manifest, imageManifestMediaType: image.mediaType } };
  }

  /** DescribeImageScanFindings (basic scanning): ScanNotFoundException when the image was not scanned. */
  describeImageScanFindings(input: DescribeImageScanFindingsRequest): DescribeImageScanFindingsResponse {
    this.errors.require(input, 'repositoryName', 'imageId');
    this.checkRegistry(input.registryId);
    const repo = this.repository(input.repositoryName!);
    const image = this.find(repo, input.imageId!);
    if (!image) {
      this.errors.fail('ImageNotFoundException', `The image with imageId {imageDigest:'${input.imageId!.imageDigest ?? 'null'}', imageTag:'${input.imageId!.imageTag ?? 'null'}'} does not exist within the repository with name '${repo.name}' in the registry with id '${this.ctx.accountId}'`);
    }
    if (!image.scan) {
      this.errors.fail('ScanNotFoundException', `Image scan does not exist for the image with '{imageDigest:'${image.digest}', imageTag:'${input.imageId!.imageTag ?? 'null'}'}' in the repository with name '${repo.name}' in the registry with id '${this.ctx.accountId}'`);
    }
    return {
      registryId: this.ctx.accountId,
      repositoryName: repo.name,
      imageId: { imageDigest: image.digest, ...(input.imageId!.imageTag ? { imageTag: input.imageId!.imageTag } : {}) },
      imageScanStatus: { status: 'COMPLETE', description: 'The scan was completed successfully.' },
      imageScanFindings: {
        imageScanCompletedAt: new Date(image.scan.completedAtMs),
        vulnerabilitySourceUpdatedAt: new Date(image.scan.completedAtMs),
        findingSeverityCounts: severityCounts(image.scan.findings),
        findings: image.scan.findings.map((f) => ({ name: f.name, severity: f.severity, ...(f.uri ? { uri: f.uri } : {}), ...(f.description ? { description: f.description } : {}) })),
      },
    };
  }

  // ───────────────────────────── internals ─────────────────────────────

  private repository(name: string): SimRepository {
    const repo = this.repositories.get(name);
    if (!repo) this.errors.fail('RepositoryNotFoundException', `The repository with name '${name}' does not exist in the registry with id '${this.ctx.accountId}'`);
    return repo;
  }

  private find(repo: SimRepository, id: ImageIdentifier): SimImage | undefined {
    const digest = id.imageDigest ?? (id.imageTag !== undefined ? repo.tags.get(id.imageTag) : undefined);
    if (!digest) return undefined;
    if (id.imageTag !== undefined && id.imageDigest && repo.tags.get(id.imageTag) !== id.imageDigest) return undefined;
    return repo.images.get(digest);
  }

  private checkRegistry(registryId: string | undefined): void {
    if (registryId !== undefined && registryId !== this.ctx.accountId) {
      this.errors.fail('RepositoryNotFoundException', `The registry with id '${registryId}' is not this account's (${this.ctx.accountId}): the twin has one registry`);
    }
  }

  /** With `autoPush`: the tags asked for exist (pushed silently with a derived manifest). */
  private autoCreate(repositoryName: string, ids: ImageIdentifier[] | undefined): void {
    if (!this.autoPush) return;
    if (!this.repositories.has(repositoryName)) this.createRepository({ repositoryName });
    const repo = this.repositories.get(repositoryName)!;
    for (const id of ids ?? []) {
      if (id.imageTag === undefined || repo.tags.has(id.imageTag)) continue;
      const manifest = defaultManifest(repositoryName, id.imageTag);
      const digest = ecrDigest(manifest);
      if (!repo.images.has(digest)) repo.images.set(digest, { digest, manifest, mediaType: MANIFEST_V2, pushedAtMs: this.nowMs() });
      repo.tags.set(id.imageTag, digest);
    }
  }

  private describeRepository(repo: SimRepository): Repository {
    return {
      repositoryArn: this.repositoryArn(repo.name),
      registryId: this.ctx.accountId,
      repositoryName: repo.name,
      repositoryUri: `${this.ctx.accountId}.dkr.ecr.${this.ctx.region}.amazonaws.com/${repo.name}`,
      createdAt: new Date(repo.createdAtMs),
      imageTagMutability: repo.mutability,
      imageScanningConfiguration: { scanOnPush: false },
      encryptionConfiguration: { encryptionType: 'AES256' },
    };
  }

  private repositoryArn(name: string): string {
    return this.arn('ecr', `repository/${name}`);
  }

  private emit(listeners: Set<(event: EcrEvent) => void>, detailType: EcrEvent['detail-type'], resources: string[], detail: Record<string, unknown>): void {
    const event: EcrEvent = { version: '0', id: randomUUID(), 'detail-type': detailType, source: 'aws.ecr', account: this.ctx.accountId, time: new Date(this.nowMs()).toISOString(), region: this.ctx.region, resources, detail };
    for (const listener of [...listeners]) listener(structuredClone(event));
  }
}

/** A Docker image manifest v2 derived from repository and tag (the default of `pushImage`). */
function defaultManifest(repositoryName: string, tag: string): string {
  const config = createHash('sha256').update(`${repositoryName}:${tag}`).digest('hex');
  return JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_V2, config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1024, digest: `sha256:${config}` }, layers: [] });
}

function mediaTypeOf(manifest: string): string {
  try {
    const t = (JSON.parse(manifest) as { mediaType?: unknown }).mediaType;
    return typeof t === 'string' ? t : MANIFEST_V2;
  } catch {
    return MANIFEST_V2;
  }
}

/** Findings per severity, only the severities present (as ECR's findingSeverityCounts). */
function severityCounts(findings: readonly EcrFinding[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of SEVERITIES) {
    const n = findings.filter((f) => f.severity === s).length;
    if (n > 0) counts[s] = n;
  }
  return counts;
}
