/**
 * registerReleaseRevision against the SDK's own model of the two shapes it joins: DescribeTaskDefinition's
 * `TaskDefinition` and `RegisterTaskDefinitionRequest`. The member lists come from the SDK's runtime
 * schemas (`TaskDefinition$`, `RegisterTaskDefinitionRequest$`), so when an SDK upgrade adds a field
 * to either, this test fails until the field is copied or listed as read-only — no field is dropped
 * silently (as `enableFaultInjection` was) and no read-only one is sent.
 */
import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  RegisterTaskDefinitionRequest$,
  TaskDefinition$,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { ecsMock, resetSdkMocks } from '../helpers/sdk-mocks';
import { registerReleaseRevision } from '../../lib/aws/ecs';

/** Member names of an SDK structure schema (`[3, namespace, name, traits, memberNames, memberSchemas]`). */
const members = (schema: unknown): string[] => (schema as [number, string, string, number, string[]])[4];

const FROM = 'arn:aws:ecs:us-east-1:123456789012:task-definition/app:3';
/** ECS's read-only fields: described, never registered (RegisterTaskDefinition API reference). */
const READ_ONLY = ['taskDefinitionArn', 'revision', 'status', 'requiresAttributes', 'compatibilities', 'registeredAt', 'registeredBy', 'deregisteredAt', 'deleteRequestedAt'];

/** A described task definition with every member the SDK models set (a marker value where the type does not matter). */
function everyField(): TaskDefinition {
  const td: Record<string, unknown> = Object.fromEntries(members(TaskDefinition$).map((m) => [m, `marker:${m}`]));
  td.family = 'app';
  td.containerDefinitions = [{ name: 'web', image: 'repo/app:old' }];
  return td as TaskDefinition;
}

async function register(td: TaskDefinition, tags: Array<{ key?: string; value?: string }>) {
  ecsMock.on(DescribeTaskDefinitionCommand, { taskDefinition: FROM }).resolves({ taskDefinition: td, tags });
  ecsMock.on(DescribeTaskDefinitionCommand, { taskDefinition: 'app' }).resolves({ taskDefinition: td, tags });
  ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { ...td, taskDefinitionArn: `${FROM.slice(0, -1)}4` } });
  await registerReleaseRevision(FROM, 'web', 'repo/app@sha256:abc', 'run-1');
  return ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input as unknown as Record<string, unknown>;
}

describe('registerReleaseRevision and the SDK model', () => {
  beforeEach(() => resetSdkMocks());

  it('the SDK has a runtime schema for both shapes (else this test proves nothing)', () => {
    assert.ok(members(TaskDefinition$).includes('containerDefinitions'));
    assert.ok(members(RegisterTaskDefinitionRequest$).includes('family'));
  });

  it('sends every RegisterTaskDefinitionRequest member the description carries, and only those', async () => {
    const input = await register(everyField(), [{ key: 'team', value: 'web' }]);
    const accepted = members(RegisterTaskDefinitionRequest$);
    const sent = Object.keys(input).filter((k) => input[k] !== undefined);
    const notAccepted = sent.filter((k) => !accepted.includes(k));
    assert.deepEqual(notAccepted, [], `RegisterTaskDefinition does not take ${notAccepted.join(', ')}: list them as read-only in lib/aws/ecs.ts`);
    const dropped = accepted.filter((k) => !sent.includes(k));
    assert.deepEqual(dropped, [], `RegisterTaskDefinition takes ${dropped.join(', ')} but the revision does not carry it: copy it in lib/aws/ecs.ts`);
    for (const k of READ_ONLY) assert.ok(!(k in input), `${k} is read-only`);
  });

  it('every described member is either registrable or one of ECS’s read-only fields', () => {
    const accepted = members(RegisterTaskDefinitionRequest$);
    const unknown = members(TaskDefinition$).filter((m) => !accepted.includes(m) && !READ_ONLY.includes(m));
    assert.deepEqual(unknown, [], `new TaskDefinition member(s) ${unknown.join(', ')}: registrable or read-only?`);
  });

  it('drops tags whose key or value begins with aws: in any case (reserved: ECS rejects them), keeps the others', async () => {
    const input = await register(everyField(), [
      { key: 'team', value: 'web' },
      { key: 'aws:cloudformation:stack-name', value: 'app' },
      { key: 'AWS:Thing', value: 'x' },
      { key: 'source', value: 'aws:codepipeline' },
      { key: 'owner', value: 'AWS:team' },
      { key: 'note', value: 'made with aws: tools' },
    ]);
    assert.deepEqual(input.tags, [
      { key: 'team', value: 'web' },
      { key: 'note', value: 'made with aws: tools' },
      { key: 'cutover:deployment', value: 'run-1' },
    ]);
  });
});
