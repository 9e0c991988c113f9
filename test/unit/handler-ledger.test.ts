import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeExecutionCommand, ExecutionDoesNotExist, SendTaskFailureCommand, TaskTimedOut } from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import { cloudWatchMock, dynamoMock, resetSdkMocks, sdkError, sfnMock, snsMock, throttlingError } from '../helpers/sdk-mocks';
import { handler } from '../../lambdas/ledger/handler';
import { approvalTokenHash } from '../../lib/domain/approvers';
import { withoutGitHub } from '../helpers/plans';
import { parseConfig } from '../../lib/config';
import { resolvePlan, type DeploymentPlan } from '../../lib/domain/plan';
import type { DeploymentState, EnvironmentState } from '../../lib/domain/records';

const TABLE = 'cutover-ledger-test';
const SHA = 'c0ffee0'.padEnd(40, '1');
const SAMPLE = withoutGitHub(JSON.parse(readFileSync(new URL('../fixtures/hello-world-production.json', import.meta.url), 'utf8')));
const config = parseConfig(SAMPLE);
/** The sample config with the production environment edited. */
const configWith = (edit: (env: Record<string, unknown>) => void) => {
  const raw = structuredClone(SAMPLE);
  edit(raw.services['hello-world'].environments.production);
  return parseConfig(raw);
};
const planFor = (name: string, cfg = config): DeploymentPlan =>
  resolvePlan(cfg, {
    input: { service: 'hello-world', environment: 'production', release: { commit: SHA } },
    execution: { id: `arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:${name}`, name, startTime: '2024-05-01T12:00:00.000Z' },
  });
const plan = planFor('run-1');
const LOCK_KEY = { pk: 'LOCK#hello-world#production', sk: 'LOCK' };
const RECORD_KEY = { pk: 'DEPLOYMENTS#hello-world#production', sk: '2024-05-01T12:00:00.000Z#run-1' };
const ENV_KEY = { pk: 'ENV#hello-world#production', sk: 'STATE' };
const AUDIT_PK = 'AUDIT#hello-world#production';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:cutover-notifications';
const ccf = () => sdkError(ConditionalCheckFailedException, 'The conditional request failed');

/** Items of the PutCommands sent, optionally only those whose pk starts with `prefix`. */
const putItems = (prefix = '') => dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!).filter((i) => String(i.pk).startsWith(prefix));
/** The audit timeline items written (PutItem on pk `AUDIT#…`). */
const audits = () => putItems('AUDIT#');
/** The SNS Publish inputs sent. */
const published = () => snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);

describe('ledger handler', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    resetSdkMocks();
    for (const k of ['TABLE_NAME', 'NOTIFICATION_TOPIC_ARN']) saved[k] = process.env[k];
    process.env.TABLE_NAME = TABLE;
    delete process.env.NOTIFICATION_TOPIC_ARN; // notifications are skipped unless a test sets the topic
    // DynamoDB answers like an empty table unless a test says otherwise.
    dynamoMock.on(GetCommand).resolves({});
    dynamoMock.on(QueryCommand).resolves({ Items: [] });
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  describe('acquire', () => {
    it('puts the lock with the same-execution condition, then the in-progress record, then the audit item', async () => {
      dynamoMock.on(PutCommand).resolves({});
      dynamoMock.on(UpdateCommand).rejects(ccf()); // no rollback window open
      const lock = (await handler({ action: 'acquire', plan })) as Record<string, unknown>;
      const puts = dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input);
      assert.equal(puts.length, 3);
      assert.equal(puts[0]!.TableName, TABLE);
      assert.equal(puts[0]!.ConditionExpression, 'attribute_not_exists(pk) OR executionArn = :me');
      assert.deepEqual(puts[0]!.ExpressionAttributeValues, { ':me': plan.executionArn });
      assert.deepEqual({ pk: puts[0]!.Item!.pk, sk: puts[0]!.Item!.sk }, LOCK_KEY);
      assert.equal(puts[0]!.Item!.executionArn, plan.executionArn);
      assert.equal(puts[1]!.ConditionExpression, 'attribute_not_exists(pk)');
      assert.deepEqual({ pk: puts[1]!.Item!.pk, sk: puts[1]!.Item!.sk }, RECORD_KEY);
      assert.equal(puts[1]!.Item!.status, 'in-progress');
      assert.equal(puts[1]!.Item!.image, plan.image);
      assert.equal(puts[1]!.Item!.kind, 'deploy');
      assert.equal(puts[0]!.Item!.purpose, 'deploy');
      const started = puts[2]!.Item!;
      assert.equal(started.pk, AUDIT_PK);
      assert.equal(started.sk, '2024-05-01T12:00:00.000Z#run-1-started', 'at the execution start, idempotent for a retry');
      assert.equal(started.kind, 'deployment-started');
      assert.equal(started.deploymentId, 'run-1');
      assert.equal(started.executionArn, plan.executionArn);
      assert.equal(started.actor, 'console', 'no actor: the trigger source');
      assert.match(started.message, /^console started the deployment of release c0ffee0$/);
      assert.equal(started.detail.commit, SHA);
      assert.equal(started.detail.approval, 'none');
      assert.equal(lock.deploymentId, 'run-1');
      assert.equal(lock.commit, SHA);
      assert.equal(dynamoMock.commandCalls(UpdateCommand).length, 0, 'the lock changes nothing else: the rollback window stays open until the gates passed (beginChanges)');
      assert.equal(published().length, 0, 'NOTIFICATION_TOPIC_ARN unset: no notification');
    });

    it('audits and notifies the start, and leaves an open rollback window alone (nothing changes before the gates pass)', async () => {
      process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
      dynamoMock.on(PutCommand).resolves({});
      dynamoMock.on(UpdateCommand).resolves({});
      const github = resolvePlan(config, {
        input: { service: 'hello-world', environment: 'production', release: { commit: SHA, message: 'Fix login' }, trigger: { source: 'github-push', actor: 'octocat' } },
        execution: { id: plan.executionArn, name: 'run-1', startTime: plan.startedAt },
      });
      await handler({ action: 'acquire', plan: github });
      assert.equal(dynamoMock.commandCalls(UpdateCommand).length, 0, 'no REMOVE rollbackWindow at acquire');
      const kinds = audits().map((a) => a.kind);
      assert.deepEqual(kinds, ['deployment-started']);
      assert.equal(audits()[0]!.actor, 'octocat');
      assert.match(audits()[0]!.message, /^github-push started the deployment of release c0ffee0 \("Fix login"\)$/);
      const [note] = published();
      assert.equal(published().length, 1);
      assert.equal(note!.TopicArn, TOPIC);
      assert.equal(note!.Subject, 'hello-world/production: deploying c0ffee0');
      assert.equal(note!.MessageAttributes!.kind!.StringValue, 'started');
      assert.equal(note!.MessageAttributes!.deploymentId!.StringValue, 'run-1');
      assert.match(note!.Message!, /Deployment run-1 of release c0ffee0 \("Fix login"\) started by octocat\./);
      assert.match(note!.Message!, /To act:\n  cutover status hello-world production/);
    });

    it('another holder → Cutover.DeploymentInProgress naming the holder (read back with GetCommand)', async () => {
      const holder = {
        ...LOCK_KEY,
        deploymentId: 'run-0',
        executionArn: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:run-0',
        acquiredAt: '2024-05-01T11:58:00.000Z',
        commit: 'deadbee'.padEnd(40, '0'),
      };
      dynamoMock.on(PutCommand).rejects(ccf());
      dynamoMock.on(GetCommand).resolves({ Item: holder });
      sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
      await assert.rejects(handler({ action: 'acquire', plan }), (err: Error) => {
        assert.equal(err.name, 'Cutover.DeploymentInProgress');
        assert.match(err.message, /^hello-world\/production is locked by deployment run-0 \(commit deadbee, since 2024-05-01T11:58:00\.000Z, execution arn:.*:run-0\)/);
        assert.match(err.message, /still running/);
        assert.match(err.message, /Wait for it to finish, or stop that execution/);
        return true;
      });
      const get = dynamoMock.commandCalls(GetCommand)[0]!.args[0].input;
      assert.deepEqual(get.Key, LOCK_KEY);
      assert.equal(get.ConsistentRead, true);
      assert.equal(dynamoMock.commandCalls(PutCommand).length, 1, 'no deployment record for a deployment that did not start');
    });

    for (const [what, behave] of [
      ['stopped', (m: typeof sfnMock) => m.on(DescribeExecutionCommand).resolves({ status: 'ABORTED' })],
      ['gone', (m: typeof sfnMock) => m.on(DescribeExecutionCommand).rejects(sdkError(ExecutionDoesNotExist, 'Execution Does Not Exist'))],
    ] as const) {
      it(`reclaims the lock of a ${what} execution with a write conditional on that stale holder`, async () => {
        const stale = 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:run-0';
        dynamoMock.on(PutCommand).rejectsOnce(ccf()).resolves({});
        dynamoMock.on(GetCommand).resolves({ Item: { ...LOCK_KEY, deploymentId: 'run-0', executionArn: stale, acquiredAt: 'x', commit: SHA } });
        behave(sfnMock);
        const lock = (await handler({ action: 'acquire', plan })) as { executionArn: string };
        assert.equal(lock.executionArn, plan.executionArn);
        assert.equal(sfnMock.commandCalls(DescribeExecutionCommand)[0]!.args[0].input.executionArn, stale);
        const puts = dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input);
        assert.equal(puts[1]!.ConditionExpression, 'executionArn = :stale');
        assert.deepEqual(puts[1]!.ExpressionAttributeValues, { ':stale': stale });
        assert.equal(puts[1]!.Item!.reclaimedFrom, stale);
        assert.equal(puts[2]!.Item!.status, 'in-progress', 'the deployment record is created');
      });
    }

    it('a lock that vanished between the write and the read still fails readably', async () => {
      dynamoMock.on(PutCommand).rejects(ccf());
      dynamoMock.on(GetCommand).resolves({});
      await assert.rejects(handler({ action: 'acquire', plan }), { name: 'Cutover.DeploymentInProgress', message: /locked by deployment \(unknown\)/ });
    });

    it('a retry by the same execution succeeds even though its record exists already', async () => {
      dynamoMock.on(PutCommand, { Item: LOCK_KEY }).resolves({}); // condition `executionArn = :me` holds
      dynamoMock.on(PutCommand, { Item: RECORD_KEY }).rejects(ccf()); // record written by the first attempt
      dynamoMock.on(UpdateCommand).rejects(ccf()); // the first attempt closed the window already
      const lock = (await handler({ action: 'acquire', plan })) as Record<string, unknown>;
      assert.equal(lock.executionArn, plan.executionArn);
      const puts = dynamoMock.commandCalls(PutCommand);
      assert.equal(puts.length, 3, 'lock, record (refused), audit');
      await assert.rejects(puts[1]!.returnValue, ConditionalCheckFailedException, 'the record write really was refused');
      assert.equal(puts[2]!.args[0].input.Item!.sk, '2024-05-01T12:00:00.000Z#run-1-started', 'the retry writes the same audit item again');
    });

    it('throttling → Cutover.Transient', async () => {
      dynamoMock.on(PutCommand).rejects(throttlingError('dynamodb'));
      await assert.rejects(handler({ action: 'acquire', plan }), { name: 'Cutover.Transient' });
    });

    it('TABLE_NAME missing is named', async () => {
      delete process.env.TABLE_NAME;
      await assert.rejects(handler({ action: 'acquire', plan }), /TABLE_NAME is not set/);
      assert.equal(dynamoMock.calls().length, 0);
    });
  });

  describe('finish', () => {
    const state = (over: Partial<DeploymentState> = {}): DeploymentState => ({ plan, slots: { live: 'blue', idle: 'green' }, ...over });

    it('succeeded: updates the record, writes the environment state, releases only its own lock', async () => {
      const t0 = Date.now();
      const out = (await handler({ action: 'finish', outcome: 'succeeded', deployment: state() })) as Record<string, unknown>;
      const t1 = Date.now();
      assert.equal(out.status, 'succeeded');
      assert.equal(out.liveSlot, 'green');
      const update = dynamoMock.commandCalls(UpdateCommand)[0]!.args[0].input;
      assert.deepEqual(update.Key, RECORD_KEY);
      assert.equal(update.ExpressionAttributeValues![':s'], 'succeeded');
      assert.equal(update.ExpressionAttributeValues![':l'], 'green');
      assert.equal(update.ExpressionAttributeValues![':e'], null);
      assert.match(update.UpdateExpression!, /REMOVE pendingTaskToken, pendingKind, pendingQuestion/);
      const get = dynamoMock.commandCalls(GetCommand).map((c) => c.args[0].input).find((g) => g.Key!.pk === ENV_KEY.pk);
      assert.ok(get, 'reads the environment state before writing it');
      assert.equal(get.ConsistentRead, true);
      const puts = putItems('ENV#');
      assert.equal(puts.length, 1);
      assert.deepEqual(
        { pk: puts[0]!.pk, sk: puts[0]!.sk, liveSlot: puts[0]!.liveSlot, lastGoodDeploymentId: puts[0]!.lastGoodDeploymentId, lastGoodCommit: puts[0]!.lastGoodCommit },
        { pk: 'ENV#hello-world#production', sk: 'STATE', liveSlot: 'green', lastGoodDeploymentId: 'run-1', lastGoodCommit: SHA },
      );
      const env = puts[0] as EnvironmentState;
      const { promotedAt, ...current } = env.current!;
      assert.deepEqual(current, {
        deploymentId: 'run-1',
        commit: SHA,
        image: plan.image,
        slot: 'green',
        startedAt: plan.startedAt,
        source: 'console',
        migrationsRan: false,
        snapshot: null,
      });
      assert.ok(Date.parse(promotedAt!) >= t0 - 1 && Date.parse(promotedAt!) <= t1 + 1);
      // The rollback window opens on the previous live slot, for plan.rollbackWindowSeconds.
      const { until, ...window } = env.rollbackWindow!;
      assert.deepEqual(window, { deploymentId: 'run-1', keptSlot: 'blue', kept: { slot: 'blue' }, seconds: 1800 });
      assert.equal(Date.parse(until) - Date.parse(promotedAt!), 1800 * 1000, 'until = promotion time + rollbackWindowSeconds');
      const finished = audits().find((a) => a.kind === 'deployment-finished')!;
      assert.ok(finished, 'the outcome is on the audit timeline');
      assert.match(finished.sk, /#run-1-finished$/);
      assert.equal(finished.detail.status, 'succeeded');
      assert.equal(finished.message, out.message);
      const del = dynamoMock.commandCalls(DeleteCommand)[0]!.args[0].input;
      assert.deepEqual(del.Key, LOCK_KEY);
      assert.equal(del.ConditionExpression, 'executionArn = :me');
      assert.deepEqual(del.ExpressionAttributeValues, { ':me': plan.executionArn });
    });

    it('failed: records the failure and does not touch the environment state', async () => {
      const out = (await handler({
        action: 'finish',
        outcome: 'failed',
        deployment: state({ failure: { Error: 'Cutover.GreenUnstable', Cause: 'never stable' } }),
      })) as Record<string, unknown>;
      assert.equal(out.status, 'failed');
      const update = dynamoMock.commandCalls(UpdateCommand)[0]!.args[0].input;
      assert.equal(update.ExpressionAttributeValues![':s'], 'failed');
      assert.equal(update.ExpressionAttributeValues![':e'], 'Cutover.GreenUnstable');
      assert.equal(putItems('ENV#').length, 0, 'the environment state is not touched');
      assert.equal(dynamoMock.commandCalls(GetCommand).filter((c) => c.args[0].input.Key!.pk === ENV_KEY.pk).length, 0);
      assert.deepEqual(audits().map((a) => [a.kind, a.detail?.status]), [['deployment-finished', 'failed']]);
      assert.equal(putItems().length, audits().length, 'only audit items are put');
      assert.equal(dynamoMock.commandCalls(DeleteCommand).length, 1);
    });

    it('succeeded after an earlier promotion: the window keeps that release on its slot', async () => {
      const previous = { deploymentId: 'run-0', commit: 'deadbee'.padEnd(40, '0'), image: 'repo:deadbee', slot: 'blue', startedAt: '2024-04-30T09:00:00.000Z', source: 'github-push' };
      dynamoMock.on(GetCommand, { Key: ENV_KEY }).resolves({ Item: { ...ENV_KEY, liveSlot: 'blue', current: previous, updatedAt: 'x' } });
      await handler({ action: 'finish', outcome: 'succeeded', deployment: state({ migration: { ran: true }, snapshot: { taken: true, identifier: 'snap-1', createdAt: '2024-05-01T12:01:00.000Z' } }) });
      const env = putItems('ENV#')[0] as EnvironmentState;
      assert.deepEqual(env.rollbackWindow!.kept, previous);
      assert.equal(env.rollbackWindow!.keptSlot, 'blue');
      assert.equal(env.current!.migrationsRan, true);
      assert.deepEqual(env.current!.snapshot, { identifier: 'snap-1', createdAt: '2024-05-01T12:01:00.000Z' }, 'the restore point of a later rollback');
    });

    it('a retried Promote keeps the window it opened (and what it keeps)', async () => {
      const kept = { deploymentId: 'run-0', commit: 'deadbee'.padEnd(40, '0'), slot: 'blue' };
      const item = {
        ...ENV_KEY,
        liveSlot: 'green',
        current: { deploymentId: 'run-1', commit: SHA, slot: 'green' },
        rollbackWindow: { deploymentId: 'run-1', keptSlot: 'blue', kept, until: '2024-05-01T12:40:00.000Z', seconds: 1800 },
        updatedAt: 'x',
      };
      dynamoMock.on(GetCommand, { Key: ENV_KEY }).resolves({ Item: item });
      await handler({ action: 'finish', outcome: 'succeeded', deployment: state() });
      assert.deepEqual((putItems('ENV#')[0] as EnvironmentState).rollbackWindow!.kept, kept);
    });

    it('rollbackWindowSeconds 0: current is written, no rollback window', async () => {
      const noWindow = planFor('run-1', configWith((e) => { e.rollbackWindowSeconds = 0; }));
      assert.equal(noWindow.rollbackWindowSeconds, 0);
      await handler({ action: 'finish', outcome: 'succeeded', deployment: { plan: noWindow, slots: { live: 'blue', idle: 'green' } } });
      const env = putItems('ENV#')[0] as EnvironmentState;
      assert.equal(env.current!.deploymentId, 'run-1');
      assert.equal(env.liveSlot, 'green');
      assert.equal('rollbackWindow' in env, false);
    });

    it('notifies the outcome with what to do next (rollback on success, history otherwise)', async () => {
      process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
      await handler({ action: 'finish', outcome: 'succeeded', deployment: state() });
      await handler({ action: 'finish', outcome: 'failed', deployment: state({ failure: { Error: 'Cutover.GreenUnstable', Cause: 'never stable' } }) });
      const [ok, failed] = published();
      assert.equal(published().length, 2);
      assert.equal(ok!.MessageAttributes!.kind!.StringValue, 'succeeded');
      assert.equal(ok!.Subject, 'hello-world/production: c0ffee0 succeeded');
      assert.match(ok!.Message!, /is live on green with 100% of production traffic/);
      assert.match(ok!.Message!, /To act:\n  cutover rollback hello-world production --reason "<why>"/);
      assert.equal(failed!.MessageAttributes!.kind!.StringValue, 'failed');
      assert.match(failed!.Message!, /To act:\n  cutover history hello-world production --deployment run-1/);
    });

    it('records who approved, promoted now, aborted, and an alarm, before the outcome', async () => {
      await handler({
        action: 'finish',
        outcome: 'failed',
        deployment: state({
          approval: { approved: true, operator: 'alice', comment: 'looks good' },
          promoteNow: { action: 'promote-now', operator: 'bob' },
          failure: { Error: 'Cutover.Aborted', Cause: 'bad metrics (aborted by carol)' },
        }),
      });
      assert.deepEqual(
        audits().map((a) => [a.kind, a.actor]),
        [['operator-action', 'alice'], ['operator-action', 'bob'], ['operator-action', 'carol'], ['deployment-finished', 'cutover']],
      );
      assert.match(audits()[0]!.message, /^approved the deployment: looks good$/);
      assert.match(audits()[2]!.message, /^aborted the deployment: bad metrics \(aborted by carol\)$/);
      dynamoMock.resetHistory();
      await handler({ action: 'finish', outcome: 'failed', deployment: state({ failure: { Error: 'Cutover.AlarmFiring', Cause: 'alarm X is in ALARM' } }) });
      assert.deepEqual(audits().map((a) => [a.kind, a.actor, a.message]).slice(0, 1), [['alarm', 'alarm', 'alarm X is in ALARM']]);
    });

    it('a lock held by someone else (or gone) is left alone: ConditionalCheckFailed is ignored', async () => {
      dynamoMock.on(DeleteCommand).rejects(ccf());
      const out = (await handler({ action: 'finish', outcome: 'rollback-failed', deployment: state({ failure: { Error: 'X' } }) })) as Record<string, unknown>;
      assert.equal(out.status, 'rollback-failed');
    });

    it('other Delete errors are not swallowed', async () => {
      dynamoMock.on(DeleteCommand).rejects(throttlingError('dynamodb'));
      await assert.rejects(handler({ action: 'finish', outcome: 'failed', deployment: state() }), { name: 'Cutover.Transient' });
    });
  });

  describe('awaitDatabaseDecision', () => {
    it('stores the task token and the question (with the data-loss window) on the deployment record', async () => {
      const createdAt = new Date(Date.now() - 7 * 60_000 - 1000).toISOString();
      const deployment: DeploymentState = {
        plan,
        snapshot: { taken: true, identifier: 'snap-1', createdAt },
      };
      const out = await handler({ action: 'awaitDatabaseDecision', taskToken: 'token-123', deployment });
      assert.deepEqual(out, { waiting: true });
      const update = dynamoMock.commandCalls(UpdateCommand)[0]!.args[0].input;
      assert.deepEqual(update.Key, RECORD_KEY);
      assert.equal(update.UpdateExpression, 'SET pendingTaskToken = :t, pendingKind = :k, pendingQuestion = :q, pendingSince = :s, pendingUntil = :u REMOVE pendingImage');
      assert.equal(update.ExpressionAttributeValues![':k'], 'database-decision');
      // The wait's bounds: since the handler's clock, until 24 h later (the state's TimeoutSeconds).
      const since = Date.parse(update.ExpressionAttributeValues![':s']);
      assert.equal(Date.parse(update.ExpressionAttributeValues![':u']) - since, 86_400_000);
      assert.equal(update.ExpressionAttributeValues![':t'], 'token-123');
      assert.ok(
        update.ExpressionAttributeValues![':q'].includes(`Restore snapshot snap-1 (discards every write made since ${createdAt} (the last 7 min)) or keep the database as it is?`),
        update.ExpressionAttributeValues![':q'],
      );
      assert.deepEqual(audits().map((a) => [a.kind, a.deploymentId]), [['waiting', 'run-1']]);
      assert.deepEqual(audits()[0]!.detail.snapshot, deployment.snapshot);
    });

    it('a snapshot time ahead of the clock (the twin\'s simulated time) gives no age', async () => {
      const createdAt = new Date(Date.now() + 3_600_000).toISOString();
      await handler({ action: 'awaitDatabaseDecision', taskToken: 'token-123', deployment: { plan, snapshot: { taken: true, identifier: 'snap-1', createdAt } } });
      const q = dynamoMock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues![':q'] as string;
      assert.ok(q.includes(`(discards every write made since ${createdAt}) or keep`), q);
    });

    it('notifies the question with the restore / keep commands', async () => {
      process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
      await handler({ action: 'awaitDatabaseDecision', taskToken: 'token-123', deployment: { plan, snapshot: { taken: true, identifier: 'snap-1' } } });
      const [note] = published();
      assert.equal(note!.MessageAttributes!.kind!.StringValue, 'awaiting-decision');
      assert.match(note!.Message!, /Restore snapshot snap-1 \(discards every write made since the snapshot\)/);
      assert.match(note!.Message!, /To act:\n  cutover approve hello-world production --decision restore\n  cutover approve hello-world production --decision keep/);
    });

    it('an empty token is Cutover.InvalidInput', async () => {
      await assert.rejects(handler({ action: 'awaitDatabaseDecision', taskToken: '', deployment: { plan } }), { name: 'Cutover.InvalidInput' });
      assert.equal(dynamoMock.calls().length, 0);
    });
  });
  describe('awaitApproval', () => {
    const gated = (gate: 'before-traffic' | 'before-promote') => planFor('run-1', configWith((e) => { e.approval = gate; e.approvalTimeoutSeconds = 3600; }));
    // The alarms are clear unless a test says otherwise (awaitApproval checks them, like awaitBake).
    beforeEach(() => cloudWatchMock.on(DescribeAlarmsCommand).callsFake((input: { AlarmNames?: string[] }) => ({ MetricAlarms: (input.AlarmNames ?? []).map((AlarmName) => ({ AlarmName, StateValue: 'OK' })) })));

    it('before-traffic: stores an approval wait (record and lock) with a question naming where it waits and the timeout', async () => {
      const p = gated('before-traffic');
      assert.equal(p.approval.beforeStepIndex, 0);
      const out = await handler({ action: 'awaitApproval', taskToken: 'approval-token', plan: p, traffic: { index: 0, percent: 0, nextIndex: 0 } });
      assert.deepEqual(out, { waiting: true });
      const [record, lock] = dynamoMock.commandCalls(UpdateCommand).map((c) => c.args[0].input);
      assert.deepEqual(record!.Key, RECORD_KEY);
      assert.deepEqual(lock!.Key, LOCK_KEY);
      assert.equal(lock!.ConditionExpression, 'executionArn = :me');
      assert.equal(lock!.ExpressionAttributeValues![':me'], p.executionArn);
      for (const u of [record!, lock!]) {
        assert.equal(u.ExpressionAttributeValues![':t'], 'approval-token');
        assert.equal(u.ExpressionAttributeValues![':k'], 'approval', 'the alarm function fails approval waits too');
        const q = u.ExpressionAttributeValues![':q'] as string;
        assert.match(q, /^hello-world\/production: deployment run-1 of c0ffee0 waits for approval before any production traffic \(the new release is up and stable, on the test listener\); /);
        assert.match(q, /without an answer in 3600 s it rolls back\./);
        assert.match(q, /Approve: SendTaskSuccess \{"approved":true,"operator":"<name>"\}\. Reject: SendTaskFailure with error "Cutover\.Rejected"/);
      }
      const [waiting] = audits();
      assert.equal(waiting!.kind, 'waiting');
      assert.deepEqual(waiting!.detail, { gate: 'before-traffic', timeoutSeconds: 3600 });
      assert.match(waiting!.message, /^awaiting approval before any production traffic/);
      assert.equal(sfnMock.commandCalls(SendTaskFailureCommand).length, 0);
    });

    it('before-promote: names the percent it waits at and the step it gates', async () => {
      const p = gated('before-promote');
      assert.equal(p.approval.beforeStepIndex, 1);
      await handler({ action: 'awaitApproval', taskToken: 'approval-token', plan: p, traffic: { index: 0, percent: 10, nextIndex: 1 } });
      const q = dynamoMock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues![':q'] as string;
      assert.match(q, /waits for approval at 10%, before it takes 100% of production traffic; without an answer in 3600 s it rolls back/);
      assert.equal(audits()[0]!.detail.gate, 'before-promote');
    });

    it('notifies who must act, with the cutover approve / reject commands', async () => {
      process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
      await handler({ action: 'awaitApproval', taskToken: 'approval-token', plan: gated('before-traffic'), traffic: { percent: 0, nextIndex: 0 } });
      const [note] = published();
      assert.equal(published().length, 1);
      assert.equal(note!.TopicArn, TOPIC);
      assert.equal(note!.MessageAttributes!.kind!.StringValue, 'awaiting-approval');
      assert.equal(note!.Subject, 'hello-world/production: approve c0ffee0?');
      assert.match(note!.Message!, /waits for approval before any production traffic/);
      assert.match(
        note!.Message!,
        /To act:\n  cutover approve hello-world production \[--comment "<text>"\]\n  cutover reject hello-world production --reason "<why>"$/,
      );
    });

    it('an abort requested on the lock fails the approval token with Cutover.Aborted and the operator, without notifying', async () => {
      process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
      const p = gated('before-traffic');
      dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({
        Item: { ...LOCK_KEY, deploymentId: 'run-1', executionArn: p.executionArn, acquiredAt: '2024-05-01T12:00:00.000Z', commit: SHA, pendingKind: 'approval', abortRequested: { by: 'alice', reason: 'customer demo', at: '2024-05-01T12:05:00.000Z' } },
      });
      sfnMock.on(SendTaskFailureCommand).resolves({});
      const out = await handler({ action: 'awaitApproval', taskToken: 'approval-token', plan: p, traffic: { percent: 0, nextIndex: 0 } });
      assert.deepEqual(out, { waiting: false, aborted: true });
      const failure = sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
      assert.equal(failure.taskToken, 'approval-token');
      assert.equal(failure.error, 'Cutover.Aborted');
      assert.equal(failure.cause, 'customer demo (aborted by alice)');
      assert.equal(published().length, 0, 'nobody is asked to approve an aborted deployment');
    });

    it('a token already closed when the abort fails it is harmless', async () => {
      const p = gated('before-traffic');
      dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({ Item: { ...LOCK_KEY, deploymentId: 'run-1', executionArn: p.executionArn, acquiredAt: '2024-05-01T12:00:00.000Z', commit: SHA, abortRequested: { by: 'alice', reason: 'r', at: 'a' } } });
      sfnMock.on(SendTaskFailureCommand).rejects(sdkError(TaskTimedOut));
      assert.deepEqual(await handler({ action: 'awaitApproval', taskToken: 't', plan: p, traffic: { percent: 0, nextIndex: 0 } }), { waiting: false, aborted: true });
    });

    it(
      'an alarm already in ALARM as the approval wait starts fails the token with Cutover.AlarmFiring (as awaitBake does)',
      async () => {
        const p = gated('before-promote');
        cloudWatchMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: p.alarms.map((AlarmName, i) => ({ AlarmName, StateValue: i === 0 ? 'ALARM' : 'OK', StateReason: 'Threshold Crossed' })) });
        sfnMock.on(SendTaskFailureCommand).resolves({});
        const out = await handler({ action: 'awaitApproval', taskToken: 'approval-token', plan: p, traffic: { index: 0, percent: 10, nextIndex: 1 } });
        assert.deepEqual(out, { waiting: false, alarming: true });
        assert.equal(sfnMock.commandCalls(SendTaskFailureCommand)[0]?.args[0].input.error, 'Cutover.AlarmFiring');
      },
    );

    it('without traffic.nextIndex it is Cutover.InvalidInput, with nothing written', async () => {
      await assert.rejects(handler({ action: 'awaitApproval', taskToken: 't', plan: gated('before-traffic'), traffic: { percent: 0 } }), { name: 'Cutover.InvalidInput' });
      assert.equal(dynamoMock.calls().length, 0);
    });
  });

  describe('awaitBake', () => {
    const traffic = { index: 0, percent: 10, bakeSeconds: 300, last: false, nextIndex: 1 };
    const alarms = (state: 'OK' | 'ALARM') => ({
      MetricAlarms: plan.alarms.map((name, i) => ({ AlarmName: name, StateValue: i === 0 ? state : 'OK', StateReason: 'Threshold Crossed: 1 datapoint [3.0] was >= 1.0' })),
    });

    it('stores the bake token on the record and on the lock (only while this execution holds it)', async () => {
      dynamoMock.on(UpdateCommand).resolves({});
      cloudWatchMock.on(DescribeAlarmsCommand).resolves(alarms('OK'));
      const out = await handler({ action: 'awaitBake', taskToken: 'bake-token', plan, traffic });
      assert.deepEqual(out, { waiting: true });
      const [record, lock] = dynamoMock.commandCalls(UpdateCommand).map((c) => c.args[0].input);
      assert.deepEqual(record!.Key, RECORD_KEY);
      assert.deepEqual(lock!.Key, { pk: 'LOCK#hello-world#production', sk: 'LOCK' });
      assert.equal(lock!.ConditionExpression, 'executionArn = :me');
      for (const u of [record!, lock!]) {
        assert.equal(u.ExpressionAttributeValues![':t'], 'bake-token');
        assert.equal(u.ExpressionAttributeValues![':k'], 'bake');
        assert.match(u.ExpressionAttributeValues![':q'], /baking at 10% for 300 s; an alarm rolls it back at once\. Promote now: SendTaskSuccess \{"action":"promote-now"/);
      }
      assert.equal(sfnMock.commandCalls(SendTaskFailureCommand).length, 0, 'no alarm: the bake runs');
    });

    it('fails its own token at once with Cutover.AlarmFiring when an alarm is already in ALARM', async () => {
      dynamoMock.on(UpdateCommand).resolves({});
      cloudWatchMock.on(DescribeAlarmsCommand).resolves(alarms('ALARM'));
      sfnMock.on(SendTaskFailureCommand).resolves({});
      const out = await handler({ action: 'awaitBake', taskToken: 'bake-token', plan, traffic });
      assert.deepEqual(out, { waiting: false, alarming: true });
      const failure = sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
      assert.equal(failure.taskToken, 'bake-token');
      assert.equal(failure.error, 'Cutover.AlarmFiring');
      assert.match(failure.cause!, new RegExp(`alarm ${plan.alarms[0]} is in ALARM as the bake at 10% starts: Threshold Crossed`));
    });

    it('fails its own token with Cutover.ResourceState when a configured alarm does not exist (as alarm-check does)', async () => {
      dynamoMock.on(UpdateCommand).resolves({});
      cloudWatchMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
      sfnMock.on(SendTaskFailureCommand).resolves({});
      const out = await handler({ action: 'awaitBake', taskToken: 'bake-token', plan, traffic });
      assert.deepEqual(out, { waiting: false, alarming: true });
      const failure = sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
      assert.equal(failure.error, 'Cutover.ResourceState');
      assert.match(failure.cause!, new RegExp(`^Alarm\\(s\\) ${plan.alarms.join(', ')} do not exist in CloudWatch as the bake at 10% starts .*fix "alarms" in the config\\.$`));
    });

    it('keeps the record when the lock is no longer this execution\'s, and tolerates a token already closed', async () => {
      dynamoMock.on(UpdateCommand, { Key: { pk: 'LOCK#hello-world#production', sk: 'LOCK' } }).rejects(sdkError(ConditionalCheckFailedException));
      dynamoMock.on(UpdateCommand, { Key: RECORD_KEY }).resolves({});
      cloudWatchMock.on(DescribeAlarmsCommand).resolves(alarms('ALARM'));
      sfnMock.on(SendTaskFailureCommand).rejects(sdkError(TaskTimedOut));
      const out = await handler({ action: 'awaitBake', taskToken: 'bake-token', plan, traffic });
      assert.deepEqual(out, { waiting: false, alarming: true });
    });

    it('an abort requested on the lock earlier fails the bake token at once with Cutover.Aborted, naming the operator', async () => {
      dynamoMock.on(UpdateCommand).resolves({});
      dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({
        Item: { ...LOCK_KEY, deploymentId: 'run-1', executionArn: plan.executionArn, acquiredAt: '2024-05-01T12:00:00.000Z', commit: SHA, abortRequested: { by: 'alice', reason: 'wrong build', at: '2024-05-01T12:05:00.000Z' } },
      });
      sfnMock.on(SendTaskFailureCommand).resolves({});
      cloudWatchMock.on(DescribeAlarmsCommand).resolves(alarms('OK'));
      const out = await handler({ action: 'awaitBake', taskToken: 'bake-token', plan, traffic });
      assert.deepEqual(out, { waiting: false, aborted: true });
      const failure = sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
      assert.deepEqual({ taskToken: failure.taskToken, error: failure.error, cause: failure.cause }, { taskToken: 'bake-token', error: 'Cutover.Aborted', cause: 'wrong build (aborted by alice)' });
      assert.equal(sfnMock.commandCalls(SendTaskFailureCommand).length, 1);
      const updates = dynamoMock.commandCalls(UpdateCommand).map((c) => c.args[0].input);
      assert.equal(updates.length, 3, 'the token is stored first (the wait is visible), and the first production traffic');
      assert.match(updates[2]!.UpdateExpression!, /^SET #f0 = if_not_exists\(#f0, :v0\)$/);
      assert.equal(updates[2]!.ExpressionAttributeNames!['#f0'], 'trafficAt');
      const get = dynamoMock.commandCalls(GetCommand).find((c) => c.args[0].input.Key!.pk === LOCK_KEY.pk)!.args[0].input;
      assert.equal(get.ConsistentRead, true);
    });

    it('an abort request on a lock held by another execution is not ours: the bake runs', async () => {
      dynamoMock.on(UpdateCommand).resolves({});
      dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({
        Item: { ...LOCK_KEY, deploymentId: 'run-0', executionArn: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:run-0', acquiredAt: '2024-05-01T12:00:00.000Z', commit: SHA, abortRequested: { by: 'alice', reason: 'x', at: 'y' } },
      });
      cloudWatchMock.on(DescribeAlarmsCommand).resolves(alarms('OK'));
      const out = await handler({ action: 'awaitBake', taskToken: 'bake-token', plan, traffic });
      assert.deepEqual(out, { waiting: true });
      assert.equal(sfnMock.commandCalls(SendTaskFailureCommand).length, 0);
    });

    it('a bake without bake seconds is Cutover.InvalidInput, with nothing written', async () => {
      await assert.rejects(handler({ action: 'awaitBake', taskToken: 't', plan, traffic: { percent: 10 } }), { name: 'Cutover.InvalidInput' });
      assert.equal(dynamoMock.calls().length, 0);
    });
  });
});

describe('ledger handler: verifyApproval', () => {
  let savedTable: string | undefined;
  beforeEach(() => {
    resetSdkMocks();
    savedTable = process.env.TABLE_NAME;
    process.env.TABLE_NAME = TABLE;
  });
  afterEach(() => {
    if (savedTable === undefined) delete process.env.TABLE_NAME;
    else process.env.TABLE_NAME = savedTable;
  });
  const gated = planFor(
    'run-1',
    configWith((env) => {
      env.approval = 'before-traffic';
      env.approvers = ['release-managers'];
    }),
  );
  const recordWith = (approval: Record<string, unknown> | undefined, pendingTaskToken = 'token-2') => ({
    ...RECORD_KEY,
    deploymentId: 'run-1',
    executionArn: gated.executionArn,
    service: 'hello-world',
    environment: 'production',
    status: 'in-progress',
    commit: SHA,
    image: 'img',
    trigger: { source: 'console' },
    startedAt: gated.startedAt,
    pendingKind: 'approval',
    pendingTaskToken,
    ...(approval ? { approval } : {}),
  });
  const by = (callerArn: string, token: string) => ({ id: 'ap-1', by: 'ada', callerArn, at: '2024-05-01T12:05:00.000Z', tokenHash: approvalTokenHash(token) });
  const APPROVER = 'arn:aws:sts::123456789012:assumed-role/release-managers/ada';

  it('accepts the approval recorded for the wait that just ended, by an approver', async () => {
    dynamoMock.on(GetCommand, { Key: RECORD_KEY }).resolves({ Item: recordWith(by(APPROVER, 'token-2')) });
    assert.deepEqual(await handler({ action: 'verifyApproval', plan: gated }), { approvedBy: 'ada', callerArn: APPROVER, matched: 'arn:aws:iam::123456789012:role/release-managers' });
  });

  it('refuses an approval recorded for an earlier wait (a retried AwaitApproval has a new token)', async () => {
    dynamoMock.on(GetCommand, { Key: RECORD_KEY }).resolves({ Item: recordWith(by(APPROVER, 'token-1')) });
    await assert.rejects(handler({ action: 'verifyApproval', plan: gated }), { name: 'Cutover.NotAnApprover', message: /did not come through the approval function/ });
  });

  it('refuses no recorded approval, and one by a caller who is not an approver, saying the deployment rolls back', async () => {
    dynamoMock.on(GetCommand, { Key: RECORD_KEY }).resolves({ Item: recordWith(undefined) });
    await assert.rejects(handler({ action: 'verifyApproval', plan: gated }), { name: 'Cutover.NotAnApprover', message: /SendTaskSuccess directly .* rolls back — deploy again/ });
    dynamoMock.on(GetCommand, { Key: RECORD_KEY }).resolves({ Item: recordWith(by('arn:aws:sts::123456789012:assumed-role/developers/bob', 'token-2')) });
    await assert.rejects(handler({ action: 'verifyApproval', plan: gated }), { name: 'Cutover.NotAnApprover', message: /is by arn:aws:sts::123456789012:assumed-role\/developers\/bob, who is not an approver of hello-world\/production/ });
  });
});
