/**
 * Reacts to the environments' alarms: an EventBridge rule on "CloudWatch Alarm State Change" to ALARM
 * for the configured alarms (`alarmEventPattern`, lib/domain/alarm-events.ts, shared with the local twin)
 * invokes the `alarm` function, which fails the bake or approval wait of a running deployment at once
 * (SendTaskFailure `Cutover.AlarmFiring`) so the deploy state machine rolls back within seconds, and
 * after a promotion starts the `rollback` state machine (inside the rollback window, or per
 * `alarmAfterWindow`).
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Config } from '../config/schema';
import { alarmEventPattern } from '../domain/alarm-events';
import { CutoverFunction } from './cutover-function';
import { eventTargetDeadLetterQueue } from './dead-letter-queue';
import { splitByPatternSize } from './event-patterns';
import { ROLLBACK_PATH_MEMORY_MB } from './cutover-function';
import { ALARM_LEDGER_ACTIONS, ledgerTableStatements, taskTokenStatements } from './permissions';

export interface AlarmTriggerProps {
  /** The validated cutover config; at least one environment must list `alarms`. */
  readonly config: Config;
  /** The table of locks and deployment records (the function reads the lock's wait and the environment state, and appends to the audit timeline). */
  readonly table: dynamodb.ITable;
  /** ARN of the `rollback` state machine, started for an alarm after a promotion (a name-built ARN avoids a cycle). */
  readonly rollbackStateMachineArn: string;
  /**
   * Where to notify an alarm the function does not act on by itself (after the rollback window, with `alarmAfterWindow: notify`).
   * @default - no notifications
   */
  readonly topic?: sns.ITopic;
  /**
   * How long the function's log group keeps its logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * How long undeliverable alarm events stay in the dead-letter queue.
   * @default Duration.days(14)
   */
  readonly deadLetterRetention?: Duration;
}

/** EventBridge rule (default bus, alarms going to ALARM) → `alarm` function, with a dead-letter queue. */
export class AlarmTrigger extends Construct {
  /** The first rule (the only one unless the patterns had to be split). */
  readonly rule: events.Rule;
  /** Every rule: one per group of services whose pattern fits EventBridge's 2,048-character limit. */
  readonly rules: events.Rule[];
  /** The `alarm` function. */
  readonly function: CutoverFunction;
  /** Events EventBridge could not deliver to the function. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: AlarmTriggerProps) {
    super(scope, id);
    const pattern = alarmEventPattern(props.config);
    if (!pattern) {
      throw new Error('AlarmTriggerProps.config: no environment lists "alarms"; add the CloudWatch alarm names that protect a release to an environment, or do not create this construct.');
    }

    // One queue for both ways an event can be lost: EventBridge could not invoke the function (the
    // target's dead-letter queue), or the function failed on every asynchronous attempt (its DeadLetterConfig).
    this.deadLetterQueue = eventTargetDeadLetterQueue(this, 'DeadLetterQueue', props.deadLetterRetention, 'AlarmTriggerProps.deadLetterRetention');
    this.function = new CutoverFunction(this, 'Function', {
      name: 'alarm',
      // On the rollback path: Lambda gives CPU in proportion to memory, and 1024 MB cuts the cold start
      // (module import, first TLS handshakes) several times over 256 MB for a few cents a month.
      memorySize: ROLLBACK_PATH_MEMORY_MB,
      config: props.config,
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      asyncDeadLetterQueue: this.deadLetterQueue,
      environment: {
        TABLE_NAME: props.table.tableName,
        ROLLBACK_STATE_MACHINE_ARN: props.rollbackStateMachineArn,
        ...(props.topic ? { NOTIFICATION_TOPIC_ARN: props.topic.topicArn } : {}),
      },
    });
    for (const st of ledgerTableStatements(props.table.tableArn, ALARM_LEDGER_ACTIONS)) this.function.addToRolePolicy(st.statement);
    this.function.addToRolePolicy(new iam.PolicyStatement({ sid: 'StartRollback', actions: ['states:StartExecution'], resources: [props.rollbackStateMachineArn] }));
    props.topic?.grantPublish(this.function.role);
    for (const s of taskTokenStatements(['states:SendTaskFailure'])) this.function.addToRolePolicy(s.statement, s.wildcardReason);

    // One rule per group of services whose pattern fits EventBridge's 2,048 characters.
    const groups = splitByPatternSize(props.config, alarmEventPattern);
    this.rules = groups.map((group, i) => {
      const p = alarmEventPattern(group)!;
      const rule = new events.Rule(this, i === 0 ? 'Rule' : `Rule${i + 1}`, {
        description: `cutover: a watched alarm went to ALARM (ends the running bake at once, or rolls a promotion back)${groups.length > 1 ? ` (${i + 1} of ${groups.length})` : ''}`,
        eventPattern: { source: [...p.source], detailType: [...p['detail-type']], detail: p.detail },
      });
      rule.addTarget(
        new targets.LambdaFunction(this.function.lambda, {
          deadLetterQueue: this.deadLetterQueue,
          // A late answer is worthless: the bake's end checks the alarms anyway.
          retryAttempts: 4,
          maxEventAge: Duration.minutes(15),
        }),
      );
      return rule;
    });
    this.rule = this.rules[0]!;
  }
}
