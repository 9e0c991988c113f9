/**
 * Starts `deploy` executions on pushes to the configured CodeCommit branches: an EventBridge rule on
 * "CodeCommit Repository State Change" whose pattern is `codeCommitEventPattern` (lib/domain/event-rules.ts,
 * shared with the local twin), with an input transformer producing the CodeCommit deploy input.
 */
import { Aws, Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Config } from '../config/schema';
import { CODECOMMIT_DEPLOY_INPUT_PATHS, codeCommitEventPattern } from '../domain/event-rules';
import { acknowledge } from './nag';

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
  /** The rule. */
  readonly rule: events.Rule;
  /** Events EventBridge could not deliver to the state machine. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: CodeCommitTriggerProps) {
    super(scope, id);
    const pattern = codeCommitEventPattern(props.config, { partition: Aws.PARTITION, region: Aws.REGION, account: Aws.ACCOUNT_ID });
    if (!pattern) {
      throw new Error('CodeCommitTriggerProps.config: no service uses a CodeCommit repository; add `"repository": { "codecommit": "<name>" }` to a service, or do not create this construct.');
    }
    const retention = props.deadLetterRetention ?? Duration.days(14);
    if (!retention.isUnresolved() && (retention.toSeconds() < 60 || retention.toSeconds() > 1_209_600)) {
      throw new Error(`CodeCommitTriggerProps.deadLetterRetention: ${retention.toHumanString()} is outside SQS limits; use 1 minute to 14 days.`);
    }

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      retentionPeriod: retention,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const dlqReason = 'This queue is itself the dead-letter queue of the EventBridge target; failed deliveries stop here for an operator to inspect.';
    acknowledge(this.deadLetterQueue, 'AwsSolutions-SQS3', dlqReason);
    acknowledge(this.deadLetterQueue, 'Serverless-SQSRedrivePolicy', dlqReason);

    this.rule = new events.Rule(this, 'Rule', {
      description: 'cutover: deploy on pushes to configured CodeCommit branches',
      eventPattern: {
        source: [...pattern.source],
        detailType: [...pattern['detail-type']],
        resources: [...pattern.resources],
        detail: pattern.detail,
      },
    });
    const field = (path: string) => (path === '$.id' ? events.EventField.eventId : events.EventField.fromPath(path));
    this.rule.addTarget(
      new targets.SfnStateMachine(props.stateMachine, {
        input: events.RuleTargetInput.fromObject({
          codecommit: Object.fromEntries(Object.entries(CODECOMMIT_DEPLOY_INPUT_PATHS).map(([k, path]) => [k, field(path)])),
        }),
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 8,
        maxEventAge: Duration.hours(2),
      }),
    );
  }
}
