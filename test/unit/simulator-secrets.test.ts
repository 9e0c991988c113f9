import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
} from '@aws-sdk/client-secrets-manager';
import { secretsManagerClient } from '../../lib/aws/clients';
import { loadConfigFile } from '../../lib/config';
import { connectSimulator, type ConnectedSimulator } from '../../lib/local/simulator/harness';

const SAMPLE = new URL('../fixtures/hello-world-production.json', import.meta.url).pathname;
let h: ConnectedSimulator;

describe('simulator: Secrets Manager', () => {
  beforeEach(() => {
    h = connectSimulator();
  });
  afterEach(() => h.close());

  it('seeds the webhook secret only when asked', async () => {
    h.sim.seedFromConfig(loadConfigFile(SAMPLE));
    await assert.rejects(
      secretsManagerClient().send(new GetSecretValueCommand({ SecretId: 'cutover/github-webhook-secret' })),
      ResourceNotFoundException,
    );

    h.close();
    h = connectSimulator();
    h.sim.seedFromConfig(loadConfigFile(SAMPLE), { webhookSecret: 'It\'s a Secret to Everybody' });
    const out = await secretsManagerClient().send(new GetSecretValueCommand({ SecretId: 'cutover/github-webhook-secret' }));

    assert.equal(out.SecretString, "It's a Secret to Everybody");
  });

  it('creates, reads by name or ARN, and versions secrets with AWSCURRENT / AWSPREVIOUS', async () => {
    const created = await secretsManagerClient().send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
    const put = await secretsManagerClient().send(new PutSecretValueCommand({ SecretId: created.ARN, SecretString: 'two' }));

    const current = await secretsManagerClient().send(new GetSecretValueCommand({ SecretId: 'app/db' }));
    const previous = await secretsManagerClient().send(new GetSecretValueCommand({ SecretId: created.ARN, VersionStage: 'AWSPREVIOUS' }));

    assert.match(created.ARN!, /^arn:aws:secretsmanager:us-east-1:123456789012:secret:app\/db-[a-z0-9]{6}$/);
    assert.deepEqual(put.VersionStages, ['AWSCURRENT']);
    assert.equal(current.SecretString, 'two');
    assert.equal(current.VersionId, put.VersionId);
    assert.equal(previous.SecretString, 'one');
    await assert.rejects(secretsManagerClient().send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'x' })), ResourceExistsException);
    await assert.rejects(secretsManagerClient().send(new PutSecretValueCommand({ SecretId: 'app/db' })), /either SecretString or SecretBinary/);
  });
});
