/**
 * Contract: Secrets Manager GetSecretValue as cutover calls it (lib/aws/webhook-secret.ts, through
 * Powertools' SecretsProvider over the factory's client) — on moto and on the twin's simulator.
 */
import { beforeEach, it } from 'node:test';
import assert from 'node:assert/strict';
import { GetSecretValueCommand, ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import { secretsManagerClient } from '../../lib/aws/clients';
import { clearWebhookSecretCache, getWebhookSecret } from '../../lib/aws/webhook-secret';
import { ACCOUNT, REGION } from './support/backends';
import { contract, rejectsWith } from './support/suite';

contract('Secrets Manager (lib/aws/webhook-secret.ts)', (ctx) => {
  beforeEach(() => clearWebhookSecretCache());

  it('GetSecretValue: the webhook secret, by name and by ARN', async () => {
    assert.equal(await getWebhookSecret(ctx.fx.secretId), ctx.fx.secretValue);
    const out = await secretsManagerClient().send(new GetSecretValueCommand({ SecretId: ctx.fx.secretId }));
    assert.equal(out.Name, ctx.fx.secretId);
    assert.equal(out.SecretString, ctx.fx.secretValue);
    assert.match(out.ARN ?? '', new RegExp(`^arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${ctx.fx.secretId}-[A-Za-z0-9]{6}$`));
    assert.deepEqual(out.VersionStages, ['AWSCURRENT']);
    assert.equal(typeof out.VersionId, 'string');
    clearWebhookSecretCache();
    assert.equal(await getWebhookSecret(out.ARN!), ctx.fx.secretValue);
  });

  it('GetSecretValue: an unknown secret is ResourceNotFoundException (the adapter unwraps Powertools\' error)', async () => {
    await rejectsWith(getWebhookSecret('contract/no-such-secret'), 'ResourceNotFoundException', ResourceNotFoundException);
  });
});
