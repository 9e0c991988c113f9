/**
 * The cutover configuration: which services it deploys, from which repositories and branches, into
 * which ECS / ELB / RDS resources, with which traffic strategy and database policy.
 *
 * The schema is zod (v4) in its `zod/mini` form, whose functions tree-shake: the handlers that read the
 * config carry only what they use (the full zod build was most of every Lambda bundle). {@link parseConfig} turns any zod issue into a {@link ConfigError} whose
 * message names the path of the bad field and how to fix it. The same schema is used by the CDK app at
 * synth time, by the Lambda handlers at run time (config is a file in their bundle, `CUTOVER_CONFIG_FILE`) and by
 * the local twin at start.
 */
import * as z from 'zod/mini';
import { APPROVER_FORMS, arnPartitionAndAccount, parseApprover } from '../domain/approvers';
import { NAME_PATTERN } from '../domain/names';
import { isKnownTimeZone, isWallClockTime, parseInstant, WEEKDAYS } from '../domain/change-window';

/** Name of a service, an environment or a slot: used in ARNs, DynamoDB keys and execution names. */
const identifier = z.string().check(z.regex(NAME_PATTERN, 'use 1-40 lower-case letters, digits or "-", starting with a letter'));

const arn = (service: string, resource: string) =>
  z.string().check(
    z.regex(new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:${resource}`), `expected an ARN of the form arn:aws:${service}:<region>:<account>:${resource}...`),
  );

/** ELBv2 target group ARN (`arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>`). */
export const targetGroupArn = arn('elasticloadbalancing', 'targetgroup/[^/]+/[0-9a-f]+$');
/** ELBv2 listener ARN (`...:listener/app/<lb>/<lb-id>/<listener-id>`). */
export const listenerArn = arn('elasticloadbalancing', 'listener/app/[^/]+/[0-9a-f]+/[0-9a-f]+$');
/** ELBv2 listener rule ARN (`...:listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>`). */
export const listenerRuleArn = arn('elasticloadbalancing', 'listener-rule/app/[^/]+/[0-9a-f]+/[0-9a-f]+/[0-9a-f]+$');

/** A whole number (`int` names the fix) within bounds. */
const wholeNumber = (what: string, ...checks: Parameters<ReturnType<typeof z.number>['check']>) => z.number().check(z.refine((n) => Number.isInteger(n), `use a whole number of ${what}`), ...checks);
const percent = wholeNumber('percent', z.gte(1, 'use 1-100'), z.lte(100, 'use 1-100'));
const bakeSeconds = wholeNumber('seconds', z.gte(0, 'use 0 or more seconds'), z.lte(86_400, 'use at most 86400 seconds (24 h); longer bakes belong to an approval gate'));

/** One ECS service and the target group its tasks register with. */
export const SlotSchema = z.strictObject({
  /** ECS service name (not ARN) inside the environment's cluster. */
  service: z.string().check(z.minLength(1), z.maxLength(255)),
  /** Target group the service's tasks are registered in. */
  targetGroupArn,
});

/**
 * Where production traffic is switched: the default action of a listener, or one listener rule.
 * Exactly one of the two must be given.
 */
export const TrafficRouteSchema = z.union([
  z.strictObject({ listenerArn }),
  z.strictObject({ ruleArn: listenerRuleArn }),
]);

/**
 * How traffic moves from the live slot to the new release. Percentages are 0-100 of production
 * traffic on the new release; bake times are in seconds, watched by the environment's alarms.
 * In the state machine a bake is one callback wait of exactly `bakeSeconds`: an alarm going to ALARM
 * ends it at once (the `alarm` function fails its task token), and the end of the bake checks the
 * alarms once more.
 */
export const StrategySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('all-at-once'), bakeSeconds: z._default(bakeSeconds, 0) }),
  z.strictObject({ type: z.literal('canary'), percent: percent.check(z.lte(99, 'a canary sends 1-99 percent')), bakeSeconds }),
  z.strictObject({ type: z.literal('linear'), stepPercent: percent, stepBakeSeconds: bakeSeconds }),
  z.strictObject({
    type: z.literal('steps'),
    steps: z.array(z.strictObject({ percent, bakeSeconds })).check(
      z.minLength(1, 'give at least one step'),
      z.maxLength(20, 'use at most 20 steps'),
      z.refine((steps) => steps.every((s, i) => i === 0 || s.percent > steps[i - 1]!.percent), 'step percentages must increase'),
      z.refine((steps) => steps.length === 0 || steps[steps.length - 1]!.percent === 100, 'the last step must be percent 100'),
    ),
  }),
]);


export const DatabaseSchema = z
  .strictObject({
    /** Identifier of an RDS for PostgreSQL DB instance. Give this or `clusterIdentifier`. */
    instanceIdentifier: z.optional(z.string().check(z.regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, 'an RDS DB instance identifier'))),
    /** Identifier of an Aurora PostgreSQL DB cluster. Give this or `instanceIdentifier`. */
    clusterIdentifier: z.optional(z.string().check(z.regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, 'an Aurora DB cluster identifier'))),
    migration: z.strictObject({
      /** Command (exec form) run as a one-off ECS task of the new image, e.g. `["npm","run","migrate"]`. */
      command: z.array(z.string().check(z.minLength(1))).check(z.minLength(1, 'give the command as an array, e.g. ["npm","run","migrate"]')),
      /**
       * When the migration command runs: `always` (every release; migration tools apply only pending
       * migrations, and a push's diff cannot tell what is pending in the database — e.g. after a
       * restore) or `when-changed` (only when a push changes a file under `paths`; CodeCommit and
       * console deployments, whose changes are unknown, still run it).
       * @default 'always'
       */
      run: z._default(z.enum(['always', 'when-changed']), 'always'),
      /**
       * Path prefixes whose change in a push marks the release as carrying migrations (`run: when-changed`).
       * @default ["migrations/"]
       */
      paths: z._default(z.array(z.string().check(z.minLength(1))).check(z.minLength(1)), ['migrations/']),
      /**
       * Seconds the migration task may run before it is stopped and treated as failed.
       * @default 1800
       */
      timeoutSeconds: z._default(wholeNumber('seconds', z.gte(30), z.lte(86_400)), 1800),
    }),
    /**
     * When to snapshot: `before-migrations` (whenever the migration command runs),
     * `always` (every release), `never` (no snapshot; `restore` policy then cannot be used).
     * @default 'before-migrations'
     */
    snapshot: z._default(z.enum(['before-migrations', 'always', 'never']), 'before-migrations'),
  })
  .check(
    z.refine((d) => (d.instanceIdentifier === undefined) !== (d.clusterIdentifier === undefined), {
      error: 'give exactly one of instanceIdentifier (RDS instance) or clusterIdentifier (Aurora cluster)',
    }),
  );

/** A weekly change window (lib/domain/change-window.ts): on `days`, from `start` to `end` wall-clock time in `timezone`. */
export const ChangeWindowSchema = z.strictObject({
  /** Days the window opens, e.g. ["mon","tue","wed","thu"]. */
  days: z.array(z.enum(WEEKDAYS)).check(z.minLength(1, 'name at least one day: mon, tue, wed, thu, fri, sat, sun')),
  /** Opening time, 24-hour `HH:mm` in `timezone`, e.g. "09:00". */
  start: z.string().check(z.refine(isWallClockTime, 'use 24-hour HH:mm, e.g. "09:00"')),
  /** Closing time, `HH:mm`; at or before `start` means the next day (e.g. 22:00-02:00). */
  end: z.string().check(z.refine(isWallClockTime, 'use 24-hour HH:mm, e.g. "17:00"')),
  /** IANA time zone of `start` and `end`, e.g. "Europe/Berlin" (DST follows the zone). */
  timezone: z.string().check(z.refine(isKnownTimeZone, 'use an IANA time zone name such as "Europe/Berlin", "America/New_York" or "UTC"')),
}).check(z.refine((w) => w.start !== w.end, { error: 'start and end are the same: a window needs a length', path: ['end'] }));

const instant = (what: string) => z.string().check(z.refine((t) => parseInstant(t) !== null, `use an ISO-8601 time with an offset for ${what}, e.g. "2026-12-21T00:00:00+01:00" or "2026-12-20T23:00:00Z"`));

/** A freeze: no deployment starts changing the environment in `[from, until)`. Rollbacks are never frozen. */
export const FreezeSchema = z.strictObject({
  from: instant('from'),
  until: instant('until'),
  /** Why (shown to whoever is refused or waits), e.g. "end-of-year freeze". */
  reason: z.string().check(z.minLength(1, 'give the reason people will see'), z.maxLength(500)),
}).check(z.refine((f) => (parseInstant(f.from)?.toMillis() ?? 0) < (parseInstant(f.until)?.toMillis() ?? 0), { error: 'until must be after from', path: ['until'] }));

export const EnvironmentSchema = z
  .strictObject({
    /** ECS cluster name. */
    cluster: z.string().check(z.minLength(1), z.maxLength(255)),
    /** The two slots of blue/green. Either can be live; cutover discovers which from listener weights. */
    slots: z.strictObject({ blue: SlotSchema, green: SlotSchema }),
    /** Name of the container in the task definition whose image a release replaces. */
    containerName: z.string().check(z.minLength(1)),
    /** Image repository (ECR URI without tag); a release's image is `<imageRepository>:<commit>`. */
    imageRepository: z.string().check(z.minLength(1)),
    /** Production listener or listener rule whose forward weights cutover shifts. */
    production: TrafficRouteSchema,
    /** Optional test listener or rule, pointed at the new release for smoke tests before any traffic. */
    test: z.optional(TrafficRouteSchema),
    /** CloudWatch alarm names watched while baking; any in ALARM rolls the deployment back. */
    alarms: z._default(z.array(z.string().check(z.minLength(1), z.maxLength(255))).check(z.maxLength(100)), []),
    strategy: StrategySchema,
    /**
     * Seconds the new release may take to become stable (all tasks running, one deployment).
     * @default 600
     */
    stabilizationTimeoutSeconds: z._default(wholeNumber('seconds', z.gte(30), z.lte(7200)), 600),
    database: z.optional(DatabaseSchema),
    /**
     * What happens to the database when a deployment fails after its migrations ran:
     * `restore` restores the pre-migration snapshot automatically (discards writes made since; for
     * dev/staging), `approve` waits for an operator who is shown the data-loss window, `keep` leaves the
     * schema and data as they are.
     * @default 'keep'
     */
    databaseFailurePolicy: z._default(z.enum(['restore', 'approve', 'keep']), 'keep'),
    /**
     * Seconds the previous release keeps running in its slot after a promotion. Inside the window an
     * alarm (or an operator's rollback) flips production traffic back to it at once; when it ends the
     * slot is scaled down to 0 tasks. 0 scales it down right after the promotion.
     * @default 1800 (30 minutes)
     */
    rollbackWindowSeconds: z._default(wholeNumber('seconds', z.gte(0, 'use 0 or more seconds'), z.lte(604_800, 'use at most 604800 seconds (7 days)')), 1800),
    /**
     * What an alarm going to ALARM does when no deployment runs and the rollback window is over:
     * `notify` publishes a notification naming the alarm and the `cutover rollback` command (an
     * alarm hours after a release is often not the release's fault, and redeploying an old release
     * over newer migrations can hurt), `redeploy` starts the rollback state machine, which redeploys
     * the last known good release. Never for a live release that is itself a rollback's redeploy.
     * @default 'notify'
     */
    alarmAfterWindow: z._default(z.enum(['notify', 'redeploy']), 'notify'),
    /**
     * Where a deployment waits for an operator's approval: `before-traffic` (the new release is up and
     * stable, on the test listener if any, before any production traffic), `before-promote` (before
     * the step that takes it to 100%, after the earlier steps baked), or `none`.
     * @default 'none'
     */
    approval: z._default(z.enum(['none', 'before-traffic', 'before-promote']), 'none'),
    /**
     * Seconds an approval waits for an answer; without one the deployment is rolled back
     * (`Cutover.ApprovalTimedOut`).
     * @default 86400 (24 h)
     */
    approvalTimeoutSeconds: z._default(wholeNumber('seconds', z.gte(60, 'use at least 60 seconds'), z.lte(604_800, 'use at most 604800 seconds (7 days)')), 86_400),
    /**
     * Who may approve this environment's approval gate: IAM role names (any session of the role in
     * the environment's account; `*` matches any characters, e.g. `AWSReservedSSO_ReleaseManagers_*`),
     * role ARNs, user ARNs or assumed-role session ARNs (lib/domain/approvers.ts). Enforced server-side:
     * `cutover approve` goes through the approval function (a function URL with AWS_IAM auth), which
     * refuses any other caller, and the deployment checks the approval came through it
     * (`VerifyApproval`). Needs `approval` other than `none`.
     * @default anyone allowed (by IAM) to call the approval function
     */
    approvers: z.optional(
      z
        .array(
          z.string().check(
            z.refine((e) => parseApprover(e, '000000000000') !== undefined, { error: (i) => `"${String(i.input)}" is not an approver: ${APPROVER_FORMS}` }),
          ),
        )
        .check(z.minLength(1, 'name at least one approver, or leave approvers out'), z.maxLength(50, 'name at most 50 approvers (use a role for a group)')),
    ),
    /**
     * Seconds a deployment waits for its image (`<imageRepository>:<commit>`) to appear in ECR after
     * it took the lock (CI may still be building it); then it fails with `Cutover.ImageNotFound`,
     * having changed nothing. The wait ends as soon as ECR reports the push (EventBridge).
     * @default 3600 (1 h)
     */
    imageTimeoutSeconds: z._default(wholeNumber('seconds', z.gte(60, 'use at least 60 seconds'), z.lte(86_400, 'use at most 86400 seconds (24 h)')), 3600),
    /**
     * The scan gate: the release's image must have an ECR scan result (basic scanning, or Amazon
     * Inspector enhanced scanning — whichever the registry uses) with no finding above `maxSeverity`,
     * or the deployment is refused before anything changes (`Cutover.ScanRefused`, with the counts and
     * the worst CVE ids). It waits up to `waitSeconds` for the scan to complete (ended by ECR's "ECR
     * Image Scan" / Inspector's "Inspector2 Scan" event); no result by then refuses (`Cutover.ScanNotComplete`).
     * @default no scan gate
     */
    scan: z.optional(
      z.strictObject({
        /** The highest severity a release may carry: INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL (CRITICAL lets every finding through). */
        maxSeverity: z.enum(['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL']),
        /** @default 600 */
        waitSeconds: z._default(wholeNumber('seconds', z.gte(60, 'use at least 60 seconds'), z.lte(86_400, 'use at most 86400 seconds (24 h)')), 600),
      }),
    ),
    /**
     * Verification of the new release before any production traffic, and again after promotion.
     * `http`: requests sent through the environment's **test** listener (required) to the new release;
     * each must answer `expectStatus` (and contain `expectBodyContains`) within `timeoutSeconds`,
     * retried up to `attempts` times `intervalSeconds` apart. `command`: a one-off ECS task of the new
     * image (in the migration task's network, inside the VPC) run with `CUTOVER_TEST_URL` set to the
     * test listener's URL; exit code 0 passes. A failed check rolls back before production traffic
     * moves (`Cutover.VerifyFailed`, with the check, the status and the body's first 200 bytes).
     * After promotion (`afterPromotion`) the HTTP checks run again through the production listener.
     * @default no verification
     */
    /**
     * Weekly change windows (lib/domain/change-window.ts): a deployment starts changing the environment
     * (after its gates) only inside one of them. Rollbacks are never held by a window.
     * @default no windows (always open, except in freezes)
     */
    windows: z._default(z.array(ChangeWindowSchema).check(z.maxLength(20, 'use at most 20 windows')), []),
    /**
     * Freezes: absolute periods in which no deployment starts changing the environment, even inside a
     * window. Rollbacks are never frozen.
     * @default no freezes
     */
    freezes: z._default(z.array(FreezeSchema).check(z.maxLength(50, 'use at most 50 freezes; remove the ones that ended')), []),
    /**
     * A deployment that is ready outside its windows or in a freeze: `wait` (until the next opening;
     * `cutover status` says until when; `cutover override-window` lets it go now, with a reason) or
     * `refuse` (it fails with `Cutover.OutsideChangeWindow` / `Cutover.ChangeFrozen`, having changed nothing).
     * @default 'wait'
     */
    outsideWindow: z._default(z.enum(['wait', 'refuse']), 'wait'),
    /**
     * Promotion through environments: this environment deploys releases that succeeded in `from` — the
     * same commit, image digest and migrations. When a deployment in `from` succeeds and stays healthy
     * for `soakSeconds` (its record still succeeded, none of its alarms in ALARM), cutover starts the
     * deployment here (`auto: true`) or offers it (`auto: false`: a notification names `cutover
     * promote-release <service> <environment>`). This environment then accepts only releases that
     * succeeded in `from` (`cutover promote-release --force --reason` overrides, recorded).
     * @default no promotion: deployments come from branch pushes, the console and the CLI
     */
    promotion: z.optional(
      z.strictObject({
        /** The environment releases come from, e.g. "staging". */
        from: identifier,
        /** Start the promoted deployment by itself (true) or offer it to an operator (false). @default false */
        auto: z._default(z.boolean(), false),
        /** Seconds the release must stay healthy in `from` after its success before it is promoted or offered. @default 0 */
        soakSeconds: z._default(wholeNumber('seconds', z.gte(0, 'use 0 or more seconds'), z.lte(604_800, 'use at most 604800 seconds (7 days)')), 0),
      }),
    ),
    verify: z.optional(
      z
        .strictObject({
          http: z._default(
            z
              .array(
                z.strictObject({
                  /** Path (and query) requested, e.g. `/health`; must start with `/`. */
                  path: z.string().check(z.regex(/^\/\S*$/, 'use a path that starts with "/", e.g. "/health"'), z.maxLength(2048)),
                  /** HTTP status the release must answer. @default 200 */
                  expectStatus: z._default(wholeNumber('status code', z.gte(100, 'use an HTTP status code 100-599'), z.lte(599, 'use an HTTP status code 100-599')), 200),
                  /** Text the body must contain (case-sensitive). @default no body check */
                  expectBodyContains: z.optional(z.string().check(z.minLength(1), z.maxLength(1024))),
                  /** Seconds one request may take. @default 10 */
                  timeoutSeconds: z._default(wholeNumber('seconds', z.gte(1, 'use 1-60 seconds'), z.lte(60, 'use 1-60 seconds')), 10),
                }),
              )
              .check(z.maxLength(20, 'use at most 20 HTTP checks')),
            [],
          ),
          /** Command (exec form) run as a one-off ECS task of the new image with CUTOVER_TEST_URL set, e.g. ["npm","run","smoke"]. @default no command */
          command: z.optional(z.array(z.string().check(z.minLength(1))).check(z.minLength(1, 'give the command as an array, e.g. ["npm","run","smoke"]'))),
          /** Seconds the command task may run before it is stopped and counted as failed. @default 600 */
          commandTimeoutSeconds: z._default(wholeNumber('seconds', z.gte(30), z.lte(3600)), 600),
          /** Tries per HTTP check before it fails (a new release may need a moment). @default 3 */
          attempts: z._default(wholeNumber('attempts', z.gte(1, 'use 1-10 attempts'), z.lte(10, 'use 1-10 attempts')), 3),
          /** Seconds between two tries of a check. @default 5 */
          intervalSeconds: z._default(wholeNumber('seconds', z.gte(1, 'use 1-60 seconds'), z.lte(60, 'use 1-60 seconds')), 5),
          /** Run the HTTP checks again through the production listener after promotion (post-deployment verification); a failure there rolls back like an alarm. @default true */
          afterPromotion: z._default(z.boolean(), true),
        })
        .check(z.refine((v) => v.http.length > 0 || v.command !== undefined, 'give http checks, a command, or both')),
    ),
  })
  .check(
    z.refine((e) => e.verify === undefined || e.test !== undefined, {
      error: 'verify needs a test listener: add "test" (a listener or rule that reaches the new release before production traffic)',
      path: ['verify'],
    }),
    z.refine((e) => e.slots.blue.service !== e.slots.green.service, { error: 'blue and green must be different ECS services', path: ['slots', 'green', 'service'] }),
    z.refine((e) => e.slots.blue.targetGroupArn !== e.slots.green.targetGroupArn, { error: 'blue and green must use different target groups', path: ['slots', 'green', 'targetGroupArn'] }),
    z.refine((e) => !(e.databaseFailurePolicy === 'restore' && e.database?.snapshot === 'never'), {
      error: 'databaseFailurePolicy "restore" needs a snapshot: set database.snapshot to "before-migrations" or "always"',
      path: ['databaseFailurePolicy'],
    }),
  );

export const RepositorySchema = z.union([
  z.strictObject({
    /** GitHub repository `owner/name`, as in the push payload's `repository.full_name`. */
    github: z.string().check(z.regex(/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/, 'use the GitHub "owner/name" form')),
  }),
  z.strictObject({
    /** AWS CodeCommit repository name. */
    codecommit: z.string().check(z.regex(/^[\w.-]{1,100}$/, 'a CodeCommit repository name')),
  }),
]);

export const ServiceSchema = z
  .strictObject({
    repository: RepositorySchema,
    /** Branch name (without `refs/heads/`) → environment name. */
    branches: z.record(z.string().check(z.minLength(1)), identifier),
    environments: z.record(identifier, EnvironmentSchema),
    /**
     * GitHub API access for this service's repository: reading check runs and commit statuses (the
     * `checks` gate) and reporting GitHub Deployments. The token (a fine-grained token or a GitHub App
     * installation token with Checks: read, Commit statuses: read, Deployments: write) is the
     * SecretString of a Secrets Manager secret, read at run time and never put in the config.
     * @default no GitHub API access (no checks gate, no GitHub Deployments)
     */
    github: z.optional(
      z.strictObject({
        /** Secrets Manager secret ARN whose SecretString is the token. */
        tokenSecretArn: arn('secretsmanager', 'secret:[A-Za-z0-9/_+=.@-]+$'),
        /** REST API base URL (GitHub Enterprise Server: `https://<host>/api/v3`). @default 'https://api.github.com' */
        apiUrl: z._default(z.string().check(z.regex(/^https?:\/\/[^\s]+$/, 'use an http(s) URL, e.g. https://api.github.com')), 'https://api.github.com'),
        /** Report each deployment as a GitHub Deployment with statuses. @default true */
        deployments: z._default(z.boolean(), true),
      }),
    ),
    /**
     * The checks gate: a deployment waits until every named check run (GitHub Checks) or commit status
     * context of its commit is `success`, and fails with the failing check's name and URL otherwise.
     * Needs `github`. A `check_run` / `check_suite` / `status` webhook ends the wait.
     * @default no checks gate
     */
    checks: z.optional(
      z.strictObject({
        /** Check run names or commit status contexts that must succeed, e.g. ["build", "test"]. */
        required: z.array(z.string().check(z.minLength(1), z.maxLength(255))).check(z.minLength(1, 'name at least one check, e.g. ["build"]'), z.maxLength(50)),
        /** Seconds to wait for the checks to finish; then the deployment fails with Cutover.ChecksNotComplete. @default 3600 */
        waitSeconds: z._default(wholeNumber('seconds', z.gte(60, 'use at least 60 seconds'), z.lte(86_400, 'use at most 86400 seconds (24 h)')), 3600),
      }),
    ),
  })
  .check(
    z.refine((s) => s.checks === undefined || s.github !== undefined, {
      error: 'checks needs GitHub API access: add github { tokenSecretArn } (a Secrets Manager secret holding a token that may read checks)',
      path: ['checks'],
    }),
    z.refine((s) => s.github === undefined || 'github' in s.repository, {
      error: 'github is only for a GitHub repository (repository.github)',
      path: ['github'],
    }),
    z.superRefine((s, ctx) => {
    for (const [name, env] of Object.entries(s.environments)) {
      const from = env.promotion?.from;
      if (from === undefined) continue;
      const path = ['environments', name, 'promotion', 'from'];
      if (from === name) ctx.addIssue({ code: 'custom', input: s, path, message: `an environment cannot promote from itself; name another environment of this service: ${Object.keys(s.environments).filter((e) => e !== name).join(', ') || '(none defined)'}` });
      else if (!(from in s.environments)) ctx.addIssue({ code: 'custom', input: s, path, message: `environment "${from}" is not defined; promote from one of: ${Object.keys(s.environments).filter((e) => e !== name).join(', ') || '(none defined)'}` });
      else {
        // A cycle (a → b → a) would promote forever.
        const seen = new Set([name]);
        for (let at: string | undefined = from; at !== undefined; at = s.environments[at]?.promotion?.from) {
          if (seen.has(at)) {
            ctx.addIssue({ code: 'custom', input: s, path, message: `promotions form a cycle through "${at}"; one environment in the chain must take its releases from pushes` });
            break;
          }
          seen.add(at);
        }
      }
    }
    for (const [name, env] of Object.entries(s.environments)) {
      if (env.approvers && env.approval === 'none') {
        ctx.addIssue({ code: 'custom', input: s, path: ['environments', name, 'approvers'], message: 'approvers approve the approval gate, but approval is "none": set approval to "before-traffic" or "before-promote", or remove approvers' });
      }
      // The approval function URL has no resource policy: only identities of the stack's account can call it.
      const { partition, account } = arnPartitionAndAccount(env.slots.blue.targetGroupArn);
      (env.approvers ?? []).forEach((entry, i) => {
        const a = parseApprover(entry, account, partition);
        if (a && (a.account !== account || a.partition !== partition)) {
          ctx.addIssue({
            code: 'custom',
            input: s,
            path: ['environments', name, 'approvers', i],
            message: `"${entry}" is in account ${a.account} (${a.partition}), but this environment is in ${account} (${partition}): only identities of that account can call its approval function; name a role or user there`,
          });
        }
      });
    }
    for (const [branch, env] of Object.entries(s.branches)) {
      if (!(env in s.environments)) {
        ctx.addIssue({
          code: 'custom',
          input: s,
          path: ['branches', branch],
          message: `environment "${env}" is not defined; add it under environments or map the branch to one of: ${Object.keys(s.environments).join(', ') || '(none defined)'}`,
        });
      }
    }
    }),
  );

export const ConfigSchema = z.strictObject({
  /** Service name → service. */
  services: z.record(identifier, ServiceSchema).check(z.refine((s) => Object.keys(s).length > 0, 'configure at least one service')),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ServiceConfig = z.infer<typeof ServiceSchema>;
export type EnvironmentConfig = z.infer<typeof EnvironmentSchema>;
export type DatabaseConfig = z.infer<typeof DatabaseSchema>;
export type Strategy = z.infer<typeof StrategySchema>;
export type TrafficRoute = z.infer<typeof TrafficRouteSchema>;
export type Slot = z.infer<typeof SlotSchema>;
export type ChangeWindowConfig = z.infer<typeof ChangeWindowSchema>;
export type FreezeConfig = z.infer<typeof FreezeSchema>;
export type VerifyConfig = NonNullable<EnvironmentConfig['verify']>;
export type GitHubConfig = NonNullable<ServiceConfig['github']>;
export type ChecksConfig = NonNullable<ServiceConfig['checks']>;
export type DatabaseFailurePolicy = EnvironmentConfig['databaseFailurePolicy'];
