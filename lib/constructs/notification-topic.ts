/**
 * The notification topic: cutover publishes started, awaiting approval, awaiting a database decision,
 * succeeded, rolled back, failed and alarm notifications to it (lib/aws/notify.ts). Subscribe email,
 * chat webhooks (via AWS Chatbot) or a queue; filter on the `kind`, `service` and `environment`
 * message attributes.
 */
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface NotificationTopicProps {
  /**
   * Name of the topic.
   * @default - a generated name
   */
  readonly topicName?: string;
  /**
   * KMS key for server-side encryption.
   * @default - the AWS managed key `alias/aws/sns` (IAM principals of this account may publish)
   */
  readonly masterKey?: kms.IKey;
}

/** An SNS topic encrypted at rest that accepts only TLS requests. */
export class NotificationTopic extends Construct {
  /** The topic. */
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: NotificationTopicProps = {}) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'cutover deployments',
      topicName: props.topicName,
      masterKey: props.masterKey ?? kms.Alias.fromAliasName(this, 'AwsManagedKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
  }
}
