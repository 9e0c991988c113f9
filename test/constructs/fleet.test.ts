/**
 * A platform team's fleet in one stack: 50 services with staging and production (GitHub and
 * CodeCommit, RDS instances and Aurora clusters, 150 alarms, 50 ECR repositories) synthesizes offline, passes the cdk-nag
 * packs, and stays inside the AWS limits a deploy would meet — with the margins asserted, so a change
 * that eats them fails here rather than in a user's `cdk deploy`. Beyond what one stack can hold, synth
 * says so and how to split.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { CutoverStack } from '../../lib/constructs';
import { watchedRepositories } from '../../lib/domain/image-events';
import { fleetConfig } from '../helpers/fleet';
import { TASK_ROLES } from '../helpers/stacks';

/** Resolve a CloudFormation value with the longest partition/region names (as the size estimates do). */
function resolved(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(resolved);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const pseudo: Record<string, string> = { 'AWS::Partition': 'aws-us-gov', 'AWS::Region': 'ap-southeast-5', 'AWS::AccountId': '111122223333', 'AWS::URLSuffix': 'amazonaws.com' };
    if (typeof o.Ref === 'string') return pseudo[o.Ref] ?? 'x'.repeat(140);
    if ('Fn::GetAtt' in o) return 'x'.repeat(140);
    if ('Fn::Join' in o) {
      const [d, items] = o['Fn::Join'] as [string, unknown[]];
      return (resolved(items) as unknown[]).map(String).join(d);
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolved(x)]));
  }
  return v;
}
const chars = (v: unknown) => JSON.stringify(resolved(v)).replace(/\s/g, '').length;

describe('a 50-service fleet in one stack', () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], '@aws-cdk/aws-iam:minimizePolicies': true } });
  new CutoverStack(app, 'Fleet', { config: fleetConfig(50), taskRoleArns: TASK_ROLES });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  const findings = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}`)),
  );
  const template = app.synth().getStackByName('Fleet').template as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
  const resources = Object.entries(template.Resources);
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);

  it('synthesizes with no unacknowledged cdk-nag finding', () => {
    assert.deepEqual(findings, []);
  });

  it('stays inside CloudFormation limits: template ≤ 1 MB (half used at most), resources ≤ 500 (a quarter at most)', () => {
    assert.ok(JSON.stringify(template).length < 512 * 1024, `template ${JSON.stringify(template).length} bytes`);
    assert.ok(resources.length <= 125, `${resources.length} resources`);
  });

  it('stays inside IAM limits: managed policies ≤ 6,144 characters, ≤ 10 per role; inline ≤ 10,240 per role', () => {
    const managed = new Map<string, number>();
    const inline = new Map<string, number>();
    for (const [id, r] of ofType('AWS::IAM::ManagedPolicy')) {
      const size = chars(r.Properties.PolicyDocument);
      assert.ok(size <= 6144, `${id}: ${size} characters`);
      for (const role of r.Properties.Roles ?? []) managed.set(role.Ref, (managed.get(role.Ref) ?? 0) + 1);
    }
    for (const [, r] of ofType('AWS::IAM::Policy')) {
      for (const role of r.Properties.Roles ?? []) inline.set(role.Ref, (inline.get(role.Ref) ?? 0) + chars(r.Properties.PolicyDocument));
    }
    for (const [role, n] of managed) assert.ok(n <= 7, `${role}: ${n} managed policies (10 allowed; keep room)`);
    for (const [role, n] of inline) assert.ok(n <= 10_240, `${role}: ${n} characters of inline policy`);
  });

  it('stays inside EventBridge and Lambda limits: each pattern ≤ 2,048 characters; each environment ≤ 4 KB', () => {
    const rules = ofType('AWS::Events::Rule');
    assert.ok(rules.length >= 3, `the 150 alarm names are split over several rules, beside the CodeCommit rule (${rules.length})`);
    for (const [id, r] of rules) assert.ok(chars(r.Properties.EventPattern) <= 2048, `${id}: ${chars(r.Properties.EventPattern)} characters`);
    for (const [id, r] of ofType('AWS::Lambda::Function')) {
      const env = r.Properties.Environment?.Variables ?? {};
      assert.ok(chars(env) < 4096 - 512, `${id}: environment ${chars(env)} characters`);
      assert.equal(env.CUTOVER_CONFIG, undefined, `${id}: no config in the environment`);
    }
  });

  it('every alarm of the fleet is watched by exactly one rule', () => {
    const watched = ofType('AWS::Events::Rule').flatMap(([, r]) => (r.Properties.EventPattern.detail?.alarmName as string[] | undefined) ?? []);
    const alarms = Object.values(fleetConfig(50).services).flatMap((s) => Object.values(s.environments).flatMap((e) => e.alarms));
    assert.deepEqual([...watched].sort(), [...alarms].sort());
  });

  it('every ECR repository of the fleet is watched by exactly one image rule, and described by ecs-release and ledger only', () => {
    const watched = ofType('AWS::Events::Rule').flatMap(([, r]) => (r.Properties.EventPattern.source?.includes('aws.ecr') ? (r.Properties.EventPattern.detail['repository-name'] as string[]) : []));
    assert.deepEqual([...watched].sort(), watchedRepositories(fleetConfig(50)));
    const described = ofType('AWS::IAM::ManagedPolicy').flatMap(([, r]) =>
      (r.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>)
        .filter((st) => [st.Action].flat().includes('ecr:DescribeImages'))
        .map((st) => ({ role: r.Properties.Roles[0].Ref as string, count: [st.Resource].flat().length })),
    );
    assert.deepEqual([...new Set(described.map((d) => d.role.replace(/Role[0-9A-F]{8}$/, '')))].sort(), ['FunctionsEcsRelease', 'FunctionsLedger']);
    for (const role of new Set(described.map((d) => d.role))) {
      assert.equal(described.filter((d) => d.role === role).reduce((n, d) => n + d.count, 0), 50, `${role}: one repository per service`);
    }
  });

  it('beyond one stack (100 services), synth stops with the limit and both ways out: a raised IAM quota or more stacks', () => {
    assert.throws(
      () => new CutoverStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Big', { config: fleetConfig(100), taskRoleArns: TASK_ROLES }),
      /CutoverStackProps\.config: .* need more than 10 managed policies .*maxManagedPoliciesPerRole.*cutover:managedPoliciesPerRole.* Split the services over several cutover stacks/,
    );
  });

  it('with the IAM quota raised to 20 managed policies per role, 150 services fit one stack inside every other limit', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new CutoverStack(app, 'Big', { config: fleetConfig(150), taskRoleArns: TASK_ROLES, maxManagedPoliciesPerRole: 20 });
    const big = app.synth().getStackByName('Big').template as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
    const all = Object.entries(big.Resources);
    assert.ok(JSON.stringify(big).length < 900 * 1024, `template ${JSON.stringify(big).length} bytes (1 MB allowed)`);
    assert.ok(all.length <= 250, `${all.length} resources (500 allowed)`);
    const perRole = new Map<string, number>();
    for (const [id, r] of all.filter(([, r]) => r.Type === 'AWS::IAM::ManagedPolicy')) {
      assert.ok(chars(r.Properties.PolicyDocument) <= 6144, `${id}: ${chars(r.Properties.PolicyDocument)} characters`);
      for (const role of r.Properties.Roles ?? []) perRole.set(role.Ref, (perRole.get(role.Ref) ?? 0) + 1);
    }
    for (const [role, n] of perRole) assert.ok(n <= 20, `${role}: ${n} managed policies`);
    assert.ok(Math.max(...perRole.values()) > 10, 'the fleet needed the raised quota');
  });

  it('fails when maxManagedPoliciesPerRole is outside what IAM allows (1-20)', () => {
    assert.throws(
      () => new CutoverStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Bad', { config: fleetConfig(1), taskRoleArns: TASK_ROLES, maxManagedPoliciesPerRole: 25 }),
      /CutoverStackProps\.maxManagedPoliciesPerRole: 25 is not a number of managed policies IAM allows per role; use a whole number from 1 to 20/,
    );
  });
});
