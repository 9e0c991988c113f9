/**
 * image-events: invoked by an EventBridge rule on Amazon ECR's "ECR Image Action" events (a successful
 * PUSH to one of the configured repositories; pattern `imageEventPattern` in lib/domain/image-events.ts).
 *
 * For every environment whose `imageRepository` is the pushed repository, when the deployment holding
 * its lock waits for exactly this image (`pendingKind: image`, `pendingImage` = `<repositoryUri>:<tag>`),
 * it ends that wait with SendTaskSuccess `{ found: true, checked: true, reference, digest, tag }` —
 * `reference` pins the release by digest (`<repositoryUri>@sha256:…`). The decision is
 * `decideImagePush` (lib/domain), a pure function of the lock and the event.
 *
 * Idempotent: a redelivered or duplicate event finds the wait already over (SendTaskSuccess answers
 * TaskTimedOut / InvalidToken, taken as `wait-already-over`) or no image wait any more, and changes
 * nothing. An event that is not a successful push (DELETE, FAILURE, no tag) changes nothing.
 *
 * It also ends scan waits (`pendingKind: scan`) on ECR's "ECR Image Scan" and Inspector's "Inspector2
 * Scan" events for the waiting digest, with the scan gate's decision (lib/aws/ecr.ts `scanGate`:
 * DescribeImageScanFindings against the environment's `scan.maxSeverity`).
 *
 * Returns `{ repository, tag, digest, environments: [{ service, environment, action, deploymentId?, detail }] }`,
 * `action` one of `ended-wait` | `wait-already-over` | `nothing`.
 * Throws: `Cutover.InvalidInput` for an event that is not an ECR image action (names the field);
 * `Cutover.Transient` on throttling (EventBridge retries the invocation).
 * Env: `CUTOVER_CONFIG` / `CUTOVER_CONFIG_FILE`, `TABLE_NAME`.
 */
import { Ledger } from '../../lib/aws/ledger';
import { succeedTask } from '../../lib/aws/task-tokens';
import { configFromEnv } from '../../lib/config/load';
import { InvalidInputError } from '../../lib/domain/errors';
import { decideImagePush, environmentsUsingRepository, ImageActionEventSchema, repositoryNameOf, ScanEventSchema, waitsForScan } from '../../lib/domain/image-events';
import { scanGate } from '../../lib/aws/ecr';
import { logger } from '../../lib/observability';

export interface ImageEventAction {
  service: string;
  environment: string;
  action: 'ended-wait' | 'wait-already-over' | 'nothing';
  deploymentId?: string;
  detail: string;
}

export interface ImageEventResult {
  repository: string;
  tag?: string;
  digest?: string;
  environments: ImageEventAction[];
}

/** The ledger named by `TABLE_NAME`. @throws Error when it is not set */
function ledgerFromEnv(): Ledger {
  const tableName = process.env.TABLE_NAME;
  if (!tableName) throw new Error('TABLE_NAME is not set: the image-events function needs the DynamoDB table name.');
  return new Ledger(tableName);
}

export const handler = async (event: unknown): Promise<ImageEventResult> => {
  const type = (event as { 'detail-type'?: unknown } | null)?.['detail-type'];
  if (type === 'ECR Image Scan' || type === 'Inspector2 Scan') return scanCompleted(event);
  const parsed = ImageActionEventSchema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidInputError(`image-events: not an ECR image action event: ${issue.path.join('.') || '(event)'}: ${issue.message}`);
  }
  const { detail, account } = parsed.data;
  const repository = detail['repository-name'];
  const tag = detail['image-tag'];
  const digest = detail['image-digest'];
  if (detail['action-type'] !== 'PUSH' || detail.result !== 'SUCCESS' || !tag || !digest) {
    return { repository, environments: [] };
  }
  const ledger = ledgerFromEnv();
  const environments: ImageEventAction[] = [];
  for (const { service, environment } of environmentsUsingRepository(configFromEnv(), repository, account)) {
    const lock = await ledger.getLock(service, environment);
    const decision = decideImagePush({ lock, repositoryName: repository, tag, digest });
    if (decision.kind === 'nothing') {
      environments.push({ service, environment, action: 'nothing', ...(lock ? { deploymentId: lock.deploymentId } : {}), detail: decision.why });
      continue;
    }
    const answer = await succeedTask(decision.taskToken, { found: true, checked: true, reference: decision.reference, digest: decision.digest, tag: decision.tag });
    environments.push({
      service,
      environment,
      deploymentId: decision.deploymentId,
      action: answer === 'closed' ? 'wait-already-over' : 'ended-wait',
      detail: answer === 'closed' ? 'the image wait was already over (a redelivered event, or the wait ended another way)' : `the image is there: ${decision.reference}`,
    });
  }
  logger.info('image pushed', { repository, tag, digest, environments: environments.map((e) => `${e.service}/${e.environment}: ${e.action}`) });
  return { repository, tag, digest, environments };
};

/** A scan completed: end the scan wait of the deployments that wait for that digest's scan. */
async function scanCompleted(event: unknown): Promise<ImageEventResult> {
  const parsed = ScanEventSchema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidInputError(`image-events: not a scan-complete event: ${issue.path.join('.') || '(event)'}: ${issue.message}`);
  }
  const repository = repositoryNameOf(parsed.data.detail['repository-name']);
  const digest = parsed.data.detail['image-digest'];
  const ledger = ledgerFromEnv();
  const config = configFromEnv();
  const environments: ImageEventAction[] = [];
  for (const { service, environment } of environmentsUsingRepository(config, repository, parsed.data.account)) {
    const lock = await ledger.getLock(service, environment);
    const scan = config.services[service]!.environments[environment]!.scan;
    if (!scan || !waitsForScan(lock, repository, digest)) {
      environments.push({ service, environment, action: 'nothing', ...(lock ? { deploymentId: lock.deploymentId } : {}), detail: 'no deployment waits for the scan of this image here' });
      continue;
    }
    const decision = await scanGate({ image: lock!.pendingImage!, scan });
    if (decision.status === 'pending') {
      environments.push({ service, environment, deploymentId: lock!.deploymentId, action: 'nothing', detail: decision.message });
      continue;
    }
    const answer = await succeedTask(lock!.pendingTaskToken!, decision);
    environments.push({
      service,
      environment,
      deploymentId: lock!.deploymentId,
      action: answer === 'closed' ? 'wait-already-over' : 'ended-wait',
      detail: answer === 'closed' ? 'the scan wait was already over' : `scan ${decision.status}: ${decision.message}`,
    });
  }
  logger.info('image scanned', { repository, digest, environments: environments.map((e) => `${e.service}/${e.environment}: ${e.action}`) });
  return { repository, digest, environments };
}
