/**
 * Classifying SDK errors with the SDK's own rules (@smithy/core/retry: throttling, transient,
 * server errors) so handlers can hand retryable failures back to Step Functions as
 * `Cutover.Transient`, which every AWS-touching task retries with backoff.
 */
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { TransientAwsError } from '../domain/errors';

/** True for throttling (`ThrottlingException`, `Throttling`, `TooManyRequestsException`, ...), transient and 5xx errors. */
export function isRetryableAwsError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Parameters<typeof isThrottlingError>[0];
  try {
    return isThrottlingError(e) || isTransientError(e) || isServerError(e);
  } catch {
    return false;
  }
}

/**
 * Wrap an async AWS-calling function: retryable SDK errors become {@link TransientAwsError}
 * (message keeps the original name and text); everything else is rethrown unchanged.
 */
export async function withRetryClassification<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isRetryableAwsError(err)) {
      const e = err as Error;
      throw new TransientAwsError(`${e.name}: ${e.message}`);
    }
    throw err;
  }
}
