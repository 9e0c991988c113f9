/**
 * Reads the GitHub webhook secret from Secrets Manager through Powertools Parameters (./secret-string),
 * cached in memory for {@link WEBHOOK_SECRET_MAX_AGE_SECONDS} so a burst of deliveries costs one
 * GetSecretValue.
 */
import { clearSecretCache, secretText } from './secret-string';

/** Seconds a fetched secret is reused before Secrets Manager is asked again. */
export const WEBHOOK_SECRET_MAX_AGE_SECONDS = 300;

/**
 * The webhook secret (the secret's `SecretString`, as typed in GitHub's webhook settings).
 * @param secretId secret ARN or name
 * @throws the SDK's exception when Secrets Manager fails (e.g. `ResourceNotFoundException`, unwrapped
 *   from Powertools' `GetParameterError`), or an `Error` when the secret is empty
 */
export async function getWebhookSecret(secretId: string): Promise<string> {
  const secret = await secretText(secretId, WEBHOOK_SECRET_MAX_AGE_SECONDS);
  if (!secret) throw new Error(`secret ${secretId} is empty: store the GitHub webhook secret as its SecretString`);
  return secret;
}

/** Forget the cached secret (tests; after a rotation). */
export function clearWebhookSecretCache(): void {
  clearSecretCache();
}
