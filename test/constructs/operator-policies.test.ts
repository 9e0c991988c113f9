/**
 * The managed IAM policies for people (issue 13 part 5): viewer, deployer, approver, operator, scoped
 * to the stack's state machines, ledger table and topic. Asserted on the synthesized template.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ROOT_DIR } from '../../lib/catalog';
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
    for (const forbidden of ['states:StartExecution', 'states:SendTaskSuccess', 'states:SendTaskFailure', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']) assert.ok(!a.includes(forbidden), `viewer: no ${forbidden}`);
  });

  it('deployer starts deployments only (not rollbacks), and answers no wait', () => {
    const s = statementsOf('deployer');
    const started = resourcesOf(s, 'states:StartExecution');
    assert.equal(started.length, 1);
    assert.match(started[0]!, /stateMachine:Cutover-deploy"/);
    assert.ok(!actions(s).includes('states:SendTaskSuccess'));
  });

  it('approver answers waits but starts nothing', () => {
    const a = actions(statementsOf('approver'));
    assert.ok(a.includes('states:SendTaskSuccess') && a.includes('states:SendTaskFailure'));
    assert.ok(!a.includes('states:StartExecution'));
  });

  it('operator starts deployments and rollbacks, answers waits, and may update only lock items (abort)', () => {
    const s = statementsOf('operator');
    const started = resourcesOf(s, 'states:StartExecution').join(' ');
    assert.match(started, /stateMachine:Cutover-deploy"/);
    assert.match(started, /stateMachine:Cutover-rollback"/);
    const update = s.find((x) => [x.Action].flat().includes('dynamodb:UpdateItem'))!;
    assert.deepEqual(update.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['LOCK#*'] } });
  });

  it('audit writes are limited to the audit timeline\'s items, on the ledger table only', () => {
    for (const role of ['deployer', 'approver', 'operator']) {
      const put = statementsOf(role).find((x) => [x.Action].flat().includes('dynamodb:PutItem'))!;
      assert.deepEqual(put.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['AUDIT#*'] } }, role);
      assert.match(JSON.stringify(put.Resource), /LedgerTable/);
    }
  });
});
