/**
 * Images in Amazon ECR: what a release's image reference names, the EventBridge pattern of the
 * "ECR Image Action" events that end a deployment's wait for its image, and the parts of those events
 * the `image-events` function reads. Pure: no SDK, no clock.
 *
 * References: Amazon ECR User Guide, "Amazon ECR events and EventBridge" (event shape: `detail`
 * `action-type` PUSH | DELETE, `result` SUCCESS | FAILURE, `repository-name`, `image-digest`,
 * `image-tag`); registry URI `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>`.
 */
import * as z from 'zod/mini';
import type { Config } from '../config/schema';
import type { LockItem } from './ledger-items';

/** An image reference in an Amazon ECR private registry. */
export interface EcrImageRef {
  /** The account id of the registry (`registryId` in ECR's API). */
  readonly registryId: string;
  readonly region: string;
  /** Repository name, e.g. `hello-world` or `team/hello-world`. */
  readonly repositoryName: string;
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<repository>` (no tag, no digest). */
  readonly repositoryUri: string;
  /** The tag, when the reference has one. */
  readonly tag?: string;
  /** The digest (`sha256:<64 hex>`), when the reference is pinned. */
  readonly digest?: string;
}

const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;
const REPOSITORY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Parse an image reference (`<registry>/<repository>[:tag][@sha256:…]`) when it names an ECR private
 * registry.
 * @returns the parts, or `undefined` for any other registry (Docker Hub, ghcr.io, a local name) or a
 *   malformed reference — the image gate then cannot check the image and lets ECS pull it
 */
export function parseEcrImage(reference: string): EcrImageRef | undefined {
  const slash = reference.indexOf('/');
  if (slash < 0) return undefined;
  const host = reference.slice(0, slash);
  const m = ECR_HOST.exec(host);
  if (!m) return undefined;
  let rest = reference.slice(slash + 1);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  if (!REPOSITORY.test(rest)) return undefined;
  return { registryId: m[1]!, region: m[2]!, repositoryName: rest, repositoryUri: `${host}/${rest}`, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/**
 * The reference that pins a release to one image: `<repositoryUri>@<digest>` (a re-tag cannot change
 * what runs).
 */
export function pinnedReference(ref: Pick<EcrImageRef, 'repositoryUri'>, digest: string): string {
  return `${ref.repositoryUri}@${digest}`;
}

/** Repository names (ECR) of every configured environment's `imageRepository`, sorted, without duplicates. */
export function watchedRepositories(config: Config): string[] {
  const names = new Set<string>();
  for (const service of Object.values(config.services)) {
    for (const env of Object.values(service.environments)) {
      const ref = parseEcrImage(`${env.imageRepository}:latest`);
      if (ref) names.add(ref.repositoryName);
    }
  }
  return [...names].sort();
}

/**
 * The (service, environment) pairs whose `imageRepository` is the ECR repository `repositoryName`
 * (in account `registryId` when given).
 */
export function environmentsUsingRepository(config: Config, repositoryName: string, registryId?: string): Array<{ service: string; environment: string }> {
  const out: Array<{ service: string; environment: string }> = [];
  for (const [service, s] of Object.entries(config.services)) {
    for (const [environment, env] of Object.entries(s.environments)) {
      const ref = parseEcrImage(`${env.imageRepository}:latest`);
      if (ref && ref.repositoryName === repositoryName && (registryId === undefined || ref.registryId === registryId)) out.push({ service, environment });
    }
  }
  return out;
}

/** EventBridge pattern of the image pushes that can end a deployment's image wait. */
export interface ImageEventPattern {
  readonly source: ['aws.ecr'];
  readonly 'detail-type': ['ECR Image Action'];
  readonly detail: { readonly 'action-type': ['PUSH']; readonly result: ['SUCCESS']; readonly 'repository-name': string[] };
}

/**
 * The rule's pattern: successful pushes to the repositories of the configured services.
 * @returns undefined when no service's imageRepository is an ECR repository (then no rule is needed)
 */
export function imageEventPattern(config: Config): ImageEventPattern | undefined {
  const repositories = watchedRepositories(config);
  if (repositories.length === 0) return undefined;
  return { source: ['aws.ecr'], 'detail-type': ['ECR Image Action'], detail: { 'action-type': ['PUSH'], result: ['SUCCESS'], 'repository-name': repositories } };
}

/** Repository names (ECR) of the environments that have a scan gate, sorted, without duplicates. */
export function scannedRepositories(config: Config): string[] {
  const names = new Set<string>();
  for (const service of Object.values(config.services)) {
    for (const env of Object.values(service.environments)) {
      const ref = env.scan ? parseEcrImage(`${env.imageRepository}:latest`) : undefined;
      if (ref) names.add(ref.repositoryName);
    }
  }
  return [...names].sort();
}

/**
 * The patterns of the scan results that end a scan wait: ECR basic scanning's "ECR Image Scan"
 * (COMPLETE, the gated repositories) and Amazon Inspector's "Inspector2 Scan" (INITIAL_SCAN_COMPLETE;
 * its `repository-name` is an ARN, so the function filters by repository). Empty when no environment
 * has a scan gate.
 */
export function scanEventPatterns(config: Config): Array<Record<string, unknown>> {
  const repositories = scannedRepositories(config);
  if (repositories.length === 0) return [];
  return [
    { source: ['aws.ecr'], 'detail-type': ['ECR Image Scan'], detail: { 'scan-status': ['COMPLETE'], 'repository-name': repositories } },
    { source: ['aws.inspector2'], 'detail-type': ['Inspector2 Scan'], detail: { 'scan-status': ['INITIAL_SCAN_COMPLETE'] } },
  ];
}

/** The parts of a scan-complete event ("ECR Image Scan" or "Inspector2 Scan") the `image-events` function uses. */
export const ScanEventSchema = z.object({
  id: z.string().check(z.minLength(1)),
  source: z.enum(['aws.ecr', 'aws.inspector2']),
  'detail-type': z.enum(['ECR Image Scan', 'Inspector2 Scan']),
  account: z.optional(z.string()),
  detail: z.object({
    'scan-status': z.string(),
    /** A name (ECR) or a repository ARN (Inspector). */
    'repository-name': z.string().check(z.minLength(1)),
    'image-digest': z.string().check(z.minLength(1)),
  }),
});
export type ScanEvent = z.infer<typeof ScanEventSchema>;

/** `arn:aws:ecr:<region>:<account>:repository/<name>` or `<name>` → `<name>`. */
export function repositoryNameOf(nameOrArn: string): string {
  const m = /^arn:[^:]+:ecr:[^:]*:\d*:repository\/(.+)$/.exec(nameOrArn);
  return m ? m[1]! : nameOrArn;
}

/**
 * Whether a lock waits for the scan of `digest` in `repositoryName` (`pendingKind: scan`, `pendingImage`
 * the pinned image).
 */
export function waitsForScan(lock: Pick<LockItem, 'pendingKind' | 'pendingTaskToken' | 'pendingImage'> | undefined, repositoryName: string, digest: string): boolean {
  if (!lock || lock.pendingKind !== 'scan' || !lock.pendingTaskToken || !lock.pendingImage) return false;
  const ref = parseEcrImage(lock.pendingImage);
  return ref?.repositoryName === repositoryName && ref.digest === digest;
}

/** The parts of an "ECR Image Action" event the `image-events` function uses. */
export const ImageActionEventSchema = z.object({
  id: z.string().check(z.minLength(1)),
  source: z.literal('aws.ecr', { error: 'source: not an ECR event (expected "aws.ecr")' }),
  'detail-type': z.literal('ECR Image Action', { error: 'detail-type: expected "ECR Image Action"' }),
  account: z.optional(z.string()),
  region: z.optional(z.string()),
  time: z.optional(z.string()),
  detail: z.object({
    'action-type': z.string(),
    result: z.string(),
    'repository-name': z.string().check(z.minLength(1)),
    'image-digest': z.optional(z.string()),
    'image-tag': z.optional(z.string()),
  }),
});
export type ImageActionEvent = z.infer<typeof ImageActionEventSchema>;

/** What a successful push means for one environment's lock. */
export type ImagePushDecision =
  /** The lock's holder waits for exactly this image: end its wait with the pinned reference. */
  | { readonly kind: 'end-wait'; readonly taskToken: string; readonly deploymentId: string; readonly reference: string; readonly digest: string; readonly tag: string }
  /** Nothing waits for this image here (no lock, another wait, another tag). */
  | { readonly kind: 'nothing'; readonly why: string };

/**
 * Decide what a push of `repositoryName:tag` (digest `digest`) does for an environment whose lock is
 * `lock`: end the holder's image wait when it waits for that repository and tag. Pure.
 */
export function decideImagePush(input: { lock: Pick<LockItem, 'deploymentId' | 'pendingKind' | 'pendingTaskToken' | 'pendingImage'> | undefined; repositoryName: string; tag: string; digest: string }): ImagePushDecision {
  const { lock } = input;
  if (!lock) return { kind: 'nothing', why: 'no deployment is running' };
  if (lock.pendingKind !== 'image' || !lock.pendingTaskToken || !lock.pendingImage) return { kind: 'nothing', why: `deployment ${lock.deploymentId} is not waiting for an image` };
  const wanted = parseEcrImage(lock.pendingImage);
  if (!wanted || wanted.repositoryName !== input.repositoryName || wanted.tag !== input.tag) {
    return { kind: 'nothing', why: `deployment ${lock.deploymentId} waits for ${lock.pendingImage}, not ${input.repositoryName}:${input.tag}` };
  }
  return { kind: 'end-wait', taskToken: lock.pendingTaskToken, deploymentId: lock.deploymentId, reference: pinnedReference(wanted, input.digest), digest: input.digest, tag: input.tag };
}
