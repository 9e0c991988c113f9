/**
 * CutoverStack with a CodeCommit service (test/constructs/fixtures/codecommit-aurora.json): the
 * EventBridge rule and its input transformer, and IAM for an Aurora cluster and a listener rule.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ROOT_DIR } from '../../lib/catalog';
import { loadConfigFile } from '../../lib/config';
import { CodeCommitTrigger, CutoverStack } from '../../lib/constructs';
import { CodeCommitDeployInputSchema } from '../../lib/domain/deploy-input';
import { codeCommitDeployInput, codeCommitEventPattern } from '../../lib/domain/event-rules';
import { TASK_ROLES } from '../helpers/stacks';

/** The inline and customer managed policies of the template (cutover packs function statements into managed policies). */
const rolePolicies = (t: Template): any[] => [...Object.values(t.findResources('AWS::IAM::Policy')), ...Object.values(t.findResources('AWS::IAM::ManagedPolicy'))];

// Prepare
const cdkContext = JSON.parse(readFileSync(join(ROOT_DIR, 'cdk.json'), 'utf8')).context;
const FIXTURE = join(ROOT_DIR, 'test/constructs/fixtures/codecommit-aurora.json');
const config = loadConfigFile(FIXTURE);
const app = new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
const stack = new CutoverStack(app, 'Cutover', { config, taskRoleArns: TASK_ROLES });
const template = Template.fromStack(stack);

const accountArn = (service: string, resource: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${resource}`]],
});

/** Compare resource lists ignoring order (policy minimization sorts them). */
const sorted = (items: unknown) => [items].flat().map((i) => JSON.stringify(i)).sort();

/** A CodeCommit push event as EventBridge delivers it. */
const pushEvent = {
  version: '0',
  id: '01234567-0123-0123-0123-012345678901',
  'detail-type': 'CodeCommit Repository State Change',
  source: 'aws.codecommit',
  account: '210987654321',
  time: '2024-01-01T00:00:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:codecommit:eu-west-1:210987654321:orders-api'],
  detail: {
    callerUserArn: 'arn:aws:iam::210987654321:user/dev',
    commitId: '0123456789abcdef0123456789abcdef01234567',
    event: 'referenceUpdated',
    referenceFullName: 'refs/heads/main',
    referenceName: 'main',
    referenceType: 'branch',
    repositoryId: '12345678-1234-5678-abcd-12345678abcd',
    repositoryName: 'orders-api',
  },
};

describe('CodeCommit trigger', () => {
  it('matches pushes to the configured branches of the configured repository', () => {
    const codeCommitRules = template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.codecommit'] } } });
    assert.equal(Object.keys(codeCommitRules).length, 1, 'one CodeCommit rule');
    template.hasResourceProperties('AWS::Events::Rule', {
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.codecommit'],
        'detail-type': ['CodeCommit Repository State Change'],
        resources: [accountArn('codecommit', 'orders-api')],
        detail: {
          event: ['referenceCreated', 'referenceUpdated'],
          referenceType: ['branch'],
          referenceName: ['develop', 'main'],
        },
      },
    });
  });

  it('uses the same pattern as the domain function the local twin matches with', () => {
    const rule = Object.values(template.findResources('AWS::Events::Rule'))[0] as any;
    const pattern = codeCommitEventPattern(config, { partition: 'aws', region: 'eu-west-1', account: '210987654321' })!;
    const { resources, ...rest } = rule.Properties.EventPattern;
    const { resources: domainResources, ...domainRest } = pattern;
    assert.deepEqual(rest, domainRest);
    assert.deepEqual(resources.length, domainResources.length);
  });

  it('sends exactly the CodeCommit deploy input to the deploy state machine', () => {
    const sm = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0]!;
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          Arn: { Ref: sm },
          RoleArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } },
          InputTransformer: {
            InputPathsMap: {
              'detail-repositoryName': '$.detail.repositoryName',
              'detail-referenceName': '$.detail.referenceName',
              'detail-commitId': '$.detail.commitId',
              'detail-callerUserArn': '$.detail.callerUserArn',
              id: '$.id',
            },
            InputTemplate:
              '{"codecommit":{"repositoryName":<detail-repositoryName>,"referenceName":<detail-referenceName>,"commitId":<detail-commitId>,"callerUserArn":<detail-callerUserArn>,"eventId":<id>}}',
          },
        }),
      ],
    });
  });

  it('produces input the deploy input schema accepts (transformer applied to a real event)', () => {
    const rule = Object.values(template.findResources('AWS::Events::Rule'))[0] as any;
    const { InputPathsMap, InputTemplate } = rule.Properties.Targets[0].InputTransformer;
    // Apply the transformer as EventBridge does: replace <name> by the JSON of the value at its path.
    const valueAt = (path: string) => path.slice(2).split('.').reduce((n: any, k) => n?.[k], pushEvent);
    const input = JSON.parse(InputTemplate.replace(/<([\w-]+)>/g, (_: string, name: string) => JSON.stringify(valueAt(InputPathsMap[name]))));
    assert.ok(CodeCommitDeployInputSchema.safeParse(input).success);
    assert.deepEqual(input, codeCommitDeployInput(pushEvent));
  });

  it('lets EventBridge start only the deploy state machine', () => {
    const sm = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0]!;
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: sm } }] },
    });
  });

  it('keeps failed deliveries in an encrypted, TLS-only dead-letter queue', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('scopes database to the configured cluster and instance, and traffic to the configured rule and listener', () => {
    const statements = rolePolicies(template).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const cluster = statements.find((s: any) => [s.Action].flat().includes('rds:RestoreDBClusterFromSnapshot') && [s.Action].flat().includes('rds:CreateDBClusterSnapshot'));
    assert.deepEqual(sorted(cluster.Resource), sorted([
      accountArn('rds', 'cluster:orders-production'),
      accountArn('rds', 'cluster:orders-production-restored-??????'),
      accountArn('rds', 'cluster:orders-production-pre-??????'),
      accountArn('rds', 'db:orders-production-restored-??????-1'),
      accountArn('rds', 'cluster-snapshot:cutover-*'),
    ]));
    const instance = statements.find((s: any) => [s.Action].flat().includes('rds:RestoreDBInstanceFromDBSnapshot') && [s.Action].flat().includes('rds:CreateDBSnapshot'));
    assert.deepEqual(sorted(instance.Resource), sorted([accountArn('rds', 'db:orders-staging'), accountArn('rds', 'db:orders-staging-restored-??????'), accountArn('rds', 'db:orders-staging-pre-??????'), accountArn('rds', 'snapshot:cutover-*')]));
    const env = config.services.orders!.environments;
    assert.ok(statements.some((s: any) => s.Action === 'elasticloadbalancing:ModifyListener' && JSON.stringify(s.Resource) === JSON.stringify((env.staging!.production as { listenerArn: string }).listenerArn)));
    assert.ok(statements.some((s: any) => s.Action === 'elasticloadbalancing:ModifyRule' && JSON.stringify(s.Resource) === JSON.stringify((env.production!.production as { ruleArn: string }).ruleArn)));
    const services = statements.find((s: any) => [s.Action].flat().includes('ecs:UpdateService'));
    assert.deepEqual(sorted(services.Resource), sorted([
      accountArn('ecs', 'service/orders-prod/orders-blue'),
      accountArn('ecs', 'service/orders-prod/orders-green'),
      accountArn('ecs', 'service/orders-staging/orders-blue'),
      accountArn('ecs', 'service/orders-staging/orders-green'),
    ]));
  });

  it('needs no rule (pattern undefined) for a config without CodeCommit repositories', () => {
    const sample = loadConfigFile(join(ROOT_DIR, 'test/fixtures/hello-world-production.json'));
    assert.equal(codeCommitEventPattern(sample, { partition: 'aws', region: 'us-east-1', account: '123456789012' }), undefined);
  });

  it('fails when CodeCommitTrigger gets a config without CodeCommit repositories', () => {
    const sample = loadConfigFile(join(ROOT_DIR, 'test/fixtures/hello-world-production.json'));
    const scratch = new Stack(new App(), 'Scratch');
    const machine = sfn.StateMachine.fromStateMachineName(scratch, 'Sm', 'Cutover-deploy');
    assert.throws(
      () => new CodeCommitTrigger(scratch, 'Trigger', { config: sample, stateMachine: machine }),
      /CodeCommitTriggerProps\.config: no service uses a CodeCommit repository; add `"repository": \{ "codecommit": "<name>" \}`/,
    );
  });
});
