/**
 * Amazon ECR adapter: is a release's image there yet, and which digest does its tag point at.
 * Follows the ECR API reference, DescribeImages: `imageIds: [{ imageTag }]`, `registryId`; a tag that
 * does not exist is `ImageNotFoundException`, a repository that does not exist
 * `RepositoryNotFoundException`.
 */
import { DescribeImageScanFindingsCommand, DescribeImagesCommand, ImageNotFoundException, RepositoryNotFoundException, ScanNotFoundException } from '@aws-sdk/client-ecr';
import { ecrClient } from './clients';
import { withRetryClassification } from './errors';
import { parseEcrImage, pinnedReference } from '../domain/image-events';
import { decideScan, type ScanDecision, type ScanReport } from '../domain/scan-gate';
import type { DeploymentPlan } from '../domain/plan';

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

/**
 * Read the vulnerability scan of a digest-pinned ECR image (DescribeImageScanFindings, first page of
 * up to 1,000 findings; the counts cover all). Basic scanning findings are named by `name` (the CVE
 * id), enhanced scanning (Amazon Inspector) findings by `packageVulnerabilityDetails.vulnerabilityId`.
 * @param reference `<repositoryUri>@sha256:…` (the plan's pinned image)
 * @returns the report; status `NOT_FOUND` when ECR has no scan of the image (ScanNotFoundException)
 * @throws Error when `reference` is not a digest-pinned ECR reference; TransientAwsError for
 *   throttling / 5xx; other SDK errors (ImageNotFound, AccessDenied …) as they are, naming the call
 */
export async function readScan(reference: string): Promise<ScanReport> {
  const ref = parseEcrImage(reference);
  if (!ref?.digest) throw new Error(`readScan needs a digest-pinned ECR image reference (<repository>@sha256:…), got ${reference}`);
  try {
    const out = await withRetryClassification(
      () => ecrClient().send(new DescribeImageScanFindingsCommand({ registryId: ref.registryId, repositoryName: ref.repositoryName, imageId: { imageDigest: ref.digest }, maxResults: 1000 })),
      `ECR DescribeImageScanFindings ${ref.repositoryName}@${ref.digest}`,
    );
    const f = out.imageScanFindings;
    const findings = [
      ...(f?.findings ?? []).map((x) => ({ id: x.name ?? '(unnamed)', severity: x.severity ?? 'UNDEFINED' })),
      ...(f?.enhancedFindings ?? []).map((x) => ({ id: x.packageVulnerabilityDetails?.vulnerabilityId ?? x.title ?? '(unnamed)', severity: x.severity ?? 'UNDEFINED' })),
    ];
    return {
      status: out.imageScanStatus?.status ?? 'NOT_FOUND',
      ...(out.imageScanStatus?.description ? { description: out.imageScanStatus.description } : {}),
      counts: { ...(f?.findingSeverityCounts ?? {}) },
      findings,
    };
  } catch (err) {
    if (err instanceof ScanNotFoundException) return { status: 'NOT_FOUND', counts: {}, findings: [] };
    throw err;
  }
}

/**
 * The scan gate for a plan: `readScan` of its pinned image, decided against `plan.scan.maxSeverity`.
 * @returns `{ status: 'passed' }` when the plan has no scan gate; `failed` when its image is not a
 *   digest-pinned ECR image (the gate cannot read findings of another registry's image)
 */
export async function scanGate(plan: Pick<DeploymentPlan, 'image' | 'scan'>): Promise<ScanDecision> {
  if (!plan.scan) return { status: 'passed', message: 'no scan gate', counts: {}, top: [] };
  if (!parseEcrImage(plan.image)?.digest) {
    return { status: 'failed', message: `${plan.image} is not an Amazon ECR image pinned by digest, so the scan gate cannot read its findings: deploy an ECR image or remove scan from the environment`, counts: {}, top: [] };
  }
  return decideScan(await readScan(plan.image), plan.scan.maxSeverity, plan.image);
}
