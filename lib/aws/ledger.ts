/**
 * DynamoDB adapter for the deployment lock and deployment records (table layout: lib/domain/records.ts).
 * Every write is idempotent for a retried Step Functions task: the lock condition accepts the same
 * execution, record creation tolerates an existing record, release only deletes this execution's lock.
 * Follows the DynamoDB API: PutItem / UpdateItem / DeleteItem with ConditionExpression, GetItem, Query.
 * Items are the zod model of lib/domain/ledger-items.ts: written in that shape, validated when read
 * (a malformed item throws `Cutover.CorruptLedgerItem` naming it). Methods that record a time take
 * `now` from their caller, which reads the clock once (or uses the time AWS gave it).
 */
import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type QueryCommandInput, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { DescribeExecutionCommand, ExecutionDoesNotExist } from '@aws-sdk/client-sfn';
import { dynamoDocClient, sfnClient } from './clients';
import { withRetryClassification } from './errors';
import { succeedTask } from './task-tokens';
import { DeploymentInProgressError } from '../domain/errors';
import type { DeploymentPlan } from '../domain/plan';
import { otherSlot, type SlotName } from '../domain/slots';
import type { DeploymentState, Outcome } from '../domain/records';
import {
  AuditEventSchema,
  auditPartition,
  DeploymentRecordSchema,
  deploymentKey,
  deploymentsPartition,
  environmentKey,
  EnvironmentStateSchema,
  LockItemSchema,
  lockKey,
  OfferItemSchema,
  offerKey,
  parseLedgerItem,
  QueueItemSchema,
  queueKey,
  type AuditEvent,
  type QueueItem,
  type DeploymentRecord,
  type EnvironmentState,
  type LockHolder,
  type LockItem,
  type OfferItem,
  type PendingKind,
  type ReleaseRef,
} from '../domain/ledger-items';
import { isLockReclaimable, lockHolderWhat, pendingWindow, rollbackWindowUntil } from '../domain/ledger-decisions';

// The item model lives in lib/domain/ledger-items.ts; re-exported for the adapter's callers.
export type { DeploymentRecord, LockHolder, LockItem, LockPurpose, PendingKind } from '../domain/ledger-items';

/**
 * Status of a Step Functions execution (DescribeExecution), `MISSING` when it does not exist.
 * @throws Cutover.Transient on throttling; other SDK errors as they are
 */
async function executionStatus(executionArn: string): Promise<string> {
  try {
    const out = await withRetryClassification(() => sfnClient().send(new DescribeExecutionCommand({ executionArn })));
    return out.status ?? 'MISSING';
  } catch (err) {
    if (err instanceof ExecutionDoesNotExist) return 'MISSING';
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
  async acquire(plan: DeploymentPlan, now: Date): Promise<LockItem> {
    return (await this.acquireAndRecord(plan, now)).lock;
  }

  /**
   * {@link acquire}, also saying whether the deployment record was created now (false: it existed — a
   * retried task, or a deployment that waited in the queue, whose record says `queued` until now).
   */
  async acquireAndRecord(plan: DeploymentPlan, now: Date): Promise<{ lock: LockItem; recordCreated: boolean }> {
    const lock = await this.takeLock(
      plan.service,
      plan.environment,
      { deploymentId: plan.deploymentId, executionArn: plan.executionArn, commit: plan.release.commit, purpose: 'deploy', startedAt: plan.startedAt },
      now,
    );
    const recordCreated = await this.createRecord(plan);
    return { lock, recordCreated };
  }

  /**
   * Take the environment's lock for `holder` (a conditional PutItem: free, or already this
   * execution's — so a retried task succeeds). A lock held by an execution that is no longer running
   * (DescribeExecution) is reclaimed with a write conditional on that stale holder.
   * @throws DeploymentInProgressError when another, running execution holds it (the message names it and what to do)
   */
  async takeLock(service: string, environment: string, holder: LockHolder, now: Date): Promise<LockItem> {
    const lock: LockItem = { ...lockKey(service, environment), ...holder, acquiredAt: now.toISOString() };
    const db = dynamoDocClient();
    try {
      await withRetryClassification(() =>
        db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: lock,
            ConditionExpression: 'attribute_not_exists(pk) OR executionArn = :me',
            ExpressionAttributeValues: { ':me': holder.executionArn },
          }),
        ),
      );
      return lock;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    const held = await this.getLock(service, environment);
    if (held && isLockReclaimable(await executionStatus(held.executionArn))) {
      // The holder stopped, failed or timed out without releasing: take the lock over, but only if
      // it is still that stale holder's (another execution may have reclaimed it meanwhile).
      try {
        const reclaimed: LockItem = { ...lock, reclaimedFrom: held.executionArn };
        await withRetryClassification(() =>
          db.send(
            new PutCommand({
              TableName: this.tableName,
              Item: reclaimed,
              ConditionExpression: 'executionArn = :stale',
              ExpressionAttributeValues: { ':stale': held.executionArn },
            }),
          ),
        );
        return reclaimed;
      } catch (reclaimErr) {
        if (!(reclaimErr instanceof ConditionalCheckFailedException)) throw reclaimErr;
      }
    }
    const current = (await this.getLock(service, environment)) ?? held;
    const what = lockHolderWhat(current?.purpose);
    throw new DeploymentInProgressError(
      `${service}/${environment} is locked by ${what} ${current?.deploymentId ?? '(unknown)'} ` +
        `(commit ${current?.commit?.slice(0, 7) ?? '?'}, since ${current?.acquiredAt ?? '?'}, execution ${current?.executionArn ?? '?'}), which is still running. ` +
        'Wait for it to finish, or stop that execution (its lock is then reclaimed), then start again.',
    );
  }

  /**
   * Release the lock if `executionArn` holds it (a conditional DeleteItem; safe to call twice), then
   * answer the queued deployment's `WaitForLock` (SendTaskSuccess), which takes the lock next.
   * @param opts.wake `false` when the lock is handed to a known next holder (a rollback's redeploy):
   *   the queue waits for that one to finish
   * @returns whether this call released the lock
   */
  async releaseLock(service: string, environment: string, executionArn: string, opts: { wake?: boolean } = {}): Promise<boolean> {
    if (!(await this.deleteLock(service, environment, executionArn))) return false;
    if (opts.wake !== false) await this.wakeQueued(service, environment, executionArn);
    return true;
  }

  /**
   * Answer the queued deployment's wait, if one is queued: it tries the lock again. A wait already
   * over (its round timed out, it was superseded) is nothing to answer.
   */
  async wakeQueued(service: string, environment: string, releasedBy: string): Promise<QueueItem | undefined> {
    const queued = await this.getQueued(service, environment);
    if (queued) await succeedTask(queued.taskToken, { lockReleasedBy: releasedBy });
    return queued;
  }

  private async deleteLock(service: string, environment: string, executionArn: string): Promise<boolean> {
    try {
      await withRetryClassification(() =>
        dynamoDocClient().send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: lockKey(service, environment),
            ConditionExpression: 'executionArn = :me',
            ExpressionAttributeValues: { ':me': executionArn },
          }),
        ),
      );
      return true;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err; // not ours (or gone): nothing to release
      return false;
    }
  }

  /**
   * The environment's queued deployment (lib/domain/deploy-queue.ts), if any.
   * @throws Cutover.CorruptLedgerItem when the item is not one cutover wrote
   */
  async getQueued(service: string, environment: string): Promise<QueueItem | undefined> {
    const out = await withRetryClassification(() =>
      dynamoDocClient().send(new GetCommand({ TableName: this.tableName, Key: queueKey(service, environment), ConsistentRead: true })),
    );
    return out?.Item ? parseLedgerItem(QueueItemSchema, out.Item, `the deploy queue of ${service}/${environment}`) : undefined;
  }

  /**
   * Put `plan`'s deployment in the queue with its wait's task token — only if the queue is as the
   * caller read it (`seen`: the execution ARN of the item read, or undefined for an empty queue) or
   * already holds this execution (a retried task, a later round). A conditional PutItem.
   * @returns false when the queue changed meanwhile (read it again and decide again)
   */
  async enqueue(plan: Pick<DeploymentPlan, 'service' | 'environment' | 'deploymentId' | 'executionArn' | 'startedAt' | 'release'>, taskToken: string, now: Date, seen: string | undefined): Promise<boolean> {
    const item: QueueItem = {
      ...queueKey(plan.service, plan.environment),
      deploymentId: plan.deploymentId,
      executionArn: plan.executionArn,
      commit: plan.release.commit,
      startedAt: plan.startedAt,
      queuedAt: now.toISOString(),
      taskToken,
    };
    try {
      await withRetryClassification(() =>
        dynamoDocClient().send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: seen ? 'executionArn = :seen OR executionArn = :me' : 'attribute_not_exists(pk) OR executionArn = :me',
            ExpressionAttributeValues: seen ? { ':seen': seen, ':me': plan.executionArn } : { ':me': plan.executionArn },
          }),
        ),
      );
      return true;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      return false;
    }
  }

  /** Remove `executionArn`'s deployment from the queue, if it is the one queued (a conditional DeleteItem). */
  async dequeue(service: string, environment: string, executionArn: string): Promise<void> {
    try {
      await withRetryClassification(() =>
        dynamoDocClient().send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: queueKey(service, environment),
            ConditionExpression: 'executionArn = :me',
            ExpressionAttributeValues: { ':me': executionArn },
          }),
        ),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  /**
   * Note on a deployment's record that the newer push `by` superseded it (its own execution records
   * the outcome as it ends). A record that does not exist is left alone.
   */
  async markSupersededBy(record: { service: string; environment: string; startedAt: string; deploymentId: string }, by: string): Promise<void> {
    await this.setRecordFields(record, { supersededBy: by });
  }


  /** @returns whether the record was created now (false: it existed — a retry, or the deployment was queued) */
  private async createRecord(plan: DeploymentPlan): Promise<boolean> {
    if (await this.putNewRecord(this.newRecord(plan, 'in-progress'))) return true;
    // The record exists: a retried task, or a deployment that waited in the queue — it runs now, and
    // leaves the queue (only its own item: a newer push may be there).
    await this.updateRecordIf(plan, {
      UpdateExpression: 'SET #status = :run',
      ConditionExpression: '#status = :queued',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':run': 'in-progress', ':queued': 'queued' },
    });
    await this.dequeue(plan.service, plan.environment, plan.executionArn);
    return false;
  }

  /**
   * Create the record of a deployment that waits for the lock (status `queued`), unless it exists.
   * @returns whether it was created now (the first round of the wait)
   */
  async putQueuedRecord(plan: DeploymentPlan): Promise<boolean> {
    return this.putNewRecord(this.newRecord(plan, 'queued'));
  }

  private newRecord(plan: DeploymentPlan, status: 'queued' | 'in-progress'): DeploymentRecord {
    return {
      ...deploymentKey(plan),
      deploymentId: plan.deploymentId,
      executionArn: plan.executionArn,
      service: plan.service,
      environment: plan.environment,
      status,
      commit: plan.release.commit,
      image: plan.image,
      trigger: plan.trigger,
      startedAt: plan.startedAt,
      kind: 'deploy',
      ...(plan.release.committedAt ? { committedAt: plan.release.committedAt } : {}),
    };
  }

  /**
   * Create a deployment or rollback record unless it exists (a retried task).
   * @returns whether this call created it
   */
  async putNewRecord(record: DeploymentRecord): Promise<boolean> {
    const db = dynamoDocClient();
    try {
      await withRetryClassification(() =>
        db.send(new PutCommand({ TableName: this.tableName, Item: record, ConditionExpression: 'attribute_not_exists(pk)' })),
      );
      return true;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err; // a retry: the record exists already
      return false;
    }
  }

  /**
   * The environment's lock, if held.
   * @throws Cutover.CorruptLedgerItem when the item is not a lock cutover wrote
   */
  async getLock(service: string, environment: string): Promise<LockItem | undefined> {
    const out = await withRetryClassification(() =>
      dynamoDocClient().send(new GetCommand({ TableName: this.tableName, Key: lockKey(service, environment), ConsistentRead: true })),
    );
    return out?.Item ? parseLedgerItem(LockItemSchema, out.Item, `the lock of ${service}/${environment}`) : undefined;
  }

  /**
   * Store the task token of the callback wait the deployment enters (`kind`), with a line for operators
   * and the wait's bounds (`pendingSince` = now, `pendingUntil` = now + `timeoutSeconds`), on its record
   * and on the environment's lock, where the alarm function and the CLI find it. The lock is only
   * updated while this execution holds it. Idempotent (a retried task stores its new token).
   * @param timeoutSeconds the wait's timeout (its state's TimeoutSeconds), if it has one; or the
   *   instant it ends (a change window's opening: `pendingUntil` is then exactly it)
   * @param image with `kind: 'image'`: the image reference waited for (`pendingImage`, read by the
   *   image-events function)
   */
  async setPending(plan: DeploymentPlan, kind: PendingKind, taskToken: string, question: string, now: Date, timeoutSeconds?: number | Date, image?: string): Promise<void> {
    const bounds = timeoutSeconds instanceof Date ? { pendingSince: now.toISOString(), pendingUntil: timeoutSeconds.toISOString() } : pendingWindow(now, timeoutSeconds);
    const values: Record<string, string> = { ':t': taskToken, ':k': kind, ':q': question, ':s': bounds.pendingSince };
    if (bounds.pendingUntil) values[':u'] = bounds.pendingUntil;
    if (image) values[':i'] = image;
    const set = ['pendingTaskToken = :t', 'pendingKind = :k', 'pendingQuestion = :q', 'pendingSince = :s', ...(bounds.pendingUntil ? ['pendingUntil = :u'] : []), ...(image ? ['pendingImage = :i'] : [])];
    const remove = [...(bounds.pendingUntil ? [] : ['pendingUntil']), ...(image ? [] : ['pendingImage'])];
    const update = `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`;
    await this.updateRecordAndOwnLock(plan, { update, values }, { update, values });
  }

  /**
   * The callback wait is over: remove the pending wait (token, kind, question, bounds, image) from
   * the deployment's record and from the lock, while this execution holds it, so nothing answers or
   * fails a token that no longer waits; and record `plan.image` on the record (the image gate pins
   * it by digest). Idempotent.
   */
  async clearPending(plan: DeploymentPlan): Promise<void> {
    const update = 'REMOVE pendingTaskToken, pendingKind, pendingQuestion, pendingSince, pendingUntil, pendingImage';
    await this.updateRecordAndOwnLock(plan, { update: `SET image = :i ${update}`, values: { ':i': plan.image } }, { update, values: {} });
  }

  /**
   * UpdateItem the deployment's record, then the environment's lock only while this execution holds
   * it (`executionArn = :me`; a lock released or reclaimed meanwhile is left alone: the record has it).
   */
  private async updateRecordAndOwnLock(
    plan: DeploymentPlan,
    record: { update: string; values: Record<string, string> },
    lock: { update: string; values: Record<string, string> },
  ): Promise<void> {
    const db = dynamoDocClient();
    await withRetryClassification(() =>
      db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deploymentKey(plan),
          UpdateExpression: record.update,
          ...(Object.keys(record.values).length ? { ExpressionAttributeValues: record.values } : {}),
        }),
      ),
    );
    try {
      await withRetryClassification(() =>
        db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: lockKey(plan.service, plan.environment),
            UpdateExpression: lock.update,
            ConditionExpression: 'executionArn = :me',
            ExpressionAttributeValues: { ...lock.values, ':me': plan.executionArn },
          }),
        ),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  /** Store the task token of a pending operator decision (database policy `approve`). */
  async setPendingDecision(plan: DeploymentPlan, taskToken: string, question: string, now: Date, timeoutSeconds?: number): Promise<void> {
    await this.setPending(plan, 'database-decision', taskToken, question, now, timeoutSeconds);
  }

  /**
   * Record the outcome, update the environment's state on success, and release the lock (only if this
   * execution holds it). Safe to call twice.
   */
  async finish(plan: DeploymentPlan, outcome: Outcome, state: Pick<DeploymentState, 'slots' | 'migration' | 'snapshot'> | undefined, now: Date): Promise<void> {
    await this.updateRecord(plan, outcome, now);
    if (outcome.status === 'succeeded') await this.recordPromotion(plan, outcome, state ?? {}, now);
    // A deployment that ends while queued (superseded, or it waited too long) holds no lock: it leaves the queue.
    if (!(await this.releaseLock(plan.service, plan.environment, plan.executionArn))) await this.dequeue(plan.service, plan.environment, plan.executionArn);
  }

  /**
   * Set fields on a deployment's (or rollback's) record. `once` fields are set only when absent
   * (`if_not_exists`: the first traffic, the detection time), so a retried step keeps the first value.
   * Does nothing to a record that does not exist (the condition fails quietly).
   */
  async setRecordFields(
    key: Pick<DeploymentPlan, 'service' | 'environment' | 'startedAt' | 'deploymentId'>,
    fields: Partial<Pick<DeploymentRecord, 'supersededBy' | 'windowOverride' | 'promotionOverride' | 'changesStartedAt' | 'trafficAt' | 'promotedAt' | 'detectedAt' | 'restoredAt' | 'rolledBackAt' | 'committedAt' | 'approvers'>>,
    once: Partial<Pick<DeploymentRecord, 'changesStartedAt' | 'trafficAt' | 'detectedAt' | 'restoredAt'>> = {},
  ): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const entries = [...Object.entries(fields).map(([k, v]) => [k, v, false] as const), ...Object.entries(once).map(([k, v]) => [k, v, true] as const)];
    for (const [k, v, onlyIfAbsent] of entries) {
      if (v === undefined) continue;
      const i = sets.length;
      names[`#f${i}`] = k;
      values[`:v${i}`] = v;
      sets.push(onlyIfAbsent ? `#f${i} = if_not_exists(#f${i}, :v${i})` : `#f${i} = :v${i}`);
    }
    if (sets.length === 0) return;
    await this.updateRecordIf(key, { UpdateExpression: `SET ${sets.join(', ')}`, ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeNames: names, ExpressionAttributeValues: values });
  }

  /**
   * UpdateItem on a deployment record under a condition.
   * @returns false when the condition failed (nothing written)
   * @throws Cutover.Transient for throttling; other SDK errors as they are
   */
  private async updateRecordIf(
    key: Pick<DeploymentPlan, 'service' | 'environment' | 'startedAt' | 'deploymentId'>,
    update: Pick<UpdateCommandInput, 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>,
  ): Promise<boolean> {
    try {
      await withRetryClassification(() => dynamoDocClient().send(new UpdateCommand({ TableName: this.tableName, Key: deploymentKey(key), ...update })));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /**
   * A deployment's record (a consistent read), or `undefined` when there is none.
   * @throws Cutover.Transient for throttling; LedgerItemError naming the record when it does not have the shape cutover writes
   */
  async getRecord(key: Pick<DeploymentPlan, 'service' | 'environment' | 'startedAt' | 'deploymentId'>): Promise<DeploymentRecord | undefined> {
    const out = await withRetryClassification(() => dynamoDocClient().send(new GetCommand({ TableName: this.tableName, Key: deploymentKey(key), ConsistentRead: true })));
    return out.Item ? parseLedgerItem(DeploymentRecordSchema, out.Item, `deployment record ${key.deploymentId} of ${key.service}/${key.environment}`) : undefined;
  }

  /**
   * Record an approval on the deployment's record — only while the record waits for an approval with
   * `taskToken` (the wait being answered), and only the first for that wait (`approval.tokenHash` =
   * the token's hash: a second approver, or the same one twice, does not replace it; an approval left
   * from an earlier wait does not block it). The approval function calls it before it answers the
   * wait (SendTaskSuccess), so that the deployment's `VerifyApproval` finds it.
   * @returns false when the record no longer waits for that approval or it is approved already (nothing written)
   * @throws Cutover.Transient for throttling
   */
  async recordApproval(key: Pick<DeploymentPlan, 'service' | 'environment' | 'startedAt' | 'deploymentId'>, taskToken: string, approval: NonNullable<DeploymentRecord['approval']>): Promise<boolean> {
    return this.updateRecordIf(key, {
      UpdateExpression: 'SET approval = :a',
      ConditionExpression: 'pendingKind = :approval AND pendingTaskToken = :t AND (attribute_not_exists(approval) OR approval.tokenHash <> :h)',
      ExpressionAttributeValues: { ':a': approval, ':approval': 'approval', ':t': taskToken, ':h': approval.tokenHash },
    });
  }

  /**
   * Take back the approval {@link recordApproval} wrote (`approvalId`: that one only), when its answer
   * found the wait closed.
   * @throws Cutover.Transient for throttling
   */
  async removeApproval(key: Pick<DeploymentPlan, 'service' | 'environment' | 'startedAt' | 'deploymentId'>, approvalId: string): Promise<void> {
    await this.updateRecordIf(key, { UpdateExpression: 'REMOVE approval', ConditionExpression: 'approval.id = :id', ExpressionAttributeValues: { ':id': approvalId } });
  }

  /** Record a finished deployment's or rollback's outcome on its record (and end any pending wait). */
  async updateRecord(
    key: Pick<DeploymentPlan, 'service' | 'environment' | 'startedAt' | 'deploymentId'>,
    outcome: Pick<Outcome, 'status' | 'error' | 'message' | 'liveSlot'>,
    now: Date,
  ): Promise<void> {
    await withRetryClassification(() =>
      dynamoDocClient().send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deploymentKey(key),
          UpdateExpression:
            'SET #status = :s, finishedAt = :f, #error = :e, message = :m, liveSlot = :l REMOVE pendingTaskToken, pendingKind, pendingQuestion, pendingSince, pendingUntil, pendingImage',
          ExpressionAttributeNames: { '#status': 'status', '#error': 'error' },
          ExpressionAttributeValues: { ':s': outcome.status, ':f': now.toISOString(), ':e': outcome.error, ':m': outcome.message, ':l': outcome.liveSlot },
        }),
      ),
    );
  }

  /**
   * The promoted release is live: the environment state's `current` becomes it and, unless
   * `plan.rollbackWindowSeconds` is 0, a rollback window opens on the slot that keeps the previous
   * release (`state.slots.live`). Idempotent (a PutItem of the same state).
   */
  private async recordPromotion(plan: DeploymentPlan, outcome: Outcome, state: Pick<DeploymentState, 'slots' | 'migration' | 'snapshot'>, now: Date): Promise<void> {
    const before = await this.getEnvironment(plan.service, plan.environment);
    const keptSlot: SlotName = state.slots?.live ?? otherSlot(outcome.liveSlot);
    const current: ReleaseRef = {
      deploymentId: plan.deploymentId,
      commit: plan.release.commit,
      image: plan.image,
      slot: outcome.liveSlot,
      startedAt: plan.startedAt,
      promotedAt: now.toISOString(),
      source: plan.trigger.source,
      migrationsRan: state.migration?.ran ?? false,
      snapshot: state.snapshot?.taken && state.snapshot.identifier ? { identifier: state.snapshot.identifier, createdAt: state.snapshot.createdAt } : null,
    };
    // A retried Promote finds its own promotion: keep the window it opened (and what it keeps).
    const previous = before?.current?.deploymentId === plan.deploymentId ? before.rollbackWindow?.kept : before?.current;
    const kept: ReleaseRef = previous && previous.slot === keptSlot ? previous : { slot: keptSlot };
    const item: EnvironmentState = {
      ...environmentKey(plan.service, plan.environment),
      liveSlot: outcome.liveSlot,
      current,
      ...(plan.rollbackWindowSeconds > 0
        ? {
            rollbackWindow: {
              deploymentId: plan.deploymentId,
              keptSlot,
              kept,
              until: rollbackWindowUntil(now, plan.rollbackWindowSeconds),
              seconds: plan.rollbackWindowSeconds,
            },
          }
        : {}),
      lastGoodDeploymentId: plan.deploymentId,
      lastGoodCommit: plan.release.commit,
      lastGoodImage: plan.image,
      updatedAt: now.toISOString(),
    };
    await withRetryClassification(() => dynamoDocClient().send(new PutCommand({ TableName: this.tableName, Item: item })));
  }

  /**
   * Close the rollback window (REMOVE `rollbackWindow`) if it is still the one of `deploymentId`
   * (any window when `deploymentId` is undefined). Returns whether this call closed it.
   */
  async closeRollbackWindow(service: string, environment: string, deploymentId?: string): Promise<boolean> {
    try {
      await withRetryClassification(() =>
        dynamoDocClient().send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: environmentKey(service, environment),
            UpdateExpression: 'REMOVE rollbackWindow',
            ConditionExpression: deploymentId ? 'rollbackWindow.deploymentId = :d' : 'attribute_exists(rollbackWindow)',
            ...(deploymentId ? { ExpressionAttributeValues: { ':d': deploymentId } } : {}),
          }),
        ),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /**
   * A rollback made `release` live again on its slot: it becomes the environment's `current`, the
   * rollback window is gone, and the record of the release rolled back (`from`) is marked
   * `rolledBackBy` so it is never picked as a "last known good" release.
   */
  async recordRollback(
    plan: { service: string; environment: string; deploymentId: string },
    release: ReleaseRef,
    from: ReleaseRef | undefined,
    now: Date,
  ): Promise<void> {
    const db = dynamoDocClient();
    const item: EnvironmentState = {
      ...environmentKey(plan.service, plan.environment),
      liveSlot: release.slot,
      current: { ...release, promotedAt: now.toISOString(), source: 'rollback' },
      ...(release.deploymentId ? { lastGoodDeploymentId: release.deploymentId } : {}),
      ...(release.commit ? { lastGoodCommit: release.commit } : {}),
      ...(release.image ? { lastGoodImage: release.image } : {}),
      updatedAt: now.toISOString(),
    };
    await withRetryClassification(() => db.send(new PutCommand({ TableName: this.tableName, Item: item })));
    await this.markRolledBack(plan, from, now);
  }

  /**
   * Mark the record of `from` (a promoted deployment) as rolled back by `plan.deploymentId`: status
   * `succeeded` becomes `rolled-back` (its `promotedAt` stays: it did reach production), with
   * `rolledBackBy` and `rolledBackAt` (the first time; a retried call keeps it). A record in any other
   * status, or none, is left alone.
   */
  async markRolledBack(plan: { service: string; environment: string; deploymentId: string }, from: ReleaseRef | undefined, now: Date): Promise<void> {
    if (!from?.deploymentId || !from.startedAt) return;
    try {
      await withRetryClassification(() =>
        dynamoDocClient().send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: deploymentKey({ service: plan.service, environment: plan.environment, startedAt: from.startedAt!, deploymentId: from.deploymentId! }),
            UpdateExpression: 'SET rolledBackBy = :r, rolledBackAt = if_not_exists(rolledBackAt, :at), #status = :rb',
            ConditionExpression: 'attribute_exists(pk) AND (#status = :ok OR (#status = :rb AND rolledBackBy = :r))',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':r': plan.deploymentId, ':at': now.toISOString(), ':rb': 'rolled-back', ':ok': 'succeeded' },
          }),
        ),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err; // no record (e.g. restored from an older state file), or not a promoted one
    }
  }

  /** Ask the running deployment to abort at its next bake or approval wait (`cutover abort` outside a wait). */
  async requestAbort(service: string, environment: string, executionArn: string, request: { by: string; reason: string; at: string }): Promise<boolean> {
    try {
      await withRetryClassification(() =>
        dynamoDocClient().send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: lockKey(service, environment),
            UpdateExpression: 'SET abortRequested = :a',
            ConditionExpression: 'executionArn = :me',
            ExpressionAttributeValues: { ':a': request, ':me': executionArn },
          }),
        ),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /**
   * The environment state item (live slot, live release, rollback window), if any deployment finished.
   * @throws Cutover.CorruptLedgerItem when the item is not an environment state cutover wrote
   */
  async getEnvironment(service: string, environment: string): Promise<EnvironmentState | undefined> {
    const out = await withRetryClassification(() =>
      dynamoDocClient().send(new GetCommand({ TableName: this.tableName, Key: environmentKey(service, environment), ConsistentRead: true })),
    );
    return out?.Item ? parseLedgerItem(EnvironmentStateSchema, out.Item, `the state of ${service}/${environment}`) : undefined;
  }

  /** The release offered to an environment for promotion, if any (`promotion.auto: false`). */
  async getOffer(service: string, environment: string): Promise<OfferItem | undefined> {
    const out = await withRetryClassification(() => dynamoDocClient().send(new GetCommand({ TableName: this.tableName, Key: offerKey(service, environment), ConsistentRead: true })));
    return out?.Item ? parseLedgerItem(OfferItemSchema, out.Item, `the promotion offer of ${service}/${environment}`) : undefined;
  }

  /** Offer a release to an environment (replaces an earlier offer). Idempotent. */
  async putOffer(service: string, environment: string, offer: Omit<OfferItem, 'pk' | 'sk'>): Promise<void> {
    await withRetryClassification(() => dynamoDocClient().send(new PutCommand({ TableName: this.tableName, Item: { ...offerKey(service, environment), ...offer } })));
  }

  /** Remove the offer of `commit` (a deployment of it started); another commit's offer stays. */
  async clearOffer(service: string, environment: string, commit: string): Promise<void> {
    try {
      await withRetryClassification(() =>
        dynamoDocClient().send(new DeleteCommand({ TableName: this.tableName, Key: offerKey(service, environment), ConditionExpression: '#c = :c', ExpressionAttributeNames: { '#c': 'commit' }, ExpressionAttributeValues: { ':c': commit } })),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
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
    return this.queryPages(
      {
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': auditPartition(service, environment), ...(opts.deploymentId ? { ':d': opts.deploymentId } : {}) },
        ...(opts.deploymentId ? { FilterExpression: 'deploymentId = :d' } : {}),
        ScanIndexForward: false,
        Limit: 100,
      },
      (item, n) => parseLedgerItem(AuditEventSchema, item, `audit event ${n} of ${service}/${environment}`),
      opts.limit ?? 50,
    );
  }


  /** Deployment records of a service and environment, newest first. */
  async history(service: string, environment: string, limit = 20): Promise<DeploymentRecord[]> {
    const out = await withRetryClassification(() =>
      dynamoDocClient().send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': deploymentsPartition(service, environment) },
          ScanIndexForward: false,
          Limit: limit,
        }),
      ),
    );
    return (out?.Items ?? []).map((item, i) => parseLedgerItem(DeploymentRecordSchema, item, `deployment record ${i + 1} of ${service}/${environment}`));
  }

  /**
   * Every deployment and rollback record of an environment started at or after `startedSince`
   * (ISO-8601; the sort key begins with the start time), oldest first, all pages (DynamoDB Query pages
   * of up to 1 MB). For reports over a period (lib/domain/dora-metrics.ts).
   */
  async historySince(service: string, environment: string, startedSince: string): Promise<DeploymentRecord[]> {
    return this.queryPages(
      {
        KeyConditionExpression: 'pk = :pk AND sk >= :since',
        ExpressionAttributeValues: { ':pk': deploymentsPartition(service, environment), ':since': startedSince },
      },
      (item) => parseLedgerItem(DeploymentRecordSchema, item, `a deployment record of ${service}/${environment}`),
    );
  }

  /**
   * Query the table page after page (`LastEvaluatedKey`) until there is no next page or `limit` items
   * were read; each item parsed with `parse` (its 1-based position, for error messages).
   */
  private async queryPages<T>(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>, parse: (item: Record<string, unknown>, position: number) => T, limit = Infinity): Promise<T[]> {
    const items: T[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await withRetryClassification(() => dynamoDocClient().send(new QueryCommand({ TableName: this.tableName, ...input, ExclusiveStartKey: start })));
      for (const item of out?.Items ?? []) items.push(parse(item, items.length + 1));
      start = out?.LastEvaluatedKey;
    } while (start && items.length < limit);
    return items.slice(0, limit);
  }

}
