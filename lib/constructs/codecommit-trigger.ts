/**
 * Starts `deploy` executions on pushes to the configured CodeCommit branches: an EventBridge rule on
 * "CodeCommit Repository State Change" whose pattern is `codeCommitEventPattern` (lib/domain/event-rules.ts,
 * shared with the local twin), with an input transformer producing the CodeCommit deploy input.
 */
import { Aws, Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Config } from '../config/schema';
import { CODECOMMIT_DEPLOY_INPUT_PATHS, codeCommitEventPattern } from '../domain/event-rules';
import { eventTargetDeadLetterQueue } from './dead-letter-queue';
import { LONGEST_ARN_CONTEXT, splitByPatternSize } from './event-patterns';

export interface CodeCommitTriggerProps {
  /** The validated cutover config; at least one service must use a CodeCommit repository. */
  readonly config: Config;
  /** The `deploy` state machine to start. */
  readonly stateMachine: sfn.IStateMachine;
  /**
   * How long undeliverable events stay in the dead-letter queue.
   * @default Duration.days(14)
   */
  readonly deadLetterRetention?: Duration;
}

/** EventBridge rule (default bus) → `deploy` state machine, with a dead-letter queue for failed deliveries. */
export class CodeCommitTrigger extends Construct {
  /** The first rule (the only one unless the patterns had to be split). */
  readonly rule: events.Rule;
  /** Every rule: one per group of services whose pattern fits EventBridge's 2,048-character limit. */
  readonly rules: events.Rule[];
  /** Events EventBridge could not deliver to the state machine. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: CodeCommitTriggerProps) {
    super(scope, id);
    const pattern = codeCommitEventPattern(props.config, { partition: Aws.PARTITION, region: Aws.REGION, account: Aws.ACCOUNT_ID });
    if (!pattern) {
      throw new Error('CodeCommitTriggerProps.config: no service uses a CodeCommit repository; add `"repository": { "codecommit": "<name>" }` to a service, or do not create this construct.');
    }

    this.deadLetterQueue = eventTargetDeadLetterQueue(this, 'DeadLetterQueue', props.deadLetterRetention, 'CodeCommitTriggerProps.deadLetterRetention');

    // One rule per group of services whose pattern fits EventBridge's 2,048 characters.
    const groups = splitByPatternSize(props.config, (c) => codeCommitEventPattern(c, LONGEST_ARN_CONTEXT));
    const field = (path: string) => (path === '$.id' ? events.EventField.eventId : events.EventField.fromPath(path));
    this.rules = groups.map((group, i) => {
      const p = codeCommitEventPattern(group, { partition: Aws.PARTITION, region: Aws.REGION, account: Aws.ACCOUNT_ID })!;
      const rule = new events.Rule(this, i === 0 ? 'Rule' : `Rule${i + 1}`, {
        description: `cutover: deploy on pushes to configured CodeCommit branches${groups.length > 1 ? ` (${i + 1} of ${groups.length})` : ''}`,
        eventPattern: { source: [...p.source], detailType: [...p['detail-type']], resources: [...p.resources], detail: p.detail },
      });
      rule.addTarget(
        new targets.SfnStateMachine(props.stateMachine, {
          input: events.RuleTargetInput.fromObject({
            codecommit: Object.fromEntries(Object.entries(CODECOMMIT_DEPLOY_INPUT_PATHS).map(([k, path]) => [k, field(path)])),
          }),
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        }),
      );
      return rule;
    });
    this.rule = this.rules[0]!;
  }
}
