/**
 * The dead-letter queue of an EventBridge rule target (SQS, SSE-SQS, TLS only), shared by cutover's
 * rules (CodeCommit pushes, alarm events).
 */
import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledge } from './nag';

/**
 * A dead-letter queue for events EventBridge could not deliver to a target.
 * @param retention how long messages stay (SQS: 1 minute to 14 days); @default Duration.days(14)
 * @param propName the prop named in the error, e.g. `CodeCommitTriggerProps.deadLetterRetention`
 * @throws Error naming `propName` when `retention` is outside SQS limits
 */
export function eventTargetDeadLetterQueue(scope: Construct, id: string, retention: Duration = Duration.days(14), propName: string): sqs.Queue {
  if (!retention.isUnresolved() && (retention.toSeconds() < 60 || retention.toSeconds() > 1_209_600)) {
    throw new Error(`${propName}: ${retention.toHumanString()} is outside SQS limits; use 1 minute to 14 days.`);
  }
  const queue = new sqs.Queue(scope, id, { retentionPeriod: retention, encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true });
  const reason = 'This queue is itself the dead-letter queue of the EventBridge target; failed deliveries stop here for an operator to inspect.';
  acknowledge(queue, 'AwsSolutions-SQS3', reason);
  acknowledge(queue, 'Serverless-SQSRedrivePolicy', reason);
  return queue;
}
