/**
 * CutoverStack with the sample config (GitHub repository, RDS instance, listener routes, alarms).
 * One app is synthesized for the whole file; bundling is skipped (context aws:cdk:bundling-stacks = []).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { FUNCTIONS, ROOT_DIR, STATE_MACHINES, TABLE_KEYS, placeholdersIn, stateMachineFile } from '../../lib/catalog';
import { loadConfigFile } from '../../lib/config';
import { CutoverStack } from '../../lib/constructs';
import { githubTokenSecretResources } from '../../lib/constructs/cutover-stack';
import { TASK_ROLES } from '../helpers/stacks';

/** The inline and customer managed policies of the template (cutover packs function statements into managed policies). */
/** The policies attached to cutover's own roles (not the unattached managed policies for people: lib/constructs/operator-policies.ts). */
const rolePolicies = (t: Template): any[] => [...Object.values(t.findResources('AWS::IAM::Policy')), ...Object.values(t.findResources('AWS::IAM::ManagedPolicy'))].filter((p: any) => p.Properties.Roles !== undefined);

// Prepare
const cdkContext = JSON.parse(readFileSync(join(ROOT_DIR, 'cdk.json'), 'utf8')).context;
const config = loadConfigFile(join(ROOT_DIR, 'test/fixtures/hello-world-production.json'));
const app = new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
const stack = new CutoverStack(app, 'Cutover', { config, taskRoleArns: TASK_ROLES });
const template = Template.fromStack(stack);

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };
/** All statements of the policies attached to the role of the function with this description. */
function statementsOf(functionName: string, t: Template = template): Statement[] {
  const spec = FUNCTIONS.find((f) => f.name === functionName)!;
  const fns = t.findResources('AWS::Lambda::Function', { Properties: { Description: spec.description } });
  assert.equal(Object.keys(fns).length, 1, `one function "${functionName}"`);
  const roleRef = JSON.stringify((Object.values(fns)[0] as any).Properties.Role['Fn::GetAtt'][0]);
  const policies = rolePolicies(t).filter((p: any) =>
    (p.Properties.Roles ?? []).some((r: any) => JSON.stringify(r.Ref) === roleRef),
  );
  return policies.flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}
const actionsOf = (s: Statement) => [s.Action].flat();

/** IAM action of each SDK command the ledger adapter (lib/aws/ledger.ts) sends. */
const LEDGER_COMMAND_ACTIONS: Record<string, string> = {
  GetCommand: 'dynamodb:GetItem',
  PutCommand: 'dynamodb:PutItem',
  UpdateCommand: 'dynamodb:UpdateItem',
  DeleteCommand: 'dynamodb:DeleteItem',
  QueryCommand: 'dynamodb:Query',
  DescribeExecutionCommand: 'states:DescribeExecution',
};
/**
 * The IAM actions a handler needs for its ledger: each `ledger.<method>(` call of the handler, followed
 * through the adapter's methods (`this.<method>(`) and module functions, to the commands they send.
 * @throws (assert) on a called method the adapter does not have, or a command with no known action
 */
function ledgerActionsOf(handlerFile: string): string[] {
  const source = readFileSync(join(ROOT_DIR, 'lib/aws/ledger.ts'), 'utf8');
  const starts = [...source.matchAll(/^(?: {2}(?:private |public )?(?:async )?|(?:export )?(?:async )?function )([a-zA-Z]\w*)\(/gm)];
  const bodies = new Map(starts.map((m, i) => [m[1]!, source.slice(m.index, starts[i + 1]?.index ?? source.length)]));
  const todo = [...readFileSync(handlerFile, 'utf8').matchAll(/\bledger\.(\w+)\(/g)].map((m) => m[1]!);
  assert.ok(todo.length > 0, `${handlerFile} calls the ledger`);
  const seen = new Set<string>();
  const actions = new Set<string>();
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const body = bodies.get(name);
    assert.ok(body, `Ledger.${name} (called by ${handlerFile}) is in lib/aws/ledger.ts`);
    for (const [, command] of body.matchAll(/\bnew (\w+Command)\(/g)) {
      assert.ok(command! in LEDGER_COMMAND_ACTIONS, `lib/aws/ledger.ts sends ${command}: add its IAM action to LEDGER_COMMAND_ACTIONS (and grant it)`);
      actions.add(LEDGER_COMMAND_ACTIONS[command!]!);
    }
    for (const [, callee] of body.matchAll(/\b(?:this\.)?(\w+)\(/g)) if (bodies.has(callee!) && callee !== name) todo.push(callee!);
  }
  return [...actions].sort();
}
/** Compare resource lists ignoring order (policy minimization sorts them). */
const sorted = (items: unknown) => [items].flat().map((i) => JSON.stringify(i)).sort();
const arnJoin = (suffix: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${suffix.split(':')[0]}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${suffix.split(':').slice(1).join(':')}`]],
});

describe('CutoverStack (sample config)', () => {
  it('has the ledger table with the catalog key schema, on-demand, PITR, TTL, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
        ]),
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      },
    });
  });

  it('has one function per FUNCTIONS entry: nodejs >= 22, arm64, traced, 256 MiB (1024 on the rollback path: alarm, traffic), own log group with retention', () => {
    const fns = template.findResources('AWS::Lambda::Function');
    assert.equal(Object.keys(fns).length, FUNCTIONS.length);
    const logGroups = template.findResources('AWS::Logs::LogGroup');
    for (const spec of FUNCTIONS) {
      const [id, fn] = Object.entries(fns).find(([, f]: any) => f.Properties.Description === spec.description)! as [string, any];
      const p = fn.Properties;
      const version = Number(/^nodejs(\d+)\.x$/.exec(p.Runtime)?.[1]);
      assert.ok(version >= 22, `${spec.name}: runtime ${p.Runtime}`);
      assert.deepEqual(p.Architectures, ['arm64'], spec.name);
      assert.deepEqual(p.TracingConfig, { Mode: 'Active' }, spec.name);
      assert.equal(p.Handler, 'index.handler', spec.name);
      assert.equal(p.MemorySize, ['alarm', 'traffic'].includes(spec.name) ? 1024 : 256, spec.name);
      assert.equal(p.Timeout, spec.name === 'github-webhook' ? 10 : 30, spec.name);
      assert.equal(p.Environment.Variables.POWERTOOLS_SERVICE_NAME, 'cutover', spec.name);
      const logGroupId = p.LoggingConfig?.LogGroup?.Ref;
      assert.ok(logGroupId, `${spec.name} (${id}) has an explicit log group`);
      assert.equal(logGroups[logGroupId]?.Properties.RetentionInDays, 30, `${spec.name}: retention ONE_MONTH`);
    }
  });

  it('gives each function exactly its environment variables', () => {
    const fns = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
    const envOf = (name: string) => fns.find((f) => f.Properties.Description === FUNCTIONS.find((s) => s.name === name)!.description).Properties.Environment.Variables;
    const base = ['NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME'];
    // The config is a file in the bundle (no 4 KB environment limit), named by CUTOVER_CONFIG_FILE.
    assert.deepEqual(Object.keys(envOf('github-webhook')).sort(), [...base, 'CUTOVER_CONFIG_FILE', 'STATE_MACHINE_ARN', 'TABLE_NAME', 'WEBHOOK_SECRET_ARN'].sort());
    assert.equal(envOf('github-webhook').CUTOVER_CONFIG_FILE, 'cutover-config.json');
    assert.equal(envOf('plan').CUTOVER_CONFIG_FILE, 'cutover-config.json');
    assert.deepEqual(Object.keys(envOf('plan')).sort(), [...base, 'CUTOVER_CONFIG_FILE'].sort());
    assert.deepEqual(Object.keys(envOf('ledger')).sort(), [...base, 'NOTIFICATION_TOPIC_ARN', 'TABLE_NAME'].sort());
    assert.deepEqual(envOf('ledger').NOTIFICATION_TOPIC_ARN, { Ref: Object.keys(template.findResources('AWS::SNS::Topic'))[0] });
    assert.deepEqual(Object.keys(envOf('alarm')).sort(), [...base, 'CUTOVER_CONFIG_FILE', 'NOTIFICATION_TOPIC_ARN', 'ROLLBACK_STATE_MACHINE_ARN', 'TABLE_NAME'].sort());
    assert.deepEqual(Object.keys(envOf('image-events')).sort(), [...base, 'CUTOVER_CONFIG_FILE', 'TABLE_NAME'].sort());
    assert.equal(envOf('image-events').CUTOVER_CONFIG_FILE, 'cutover-config.json');
    assert.deepEqual(envOf('image-events').TABLE_NAME, { Ref: Object.keys(template.findResources('AWS::DynamoDB::Table'))[0] });
    assert.deepEqual(envOf('ledger').TABLE_NAME, { Ref: Object.keys(template.findResources('AWS::DynamoDB::Table'))[0] });
    // The approval function reads the approvers from the deployment's plan (on its record), not the config.
    assert.deepEqual(Object.keys(envOf('approval')).sort(), [...base, 'TABLE_NAME'].sort());
    assert.deepEqual(envOf('approval').TABLE_NAME, { Ref: Object.keys(template.findResources('AWS::DynamoDB::Table'))[0] });
    for (const name of ['ecs-release', 'database', 'traffic', 'alarm-check']) assert.deepEqual(Object.keys(envOf(name)).sort(), base, name);
    const sm = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0];
    assert.deepEqual(envOf('github-webhook').STATE_MACHINE_ARN, { Ref: sm });
  });

  it('has a STANDARD state machine logging ALL with execution data, traced', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      StateMachineName: 'Cutover-deploy',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } } }],
      },
    });
  });

  it('lets the state machine invoke exactly the functions it calls', () => {
    const smRole = (Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as any).Properties.RoleArn['Fn::GetAtt'][0];
    const statements = rolePolicies(template)
      .filter((p: any) => (p.Properties.Roles ?? []).some((r: any) => r.Ref === smRole))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement as Statement[]);
    const invoked = new Set(
      statements
        .filter((s) => actionsOf(s).includes('lambda:InvokeFunction'))
        .flatMap((s) => [s.Resource].flat())
        .map((r) => JSON.stringify(r).match(/"Fn::GetAtt":\["([^"]+)","Arn"\]/)![1]),
    );
    const fns = template.findResources('AWS::Lambda::Function');
    const expected = FUNCTIONS.filter((f) => 'placeholder' in f).map(
      (spec) => Object.entries(fns).find(([, f]: any) => f.Properties.Description === spec.description)![0],
    );
    assert.deepEqual([...invoked].sort(), expected.sort());
    for (const s of statements.filter((s) => actionsOf(s).includes('lambda:InvokeFunction'))) {
      assert.ok(![s.Resource].flat().some((r) => JSON.stringify(r).includes('*')), 'no wildcard on lambda:InvokeFunction');
    }
  });

  it('scopes ecs-release to the configured services, clusters and task roles', () => {
    const statements = statementsOf('ecs-release');
    const update = statements.find((s) => actionsOf(s).includes('ecs:UpdateService'))!;
    assert.deepEqual(sorted(update.Resource), sorted([arnJoin('ecs:service/hello-world/hello-world-blue'), arnJoin('ecs:service/hello-world/hello-world-green')]));
    assert.ok(!statements.some((s) => actionsOf(s).includes('ecs:UpdateService') && [s.Resource].flat().includes('*')), 'no Resource "*" on UpdateService');
    const run = statements.find((s) => actionsOf(s).includes('ecs:RunTask'))!;
    assert.deepEqual(run.Condition, { ArnEquals: { 'ecs:cluster': [arnJoin('ecs:cluster/hello-world')] } });
    const tasks = statements.find((s) => actionsOf(s).includes('ecs:StopTask'))!;
    assert.deepEqual(tasks.Resource, arnJoin('ecs:task/hello-world/*'));
    const pass = statements.find((s) => actionsOf(s).includes('iam:PassRole'))!;
    assert.deepEqual(pass.Condition, { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  });

  it('lets ecs-release read only the awslogs streams of the configured container (the migration task’s log)', () => {
    const statements = statementsOf('ecs-release');
    const read = statements.filter((s) => actionsOf(s).includes('logs:GetLogEvents'));
    assert.equal(read.length, 1, 'one statement grants logs:GetLogEvents');
    assert.deepEqual(actionsOf(read[0]!), ['logs:GetLogEvents'], 'read-only: nothing but GetLogEvents');
    assert.deepEqual(read[0]!.Resource, arnJoin('logs:log-group:*:log-stream:*/app/*'), 'streams <prefix>/app/<task id> only');
    for (const name of ['plan', 'ledger', 'database', 'traffic', 'alarm-check', 'alarm', 'image-events', 'approval']) {
      assert.ok(!statementsOf(name).some((s) => actionsOf(s).includes('logs:GetLogEvents')), `${name} cannot read task logs`);
    }
  });

  it('scopes database to the configured instance, its renames and cutover snapshots', () => {
    const statements = statementsOf('database');
    const main = statements.find((s) => actionsOf(s).includes('rds:CreateDBSnapshot'))!;
    assert.deepEqual(sorted(main.Resource), sorted([
      arnJoin('rds:db:hello-world-production'),
      // Exactly the restore swap's names (restoreNames: -restored-<6 hex>, -pre-<6 hex>), so that an
      // instance such as hello-world-production-replica is out of reach.
      arnJoin('rds:db:hello-world-production-restored-??????'),
      arnJoin('rds:db:hello-world-production-pre-??????'),
      arnJoin('rds:snapshot:cutover-*'),
    ]));
    assert.ok(!statements.some((s) => actionsOf(s).some((a) => a.includes('Cluster'))), 'no cluster actions without a configured cluster');
  });

  it('lets database restore CMK-encrypted snapshots through RDS only, and pass a monitoring role only to RDS monitoring', () => {
    const statements = statementsOf('database');
    const grant = statements.find((s) => actionsOf(s).includes('kms:CreateGrant'))!;
    assert.deepEqual(grant.Condition, { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['rds.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } }, Bool: { 'kms:GrantIsForAWSResource': 'true' } });
    assert.ok(statements.some((s) => actionsOf(s).includes('kms:DescribeKey') && JSON.stringify(s.Condition).includes('kms:ViaService')));
    const monitoring = statements.find((s) => actionsOf(s).includes('iam:PassRole'))!;
    assert.deepEqual(monitoring.Condition, { StringEquals: { 'iam:PassedToService': 'monitoring.rds.amazonaws.com' } });
  });

  it('scopes traffic to the configured listeners and alarm-check to the configured alarms', () => {
    const modify = statementsOf('traffic').find((s) => actionsOf(s).includes('elasticloadbalancing:ModifyListener'))!;
    const env = config.services['hello-world']!.environments.production!;
    assert.deepEqual(sorted(modify.Resource), sorted([(env.test as { listenerArn: string }).listenerArn, (env.production as { listenerArn: string }).listenerArn]));
    assert.ok(!statementsOf('traffic').some((s) => actionsOf(s).includes('elasticloadbalancing:ModifyRule')));
    // DescribeAlarms returns composite alarms only to a caller allowed it on `*` (CloudWatch API
    // reference, DescribeAlarms); cutover asks for both types, so a narrower scope would fail every bake.
    for (const fn of ['alarm-check', 'ledger']) {
      const alarms = statementsOf(fn).find((s) => actionsOf(s).includes('cloudwatch:DescribeAlarms'))!;
      assert.deepEqual([alarms.Resource].flat(), ['*'], `${fn}: cloudwatch:DescribeAlarms on *`);
    }
  });

  it('gives the ledger, alarm and image-events functions only the DynamoDB actions their own handler sends through the ledger adapter, on the table', () => {
    const table = Object.keys(template.findResources('AWS::DynamoDB::Table'))[0]!;
    for (const fn of ['ledger', 'alarm', 'image-events']) {
      const needed = ledgerActionsOf(join(ROOT_DIR, 'lambdas', fn, 'handler.ts')).filter((a) => a.startsWith('dynamodb:'));
      const dynamo = statementsOf(fn).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      assert.deepEqual(dynamo.flatMap(actionsOf).sort(), needed, `${fn}: exactly the DynamoDB actions its Ledger calls send`);
      for (const s of dynamo) assert.deepEqual([s.Resource].flat(), [{ 'Fn::GetAtt': [table, 'Arn'] }], `${fn}: the table only`);
    }
    // The alarm function reads the lock and the environment, appends to the audit timeline and records
    // when a failure was detected on a record: no delete or query (getLock / getEnvironment / audit / setRecordFields).
    assert.deepEqual(ledgerActionsOf(join(ROOT_DIR, 'lambdas/alarm/handler.ts')), ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    // image-events only reads the locks (ledger.getLock).
    assert.deepEqual(ledgerActionsOf(join(ROOT_DIR, 'lambdas/image-events/handler.ts')), ['dynamodb:GetItem']);
  });

  it('grants no action that no code path sends (each maps to an SDK command cutover uses)', () => {
    const sources = [...readdirSync(join(ROOT_DIR, 'lib/aws')).map((f) => join(ROOT_DIR, 'lib/aws', f)), ...FUNCTIONS.map((f) => join(ROOT_DIR, 'lambdas', f.name, 'handler.ts'))]
      .filter((f) => f.endsWith('.ts') && !f.endsWith('inspect.ts'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    /** Actions no SDK command of ours names directly, and why they are needed. */
    const implicit: Record<string, string> = {
      'xray:PutTraceSegments': 'active tracing (added by Lambda)',
      'xray:PutTelemetryRecords': 'active tracing (added by Lambda)',
      'logs:CreateLogStream': 'the function writes its own logs',
      'logs:PutLogEvents': 'the function writes its own logs',
      'iam:PassRole': 'RegisterTaskDefinition / RestoreDB* pass the original roles',
      'ecs:TagResource': 'tags on RunTask / RegisterTaskDefinition',
      'rds:AddTagsToResource': 'tags on CreateDBSnapshot / RestoreDB*',
      'secretsmanager:GetSecretValue': 'Powertools getSecret (GetSecretValue) reads the webhook secret',
      'kms:CreateGrant': 'RDS restores a CMK-encrypted snapshot on the caller’s behalf',
      'kms:DescribeKey': 'RDS restores a CMK-encrypted snapshot on the caller’s behalf',
      'sqs:SendMessage': 'Lambda itself sends a failed asynchronous invocation to the function’s DeadLetterConfig queue, with the function’s role',
    };
    // The sample (GitHub, an RDS instance, listeners) and the fixture (CodeCommit, an Aurora cluster, rules).
    const fixture = Template.fromStack(
      new CutoverStack(new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } }), 'Fixture', {
        config: loadConfigFile(join(ROOT_DIR, 'test/constructs/fixtures/codecommit-aurora.json')),
        taskRoleArns: TASK_ROLES,
      }),
    );
    for (const [spec, t] of FUNCTIONS.flatMap((f) => [[f, template], [f, fixture]] as const)) {
      const granted = Object.keys(t.findResources('AWS::Lambda::Function', { Properties: { Description: spec.description } })).length > 0 ? statementsOf(spec.name, t) : [];
      for (const action of granted.flatMap(actionsOf)) {
        if (action in implicit) continue;
        const op = action.split(':')[1]!;
        // The DynamoDB document client names its commands without "Item" (PutCommand for PutItem).
        const names = action.startsWith('dynamodb:') ? [op, op.replace(/Item$/, '')] : [op];
        assert.ok(names.some((n) => new RegExp(`\\b${n}Command\\b`).test(sources)), `${spec.name}: ${action} is granted but no code sends ${op}Command`);
      }
    }
  });

  it('lets ledger read/write the table and github-webhook start and describe deploy executions and read the secret', () => {
    const table = Object.keys(template.findResources('AWS::DynamoDB::Table'))[0]!;
    assert.ok(statementsOf('ledger').some((s) => actionsOf(s).includes('dynamodb:PutItem') && JSON.stringify(s.Resource).includes(table)));
    const sm = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0]!;
    const secret = Object.keys(template.findResources('AWS::SecretsManager::Secret'))[0]!;
    const webhook = statementsOf('github-webhook');
    assert.ok(webhook.some((s) => actionsOf(s).includes('states:StartExecution') && JSON.stringify(s.Resource) === JSON.stringify({ Ref: sm })));
    assert.ok(webhook.some((s) => actionsOf(s).includes('states:DescribeExecution') && JSON.stringify(s.Resource).includes(':execution:')));
    assert.ok(webhook.some((s) => actionsOf(s).includes('secretsmanager:GetSecretValue') && JSON.stringify(s.Resource) === JSON.stringify({ Ref: secret })));
    for (const name of ['plan', 'ecs-release', 'database', 'traffic', 'alarm-check', 'alarm', 'image-events', 'approval']) {
      assert.ok(!statementsOf(name).some((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:'))), `${name} cannot read the secret`);
    }
  });

  it('lets the ledger and github-webhook read exactly the configured GitHub token secret, and github-webhook answer the checks wait (SendTaskSuccess)', () => {
    const token = config.services['hello-world']!.github!.tokenSecretArn;
    for (const name of ['ledger', 'github-webhook']) {
      const reads = statementsOf(name).filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'));
      const resources = reads.flatMap((s) => [s.Resource].flat());
      assert.ok(resources.includes(token), `${name} reads the token secret (${JSON.stringify(resources)})`);
      assert.ok(reads.every((s) => actionsOf(s).length === 1), `${name}: GetSecretValue only`);
    }
    // The ledger reads no other secret (the webhook also reads its own webhook secret).
    assert.deepEqual(statementsOf('ledger').filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:'))).flatMap((s) => [s.Resource].flat()), [token]);
    assert.ok(statementsOf('github-webhook').some((s) => actionsOf(s).includes('states:SendTaskSuccess')));
    assert.equal(githubTokenSecretResources({ services: { a: { ...config.services['hello-world']!, github: { tokenSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cutover/token', apiUrl: 'https://api.github.com', deployments: true } } } })[0], 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cutover/token-??????', 'a partial ARN matches its suffixed secret');
  });

  it('routes POST /webhooks/github to github-webhook on a throttled, access-logged $default stage', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /webhooks/github' });
    const webhookFn = Object.entries(template.findResources('AWS::Lambda::Function')).find(([, f]: any) => f.Properties.Environment.Variables.WEBHOOK_SECRET_ARN)![0];
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: { 'Fn::GetAtt': [webhookFn, 'Arn'] },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] }, Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"') },
    });
  });

  it('creates the webhook secret with the default name and outputs it and the webhook URL', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'Cutover/github-webhook-secret',
      GenerateSecretString: Match.objectLike({ PasswordLength: 64 }),
    });
    const outputs = template.findOutputs('*');
    const url = Object.values(outputs).find((o: any) => JSON.stringify(o.Value).includes('/webhooks/github'));
    assert.ok(url, 'an output with the webhook URL');
    assert.ok(Object.values(outputs).some((o: any) => o.Description?.includes('Secrets Manager secret')), 'an output with the secret name');
  });

  it('has no CodeCommit rule when no service uses CodeCommit', () => {
    const rules = template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.codecommit'] } } });
    assert.deepEqual(Object.keys(rules), []);
  });

  it('sends the configured alarms going to ALARM to the alarm function, with a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { alarmName: ['hello-world-production-5xx', 'hello-world-production-latency'], state: { value: ['ALARM'] } },
      },
      Targets: [Match.objectLike({ Arn: Match.anyValue(), DeadLetterConfig: Match.objectLike({ Arn: Match.anyValue() }), RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 900 } })],
    });
    const fns = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: Match.objectLike({ TABLE_NAME: Match.anyValue(), CUTOVER_CONFIG_FILE: Match.anyValue() }) } } });
    assert.ok(Object.keys(fns).length >= 1, 'the alarm function reads the config and the table');
  });

  it('lets the alarm function, the ledger and the approval function fail task tokens (SendTaskFailure), and the ledger read the alarms', () => {
    const policies = rolePolicies(template).map((p: any) => JSON.stringify(p.Properties.PolicyDocument));
    const withSendTaskFailure = policies.filter((p) => p.includes('states:SendTaskFailure'));
    assert.equal(withSendTaskFailure.length, 3, 'alarm, ledger and approval (a rejection)');
    for (const name of ['alarm', 'ledger', 'approval']) assert.ok(statementsOf(name).some((s) => actionsOf(s).includes('states:SendTaskFailure')), name);
    assert.ok(withSendTaskFailure.some((p) => p.includes('cloudwatch:DescribeAlarms')), 'the ledger checks alarms as a bake starts');
  });
});

describe('CutoverStack: the approval function (function URL, AWS_IAM)', () => {
  const fns = template.findResources('AWS::Lambda::Function', { Properties: { Description: FUNCTIONS.find((f) => f.name === 'approval')!.description } });
  const approvalFn = Object.keys(fns)[0]!;
  const table = Object.keys(template.findResources('AWS::DynamoDB::Table'))[0]!;

  it('exposes the approval function through one function URL with AuthType AWS_IAM', () => {
    assert.equal(Object.keys(fns).length, 1, 'one approval function');
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM', TargetFunctionArn: { 'Fn::GetAtt': [approvalFn, 'Arn'] } });
    // AWS_IAM: the callers' identity policies authorize; no resource-based policy opens the function to anyone else.
    const permissions = Object.entries(template.findResources('AWS::Lambda::Permission')).filter(([, p]: [string, any]) => JSON.stringify(p.Properties.FunctionName).includes(`"${approvalFn}"`));
    assert.deepEqual(permissions.map(([id]) => id), [], 'no resource-based permission on the approval function');
  });

  it('outputs the function URL as ApprovalUrl', () => {
    const outputs = template.findOutputs('*');
    const key = Object.keys(outputs).find((k) => /ApprovalUrl/.test(k));
    assert.ok(key, `an ApprovalUrl output (${Object.keys(outputs).join(', ')})`);
    const url = Object.keys(template.findResources('AWS::Lambda::Url'))[0]!;
    assert.deepEqual(outputs[key].Value, { 'Fn::GetAtt': [url, 'FunctionUrl'] });
    assert.match(outputs[key].Description, /AWS_IAM.*approvers/);
  });

  it('lets the approval function answer task tokens (SendTaskSuccess / SendTaskFailure) and read, update and audit the ledger table only', () => {
    const statements = statementsOf('approval');
    const answer = statements.find((s) => actionsOf(s).includes('states:SendTaskSuccess'))!;
    assert.ok(answer, 'SendTaskSuccess');
    assert.deepEqual(actionsOf(answer).sort(), ['states:SendTaskFailure', 'states:SendTaskSuccess']);
    assert.deepEqual([answer.Resource].flat(), ['*'], 'task tokens support no resource-level permission');
    const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    assert.deepEqual(dynamo.flatMap(actionsOf).sort(), ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    for (const s of dynamo) assert.deepEqual([s.Resource].flat(), [{ 'Fn::GetAtt': [table, 'Arn'] }], 'the table only');
    // Enough for what the handler's ledger calls send (getLock / getRecord, recordApproval, audit).
    for (const action of ledgerActionsOf(join(ROOT_DIR, 'lambdas/approval/handler.ts')).filter((a) => a.startsWith('dynamodb:'))) {
      assert.ok(dynamo.flatMap(actionsOf).includes(action), `the approval handler's ledger sends ${action}`);
    }
    assert.ok(!statements.some((s) => actionsOf(s).some((a) => a === 'states:StartExecution' || a === 'dynamodb:DeleteItem' || a === 'dynamodb:Scan')), 'starts nothing, deletes nothing, scans nothing');
  });
});

describe('CutoverStack: rollback, rollback window and notifications', () => {
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  const byName = (name: string) => Object.entries(machines).find(([, m]: [string, any]) => m.Properties.StateMachineName === name)!;
  /** Statements of the policies attached to a state machine's role. */
  const roleStatements = (name: string): Statement[] => {
    const roleRef = JSON.stringify((byName(name)[1] as any).Properties.RoleArn['Fn::GetAtt'][0]);
    return rolePolicies(template)
      .filter((p: any) => (p.Properties.Roles ?? []).some((r: any) => JSON.stringify(r.Ref) === roleRef))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
  };
  const allows = (statements: Statement[], action: string, resourcePart: string) =>
    statements.some((s) => [s.Action].flat().includes(action) && JSON.stringify(s.Resource).includes(resourcePart));

  it('has the deploy, rollback and rollback-window state machines', () => {
    assert.deepEqual(Object.values(machines).map((m: any) => m.Properties.StateMachineName).sort(), ['Cutover-deploy', 'Cutover-rollback', 'Cutover-rollback-window']);
  });

  it('lets deploy start only the rollback window and deploy (a promotion to the next environment), and rollback start and follow (.sync:2) only deploy', () => {
    const deploy = roleStatements('Cutover-deploy');
    assert.ok(allows(deploy, 'states:StartExecution', 'stateMachine:Cutover-rollback-window'), 'deploy starts the rollback window');
    assert.ok(allows(deploy, 'states:StartExecution', 'stateMachine:Cutover-deploy"'), 'deploy starts the promoted deployment');
    assert.ok(!allows(deploy, 'states:StartExecution', 'stateMachine:Cutover-rollback"'), 'deploy never starts a rollback');
    assert.ok(!allows(deploy, 'states:DescribeExecution', 'execution:'), 'fire-and-forget starts: no .sync');
    const rollback = roleStatements('Cutover-rollback');
    assert.ok(allows(rollback, 'states:StartExecution', 'stateMachine:Cutover-deploy'));
    assert.ok(allows(rollback, 'states:DescribeExecution', 'execution:Cutover-deploy:*'));
    assert.ok(allows(rollback, 'states:StopExecution', 'execution:Cutover-deploy:*'));
    assert.ok(allows(rollback, 'events:PutRule', 'rule/StepFunctionsGetEventsForStepFunctionsExecutionRule'));
    assert.ok(!roleStatements('Cutover-rollback-window').some((s) => [s.Action].flat().includes('states:StartExecution')), 'the window starts nothing');
  });

  it('lets each state machine invoke only the functions its own definition calls', () => {
    const fns = template.findResources('AWS::Lambda::Function');
    const logicalIdOf = (description: string) => Object.entries(fns).find(([, f]: any) => f.Properties.Description === description)![0];
    for (const sm of STATE_MACHINES) {
      const used = placeholdersIn(readFileSync(stateMachineFile(sm.file), 'utf8'));
      const expected = FUNCTIONS.filter((f) => 'placeholder' in f && used.includes(f.placeholder)).map((f) => logicalIdOf(f.description));
      const invoked = new Set(
        roleStatements(`Cutover-${sm.name}`)
          .filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'))
          .flatMap((s) => [s.Resource].flat())
          .map((r) => JSON.stringify(r).match(/"Fn::GetAtt":\["([^"]+)","Arn"\]/)![1]),
      );
      assert.deepEqual([...invoked].sort(), expected.sort(), `${sm.name} invokes exactly the functions of ${sm.file}`);
    }
  });

  it('substitutes the state machine ARNs the definitions start', () => {
    const subs = (byName('Cutover-rollback')[1] as any).Properties.DefinitionSubstitutions;
    assert.match(JSON.stringify(subs.DeployStateMachineArn), /stateMachine:Cutover-deploy/);
    assert.match(JSON.stringify((byName('Cutover-deploy')[1] as any).Properties.DefinitionSubstitutions.RollbackWindowStateMachineArn), /stateMachine:Cutover-rollback-window/);
  });

  it('lets the alarm function start the rollback and publish, and the ledger publish and describe every cutover execution', () => {
    assert.ok(allows(statementsOf('alarm'), 'states:StartExecution', 'stateMachine:Cutover-rollback'));
    assert.ok(allows(statementsOf('alarm'), 'sns:Publish', 'Notifications'));
    assert.ok(allows(statementsOf('ledger'), 'sns:Publish', 'Notifications'));
    for (const name of ['Cutover-deploy', 'Cutover-rollback', 'Cutover-rollback-window']) {
      assert.ok(allows(statementsOf('ledger'), 'states:DescribeExecution', `execution:${name}:*`), name);
    }
  });

  it('has an encrypted, TLS-only notification topic and outputs what the CLI reads', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    const outputs = template.findOutputs('*');
    for (const key of ['TableName', 'DeployStateMachineArn', 'RollbackStateMachineArn', 'NotificationTopicArn']) assert.ok(key in outputs, key);
  });
});
