/**
 * The twin's container registry: the stand-in for what a container of an image runs. An image
 * reference (`repo:tag`, or `repo@sha256:…` once linked to the twin's ECR) maps to what a container of
 * it runs on this machine (a command, a working directory and ENV), see {@link LocalImage}. A task
 * whose image was never pushed fails to start with ECS's `CannotPullContainerError`, as it would on AWS.
 *
 * Linked to the twin's ECR ({@link LocalRegistry.linkEcr}), every image is also an ECR image whose
 * manifest is derived from what it runs (so the same image re-pushed under another tag has the same
 * digest): `push` is a CI's `docker push` (ECR emits its "ECR Image Action" event), an image pushed or
 * re-tagged through ECR's API (`aws ecr put-image`) resolves here, and so does a digest reference.
 */
import { createHash } from 'node:crypto';
import type { ImageRegistry, LocalImage } from './types';
import { parseEcrImage } from '../../domain/image-events';

/** `<registry>/<repository>:<tag>` with a tag. */
const IMAGE_REF = /^[a-z0-9][a-z0-9._/-]*(?::\d+)?[a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** What the registry needs from the twin's ECR (lib/local/simulator/ecr.ts). */
export interface EcrLink {
  /**
   * Push `manifest` under `repositoryName:tag` (creating the repository), as `docker push` would; ECR
   * emits its push event, then (scan on push) a completed scan with `findings`.
   */
  pushImage(repositoryName: string, tag: string, opts: { manifest: string; findings?: Vulnerability[] }): { digest: string };
  /** Tags that point at `digest` in `repositoryName` (empty when none). */
  tagsOf(repositoryName: string, digest: string): string[];
}

/**
 * The manifest the twin's ECR stores for a local image: a Docker image manifest v2 whose config digest
 * is a hash of what the image runs. Deterministic: the same image always has the same digest.
 */
export function manifestOf(image: LocalImage): string {
  const config = createHash('sha256').update(JSON.stringify({ command: image.command, cwd: image.cwd, environment: image.environment ?? {} })).digest('hex');
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1024, digest: `sha256:${config}` },
    layers: [],
  });
}

/** `sha256:<hex>` of a manifest, as ECR computes an image digest. */
export function manifestDigest(manifest: string): string {
  return `sha256:${createHash('sha256').update(manifest, 'utf8').digest('hex')}`;
}

/** A vulnerability finding of an image (as ECR's basic scanning reports it). */
export interface Vulnerability {
  /** CVE id. */
  readonly name: string;
  readonly severity: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'INFORMATIONAL' | 'UNDEFINED';
}

export class LocalRegistry implements ImageRegistry {
  private readonly images = new Map<string, LocalImage>();
  /** Manifest digest → one of the images with it (to resolve tags pushed through ECR's API). */
  private readonly byDigest = new Map<string, LocalImage>();
  private ecr: EcrLink | undefined;

  /** @param initial images available from the start (e.g. the twin account file's `images`) */
  constructor(initial: Record<string, LocalImage> = {}) {
    for (const [ref, image] of Object.entries(initial)) this.push(ref, image);
  }

  /**
   * Link the twin's ECR: every image pushed so far becomes an ECR image (its push events go to
   * whoever listens already — link before subscribing to start without them), and every later
   * {@link push} pushes to ECR too.
   */
  linkEcr(ecr: EcrLink): void {
    this.ecr = ecr;
    for (const [ref, image] of this.images) this.pushToEcr(ref, image, []);
  }

  /**
   * Push (or overwrite) an image, as `docker push` to ECR would after a CI build.
   * @param ref image reference with a tag, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world:3f2a1c9`
   * Linked to ECR, the image is scanned on push: a completed scan with `opts.findings` (none by default).
   * @throws Error naming the reference when it has no tag or invalid characters, or the image has no command
   */
  push(ref: string, image: LocalImage, opts: { findings?: Vulnerability[] } = {}): void {
    if (!IMAGE_REF.test(ref)) {
      throw new Error(`Image reference "${ref}" is not valid: use <repository>:<tag> (lower-case repository, a tag of letters, digits, "_", "." or "-").`);
    }
    if (image.command.length === 0) throw new Error(`Image ${ref} needs a command (argv with at least one element).`);
    const copy: LocalImage = { command: [...image.command], cwd: image.cwd, environment: { ...image.environment } };
    this.images.set(ref, copy);
    this.byDigest.set(manifestDigest(manifestOf(copy)), copy);
    this.pushToEcr(ref, copy, opts.findings ?? []);
  }

  /**
   * What a container of `ref` runs: a pushed `repo:tag`, a `repo@sha256:…` digest of a pushed image,
   * or a tag pushed through the linked ECR's API (a re-tag of a known manifest).
   * @returns the image, or undefined when no such image was pushed
   */
  resolve(ref: string): LocalImage | undefined {
    const direct = this.images.get(ref);
    if (direct) return direct;
    const ecr = parseEcrImage(ref);
    if (!ecr) return undefined;
    if (ecr.digest) return this.byDigest.get(ecr.digest);
    if (!this.ecr || !ecr.tag) return undefined;
    // A tag pushed through ECR's API: which of the known manifests does it point at?
    for (const [digest, image] of this.byDigest) {
      if (this.ecr.tagsOf(ecr.repositoryName, digest).includes(ecr.tag)) return image;
    }
    return undefined;
  }

  /** References of every pushed image, sorted. */
  list(): string[] {
    return [...this.images.keys()].sort();
  }

  private pushToEcr(ref: string, image: LocalImage, findings: Vulnerability[]): void {
    const ecr = parseEcrImage(ref);
    if (!this.ecr || !ecr?.tag) return;
    try {
      this.ecr.pushImage(ecr.repositoryName, ecr.tag, { manifest: manifestOf(image), findings });
    } catch (err) {
      // The same image under the same tag again (a restored twin): ECR has it already.
      if (!(err instanceof Error && err.name === 'ImageAlreadyExistsException')) throw err;
    }
  }
}
