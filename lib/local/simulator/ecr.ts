/**
 * Simulated Amazon ECR (private registry): repositories, images (a manifest and its tags), image
 * pushes with the "ECR Image Action" EventBridge event, and basic scan findings with the "ECR Image
 * Scan" event. Follows the ECR API reference (CreateRepository, DescribeRepositories, DescribeImages,
 * BatchGetImage, PutImage, DescribeImageScanFindings) and the ECR User Guide's "Amazon ECR events and
 * EventBridge" for the events' shapes. One registry: the simulator's account in its region.
 *
 * - An image's digest is `sha256:` + the SHA-256 of its manifest's bytes, as ECR computes it.
 * - PutImage of a manifest under a new tag re-tags it (same digest); the same tag and manifest again is
 *   `ImageAlreadyExistsException`; a tag moves to a new manifest in a MUTABLE repository (the image it
 *   left stays, untagged if that was its last tag) and is `ImageTagAlreadyExistsException` in an
 *   IMMUTABLE one.
 * - DescribeImages of an id that does not exist is `ImageNotFoundException`; every operation on a
 *   repository that does not exist is `RepositoryNotFoundException`.
 * - Scenario hooks: `seedRepository`, `pushImage`, `setScanFindings`, `onImageAction`,
 *   `onScanComplete`, `imageByDigest`, `tagsOf`, and `autoPush` (a test convenience for state-machine
 *   tests that are not about the image wait).
 *
 * Not simulated: layer uploads (PutImage does not check that the manifest's layers exist), manifest
 * lists, `acceptedMediaTypes`, tag-mutability exclusion filters, enhanced scanning, repository tags
 * and policies, cross-account registries.
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
  ImageDetail,
  ImageFailure,
  ImageIdentifier,
  PutImageRequest,
  PutImageResponse,
  Repository,
} from '@aws-sdk/client-ecr';
import { SimulatedService } from './service';
import { paginate, type SimContext } from './util';

/** Severities of ECR basic scanning findings. */
export type EcrSeverity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'INFORMATIONAL' | 'UNDEFINED';

/** One vulnerability finding of a basic scan. */
export interface EcrFinding {
  /** The CVE id, e.g. `CVE-2024-3094`. */
  readonly name: string;
  readonly severity: EcrSeverity;
  /** Link to the CVE's description, e.g. `https://security-tracker.debian.org/tracker/CVE-2024-3094`. */
  readonly uri?: string;
  readonly description?: string;
}

/**
 * An EventBridge event as ECR emits it ("Amazon ECR events and EventBridge"):
 * - `ECR Image Action`: `resources: []`, `detail: { result: 'SUCCESS', 'repository-name', 'image-digest',
 *   'action-type': 'PUSH', 'image-tag' }` (no `image-tag` for an untagged push);
 * - `ECR Image Scan`: `resources: [<repository ARN>]`, `detail: { 'scan-status': 'COMPLETE',
 *   'repository-name', 'finding-severity-counts' (only the severities found), 'image-digest', 'image-tags' }`.
 * `time` is the simulated time, ISO 8601 to the second (`2019-11-16T01:54:34Z`).
 */
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

/** What {@link EcrSimulator.imageByDigest} tells about an image. */
export interface EcrImageInfo {
  readonly repositoryName: string;
  /** `sha256:<hex>` of {@link manifest}. */
  readonly digest: string;
  readonly manifest: string;
  readonly mediaType: string;
  /** Tags pointing at it, sorted (empty: untagged). */
  readonly tags: string[];
  /** Simulated time of its first push. */
  readonly pushedAt: Date;
  /** Its completed basic scan, if any. */
  readonly scan?: { readonly findings: EcrFinding[]; readonly completedAt: Date };
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
  scanOnPush: boolean;
  /** digest → image, in push order */
  images: Map<string, SimImage>;
  /** tag → digest */
  tags: Map<string, string>;
}

const REPOSITORY_NAME = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}$/;
/** BatchGetImage / BatchDeleteImage's check of a digest (the failure reason names this regex). */
const DIGEST = /^[0-9a-zA-Z_+.-]+:[0-9a-fA-F]{64}$/;
const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const IMAGE_CONFIG = 'application/vnd.docker.container.image.v1+json';
const SEVERITIES: readonly EcrSeverity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'];
const SCAN_COMPLETE = { status: 'COMPLETE' as const, description: 'The scan was completed successfully.' };

/** `sha256:<hex>` of a manifest's UTF-8 bytes: the image digest ECR computes. */
export function ecrDigest(manifest: string): string {
  return `sha256:${createHash('sha256').update(manifest, 'utf8').digest('hex')}`;
}

export class EcrSimulator extends SimulatedService {
  private readonly repositories = new Map<string, SimRepository>();
  private readonly imageListeners = new Set<(event: EcrEvent) => void>();
  private readonly scanListeners = new Set<(event: EcrEvent) => void>();
  /**
   * Test convenience, not AWS behaviour: when true, DescribeImages / BatchGetImage of a tag that does
   * not exist answer as if that image had been pushed before: the repository (when missing) and the
   * image (the {@link pushImage} default manifest for the repository and tag) are created silently,
   * without an "ECR Image Action" event. For the lazily computed twin of state-machine tests that are
   * not about the image wait. Ids by digest only are never invented. @default false (the living twin)
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

  /**
   * Create repository `name` (MUTABLE) if it does not exist; a no-op when it does.
   * @throws InvalidParameterException for a name ECR does not accept
   */
  seedRepository(name: string): void {
    if (!this.repositories.has(name)) this.createRepository({ repositoryName: name });
  }

  /**
   * Push an image as `docker push` would (through {@link putImage}): creates the repository when
   * missing, stores the manifest under `tag` (a re-tag when the manifest exists already), emits "ECR
   * Image Action" (PUSH, SUCCESS) and, with `findings`, a completed scan ("ECR Image Scan", see
   * {@link setScanFindings}).
   * @param opts.manifest the image manifest (JSON with a `mediaType`) @default a Docker image manifest
   *   v2 derived from repository and tag (deterministic: the same repository and tag, the same digest)
   * @param opts.findings basic scan findings to attach once pushed
   * @returns the image's digest (`sha256:` + SHA-256 of the manifest) and manifest
   * @throws ImageAlreadyExistsException when the tag already points at this manifest;
   *   ImageTagAlreadyExistsException when the repository is IMMUTABLE and the tag exists;
   *   InvalidParameterException for an invalid repository name, tag or manifest
   */
  pushImage(repositoryName: string, tag: string, opts: { manifest?: string; findings?: EcrFinding[] } = {}): { digest: string; manifest: string } {
    this.seedRepository(repositoryName);
    const manifest = opts.manifest ?? defaultManifest(repositoryName, tag);
    const out = this.putImage({ repositoryName, imageTag: tag, imageManifest: manifest });
    const digest = out.image!.imageId!.imageDigest!;
    if (opts.findings) this.setScanFindings(repositoryName, digest, opts.findings);
    return { digest, manifest };
  }

  /**
   * Give an image a completed basic scan with `findings` (replacing an earlier scan) at the current
   * simulated time, and emit "ECR Image Scan" (COMPLETE) to {@link onScanComplete} listeners.
   * @param digestOrTag `sha256:…` or a tag of the image
   * @throws RepositoryNotFoundException; ImageNotFoundException when no such image exists
   */
  setScanFindings(repositoryName: string, digestOrTag: string, findings: readonly EcrFinding[]): void {
    const repo = this.repository(repositoryName);
    const id: ImageIdentifier = digestOrTag.startsWith('sha256:') ? { imageDigest: digestOrTag } : { imageTag: digestOrTag };
    const image = this.find(repo, id) ?? this.imageNotFound(repo, id);
    image.scan = { findings: findings.map((f) => ({ ...f })), completedAtMs: this.nowMs() };
    this.emit(this.scanListeners, 'ECR Image Scan', [this.repositoryArn(repo.name)], {
      'scan-status': 'COMPLETE',
      'repository-name': repo.name,
      'finding-severity-counts': severityCounts(image.scan.findings),
      'image-digest': image.digest,
      'image-tags': this.tagsOf(repo.name, image.digest),
    });
  }

  /**
   * Listen to "ECR Image Action" events: one per successful push (PutImage or {@link pushImage}),
   * a re-tag included (same digest, the new tag). Listeners run synchronously, each with its own copy.
   * @returns a function that unsubscribes `listener`
   */
  onImageAction(listener: (event: EcrEvent) => void): () => void {
    this.imageListeners.add(listener);
    return () => void this.imageListeners.delete(listener);
  }

  /**
   * Listen to "ECR Image Scan" events (each {@link setScanFindings}, or {@link pushImage} with findings).
   * @returns a function that unsubscribes `listener`
   */
  onScanComplete(listener: (event: EcrEvent) => void): () => void {
    this.scanListeners.add(listener);
    return () => void this.scanListeners.delete(listener);
  }

  /**
   * An image by digest, as stored (a copy).
   * @returns undefined when the repository or the image does not exist
   */
  imageByDigest(repositoryName: string, digest: string): EcrImageInfo | undefined {
    const image = this.repositories.get(repositoryName)?.images.get(digest);
    if (!image) return undefined;
    return {
      repositoryName,
      digest: image.digest,
      manifest: image.manifest,
      mediaType: image.mediaType,
      tags: this.tagsOf(repositoryName, digest),
      pushedAt: new Date(image.pushedAtMs),
      ...(image.scan ? { scan: { findings: image.scan.findings.map((f) => ({ ...f })), completedAt: new Date(image.scan.completedAtMs) } } : {}),
    };
  }

  /** Tags that point at `digest` in `repositoryName`, sorted (empty when none, or no such repository). */
  tagsOf(repositoryName: string, digest: string): string[] {
    const repo = this.repositories.get(repositoryName);
    if (!repo) return [];
    return [...repo.tags].filter(([, d]) => d === digest).map(([t]) => t).sort();
  }

  // ───────────────────────────── operations ─────────────────────────────

  /**
   * CreateRepository: `repositoryName` required, 2-256 characters of lower-case components separated
   * by `/` (InvalidParameterException), new (RepositoryAlreadyExistsException). `imageTagMutability`
   * MUTABLE (default) or IMMUTABLE (the `_WITH_EXCLUSION` variants are not simulated:
   * InvalidParameterException); `imageScanningConfiguration.scanOnPush` is kept (scans still come only
   * from {@link setScanFindings}).
   * @returns `repository`: ARN `arn:aws:ecr:<region>:<account>:repository/<name>`, registryId, URI
   *   `<account>.dkr.ecr.<region>.amazonaws.com/<name>`, createdAt, imageTagMutability, scanning and
   *   encryption (AES256) configuration
   */
  createRepository(input: CreateRepositoryRequest): CreateRepositoryResponse {
    this.errors.require(input, 'repositoryName');
    this.checkRegistry(input.registryId, input.repositoryName!);
    const name = input.repositoryName!;
    if (!REPOSITORY_NAME.test(name)) {
      this.errors.invalid(
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*' and be 2-256 characters long'",
      );
    }
    if (this.repositories.has(name)) {
      this.errors.fail('RepositoryAlreadyExistsException', `The repository with name '${name}' already exists in the registry with id '${this.ctx.accountId}'`);
    }
    const mutability = input.imageTagMutability ?? 'MUTABLE';
    if (mutability !== 'MUTABLE' && mutability !== 'IMMUTABLE') {
      this.errors.invalid(`Invalid parameter at 'imageTagMutability': the cutover simulator supports MUTABLE and IMMUTABLE, not ${String(mutability)}.`);
    }
    const repo: SimRepository = {
      name,
      createdAtMs: this.nowMs(),
      mutability,
      scanOnPush: input.imageScanningConfiguration?.scanOnPush === true,
      images: new Map(),
      tags: new Map(),
    };
    this.repositories.set(name, repo);
    return { repository: this.describeRepository(repo) };
  }

  /**
   * DescribeRepositories: the named repositories (any missing: RepositoryNotFoundException), or all
   * of them by name, paginated (`maxResults` 1-1000 @default 100, `nextToken`; not together with
   * `repositoryNames`: InvalidParameterException).
   */
  describeRepositories(input: DescribeRepositoriesRequest): DescribeRepositoriesResponse {
    const named = input.repositoryNames !== undefined && input.repositoryNames.length > 0;
    if (named && (input.maxResults !== undefined || input.nextToken !== undefined)) {
      this.errors.invalid('maxResults and nextToken cannot be used together with repositoryNames.');
    }
    const names = named ? input.repositoryNames! : [...this.repositories.keys()].sort();
    for (const n of names) this.checkRegistry(input.registryId, n);
    const repos = names.map((n) => this.repository(n));
    const { page, next } = this.page(repos, input.maxResults, input.nextToken, 100);
    return { repositories: page.map((r) => this.describeRepository(r)), ...(next ? { nextToken: next } : {}) };
  }

  /**
   * DescribeImages: the images of `repositoryName` (RepositoryNotFoundException), all of them or those
   * of `imageIds` (1-100; each by tag and/or digest; one that matches nothing fails the whole call
   * with ImageNotFoundException, one with neither is InvalidParameterException). `filter.tagStatus`
   * TAGGED / UNTAGGED / ANY (@default ANY) applies to the listing; `maxResults` (1-1000 @default 100)
   * and `nextToken` page it and cannot be used with `imageIds` (InvalidParameterException).
   * @returns `imageDetails`: registryId, repositoryName, imageDigest, imageTags (sorted; absent when
   *   untagged), imageSizeInBytes (config + layer sizes of the manifest), imagePushedAt,
   *   imageManifestMediaType, artifactMediaType, and for a scanned image imageScanStatus and
   *   imageScanFindingsSummary
   */
  describeImages(input: DescribeImagesRequest): DescribeImagesResponse {
    this.errors.require(input, 'repositoryName');
    this.checkRegistry(input.registryId, input.repositoryName!);
    const ids = input.imageIds;
    if (ids !== undefined && ids.length > 0) {
      if (ids.length > 100) this.errors.invalid('imageIds must contain 1-100 image identifiers.');
      if (input.maxResults !== undefined || input.nextToken !== undefined) {
        this.errors.invalid('maxResults and nextToken cannot be used together with imageIds.');
      }
    }
    this.autoCreate(input.repositoryName!, ids);
    const repo = this.repository(input.repositoryName!);
    if (ids !== undefined && ids.length > 0) {
      const images: SimImage[] = [];
      for (const id of ids) {
        if (!id.imageTag && !id.imageDigest) this.errors.invalid('Invalid request parameters: both tag and digest cannot be null');
        const image = this.find(repo, id) ?? this.imageNotFound(repo, id);
        if (!images.includes(image)) images.push(image);
      }
      return { imageDetails: images.map((i) => this.imageDetail(repo, i)) };
    }
    const status = input.filter?.tagStatus ?? 'ANY';
    if (!['TAGGED', 'UNTAGGED', 'ANY'].includes(status)) this.errors.invalid(`Invalid parameter at 'filter.tagStatus': must be one of TAGGED, UNTAGGED, ANY.`);
    const listed = [...repo.images.values()].filter((i) => status === 'ANY' || (status === 'TAGGED') === this.tagsOf(repo.name, i.digest).length > 0);
    const { page, next } = this.page(listed, input.maxResults, input.nextToken, 100);
    return { imageDetails: page.map((i) => this.imageDetail(repo, i)), ...(next ? { nextToken: next } : {}) };
  }

  /**
   * BatchGetImage: `repositoryName` (RepositoryNotFoundException) and `imageIds` (1-100) required.
   * Each id gives an image (`imageId` as asked, with the digest filled in; `imageManifest`,
   * `imageManifestMediaType`) or a failure: `MissingDigestAndTag` (neither given),
   * `InvalidImageDigest` (not `<algorithm>:<64 hex>`), `ImageTagDoesNotMatchDigest` (the tag exists
   * but points at another digest), `ImageNotFound`. The same image asked twice is returned once.
   * `acceptedMediaTypes` is not simulated (manifests are returned as pushed).
   */
  batchGetImage(input: BatchGetImageRequest): BatchGetImageResponse {
    this.errors.require(input, 'repositoryName', 'imageIds');
    this.checkRegistry(input.registryId, input.repositoryName!);
    if (input.imageIds!.length > 100) this.errors.invalid('imageIds must contain 1-100 image identifiers.');
    this.autoCreate(input.repositoryName!, input.imageIds);
    const repo = this.repository(input.repositoryName!);
    const images: NonNullable<BatchGetImageResponse['images']> = [];
    const failures: ImageFailure[] = [];
    const seen = new Set<string>();
    for (const id of input.imageIds!) {
      if (!id.imageTag && !id.imageDigest) {
        failures.push({ imageId: {}, failureCode: 'MissingDigestAndTag', failureReason: 'Invalid request parameters: both tag and digest cannot be null' });
        continue;
      }
      if (id.imageDigest && !DIGEST.test(id.imageDigest)) {
        failures.push({
          imageId: { ...id },
          failureCode: 'InvalidImageDigest',
          failureReason: "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
        });
        continue;
      }
      const tagged = id.imageTag ? repo.tags.get(id.imageTag) : undefined;
      if (id.imageTag && id.imageDigest && tagged !== undefined && tagged !== id.imageDigest) {
        failures.push({ imageId: { ...id }, failureCode: 'ImageTagDoesNotMatchDigest', failureReason: 'Requested image tag does not match the requested image digest' });
        continue;
      }
      const image = this.find(repo, id);
      if (!image) {
        failures.push({ imageId: { ...id }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' });
        continue;
      }
      const key = `${image.digest}\n${id.imageTag ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      images.push({
        registryId: this.ctx.accountId,
        repositoryName: repo.name,
        imageId: { imageDigest: image.digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) },
        imageManifest: image.manifest,
        imageManifestMediaType: image.mediaType,
      });
    }
    return { images, failures };
  }

  /**
   * PutImage: stores `imageManifest` (JSON, else InvalidParameterException) in `repositoryName`
   * (RepositoryNotFoundException) under `imageTag` (optional; `[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}`).
   * The digest is `sha256:` + SHA-256 of the manifest's bytes; `imageDigest`, when given, must equal it
   * (ImageDigestDoesNotMatchException). The media type is `imageManifestMediaType`, else the
   * manifest's `mediaType` (neither: InvalidParameterException).
   * - a known manifest under a tag that points elsewhere or nowhere: a re-tag (same digest, first push
   *   time kept);
   * - the tag already on this manifest (or, untagged, a known manifest): ImageAlreadyExistsException;
   * - a tag on another manifest: moves (MUTABLE) or ImageTagAlreadyExistsException (IMMUTABLE).
   * Every success emits "ECR Image Action" (PUSH, SUCCESS) to {@link onImageAction} listeners.
   * @returns `image`: registryId, repositoryName, imageId {imageDigest, imageTag}, imageManifest,
   *   imageManifestMediaType
   */
  putImage(input: PutImageRequest): PutImageResponse {
    this.errors.require(input, 'repositoryName', 'imageManifest');
    this.checkRegistry(input.registryId, input.repositoryName!);
    const repo = this.repository(input.repositoryName!);
    const tag = input.imageTag;
    if (tag !== undefined && !TAG.test(tag)) {
      this.errors.invalid("Invalid parameter at 'imageTag' failed to satisfy constraint: 'must satisfy regular expression '[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,299}''");
    }
    const manifest = input.imageManifest!;
    const manifestType = manifestMediaType(manifest) ?? this.errors.invalid("Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'");
    const mediaType = input.imageManifestMediaType ?? manifestType.mediaType;
    if (mediaType === undefined) this.errors.invalid('image manifest mediatype not provided in manifest or parameter');
    const digest = ecrDigest(manifest);
    if (input.imageDigest !== undefined && input.imageDigest !== digest) {
      this.errors.fail('ImageDigestDoesNotMatchException', `Invalid parameter at 'imageDigest' failed to satisfy constraint: 'The provided image digest '${input.imageDigest}' does not match the calculated image digest '${digest}''`);
    }
    const current = tag !== undefined ? repo.tags.get(tag) : undefined;
    if (current === digest || (tag === undefined && repo.images.has(digest))) {
      this.errors.fail(
        'ImageAlreadyExistsException',
        `Image with digest '${digest}'${tag !== undefined ? ` and tag '${tag}'` : ''} already exists in the repository with name '${repo.name}' in registry with id '${this.ctx.accountId}'`,
      );
    }
    if (current !== undefined && repo.mutability === 'IMMUTABLE') {
      this.errors.fail('ImageTagAlreadyExistsException', `The image tag '${tag}' already exists in the '${repo.name}' repository and cannot be overwritten because the repository is immutable.`);
    }
    let image = repo.images.get(digest);
    if (!image) {
      image = { digest, manifest, mediaType, pushedAtMs: this.nowMs() };
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
    return {
      image: {
        registryId: this.ctx.accountId,
        repositoryName: repo.name,
        imageId: { imageDigest: digest, ...(tag !== undefined ? { imageTag: tag } : {}) },
        imageManifest: manifest,
        imageManifestMediaType: image.mediaType,
      },
    };
  }

  /**
   * DescribeImageScanFindings (basic scanning): `repositoryName` (RepositoryNotFoundException) and
   * `imageId` (by tag and/or digest: ImageNotFoundException) required; an image never scanned:
   * ScanNotFoundException. Findings are paginated (`maxResults` 1-1000 @default 100, `nextToken`);
   * `findingSeverityCounts` counts all of them (only the severities present).
   * @returns registryId, repositoryName, imageId, imageScanStatus {status: COMPLETE, description},
   *   imageScanFindings {imageScanCompletedAt, vulnerabilitySourceUpdatedAt, findingSeverityCounts,
   *   findings [{name, severity, uri, description}]}, nextToken
   */
  describeImageScanFindings(input: DescribeImageScanFindingsRequest): DescribeImageScanFindingsResponse {
    this.errors.require(input, 'repositoryName', 'imageId');
    this.checkRegistry(input.registryId, input.repositoryName!);
    const repo = this.repository(input.repositoryName!);
    const id = input.imageId!;
    if (!id.imageTag && !id.imageDigest) this.errors.invalid('Invalid request parameters: both tag and digest cannot be null');
    const image = this.find(repo, id) ?? this.imageNotFound(repo, id);
    // autoPush (tests not about images): an image nobody scanned counts as scanned clean.
    if (!image.scan && this.autoPush) image.scan = { findings: [], completedAtMs: this.nowMs() };
    if (!image.scan) {
      this.errors.fail(
        'ScanNotFoundException',
        `Image scan does not exist for the image with '{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}' in the repository with name '${repo.name}' in the registry with id '${this.ctx.accountId}'`,
      );
    }
    const { page, next } = this.page(image.scan.findings, input.maxResults, input.nextToken, 100);
    const completedAt = new Date(image.scan.completedAtMs);
    return {
      registryId: this.ctx.accountId,
      repositoryName: repo.name,
      imageId: { imageDigest: image.digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) },
      imageScanStatus: { ...SCAN_COMPLETE },
      imageScanFindings: {
        imageScanCompletedAt: completedAt,
        vulnerabilitySourceUpdatedAt: completedAt,
        findingSeverityCounts: severityCounts(image.scan.findings),
        findings: page.map((f) => ({ name: f.name, severity: f.severity, ...(f.uri ? { uri: f.uri } : {}), ...(f.description ? { description: f.description } : {}) })),
      },
      ...(next ? { nextToken: next } : {}),
    };
  }

  // ───────────────────────────── internals ─────────────────────────────

  private repository(name: string): SimRepository {
    const repo = this.repositories.get(name);
    if (!repo) this.errors.fail('RepositoryNotFoundException', `The repository with name '${name}' does not exist in the registry with id '${this.ctx.accountId}'`);
    return repo;
  }

  /** The image `id` names: by digest, by tag, or both (which must agree). */
  private find(repo: SimRepository, id: ImageIdentifier): SimImage | undefined {
    const byTag = id.imageTag ? repo.tags.get(id.imageTag) : undefined;
    if (id.imageTag && byTag === undefined) return undefined;
    if (id.imageDigest && byTag !== undefined && byTag !== id.imageDigest) return undefined;
    const digest = id.imageDigest ?? byTag;
    return digest === undefined ? undefined : repo.images.get(digest);
  }

  private imageNotFound(repo: SimRepository, id: ImageIdentifier): never {
    return this.errors.fail(
      'ImageNotFoundException',
      `The image with imageId {imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'} does not exist within the repository with name '${repo.name}' in the registry with id '${this.ctx.accountId}'`,
    );
  }

  /** The simulator has one registry, the account's; another registry id names no repository of it. */
  private checkRegistry(registryId: string | undefined, repositoryName: string): void {
    // With autoPush (tests not about images) another account's registry (a cross-account imageRepository) is taken as this one.
    if (registryId !== undefined && registryId !== this.ctx.accountId && !this.autoPush) {
      this.errors.fail('RepositoryNotFoundException', `The repository with name '${repositoryName}' does not exist in the registry with id '${registryId}'`);
    }
  }

  private page<T>(items: readonly T[], maxResults: number | undefined, nextToken: string | undefined, defaultSize: number): { page: T[]; next?: string } {
    return paginate(items, { size: maxResults, token: nextToken, defaultSize, min: 1, max: 1000, sizeField: 'maxResults' }, this.errors, () =>
      this.errors.invalid("Invalid parameter at 'nextToken': the token was not issued by this simulator."),
    );
  }

  /** With {@link autoPush}: the tags asked for exist (pushed silently with the default manifest). */
  private autoCreate(repositoryName: string, ids: ImageIdentifier[] | undefined): void {
    if (!this.autoPush) return;
    if (!this.repositories.has(repositoryName)) this.createRepository({ repositoryName });
    const repo = this.repositories.get(repositoryName)!;
    for (const id of ids ?? []) {
      if (!id.imageTag || !TAG.test(id.imageTag) || repo.tags.has(id.imageTag)) continue;
      const manifest = defaultManifest(repositoryName, id.imageTag);
      const digest = ecrDigest(manifest);
      if (!repo.images.has(digest)) repo.images.set(digest, { digest, manifest, mediaType: MANIFEST_V2, pushedAtMs: this.nowMs(), scan: { findings: [], completedAtMs: this.nowMs() } });
      repo.tags.set(id.imageTag, digest);
    }
  }

  private imageDetail(repo: SimRepository, image: SimImage): ImageDetail {
    const tags = this.tagsOf(repo.name, image.digest);
    const parsed = manifestMediaType(image.manifest);
    return {
      registryId: this.ctx.accountId,
      repositoryName: repo.name,
      imageDigest: image.digest,
      ...(tags.length > 0 ? { imageTags: tags } : {}),
      imageSizeInBytes: imageSize(image.manifest),
      imagePushedAt: new Date(image.pushedAtMs),
      imageManifestMediaType: image.mediaType,
      ...(parsed?.configMediaType ? { artifactMediaType: parsed.configMediaType } : {}),
      ...(image.scan
        ? {
            imageScanStatus: { ...SCAN_COMPLETE },
            imageScanFindingsSummary: {
              imageScanCompletedAt: new Date(image.scan.completedAtMs),
              vulnerabilitySourceUpdatedAt: new Date(image.scan.completedAtMs),
              findingSeverityCounts: severityCounts(image.scan.findings),
            },
          }
        : {}),
    };
  }

  private describeRepository(repo: SimRepository): Repository {
    return {
      repositoryArn: this.repositoryArn(repo.name),
      registryId: this.ctx.accountId,
      repositoryName: repo.name,
      repositoryUri: `${this.ctx.accountId}.dkr.ecr.${this.ctx.region}.amazonaws.com/${repo.name}`,
      createdAt: new Date(repo.createdAtMs),
      imageTagMutability: repo.mutability,
      imageScanningConfiguration: { scanOnPush: repo.scanOnPush },
      encryptionConfiguration: { encryptionType: 'AES256' },
    };
  }

  private repositoryArn(name: string): string {
    return this.arn('ecr', `repository/${name}`);
  }

  private emit(listeners: Set<(event: EcrEvent) => void>, detailType: EcrEvent['detail-type'], resources: string[], detail: Record<string, unknown>): void {
    const event: EcrEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': detailType,
      source: 'aws.ecr',
      account: this.ctx.accountId,
      // EventBridge times are to the second: 2019-11-16T01:54:34Z.
      time: new Date(this.nowMs()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.ctx.region,
      resources,
      detail,
    };
    for (const listener of [...listeners]) listener(structuredClone(event));
  }
}

/** A Docker image manifest v2 derived from repository and tag (the default of `pushImage` and `autoPush`). */
function defaultManifest(repositoryName: string, tag: string): string {
  const config = createHash('sha256').update(`${repositoryName}:${tag}`).digest('hex');
  return JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_V2, config: { mediaType: IMAGE_CONFIG, size: 1024, digest: `sha256:${config}` }, layers: [] });
}

/** The manifest's own `mediaType` and its config's, or undefined when it is not a JSON object. */
function manifestMediaType(manifest: string): { mediaType?: string; configMediaType?: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifest);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const m = parsed as { mediaType?: unknown; config?: { mediaType?: unknown } };
  return {
    ...(typeof m.mediaType === 'string' ? { mediaType: m.mediaType } : {}),
    ...(typeof m.config?.mediaType === 'string' ? { configMediaType: m.config.mediaType } : {}),
  };
}

/** The sizes of the blobs a manifest references (config and layers), in bytes. */
function imageSize(manifest: string): number {
  try {
    const m = JSON.parse(manifest) as { config?: { size?: unknown }; layers?: Array<{ size?: unknown }> };
    const size = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    return size(m.config?.size) + (Array.isArray(m.layers) ? m.layers.reduce((sum, l) => sum + size(l?.size), 0) : 0);
  } catch {
    return 0;
  }
}

/** Findings per severity, only the severities present (as ECR's findingSeverityCounts). */
function severityCounts(findings: readonly EcrFinding[]): Partial<Record<EcrSeverity, number>> {
  const counts: Partial<Record<EcrSeverity, number>> = {};
  for (const s of SEVERITIES) {
    const n = findings.filter((f) => f.severity === s).length;
    if (n > 0) counts[s] = n;
  }
  return counts;
}
