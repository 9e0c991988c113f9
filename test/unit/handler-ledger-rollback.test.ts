/**
 * The ledger function's rollback actions — `beginRollback`, `lockRollback`, `finishRollback` — and the
 * rollback window's `closeWindow` (SDK clients mocked: DynamoDB for the lock, records, environment state
 * and audit timeline; Step Functions for DescribeExecution; SNS for notifications).
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import { dynamoMock, resetSdkMocks, sdkError, sfnMock, snsMock } from '../helpers/sdk-mocks';
import { handler } from '../../lambdas/ledger/handler';
import type { DeploymentRecord } from '../../lib/aws/ledger';
import { parseConfig } from '../../lib/config';
import { resolvePlan, resolveRollbackPlan, type DeploymentPlan, type RollbackPlan } from '../../lib/domain/plan';
import type { EnvironmentState, Outcome, ReleaseRef, RollbackState, RollbackTarget } from '../../lib/domain/records';

const TABLE = 'cutover-ledger-test';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:cutover-notifications';
const config = parseConfig(JSON.parse(readFileSync(new URL('../fixtures/hello-world-production.json', import.meta.url), 'utf8')));
const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world';
const sha = (c: string) => c.repeat(40);
const SHA0 = sha('0');
const SHA1 = sha('1');
const SHA2 = sha('2');
const SHA3 = sha('3');
const DEPLOY_ARN = (name: string) => `arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:${name}`;
const RB_ARN = 'arn:aws:states:us-east-1:123456789012:execution:cutover-rollback:rb-1';
const RB_STARTED = '2024-05-02T08:00:00.000Z';

const LOCK_KEY = { pk: 'LOCK#hello-world#production', sk: 'LOCK' };
const ENV_KEY = { pk: 'ENV#hello-world#production', sk: 'STATE' };
const HISTORY_PK = 'DEPLOYMENTS#hello-world#production';
const RB_RECORD_KEY = { pk: HISTORY_PK, sk: `${RB_STARTED}#rb-1` };
const ccf = () => sdkError(ConditionalCheckFailedException, 'The conditional request failed');

const rollbackPlan = (input: Record<string, unknown> = {}): RollbackPlan =>
  resolveRollbackPlan(config, {
    kind: 'rollback',
    input: { service: 'hello-world', environment: 'production', reason: '5xx after the release', trigger: { source: 'cli', actor: 'alice' }, ...input },
    execution: { id: RB_ARN, name: 'rb-1', startTime: RB_STARTED },
  });

/** A deployment record as the ledger writes it. */
function record(id: string, commit: string, startedAt: string, over: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return {
    pk: HISTORY_PK,
    sk: `${startedAt}#${id}`,
    deploymentId: id,
    executionArn: DEPLOY_ARN(id),
    service: 'hello-world',
    environment: 'production',
    status: 'succeeded',
    commit,
    image: `${IMAGE}:${commit}`,
    trigger: { source: 'github-push', actor: 'octocat' },
    startedAt,
    kind: 'deploy',
    ...over,
  };
}
const T0 = '2024-05-01T08:00:00.000Z';
const T1 = '2024-05-01T10:00:00.000Z';
const T1B = '2024-05-01T11:00:00.000Z';
const T2 = '2024-05-01T12:00:00.000Z';
const T2B = '2024-05-01T12:30:00.000Z';
const T3 = '2024-05-01T14:00:00.000Z';
const T4 = '2024-05-01T15:00:00.000Z';
/** Newest first, as Query with ScanIndexForward false returns them; run-3 is live. */
const HISTORY: DeploymentRecord[] = [
  record('run-4', sha('4'), T4, { status: 'failed' }),
  record('run-3', SHA3, T3),
  record('rb-9', SHA1, T2B, { kind: 'rollback', status: 'rolled-back', reason: 'slow', trigger: { source: 'cli', actor: 'bob' } }),
  record('run-2', SHA2, T2, { rolledBackBy: 'rb-9' }),
  record('run-1b', sha('b'), T1B, { status: 'failed' }),
  record('run-1', SHA1, T1),
  record('run-0', SHA0, T0),
];
const ref = (r: DeploymentRecord, slot: 'blue' | 'green', over: Partial<ReleaseRef> = {}): ReleaseRef => ({
  deploymentId: r.deploymentId,
  commit: r.commit,
  image: r.image,
  slot,
  startedAt: r.startedAt,
  ...over,
});
const byId = (id: string) => HISTORY.find((h) => h.deploymentId === id)!;
const SNAP3 = { identifier: 'cutover-hello-world-production-run3', createdAt: '2024-05-01T14:02:00.000Z' };
/** run-3 live on green, after migrations with a snapshot; promoted at T3 + 20 min. */
const CURRENT: ReleaseRef = ref(byId('run-3'), 'green', { promotedAt: '2024-05-01T14:20:00.000Z', source: 'github-push', migrationsRan: true, snapshot: SNAP3 });
const KEPT: ReleaseRef = ref(byId('run-1'), 'blue', { source: 'github-push', migrationsRan: false, snapshot: null });
const envState = (over: Partial<EnvironmentState> = {}): EnvironmentState => ({ ...ENV_KEY, liveSlot: 'green', current: CURRENT, updatedAt: 'x', ...over });
const WINDOW = { deploymentId: 'run-3', keptSlot: 'blue' as const, kept: KEPT, until: '2024-05-01T14:50:00.000Z', seconds: 1800 };

const putItems = (prefix = '') => dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!).filter((i) => String(i.pk).startsWith(prefix));
const audits = () => putItems('AUDIT#');
const updates = () => dynamoMock.commandCalls(UpdateCommand).map((c) => c.args[0].input);
const deletes = () => dynamoMock.commandCalls(DeleteCommand).map((c) => c.args[0].input);
const published = () => snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);

function givenEnvironment(item: EnvironmentState | undefined, history: DeploymentRecord[] = HISTORY): void {
  dynamoMock.on(GetCommand, { Key: ENV_KEY }).resolves(item ? { Item: item } : {});
  dynamoMock.on(QueryCommand, { ExpressionAttributeValues: { ':pk': HISTORY_PK } }).resolves({ Items: history });
}

describe('ledger handler: rollback', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    resetSdkMocks();
    for (const k of ['TABLE_NAME', 'NOTIFICATION_TOPIC_ARN']) saved[k] = process.env[k];
    process.env.TABLE_NAME = TABLE;
    delete process.env.NOTIFICATION_TOPIC_ARN;
    dynamoMock.on(GetCommand).resolves({});
    dynamoMock.on(QueryCommand).resolves({ Items: [] });
    dynamoMock.on(PutCommand).resolves({});
    dynamoMock.on(UpdateCommand).resolves({});
    dynamoMock.on(DeleteCommand).resolves({});
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  describe('beginRollback', () => {
    const begin = async (plan = rollbackPlan()) => (await handler({ action: 'beginRollback', plan })) as RollbackTarget;

    it('window open: flips back to the kept slot; takes the lock for the rollback and keeps it; creates the rollback record', async () => {
      process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
      givenEnvironment(envState({ rollbackWindow: WINDOW }));
      const target = await begin();
      const { deployInput, ...rest } = target;
      assert.deepEqual(rest, {
        mode: 'kept-slot',
        slots: { live: 'blue', idle: 'green' },
        target: KEPT,
        from: CURRENT,
        database: { restorable: true, snapshot: SNAP3 },
        message: `flip production back to the kept slot blue (1111111 (run-1)) from 3333333 (run-3)`,
      });
      assert.ok(deployInput, 'the kept release is known: a redeploy is the fallback if the kept slot is unhealthy');
      assert.equal((deployInput.release as { commit: string }).commit, SHA1);

      const [lock] = putItems('LOCK#');
      assert.deepEqual({ pk: lock!.pk, sk: lock!.sk }, LOCK_KEY);
      assert.deepEqual(
        { deploymentId: lock!.deploymentId, executionArn: lock!.executionArn, commit: lock!.commit, purpose: lock!.purpose },
        { deploymentId: 'rb-1', executionArn: RB_ARN, commit: '-', purpose: 'rollback' },
      );
      const lockPut = dynamoMock.commandCalls(PutCommand).find((c) => c.args[0].input.Item!.pk === LOCK_KEY.pk)!.args[0].input;
      assert.equal(lockPut.ConditionExpression, 'attribute_not_exists(pk) OR executionArn = :me');
      assert.equal(deletes().length, 0, 'the kept-slot flip runs under this lock');

      const recordPut = dynamoMock.commandCalls(PutCommand).find((c) => c.args[0].input.Item!.pk === HISTORY_PK)!.args[0].input;
      assert.equal(recordPut.ConditionExpression, 'attribute_not_exists(pk)', 'a retried task keeps the record');
      const rec = recordPut.Item!;
      assert.deepEqual(
        { pk: rec.pk, sk: rec.sk, kind: rec.kind, status: rec.status, commit: rec.commit, image: rec.image, reason: rec.reason, executionArn: rec.executionArn },
        { ...RB_RECORD_KEY, kind: 'rollback', status: 'in-progress', commit: SHA1, image: KEPT.image, reason: '5xx after the release', executionArn: RB_ARN },
      );
      assert.deepEqual(rec.trigger, { source: 'cli', actor: 'alice' });

      const [started] = audits();
      assert.equal(audits().length, 1);
      assert.equal(started!.kind, 'rollback-started');
      assert.equal(started!.sk, `${RB_STARTED}#rb-1-started`);
      assert.equal(started!.actor, 'alice');
      assert.equal(started!.message, `rollback (5xx after the release): ${target.message}`);
      assert.equal(started!.detail.mode, 'kept-slot');

      const [note] = published();
      assert.equal(published().length, 1);
      assert.equal(note!.MessageAttributes!.kind!.StringValue, 'rollback-started');
      assert.equal(note!.Subject, 'hello-world/production: rolling back 3333333');
      assert.match(note!.Message!, /^Rollback rb-1 started by alice: 5xx after the release\. It will flip production back to the kept slot blue/);
    });

    it('window open and toDeployment names the kept release: still the kept slot', async () => {
      givenEnvironment(envState({ rollbackWindow: WINDOW }));
      assert.equal((await begin(rollbackPlan({ toDeployment: 'run-1' }))).mode, 'kept-slot');
    });

    it('window open, kept release unknown: the kept slot without a deployInput', async () => {
      givenEnvironment(envState({ rollbackWindow: { ...WINDOW, kept: undefined } }));
      const target = await begin();
      assert.equal(target.mode, 'kept-slot');
      assert.deepEqual(target.target, { slot: 'blue' });
      assert.equal(target.deployInput, undefined);
      assert.equal(putItems(HISTORY_PK)[0]!.commit, '-');
      assert.match(target.message, /kept slot blue \(the release on blue\)/);
    });

    it('window over: redeploys the newest succeeded, not rolled-back deploy before the live one; releases the lock for the child', async () => {
      givenEnvironment(envState());
      const target = await begin();
      assert.equal(target.mode, 'redeploy');
      assert.deepEqual(target.target, { ...ref(byId('run-1'), 'blue'), source: 'github-push' }, 'not run-2 (rolled back by rb-9), not rb-9 (a rollback), not run-1b (failed), not run-4 (after the live one)');
      assert.deepEqual(target.from, CURRENT);
      assert.deepEqual(target.slots, { live: 'blue', idle: 'green' }, 'the redeploy uses the idle slot');
      assert.deepEqual(target.database, { restorable: true, snapshot: SNAP3 }, 'run-3 migrated: its snapshot is the restore point');
      assert.equal(target.message, 'redeploy 1111111 (run-1) (all at once, no migrations) in place of 3333333 (run-3)');
      assert.deepEqual(target.deployInput, {
        service: 'hello-world',
        environment: 'production',
        release: { commit: SHA1, image: `${IMAGE}:${SHA1}`, migrations: false, message: 'rollback to 1111111: 5xx after the release' },
        trigger: { source: 'rollback', actor: 'alice', of: 'run-3', reason: '5xx after the release' },
        strategy: { type: 'all-at-once', bakeSeconds: 0 },
      });
      const query = dynamoMock.commandCalls(QueryCommand)[0]!.args[0].input;
      assert.equal(query.ScanIndexForward, false, 'newest first');
      // The lock was taken, then released: the child deploy execution takes it itself.
      assert.equal(putItems('LOCK#').length, 1);
      const [del] = deletes();
      assert.equal(deletes().length, 1);
      assert.deepEqual(del!.Key, LOCK_KEY);
      assert.equal(del!.ConditionExpression, 'executionArn = :me');
      assert.deepEqual(del!.ExpressionAttributeValues, { ':me': RB_ARN });
      assert.equal(putItems(HISTORY_PK)[0]!.commit, SHA1);
      assert.equal(audits()[0]!.detail.mode, 'redeploy');
    });

    it('the deployInput is a valid deploy input: no migrations, all at once, no alarms, no approval, no window', async () => {
      givenEnvironment(envState());
      const { deployInput } = await begin();
      const plan = resolvePlan(
        parseConfig(
          (() => {
            const raw = JSON.parse(readFileSync(new URL('../fixtures/hello-world-production.json', import.meta.url), 'utf8'));
            raw.services['hello-world'].environments.production.approval = 'before-traffic';
            return raw;
          })(),
        ),
        { input: deployInput, execution: { id: DEPLOY_ARN('rb-1-redeploy'), name: 'rb-1-redeploy', startTime: RB_STARTED } },
      );
      assert.equal(plan.trigger.source, 'rollback');
      assert.equal(plan.runMigrations, false);
      assert.equal(plan.release.migrations, false);
      assert.deepEqual(plan.steps.map((s) => [s.percent, s.bakeSeconds]), [[100, 0]]);
      assert.deepEqual(plan.alarms, []);
      assert.equal(plan.approval.gate, 'none');
      assert.equal(plan.rollbackWindowSeconds, 0);
      assert.equal(plan.image, `${IMAGE}:${SHA1}`);
    });

    it('records written before `kind` existed count as deploys', async () => {
      const { kind: _k, ...legacy } = record('run-1', SHA1, T1);
      givenEnvironment(envState(), [record('run-3', SHA3, T3), legacy as DeploymentRecord]);
      assert.equal((await begin()).target.deploymentId, 'run-1');
    });

    it('after a kept-slot rollback (the live release is older than the rolled-back one) goes further back', async () => {
      const live: ReleaseRef = { ...KEPT, source: 'rollback', promotedAt: '2024-05-01T14:40:00.000Z' };
      givenEnvironment(envState({ liveSlot: 'blue', current: live }), [record('run-3', SHA3, T3, { rolledBackBy: 'rb-2' }), record('run-1', SHA1, T1), record('run-0', SHA0, T0)]);
      const target = await begin();
      assert.equal(target.mode, 'redeploy');
      assert.equal(target.target.deploymentId, 'run-0');
      assert.equal(target.target.slot, 'green');
      assert.deepEqual(target.slots, { live: 'green', idle: 'blue' });
      assert.deepEqual(target.database, { restorable: false }, 'the live release ran no migrations');
    });

    it('toDeployment (window over): redeploys exactly that succeeded deployment', async () => {
      givenEnvironment(envState());
      const target = await begin(rollbackPlan({ toDeployment: 'run-0' }));
      assert.equal(target.mode, 'redeploy');
      assert.equal(target.target.deploymentId, 'run-0');
      assert.equal((target.deployInput!.release as { commit: string }).commit, SHA0);
    });

    it('toDeployment other than the kept release while the window is open: a redeploy of it', async () => {
      givenEnvironment(envState({ rollbackWindow: WINDOW }));
      const target = await begin(rollbackPlan({ toDeployment: 'run-0' }));
      assert.equal(target.mode, 'redeploy');
      assert.equal(target.target.deploymentId, 'run-0');
    });

    for (const [id, why] of [
      ['run-1b', 'a failed deployment'],
      ['rb-9', 'a rollback, not a deployment'],
      ['nope', 'an unknown id'],
    ] as const) {
      it(`toDeployment that is ${why} → Cutover.InvalidInput naming toDeployment; lock released, no record`, async () => {
        givenEnvironment(envState());
        await assert.rejects(begin(rollbackPlan({ toDeployment: id })), (err: Error) => {
          assert.equal(err.name, 'Cutover.InvalidInput');
          assert.equal(
            err.message,
            `toDeployment: "${id}" is not a succeeded deployment of hello-world/production; pick one from \`cutover history hello-world production\`, or leave it out to go back to the last known good release.`,
          );
          return true;
        });
        assert.equal(putItems(HISTORY_PK).length, 0);
        assert.equal(audits().length, 0);
        assert.deepEqual(deletes().map((d) => d.ExpressionAttributeValues), [{ ':me': RB_ARN }]);
      });
    }

    it('toDeployment naming the live release → Cutover.InvalidInput', async () => {
      givenEnvironment(envState());
      await assert.rejects(begin(rollbackPlan({ toDeployment: 'run-3' })), {
        name: 'Cutover.InvalidInput',
        message: /^toDeployment: "run-3" is the live release of hello-world\/production already\.$/,
      });
      assert.equal(deletes().length, 1);
    });

    it('nothing promoted yet → Cutover.NothingToRollBack; lock released, no record', async () => {
      for (const item of [undefined, { ...ENV_KEY, liveSlot: 'blue', lastGoodDeploymentId: 'old', updatedAt: 'x' } as EnvironmentState]) {
        dynamoMock.resetHistory();
        givenEnvironment(item);
        await assert.rejects(begin(), {
          name: 'Cutover.NothingToRollBack',
          message: 'hello-world/production: no release has been promoted by cutover yet, so there is nothing to roll back to.',
        });
        assert.equal(putItems(HISTORY_PK).length, 0);
        assert.equal(audits().length, 0);
        assert.equal(deletes().length, 1);
      }
    });

    it('window over and no earlier good release → Cutover.NothingToRollBack naming what to do instead', async () => {
      givenEnvironment(envState(), [record('run-4', sha('4'), T4, { status: 'failed' }), record('run-3', SHA3, T3), record('run-2', SHA2, T2, { status: 'failed' })]);
      await assert.rejects(begin(), (err: Error) => {
        assert.equal(err.name, 'Cutover.NothingToRollBack');
        assert.match(err.message, /^hello-world\/production: the rollback window is over and no earlier succeeded release is known to redeploy\./);
        assert.match(err.message, /cutover deploy hello-world production --commit <sha>/);
        return true;
      });
      assert.equal(putItems(HISTORY_PK).length, 0);
      assert.equal(deletes().length, 1);
    });

    it('a running deployment holds the lock → Cutover.DeploymentInProgress saying to abort it; nothing read or written', async () => {
      const holder = { ...LOCK_KEY, deploymentId: 'run-4', executionArn: DEPLOY_ARN('run-4'), commit: sha('4'), acquiredAt: T4, purpose: 'deploy' };
      dynamoMock.on(PutCommand, { Item: LOCK_KEY }).rejects(ccf());
      dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({ Item: holder });
      sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
      givenEnvironment(envState({ rollbackWindow: WINDOW }));
      await assert.rejects(begin(), (err: Error) => {
        assert.equal(err.name, 'Cutover.DeploymentInProgress');
        assert.match(err.message, /^hello-world\/production is locked by deployment run-4 \(commit 4444444, /);
        assert.match(err.message, /A rollback cannot run beside it\. If it is a deployment, abort it instead \(cutover abort hello-world production --reason "<why>", or SendTaskFailure "Cutover\.Aborted" on its wait\): it rolls back by itself\./);
        return true;
      });
      assert.equal(sfnMock.commandCalls(DescribeExecutionCommand)[0]!.args[0].input.executionArn, DEPLOY_ARN('run-4'));
      assert.equal(putItems(HISTORY_PK).length, 0, 'no rollback record');
      assert.equal(audits().length, 0);
      assert.equal(deletes().length, 0, 'the deployment\'s lock is not touched');
      assert.equal(dynamoMock.commandCalls(GetCommand).filter((c) => c.args[0].input.Key!.pk === ENV_KEY.pk).length, 0);
    });

    it('another rollback holds the lock → named as a rollback', async () => {
      dynamoMock.on(PutCommand, { Item: LOCK_KEY }).rejects(ccf());
      dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({ Item: { ...LOCK_KEY, deploymentId: 'rb-0', executionArn: 'arn:aws:states:us-east-1:123456789012:execution:cutover-rollback:rb-0', commit: '-', acquiredAt: T4, purpose: 'rollback' } });
      sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
      await assert.rejects(begin(), { name: 'Cutover.DeploymentInProgress', message: /locked by rollback rb-0/ });
    });
  });

  describe('lockRollback', () => {
    it('takes the lock for the rollback with the target\'s commit (after the redeploy released its own)', async () => {
      const plan = rollbackPlan();
      const lock = (await handler({ action: 'lockRollback', plan, rollbackTarget: { mode: 'redeploy', target: { ...KEPT }, slots: { live: 'blue', idle: 'green' } } })) as Record<string, unknown>;
      assert.equal(lock.purpose, 'rollback');
      assert.equal(lock.commit, SHA1);
      assert.equal(lock.executionArn, RB_ARN);
      const put = dynamoMock.commandCalls(PutCommand)[0]!.args[0].input;
      assert.deepEqual({ pk: put.Item!.pk, sk: put.Item!.sk }, LOCK_KEY);
      assert.equal(put.ConditionExpression, 'attribute_not_exists(pk) OR executionArn = :me');
    });
  });

  describe('finishRollback', () => {
    const keptTarget: RollbackTarget = {
      mode: 'kept-slot',
      slots: { live: 'blue', idle: 'green' },
      target: KEPT,
      from: CURRENT,
      database: { restorable: false },
      message: 'flip production back to the kept slot blue',
    };
    const redeployTarget: RollbackTarget = { ...keptTarget, mode: 'redeploy', target: ref(byId('run-1'), 'blue'), message: 'redeploy' };
    const state = (over: Partial<RollbackState> = {}): RollbackState => ({ plan: rollbackPlan(), rollbackTarget: keptTarget, ...over });
    const finish = async (outcome: 'rolled-back' | 'failed', s: RollbackState) => (await handler({ action: 'finishRollback', outcome, rollback: s })) as Outcome;
    const rolledBackByUpdate = () => updates().filter((u) => u.UpdateExpression?.startsWith('SET rolledBackBy = :r'));
    const recordUpdate = () => updates().find((u) => u.Key!.sk === RB_RECORD_KEY.sk)!;

    it('kept slot: records the rollback, the target is live with no window, the old release is marked rolledBackBy, lock released', async () => {
      process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
      const t0 = Date.now();
      const out = await finish('rolled-back', state({ traffic: { trafficOn: 'blue', idleHasTraffic: false, message: 'blue has 2 healthy targets' } }));
      assert.equal(out.status, 'rolled-back');
      assert.equal(out.error, null);
      assert.equal(out.liveSlot, 'blue');
      assert.equal(out.deploymentId, 'rb-1');
      assert.match(out.message, /production traffic is 100% on the kept slot blue again \(blue has 2 healthy targets\); green was scaled down\./);

      const rec = recordUpdate();
      assert.deepEqual(rec.Key, RB_RECORD_KEY);
      assert.equal(rec.ExpressionAttributeValues![':s'], 'rolled-back');
      assert.equal(rec.ExpressionAttributeValues![':l'], 'blue');
      assert.equal(rec.ExpressionAttributeValues![':e'], null);

      const [env] = putItems('ENV#') as EnvironmentState[];
      assert.equal(putItems('ENV#').length, 1);
      assert.equal(env!.liveSlot, 'blue');
      const { promotedAt, ...current } = env!.current!;
      assert.deepEqual(current, { ...KEPT, slot: 'blue', source: 'rollback' });
      assert.ok(Date.parse(promotedAt!) >= t0 - 1);
      assert.equal('rollbackWindow' in env!, false, 'the window is used up');
      assert.equal(env!.lastGoodDeploymentId, 'run-1');
      assert.equal(env!.lastGoodCommit, SHA1);

      const [mark] = rolledBackByUpdate();
      assert.equal(rolledBackByUpdate().length, 1);
      assert.deepEqual(mark!.Key, { pk: HISTORY_PK, sk: `${T3}#run-3` });
      assert.equal(mark!.UpdateExpression, 'SET rolledBackBy = :r, rolledBackAt = if_not_exists(rolledBackAt, :at), #status = :rb', 'a promoted release rolled back later is no longer listed succeeded');
      assert.equal(mark!.ConditionExpression, 'attribute_exists(pk) AND (#status = :ok OR (#status = :rb AND rolledBackBy = :r))');
      const { ':at': at, ...values } = mark!.ExpressionAttributeValues!;
      assert.deepEqual(values, { ':r': 'rb-1', ':rb': 'rolled-back', ':ok': 'succeeded' });
      assert.ok(Date.parse(at as string) >= t0 - 1);

      assert.deepEqual(deletes().map((d) => [d.Key, d.ExpressionAttributeValues]), [[LOCK_KEY, { ':me': RB_ARN }]]);
      const [done] = audits();
      assert.equal(done!.kind, 'rollback-finished');
      assert.equal(done!.actor, 'alice');
      assert.deepEqual(done!.detail, { status: 'rolled-back', error: null, mode: 'kept-slot' });
      assert.equal(published()[0]!.MessageAttributes!.kind!.StringValue, 'rollback-finished');
      assert.equal(published()[0]!.Subject, 'hello-world/production: rollback rolled-back');
    });

    it('redeploy: the child\'s Promote made the target live; only the old release is marked rolledBackBy', async () => {
      const out = await finish(
        'rolled-back',
        state({ rollbackTarget: redeployTarget, redeploy: { executionArn: DEPLOY_ARN('rb-1-redeploy'), status: 'SUCCEEDED', outcome: { liveSlot: 'blue', status: 'succeeded' } } }),
      );
      assert.equal(out.status, 'rolled-back');
      assert.equal(out.liveSlot, 'blue');
      assert.match(out.message, /release 1111111 \(deployment run-1\) was deployed again and is live on blue \(execution rb-1-redeploy\)\./);
      assert.equal(putItems('ENV#').length, 0, 'the environment state is the redeploy\'s');
      assert.deepEqual(rolledBackByUpdate().map((u) => u.Key), [{ pk: HISTORY_PK, sk: `${T3}#run-3` }]);
      assert.equal(deletes().length, 1);
    });

    it('kept slot unhealthy, then redeployed: treated as a redeploy (no environment write)', async () => {
      await finish('rolled-back', state({ traffic: { trafficOn: 'green', idleHasTraffic: true }, redeploy: { status: 'SUCCEEDED', outcome: { liveSlot: 'blue' } } }));
      assert.equal(putItems('ENV#').length, 0);
      assert.equal(rolledBackByUpdate().length, 1);
    });

    it('failure: records status failed, keeps the environment as it is, releases the lock, notifies a failure', async () => {
      process.env.NOTIFICATION_TOPIC_ARN = TOPIC;
      const cause = JSON.stringify({ Name: 'rb-1-redeploy', Status: 'FAILED', Error: 'Cutover.GreenUnstable', Cause: JSON.stringify({ errorMessage: 'never stable' }) });
      const out = await finish('failed', state({ rollbackTarget: redeployTarget, failure: { Error: 'States.TaskFailed', Cause: cause } }));
      assert.equal(out.status, 'failed');
      assert.equal(out.error, 'Cutover.RollbackFailed');
      assert.equal(out.liveSlot, 'green', 'traffic stays where it was');
      assert.match(out.message, /failed: States\.TaskFailed: execution rb-1-redeploy failed with Cutover\.GreenUnstable: never stable\. Production traffic stays on green/);
      const rec = recordUpdate();
      assert.equal(rec.ExpressionAttributeValues![':s'], 'failed');
      assert.equal(rec.ExpressionAttributeValues![':e'], 'Cutover.RollbackFailed');
      assert.equal(rec.ExpressionAttributeValues![':l'], 'green');
      assert.equal(putItems('ENV#').length, 0);
      assert.equal(rolledBackByUpdate().length, 0, 'nothing was rolled back');
      assert.deepEqual(deletes().map((d) => d.Key), [LOCK_KEY]);
      assert.deepEqual(audits()[0]!.detail, { status: 'failed', error: 'Cutover.RollbackFailed', mode: 'redeploy' });
      assert.equal(published()[0]!.MessageAttributes!.kind!.StringValue, 'failed');
    });

    it('"rolled-back" requested but the flip left traffic on the idle slot and no redeploy ran: still only marks, never writes the kept slot live', async () => {
      const out = await finish('rolled-back', state({ traffic: { trafficOn: 'green', idleHasTraffic: true } }));
      assert.equal(putItems('ENV#').length, 0);
      assert.equal(out.status, 'rolled-back');
    });

    it('a lock already gone is fine (ConditionalCheckFailed on release is ignored)', async () => {
      dynamoMock.on(DeleteCommand).rejects(ccf());
      dynamoMock.on(UpdateCommand, { UpdateExpression: 'SET rolledBackBy = :r' }).rejects(ccf());
      const out = await finish('rolled-back', state({ traffic: { trafficOn: 'blue', idleHasTraffic: false } }));
      assert.equal(out.status, 'rolled-back');
    });
  });

  describe('closeWindow', () => {
    const WINDOW_ARN = 'arn:aws:states:us-east-1:123456789012:execution:cutover-rollback-window:run-3-window';
    const plan: DeploymentPlan = resolvePlan(config, {
      input: { service: 'hello-world', environment: 'production', release: { commit: SHA3 } },
      execution: { id: DEPLOY_ARN('run-3'), name: 'run-3', startTime: T3 },
    });
    /** The closer's start time when its window (1800 s) ended `busyFor` seconds before the clock's now. */
    const startedBusyFor = (busyFor: number) => new Date(Date.now() - (1800 + busyFor) * 1000).toISOString();
    const close = async (busyFor = 0) =>
      (await handler({ action: 'closeWindow', plan, executionArn: WINDOW_ARN, executionStartTime: startedBusyFor(busyFor), windowSeconds: 1800 })) as { action: string; message: string; retryInSeconds?: number };

    it('superseded when another deployment is live: touches nothing', async () => {
      givenEnvironment(envState({ current: { ...CURRENT, deploymentId: 'run-5' } }));
      const out = await close();
      assert.deepEqual(out, { action: 'superseded', message: 'deployment run-3 is no longer the live release; the slots belong to what came after it' });
      assert.equal(dynamoMock.commandCalls(PutCommand).length, 0);
      assert.equal(updates().length, 0);
      assert.equal(deletes().length, 0);
    });

    it('superseded with no environment state at all', async () => {
      givenEnvironment(undefined);
      assert.equal((await close()).action, 'superseded');
    });

    it('busy when a running execution holds the lock: the window stays', async () => {
      givenEnvironment(envState({ rollbackWindow: WINDOW }));
      dynamoMock.on(PutCommand, { Item: LOCK_KEY }).rejects(ccf());
      dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({ Item: { ...LOCK_KEY, deploymentId: 'rb-1', executionArn: RB_ARN, commit: '-', acquiredAt: T4, purpose: 'rollback' } });
      sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
      const out = await close();
      assert.deepEqual(out, { action: 'busy', retryInSeconds: 60, message: 'a deployment or rollback is running; it owns the kept slot now' });
      assert.equal(sfnMock.commandCalls(DescribeExecutionCommand)[0]!.args[0].input.executionArn, RB_ARN);
      assert.equal(updates().length, 0, 'the window is not removed');
      assert.equal(deletes().length, 0);
      assert.equal(audits().length, 0);
    });

    it('busy for longer: tries again less often (a tenth of the time busy, at most 1 h); busy for 24 h: gives up, naming the holder', async () => {
      givenEnvironment(envState({ rollbackWindow: WINDOW }));
      dynamoMock.on(PutCommand, { Item: LOCK_KEY }).rejects(ccf());
      dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({ Item: { ...LOCK_KEY, deploymentId: 'run-4', executionArn: DEPLOY_ARN('run-4'), commit: sha('4'), acquiredAt: T4 } });
      sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
      const twoHours = await close(7200);
      assert.equal(twoHours.action, 'busy');
      assert.ok(twoHours.retryInSeconds! >= 720 && twoHours.retryInSeconds! <= 721, `${twoHours.retryInSeconds}`);
      assert.equal((await close(20 * 3600)).retryInSeconds, 3600);
      const over = await close(24 * 3600 + 5);
      assert.equal(over.action, 'give-up');
      assert.equal(over.retryInSeconds, undefined);
      assert.match(over.message, /^a deployment or rollback has held hello-world\/production for 24 h since the rollback window of run-3 ended \(.*run-4.*\); the closer stops trying$/);
      assert.equal(updates().length, 0, 'the window is not removed');
      assert.equal(deletes().length, 0);
    });

    it('refuses a closeWindow event without the closer\'s start time or window length, naming the field', async () => {
      await assert.rejects(handler({ action: 'closeWindow', plan, executionArn: WINDOW_ARN, windowSeconds: 1800 }), (err: Error) => err.name === 'Cutover.InvalidInput' && /executionStartTime/.test(err.message));
    });

    it('scale-down otherwise: takes the lock, removes the window (only if still its own) and keeps the lock for the scale-down', async () => {
      givenEnvironment(envState({ rollbackWindow: WINDOW }));
      const out = await close();
      assert.deepEqual(out, { action: 'scale-down', message: 'scaling blue down: the rollback window of run-3 is over' });
      const lock = putItems('LOCK#')[0]!;
      assert.deepEqual(
        { executionArn: lock.executionArn, deploymentId: lock.deploymentId, commit: lock.commit, purpose: lock.purpose },
        { executionArn: WINDOW_ARN, deploymentId: 'run-3', commit: SHA3, purpose: 'rollback-window' },
      );
      const [remove] = updates();
      assert.equal(updates().length, 1);
      assert.deepEqual(remove!.Key, ENV_KEY);
      assert.equal(remove!.UpdateExpression, 'REMOVE rollbackWindow');
      assert.equal(remove!.ConditionExpression, 'rollbackWindow.deploymentId = :d');
      assert.deepEqual(remove!.ExpressionAttributeValues, { ':d': 'run-3' });
      assert.equal(deletes().length, 0, 'the caller scales down under the lock, then releases it');
      const [closed] = audits();
      assert.equal(closed!.kind, 'rollback-window-closed');
      assert.match(closed!.sk, /#run-3-window-closed$/);
      assert.deepEqual(closed!.detail, { keptSlot: 'blue', seconds: 1800 });
    });

    it('a stale holder (stopped execution) is reclaimed: scale-down', async () => {
      givenEnvironment(envState({ rollbackWindow: WINDOW }));
      dynamoMock.on(PutCommand, { Item: LOCK_KEY }).rejectsOnce(ccf()).resolves({});
      dynamoMock.on(GetCommand, { Key: LOCK_KEY }).resolves({ Item: { ...LOCK_KEY, deploymentId: 'run-4', executionArn: DEPLOY_ARN('run-4'), commit: sha('4'), acquiredAt: T4 } });
      sfnMock.on(DescribeExecutionCommand).resolves({ status: 'FAILED' });
      assert.equal((await close()).action, 'scale-down');
    });

    it('superseded between the check and the lock: releases the lock it took, window untouched', async () => {
      dynamoMock.on(GetCommand, { Key: ENV_KEY }).resolvesOnce({ Item: envState({ rollbackWindow: WINDOW }) }).resolves({ Item: envState({ current: { ...CURRENT, deploymentId: 'run-5' } }) });
      const out = await close();
      assert.equal(out.action, 'superseded');
      assert.equal(updates().length, 0);
      assert.deepEqual(deletes().map((d) => [d.Key, d.ExpressionAttributeValues]), [[LOCK_KEY, { ':me': WINDOW_ARN }]]);
    });
  });
});
