/**
 * `cutover doctor` (lib/cli/doctor.ts) against mocked SDK clients: a healthy account is all ✔; each
 * broken resource gives its ✘ row with a fix naming the resource and the config field; IAM rows are
 * skipped (–) where the simulator cannot be used; the output (table, --json, exit status); and the
 * doctor only ever sends Describe* / List* / Get* / Simulate* commands.
 */
import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeClustersCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand, ClusterNotFoundException, ClientException } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeRulesCommand, ListenerNotFoundException, type Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DBInstanceNotFoundFault, DescribeDBClustersCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { CloudFormationClient, CloudFormationServiceException, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { GetRoleCommand, IAMClient, IAMServiceException, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { cloudWatchMock, ecsMock, elbv2Mock, rdsMock, resetSdkMocks, sdkError, dynamoMock, sfnMock, logsMock, snsMock } from '../helpers/sdk-mocks';
import { configVariant, PRODUCTION_ONLY_CONFIG_FILE, sampleConfig } from '../helpers/twin';
import {
  doctorCommand,
  doctorConfigPath,
  doctorReport,
  formatDoctorReport,
  functionOfRole,
  imageRepositoryOf,
  migrationCommandProblems,
  runDoctor,
  unbalancedQuote,
  type DoctorRow,
  type IamSource,
} from '../../lib/cli/doctor';
import type { Config } from '../../lib/config/schema';
import { handleTwinAwsRequest, twinAwsTransport } from '../../lib/aws/inspect';

const iamMock = mockClient(IAMClient);
const cfnMock = mockClient(CloudFormationClient);

const config = sampleConfig();
const env = config.services['hello-world']!.environments.production!;
const BLUE_TG = env.slots.blue.targetGroupArn;
const GREEN_TG = env.slots.green.targetGroupArn;
const PROD = (env.production as { listenerArn: string }).listenerArn;
const TEST = (env.test as { listenerArn: string }).listenerArn;
const THIRD_TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/legacy/9f8e7d6c5b4a3f2e';
const ACCOUNT = 'arn:aws:ecs:us-east-1:123456789012';
const TD = `${ACCOUNT}:task-definition/hello-world-production:3`;
const FIELD = 'services.hello-world.environments.production';
const STACK: IamSource = { stack: 'Cutover', region: 'us-east-1' };
const ROLES = ['ecs-release', 'traffic', 'database', 'alarm-check', 'ledger', 'plan', 'github-webhook'] as const;

const forward = (...groups: Array<[string, number]>): Action[] => [
  { Type: 'forward', ForwardConfig: { TargetGroups: groups.map(([TargetGroupArn, Weight]) => ({ TargetGroupArn, Weight })) } },
];

/** A healthy account for the sample config; tests break one thing each. */
function healthyAccount() {
  ecsMock.on(DescribeClustersCommand).resolves({ clusters: [{ clusterName: 'hello-world', clusterArn: `${ACCOUNT}:cluster/hello-world`, status: 'ACTIVE' }], failures: [] });
  ecsMock.on(DescribeServicesCommand).callsFake((input: { services: string[] }) => ({
    services: input.services.map((name) => ({ serviceName: name, serviceArn: `${ACCOUNT}:service/hello-world/${name}`, status: 'ACTIVE', taskDefinition: TD })),
    failures: [],
  }));
  ecsMock.on(DescribeTaskDefinitionCommand).resolves({
    taskDefinition: {
      taskDefinitionArn: TD,
      family: 'hello-world-production',
      taskRoleArn: 'arn:aws:iam::123456789012:role/hello-world-task',
      containerDefinitions: [{ name: 'app', image: `${env.imageRepository}:v1` }, { name: 'log-router', image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:stable' }],
    },
  });
  elbv2Mock.on(DescribeListenersCommand).callsFake((input: { ListenerArns: string[] }) => ({
    Listeners: [{ ListenerArn: input.ListenerArns[0], DefaultActions: input.ListenerArns[0] === PROD ? forward([BLUE_TG, 100], [GREEN_TG, 0]) : forward([GREEN_TG, 100]) }],
  }));
  cloudWatchMock.on(DescribeAlarmsCommand).resolves({
    MetricAlarms: [{ AlarmName: 'hello-world-production-5xx', StateValue: 'OK' }],
    CompositeAlarms: [{ AlarmName: 'hello-world-production-latency', StateValue: 'OK' }],
  });
  rdsMock.on(DescribeDBInstancesCommand).resolves({
    DBInstances: [{ DBInstanceIdentifier: 'hello-world-production', DBInstanceArn: 'arn:aws:rds:us-east-1:123456789012:db:hello-world-production', Engine: 'postgres', EngineVersion: '16.4', DBInstanceStatus: 'available' }],
  });
  cfnMock.on(ListStackResourcesCommand).resolves({
    StackResourceSummaries: [
      ...ROLES.map((fn) => ({ LogicalResourceId: `Functions${fn}Role1234ABCD`, PhysicalResourceId: `Cutover-${fn}-role`, ResourceType: 'AWS::IAM::Role', ResourceStatus: 'CREATE_COMPLETE' as const, LastUpdatedTimestamp: new Date() })),
      { LogicalResourceId: 'LedgerTable', PhysicalResourceId: 'cutover-ledger', ResourceType: 'AWS::DynamoDB::Table', ResourceStatus: 'CREATE_COMPLETE' as const, LastUpdatedTimestamp: new Date() },
    ],
  });
  iamMock.on(GetRoleCommand).callsFake((input: { RoleName: string }) => {
    const fn = input.RoleName.replace(/^Cutover-/, '').replace(/-role$/, '');
    return { Role: { RoleName: input.RoleName, Arn: `arn:aws:iam::123456789012:role/${input.RoleName}`, Description: `cutover ${fn}: does things`, Path: '/', RoleId: 'AROA', CreateDate: new Date() } };
  });
  iamMock.on(SimulatePrincipalPolicyCommand).callsFake((input: { ActionNames: string[]; ResourceArns?: string[] }) => ({
    EvaluationResults: input.ActionNames.map((a) => ({ EvalActionName: a, EvalResourceName: input.ResourceArns?.[0] ?? '*', EvalDecision: 'allowed' })),
    IsTruncated: false,
  }));
}

const run = (iam: IamSource = STACK, cfg: Config = config) => runDoctor({ config: cfg, iam });
const failures = (rows: readonly DoctorRow[]) => rows.filter((r) => r.status === 'fail');
const row = (rows: readonly DoctorRow[], check: string) => {
  const found = rows.find((r) => r.check === check);
  assert.ok(found, `a row "${check}" in ${rows.map((r) => r.check).join(', ')}`);
  return found;
};

/** Every command any mock received, by name. */
function commandsSent(): string[] {
  return [ecsMock, elbv2Mock, rdsMock, cloudWatchMock, dynamoMock, sfnMock, logsMock, snsMock, iamMock, cfnMock].flatMap((m) => m.calls().map((c) => (c.args[0] as object).constructor.name));
}

describe('cutover doctor: checks', () => {
  beforeEach(() => {
    resetSdkMocks();
    iamMock.reset();
    cfnMock.reset();
    healthyAccount();
  });

  it('a healthy account is all ✔: one row per check, alarms say metric / composite, IAM per function role', async () => {
    const rows = await run();
    assert.deepEqual(failures(rows), []);
    assert.deepEqual(rows.filter((r) => r.status !== 'ok'), []);
    assert.deepEqual(
      rows.map((r) => r.check),
      [
        'cutover stack',
        'ECS cluster',
        'ECS service blue',
        'ECS service green',
        'container blue',
        'container green',
        'production listener',
        'test listener',
        'alarm hello-world-production-5xx',
        'alarm hello-world-production-latency',
        'database',
        'migration command',
        'IAM ecs-release',
        'IAM traffic',
        'IAM database',
        'IAM alarm-check',
        'IAM ledger',
      ],
    );
    assert.match(row(rows, 'alarm hello-world-production-5xx').detail, /^metric alarm/);
    assert.match(row(rows, 'alarm hello-world-production-latency').detail, /^composite alarm/);
    assert.match(row(rows, 'production listener').detail, /blue 100, green 0/);
    assert.match(row(rows, 'database').detail, /postgres 16\.4, available/);
  });

  it('is read-only: only Describe*/List*/Get*/Simulate* commands are sent, on a healthy and on a broken account', async () => {
    await run();
    ecsMock.on(DescribeClustersCommand).resolves({ clusters: [], failures: [{ arn: 'hello-world', reason: 'MISSING' }] });
    cloudWatchMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [], CompositeAlarms: [] });
    iamMock.on(SimulatePrincipalPolicyCommand).resolves({ EvaluationResults: [{ EvalActionName: 'ecs:UpdateService', EvalDecision: 'implicitDeny' }] });
    await run();
    const sent = commandsSent();
    assert.ok(sent.length > 10, `calls were made: ${sent.join(', ')}`);
    assert.deepEqual(sent.filter((name) => !/^(Describe|List|Get|Simulate)\w*Command$/.test(name)), []);
    assert.ok(sent.includes('SimulatePrincipalPolicyCommand'));
  });

  it('✘ a missing ECS cluster names the cluster and the config field; the slot services are not checked (–)', async () => {
    ecsMock.on(DescribeClustersCommand).resolves({ clusters: [], failures: [{ arn: `${ACCOUNT}:cluster/hello-world`, reason: 'MISSING' }] });
    ecsMock.on(DescribeServicesCommand).rejects(sdkError(ClusterNotFoundException, 'Cluster not found.'));
    const rows = await run();
    const r = row(rows, 'ECS cluster');
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /ECS cluster "hello-world" does not exist/);
    assert.match(r.fix!, new RegExp(`${FIELD.replace(/\./g, '\\.')}\\.cluster`));
    assert.equal(row(rows, 'ECS service blue').status, 'skip');
    assert.equal(row(rows, 'ECS service green').status, 'skip');
  });

  it('✘ an INACTIVE cluster', async () => {
    ecsMock.on(DescribeClustersCommand).resolves({ clusters: [{ clusterArn: `${ACCOUNT}:cluster/hello-world`, status: 'INACTIVE' }] });
    const r = row(await run(), 'ECS cluster');
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /is INACTIVE, not ACTIVE/);
  });

  it('✘ a missing green service names the service, its cluster and slots.green.service', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [{ serviceName: 'hello-world-blue', serviceArn: `${ACCOUNT}:service/hello-world/hello-world-blue`, status: 'ACTIVE', taskDefinition: TD }],
      failures: [{ arn: `${ACCOUNT}:service/hello-world/hello-world-green`, reason: 'MISSING' }],
    });
    const rows = await run();
    assert.equal(row(rows, 'ECS service blue').status, 'ok');
    const r = row(rows, 'ECS service green');
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /ECS service "hello-world-green" does not exist in cluster "hello-world"/);
    assert.match(r.fix!, /slots\.green\.service/);
    assert.match(r.fix!, new RegExp(GREEN_TG));
    assert.deepEqual(failures(rows).map((x) => x.check), ['ECS service green']);
  });

  it('✘ a task definition without containerName lists the containers it has; ! an image of another repository', async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({
      taskDefinition: { taskDefinitionArn: TD, family: 'hello-world-production', containerDefinitions: [{ name: 'web', image: `${env.imageRepository}:v1` }] },
    });
    let r = row(await run(), 'container blue');
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /has no container "app" \(it has: web\)/);
    assert.match(r.fix!, /containerName/);

    ecsMock.on(DescribeTaskDefinitionCommand).resolves({
      taskDefinition: { taskDefinitionArn: TD, family: 'hello-world-production', containerDefinitions: [{ name: 'app', image: 'docker.io/library/nginx:1.27' }] },
    });
    const rows = await run();
    r = row(rows, 'container green');
    assert.equal(r.status, 'warn');
    assert.match(r.detail, /runs docker\.io\/library\/nginx:1\.27, not an image of 123456789012\.dkr\.ecr/);
    assert.match(r.fix!, /imageRepository/);
    assert.deepEqual(failures(rows), [], 'a warning is not a failure');
  });

  it('✘ a production listener that forwards to a third target group names it', async () => {
    elbv2Mock.on(DescribeListenersCommand).callsFake((input: { ListenerArns: string[] }) => ({
      Listeners: [{ ListenerArn: input.ListenerArns[0], DefaultActions: input.ListenerArns[0] === PROD ? forward([BLUE_TG, 90], [GREEN_TG, 0], [THIRD_TG, 10]) : forward([GREEN_TG, 100]) }],
    }));
    const rows = await run();
    const r = row(rows, 'production listener');
    assert.equal(r.status, 'fail');
    assert.match(r.detail, new RegExp(`also forwards to ${THIRD_TG} \\(weight 10\\), which is not a slot`));
    assert.match(r.fix!, new RegExp(`remove ${THIRD_TG} from the forward action of listener ${PROD}`));
    assert.deepEqual(failures(rows).map((x) => x.check), ['production listener']);
  });

  it('✘ a production listener that does not forward to green names the green target group and its config field', async () => {
    elbv2Mock.on(DescribeListenersCommand).callsFake((input: { ListenerArns: string[] }) => ({
      Listeners: [{ ListenerArn: input.ListenerArns[0], DefaultActions: input.ListenerArns[0] === PROD ? [{ Type: 'forward', TargetGroupArn: BLUE_TG }] : forward([GREEN_TG, 100]) }],
    }));
    const r = row(await run(), 'production listener');
    assert.equal(r.status, 'fail');
    assert.match(r.detail, new RegExp(`does not forward to the green target group \\(${GREEN_TG}\\)`));
    assert.match(r.fix!, /slots\.green\.targetGroupArn\) to its forward action with weight 0/);
  });

  it('✘ a listener that does not exist, or has no forward action; ✘ a test listener forwarding to a third group', async () => {
    elbv2Mock.on(DescribeListenersCommand).callsFake((input: { ListenerArns: string[] }) => {
      if (input.ListenerArns[0] === PROD) throw sdkError(ListenerNotFoundException, 'One or more listeners not found');
      return { Listeners: [{ ListenerArn: TEST, DefaultActions: forward([THIRD_TG, 100]) }] };
    });
    let rows = await run();
    assert.match(row(rows, 'production listener').detail, /listener .* does not exist/);
    assert.match(row(rows, 'production listener').fix!, /production\.listenerArn/);
    const t = row(rows, 'test listener');
    assert.equal(t.status, 'fail');
    assert.match(t.detail, new RegExp(THIRD_TG));

    elbv2Mock.on(DescribeListenersCommand).resolves({ Listeners: [{ ListenerArn: PROD, DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503' } }] }] });
    rows = await run();
    assert.match(row(rows, 'production listener').detail, /has no forward action \(its actions: fixed-response\)/);
  });

  it('a route given as a listener rule is read with DescribeRules', async () => {
    const ruleArn = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/hello-world/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee';
    const cfg = configVariant((e) => {
      e.production = { ruleArn };
      delete e.test;
    });
    elbv2Mock.on(DescribeRulesCommand).resolves({ Rules: [{ RuleArn: ruleArn, Actions: forward([BLUE_TG, 100], [GREEN_TG, 0]) }] });
    const rows = await run(STACK, cfg);
    assert.equal(row(rows, 'production rule').status, 'ok');
    assert.deepEqual(elbv2Mock.commandCalls(DescribeRulesCommand).map((c) => c.args[0].input.RuleArns), [[ruleArn]]);
    assert.ok(!rows.some((r) => r.check === 'test listener'));
  });

  it('✘ a missing alarm: "create it or remove it from …alarms"; the other alarm stays ✔', async () => {
    cloudWatchMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'hello-world-production-latency', StateValue: 'ALARM' }], CompositeAlarms: [] });
    const rows = await run();
    const r = row(rows, 'alarm hello-world-production-5xx');
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /CloudWatch alarm "hello-world-production-5xx" does not exist/);
    assert.equal(r.fix, `create it or remove it from ${FIELD}.alarms (a missing alarm fails every bake's alarm check)`);
    assert.equal(row(rows, 'alarm hello-world-production-latency').status, 'ok');
    assert.deepEqual(cloudWatchMock.commandCalls(DescribeAlarmsCommand)[0]!.args[0].input.AlarmTypes, ['MetricAlarm', 'CompositeAlarm']);
  });

  it('✘ the database: missing, not PostgreSQL, an Aurora instance given as instanceIdentifier, stopped; ! while backing up', async () => {
    const dbRow = async () => row(await run(), 'database');
    rdsMock.on(DescribeDBInstancesCommand).rejects(sdkError(DBInstanceNotFoundFault, 'DBInstance hello-world-production not found.'));
    let r = await dbRow();
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /DB instance "hello-world-production" does not exist/);
    assert.match(r.fix!, /database\.instanceIdentifier/);

    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ Engine: 'mysql', EngineVersion: '8.0.39', DBInstanceStatus: 'available' }] });
    r = await dbRow();
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /runs mysql 8\.0\.39, not postgres/);

    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ Engine: 'aurora-postgresql', DBInstanceStatus: 'available', DBClusterIdentifier: 'hello-world-aurora' }] });
    r = await dbRow();
    assert.equal(r.status, 'fail');
    assert.match(r.fix!, /database\.clusterIdentifier.*"hello-world-aurora"/);

    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ Engine: 'postgres', DBInstanceStatus: 'stopped' }] });
    r = await dbRow();
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /is stopped, not available/);

    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ Engine: 'postgres', DBInstanceStatus: 'backing-up' }] });
    assert.equal((await dbRow()).status, 'warn');
  });

  it('an Aurora cluster is read with DescribeDBClusters and must be aurora-postgresql', async () => {
    const cfg = configVariant((e) => {
      e.database = { clusterIdentifier: 'hello-world-aurora', migration: { command: ['npm', 'run', 'migrate'] } };
    });
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ DBClusterIdentifier: 'hello-world-aurora', Engine: 'aurora-postgresql', EngineVersion: '16.4', Status: 'available' }] });
    assert.equal(row(await run(STACK, cfg), 'database').status, 'ok');
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ Engine: 'aurora-mysql', Status: 'available' }] });
    assert.match(row(await run(STACK, cfg), 'database').detail, /Aurora DB cluster "hello-world-aurora" runs aurora-mysql, not aurora-postgresql/);
  });

  it('✘ an implausible migration command names database.migration.command and the fix', async () => {
    const cfg = configVariant((e) => {
      e.database.migration.command = ['npm run migrate'];
    });
    const r = row(await run(STACK, cfg), 'migration command');
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /is one element: ECS would run a program named "npm run migrate"/);
    assert.match(r.fix!, new RegExp(`^in ${FIELD.replace(/\./g, '\\.')}\\.database\\.migration\\.command: split it into its words, e\\.g\\. \\["npm","run","migrate"\\]`));
  });

  it('✘ IAM: a role whose policy does not allow an action names the role, the action and the resource', async () => {
    iamMock.on(SimulatePrincipalPolicyCommand).callsFake((input: { PolicySourceArn: string; ActionNames: string[]; ResourceArns?: string[] }) => ({
      EvaluationResults: input.ActionNames.map((a) => ({
        EvalActionName: a,
        EvalResourceName: input.ResourceArns?.[0] ?? '*',
        EvalDecision: input.PolicySourceArn.endsWith('/Cutover-traffic-role') && a === 'elasticloadbalancing:ModifyListener' && input.ResourceArns?.[0] === TEST ? 'implicitDeny' : 'allowed',
      })),
    }));
    const rows = await run();
    assert.deepEqual(failures(rows).map((x) => x.check), ['IAM traffic']);
    const r = row(rows, 'IAM traffic');
    assert.equal(r.detail, `role Cutover-traffic-role may not elasticloadbalancing:ModifyListener on ${TEST} (implicitDeny)`);
    assert.match(r.fix!, /npx cdk deploy/);
  });

  it('IAM: the simulated requests cover the slot services, listeners, database, snapshot and alarms, with the ecs:cluster context for RunTask', async () => {
    await run();
    const calls = iamMock.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input);
    const asked = (role: string, action: string) =>
      calls.filter((c) => c.PolicySourceArn!.endsWith(`/Cutover-${role}-role`) && c.ActionNames!.includes(action)).map((c) => c.ResourceArns?.[0] ?? '*');
    assert.deepEqual(asked('ecs-release', 'ecs:UpdateService'), [`${ACCOUNT}:service/hello-world/hello-world-blue`, `${ACCOUNT}:service/hello-world/hello-world-green`]);
    assert.deepEqual(asked('traffic', 'elasticloadbalancing:ModifyListener'), [PROD, TEST]);
    assert.deepEqual(asked('database', 'rds:CreateDBSnapshot'), [
      'arn:aws:rds:us-east-1:123456789012:db:hello-world-production',
      ...asked('database', 'rds:DescribeDBSnapshots'),
    ]);
    assert.match(asked('database', 'rds:DescribeDBSnapshots')[0]!, /^arn:aws:rds:us-east-1:123456789012:snapshot:cutover-hello-world-production-[0-9a-f]{10}$/);
    assert.deepEqual(asked('alarm-check', 'cloudwatch:DescribeAlarms'), env.alarms.map((n) => `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${n}`));
    const runTask = calls.find((c) => c.ActionNames!.includes('ecs:RunTask'))!;
    assert.deepEqual(runTask.ContextEntries, [{ ContextKeyName: 'ecs:cluster', ContextKeyValues: [`${ACCOUNT}:cluster/hello-world`], ContextKeyType: 'string' }]);
    assert.deepEqual(runTask.ResourceArns, [`${ACCOUNT}:task-definition/hello-world-production:1`]);
    const passRole = calls.find((c) => c.ActionNames!.includes('iam:PassRole'))!;
    assert.deepEqual(passRole.ResourceArns, ['arn:aws:iam::123456789012:role/hello-world-task']);
  });

  it('– IAM rows are skipped (not ✘) on AccessDenied for SimulatePrincipalPolicy, and on a twin', async () => {
    iamMock.on(SimulatePrincipalPolicyCommand).rejects(new IAMServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: {}, message: 'User: arn:aws:iam::123456789012:user/ada is not authorized to perform: iam:SimulatePrincipalPolicy' }));
    let rows = await run();
    assert.deepEqual(failures(rows), []);
    const iamRows = rows.filter((r) => r.check.startsWith('IAM'));
    assert.equal(iamRows.length, 5);
    for (const r of iamRows) {
      assert.equal(r.status, 'skip');
      assert.match(r.detail, /^skipped: AccessDenied on iam:SimulatePrincipalPolicy/);
    }

    iamMock.reset();
    cfnMock.reset();
    rows = await run({ skip: 'the local twin has no IAM (nothing to simulate)' });
    assert.deepEqual(rows.filter((r) => r.check.startsWith('IAM')), [
      { service: 'hello-world', environment: 'production', check: 'IAM roles', status: 'skip', detail: 'skipped: the local twin has no IAM (nothing to simulate)' },
    ]);
    assert.equal(iamMock.calls().length + cfnMock.calls().length, 0, 'no IAM or CloudFormation call on a twin');
  });

  it('✘ a stack that does not exist, and a stack without a role for a function', async () => {
    cfnMock.on(ListStackResourcesCommand).rejects(new CloudFormationServiceException({ name: 'ValidationError', $fault: 'client', $metadata: {}, message: 'Stack with id Cutover does not exist' }));
    let rows = await run();
    const r = row(rows, 'cutover stack');
    assert.equal(r.status, 'fail');
    assert.match(r.fix!, /npx cdk deploy.*--stack <name>/);
    assert.equal(row(rows, 'IAM roles').status, 'skip');

    cfnMock.on(ListStackResourcesCommand).resolves({
      StackResourceSummaries: [{ LogicalResourceId: 'TrafficRole', PhysicalResourceId: 'Cutover-traffic-role', ResourceType: 'AWS::IAM::Role', ResourceStatus: 'CREATE_COMPLETE', LastUpdatedTimestamp: new Date() }],
    });
    rows = await run();
    assert.equal(row(rows, 'IAM traffic').status, 'ok');
    const missing = row(rows, 'IAM ecs-release');
    assert.equal(missing.status, 'fail');
    assert.match(missing.detail, /no role for the ecs-release function/);
  });

  it('a call that fails unexpectedly is a ✘ row naming the call (the check could not be made)', async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).rejects(sdkError(ClientException, 'User is not authorized to perform ecs:DescribeTaskDefinition'));
    const r = row(await run(), 'container blue');
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /could not check: ecs:DescribeTaskDefinition hello-world-production:3 failed/);
  });
});

describe('cutover doctor: the migration command', () => {
  it('accepts exec-form argv and shell scripts with balanced quotes', () => {
    assert.deepEqual(migrationCommandProblems(['npm', 'run', 'migrate']), []);
    assert.deepEqual(migrationCommandProblems(['sh', '-c', `npm run migrate -- --name 'it''s' "a \\"b\\""`]), []);
    assert.deepEqual(migrationCommandProblems(['/bin/bash', '-ec', 'flyway migrate']), []);
    assert.deepEqual(migrationCommandProblems(['./migrate']), []);
  });

  it('rejects a whole command line in one element, quoted elements, unbalanced quotes, sh -c without a script', () => {
    assert.match(migrationCommandProblems(['npm run migrate'])[0]![0], /is one element/);
    assert.match(migrationCommandProblems(['npm', 'run', "'migrate'"])[0]![1], /drop the quotes: "migrate"/);
    assert.match(migrationCommandProblems(['npm', 'run', "it's"])[0]![0], /unbalanced quote/);
    assert.match(migrationCommandProblems(['sh', '-c', "npm run 'migrate"])[0]![0], /leaves a single quote open/);
    assert.match(migrationCommandProblems(['bash', '-c', 'echo "hi'])[0]![0], /leaves a double quote open/);
    assert.match(migrationCommandProblems(['sh', '-c'])[0]![0], /has no script after it/);
  });

  it('unbalancedQuote follows POSIX quoting (no escapes inside single quotes)', () => {
    assert.equal(unbalancedQuote(`a 'b\\' c`), undefined);
    assert.equal(unbalancedQuote(`a "b\\" c`), '"');
    assert.equal(unbalancedQuote(`it\\'s`), undefined);
  });
});

describe('cutover doctor: helpers and output', () => {
  it('imageRepositoryOf drops the tag and digest, keeps a registry port', () => {
    assert.equal(imageRepositoryOf('123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world:v1'), '123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world');
    assert.equal(imageRepositoryOf('registry:5000/app@sha256:abcd'), 'registry:5000/app');
    assert.equal(imageRepositoryOf('registry:5000/app'), 'registry:5000/app');
  });

  it('functionOfRole reads cutover-function role descriptions', () => {
    assert.equal(functionOfRole('cutover traffic: Listener weights'), 'traffic');
    assert.equal(functionOfRole('cutover alarm-check: Reads'), 'alarm-check');
    assert.equal(functionOfRole('some other role'), undefined);
  });

  it('the config defaults to cdk.json\'s cutover:config context, else asks for --config', () => {
    assert.equal(doctorConfigPath('x.json', '/nowhere'), 'x.json');
    assert.match(doctorConfigPath(undefined, process.cwd()), /lib\/config\/samples\/hello-world\.json$/);
    assert.throws(() => doctorConfigPath(undefined, '/nonexistent-dir'), /pass --config <file>/);
  });

  it('the table shows ✔ ✘ ! – per row, then each fix, then the verdict', () => {
    const rows: DoctorRow[] = [
      { service: 's', environment: 'e', check: 'ECS cluster', status: 'ok', detail: '"c" is ACTIVE' },
      { service: 's', environment: 'e', check: 'alarm a', status: 'fail', detail: 'missing', fix: 'create it or remove it from alarms' },
      { service: 's', environment: 'e', check: 'container blue', status: 'warn', detail: 'other repo', fix: 'check imageRepository' },
      { service: 's', environment: 'e', check: 'IAM roles', status: 'skip', detail: 'skipped: no IAM' },
    ];
    const text = formatDoctorReport(doctorReport('stack "Cutover"', 'c.json', rows));
    assert.match(text, /^cutover doctor: c\.json against stack "Cutover"$/m);
    assert.match(text, /^ {3}ENVIRONMENT +CHECK +RESULT$/m);
    assert.match(text, /^✔ +s\/e +ECS cluster +"c" is ACTIVE$/m);
    assert.match(text, /^✘ +s\/e +alarm a +missing$/m);
    assert.match(text, /^– +s\/e +IAM roles +skipped: no IAM$/m);
    assert.match(text, /^To fix:\n {2}✘ s\/e alarm a: create it or remove it from alarms\n {2}! s\/e container blue: check imageRepository$/m);
    assert.match(text, /^1 ✔ {2}1 ! {2}1 ✘ {2}1 – {2}not ready: fix the ✘ row and run cutover doctor again$/m);
  });
});

describe('cutover doctor: the command', () => {
  beforeEach(() => {
    resetSdkMocks();
    iamMock.reset();
    cfnMock.reset();
    healthyAccount();
  });

  const runCommand = async (opts: Record<string, unknown>) => {
    const out: string[] = [];
    const code = await doctorCommand(undefined, undefined, { config: PRODUCTION_ONLY_CONFIG_FILE, region: 'us-east-1', ...opts }, { io: { stdout: (t) => out.push(t), stderr: (t) => out.push(t) }, env: {} });
    return { code, out: out.join('\n') };
  };

  it('exits 0 on a healthy account and 1 on any ✘; --json has the rows and the verdict', async () => {
    let r = await runCommand({});
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /against stack "Cutover" in us-east-1/);
    assert.match(r.out, /ready for a first deployment$/);

    cloudWatchMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [], CompositeAlarms: [] });
    r = await runCommand({ json: true, stack: 'MyCutover' });
    assert.equal(r.code, 1);
    const report = JSON.parse(r.out) as { ok: boolean; target: string; summary: Record<string, number>; checks: DoctorRow[] };
    assert.equal(report.ok, false);
    assert.equal(report.target, 'stack "MyCutover" in us-east-1');
    assert.equal(report.summary.fail, 2);
    assert.deepEqual(report.checks.filter((c) => c.status === 'fail').map((c) => c.check), ['alarm hello-world-production-5xx', 'alarm hello-world-production-latency']);
    assert.deepEqual(cfnMock.commandCalls(ListStackResourcesCommand).at(-1)!.args[0].input.StackName, 'MyCutover');
  });

  it('refuses a service or environment the config does not have, and a bad --region', async () => {
    await assert.rejects(doctorCommand('nope', undefined, { config: PRODUCTION_ONLY_CONFIG_FILE }, { io: { stdout: () => {}, stderr: () => {} }, env: {} }), /service "nope" is not in the config; configured: hello-world/);
    await assert.rejects(doctorCommand('hello-world', 'qa', { config: PRODUCTION_ONLY_CONFIG_FILE }, { io: { stdout: () => {}, stderr: () => {} }, env: {} }), /environment "qa" is not configured/);
    await assert.rejects(runCommand({ region: 'Frankfurt' }), /--region "Frankfurt" is not an AWS region name/);
  });
});

describe('cutover doctor: the twin wire format (lib/aws/inspect.ts)', () => {
  const sent: Array<[string, string, unknown]> = [];
  const fake = {
    handles: (service: string) => service === 'ecs' || service === 'elbv2',
    async send(service: string, operation: string, input: unknown) {
      sent.push([service, operation, input]);
      if (operation === 'DescribeServices') throw Object.assign(new Error('Cluster not found.'), { name: 'ClusterNotFoundException', $fault: 'client' });
      return { clusters: [{ clusterName: 'c', status: 'ACTIVE' }] };
    },
  };

  it('serves read-only operations only, with the simulator\'s error code as __type', async () => {
    assert.deepEqual(await handleTwinAwsRequest(fake as never, '/ecs/DescribeClusters', '{"clusters":["c"]}'), { statusCode: 200, body: '{"clusters":[{"clusterName":"c","status":"ACTIVE"}]}' });
    assert.deepEqual(sent.at(-1), ['ecs', 'DescribeClusters', { clusters: ['c'] }]);
    const err = await handleTwinAwsRequest(fake as never, '/ecs/DescribeServices', '');
    assert.equal(err.statusCode, 400);
    assert.deepEqual(JSON.parse(err.body), { __type: 'ClusterNotFoundException', message: 'Cluster not found.' });
    const write = await handleTwinAwsRequest(fake as never, '/ecs/UpdateService', '{}');
    assert.equal(write.statusCode, 403);
    assert.match(JSON.parse(write.body).message, /not a read-only operation/);
    assert.equal((await handleTwinAwsRequest(fake as never, '/iam/GetRole', '{}')).statusCode, 404);
    assert.equal((await handleTwinAwsRequest(fake as never, '/ecs', '{}')).statusCode, 404);
    assert.equal((await handleTwinAwsRequest(fake as never, '/ecs/DescribeClusters', '{')).statusCode, 400);
    assert.equal(sent.filter(([, op]) => op === 'UpdateService').length, 0, 'a write never reaches the simulator');
  });

  it('the client half rebuilds the error with its code as name', async () => {
    const fetchFn = (async (url: string, init: RequestInit) => {
      const out = await handleTwinAwsRequest(fake as never, new URL(url).pathname.replace(/^\/aws/, ''), String(init.body));
      return new Response(out.body, { status: out.statusCode });
    }) as typeof fetch;
    const transport = twinAwsTransport('http://twin/aws/', fetchFn);
    assert.equal(transport.handles('ecs'), true);
    assert.equal(transport.handles('dynamodb'), false);
    assert.deepEqual(await transport.send('ecs', 'DescribeClusters', { clusters: ['c'] }), { clusters: [{ clusterName: 'c', status: 'ACTIVE' }] });
    await assert.rejects(transport.send('ecs', 'DescribeServices', {}), (e: Error & { $fault?: string }) => e.name === 'ClusterNotFoundException' && e.$fault === 'client' && e.message === 'Cluster not found.');
  });
});
