/**
 * A secret's value from Secrets Manager through Powertools Parameters, cached in memory for a caller's
 * `maxAge` (a burst of invocations costs one GetSecretValue). Shared by the webhook secret and the
 * GitHub token readers.
 *
 * `getSecret()` from `@aws-lambda-powertools/parameters/secrets` (2.35) always builds its own default
 * client, so this module uses a `SecretsProvider` over the factory's client instead (which the local
 * twin can point elsewhere). A new provider (empty cache) is made whenever the factory's client changes.
 */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManagerClient } from './clients';

let provider: SecretsProvider | undefined;
let providerClient: SecretsManagerClient | undefined;

/**
 * The secret's current value as text (`SecretString`, or `SecretBinary` decoded as UTF-8); `''` when
 * it has none.
 * @param secretId secret ARN or name
 * @param maxAgeSeconds how long a fetched value is reused
 * @throws the SDK's own exception when Secrets Manager fails (e.g. `ResourceNotFoundException`,
 *   `ThrottlingException`), unwrapped from Powertools' `GetParameterError`
 */
export async function secretText(secretId: string, maxAgeSeconds: number): Promise<string> {
  const client = secretsManagerClient();
  if (!provider || providerClient !== client) {
    provider = new SecretsProvider({ awsSdkV3Client: client });
    providerClient = client;
  }
  let value: string | Uint8Array | undefined;
  try {
    value = await provider.get(secretId, { maxAge: maxAgeSeconds });
  } catch (err) {
    // Powertools wraps the SDK's exception in a GetParameterError; callers want the SDK's own.
    throw err instanceof Error && err.cause instanceof Error ? err.cause : err;
  }
  return value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : (value ?? '');
}

/** Forget every cached secret value (tests; after a rotation). */
export function clearSecretCache(): void {
  provider?.clearCache();
}
