/**
 * Ends a deployment's wait for its container image: an EventBridge rule on Amazon ECR's "ECR Image
 * Action" events (successful PUSH to the configured repositories; `imageEventPattern`,
 * lib/domain/image-events.ts, shared with the local twin) invokes the `image-events` function, which
 * reads the lock of each environment using the pushed repository and answers the waiting deployment's
 * task token (SendTaskSuccess with the digest-pinned reference).
 *
 * ECR sends these events to the default bus of the registry's own account and region: pushes to a
 * repository in another account or region reach this rule only if that bus forwards them here;
 * otherwise a deployment waiting for such an image waits until its timeout (`imageTimeoutSeconds`).
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Config } from '../config/schema';
import { imageEventPattern, parseEcrImage, scanEventPatterns } from '../domain/image-events';
import { CutoverFunction } from './cutover-function';
import { eventTargetDeadLetterQueue } from './dead-letter-queue';
import { splitByPatternSize } from './event-patterns';
import { ecrScanStatements, IMAGE_EVENTS_LEDGER_ACTIONS, ledgerTableStatements, taskTokenStatements } from './permissions';

export interface ImageTriggerProps {
  /** The validated cutover config; at least one environment's `imageRepository` must be an Amazon ECR repository. */
  readonly config: Config;
  /** The table of locks and deployment records (the function reads the locks: GetItem only). */
  readonly table: dynamodb.ITable;
  /**
   * How long the function's log group keeps its logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * How long undeliverable image events stay in the dead-letter queue.
   * @default Duration.days(14)
   */
  readonly deadLetterRetention?: Duration;
  /**
   * How many customer managed policies the function's role may have (IAM quota, 10 by default, up to 20).
   * @default MAX_MANAGED_POLICIES_PER_ROLE (10)
   */
  readonly maxManagedPolicies?: number;
}

/** EventBridge rule (default bus, successful pushes to the configured ECR repositories) → `image-events` function, with a dead-letter queue. */
export class ImageTrigger extends Construct {
  /** Rules on scan results ("ECR Image Scan", "Inspector2 Scan"); empty when no environment has a scan gate. */
  readonly scanRules: events.Rule[];
  /** The first rule (the only one unless the pattern had to be split). */
  readonly rule: events.Rule;
  /** Every rule: one per group of repositories whose pattern fits EventBridge's 2,048-character limit; each repository is in exactly one. */
  readonly rules: events.Rule[];
  /** The `image-events` function. */
  readonly function: CutoverFunction;
  /** Events EventBridge could not deliver to the function. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ImageTriggerProps) {
    super(scope, id);
    if (!imageEventPattern(props.config)) {
      throw new Error(
        'ImageTriggerProps.config: no environment\'s "imageRepository" is an Amazon ECR repository (<account>.dkr.ecr.<region>.amazonaws.com/<name>); ' +
          'use an ECR repository for an environment, or do not create this construct.',
      );
    }

    // One queue for both ways an event can be lost: EventBridge could not invoke the function (the
    // target's dead-letter queue), or the function failed on every asynchronous attempt (its DeadLetterConfig).
    this.deadLetterQueue = eventTargetDeadLetterQueue(this, 'DeadLetterQueue', props.deadLetterRetention, 'ImageTriggerProps.deadLetterRetention');
    this.function = new CutoverFunction(this, 'Function', {
      name: 'image-events',
      config: props.config,
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      asyncDeadLetterQueue: this.deadLetterQueue,
      maxManagedPolicies: props.maxManagedPolicies,
      environment: { TABLE_NAME: props.table.tableName },
    });
    for (const s of ledgerTableStatements(props.table.tableArn, IMAGE_EVENTS_LEDGER_ACTIONS)) this.function.addToRolePolicy(s.statement);
    for (const s of taskTokenStatements(['states:SendTaskSuccess'])) this.function.addToRolePolicy(s.statement, s.wildcardReason);
    for (const s of ecrScanStatements(this, props.config)) this.function.addToRolePolicy(s.statement);

    // One rule per group of services whose pattern fits EventBridge's 2,048 characters. A repository
    // shared by services of two groups is watched by the first rule only: the function handles every
    // environment using the pushed repository, so a second match would only invoke it twice.
    const watched = new Set<string>();
    const patterns = splitByPatternSize(props.config, imageEventPattern).flatMap((group) => {
      const p = imageEventPattern(group)!;
      const repositories = p.detail['repository-name'].filter((name) => !watched.has(name));
      for (const name of repositories) watched.add(name);
      return repositories.length > 0 ? [{ ...p, detail: { ...p.detail, 'repository-name': repositories } }] : [];
    });
    // An event older than the longest image wait can end no wait: any wait that started after the push
    // found the image itself (the ledger's second look).
    const maxEventAge = Duration.seconds(longestImageWaitSeconds(props.config));
    this.rules = patterns.map((p, i) => {
      const rule = new events.Rule(this, i === 0 ? 'Rule' : `Rule${i + 1}`, {
        description: `cutover: an image was pushed to a configured ECR repository (ends the deployment waiting for it)${patterns.length > 1 ? ` (${i + 1} of ${patterns.length})` : ''}`,
        eventPattern: { source: [...p.source], detailType: [...p['detail-type']], detail: p.detail },
      });
      rule.addTarget(
        new targets.LambdaFunction(this.function.lambda, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge,
        }),
      );
      return rule;
    });
    this.rule = this.rules[0]!;

    // The scan gate's results: ECR basic scanning ("ECR Image Scan", the gated repositories) and Amazon
    // Inspector enhanced scanning ("Inspector2 Scan": its repository-name is an ARN, so the function
    // filters). Only when an environment has scan.
    const scanGroups = splitByPatternSize(props.config, (c) => scanEventPatterns(c)[0]);
    const scanPatterns = [...scanGroups.map((group) => scanEventPatterns(group)[0]).filter((p) => p !== undefined), ...scanEventPatterns(props.config).slice(1, 2)];
    this.scanRules = scanPatterns.map((p, i) => {
      const pattern = p as { source: string[]; 'detail-type': string[]; detail: Record<string, unknown> };
      const rule = new events.Rule(this, i === 0 ? 'ScanRule' : `ScanRule${i + 1}`, {
        description: `cutover: an image scan completed (ends the deployment waiting for its scan result) (${pattern['detail-type'][0]})`,
        eventPattern: { source: pattern.source, detailType: pattern['detail-type'], detail: pattern.detail },
      });
      rule.addTarget(new targets.LambdaFunction(this.function.lambda, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 8, maxEventAge }));
      return rule;
    });
  }
}

/**
 * The longest `imageTimeoutSeconds` of the environments whose image is in ECR, within EventBridge's
 * maximum event age (60 s to 24 h).
 */
function longestImageWaitSeconds(config: Config): number {
  const waits = Object.values(config.services)
    .flatMap((s) => Object.values(s.environments))
    .filter((e) => parseEcrImage(`${e.imageRepository}:latest`))
    .map((e) => e.imageTimeoutSeconds);
  return Math.min(86_400, Math.max(60, ...waits));
}
