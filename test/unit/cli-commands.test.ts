/**
 * The operator commands (lib/cli/commands.ts) against mocked SDK clients (DynamoDB for the lock and
 * the audit timeline, Step Functions for the execution and the answers): which answer each wait
 * gets, refusals, a wait that is already over, an abort outside a wait — and the pure reading of an
 * execution history (lib/cli/data.ts).
 */
import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { dynamoMock, resetSdkMocks, sdkError, sfnMock } from '../helpers/sdk-mocks';
import { Ledger } from '../../lib/aws/ledger';
import * as commands from '../../lib/cli/commands';
import { currentState, LedgerReader, parseEnvKey, stepTimings } from '../../lib/cli/data';
import { CliError } from '../../lib/cli/errors';
import type { Target } from '../../lib/cli/target';

const TABLE = 'cutover-ledger';
const REF = { service: 'hello-world', environment: 'production' };
const NOW = new Date('2026-03-01T12:00:00.000Z');
const EXEC = 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:d-7';
const TOKEN = 'AQCEAAAAKgAAAA-token';

const at = (s: number) => new Date(NOW.getTime() - 60_000 + s * 1000);
/** History events newest first, as `GetExecutionHistory` with `reverseOrder` returns them. */
function waitingIn(state: string, callback = true): HistoryEvent[] {
  return [
    { id: 12, type: 'TaskStarted', timestamp: at(31) },
    { id: 11, type: 'TaskScheduled', timestamp: at(31), taskScheduledEventDetails: { resourceType: 'lambda', resource: callback ? 'invoke.waitForTaskToken' : 'invoke', region: 'us-east-1', parameters: '{}' } },
    { id: 10, type: 'TaskStateEntered', timestamp: at(30), stateEnteredEventDetails: { name: state } },
    { id: 9, type: 'ChoiceStateExited', timestamp: at(29), stateExitedEventDetails: { name: 'BakeNeeded' } },
  ];
}

interface World {
  lock?: Record<string, unknown>;
  status?: string;
  events?: HistoryEvent[];
}

function setup(world: World) {
  dynamoMock.on(GetCommand).callsFake((input: { Key: { pk: string } }) => {
    if (input.Key.pk.startsWith('LOCK#')) return { Item: world.lock };
    return {};
  });
  dynamoMock.on(QueryCommand).resolves({ Items: [] });
  dynamoMock.on(ScanCommand).resolves({ Items: [{ pk: 'ENV#hello-world#production' }, { pk: 'LOCK#hello-world#production' }, { pk: 'DEPLOYMENTS#hello-world#staging' }] });
  dynamoMock.on(PutCommand).resolves({});
  dynamoMock.on(UpdateCommand).resolves({});
  sfnMock.on(DescribeExecutionCommand).resolves({ executionArn: EXEC, status: (world.status ?? 'RUNNING') as 'RUNNING', startDate: at(0), stateMachineArn: 'arn:sm', input: '{}' });
  sfnMock.on(GetExecutionHistoryCommand).resolves({ events: world.events ?? [] });
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  sfnMock.on(SendTaskFailureCommand).resolves({});
}

const lockWith = (kind: 'bake' | 'approval' | 'database-decision', question = `hello-world/production: deployment d-7 waits (${kind}).`) => ({
  pk: 'LOCK#hello-world#production',
  sk: 'LOCK',
  deploymentId: 'd-7',
  executionArn: EXEC,
  acquiredAt: at(0).toISOString(),
  commit: '0123456789abcdef0123456789abcdef01234567',
  pendingTaskToken: TOKEN,
  pendingKind: kind,
  pendingQuestion: question,
});

/** The caller's identity as STS GetCallerIdentity gives it (the CLI records it beside the --operator name). */
const CALLER = 'arn:aws:sts::123456789012:assumed-role/cutover-approver/ada';

function context(json = false) {
  const out: string[] = [];
  const target: Target = { kind: 'aws', description: 'stack "Cutover"', tableName: TABLE, stateMachineArn: async (k) => `arn:aws:states:us-east-1:123456789012:stateMachine:cutover-${k}`, now: () => NOW, callerIdentity: async () => CALLER, approvalUrl: async () => 'https://abcdefghijklmnop.lambda-url.us-east-1.on.aws/' };
  const ledger = new Ledger(TABLE);
  const ctx: commands.CommandContext = {
    target,
    ledger,
    reader: new LedgerReader(ledger, TABLE),
    operator: 'ada',
    callerArn: CALLER,
    json,
    io: { stdout: (t) => out.push(t), stderr: (t) => out.push(`stderr: ${t}`) },
    pollMs: 0,
    acceptTimeoutMs: 0,
    sleep: async () => undefined,
    callApprovalFunction: async (request) => {
      approvalCalls.push(request);
      return approvalAnswer(request);
    },
  };
  return { ctx, out };
}

/** What the commands sent the approval function, and what it answers (set per test). */
let approvalCalls: commands.ApprovalFunctionRequest[] = [];
let approvalAnswer: (request: commands.ApprovalFunctionRequest) => commands.ApprovalFunctionAnswer = () => ({ status: 500, body: undefined, text: 'not set' });
const functionAnswers = (status: number, body: Record<string, unknown>) => () => ({ status, body, text: JSON.stringify(body) });

async function cliError(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => assert.fail('expected a CliError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CliError, `a CliError, got ${String(err)}`);
  return err.message;
}

const audits = () => dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item as Record<string, any>).filter((i) => String(i.pk).startsWith('AUDIT#'));

describe('cli commands: answering a wait', () => {
  beforeEach(() => resetSdkMocks());

  it('approve of an approval gate goes through the approval function (which checks, answers and audits) and prints its answer', async () => {
    setup({ lock: lockWith('approval'), events: waitingIn('AwaitApproval') });
    approvalCalls = [];
    approvalAnswer = functionAnswers(200, { message: 'Approved deployment d-7 of hello-world/production as ada (arn:x): it continues.', action: 'approve' });
    const { ctx, out } = context();
    assert.equal(await commands.approve(ctx, REF, { comment: 'looks good' }), 0);
    assert.deepEqual(approvalCalls, [{ service: 'hello-world', environment: 'production', decision: 'approve', operator: 'ada', comment: 'looks good' }]);
    assert.equal(sfnMock.commandCalls(SendTaskSuccessCommand).length, 0, 'the CLI answers no approval token itself');
    assert.deepEqual(audits(), [], 'the function audits, with the verified caller');
    assert.equal(out.join('\n'), 'Approved deployment d-7 of hello-world/production as ada (arn:x): it continues.');
  });

  it('approve refused by the function: its message (not an approver, not waiting) is the error', async () => {
    setup({ lock: lockWith('approval'), events: waitingIn('AwaitApproval') });
    approvalAnswer = functionAnswers(403, { message: 'arn:aws:sts::123456789012:assumed-role/developers/bob is not an approver of hello-world/production: its approvers are arn:aws:iam::123456789012:role/release-managers.' });
    const { ctx } = context();
    assert.match(await cliError(commands.approve(ctx, REF)), /^arn:aws:sts::123456789012:assumed-role\/developers\/bob is not an approver of hello-world\/production/);
    approvalAnswer = functionAnswers(409, { message: 'the approval wait of deployment d-7 of hello-world/production ended before the answer' });
    assert.match(await cliError(commands.approve(ctx, REF)), /ended before the answer/);
  });

  it('approve refused by IAM before the function ran ({"Message":"Forbidden"}): names the managed policy to attach', async () => {
    setup({ lock: lockWith('approval'), events: waitingIn('AwaitApproval') });
    approvalAnswer = () => ({ status: 403, body: { Message: 'Forbidden' }, text: '{"Message":"Forbidden"}' });
    const { ctx } = context();
    assert.match(await cliError(commands.approve(ctx, REF)), /AWS refused your call to the approval function \(HTTP 403, as arn:aws:sts::123456789012:assumed-role\/cutover-approver\/ada\).*<stack>-approver \(or -operator\) managed policy/);
  });

  it('approve answers a database decision only with --decision, as {decision, operator}', async () => {
    setup({ lock: lockWith('database-decision', 'hello-world/production: deployment d-7 failed after its migrations ran. Restore snapshot s-1 (discards every write made since X) or keep the database as it is? Answer with SendTaskSuccess {"decision":"restore"} or {"decision":"keep"}; without an answer in 24 h the database is kept.'), events: waitingIn('AwaitDatabaseDecision') });
    const { ctx } = context();
    const message = await cliError(commands.approve(ctx, REF, {}));
    assert.match(message, /waits for a database decision \(deployment d-7 failed after its migrations ran\. Restore snapshot s-1 .* or keep the database as it is\? without an answer in 24 h the database is kept\): answer with --decision restore .* or --decision keep/);
    assert.equal(sfnMock.commandCalls(SendTaskSuccessCommand).length, 0);
    assert.equal(await commands.approve(ctx, REF, { decision: 'keep' }), 0);
    assert.deepEqual(JSON.parse(sfnMock.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!), { decision: 'keep', operator: 'ada' });
    assert.equal(audits()[0]?.detail?.decision, 'keep');
  });

  it('reject of an approval gate sends the reason to the approval function; --json prints its answer', async () => {
    setup({ lock: lockWith('approval'), events: waitingIn('AwaitApproval') });
    approvalCalls = [];
    approvalAnswer = functionAnswers(200, { message: 'Rejected', action: 'reject', deploymentId: 'd-7' });
    const { ctx, out } = context(true);
    assert.equal(await commands.reject(ctx, REF, { reason: 'not during the sale' }), 0);
    assert.deepEqual(approvalCalls, [{ service: 'hello-world', environment: 'production', decision: 'reject', operator: 'ada', reason: 'not during the sale' }]);
    assert.deepEqual(JSON.parse(out[0]!), { message: 'Rejected', action: 'reject', deploymentId: 'd-7' });
  });

  it('promote ends a bake with {"action":"promote-now","operator"}; --json prints what was done', async () => {
    setup({ lock: lockWith('bake'), events: waitingIn('Bake') });
    const { ctx, out } = context(true);
    assert.equal(await commands.promote(ctx, REF), 0);
    assert.deepEqual(JSON.parse(sfnMock.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!), { action: 'promote-now', operator: 'ada' });
    assert.deepEqual(JSON.parse(out[0]!), { action: 'promote', service: 'hello-world', environment: 'production', deploymentId: 'd-7', executionArn: EXEC, operator: 'ada' });
  });

  for (const closed of [() => sdkError(TaskTimedOut, 'closed'), () => sdkError(TaskDoesNotExist, 'closed')]) {
    it(`a token that is already closed (${closed().name}): "the wait is already over", nothing audited`, async () => {
      setup({ lock: lockWith('bake'), events: waitingIn('Bake') });
      sfnMock.on(SendTaskSuccessCommand).rejects(closed());
      const { ctx } = context();
      assert.match(await cliError(commands.promote(ctx, REF)), /^the wait is already over: deployment d-7 of hello-world\/production no longer waits for the bake to end/);
      assert.deepEqual(audits(), []);
    });
  }

  it('an answer the wait does not take: says what it waits for and how to answer', async () => {
    setup({ lock: lockWith('bake'), events: waitingIn('Bake') });
    const { ctx } = context();
    assert.match(
      await cliError(commands.approve(ctx, REF)),
      /^deployment d-7 of hello-world\/production is not waiting for an approval or a database decision: it waits for the bake to end \(deployment d-7 waits \(bake\)\); answer with: cutover promote hello-world production \| cutover abort hello-world production --reason <text>\.$/,
    );
    assert.match(await cliError(commands.reject(ctx, REF, { reason: 'x' })), /is not waiting for an approval: it waits for the bake to end/);
  });

  it('a lock whose pending wait is over (the state moved on) is not a wait', async () => {
    setup({ lock: lockWith('bake'), events: waitingIn('ShiftTraffic', false) });
    const { ctx } = context();
    assert.match(await cliError(commands.promote(ctx, REF)), /is not baking: it is not waiting for an operator \(now in state ShiftTraffic\)/);
    assert.equal(sfnMock.commandCalls(SendTaskSuccessCommand).length, 0);
  });

  it('nothing running: says so; for an unknown environment, lists the known ones', async () => {
    setup({});
    const { ctx } = context();
    assert.match(
      await cliError(commands.approve(ctx, { service: 'hello-wrld', environment: 'production' })),
      /^no deployment of hello-wrld\/production is running: nothing is known about hello-wrld\/production in stack "Cutover" \(table cutover-ledger\).*Known: hello-world\/production, hello-world\/staging\.$/,
    );
  });

  it('a lock whose execution has ended: nothing waits (the lock is stale)', async () => {
    setup({ lock: lockWith('bake'), status: 'ABORTED' });
    const { ctx } = context();
    assert.match(await cliError(commands.promote(ctx, REF)), /deployment d-7 of hello-world\/production is not running \(its execution is ABORTED\)/);
  });
});

describe('cli commands: abort', () => {
  beforeEach(() => resetSdkMocks());

  it('during a bake: SendTaskFailure Cutover.Aborted with "<reason> (aborted by <operator>)"', async () => {
    setup({ lock: lockWith('bake'), events: waitingIn('Bake') });
    const { ctx, out } = context();
    assert.equal(await commands.abort(ctx, REF, { reason: 'p99 doubled' }), 0);
    const sent = sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
    assert.deepEqual({ error: sent.error, cause: sent.cause }, { error: 'Cutover.Aborted', cause: 'p99 doubled (aborted by ada)' });
    assert.equal(dynamoMock.commandCalls(UpdateCommand).length, 0, 'no abort request needed');
    assert.match(out[0]!, /it rolls back now/);
    assert.deepEqual(audits()[0]?.detail, { action: 'abort', reason: 'p99 doubled', during: 'bake', deploymentId: 'd-7' });
  });

  it('outside a wait: sets abortRequested on the lock (conditional on its execution) and says when it takes effect', async () => {
    const lock = { ...lockWith('bake') };
    setup({ lock, events: waitingIn('DeployGreen', false) });
    const { ctx, out } = context();
    assert.equal(await commands.abort(ctx, REF, { reason: 'wrong commit' }), 0);
    assert.equal(sfnMock.commandCalls(SendTaskFailureCommand).length, 0);
    const update = dynamoMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    assert.deepEqual(update.Key, { pk: 'LOCK#hello-world#production', sk: 'LOCK' });
    assert.equal(update.ConditionExpression, 'executionArn = :me');
    assert.equal(update.ExpressionAttributeValues?.[':me'], EXEC);
    assert.deepEqual(update.ExpressionAttributeValues?.[':a'], { by: 'ada', reason: 'wrong commit', at: NOW.toISOString() });
    assert.match(out[0]!, /^Abort requested for deployment d-7 of hello-world\/production \(ada\): it is in state DeployGreen, not in a bake or approval wait, so the abort takes effect at its next bake or approval wait/);
    assert.equal(audits()[0]?.detail?.action, 'abort-requested');
  });

  it('the bake ended meanwhile (token closed): falls back to an abort request', async () => {
    setup({ lock: lockWith('bake'), events: waitingIn('Bake') });
    sfnMock.on(SendTaskFailureCommand).rejects(sdkError(TaskTimedOut, 'closed'));
    const { ctx, out } = context();
    assert.equal(await commands.abort(ctx, REF, { reason: 'r' }), 0);
    assert.equal(dynamoMock.commandCalls(UpdateCommand).length, 1);
    assert.match(out[0]!, /^Abort requested/);
  });

  it('the deployment finished before the request landed (condition failed): says so, exit 1', async () => {
    setup({ lock: lockWith('bake'), events: waitingIn('Promote', false) });
    dynamoMock.on(UpdateCommand).rejects(sdkError(ConditionalCheckFailedException, 'The conditional request failed'));
    const { ctx } = context();
    assert.match(await cliError(commands.abort(ctx, REF, { reason: 'r' })), /finished meanwhile: there is nothing to abort/);
    assert.deepEqual(audits(), []);
  });

  it('during a database decision: refuses (it is already rolling back) and names the answers', async () => {
    setup({ lock: lockWith('database-decision'), events: waitingIn('AwaitDatabaseDecision') });
    const { ctx } = context();
    assert.match(await cliError(commands.abort(ctx, REF, { reason: 'r' })), /already rolling back and waits for a database decision .*cutover approve hello-world production --decision restore \| cutover approve hello-world production --decision keep/);
  });

  it('an empty reason is refused before anything is read', async () => {
    setup({});
    const { ctx } = context();
    assert.match(await cliError(commands.abort(ctx, REF, { reason: '   ' })), /^--reason: say why/);
    assert.equal(dynamoMock.commandCalls(GetCommand).length, 0);
  });
});

describe('cli commands: starting executions', () => {
  beforeEach(() => resetSdkMocks());

  it('deploy validates the release before calling AWS, naming the flag', async () => {
    setup({});
    const { ctx } = context();
    assert.equal(await cliError(commands.deploy(ctx, REF, { commit: 'main' })), '--commit: use the git commit SHA (7-40 lower-case hex characters)');
    assert.equal(sfnMock.commandCalls(StartExecutionCommand).length, 0);
  });

  it('deploy starts the deploy state machine with the release and trigger {source: cli, actor}', async () => {
    setup({ lock: { ...lockWith('bake'), executionArn: EXEC } });
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: EXEC, startDate: NOW });
    const { ctx, out } = context(true);
    assert.equal(await commands.deploy(ctx, REF, { commit: 'abcdef1', image: 'repo:v9', message: 'v9' }), 0);
    const start = sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    assert.equal(start.stateMachineArn, 'arn:aws:states:us-east-1:123456789012:stateMachine:cutover-deploy');
    assert.match(start.name!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'named (a UUID), so a retried request starts nothing twice');
    assert.deepEqual(JSON.parse(start.input!), {
      service: 'hello-world',
      environment: 'production',
      release: { commit: 'abcdef1', image: 'repo:v9', message: 'v9' },
      trigger: { source: 'cli', actor: 'ada' },
    });
    assert.deepEqual(JSON.parse(out[0]!), { deploymentId: 'd-7', executionArn: EXEC, status: 'RUNNING', accepted: true });
    assert.equal(audits()[0]?.detail?.action, 'deploy');
  });

  it('rollback validates --reason and --to, and starts the rollback state machine', async () => {
    setup({ lock: { ...lockWith('bake'), executionArn: EXEC } });
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: EXEC, startDate: NOW });
    const { ctx } = context(true);
    assert.match(await cliError(commands.rollback(ctx, REF, { reason: ' ' })), /^--reason: say why you roll back/);
    assert.match(await cliError(commands.rollback(ctx, REF, { reason: 'r', to: 'd-0' })), /^--to: no deployment d-0 of hello-world\/production/);
    assert.equal(await commands.rollback(ctx, REF, { reason: '5xx after the release' }), 0);
    const start = sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    assert.equal(start.stateMachineArn, 'arn:aws:states:us-east-1:123456789012:stateMachine:cutover-rollback');
    assert.deepEqual(JSON.parse(start.input!), { service: 'hello-world', environment: 'production', reason: '5xx after the release', trigger: { source: 'cli', actor: 'ada' } });
  });

  it('retry refuses a deployment that is still running, and one that does not exist', async () => {
    setup({});
    dynamoMock.on(QueryCommand).resolves({
      Items: [{ pk: 'DEPLOYMENTS#hello-world#production', sk: 'x#d-7', deploymentId: 'd-7', executionArn: EXEC, service: 'hello-world', environment: 'production', status: 'in-progress', startedAt: NOW.toISOString(), commit: 'abcdef1', image: 'img:abcdef1', trigger: { source: 'cli', actor: 'ada' } }],
    });
    const { ctx } = context();
    assert.match(await cliError(commands.retry(ctx, REF, 'd-7')), /deployment d-7 of hello-world\/production is still running: there is nothing to retry yet/);
    dynamoMock.on(QueryCommand).resolves({ Items: [] });
    assert.match(await cliError(commands.retry(ctx, REF, 'd-0')), /no deployment d-0/);
    assert.equal(sfnMock.commandCalls(StartExecutionCommand).length, 0);
  });
});

describe('cli data: reading an execution history', () => {
  it('the current state: a callback Task still waiting, a plain Task, a state just left', () => {
    assert.deepEqual(currentState(waitingIn('Bake')), { state: 'Bake', enteredAt: at(30), exited: false, waitingForCallback: true });
    assert.equal(currentState(waitingIn('DeployGreen', false)).waitingForCallback, false);
    const left: HistoryEvent[] = [{ id: 14, type: 'TaskStateExited', timestamp: at(40), stateExitedEventDetails: { name: 'Bake' } }, { id: 13, type: 'TaskSucceeded', timestamp: at(40) }, ...waitingIn('Bake')];
    assert.deepEqual(currentState(left), { state: 'Bake', enteredAt: at(30), exited: true, waitingForCallback: false });
    // A retried callback task waits again after its failed attempt.
    const retried: HistoryEvent[] = [{ id: 15, type: 'TaskScheduled', timestamp: at(41), taskScheduledEventDetails: { resourceType: 'lambda', resource: 'invoke.waitForTaskToken', region: 'us-east-1', parameters: '{}' } }, { id: 14, type: 'TaskFailed', timestamp: at(40) }, ...waitingIn('Bake')];
    assert.equal(currentState(retried).waitingForCallback, true);
    assert.deepEqual(currentState([]), { exited: false, waitingForCallback: false });
  });

  it('step timings: entered → exited per state, errors of failed attempts, the running state open', () => {
    const events: HistoryEvent[] = [
      { id: 1, type: 'ExecutionStarted', timestamp: at(0) },
      { id: 2, type: 'PassStateEntered', timestamp: at(0), stateEnteredEventDetails: { name: 'Initialize' } },
      { id: 3, type: 'PassStateExited', timestamp: at(0), stateExitedEventDetails: { name: 'Initialize' } },
      { id: 4, type: 'TaskStateEntered', timestamp: at(0), stateEnteredEventDetails: { name: 'DeployGreen' } },
      { id: 5, type: 'LambdaFunctionFailed', timestamp: at(2), lambdaFunctionFailedEventDetails: { error: 'Cutover.Transient' } },
      { id: 6, type: 'TaskStateExited', timestamp: at(5), stateExitedEventDetails: { name: 'DeployGreen' } },
      { id: 7, type: 'TaskStateEntered', timestamp: at(5), stateEnteredEventDetails: { name: 'Bake' } },
    ];
    assert.deepEqual(
      stepTimings(events).map((s) => [s.name, s.type, s.durationMs, s.errors]),
      [
        ['Initialize', 'Pass', 0, []],
        ['DeployGreen', 'Task', 5000, ['Cutover.Transient']],
        ['Bake', 'Task', undefined, []],
      ],
    );
  });

  it('environment keys: service and environment from ENV#, LOCK# and DEPLOYMENTS# partitions', () => {
    assert.deepEqual(parseEnvKey('ENV#hello-world#production'), { service: 'hello-world', environment: 'production' });
    assert.deepEqual(parseEnvKey('DEPLOYMENTS#a#b#prod'), { service: 'a#b', environment: 'prod' });
    assert.equal(parseEnvKey('AUDIT#hello-world#production'), undefined);
    assert.equal(parseEnvKey('LOCK#broken'), undefined);
  });
});
