/**
 * The input of a `deploy` execution — what the GitHub webhook handler sends, what the CodeCommit
 * EventBridge rule's input transformer sends, and what an operator types in the Step Functions console.
 *
 * Two shapes are accepted:
 *  1. explicit: `{ service, environment, release: { commit, ... }, trigger? }`
 *  2. CodeCommit (from the EventBridge rule): `{ codecommit: { repositoryName, referenceName, commitId, ... } }`
 *     — resolved to a service and environment through the config's repository and branch map.
 */
import * as z from 'zod/mini';
import { StrategySchema } from '../config/schema';

export const ReleaseSchema = z.strictObject({
  /** Git commit SHA (7-40 hex characters). */
  commit: z.string().check(z.regex(/^[0-9a-f]{7,40}$/, 'use the git commit SHA (7-40 lower-case hex characters)')),
  /** Full image reference to deploy. @default `<environment.imageRepository>:<commit>` */
  image: z.optional(z.string().check(z.minLength(1))),
  /**
   * Whether the release carries schema migrations. @default true when unknown (CodeCommit, console):
   * running an up-to-date migration command is a no-op, skipping a needed one is not.
   */
  migrations: z.optional(z.boolean()),
  /** Commit message's first line, for records and notifications. */
  message: z.optional(z.string().check(z.maxLength(1000))),
  /** The git ref pushed, e.g. `refs/heads/master`. */
  ref: z.optional(z.string().check(z.maxLength(255))),
  /**
   * ISO-8601 time of the commit (a push's `head_commit.timestamp`): where lead time for changes starts
   * (lib/domain/dora.ts). @default unknown (the release does not count in lead time)
   */
  committedAt: z.optional(z.string().check(z.refine((t) => !Number.isNaN(Date.parse(t)) && /^\d{4}-\d{2}-\d{2}T/.test(t), 'use an ISO-8601 time, e.g. "2026-12-05T10:00:00Z"'))),
});

export const TriggerSchema = z.strictObject({
  /**
   * What started the deployment: a push (`github-push`, `codecommit`), an operator (`console`, `cli`,
   * `retry` of a failed deployment), the `rollback` state machine redeploying the last known good
   * release, or a `promotion` of a release that succeeded in the environment it is promoted from
   * (`of` = that deployment).
   */
  source: z.enum(['github-push', 'codecommit', 'console', 'cli', 'retry', 'rollback', 'promotion']),
  /** Who: the pusher's login / the caller's ARN / the operator's name / `alarm:<name>`. */
  actor: z.optional(z.string().check(z.maxLength(255))),
  /** GitHub `X-GitHub-Delivery` id or EventBridge event id. */
  deliveryId: z.optional(z.string().check(z.maxLength(128))),
  /** A link for humans, e.g. the GitHub compare URL. */
  url: z.optional(z.string().check(z.maxLength(2048))),
  /** The deployment this one retries (`source: retry`) or rolls back (`source: rollback`). */
  of: z.optional(z.string().check(z.maxLength(128))),
  /** Why: an operator's reason, or the alarm's reason for a rollback. */
  reason: z.optional(z.string().check(z.maxLength(2000))),
});

export const ExplicitDeployInputSchema = z.strictObject({
  service: z.string().check(z.minLength(1, 'name the service to deploy (a key of "services" in the config)')),
  environment: z.string().check(z.minLength(1, 'name the environment (e.g. "production")')),
  release: ReleaseSchema,
  trigger: z.optional(TriggerSchema),
  /**
   * This deployment's traffic strategy instead of the environment's (same shape as the config's
   * `strategy`), e.g. `{"type":"all-at-once"}` for the rollback state machine's redeploy.
   * @default the environment's strategy
   */
  strategy: z.optional(StrategySchema),
  /**
   * Let this deployment through a closed change window or a freeze (lib/domain/change-window.ts), with
   * the reason recorded on its record and the audit timeline (`cutover deploy --override-window "<why>"`).
   * @default none: the environment's windows and freezes apply
   */
  promotionOverride: z.optional(
    /**
     * Deploy a release that did not succeed in the environment this one promotes from (`cutover
     * promote-release --force --reason`); recorded on the record and the audit timeline.
     * @default none: an environment with `promotion` accepts only releases that succeeded in `from`
     */
    z.strictObject({
      reason: z.string().check(z.minLength(3, 'give the reason the promotion rule is overridden (recorded)'), z.maxLength(500)),
      operator: z.optional(z.string().check(z.maxLength(255))),
    }),
  ),
  windowOverride: z.optional(
    z.strictObject({
      reason: z.string().check(z.minLength(3, 'give the reason the window is overridden (recorded)'), z.maxLength(500)),
      operator: z.optional(z.string().check(z.maxLength(255))),
    }),
  ),
});

export const CodeCommitDeployInputSchema = z.strictObject({
  codecommit: z.object({
    repositoryName: z.string().check(z.minLength(1)),
    /** Branch name (EventBridge `detail.referenceName`). */
    referenceName: z.string().check(z.minLength(1)),
    commitId: z.string().check(z.regex(/^[0-9a-f]{40}$/, 'a 40-character commit id')),
    callerUserArn: z.optional(z.string()),
    eventId: z.optional(z.string()),
  }),
});

export type Release = z.infer<typeof ReleaseSchema>;
export type Trigger = z.infer<typeof TriggerSchema>;
export type ExplicitDeployInput = z.infer<typeof ExplicitDeployInputSchema>;
export type CodeCommitDeployInput = z.infer<typeof CodeCommitDeployInputSchema>;
export type DeployInput = ExplicitDeployInput | CodeCommitDeployInput;
