/**
 * The twin's ECS simulator refuses reserved tags on RegisterTaskDefinition as AWS documents it: a key
 * or a value beginning with `aws:` in any case (ECS API reference, Tag: "Do not use aws:, AWS:, or any
 * upper or lowercase combination of such as a prefix for either keys or values"). So the twin fails
 * where AWS would if registerReleaseRevision ever copied such a tag.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { ecsClient } from '../../lib/aws/clients';
import { loadConfigFile } from '../../lib/config';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';

const config = loadConfigFile(new URL('../fixtures/hello-world-production.json', import.meta.url).pathname);
let h: ConnectedSimulator;

const register = (key: string, value: string) =>
  ecsClient().send(new RegisterTaskDefinitionCommand({ family: 'hello-world-production', containerDefinitions: [{ name: 'app', image: 'x' }], tags: [{ key, value }] }));

describe('simulator: ECS reserved tags', () => {
  beforeEach(() => {
    h = connectSimulator({});
    h.sim.seedFromConfig(config);
  });
  afterEach(() => h.close());

  it('rejects a tag value beginning with aws: (any case), as it rejects such keys', async () => {
    for (const value of ['aws:codepipeline', 'AWS:team', 'Aws:x']) {
      await assert.rejects(register('source', value), (err: Error) => err.name === 'InvalidParameterException' && err.message.includes(value));
    }
    await assert.rejects(register('aws:cloudformation:stack-name', 'app'), (err: Error) => err.name === 'InvalidParameterException');
  });

  it('accepts aws: elsewhere than at the start', async () => {
    const out = await register('note', 'made with aws: tools');
    assert.ok(out.taskDefinition?.taskDefinitionArn);
  });
});
