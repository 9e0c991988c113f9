/**
 * Reads the GitHub webhook secret from Secrets Manager through Powertools Parameters, cached in memory
 * for {@link WEBHOOK_SECRET_MAX_AGE_SECONDS} so a burst of deliveries costs one GetSecretValue.
 *
 * `getSecret()` from `@aws-lambda-powertools/parameters/secrets` (2.35) always builds its own default
 * client, so this module uses a `SecretsProvider` over the factory's client instead (which the local
 * twin can point elsewhere). A new provider (empty cache) is made whenever the factory's client changes.
 */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManagerClient } from './clients';

/** Seconds a fetched secret is reused before Secrets Manager is asked again. */
export const WEBHOOK_SECRET_MAX_AGE_SECONDS = 300;

let provider: SecretsProvider | undefined;
let providerClient: SecretsManagerClient | undefined;

/**
 * The webhook secret (the secret's `SecretString`, as typed in GitHub's webhook settings).
 * @param secretId secret ARN or name
 * @throws the SDK's exception when Secrets Manager fails (e.g. `ResourceNotFoundException`, unwrapped
 *   from Powertools' `GetParameterError`), or an `Error` when the secret is empty
 */
export async function getWebhookSecret(secretId: string): Promise<string> {
  const client = secretsManagerClient();
  if (!provider || providerClient !== client) {
    provider = new SecretsProvider({ awsSdkV3Client: client });
    providerClient = client;
  }
  let value: string | Uint8Array | undefined;
  try {
    value = await provider.get(secretId, { maxAge: WEBHOOK_SECRET_MAX_AGE_SECONDS });
  } catch (err) {
    // Powertools wraps the SDK's exception in a GetParameterError; callers want the SDK's own.
    throw err instanceof Error && err.cause instanceof Error ? err.cause : err;
  }
  const secret = value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value;
  if (!secret) throw new Error(`secret ${secretId} is empty: store the GitHub webhook secret as its SecretString`);
  return secret;
}

/** Forget the cached secret (tests; after a rotation). */
export function clearWebhookSecretCache(): void {
  provider?.clearCache();
}
