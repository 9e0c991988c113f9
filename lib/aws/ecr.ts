/**
 * Amazon ECR adapter: is a release's image there yet, and which digest does its tag point at.
 * Follows the ECR API reference, DescribeImages: `imageIds: [{ imageTag }]`, `registryId`; a tag that
 * does not exist is `ImageNotFoundException`, a repository that does not exist
 * `RepositoryNotFoundException`.
 */
import { DescribeImagesCommand, ImageNotFoundException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { ecrClient } from './clients';
import { withRetryClassification } from './errors';
import { parseEcrImage, pinnedReference } from '../domain/image-events';

/** The answer of {@link findImage}. */
export type ImageLookup =
  /** The tag exists: `reference` is the release's image pinned by digest (`<repositoryUri>@sha256:…`). */
  | { readonly found: true; readonly reference: string; readonly digest: string; readonly tag?: string; readonly pushedAt?: string; readonly checked: true }
  /** The image cannot be checked (not an ECR reference, or already pinned by digest): ECS pulls `reference` as it is. */
  | { readonly found: true; readonly reference: string; readonly checked: false; readonly why: string }
  /** The tag does not exist (yet): `repositoryMissing` when the repository itself does not exist. */
  | { readonly found: false; readonly reference: string; readonly repositoryName: string; readonly tag: string; readonly repositoryMissing: boolean };

/**
 * Look up a release's image in ECR (DescribeImages by tag).
 * @param reference the plan's image, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world:3f2a1c9`
 * @returns found (with the digest to pin), not found, or not checkable (see {@link ImageLookup})
 * @throws TransientAwsError for throttling / 5xx (Step Functions retries `Cutover.Transient`); other
 *   SDK errors (AccessDenied …) as they are, naming the call
 */
export async function findImage(reference: string): Promise<ImageLookup> {
  const ref = parseEcrImage(reference);
  if (!ref) return { found: true, reference, checked: false, why: 'not an Amazon ECR image reference' };
  if (ref.digest) return { found: true, reference, checked: false, why: 'already pinned by digest' };
  if (!ref.tag) return { found: true, reference, checked: false, why: 'no tag to look up' };
  const tag = ref.tag;
  try {
    const out = await withRetryClassification(
      () => ecrClient().send(new DescribeImagesCommand({ registryId: ref.registryId, repositoryName: ref.repositoryName, imageIds: [{ imageTag: tag }] })),
      `ECR DescribeImages ${ref.repositoryName}:${tag}`,
    );
    const image = out.imageDetails?.find((d) => d.imageDigest);
    if (!image?.imageDigest) return { found: false, reference, repositoryName: ref.repositoryName, tag, repositoryMissing: false };
    return {
      found: true,
      checked: true,
      reference: pinnedReference(ref, image.imageDigest),
      digest: image.imageDigest,
      tag,
      ...(image.imagePushedAt ? { pushedAt: new Date(image.imagePushedAt).toISOString() } : {}),
    };
  } catch (err) {
    if (err instanceof ImageNotFoundException) return { found: false, reference, repositoryName: ref.repositoryName, tag, repositoryMissing: false };
    if (err instanceof RepositoryNotFoundException) return { found: false, reference, repositoryName: ref.repositoryName, tag, repositoryMissing: true };
    throw err;
  }
}
