/**
 * The twin runs the same state machine files as the CDK app: every `${Placeholder}` in every file is
 * substituted, and every Task resource reaches a real handler or a supported service integration.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { STATE_MACHINES, placeholdersIn, stateMachineFile } from '../../lib/catalog';
import { loadConfigFile } from '../../lib/config';
import { Twin, substituteDefinition } from '../../lib/local/twin';

const SAMPLE = new URL('../../lib/config/samples/hello-world.json', import.meta.url).pathname;

function taskResources(states: Record<string, { Type: string; Resource?: string; Parameters?: { FunctionName?: string }; Branches?: unknown[] }>): Array<{ resource: string; functionName?: string }> {
  return Object.values(states)
    .filter((s) => s.Type === 'Task')
    .map((s) => ({ resource: s.Resource!, functionName: s.Parameters?.FunctionName }));
}

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
      const def = JSON.parse(described.definition ?? "{}") as { States: Parameters<typeof taskResources>[0] };
      for (const { resource, functionName } of taskResources(def.States)) {
        const target = functionName ?? resource;
        assert.ok(twin.lambda.resolve(target), `${target} is one of cutover's functions`);
      }
    });
  }

  it('fails naming a placeholder that has no value', () => {
    assert.throws(() => substituteDefinition('{"Resource":"${NopeFunctionArn}"}', {}), /NopeFunctionArn/);
  });
});
