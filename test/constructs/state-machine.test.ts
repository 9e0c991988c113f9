/**
 * Every `${Placeholder}` of every state machine file is substituted on the CDK side, with the ARN of
 * the function that owns the placeholder.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Template } from 'aws-cdk-lib/assertions';
import { FUNCTIONS, ROOT_DIR, STATE_MACHINES, placeholdersIn, stateMachineFile } from '../../lib/catalog';
import { loadConfigFile } from '../../lib/config';
import { CutoverStack, DeployStateMachine, definitionSubstitutions, type StateMachineFunctions } from '../../lib/constructs';
import { TASK_ROLES } from '../helpers/stacks';

// Prepare
const cdkContext = JSON.parse(readFileSync(join(ROOT_DIR, 'cdk.json'), 'utf8')).context;
const app = new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
const stack = new CutoverStack(app, 'Cutover', { config: loadConfigFile(join(ROOT_DIR, 'test/fixtures/hello-world-production.json')), taskRoleArns: TASK_ROLES });
const template = Template.fromStack(stack);
const stateMachine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as any;

/** Imported functions, enough for DeployStateMachine in a scratch stack. */
function importedFunctions(scope: Stack): StateMachineFunctions {
  return Object.fromEntries(
    FUNCTIONS.filter((f) => 'placeholder' in f).map((f) => [f.name, lambda.Function.fromFunctionName(scope, f.name, f.name)]),
  ) as unknown as StateMachineFunctions;
}

describe('state machine placeholders', () => {
  it('substitutes every placeholder of every file in STATE_MACHINES', () => {
    const scratch = new Stack(new App(), 'Scratch');
    const keys = [...Object.keys(definitionSubstitutions(importedFunctions(scratch))), ...STATE_MACHINES.map((m) => m.placeholder)];
    for (const sm of STATE_MACHINES) {
      const placeholders = placeholdersIn(readFileSync(stateMachineFile(sm.file), 'utf8'));
      assert.ok(placeholders.length > 0, `${sm.file} has placeholders`);
      const missing = placeholders.filter((p) => !keys.includes(p));
      assert.deepEqual(missing, [], `${sm.file}: placeholders without a substitution`);
    }
  });

  it('leaves no placeholder in the synthesized definition without a DefinitionSubstitutions entry', () => {
    const definition: string = stateMachine.Properties.DefinitionString;
    assert.equal(typeof definition, 'string', 'the definition is in the template');
    const substituted = Object.keys(stateMachine.Properties.DefinitionSubstitutions);
    const left = placeholdersIn(definition).filter((p) => !substituted.includes(p));
    assert.deepEqual(left, []);
    assert.deepEqual(placeholdersIn(definition), placeholdersIn(readFileSync(stateMachineFile('deploy.asl.json'), 'utf8')));
  });

  it('substitutes each placeholder with the ARN of its own function', () => {
    const fns = template.findResources('AWS::Lambda::Function');
    for (const spec of FUNCTIONS) {
      if (!('placeholder' in spec)) continue;
      const [logicalId] = Object.entries(fns).find(([, f]: any) => f.Properties.Description === spec.description)!;
      assert.deepEqual(stateMachine.Properties.DefinitionSubstitutions[spec.placeholder], { 'Fn::GetAtt': [logicalId, 'Arn'] }, spec.placeholder);
    }
  });

  it('keeps the definition equal to the file', () => {
    assert.deepEqual(JSON.parse(stateMachine.Properties.DefinitionString), JSON.parse(readFileSync(stateMachineFile('deploy.asl.json'), 'utf8')));
  });

  it('fails when a definition uses a placeholder no function provides', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-sm-'));
    const file = join(dir, 'bad.asl.json');
    writeFileSync(file, JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Task', Resource: '${NotAFunctionArn}', End: true } } }));
    const scratch = new Stack(new App(), 'Scratch');
    assert.throws(
      () => new DeployStateMachine(scratch, 'Deploy', { functions: importedFunctions(scratch), definitionFile: file }),
      /DeployStateMachineProps\.definitionFile: .*bad\.asl\.json uses \$\{NotAFunctionArn\}, which no function provides; use one of .*\$\{PlanFunctionArn\}/,
    );
  });

  it('fails when a definition file is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-sm-'));
    const file = join(dir, 'broken.asl.json');
    writeFileSync(file, '{ "StartAt": ');
    const scratch = new Stack(new App(), 'Scratch');
    assert.throws(
      () => new DeployStateMachine(scratch, 'Deploy', { functions: importedFunctions(scratch), definitionFile: file }),
      /DeployStateMachineProps\.definitionFile: .*broken\.asl\.json is not valid JSON/,
    );
  });

  it('fails when a function the definitions need is not given', () => {
    const scratch = new Stack(new App(), 'Scratch');
    const { plan: _plan, ...rest } = importedFunctions(scratch);
    assert.throws(() => definitionSubstitutions(rest), /functions\.plan: missing; .*\$\{PlanFunctionArn\}/);
  });

  it('leaves the name to CloudFormation when none is given, so two state machines (or stacks) never share one', () => {
    const scratch = new Stack(new App(), 'Scratch');
    const functions = importedFunctions(scratch);
    // The rollback-window definition starts no other state machine.
    const definitionFile = stateMachineFile(STATE_MACHINES.find((m) => m.name === 'rollback-window')!.file);
    new DeployStateMachine(scratch, 'One', { functions, definitionFile });
    new DeployStateMachine(scratch, 'Two', { functions, definitionFile });
    const machines = Object.values(Template.fromStack(scratch).findResources('AWS::StepFunctions::StateMachine')) as any[];
    assert.equal(machines.length, 2);
    for (const m of machines) assert.equal(m.Properties.StateMachineName, undefined);
  });

  it('fails when the state machine name is invalid', () => {
    const scratch = new Stack(new App(), 'Scratch');
    assert.throws(
      () => new DeployStateMachine(scratch, 'Deploy', { functions: importedFunctions(scratch), stateMachineName: 'has spaces' }),
      /DeployStateMachineProps\.stateMachineName: "has spaces" is not a valid state machine name/,
    );
  });
});
