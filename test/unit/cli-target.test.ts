/**
 * Where the operator CLI talks to (lib/cli/target.ts): cutover's stack on AWS (CloudFormation
 * DescribeStacks outputs, mocked with aws-sdk-client-mock; flags override) or a local twin (its `GET /`
 * index, from a fake fetch). Also the one-line explanations of SDK errors and the operator's name.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudFormationClient, CloudFormationServiceException, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { dynamoDocClient, resetClients, sfnClient } from '../../lib/aws/clients';
import { CliError, explainError } from '../../lib/cli/errors';
import { Command } from 'commander';
import { addGlobalOptions, operatorName, type GlobalOptions } from '../../lib/cli/program';
import { DEFAULT_STACK, findOutput, resolveTarget } from '../../lib/cli/target';

const cfnMock = mockClient(CloudFormationClient);

const DEPLOY_ARN = 'arn:aws:states:eu-west-1:111122223333:stateMachine:cutover-deploy';
const ROLLBACK_ARN = 'arn:aws:states:eu-west-1:111122223333:stateMachine:cutover-rollback';
const OUTPUTS: Output[] = [
  { OutputKey: 'TableName', OutputValue: 'Cutover-LedgerTable1234-ABCD' },
  { OutputKey: 'DeployStateMachineArn', OutputValue: DEPLOY_ARN },
  { OutputKey: 'RollbackStateMachineArn', OutputValue: ROLLBACK_ARN },
  { OutputKey: 'GithubWebhookWebhookUrl0A1B2C3D', OutputValue: 'https://example.execute-api.eu-west-1.amazonaws.com/webhooks/github' },
];

const stackMissing = () =>
  new CloudFormationServiceException({ name: 'ValidationError', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Stack with id Cutover does not exist' });

/** Assert that `promise` rejects with a CliError whose message matches every pattern. */
async function rejectsWith(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<string> {
  const err = await promise.then(
    () => assert.fail('expected a CliError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CliError, `a CliError, got ${String(err)}`);
  for (const p of patterns) assert.match(err.message, p);
  return err.message;
}

describe('cli target: cutover\'s stack on AWS', () => {
  beforeEach(() => cfnMock.reset());
  afterEach(() => resetClients());

  it('reads the table and the state machine ARNs from the default stack\'s outputs, with one DescribeStacks', async () => {
    // Prepare
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Cutover', Outputs: OUTPUTS, CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE' }] });
    // Act
    const target = await resolveTarget({ region: 'eu-west-1' }, { env: {} });
    // Assess
    assert.equal(target.kind, 'aws');
    assert.equal(target.tableName, 'Cutover-LedgerTable1234-ABCD');
    assert.equal(await target.stateMachineArn('deploy'), DEPLOY_ARN);
    assert.equal(await target.stateMachineArn('rollback'), ROLLBACK_ARN);
    const calls = cfnMock.commandCalls(DescribeStacksCommand);
    assert.equal(calls.length, 1, 'outputs are read once');
    assert.equal(calls[0]!.args[0].input.StackName, DEFAULT_STACK);
    assert.equal(await sfnClient().config.region(), 'eu-west-1', '--region reaches the clients');
  });

  it('the stack name comes from --stack, else CUTOVER_STACK', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'x', Outputs: OUTPUTS, CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE' }] });
    await resolveTarget({ region: 'eu-west-1' }, { env: { CUTOVER_STACK: 'CutoverProd' } });
    await resolveTarget({ region: 'eu-west-1', stack: 'CutoverStaging' }, { env: { CUTOVER_STACK: 'CutoverProd' } });
    assert.deepEqual(
      cfnMock.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input.StackName),
      ['CutoverProd', 'CutoverStaging'],
    );
  });

  it('--table, --deploy-arn and --rollback-arn need no stack at all', async () => {
    const target = await resolveTarget({ region: 'eu-west-1', table: 'my-table', deployArn: 'arn:d', rollbackArn: 'arn:r' }, { env: {} });
    assert.equal(target.tableName, 'my-table');
    assert.equal(await target.stateMachineArn('deploy'), 'arn:d');
    assert.equal(await target.stateMachineArn('rollback'), 'arn:r');
    assert.equal(cfnMock.commandCalls(DescribeStacksCommand).length, 0);
  });

  it('a flag overrides one output; the others still come from the stack', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Cutover', Outputs: OUTPUTS, CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE' }] });
    const target = await resolveTarget({ region: 'eu-west-1', deployArn: 'arn:mine' }, { env: {} });
    assert.equal(await target.stateMachineArn('deploy'), 'arn:mine');
    assert.equal(await target.stateMachineArn('rollback'), ROLLBACK_ARN);
  });

  it('fails when the stack does not exist, naming it and the fixes', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(stackMissing());
    await rejectsWith(resolveTarget({ region: 'eu-west-1' }, { env: {} }), /CloudFormation stack "Cutover" does not exist/, /npx cdk deploy/, /--stack <name>/, /--table/, /--endpoint <url>/);
  });

  it('fails when an output is missing, naming the output and the flag that supplies it — only when that output is needed', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Cutover', Outputs: OUTPUTS.filter((o) => o.OutputKey !== 'RollbackStateMachineArn'), CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE' }] });
    const target = await resolveTarget({ region: 'eu-west-1' }, { env: {} });
    assert.equal(await target.stateMachineArn('deploy'), DEPLOY_ARN);
    await rejectsWith(target.stateMachineArn('rollback'), /stack "Cutover" has no output "RollbackStateMachineArn"/, /--rollback-arn <arn>/);
  });

  it('approvalUrl() is the stack output ApprovalUrl, read with the other outputs', async () => {
    // Prepare
    const url = 'https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/';
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Cutover', Outputs: [...OUTPUTS, { OutputKey: 'ApprovalApprovalUrl0A1B2C3D', OutputValue: url }], CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE' }] });
    // Act
    const target = await resolveTarget({ region: 'eu-west-1' }, { env: {} });
    // Assess
    assert.equal(await target.approvalUrl(), url);
    assert.equal(cfnMock.commandCalls(DescribeStacksCommand).length, 1);
  });

  it('--approval-url needs no stack output; an http URL is only allowed on the loopback', async () => {
    const url = 'https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/';
    const target = await resolveTarget({ region: 'eu-west-1', table: 't', approvalUrl: url }, { env: {} });
    assert.equal(await target.approvalUrl(), url);
    assert.equal(cfnMock.commandCalls(DescribeStacksCommand).length, 0);
    const local = await resolveTarget({ region: 'eu-west-1', table: 't', approvalUrl: 'http://localhost:4780/lambda-url/approval/' }, { env: {} });
    assert.equal(await local.approvalUrl(), 'http://localhost:4780/lambda-url/approval/');
  });

  it('fails on an --approval-url that is not an https URL, naming the flag and the form', async () => {
    await rejectsWith(
      resolveTarget({ region: 'eu-west-1', table: 't', approvalUrl: 'http://approvals.example.com/' }, { env: {} }),
      /^--approval-url "http:\/\/approvals\.example\.com\/" must be an https URL \(http only for 127\.0\.0\.1 or localhost\)/,
      /lambda-url\.<region>\.on\.aws/,
    );
    await rejectsWith(resolveTarget({ region: 'eu-west-1', table: 't', approvalUrl: 'approvals' }, { env: {} }), /^--approval-url "approvals" is not a URL/, /the stack output ApprovalUrl/);
    await rejectsWith(resolveTarget({ endpoint: 'http://127.0.0.1:4780', approvalUrl: 'ftp://127.0.0.1/' }, { env: {} }), /--approval-url "ftp:\/\/127\.0\.0\.1\/" must be an https URL/);
  });

  it('fails when the stack has no ApprovalUrl output, naming it and --approval-url — only when the URL is needed', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Cutover', Outputs: OUTPUTS, CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE' }] });
    const target = await resolveTarget({ region: 'eu-west-1' }, { env: {} });
    assert.equal(await target.stateMachineArn('deploy'), DEPLOY_ARN);
    await rejectsWith(target.approvalUrl(), /^stack "Cutover" has no output "ApprovalUrl": update the stack \(npx cdk deploy\) so it has it, or pass --approval-url <url>\.$/);
  });

  it('the global flag --approval-url reaches the target options', () => {
    const program = addGlobalOptions(new Command()).exitOverride();
    program.parse(['--approval-url', 'https://abc.lambda-url.eu-west-1.on.aws/', '--table', 't'], { from: 'user' });
    assert.deepEqual(program.opts<GlobalOptions>(), { approvalUrl: 'https://abc.lambda-url.eu-west-1.on.aws/', table: 't' });
  });

  it('fails on a --region that is not a region name', async () => {
    await rejectsWith(resolveTarget({ region: 'Ireland' }, { env: {} }), /--region "Ireland" is not an AWS region name/);
  });

  it('finds CDK-named outputs of nested constructs by their suffix, only when unambiguous', () => {
    const nested: Output[] = [{ OutputKey: 'LedgerTableName0A1B2C3D', OutputValue: 't' }, { OutputKey: 'DeployDeployStateMachineArnFFEE0011', OutputValue: 'd' }];
    assert.equal(findOutput(nested, 'TableName'), 't');
    assert.equal(findOutput(nested, 'DeployStateMachineArn'), 'd');
    assert.equal(findOutput([...nested, { OutputKey: 'OtherTableName', OutputValue: 'u' }], 'TableName'), undefined);
    assert.equal(findOutput([{ OutputKey: 'TableName', OutputValue: 'exact' }, ...nested], 'TableName'), 'exact');
  });
});

describe('cli target: a local twin', () => {
  afterEach(() => resetClients());

  const index = {
    service: 'cutover local twin',
    stepFunctions: 'http://127.0.0.1:4780',
    stateMachineArns: {
      deploy: 'arn:aws:states:us-east-1:123456789012:stateMachine:cutover-deploy',
      rollback: 'arn:aws:states:us-east-1:123456789012:stateMachine:cutover-rollback',
      'rollback-window': 'arn:aws:states:us-east-1:123456789012:stateMachine:cutover-rollback-window',
    },
    dynamodb: { endpoint: 'http://127.0.0.1:45678', tableName: 'cutover-ledger' },
    region: 'us-east-1',
    timeScale: 60,
  };
  const fakeFetch = (body: unknown, status = 200): typeof fetch =>
    (async (url: string | URL | Request) => {
      assert.equal(String(url), 'http://127.0.0.1:4780/');
      return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;

  it('reads the index and points the clients at the twin\'s Step Functions and DynamoDB endpoints', async () => {
    const target = await resolveTarget({ endpoint: 'http://127.0.0.1:4780/' }, { fetch: fakeFetch(index), env: {} });
    assert.equal(target.kind, 'twin');
    assert.equal(target.description, 'the local twin at http://127.0.0.1:4780');
    assert.equal(target.tableName, 'cutover-ledger');
    assert.equal(await target.stateMachineArn('deploy'), index.stateMachineArns.deploy);
    assert.equal(await target.stateMachineArn('rollback'), index.stateMachineArns.rollback);
    const sfnEndpoint = await sfnClient().config.endpoint!();
    assert.equal(`${sfnEndpoint.hostname}:${sfnEndpoint.port}`, '127.0.0.1:4780');
    const dynamoEndpoint = await dynamoDocClient().config.endpoint!();
    assert.equal(`${dynamoEndpoint.hostname}:${dynamoEndpoint.port}`, '127.0.0.1:45678');
    assert.equal(await sfnClient().config.region(), 'us-east-1');
    assert.equal((await sfnClient().config.credentials()).accessKeyId, 'local');
  });

  it('signs as the operator\'s own AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the twin verifies a principal\'s own secret at the approval URL); a key without a secret signs with "local"', async () => {
    const both = await resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch(index), env: { AWS_ACCESS_KEY_ID: 'carol', AWS_SECRET_ACCESS_KEY: 'carols-secret' } });
    const keys = async () => {
      const { accessKeyId, secretAccessKey } = await sfnClient().config.credentials();
      return { accessKeyId, secretAccessKey };
    };
    assert.deepEqual(await keys(), { accessKeyId: 'carol', secretAccessKey: 'carols-secret' });
    assert.equal(await both.callerIdentity(), 'access-key:carol');

    await resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch(index), env: { AWS_ACCESS_KEY_ID: 'bob' } });
    assert.deepEqual(await keys(), { accessKeyId: 'bob', secretAccessKey: 'local' });

    // A secret without its key is not paired with the default key.
    await resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch(index), env: { AWS_SECRET_ACCESS_KEY: 'orphan' } });
    assert.deepEqual(await keys(), { accessKeyId: 'local', secretAccessKey: 'local' });
  });

  it('now() is the twin\'s simulated time (its index\'s now, moved on at its time scale); without one, the real clock', async () => {
    let real = 1_000_000;
    const clock = () => real;
    const target = await resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch({ ...index, now: '2031-05-01T10:00:00.000Z' }), env: {}, clock });
    assert.equal(target.now().toISOString(), '2031-05-01T10:00:00.000Z');
    real += 1000; // one real second at ×60
    assert.equal(target.now().toISOString(), '2031-05-01T10:01:00.000Z');
    const older = await resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch(index), env: {}, clock });
    assert.equal(older.now().getTime(), real);
  });

  it('a twin that is starting (503 + retryAfterSeconds) is asked again after the time it names; one still starting at the deadline is named with what it waits for', async () => {
    const starting = { status: 'starting', waitingFor: ['the ECS services and their databases'], retryAfterSeconds: 2 };
    const answers: Array<[unknown, number]> = [[starting, 503], [starting, 503], [index, 200]];
    let now = 0;
    const slept: number[] = [];
    const seq = (async () => {
      const [body, status] = answers.shift()!;
      return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof fetch;
    const sleep = async (ms: number) => { slept.push(ms); now += ms; };
    const target = await resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: seq, env: {}, clock: () => now, sleep });
    assert.equal(target.tableName, 'cutover-ledger');
    assert.deepEqual(slept, [2000, 2000]);
    await rejectsWith(
      resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch(starting, 503), env: {}, clock: () => now, sleep, startWaitMs: 5000 }),
      /^the local twin at http:\/\/127\.0\.0\.1:4780 is starting \(waiting for the ECS services and their databases\): try again once it says it is ready\.$/,
    );
  });

  it('fails naming the fields a twin\'s index lacks', async () => {
    const { dynamodb: _d, stateMachineArns: _s, ...old } = index;
    await rejectsWith(
      resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch({ ...old, stateMachines: [index.stateMachineArns.deploy] }), env: {} }),
      /the local twin at http:\/\/127\.0\.0\.1:4780 does not describe its table and state machines/,
      /dynamodb/,
      /stateMachineArns/,
    );
  });

  it('approvalUrl() is the index\'s approvalUrl; --approval-url overrides it', async () => {
    const target = await resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch({ ...index, approvalUrl: 'http://127.0.0.1:4780/lambda-url/approval/' }), env: {} });
    assert.equal(await target.approvalUrl(), 'http://127.0.0.1:4780/lambda-url/approval/');
    const other = await resolveTarget({ endpoint: 'http://127.0.0.1:4780', approvalUrl: 'http://127.0.0.1:9999/lambda-url/approval/' }, { fetch: fakeFetch({ ...index, approvalUrl: 'http://127.0.0.1:4780/lambda-url/approval/' }), env: {} });
    assert.equal(await other.approvalUrl(), 'http://127.0.0.1:9999/lambda-url/approval/');
  });

  it('fails when the twin\'s index has no approvalUrl (an older twin), only when the URL is needed', async () => {
    const target = await resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch(index), env: {} });
    assert.equal(target.tableName, 'cutover-ledger');
    await rejectsWith(target.approvalUrl(), /^the local twin at http:\/\/127\.0\.0\.1:4780 has no approval function URL \(GET \/ lacks approvalUrl\): update cutover and restart the twin\.$/);
  });

  it('fails when the twin has no rollback state machine, only when a rollback is asked for', async () => {
    const target = await resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch({ ...index, stateMachineArns: { deploy: index.stateMachineArns.deploy } }), env: {} });
    assert.equal(await target.stateMachineArn('deploy'), index.stateMachineArns.deploy);
    await rejectsWith(target.stateMachineArn('rollback'), /has no rollback state machine/);
  });

  it('fails on an unreachable twin, a non-JSON answer, an HTTP error and a bad URL', async () => {
    const refused: typeof fetch = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4780'), { code: 'ECONNREFUSED' }) });
    };
    await rejectsWith(resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: refused, env: {} }), /cannot reach the local twin at http:\/\/127\.0\.0\.1:4780 \(ECONNREFUSED\): start it with `npm start`/);
    await rejectsWith(resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch('<html>'), env: {} }), /not JSON: is that a cutover twin/);
    await rejectsWith(resolveTarget({ endpoint: 'http://127.0.0.1:4780' }, { fetch: fakeFetch({}, 404), env: {} }), /answered GET \/ with HTTP 404/);
    await rejectsWith(resolveTarget({ endpoint: 'ftp://127.0.0.1:4780' }, { env: {} }), /--endpoint "ftp:\/\/127\.0\.0\.1:4780" must be an http\(s\) URL/);
    await rejectsWith(resolveTarget({ endpoint: '127.0.0.1:4780' }, { env: {} }), /--endpoint "127\.0\.0\.1:4780" is not a URL: give the twin's address, e\.g\. http:\/\/127\.0\.0\.1:4780/);
  });
});

describe('cli errors and operator', () => {
  it('explains missing credentials and region in one line with the fix', () => {
    const creds = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    assert.match(explainError(creds), /^no AWS credentials found \(.*\): configure them .* or use --endpoint <url> for a local twin\.$/);
    assert.match(explainError(new Error('Region is missing')), /set AWS_REGION .* or pass --region <name>/);
    assert.equal(explainError(new CliError('as it is')), 'as it is');
    assert.doesNotMatch(explainError(new Error('multi\n  line')), /\n/);
  });

  it('the operator is --operator, else CUTOVER_OPERATOR, else the OS user; never empty', () => {
    assert.equal(operatorName('ada', { CUTOVER_OPERATOR: 'grace' }), 'ada');
    assert.equal(operatorName(undefined, { CUTOVER_OPERATOR: 'grace' }), 'grace');
    assert.ok(operatorName(undefined, {}).length > 0);
    assert.throws(() => operatorName('  ', {}), /--operator: say who you are/);
  });
});
