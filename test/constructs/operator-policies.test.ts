/**
 * The managed IAM policies for people (issue 13 part 5): viewer, deployer, approver, operator, scoped
 * to the stack's state machines, ledger table, topic and approval function. Asserted on the synthesized
 * template.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { FUNCTIONS, ROOT_DIR } from '../../lib/catalog';
import { loadConfigFile } from '../../lib/config';
import { CutoverStack } from '../../lib/constructs';
import { TASK_ROLES } from '../helpers/stacks';

const cdkContext = JSON.parse(readFileSync(join(ROOT_DIR, 'cdk.json'), 'utf8')).context;
const app = new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
const stack = new CutoverStack(app, 'Cutover', { config: loadConfigFile(join(ROOT_DIR, 'lib/config/samples/hello-world.json')), taskRoleArns: TASK_ROLES });
const template = Template.fromStack(stack);

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, unknown> };
function statementsOf(role: string): Statement[] {
  const found = Object.values(template.findResources('AWS::IAM::ManagedPolicy')).find((p: any) => p.Properties.ManagedPolicyName === `Cutover-${role}`) as any;
  assert.ok(found, `a managed policy Cutover-${role}`);
  return found.Properties.PolicyDocument.Statement;
}
const actions = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat());
const resourcesOf = (statements: Statement[], action: string) => statements.filter((s) => [s.Action].flat().includes(action)).flatMap((s) => [s.Resource].flat()).map((r) => JSON.stringify(r));
/** The approval function's logical id (found by its catalog description). */
const approvalFn = Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { Description: FUNCTIONS.find((f) => f.name === 'approval')!.description } }))[0]!;
/** What invoking the approval function's URL takes (aws-cdk-lib's grantInvokeUrl): the URL with IAM auth, and Invoke only through the URL. */
const invokeApprovalUrl = [
  Match.objectLike({ Effect: 'Allow', Action: 'lambda:InvokeFunctionUrl', Resource: { 'Fn::GetAtt': [approvalFn, 'Arn'] }, Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } } }),
  Match.objectLike({ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [approvalFn, 'Arn'] }, Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } } }),
];
/** The cdk-nag findings acknowledged on a role's managed policy (ids without the `Annotation::` prefix Validations records). */
const acknowledgedOn = (role: 'viewer' | 'deployer' | 'approver' | 'operator'): string[] =>
  stack.operatorPolicies.policies[role].node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
    .flatMap((m) => Object.keys(m.data as Record<string, string>))
    .map((id) => id.replace(/^Annotation::/, ''));

describe('OperatorPolicies', () => {
  it('creates the four managed policies, each with an output', () => {
    for (const role of ['viewer', 'deployer', 'approver', 'operator']) {
      assert.ok(statementsOf(role).length > 0);
      assert.ok(Object.values(template.findOutputs('*')).some((o: any) => String(o.Description).startsWith(`cutover ${role}:`)), `an output for ${role}`);
    }
  });

  it('viewer reads only: no start, no answer, no write', () => {
    const a = actions(statementsOf('viewer'));
    assert.ok(a.includes('states:DescribeExecution') && a.includes('dynamodb:Query'));
    for (const forbidden of ['states:StartExecution', 'states:SendTaskSuccess', 'states:SendTaskFailure', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'lambda:InvokeFunction', 'lambda:InvokeFunctionUrl']) assert.ok(!a.includes(forbidden), `viewer: no ${forbidden}`);
  });

  it('deployer starts deployments only (not rollbacks), and answers no wait', () => {
    const s = statementsOf('deployer');
    const started = resourcesOf(s, 'states:StartExecution');
    assert.equal(started.length, 1);
    assert.match(started[0]!, /stateMachine:Cutover-deploy"/);
    assert.ok(!actions(s).includes('states:SendTaskSuccess'));
    assert.ok(!actions(s).some((a) => a.startsWith('lambda:')), 'deployer cannot call the approval function');
  });

  it('approver invokes the approval function through its URL (AWS_IAM) only, and answers no wait itself', () => {
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', { ManagedPolicyName: 'Cutover-approver', PolicyDocument: { Statement: Match.arrayWith(invokeApprovalUrl) } });
    const s = statementsOf('approver');
    const invoke = s.filter((x) => [x.Action].flat().some((a) => a.startsWith('lambda:')));
    assert.equal(invoke.length, 2, 'InvokeFunctionUrl and InvokeFunction, nothing else of Lambda');
    for (const x of invoke) assert.ok(x.Condition, `${x.Sid}: conditioned on the function URL`);
    const a = actions(s);
    for (const forbidden of ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:StartExecution', 'dynamodb:PutItem', 'dynamodb:UpdateItem']) assert.ok(!a.includes(forbidden), `approver: no ${forbidden}`);
  });

  it('acknowledges the SendTask* wildcard on the operator policy only (the approver policy has none)', () => {
    const any = 'AwsSolutions-IAM5[Resource::*]';
    assert.ok(!JSON.stringify(statementsOf('approver').map((x) => x.Resource)).includes('"*"'), 'no Resource * in the approver policy');
    assert.ok(!acknowledgedOn('approver').includes(any), 'nothing acknowledged that is not there');
    assert.ok(acknowledgedOn('operator').includes(any), 'operator: SendTaskSuccess / SendTaskFailure on *');
  });

  it('operator starts deployments and rollbacks, answers waits, invokes the approval function URL, and may update only lock items (abort)', () => {
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      ManagedPolicyName: 'Cutover-operator',
      PolicyDocument: { Statement: Match.arrayWith([...invokeApprovalUrl, Match.objectLike({ Action: Match.arrayWith(['states:SendTaskSuccess']), Resource: '*' })]) },
    });
    const s = statementsOf('operator');
    const started = resourcesOf(s, 'states:StartExecution').join(' ');
    assert.match(started, /stateMachine:Cutover-deploy"/);
    assert.match(started, /stateMachine:Cutover-rollback"/);
    const update = s.find((x) => [x.Action].flat().includes('dynamodb:UpdateItem'))!;
    assert.deepEqual(update.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['LOCK#*'] } });
  });

  it('audit writes are limited to the audit timeline\'s items, on the ledger table only', () => {
    // The approver writes no audit event: the approval function audits with the verified caller.
    for (const role of ['deployer', 'operator']) {
      const put = statementsOf(role).find((x) => [x.Action].flat().includes('dynamodb:PutItem'))!;
      assert.deepEqual(put.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['AUDIT#*'] } }, role);
      assert.match(JSON.stringify(put.Resource), /LedgerTable/);
    }
  });
});
