/**
 * The input of a `rollback` execution — what the alarm function sends for an alarm after a promotion,
 * what `cutover rollback` sends, and what an operator types in the Step Functions console:
 *
 *   { "service": "hello-world", "environment": "production", "reason": "5xx after the release",
 *     "toDeployment": "<deployment id>", "trigger": { "source": "cli", "actor": "alice" } }
 */
import * as z from 'zod/mini';

export const RollbackInputSchema = z.strictObject({
  /** A key of `services` in the config. */
  service: z.string().check(z.minLength(1, 'name the service to roll back (a key of "services" in the config)')),
  /** An environment of that service. */
  environment: z.string().check(z.minLength(1, 'name the environment (e.g. "production")')),
  /** Why: recorded on the rollback record, the audit timeline and the notification. */
  reason: z.string().check(z.trim(), z.minLength(1, 'say why you roll back (it is recorded and notified)'), z.maxLength(2000)),
  /**
   * The deployment (id = its execution name) whose release to go back to; it must have succeeded.
   * @default the release the kept slot runs (inside the rollback window), else the last succeeded
   *   deployment before the live one that was not rolled back
   */
  toDeployment: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  trigger: z.optional(
    z.strictObject({
      /** `alarm` (the alarm function), `cli`, `console`. */
      source: z.enum(['alarm', 'cli', 'console']),
      /** The operator, or `alarm:<alarm name>`. */
      actor: z.optional(z.string().check(z.maxLength(255))),
      /** The EventBridge event id of the alarm state change. */
      deliveryId: z.optional(z.string().check(z.maxLength(128))),
    }),
  ),
});

export type RollbackInput = z.infer<typeof RollbackInputSchema>;
