/**
 * The image gate in the stack: the EventBridge rule on ECR's "ECR Image Action" pushes to the configured
 * repositories → the `image-events` function (with a dead-letter queue), that function's permissions
 * (GetItem on the table, SendTaskSuccess), and `ecr:DescribeImages` for `ecs-release` and `ledger` on
 * exactly the configured repositories. Without an ECR repository in the config: none of it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { FUNCTIONS, ROOT_DIR } from '../../lib/catalog';
import { loadConfigFile, parseConfig, type Config } from '../../lib/config';
import { CutoverStack, ImageTrigger, TASK_TOKEN_WILDCARD_REASON } from '../../lib/constructs';
import { EVENT_PATTERN_LIMIT } from '../../lib/constructs/event-patterns';
import { imageEventPattern, watchedRepositories } from '../../lib/domain/image-events';
import { fleetConfigRaw } from '../helpers/fleet';
import { TASK_ROLES } from '../helpers/stacks';

const cdkContext = JSON.parse(readFileSync(join(ROOT_DIR, 'cdk.json'), 'utf8')).context;
const SAMPLE = join(ROOT_DIR, 'test/fixtures/hello-world-production.json');
const FIXTURE = join(ROOT_DIR, 'test/constructs/fixtures/codecommit-aurora.json');

/** Synthesize a CutoverStack (no bundling) for a config. */
function synth(config: Config): Template {
  const app = new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
  return Template.fromStack(new CutoverStack(app, 'Cutover', { config, taskRoleArns: TASK_ROLES }));
}

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
const actionsOf = (s: Statement) => [s.Action].flat();
const resourcesOf = (s: Statement) => [s.Resource].flat();
/** Compare resource lists ignoring order (policy minimization sorts them). */
const sorted = (items: unknown) => [items].flat().map((i) => JSON.stringify(i)).sort();

/** The logical id of the function with this catalog name, or undefined when the stack has none. */
function functionId(t: Template, name: string): string | undefined {
  const spec = FUNCTIONS.find((f) => f.name === name)!;
  return Object.keys(t.findResources('AWS::Lambda::Function', { Properties: { Description: spec.description } }))[0];
}

/** All statements of the inline and managed policies attached to the role of the function `name`. */
function statementsOf(t: Template, name: string): Statement[] {
  const id = functionId(t, name);
  assert.ok(id, `a function "${name}"`);
  const roleRef = (t.toJSON().Resources[id].Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return [...Object.values(t.findResources('AWS::IAM::Policy')), ...Object.values(t.findResources('AWS::IAM::ManagedPolicy'))]
    .filter((p: any) => (p.Properties.Roles ?? []).some((r: any) => r.Ref === roleRef))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** `arn:<stack partition>:ecr:<region>:<account>:repository/<name>` as the template holds it. */
const repositoryArn = (region: string, account: string, name: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ecr:${region}:${account}:repository/${name}`]],
});

/** The `ecr:*` statements of every function role, by function name. */
function ecrGrants(t: Template): Record<string, Statement[]> {
  return Object.fromEntries(
    FUNCTIONS.filter((f) => functionId(t, f.name)).map((f) => [f.name, statementsOf(t, f.name).filter((s) => actionsOf(s).some((a) => a.startsWith('ecr:')))]),
  );
}

/** The image rules of a template (source aws.ecr, ECR Image Action). */
const imageRules = (t: Template) => Object.values(t.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.ecr'], 'detail-type': ['ECR Image Action'] } } })) as any[];

/** A raw config with the environments' `imageRepository` set from `images` (service index → [staging, production]). */
function fleetWithImages(images: Array<[string, string]>): Config {
  const raw = fleetConfigRaw(images.length) as { services: Record<string, { environments: Record<string, { imageRepository: string }> }> };
  Object.values(raw.services).forEach((s, i) => {
    s.environments.staging!.imageRepository = images[i]![0];
    s.environments.production!.imageRepository = images[i]![1];
  });
  return parseConfig(raw);
}

describe('image rule and image-events function (sample config)', () => {
  // The sample without its scan gate (the scan gate's rules and grants: 'ImageTrigger: the scan gate').
  const sampleRaw = JSON.parse(readFileSync(SAMPLE, 'utf8'));
  delete sampleRaw.services['hello-world'].environments.production.scan;
  const config = parseConfig(sampleRaw);
  const t = synth(config);

  it('sends successful pushes to the configured repository to the image-events function, with a dead-letter queue and a retry policy', () => {
    const rules = imageRules(t);
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0].Properties.EventPattern, imageEventPattern(config));
    assert.deepEqual(rules[0].Properties.EventPattern, {
      source: ['aws.ecr'],
      'detail-type': ['ECR Image Action'],
      detail: { 'action-type': ['PUSH'], result: ['SUCCESS'], 'repository-name': ['hello-world'] },
    });
    assert.equal(rules[0].Properties.EventBusName, undefined, 'the default bus');
    const fn = functionId(t, 'image-events')!;
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.ecr'] },
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [fn, 'Arn'] },
          Id: Match.anyValue(),
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ImagesDeadLetterQueue'), 'Arn'] } },
          // An event older than the longest image wait (the sample's imageTimeoutSeconds: 600) can end no wait.
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 600 },
        },
      ],
    });
    t.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com', FunctionName: { 'Fn::GetAtt': [fn, 'Arn'] } });
    t.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
  });

  it('sends failed asynchronous invocations of image-events and alarm to their dead-letter queues (DeadLetterConfig), with no cdk-nag acknowledgement left', () => {
    const resources = t.toJSON().Resources as Record<string, any>;
    for (const [name, queuePrefix] of [['image-events', '^ImagesDeadLetterQueue'], ['alarm', '^AlarmsDeadLetterQueue']] as const) {
      const fn = resources[functionId(t, name)!];
      const target = fn.Properties.DeadLetterConfig?.TargetArn?.['Fn::GetAtt'];
      assert.ok(target && new RegExp(queuePrefix).test(target[0]) && target[1] === 'Arn', `${name}: DeadLetterConfig ${JSON.stringify(fn.Properties.DeadLetterConfig)}`);
      const acks = (fn.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((r: { id: string }) => r.id);
      assert.ok(!acks.includes('Serverless-LambdaDLQ'), `${name} is invoked asynchronously: its DLQ is real, not acknowledged away`);
    }
    const planFn = resources[functionId(t, 'plan')!];
    assert.equal(planFn.Properties.DeadLetterConfig, undefined, 'a function only Step Functions invokes has none');
  });

  it('gives image-events the config file and the table name, like the alarm function', () => {
    const env = t.toJSON().Resources[functionId(t, 'image-events')!].Properties.Environment.Variables;
    assert.deepEqual(Object.keys(env).sort(), ['CUTOVER_CONFIG_FILE', 'NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME', 'TABLE_NAME']);
    assert.equal(env.CUTOVER_CONFIG_FILE, 'cutover-config.json');
    assert.deepEqual(env.TABLE_NAME, { Ref: Object.keys(t.findResources('AWS::DynamoDB::Table'))[0] });
  });

  it('lets image-events read the table (GetItem, what Ledger.getLock sends), answer task tokens (SendTaskSuccess) and dead-letter a failed event to its own queue, nothing else', () => {
    const table = Object.keys(t.findResources('AWS::DynamoDB::Table'))[0]!;
    const statements = statementsOf(t, 'image-events');
    const own = statements.filter((s) => !actionsOf(s).every((a) => a.startsWith('logs:') || a.startsWith('xray:')));
    assert.deepEqual(own.flatMap(actionsOf).sort(), ['dynamodb:GetItem', 'sqs:SendMessage', 'states:SendTaskSuccess']);
    const dlq = own.find((s) => actionsOf(s).includes('sqs:SendMessage'))!;
    assert.deepEqual(resourcesOf(dlq), [{ 'Fn::GetAtt': [Object.keys(t.findResources('AWS::SQS::Queue')).find((id) => id.startsWith('ImagesDeadLetterQueue'))!, 'Arn'] }]);
    const get = own.find((s) => actionsOf(s).includes('dynamodb:GetItem'))!;
    assert.deepEqual(resourcesOf(get), [{ 'Fn::GetAtt': [table, 'Arn'] }], 'the table only (no index, no stream)');
    // SendTaskSuccess has no resource type (Service Authorization Reference), as the alarm function's
    // SendTaskFailure: a task token only answers the wait it was issued for.
    const send = own.find((s) => actionsOf(s).includes('states:SendTaskSuccess'))!;
    assert.deepEqual(resourcesOf(send), ['*']);
    const logGroup = t.toJSON().Resources[functionId(t, 'image-events')!].Properties.LoggingConfig.LogGroup.Ref;
    for (const s of statements.filter((x) => actionsOf(x).some((a) => a.startsWith('logs:')))) {
      assert.deepEqual(resourcesOf(s), [{ 'Fn::GetAtt': [logGroup, 'Arn'] }], 'its own log group only');
    }
  });

  it('lets ecs-release and ledger describe images in exactly the configured repository, and no other function touch ECR', () => {
    const grants = ecrGrants(t);
    for (const name of ['ecs-release', 'ledger']) {
      assert.equal(grants[name]!.length, 1, name);
      assert.deepEqual(actionsOf(grants[name]![0]!), ['ecr:DescribeImages'], name);
      assert.deepEqual(sorted(grants[name]![0]!.Resource), sorted([repositoryArn('us-east-1', '123456789012', 'hello-world')]), name);
      assert.equal(grants[name]![0]!.Condition, undefined, name);
    }
    for (const [name, statements] of Object.entries(grants)) if (!['ecs-release', 'ledger'].includes(name)) assert.deepEqual(statements, [], `${name} has no ecr: action`);
  });

  it('lets the ledger end its own image wait (SendTaskSuccess) besides failing waits', () => {
    const tokens = statementsOf(t, 'ledger').filter((s) => actionsOf(s).some((a) => a.startsWith('states:SendTask')));
    assert.deepEqual(tokens.flatMap(actionsOf).sort(), ['states:SendTaskFailure', 'states:SendTaskSuccess']);
  });

  it('acknowledges the SendTaskSuccess wildcard in cdk-nag with the reason', () => {
    const app = new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
    const stack = new CutoverStack(app, 'Cutover', { config, taskRoleArns: TASK_ROLES });
    const acknowledged = stack.images!.function.role.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    assert.ok(acknowledged.some(([id, reason]) => id.endsWith('AwsSolutions-IAM5[Resource::*]') && reason === TASK_TOKEN_WILDCARD_REASON), JSON.stringify(acknowledged));
  });
});

describe('image grants across registries', () => {
  it('scopes DescribeImages to each repository in its own registry account and region (fixture: one repository, two environments)', () => {
    const t = synth(loadConfigFile(FIXTURE));
    for (const name of ['ecs-release', 'ledger']) {
      assert.deepEqual(sorted(ecrGrants(t)[name]!.flatMap((s) => resourcesOf(s))), sorted([repositoryArn('eu-west-1', '210987654321', 'orders')]), name);
    }
    assert.deepEqual(imageRules(t).map((r) => r.Properties.EventPattern.detail['repository-name']), [['orders']]);
  });

  it('covers namespaced, cross-account and cross-region repositories, skips non-ECR images, and watches a shared repository once', () => {
    const config = fleetWithImages([
      ['111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/api', '444455556666.dkr.ecr.us-east-2.amazonaws.com/team/api'],
      ['ghcr.io/example/web', 'docker.io/library/nginx'],
      ['111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/api', '111122223333.dkr.ecr.ap-southeast-2.amazonaws.com/shared'],
    ]);
    const t = synth(config);
    const expected = sorted([
      repositoryArn('eu-west-1', '111122223333', 'team/api'),
      repositoryArn('us-east-2', '444455556666', 'team/api'),
      repositoryArn('ap-southeast-2', '111122223333', 'shared'),
    ]);
    for (const name of ['ecs-release', 'ledger']) assert.deepEqual(sorted(ecrGrants(t)[name]!.flatMap((s) => resourcesOf(s))), expected, name);
    const watched = imageRules(t).flatMap((r) => r.Properties.EventPattern.detail['repository-name'] as string[]);
    assert.deepEqual(watched.sort(), ['shared', 'team/api']);
  });

  it('has no image rule, no image-events function and no ECR or SendTaskSuccess grant when no image is in ECR', () => {
    const raw = JSON.parse(readFileSync(SAMPLE, 'utf8'));
    raw.services['hello-world'].environments.production.imageRepository = 'ghcr.io/codertocat/hello-world';
    const t = synth(parseConfig(raw));
    assert.deepEqual(imageRules(t), []);
    assert.deepEqual(Object.keys(t.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.ecr'] } } })), []);
    assert.equal(functionId(t, 'image-events'), undefined);
    for (const [name, statements] of Object.entries(ecrGrants(t))) assert.deepEqual(statements, [], `${name} has no ecr: action`);
    const ledgerTokens = statementsOf(t, 'ledger').filter((s) => actionsOf(s).some((a) => a.startsWith('states:SendTask')));
    assert.deepEqual(ledgerTokens.flatMap(actionsOf), ['states:SendTaskFailure'], 'the ledger only fails waits');
  });
});

describe('image rules beyond EventBridge’s pattern size', () => {
  // 60 services with 60-character repository names: ~4,000 characters of names in one pattern.
  const config = fleetWithImages(
    Array.from({ length: 60 }, (_, i) => {
      const repo = `111122223333.dkr.ecr.eu-west-1.amazonaws.com/platform-team/${'x'.repeat(40)}-${String(i).padStart(3, '0')}`;
      return [repo, repo] as [string, string];
    }),
  );
  const t = synth(config);
  const rules = imageRules(t);

  it('splits the repositories over several rules, each pattern within 2,048 characters, each repository in exactly one', () => {
    assert.ok(rules.length >= 2, `${rules.length} rules`);
    for (const r of rules) assert.ok(JSON.stringify(r.Properties.EventPattern).length <= EVENT_PATTERN_LIMIT, `${JSON.stringify(r.Properties.EventPattern).length} characters`);
    const watched = rules.flatMap((r) => r.Properties.EventPattern.detail['repository-name'] as string[]);
    assert.deepEqual([...watched].sort(), watchedRepositories(config));
    assert.equal(new Set(watched).size, watched.length, 'no repository in two rules');
  });

  it('sends every rule to the same function and dead-letter queue', () => {
    const fn = functionId(t, 'image-events')!;
    const targets = rules.map((r) => r.Properties.Targets[0]);
    for (const target of targets) assert.deepEqual(target.Arn, { 'Fn::GetAtt': [fn, 'Arn'] });
    assert.equal(new Set(targets.map((x) => JSON.stringify(x.DeadLetterConfig))).size, 1);
    assert.equal(Object.keys(t.findResources('AWS::SQS::Queue')).filter((id) => id.startsWith('Images')).length, 1);
  });
});

describe('ImageTrigger validation', () => {
  const table = (stack: Stack) => new dynamodb.Table(stack, 'T', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
  const stack = () => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');

  it('fails when no environment’s image is in ECR, naming the prop and the fix', () => {
    const raw = JSON.parse(readFileSync(SAMPLE, 'utf8'));
    raw.services['hello-world'].environments.production.imageRepository = 'ghcr.io/codertocat/hello-world';
    const s = stack();
    assert.throws(() => new ImageTrigger(s, 'Images', { config: parseConfig(raw), table: table(s) }), /ImageTriggerProps\.config: no environment's "imageRepository" is an Amazon ECR repository .*use an ECR repository/);
  });

  it('fails when deadLetterRetention is outside SQS limits', () => {
    const s = stack();
    assert.throws(
      () => new ImageTrigger(s, 'Images', { config: loadConfigFile(SAMPLE), table: table(s), deadLetterRetention: Duration.days(15) }),
      /ImageTriggerProps\.deadLetterRetention: 15 days is outside SQS limits; use 1 minute to 14 days\./,
    );
  });

  it('keeps events as long as the longest image wait of an ECR environment (60 s to 24 h)', () => {
    const raw = fleetConfigRaw(2) as any;
    raw.services['svc-000'].environments.production.imageTimeoutSeconds = 7200;
    raw.services['svc-001'].environments.production.imageTimeoutSeconds = 86_400;
    raw.services['svc-001'].environments.production.imageRepository = 'ghcr.io/example/svc-001';
    const s = stack();
    new ImageTrigger(s, 'Images', { config: parseConfig(raw), table: table(s) });
    Template.fromStack(s).hasResourceProperties('AWS::Events::Rule', { Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 } })] });
  });
});

describe('ImageTrigger: the scan gate', () => {
  it('with scan on an environment: rules on "ECR Image Scan" (that repository) and "Inspector2 Scan", and DescribeImageScanFindings on that repository for image-events, ecs-release and ledger; none without', () => {
    const raw = JSON.parse(readFileSync(SAMPLE, 'utf8'));
    delete raw.services['hello-world'].environments.production.scan;
    const without = synth(parseConfig(raw));
    assert.equal(Object.keys(without.findResources('AWS::Events::Rule', { Properties: { Description: Match.stringLikeRegexp('image scan completed') } })).length, 0);
    for (const name of ['image-events', 'ecs-release', 'ledger']) {
      assert.ok(!statementsOf(without, name).some((s) => actionsOf(s).includes('ecr:DescribeImageScanFindings')), `${name}: no scan grant without a scan gate`);
    }
    raw.services['hello-world'].environments.production.scan = { maxSeverity: 'HIGH' };
    const t = synth(parseConfig(raw));
    const rules = Object.values(t.findResources('AWS::Events::Rule', { Properties: { Description: Match.stringLikeRegexp('image scan completed') } })) as Array<{ Properties: { EventPattern: Record<string, any> } }>;
    assert.deepEqual(
      rules.map((r) => r.Properties.EventPattern).sort((a, b) => String(a.source).localeCompare(String(b.source))),
      [
        { source: ['aws.ecr'], 'detail-type': ['ECR Image Scan'], detail: { 'scan-status': ['COMPLETE'], 'repository-name': ['hello-world'] } },
        { source: ['aws.inspector2'], 'detail-type': ['Inspector2 Scan'], detail: { 'scan-status': ['INITIAL_SCAN_COMPLETE'] } },
      ],
    );
    for (const name of ['image-events', 'ecs-release', 'ledger']) {
      const grant = statementsOf(t, name).find((s) => actionsOf(s).includes('ecr:DescribeImageScanFindings'));
      assert.ok(grant, `${name}: DescribeImageScanFindings`);
      assert.deepEqual(sorted(resourcesOf(grant)), sorted([repositoryArn('us-east-1', '123456789012', 'hello-world')]));
    }
  });
});
