/**
 * DynamoDB adapter for the deployment lock and deployment records (table layout: lib/domain/records.ts).
 * Every write is idempotent for a retried Step Functions task: the lock condition accepts the same
 * execution, record creation tolerates an existing record, release only deletes this execution's lock.
 * Follows the DynamoDB API: PutItem / UpdateItem / DeleteItem with ConditionExpression, GetItem, Query.
 */
import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DescribeExecutionCommand, ExecutionDoesNotExist } from '@aws-sdk/client-sfn';
import { dynamoDocClient, sfnClient } from './clients';
import { withRetryClassification } from './errors';
import { DeploymentInProgressError } from '../domain/errors';
import type { DeploymentPlan } from '../domain/plan';
import {
  auditPartition,
  deploymentKey,
  environmentKey,
  lockKey,
  type AuditEvent,
  type DeploymentStatus,
  type EnvironmentState,
  type Outcome,
} from '../domain/records';

export interface LockItem {
  pk: string;
  sk: string;
  deploymentId: string;
  executionArn: string;
  /** ISO-8601. */
  acquiredAt: string;
  commit: string;
  /** Task token of the callback wait the deployment is in now (bake, approval, database decision). */
  pendingTaskToken?: string;
  /** What that wait is: the alarm function fails only `bake` tokens. */
  pendingKind?: PendingKind;
  /** One line for operators: what is awaited and how to answer. */
  pendingQuestion?: string;
}

/**
 * The kinds of callback waits a deployment can be in: a bake (an alarm or an operator ends it early),
 * an approval gate, an operator's database decision.
 */
export type PendingKind = 'bake' | 'approval' | 'database-decision';

export interface DeploymentRecord {
  pk: string;
  sk: string;
  deploymentId: string;
  executionArn: string;
  service: string;
  environment: string;
  status: DeploymentStatus;
  commit: string;
  image: string;
  trigger: DeploymentPlan['trigger'];
  /** ISO-8601 times. */
  startedAt: string;
  finishedAt?: string;
  error?: string | null;
  message?: string;
  liveSlot?: string;
  /** Task token of the callback wait the deployment is in (bake, approval, database decision). */
  pendingTaskToken?: string;
  pendingKind?: PendingKind;
  pendingQuestion?: string;
  /** `deploy` (a release) or `rollback` (the rollback state machine). @default 'deploy' */
  kind?: 'deploy' | 'rollback';
  /** Set on a succeeded deployment once a rollback took production away from it (the rollback's id). */
  rolledBackBy?: string;
  /** Why a rollback ran (rollback records). */
  reason?: string;
}

/** Whether a Step Functions execution is RUNNING (DescribeExecution); a missing execution is not. */
async function isStillRunning(executionArn: string): Promise<boolean> {
  try {
    const out = await withRetryClassification(() => sfnClient().send(new DescribeExecutionCommand({ executionArn })));
    return out.status === 'RUNNING' || out.status === 'PENDING_REDRIVE';
  } catch (err) {
    if (err instanceof ExecutionDoesNotExist) return false;
    throw err;
  }
}

export class Ledger {
  /** @param tableName the DynamoDB table (env `TABLE_NAME` in the Lambda) */
  constructor(private readonly tableName: string) {}

  /**
   * Take the lock for the plan's service and environment and create the deployment record.
   * A lock whose execution is no longer running (stopped, failed, timed out — checked with
   * DescribeExecution) is reclaimed, so a lock never wedges the environment.
   * @throws DeploymentInProgressError when another, running execution holds the lock (message names it)
   */
  async acquire(plan: DeploymentPlan, now = new Date()): Promise<LockItem> {
    const lock: LockItem = {
      ...lockKey(plan.service, plan.environment),
      deploymentId: plan.deploymentId,
      executionArn: plan.executionArn,
      acquiredAt: now.toISOString(),
      commit: plan.release.commit,
    };
    const db = dynamoDocClient();
    try {
      await withRetryClassification(() =>
        db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: lock,
            ConditionExpression: 'attribute_not_exists(pk) OR executionArn = :me',
            ExpressionAttributeValues: { ':me': plan.executionArn },
          }),
        ),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const held = await this.getLock(plan.service, plan.environment);
      if (held && !(await isStillRunning(held.executionArn))) {
        // The holder stopped, failed or timed out without releasing: take the lock over, but only if
        // it is still that stale holder's (another deployment may have reclaimed it meanwhile).
        try {
          await withRetryClassification(() =>
            db.send(
              new PutCommand({
                TableName: this.tableName,
                Item: { ...lock, reclaimedFrom: held.executionArn },
                ConditionExpression: 'executionArn = :stale',
                ExpressionAttributeValues: { ':stale': held.executionArn },
              }),
            ),
          );
          return this.createRecord(plan, lock);
        } catch (reclaimErr) {
          if (!(reclaimErr instanceof ConditionalCheckFailedException)) throw reclaimErr;
        }
      }
      const current = (await this.getLock(plan.service, plan.environment)) ?? held;
      throw new DeploymentInProgressError(
        `${plan.service}/${plan.environment} is locked by deployment ${current?.deploymentId ?? '(unknown)'} ` +
          `(commit ${current?.commit?.slice(0, 7) ?? '?'}, since ${current?.acquiredAt ?? '?'}, execution ${current?.executionArn ?? '?'}), which is still running. ` +
          'Wait for it to finish, or stop that execution (its lock is then reclaimed), then start this deployment again.',
      );
    }
    return this.createRecord(plan, lock);
  }

  private async createRecord(plan: DeploymentPlan, lock: LockItem): Promise<LockItem> {
    const db = dynamoDocClient();
    const record: DeploymentRecord = {
      ...deploymentKey(plan),
      deploymentId: plan.deploymentId,
      executionArn: plan.executionArn,
      service: plan.service,
      environment: plan.environment,
      status: 'in-progress',
      commit: plan.release.commit,
      image: plan.image,
      trigger: plan.trigger,
      startedAt: plan.startedAt,
    };
    try {
      await withRetryClassification(() =>
        db.send(new PutCommand({ TableName: this.tableName, Item: record, ConditionExpression: 'attribute_not_exists(pk)' })),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err; // a retry: the record exists already
    }
    return lock;
  }

  async getLock(service: string, environment: string): Promise<LockItem | undefined> {
    const out = await withRetryClassification(() =>
      dynamoDocClient().send(new GetCommand({ TableName: this.tableName, Key: lockKey(service, environment), ConsistentRead: true })),
    );
    return out.Item as LockItem | undefined;
  }

  /**
   * Store the task token of the callback wait the deployment enters (`kind`), with a line for operators,
   * on its record and on the environment's lock, where the alarm function and the CLI find it. The lock
   * is only updated while this execution holds it. Idempotent (a retried task stores its new token).
   */
  async setPending(plan: DeploymentPlan, kind: PendingKind, taskToken: string, question: string): Promise<void> {
    const db = dynamoDocClient();
    const values = { ':t': taskToken, ':k': kind, ':q': question };
    await withRetryClassification(() =>
      db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deploymentKey(plan),
          UpdateExpression: 'SET pendingTaskToken = :t, pendingKind = :k, pendingQuestion = :q',
          ExpressionAttributeValues: values,
        }),
      ),
    );
    try {
      await withRetryClassification(() =>
        db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: lockKey(plan.service, plan.environment),
            UpdateExpression: 'SET pendingTaskToken = :t, pendingKind = :k, pendingQuestion = :q',
            ConditionExpression: 'executionArn = :me',
            ExpressionAttributeValues: { ...values, ':me': plan.executionArn },
          }),
        ),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err; // not ours (released or reclaimed): the record has it
    }
  }

  /** Store the task token of a pending operator decision (database policy `approve`). */
  async setPendingDecision(plan: DeploymentPlan, taskToken: string, question: string): Promise<void> {
    await this.setPending(plan, 'database-decision', taskToken, question);
  }

  /**
   * Record the outcome, update the environment's state on success, and release the lock (only if this
   * execution holds it). Safe to call twice.
   */
  async finish(plan: DeploymentPlan, outcome: Outcome, now = new Date()): Promise<void> {
    const db = dynamoDocClient();
    await withRetryClassification(() =>
      db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deploymentKey(plan),
          UpdateExpression:
            'SET #status = :s, finishedAt = :f, #error = :e, message = :m, liveSlot = :l REMOVE pendingTaskToken, pendingKind, pendingQuestion',
          ExpressionAttributeNames: { '#status': 'status', '#error': 'error' },
          ExpressionAttributeValues: { ':s': outcome.status, ':f': now.toISOString(), ':e': outcome.error, ':m': outcome.message, ':l': outcome.liveSlot },
        }),
      ),
    );
    if (outcome.status === 'succeeded') {
      await withRetryClassification(() =>
        db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...environmentKey(plan.service, plan.environment),
              liveSlot: outcome.liveSlot,
              lastGoodDeploymentId: plan.deploymentId,
              lastGoodCommit: plan.release.commit,
              lastGoodImage: plan.image,
              updatedAt: now.toISOString(),
            },
          }),
        ),
      );
    }
    try {
      await withRetryClassification(() =>
        db.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: lockKey(plan.service, plan.environment),
            ConditionExpression: 'executionArn = :me',
            ExpressionAttributeValues: { ':me': plan.executionArn },
          }),
        ),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err; // not ours (or gone): nothing to release
    }
  }

  /** The environment state item (live slot, live release, rollback window), if any deployment finished. */
  async getEnvironment(service: string, environment: string): Promise<EnvironmentState | undefined> {
    const out = await withRetryClassification(() =>
      dynamoDocClient().send(new GetCommand({ TableName: this.tableName, Key: environmentKey(service, environment), ConsistentRead: true })),
    );
    return out.Item as EnvironmentState | undefined;
  }

  /**
   * Append an event to the service and environment's audit timeline.
   * @param id makes the write idempotent for a retried step (same `at` and `id` → same item); @default random
   */
  async audit(event: Omit<AuditEvent, 'pk' | 'sk'>, id: string = randomUUID().slice(0, 8)): Promise<void> {
    const item: AuditEvent = { pk: auditPartition(event.service, event.environment), sk: `${event.at}#${id}`, ...event };
    await withRetryClassification(() => dynamoDocClient().send(new PutCommand({ TableName: this.tableName, Item: item })));
  }

  /**
   * The audit timeline of a service and environment, newest first.
   * @param deploymentId only this deployment's (or rollback's) events
   */
  async timeline(service: string, environment: string, opts: { limit?: number; deploymentId?: string } = {}): Promise<AuditEvent[]> {
    const limit = opts.limit ?? 50;
    const events: AuditEvent[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await withRetryClassification(() =>
        dynamoDocClient().send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': auditPartition(service, environment), ...(opts.deploymentId ? { ':d': opts.deploymentId } : {}) },
            ...(opts.deploymentId ? { FilterExpression: 'deploymentId = :d' } : {}),
            ScanIndexForward: false,
            Limit: 100,
            ExclusiveStartKey: start,
          }),
        ),
      );
      events.push(...((out.Items ?? []) as AuditEvent[]));
      start = out.LastEvaluatedKey;
    } while (start && events.length < limit);
    return events.slice(0, limit);
  }

  /** Deployment records of a service and environment, newest first. */
  async history(service: string, environment: string, limit = 20): Promise<DeploymentRecord[]> {
    const out = await withRetryClassification(() =>
      dynamoDocClient().send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `DEPLOYMENTS#${service}#${environment}` },
          ScanIndexForward: false,
          Limit: limit,
        }),
      ),
    );
    return (out.Items ?? []) as DeploymentRecord[];
  }
}
