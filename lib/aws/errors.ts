/**
 * Classifying SDK errors with the SDK's own rules (@smithy/core/retry: throttling, transient,
 * server errors) so handlers can hand retryable failures back to Step Functions as
 * `Cutover.Transient`, which every AWS-touching task retries with backoff; and naming the call that
 * failed, so a failure's cause says what cutover was doing ("Service not found." alone does not).
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

/** An error from the SDK: a service exception (`$metadata` / `$fault`) or a client-side one (`TimeoutError`, ...). */
function isSdkError(err: unknown): err is Error {
  return err instanceof Error && ('$metadata' in err || '$fault' in err || isRetryableAwsError(err));
}

/**
 * Wrap an async AWS-calling function:
 * - retryable SDK errors become {@link TransientAwsError}, message `<what>: <name>: <message>`
 *   (`<name>: <message>` without `what`);
 * - other SDK errors are rethrown as they are — same object and class, so callers' `instanceof`
 *   checks keep working — with `<what> failed: <name>: ` put before their message (unchanged without
 *   `what`), so the cause a state machine records names the call: `ECS UpdateService hello-world-green
 *   (cluster hello-world) failed: ServiceNotFoundException: Service not found.`;
 * - anything else (a bug, a validation error of ours) is rethrown unchanged.
 * @param what the call and what it was about, e.g. `ECS UpdateService hello-world-green (cluster hello-world)`
 * @throws TransientAwsError, or the SDK error
 */
export async function withRetryClassification<T>(fn: () => Promise<T>, what?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isRetryableAwsError(err)) {
      const e = err as Error;
      throw new TransientAwsError(`${what ? `${what}: ` : ''}${e.name}: ${e.message}`);
    }
    if (what && isSdkError(err) && !err.message.startsWith(`${what} failed: `)) {
      err.message = `${what} failed: ${err.name}: ${err.message}`;
    }
    throw err;
  }
}
