/**
 * The twin runs the same state machine files as the CDK app: every `${Placeholder}` in every file is
 * substituted, and every Task resource reaches a real handler or a supported service integration
 * (a Lambda function of cutover's, or a `states:startExecution` of one of cutover's state machines).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { STATE_MACHINES, placeholdersIn, stateMachineFile } from '../../lib/catalog';
import { loadConfigFile } from '../../lib/config';
import { startExecutionPattern } from '../../lib/local/stepfunctions/nested';
import { Twin, substituteDefinition } from '../../lib/local/twin';

const SAMPLE = new URL('../fixtures/hello-world-production.json', import.meta.url).pathname;

type StateJson = {
  Type: string;
  Resource?: string;
  Parameters?: { FunctionName?: string; StateMachineArn?: string };
  Branches?: Array<{ States: Record<string, StateJson> }>;
  Iterator?: { States: Record<string, StateJson> };
  ItemProcessor?: { States: Record<string, StateJson> };
};
type TaskRef = { state: string; resource: string; functionName?: string; stateMachineArn?: string };

/** Every Task of a definition, also inside Parallel branches and Map iterators. */
function taskResources(states: Record<string, StateJson>): TaskRef[] {
  return Object.entries(states).flatMap(([name, s]): TaskRef[] => [
    ...(s.Type === 'Task' ? [{ state: name, resource: s.Resource!, functionName: s.Parameters?.FunctionName, stateMachineArn: s.Parameters?.StateMachineArn }] : []),
    ...(s.Branches ?? []).flatMap((b) => taskResources(b.States)),
    ...(s.Iterator ? taskResources(s.Iterator.States) : []),
    ...(s.ItemProcessor ? taskResources(s.ItemProcessor.States) : []),
  ]);
}

/** The state machine each definition starts with `states:startExecution` (Task state → catalog name). */
const NESTED: Record<string, Record<string, string>> = {
  deploy: { StartRollbackWindow: 'rollback-window', StartPromotedDeployment: 'deploy' },
  rollback: { Redeploy: 'deploy' },
  'rollback-window': {},
};

describe('state machine definitions in the twin', () => {
  let twin: Twin;
  before(async () => {
    twin = await Twin.start({ config: loadConfigFile(SAMPLE), port: 0, timeScale: 3000 });
  });
  after(async () => twin.stop());

  for (const sm of STATE_MACHINES) {
    it(`${sm.file}: every placeholder is substituted and every task resolves`, () => {
      const text = readFileSync(stateMachineFile(sm.file), 'utf8');
      assert.ok(placeholdersIn(text).length > 0, 'the file uses placeholders');
      const described = twin.sfn.describeStateMachine({ stateMachineArn: twin.sfn.stateMachineArn(`cutover-${sm.name}`) });
      assert.doesNotMatch(described.definition ?? "", /\$\{/);
      const def = JSON.parse(described.definition ?? "{}") as { States: Record<string, StateJson> };
      const arns = twin.stateMachineArns as Record<string, string>;
      const started: Record<string, string> = {};
      const tasks = taskResources(def.States);
      assert.ok(tasks.length > 0, 'the definition has Task states');
      for (const { state, resource, functionName, stateMachineArn } of tasks) {
        if (startExecutionPattern(resource)) {
          assert.equal(functionName, undefined, `${state}: a states:startExecution task names no function`);
          assert.ok(stateMachineArn, `${state}: ${resource} needs Parameters.StateMachineArn`);
          const name = Object.keys(arns).find((k) => arns[k] === stateMachineArn);
          assert.ok(name, `${state}: ${stateMachineArn} is one of cutover's state machines (${Object.values(arns).join(', ')})`);
          started[state] = name;
          continue;
        }
        const target = functionName ?? resource;
        assert.ok(twin.lambda.resolve(target), `${state}: ${target} is one of cutover's functions`);
      }
      assert.deepEqual(started, NESTED[sm.name] ?? {}, 'each nested execution starts the intended state machine');
    });
  }

  it('fails naming a placeholder that has no value', () => {
    assert.throws(() => substituteDefinition('{"Resource":"${NopeFunctionArn}"}', {}), /NopeFunctionArn/);
  });
});
