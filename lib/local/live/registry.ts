/**
 * The twin's container registry: the stand-in for Amazon ECR. An image reference (`repo:tag`) maps
 * to what a container of it runs on this machine (a command, a working directory and ENV), see
 * {@link LocalImage}. A task whose image was never pushed fails to start with ECS's
 * `CannotPullContainerError`, as it would on AWS.
 */
import type { ImageRegistry, LocalImage } from './types';

/** `<registry>/<repository>:<tag>` with a tag (digests are not supported by the twin). */
const IMAGE_REF = /^[a-z0-9][a-z0-9._/-]*(?::\d+)?[a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export class LocalRegistry implements ImageRegistry {
  private readonly images = new Map<string, LocalImage>();

  /** @param initial images available from the start (e.g. the twin account file's `images`) */
  constructor(initial: Record<string, LocalImage> = {}) {
    for (const [ref, image] of Object.entries(initial)) this.push(ref, image);
  }

  /**
   * Push (or overwrite) an image, as `docker push` to ECR would after a CI build.
   * @param ref image reference with a tag, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world:3f2a1c9`
   * @throws Error naming the reference when it has no tag or invalid characters, or the image has no command
   */
  push(ref: string, image: LocalImage): void {
    if (!IMAGE_REF.test(ref)) {
      throw new Error(`Image reference "${ref}" is not valid: use <repository>:<tag> (lower-case repository, a tag of letters, digits, "_", "." or "-").`);
    }
    if (image.command.length === 0) throw new Error(`Image ${ref} needs a command (argv with at least one element).`);
    this.images.set(ref, { command: [...image.command], cwd: image.cwd, environment: { ...image.environment } });
  }

  /** @returns the image, or undefined when `ref` was never pushed */
  resolve(ref: string): LocalImage | undefined {
    return this.images.get(ref);
  }

  /** References of every pushed image, sorted. */
  list(): string[] {
    return [...this.images.keys()].sort();
  }
}
