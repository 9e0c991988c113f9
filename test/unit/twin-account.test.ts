/**
 * The twin account file (lib/local/live/account.ts): the sample validates; an initial release per
 * service; a bad field names its path and the fix.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT_DIR } from '../../lib/catalog';
import { ConfigError } from '../../lib/config/load';
import { initialReleaseOf, loadTwinAccountFile, parseTwinAccount } from '../../lib/local/live/account';

describe('twin account file', () => {
  it('the sample validates: both environments\' listeners, the approvers\' principals, one initial release for every service', () => {
    const { account } = loadTwinAccountFile(join(ROOT_DIR, 'lib/config/samples/hello-world.twin.json'));
    assert.equal(Object.keys(account.listenerPorts).length, 4);
    assert.equal(account.principals.local?.arn, 'arn:aws:sts::123456789012:assumed-role/release-managers/local');
    assert.equal(account.principals.bob?.secretAccessKey, 'local', 'the secret defaults to the one the twin CLI signs with');
    assert.equal(initialReleaseOf(account, 'hello-world'), account.initialRelease);
  });

  it('a service may have its own initial release; the others start the default one', () => {
    const account = parseTwinAccount({
      initialRelease: { imageTag: 'v1' },
      initialReleases: { billing: { imageTag: '2024.05.1', desiredCount: 3, environment: { DATABASE_URL: '${databaseUrl}' }, setupCommand: ['npm', 'run', 'migrate'] } },
    });
    assert.deepEqual(initialReleaseOf(account, 'billing'), { imageTag: '2024.05.1', desiredCount: 3, environment: { DATABASE_URL: '${databaseUrl}' }, setupCommand: ['npm', 'run', 'migrate'] });
    assert.deepEqual(initialReleaseOf(account, 'hello-world'), { imageTag: 'v1', desiredCount: 2, environment: {} });
    assert.deepEqual(initialReleaseOf(account, 'constructor'), account.initialRelease, 'no prototype key is a service');
  });

  it('a bad field names its path and the fix', () => {
    assert.throws(
      () => parseTwinAccount({ initialReleases: { Billing: { imageTag: 'v1' } } }, 'account.json'),
      (e: unknown) => e instanceof ConfigError && /account\.json is not valid:\n {2}- initialReleases\.Billing: use a service name of the cutover config/.test(e.message),
    );
    assert.throws(
      () => parseTwinAccount({ initialReleases: { billing: { desiredCount: 0 } } }, 'account.json'),
      (e: unknown) => e instanceof ConfigError && /initialReleases\.billing\.desiredCount: use 1-20/.test(e.message),
    );
  });
});
