/**
 * The one observability module shared by every Lambda handler: a Powertools logger that writes one
 * JSON object per line (`service: cutover`). Level from `POWERTOOLS_LOG_LEVEL` (default INFO).
 * Handlers add per-invocation keys with `logger.appendKeys(...)` / `logger.resetKeys()`.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: 'cutover' });

/** Add keys to every log line from now on (e.g. the function's name at module scope). */
export function addPersistentKeys(keys: Record<string, unknown>): void {
  logger.appendPersistentKeys(keys);
}
