/**
 * ledger — the deployment lock, deployment and rollback records, the environment state (live release,
 * rollback window), the audit timeline and notifications (DynamoDB, SNS). Called by the deploy,
 * rollback and rollback-window state machines.
 *
 * Events (`action`):
 *  - `acquire` `{ plan }` → the lock item. Throws `Cutover.DeploymentInProgress` when another execution
 *    holds it. Closes an open rollback window (the deployment reuses the kept slot).
 *  - `awaitLock` `{ taskToken, plan }` (`.waitForTaskToken`, a round of LOCK_WAIT_ROUND_SECONDS; the
 *    deploy's `AcquireLock` found the lock held) → queues the deployment (lib/domain/deploy-queue.ts):
 *    creates its record (`queued`), stores the token on the environment's queue item — the newest push
 *    wins: an older queued push is failed with `Cutover.Superseded`, a newer one already queued fails
 *    this one so; a lock holder still waiting at a gate (image, scan, checks) that is older is
 *    superseded too — then looks at the lock again: released meanwhile, the wait ends at once. The
 *    wait is answered when the lock is released (`Ledger.releaseLock`); after LOCK_WAIT_MAX_SECONDS in
 *    all it fails with `Cutover.LockWaitTimedOut`.
 *  - `checkChecks` `{ plan }` → `ChecksDecision` (lib/domain/checks-gate.ts): the commit's required checks
 *    (`plan.checks.required`) read from GitHub (check runs and commit statuses, with the token in
 *    Secrets Manager: lib/aws/github.ts). Throws `Cutover.GitHubAccess` when the token cannot read them.
 *  - `awaitChecks` `{ taskToken, plan }` (`.waitForTaskToken`, timeout = `plan.checks.waitSeconds`) →
 *    stores the token as a `checks` wait (ended by the github-webhook function on a `check_run` /
 *    `check_suite` / `status` webhook for the commit), then reads the checks once more: decided
 *    meanwhile, the wait ends at once.
 *  - GitHub Deployments (a service with `github.deployments`): `acquire` / `awaitLock` post `queued`,
 *    `beginChanges` `in_progress`, `finish` the outcome (lib/aws/github-report.ts); a failure to report
 *    is audited, never thrown.
 *  - `finish` `{ outcome: 'succeeded'|'failed'|'rollback-failed', deployment: <the execution state> }` →
 *    `{ status, error, message, liveSlot, deploymentId }`; records it, releases the lock. On success the
 *    release becomes the environment's `current` and a rollback window opens on the previous slot
 *    (`plan.rollbackWindowSeconds`).
 *  - `awaitBake` `{ taskToken, plan, traffic: { percent, bakeSeconds } }` (invoked with `.waitForTaskToken`,
 *    the state's timeout is the bake time) → stores the token as a `bake` wait, then checks the alarms
 *    once: one already in ALARM fails the token at once with `Cutover.AlarmFiring` (an alarm event that
 *    came before the token was stored is not missed). A pending `abortRequested` fails it with
 *    `Cutover.Aborted`. Operators end a bake early with SendTaskSuccess
 *    `{"action":"promote-now","operator":"<name>"}` or SendTaskFailure error `Cutover.Aborted`.
 *  - `awaitApproval` `{ taskToken, plan, traffic }` (`.waitForTaskToken`, timeout = the approval timeout) →
 *    stores the token as an `approval` wait and notifies who must act; approve with SendTaskSuccess
 *    `{"approved":true,"operator":"<name>"}`, reject with SendTaskFailure error `Cutover.Rejected`.
 *  - `verifyApproval` `{ plan }` (after an approval, when `plan.approval.approvers` is set) → `{ approvedBy,
 *    callerArn, matched }`: the approval the approval function recorded on the record (`approval`, with
 *    the SigV4-verified caller) is for the wait that just ended (`tokenHash` = the hash of the record's
 *    pending token) and by one of the approvers. Throws `Cutover.NotAnApprover` when there is none (an
 *    answer sent around the function, e.g. SendTaskSuccess from the console), it is an earlier wait's,
 *    or the caller is not an approver: the deployment rolls back, no production traffic shifted for it.
 *  - `awaitImage` `{ taskToken, plan, image }` (`.waitForTaskToken`, timeout = `plan.imageTimeoutSeconds`) →
 *    stores the token as an `image` wait with `pendingImage` = `plan.image` (the image-events function
 *    ends it when ECR reports the push), then looks in ECR once more: an image pushed between the
 *    deployment's first look and the stored token ends the wait at once (no missed event). A pending
 *    `abortRequested` fails it with `Cutover.Aborted`.
 *  - `awaitScan` `{ taskToken, plan }` (`.waitForTaskToken`, timeout = `plan.scan.waitSeconds`) → stores
 *    the token as a `scan` wait (`pendingImage` = the pinned image; the image-events function ends it on
 *    ECR's "ECR Image Scan" / Inspector's "Inspector2 Scan" event with the gate's decision), then reads
 *    the scan once more: a result that came meanwhile ends the wait at once.
 *  - `checkWindow` `{ plan, override? }` → `WindowDecision` (lib/domain/change-window.ts): whether the
 *    environment accepts changes now (`plan.changeWindow`: windows, freezes, `outsideWindow`). An override —
 *    `plan.windowOverride` from the input, or `override`, an operator's answer to the window wait — lets a
 *    closed window or a freeze through; it is recorded (`windowOverride` on the record, an audited
 *    `operator-action`).
 *  - `awaitWindow` `{ taskToken, plan, window }` (`.waitForTaskToken`, timeout = `window.seconds`, the
 *    next opening) → stores the token as a `window` wait with `pendingUntil` = the opening and notifies;
 *    a queued newer push supersedes it (it changed nothing), a pending abort fails it.
 *  - `beginChanges` `{ plan, image }` → `{ closedRollbackWindow }`: the gates passed and the deployment is
 *    about to change things (snapshot, migrations, the kept slot): removes the pending wait from the lock,
 *    closes the previous release's rollback window (the deployment reuses its kept slot) and audits it.
 *    Until then a waiting deployment has changed nothing: no window closed, no slot touched.
 *  - `awaitDatabaseDecision` `{ taskToken, deployment }` (`.waitForTaskToken`) → stores the token and
 *    publishes the question with the data-loss window (writes since the snapshot); the operator answers
 *    SendTaskSuccess `{"decision":"restore"|"keep","operator":"<name>"}`. `deployment` is a deploy or a
 *    rollback execution's state.
 *  - `beginRollback` `{ plan: RollbackPlan }` → `RollbackTarget` (lib/domain/records.ts): the kept slot
 *    while the rollback window is open (and `toDeployment` is absent or names its release), else a
 *    redeploy of the last succeeded release before the live one that was not rolled back (or of
 *    `toDeployment`). Creates the rollback record. Throws `Cutover.NothingToRollBack` /
 *    `Cutover.InvalidInput` (names the field and the fix), `Cutover.DeploymentInProgress` (a
 *    deployment runs: abort it instead).
 *  - `lockRollback` `{ plan, rollbackTarget }` → the lock item (purpose `rollback`).
 *  - `finishRollback` `{ outcome: 'rolled-back'|'failed', rollback: <the rollback state> }` → the outcome;
 *    records it, updates the environment state, marks the release rolled back, releases the lock.
 *  - `closeWindow` `{ plan, executionArn, executionStartTime, windowSeconds }` (the rollback-window state
 *    machine, when the window ends; the window ended at executionStartTime + windowSeconds) →
 *    `{ action: 'scale-down'|'superseded'|'busy'|'give-up', message, retryInSeconds? }`; `scale-down`
 *    holds the lock for the caller; `busy` says when to try again (60 s … 1 h, lib/domain
 *    `decideWindowBusy`); `give-up` after 24 h busy (the caller records it with `windowCloseFailed`).
 *  - `windowCloseFailed` `{ plan, executionArn, slots?, error }` (the rollback-window state machine, when
 *    scaling the kept slot down failed) → `{ message }`; releases the lock, audits
 *    `rollback-window-close-failed` and notifies with the slot left running and the command to scale it down.
 *  - `checkPromotion` `{ plan }` (an environment with `promotion`) → `{ promotable, from, image, message }`:
 *    the release must have succeeded in `promotion.from` (lib/domain/promotion.ts); the image is the one
 *    it ran there (pinned). Throws `Cutover.NotPromotable` (names the fix) unless `plan.promotionOverride`,
 *    which is recorded (`promotionOverride`, an audited `operator-action`). Clears an offer of the commit.
 *  - `offerPromotion` `{ deployment }` (after a success and its soak) → `{ start: [{ name, environment,
 *    input }], offered, message }`: when the record is still `succeeded` and no alarm is in ALARM, the
 *    executions to start for `auto` targets (the state machine starts them) and an offer item plus a
 *    notification naming `cutover promote-release` for the others; audited.
 *  - `recordRefused` `{ plan, error, message }` → `{ status: 'refused', error, message }`: records an
 *    execution turned away before it changed anything and without the lock (a rollback while another
 *    execution runs or with nothing to roll back to; a rollback's redeploy finding the lock held).
 *  - `trafficRestored` `{ deployment }` (the deploy's rollback moved production back) / `rollbackTrafficMoved`
 *    `{ rollback }` (the rollback state machine got production onto its target): record `restoredAt`
 *    and `detectedAt` (the alarm's state change from the audit timeline, else the step's or the
 *    rollback's start) for time to restore; the rollback's also makes the environment state name the
 *    target at once and marks the release rolled back (`rolled-back`, `rolledBackBy`, `rolledBackAt`).
 *  - `releaseLock` `{ service, environment, executionArn }` → `{ released: true }`.
 * DORA metrics (lib/domain/dora-metrics.ts `doraMetricValues`) are published as CloudWatch EMF records
 * (namespace `Cutover`, dimensions service and environment) when a deployment finishes, when a rollback
 * takes production from a promoted release, and when production traffic is restored.
 * Every action that changes something appends to the audit timeline; started, awaiting approval,
 * awaiting decision, succeeded, rolled back and failed are also notified (SNS, `NOTIFICATION_TOPIC_ARN`).
 * Env: `TABLE_NAME`, `NOTIFICATION_TOPIC_ARN` (optional).
 */
import * as z from 'zod/mini';
import { describeAlarmStates } from '../../lib/aws/cloudwatch';
import { checkAlarms } from '../../lib/domain/alarm-events';
import { clockNow } from '../../lib/aws/clock';
import { requiredEnv } from '../../lib/aws/env';
import { Ledger } from '../../lib/aws/ledger';
import { notify, type NotificationKind } from '../../lib/aws/notify';
import { failTask, succeedTask } from '../../lib/aws/task-tokens';
import { findImage, scanGate } from '../../lib/aws/ecr';
import { readChecks } from '../../lib/aws/github';
import { reportToGitHub } from '../../lib/aws/github-report';
import { decideChecks, type ChecksDecision } from '../../lib/domain/checks-gate';
import { decideChangeWindow } from '../../lib/domain/change-window';
import { decideOffer, decidePromotable, promotedRelease, promotionExecutionName, promotionInput } from '../../lib/domain/promotion';
import { deploymentRequest, inactivatesPreviousItself, type DeploymentEvent } from '../../lib/domain/github-deployments';
import { DeploymentInProgressError, InvalidInputError, NotAnApproverError, NotPromotableError } from '../../lib/domain/errors';
import { approvalIsForPendingWait, decideApprover } from '../../lib/domain/approvers';
import type { DeploymentPlan, RollbackPlan } from '../../lib/domain/plan';
import type { ExplicitDeployInput } from '../../lib/domain/deploy-input';
import { decideQueue, isNewerPush, LOCK_WAIT_MAX_SECONDS, supersededCause, type PushRef } from '../../lib/domain/deploy-queue';
import { DATABASE_DECISION_TIMEOUT_SECONDS, decideWindowBusy, lockHolderWhat, eventTime, minutesSince } from '../../lib/domain/ledger-decisions';
import { deploymentKey, type AuditEvent, type PendingKind } from '../../lib/domain/ledger-items';
import { chooseRollbackTarget } from '../../lib/domain/rollback-target';
import { causeText, decideOutcome, decideRollbackOutcome, type DeploymentState, type Outcome, type RollbackState, type RollbackTarget } from '../../lib/domain/records';
import { otherSlot, type SlotName } from '../../lib/domain/slots';
import { logger, publishMetrics } from '../../lib/observability';
import { doraMetricValues } from '../../lib/domain/dora-metrics';

const PlanShape = z.looseObject({ deploymentId: z.string(), service: z.string(), environment: z.string() });
const Event = z.discriminatedUnion('action', [
  z.object({ action: z.literal('acquire'), plan: PlanShape }),
  z.object({
    action: z.literal('finish'),
    outcome: z.enum(['succeeded', 'failed', 'rollback-failed']),
    deployment: z.looseObject({ plan: PlanShape }),
  }),
  z.object({
    action: z.literal('awaitBake'),
    taskToken: z.string().check(z.minLength(1)),
    plan: z.extend(PlanShape, { alarms: z.array(z.string()) }),
    traffic: z.looseObject({ percent: z.number(), bakeSeconds: z.number() }),
  }),
  z.object({
    action: z.literal('awaitApproval'),
    taskToken: z.string().check(z.minLength(1)),
    plan: z.extend(PlanShape, { alarms: z.array(z.string()) }),
    traffic: z.looseObject({ percent: z.number(), nextIndex: z.number() }),
  }),
  z.object({ action: z.literal('verifyApproval'), plan: z.extend(PlanShape, { approval: z.looseObject({ approvers: z.array(z.string()).check(z.minLength(1)) }) }) }),
  z.object({ action: z.literal('awaitLock'), taskToken: z.string().check(z.minLength(1)), plan: z.extend(PlanShape, { startedAt: z.string(), executionArn: z.string() }) }),
  z.object({ action: z.literal('checkChecks'), plan: z.extend(PlanShape, { checks: z.object({ required: z.array(z.string()), waitSeconds: z.number() }), github: z.looseObject({ repository: z.string(), tokenSecretArn: z.string() }) }) }),
  z.object({ action: z.literal('awaitChecks'), taskToken: z.string().check(z.minLength(1)), plan: z.extend(PlanShape, { checks: z.object({ required: z.array(z.string()), waitSeconds: z.number() }), github: z.looseObject({ repository: z.string(), tokenSecretArn: z.string() }) }) }),
  z.object({ action: z.literal('awaitDatabaseDecision'), taskToken: z.string().check(z.minLength(1)), deployment: z.looseObject({ plan: PlanShape }) }),
  z.object({ action: z.literal('awaitImage'), taskToken: z.string().check(z.minLength(1)), plan: z.extend(PlanShape, { image: z.string(), imageTimeoutSeconds: z.number() }), image: z.looseObject({}) }),
  z.object({ action: z.literal('awaitScan'), taskToken: z.string().check(z.minLength(1)), plan: z.extend(PlanShape, { image: z.string(), scan: z.object({ maxSeverity: z.string(), waitSeconds: z.number() }) }) }),
  z.object({
    action: z.literal('checkWindow'),
    plan: z.extend(PlanShape, { changeWindow: z.looseObject({ windows: z.array(z.looseObject({})), freezes: z.array(z.looseObject({})), outsideWindow: z.string() }) }),
    /** An operator's answer to the window wait (`cutover override-window`). */
    override: z.optional(z.looseObject({ override: z.literal(true), reason: z.string().check(z.minLength(1)), operator: z.optional(z.string()), callerArn: z.optional(z.string()) })),
  }),
  z.object({
    action: z.literal('awaitWindow'),
    taskToken: z.string().check(z.minLength(1)),
    plan: PlanShape,
    window: z.looseObject({ until: z.string(), seconds: z.number(), message: z.string() }),
  }),
  z.object({
    action: z.literal('recordRefused'),
    plan: z.extend(PlanShape, { executionArn: z.string(), startedAt: z.string() }),
    error: z.string().check(z.minLength(1)),
    message: z.optional(z.string()),
  }),
  z.object({ action: z.literal('checkPromotion'), plan: z.extend(PlanShape, { promotion: z.looseObject({ from: z.string() }), image: z.string(), release: z.looseObject({ commit: z.string() }) }) }),
  z.object({ action: z.literal('offerPromotion'), deployment: z.looseObject({ plan: z.extend(PlanShape, { promotesTo: z.array(z.looseObject({ environment: z.string(), auto: z.boolean() })) }) }) }),
  z.object({ action: z.literal('trafficRestored'), deployment: z.looseObject({ plan: PlanShape }) }),
  z.object({ action: z.literal('rollbackTrafficMoved'), rollback: z.looseObject({ plan: z.extend(PlanShape, { kind: z.literal('rollback') }) }) }),
  z.object({ action: z.literal('beginChanges'), plan: z.extend(PlanShape, { image: z.string() }), image: z.optional(z.looseObject({ reference: z.optional(z.string()), checked: z.optional(z.boolean()) })) }),
  z.object({ action: z.literal('beginRollback'), plan: z.extend(PlanShape, { kind: z.literal('rollback') }) }),
  z.object({ action: z.literal('lockRollback'), plan: z.extend(PlanShape, { kind: z.literal('rollback') }), rollbackTarget: z.looseObject({ mode: z.string() }) }),
  z.object({
    action: z.literal('finishRollback'),
    outcome: z.enum(['rolled-back', 'failed']),
    rollback: z.looseObject({ plan: z.extend(PlanShape, { kind: z.literal('rollback') }) }),
  }),
  z.object({
    action: z.literal('closeWindow'),
    plan: PlanShape,
    executionArn: z.string().check(z.minLength(1)),
    /** The closer's `$$.Execution.StartTime` (ISO-8601). */
    executionStartTime: z.string().check(z.minLength(1)),
    /** The window's length, seconds (the closer's input `windowSeconds`). */
    windowSeconds: z.number().check(z.gte(0)),
  }),
  z.object({
    action: z.literal('windowCloseFailed'),
    plan: PlanShape,
    executionArn: z.string().check(z.minLength(1)),
    slots: z.optional(z.looseObject({ idle: z.enum(['blue', 'green']) })),
    error: z.looseObject({ Error: z.string(), Cause: z.optional(z.string()) }),
  }),
  z.object({ action: z.literal('releaseLock'), service: z.string(), environment: z.string(), executionArn: z.string().check(z.minLength(1)) }),
]);

const tableName = () => requiredEnv('TABLE_NAME', 'ledger', 'the DynamoDB table name');

/** Who acted, for the audit timeline: the trigger's actor, else its source. */
function actorOf(trigger: { source: string; actor?: string } | undefined): string {
  return trigger?.actor ?? trigger?.source ?? 'cutover';
}

const cli = (verb: string, plan: { service: string; environment: string }, rest = '') => `cutover ${verb} ${plan.service} ${plan.environment}${rest}`;

export const handler = async (event: unknown): Promise<unknown> => {
  const parsed = Event.safeParse(event);
  if (!parsed.success) throw new InvalidInputError(`ledger: invalid event: ${parsed.error.message}`);
  const ledger = new Ledger(tableName());
  const e = parsed.data;
  // The clock, read once: every time this invocation records or decides on is this one.
  const now = clockNow();
  const audit = (ev: Omit<AuditEvent, 'pk' | 'sk' | 'at'> & { at?: string }, id?: string) =>
    ledger.audit({ at: now.toISOString(), ...ev }, id);
  const notifyAbout = (kind: NotificationKind, plan: { service: string; environment: string; deploymentId: string }, subject: string, message: string, actions?: string[]) =>
    notify({ kind, service: plan.service, environment: plan.environment, deploymentId: plan.deploymentId, subject, message, actions });

  switch (e.action) {
    case 'acquire': {
      const plan = e.plan as unknown as DeploymentPlan;
      const { lock, recordCreated } = await ledger.acquireAndRecord(plan, now);
      const rel = `release ${plan.release.commit.slice(0, 7)}${plan.release.message ? ` ("${plan.release.message}")` : ''}`;
      const why = plan.trigger.reason ? ` (${plan.trigger.reason})` : '';
      await audit(
        {
          at: plan.startedAt,
          service: plan.service,
          environment: plan.environment,
          kind: 'deployment-started',
          deploymentId: plan.deploymentId,
          executionArn: plan.executionArn,
          actor: actorOf(plan.trigger),
          message: `${plan.trigger.source}${plan.trigger.of ? ` of ${plan.trigger.of}` : ''} started the deployment of ${rel}${why}`,
          detail: { commit: plan.release.commit, image: plan.image, trigger: plan.trigger, steps: plan.steps, approval: plan.approval.gate },
        },
        `${plan.deploymentId}-started`,
      );
      await notifyAbout('started', plan, `${plan.service}/${plan.environment}: deploying ${plan.release.commit.slice(0, 7)}`, `Deployment ${plan.deploymentId} of ${rel} started by ${actorOf(plan.trigger)}${why}.`, [cli('status', plan)]);
      // A deployment that was queued reported `queued` then.
      if (recordCreated) await reportGitHub(plan, { kind: 'queued' });
      return lock;
    }
    case 'finish': {
      const state = e.deployment as unknown as DeploymentState;
      const outcome: Outcome = decideOutcome(state, e.outcome);
      // The release this one replaces, for its GitHub deployment (read before the promotion rewrites it).
      const replaced = outcome.status === 'succeeded' && state.plan.github?.deployments ? (await ledger.getEnvironment(state.plan.service, state.plan.environment))?.current : undefined;
      await ledger.finish(state.plan, outcome, state, now);
      if (outcome.status === 'succeeded') await ledger.setRecordFields(state.plan, { promotedAt: now.toISOString() }, { trafficAt: now.toISOString() });
      publishMetrics(state.plan.service, state.plan.environment, doraMetricValues({
        kind: 'finished',
        status: outcome.status,
        source: state.plan.trigger.source,
        reachedTraffic: outcome.status === 'succeeded' || (state.traffic?.percent ?? 0) > 0,
        committedAt: state.plan.release.committedAt,
        promotedAt: now.toISOString(),
      }));
      await auditFinish(state, outcome);
      const kind: NotificationKind = outcome.status === 'succeeded' ? 'succeeded' : outcome.status === 'rolled-back' ? 'rolled-back' : outcome.status === 'superseded' ? 'superseded' : 'failed';
      if (outcome.status !== 'queued') await reportGitHub(state.plan, { kind: 'finished', status: outcome.status, error: outcome.error, message: outcome.message });
      if (replaced?.deploymentId && replaced.commit && replaced.deploymentId !== state.plan.deploymentId && inactivatesPreviousItself(deploymentRequest({ sha: state.plan.release.commit, environment: state.plan.environment, service: state.plan.service, deploymentId: state.plan.deploymentId }))) {
        await reportToGitHub({ deploymentId: replaced.deploymentId, service: state.plan.service, environment: state.plan.environment, release: { commit: replaced.commit }, github: state.plan.github }, { kind: 'replaced', byCommit: state.plan.release.commit });
      }
      const p = state.plan;
      await notifyAbout(kind, p, `${p.service}/${p.environment}: ${p.release.commit.slice(0, 7)} ${outcome.status}`, outcome.message, outcome.status === 'succeeded' ? [cli('rollback', p, ' --reason "<why>"')] : [cli('history', p, ` --deployment ${p.deploymentId}`)]);
      logger.info('deployment finished', { deploymentId: outcome.deploymentId, status: outcome.status, message: outcome.message });
      return outcome;
    }
    case 'awaitLock':
      return awaitLock(e.plan as unknown as DeploymentPlan, e.taskToken);
    case 'awaitBake': {
      const plan = e.plan as unknown as DeploymentPlan;
      const { percent, bakeSeconds } = e.traffic;
      const question =
        `${plan.service}/${plan.environment}: deployment ${plan.deploymentId} is baking at ${percent}% for ${bakeSeconds} s; an alarm rolls it back at once. ` +
        'Promote now: SendTaskSuccess {"action":"promote-now","operator":"<name>"}. Abort: SendTaskFailure with error "Cutover.Aborted" and your reason.';
      await ledger.setPending(plan, 'bake', e.taskToken, question, now, bakeSeconds);
      if (percent > 0) await ledger.setRecordFields(plan, {}, { trafficAt: now.toISOString() });
      await audit({ service: plan.service, environment: plan.environment, kind: 'waiting', deploymentId: plan.deploymentId, actor: 'cutover', message: `baking at ${percent}% for ${bakeSeconds} s`, detail: { percent, bakeSeconds } });
      if (await failIfAbortRequested(ledger, plan, e.taskToken)) return { waiting: false, aborted: true };
      if (await failIfAlarming(plan, e.taskToken, `as the bake at ${percent}% starts`)) return { waiting: false, alarming: true };
      logger.info('baking', { deploymentId: plan.deploymentId, percent, bakeSeconds });
      return { waiting: true };
    }
    case 'awaitApproval': {
      const plan = e.plan as unknown as DeploymentPlan;
      const step = plan.steps[e.traffic.nextIndex];
      const where =
        e.traffic.nextIndex === 0
          ? `before any production traffic (the new release is up and stable${plan.test ? ', on the test listener' : ''})`
          : `at ${e.traffic.percent}%, before it takes ${step?.percent ?? 100}% of production traffic`;
      const question =
        `${plan.service}/${plan.environment}: deployment ${plan.deploymentId} of ${plan.release.commit.slice(0, 7)} waits for approval ${where}; ` +
        `without an answer in ${plan.approval.timeoutSeconds} s it rolls back. ` +
        (plan.approval.approvers
          ? `Approve or reject with cutover approve / reject (the approval function); approvers: ${plan.approval.approvers.join(', ')}.`
          : 'Approve: SendTaskSuccess {"approved":true,"operator":"<name>"}. Reject: SendTaskFailure with error "Cutover.Rejected" and your reason.');
      // Before the token is readable: the approval function checks a caller against the record's approvers.
      if (plan.approval.approvers) await ledger.setRecordFields(plan, { approvers: [...plan.approval.approvers] });
      await ledger.setPending(plan, 'approval', e.taskToken, question, now, plan.approval.timeoutSeconds);
      if (e.traffic.percent > 0) await ledger.setRecordFields(plan, {}, { trafficAt: now.toISOString() });
      await audit({ service: plan.service, environment: plan.environment, kind: 'waiting', deploymentId: plan.deploymentId, actor: 'cutover', message: `awaiting approval ${where}`, detail: { gate: plan.approval.gate, timeoutSeconds: plan.approval.timeoutSeconds } });
      if (await failIfAbortRequested(ledger, plan, e.taskToken)) return { waiting: false, aborted: true };
      // An alarm that fired before the token was stored found no approval wait to fail: look now.
      if (await failIfAlarming(plan, e.taskToken, `as the approval wait at ${e.traffic.percent}% starts`)) return { waiting: false, alarming: true };
      await notifyAbout('awaiting-approval', plan, `${plan.service}/${plan.environment}: approve ${plan.release.commit.slice(0, 7)}?`, question, [
        cli('approve', plan, ' [--comment "<text>"]'),
        cli('reject', plan, ' --reason "<why>"'),
      ]);
      logger.info('awaiting approval', { deploymentId: plan.deploymentId, gate: plan.approval.gate });
      return { waiting: true };
    }
    case 'verifyApproval': {
      const plan = e.plan as unknown as DeploymentPlan;
      const where = `${plan.service}/${plan.environment}`;
      const approvers = (plan.approval.approvers ?? []).join(', ');
      const record = await ledger.getRecord(plan);
      const given = record?.approval;
      // The approval must be for the wait that just ended (its token is still the record's pending one).
      if (!given || !approvalIsForPendingWait(record)) {
        throw new NotAnApproverError(
          `the approval of deployment ${plan.deploymentId} did not come through the approval function: ${where} names approvers (${approvers}), ` +
            'and only their approval with `cutover approve` counts; an answer sent with SendTaskSuccess directly (e.g. from the Step Functions console) does not. ' +
            'No production traffic was shifted for it; the deployment rolls back — deploy again and have an approver approve it.',
        );
      }
      const decision = decideApprover(given.callerArn, plan.approval.approvers, where);
      if (!decision.allowed) {
        throw new NotAnApproverError(
          `the approval of deployment ${plan.deploymentId} is by ${given.callerArn}, who is not an approver of ${where} (${approvers}). No production traffic was shifted for it; the deployment rolls back — deploy again and have an approver approve it.`,
        );
      }
      logger.info('approval verified', { deploymentId: plan.deploymentId, callerArn: given.callerArn, matched: decision.matched });
      return { approvedBy: given.by, callerArn: given.callerArn, matched: decision.matched ?? null };
    }
    case 'awaitImage': {
      const plan = e.plan as unknown as DeploymentPlan;
      const question =
        `${plan.service}/${plan.environment}: deployment ${plan.deploymentId} of ${plan.release.commit.slice(0, 7)} waits for its image ${plan.image} ` +
        `(CI may still be building it); without it in ${plan.imageTimeoutSeconds} s it fails, having changed nothing. ` +
        'It goes on as soon as ECR reports the push. Abort: SendTaskFailure with error "Cutover.Aborted" and your reason.';
      await ledger.setPending(plan, 'image', e.taskToken, question, now, plan.imageTimeoutSeconds, plan.image);
      await audit({ service: plan.service, environment: plan.environment, kind: 'waiting', deploymentId: plan.deploymentId, actor: 'cutover', message: `waiting for the image ${plan.image}`, detail: { image: plan.image, timeoutSeconds: plan.imageTimeoutSeconds } });
      if (await failIfAbortRequested(ledger, plan, e.taskToken)) return { waiting: false, aborted: true };
      if (await failIfSuperseded(plan, e.taskToken, 'image')) return { waiting: false, superseded: true };
      // A push between the first look and the stored token sent its event to nobody: look once more.
      const found = await findImage(plan.image);
      if (found.found) {
        await succeedTask(e.taskToken, found);
        logger.info('image arrived before the wait began', { deploymentId: plan.deploymentId, image: found.reference });
        return { waiting: false, found: true };
      }
      logger.info('waiting for the image', { deploymentId: plan.deploymentId, image: plan.image });
      return { waiting: true };
    }
    case 'awaitScan': {
      const plan = e.plan as unknown as DeploymentPlan;
      const question =
        `${plan.service}/${plan.environment}: deployment ${plan.deploymentId} of ${plan.release.commit.slice(0, 7)} waits for the vulnerability scan of ${plan.image}; ` +
        `without a result in ${plan.scan!.waitSeconds} s it is refused, having changed nothing. Abort: SendTaskFailure with error "Cutover.Aborted" and your reason.`;
      await ledger.setPending(plan, 'scan', e.taskToken, question, now, plan.scan!.waitSeconds, plan.image);
      await audit({ service: plan.service, environment: plan.environment, kind: 'waiting', deploymentId: plan.deploymentId, actor: 'cutover', message: `waiting for the scan of ${plan.image}`, detail: { image: plan.image, maxSeverity: plan.scan!.maxSeverity, timeoutSeconds: plan.scan!.waitSeconds } });
      if (await failIfAbortRequested(ledger, plan, e.taskToken)) return { waiting: false, aborted: true };
      if (await failIfSuperseded(plan, e.taskToken, 'scan')) return { waiting: false, superseded: true };
      const decision = await scanGate(plan);
      if (decision.status !== 'pending') {
        await succeedTask(e.taskToken, decision);
        return { waiting: false, scan: decision.status };
      }
      return { waiting: true };
    }
    case 'checkChecks': {
      const plan = e.plan as unknown as DeploymentPlan;
      return readChecksDecision(plan);
    }
    case 'awaitChecks': {
      const plan = e.plan as unknown as DeploymentPlan;
      const checks = plan.checks!;
      const question =
        `${plan.service}/${plan.environment}: deployment ${plan.deploymentId} of ${plan.release.commit.slice(0, 7)} waits for its required checks on GitHub (${checks.required.join(', ')}); ` +
        `not all passed in ${checks.waitSeconds} s, it is refused, having changed nothing. Abort: SendTaskFailure with error "Cutover.Aborted" and your reason.`;
      await ledger.setPending(plan, 'checks', e.taskToken, question, now, checks.waitSeconds);
      await audit({ service: plan.service, environment: plan.environment, kind: 'waiting', deploymentId: plan.deploymentId, actor: 'cutover', message: `waiting for the checks ${checks.required.join(', ')} of ${plan.release.commit.slice(0, 7)}`, detail: { required: checks.required, timeoutSeconds: checks.waitSeconds } });
      if (await failIfAbortRequested(ledger, plan, e.taskToken)) return { waiting: false, aborted: true };
      if (await failIfSuperseded(plan, e.taskToken, 'checks')) return { waiting: false, superseded: true };
      // A webhook between the first read and the stored token found no wait to end: read once more.
      const decision = await readChecksDecision(plan);
      if (decision.status !== 'pending') {
        await succeedTask(e.taskToken, decision);
        return { waiting: false, checks: decision.status };
      }
      return { waiting: true, waitingFor: decision.waitingFor };
    }
    case 'checkWindow': {
      const plan = e.plan as unknown as DeploymentPlan;
      const override = e.override ? { reason: e.override.reason, operator: e.override.operator } : plan.windowOverride;
      const decision = decideChangeWindow(plan.changeWindow!, now, override);
      if (decision.open && decision.overridden && override) {
        const by = override.operator ?? actorOf(plan.trigger);
        await ledger.setRecordFields(plan, { windowOverride: { by, reason: override.reason, at: now.toISOString(), ...(e.override?.callerArn ? { callerArn: e.override.callerArn } : {}) } });
        await audit(
          { service: plan.service, environment: plan.environment, kind: 'operator-action', deploymentId: plan.deploymentId, actor: by, message: `overrode the change window: ${decision.overridden.message}; reason: ${override.reason}`, detail: { action: 'override-window', reason: override.reason, overridden: decision.overridden.reason } },
          `${plan.deploymentId}-override-window`,
        );
      }
      logger.info('change window', { deploymentId: plan.deploymentId, open: decision.open, ...(decision.open ? {} : { action: decision.action, until: decision.until }) });
      return decision;
    }
    case 'awaitWindow': {
      const plan = e.plan as unknown as DeploymentPlan;
      const question =
        `${plan.service}/${plan.environment}: deployment ${plan.deploymentId} of ${plan.release.commit.slice(0, 7)} passed its gates and is ${e.window.message.replace(/^waiting: /, '')}; ` +
        `it starts changing things then, having changed nothing until now. Override (recorded): SendTaskSuccess {"override":true,"operator":"<name>","reason":"<why>"}. Abort: SendTaskFailure with error "Cutover.Aborted" and your reason.`;
      await ledger.setPending(plan, 'window', e.taskToken, question, now, new Date(e.window.until));
      await audit({ service: plan.service, environment: plan.environment, kind: 'waiting', deploymentId: plan.deploymentId, actor: 'cutover', message: e.window.message, detail: { until: e.window.until, seconds: e.window.seconds } });
      if (await failIfAbortRequested(ledger, plan, e.taskToken)) return { waiting: false, aborted: true };
      if (await failIfSuperseded(plan, e.taskToken, 'window')) return { waiting: false, superseded: true };
      await notifyAbout('waiting-window', plan, `${plan.service}/${plan.environment}: ${plan.release.commit.slice(0, 7)} waits for its change window`, question, [cli('override-window', plan, ' --reason "<why>"'), cli('abort', plan, ' --reason "<why>"')]);
      return { waiting: true, until: e.window.until };
    }
    case 'recordRefused': {
      // Turned away before it changed anything (a rollback while another execution runs, nothing to roll back to, a
      // rollback's redeploy finding the lock held): no lock is taken, but the record says it was refused.
      const plan = e.plan as unknown as (DeploymentPlan | RollbackPlan) & { reason?: string };
      const isRollback = 'kind' in plan && plan.kind === 'rollback';
      const deploy = plan as DeploymentPlan;
      const message = `${plan.service}/${plan.environment}: ${isRollback ? `the rollback ("${plan.reason ?? ''}")` : `release ${deploy.release?.commit?.slice(0, 7) ?? '?'}`} was refused: ${e.error}: ${causeText(e.message)}. Nothing was changed.`;
      const created = await ledger.putNewRecord({
        ...deploymentKey(plan),
        deploymentId: plan.deploymentId,
        executionArn: plan.executionArn,
        service: plan.service,
        environment: plan.environment,
        status: 'refused',
        commit: isRollback ? '-' : (deploy.release?.commit ?? '-'),
        image: isRollback ? '-' : (deploy.image ?? '-'),
        trigger: plan.trigger ?? { source: 'console' },
        startedAt: plan.startedAt,
        finishedAt: now.toISOString(),
        error: e.error,
        message,
        kind: isRollback ? 'rollback' : 'deploy',
        ...(isRollback && plan.reason ? { reason: plan.reason } : {}),
      });
      if (created) {
        await audit(
          { service: plan.service, environment: plan.environment, kind: isRollback ? 'rollback-finished' : 'deployment-finished', deploymentId: plan.deploymentId, executionArn: plan.executionArn, actor: actorOf(plan.trigger), message, detail: { status: 'refused', error: e.error } },
          `${plan.deploymentId}-refused`,
        );
        await notifyAbout('refused', plan, `${plan.service}/${plan.environment}: ${isRollback ? 'rollback' : 'deployment'} refused`, message, [cli('status', plan)]);
      }
      return { status: 'refused', error: e.error, message };
    }
    case 'checkPromotion': {
      // This environment accepts only releases that succeeded in promotion.from (or an operator's recorded override).
      const plan = e.plan as unknown as DeploymentPlan;
      const from = plan.promotion!.from;
      const decision = decidePromotable(plan, await ledger.history(plan.service, from, 200));
      const override = plan.promotionOverride;
      if (!decision.promotable && !override) throw new NotPromotableError(decision.message);
      await ledger.clearOffer(plan.service, plan.environment, plan.release.commit);
      if (!decision.promotable && override) {
        const by = override.operator ?? actorOf(plan.trigger);
        await ledger.setRecordFields(plan, { promotionOverride: { by, reason: override.reason, at: now.toISOString() } });
        await audit(
          { service: plan.service, environment: plan.environment, kind: 'operator-action', deploymentId: plan.deploymentId, actor: by, message: `forced the promotion of ${plan.release.commit.slice(0, 7)}, which did not succeed in ${from}; reason: ${override.reason}`, detail: { action: 'force-promotion', reason: override.reason, from } },
          `${plan.deploymentId}-force-promotion`,
        );
        return { promotable: false, overridden: true, image: plan.image, message: decision.message };
      }
      const ok = decision as Extract<typeof decision, { promotable: true }>;
      await audit(
        { service: plan.service, environment: plan.environment, kind: 'promotion', deploymentId: plan.deploymentId, actor: actorOf(plan.trigger), message: `promoting: ${ok.message}`, detail: { from, fromDeploymentId: ok.from.deploymentId, image: ok.from.image } },
        `${plan.deploymentId}-promotable`,
      );
      // The promoted release runs the image `from` ran (pinned by digest there).
      return { promotable: true, from: ok.from.deploymentId, image: ok.from.image, message: ok.message };
    }
    case 'offerPromotion': {
      // After the soak: promote (auto) or offer the release to the environments that promote from this one.
      const state = e.deployment as unknown as DeploymentState;
      const plan = state.plan;
      const record = (await ledger.history(plan.service, plan.environment, 50)).find((r) => r.deploymentId === plan.deploymentId);
      const alarming = plan.alarms.length ? (await describeAlarmStates(plan.alarms)).filter((a) => a.state === 'ALARM').map((a) => a.name) : [];
      const decision = decideOffer(record, alarming);
      const release = promotedRelease(plan);
      if (!decision.offer) {
        const message = `release ${plan.release.commit.slice(0, 7)} is not promoted from ${plan.environment} to ${plan.promotesTo.map((p) => p.environment).join(', ')}: ${decision.why}`;
        await audit({ service: plan.service, environment: plan.environment, kind: 'promotion', deploymentId: plan.deploymentId, actor: 'cutover', message, detail: { promoted: false, why: decision.why } }, `${plan.deploymentId}-not-promoted`);
        logger.info('not promoted', { deploymentId: plan.deploymentId, why: decision.why });
        return { start: [], offered: [], message };
      }
      const start: Array<{ name: string; environment: string; input: ExplicitDeployInput }> = [];
      const offered: string[] = [];
      for (const target of plan.promotesTo) {
        if (target.auto) {
          const name = promotionExecutionName(plan.deploymentId, target.environment);
          start.push({ name, environment: target.environment, input: promotionInput(plan.service, target.environment, release, 'cutover') });
          await audit({ service: plan.service, environment: target.environment, kind: 'promotion', deploymentId: name, actor: 'cutover', message: `release ${release.commit.slice(0, 7)} succeeded in ${plan.environment} (deployment ${plan.deploymentId}): promoting it here (${release.image})`, detail: { from: plan.environment, fromDeploymentId: plan.deploymentId, image: release.image, auto: true } }, `${plan.deploymentId}-promote`);
        } else {
          await ledger.putOffer(plan.service, target.environment, { deploymentId: plan.deploymentId, fromEnvironment: plan.environment, commit: release.commit, image: release.image, migrations: release.migrations, ...(release.message ? { message: release.message } : {}), ...(release.committedAt ? { committedAt: release.committedAt } : {}), offeredAt: now.toISOString() });
          offered.push(target.environment);
          const command = cli('promote-release', { service: plan.service, environment: target.environment });
          const text = `Release ${release.commit.slice(0, 7)}${release.message ? ` ("${release.message}")` : ''} succeeded in ${plan.environment} (deployment ${plan.deploymentId}) and is offered to ${target.environment}: the same image ${release.image}. Deploy it with: ${command}`;
          await audit({ service: plan.service, environment: target.environment, kind: 'promotion', actor: 'cutover', message: text, detail: { from: plan.environment, fromDeploymentId: plan.deploymentId, image: release.image, auto: false } }, `${plan.deploymentId}-offer`);
          await notifyAbout('promotion-offered', { service: plan.service, environment: target.environment, deploymentId: plan.deploymentId }, `${plan.service}/${target.environment}: promote ${release.commit.slice(0, 7)}?`, text, [command]);
        }
      }
      return { start, offered, message: `promoted to ${start.map((x) => x.environment).join(', ') || 'none'}; offered to ${offered.join(', ') || 'none'}` };
    }
    case 'trafficRestored': {
      // The deploy's Rollback step moved production back: when, and since when it was failing (DORA time to restore).
      const state = e.deployment as unknown as DeploymentState;
      const plan = state.plan;
      const back = state.rollback?.traffic;
      const hadTraffic = (state.traffic?.percent ?? 0) > 0;
      if (!hadTraffic || !back || back.idleHasTraffic) return { recorded: false };
      const detectedAt = await detectionTime(plan, plan.startedAt);
      await ledger.setRecordFields(plan, {}, { trafficAt: now.toISOString(), detectedAt, restoredAt: now.toISOString() });
      publishMetrics(plan.service, plan.environment, doraMetricValues({ kind: 'restored', detectedAt, restoredAt: now.toISOString() }));
      return { recorded: true, detectedAt, restoredAt: now.toISOString() };
    }
    case 'rollbackTrafficMoved': {
      // The rollback got production onto its target: the environment state says so now, not only after a database decision.
      const state = e.rollback as unknown as RollbackState;
      const plan = state.plan;
      const t = state.rollbackTarget;
      if (!t) return { recorded: false };
      if (t.mode === 'kept-slot' && state.traffic?.idleHasTraffic === false) {
        await ledger.recordRollback(plan, { ...t.target, slot: t.slots.live }, t.from, now);
      } else {
        await ledger.markRolledBack(plan, t.from, now);
      }
      const detectedAt = await detectionTime(plan, t.from.promotedAt ?? plan.startedAt, t.from.deploymentId, plan.startedAt);
      await ledger.setRecordFields(plan, {}, { detectedAt, restoredAt: now.toISOString() });
      publishMetrics(plan.service, plan.environment, [...(t.from.deploymentId ? doraMetricValues({ kind: 'rolled-back-later' }) : []), ...doraMetricValues({ kind: 'restored', detectedAt, restoredAt: now.toISOString() })]);
      await audit({ service: plan.service, environment: plan.environment, kind: 'waiting', deploymentId: plan.deploymentId, actor: 'cutover', message: `production traffic is on ${t.target.commit ? `release ${t.target.commit.slice(0, 7)}` : `the release on ${t.slots.live}`} again`, detail: { restoredAt: now.toISOString(), detectedAt } }, `${plan.deploymentId}-traffic-restored`);
      return { recorded: true, detectedAt, restoredAt: now.toISOString() };
    }
    case 'beginChanges': {
      const plan = e.plan as unknown as DeploymentPlan;
      await ledger.clearPending(plan);
      await ledger.setRecordFields(plan, {}, { changesStartedAt: now.toISOString() });
      await reportGitHub(plan, { kind: 'in-progress' });
      const closed = await ledger.closeRollbackWindow(plan.service, plan.environment);
      const pinned = e.image?.checked ? ` (pinned: ${plan.image})` : '';
      await audit(
        { service: plan.service, environment: plan.environment, kind: 'gates-passed', deploymentId: plan.deploymentId, actor: 'cutover', message: `the image is there${pinned}: the deployment starts changing things`, detail: { image: plan.image } },
        `${plan.deploymentId}-gates-passed`,
      );
      if (closed) {
        await audit(
          { service: plan.service, environment: plan.environment, kind: 'rollback-window-closed', deploymentId: plan.deploymentId, actor: 'cutover', message: `deployment ${plan.deploymentId} closed the rollback window: it reuses the kept slot` },
          `${plan.deploymentId}-closed-window`,
        );
      }
      return { closedRollbackWindow: closed };
    }
    case 'awaitDatabaseDecision': {
      const state = e.deployment as unknown as DeploymentState | RollbackState;
      const plan = state.plan;
      const snapshot = 'kind' in plan && plan.kind === 'rollback' ? (state as RollbackState).rollbackTarget?.database.snapshot : (state as DeploymentState).snapshot;
      const since = snapshot?.createdAt;
      // Only a known, non-negative age is worth saying (the twin's databases run on the simulated clock).
      const minutes = minutesSince(since, now);
      const age = minutes !== undefined ? ` (the last ${minutes} min)` : '';
      const window = since ? `every write made since ${since}${age}` : 'every write made since the snapshot';
      const migration = 'kind' in plan && plan.kind === 'rollback' ? undefined : (state as DeploymentState).migration;
      const what =
        'kind' in plan && plan.kind === 'rollback'
          ? `rollback ${plan.deploymentId} moved production back to the previous release`
          : migration?.status === 'UNKNOWN'
            ? `deployment ${plan.deploymentId} could not read its migration task's status (${migration.message ?? 'no detail'}), so the migration may still be running: check the task (and stop it) before you restore`
            : `deployment ${plan.deploymentId} failed after its migrations ran`;
      const question =
        `${plan.service}/${plan.environment}: ${what}. Restore snapshot ${snapshot?.identifier} (discards ${window}) or keep the database as it is? ` +
        `Answer with SendTaskSuccess {"decision":"restore"} or {"decision":"keep"}; without an answer in ${DATABASE_DECISION_TIMEOUT_SECONDS / 3600} h the database is kept.`;
      await ledger.setPendingDecision(plan as DeploymentPlan, e.taskToken, question, now, DATABASE_DECISION_TIMEOUT_SECONDS);
      await audit({ service: plan.service, environment: plan.environment, kind: 'waiting', deploymentId: plan.deploymentId, actor: 'cutover', message: 'awaiting a database decision (restore the snapshot or keep)', detail: { snapshot } });
      await notifyAbout('awaiting-decision', plan, `${plan.service}/${plan.environment}: restore the database?`, question, [
        cli('approve', plan, ' --decision restore'),
        cli('approve', plan, ' --decision keep'),
      ]);
      logger.warn('operator decision needed', { deploymentId: plan.deploymentId, question });
      return { waiting: true };
    }
    case 'beginRollback':
      return beginRollback(ledger, e.plan as unknown as RollbackPlan);
    case 'lockRollback': {
      const plan = e.plan as unknown as RollbackPlan;
      const target = e.rollbackTarget as unknown as RollbackTarget;
      return ledger.takeLock(plan.service, plan.environment, { deploymentId: plan.deploymentId, executionArn: plan.executionArn, commit: target.target.commit ?? '-', purpose: 'rollback' }, now);
    }
    case 'finishRollback': {
      const state = e.rollback as unknown as RollbackState;
      const plan = state.plan;
      const outcome = decideRollbackOutcome(state, e.outcome);
      await ledger.updateRecord(plan, outcome, now);
      const t = state.rollbackTarget;
      if (outcome.status === 'rolled-back' && t && !state.trafficRecorded?.recorded) {
        if (t.mode === 'kept-slot' && state.traffic?.idleHasTraffic === false) {
          await ledger.recordRollback(plan, { ...t.target, slot: t.slots!.live }, t.from, now);
        } else {
          // The redeploy's own Promote made the target `current`; mark the release it replaced.
          await ledger.markRolledBack(plan, t.from, now);
        }
      }
      await ledger.releaseLock(plan.service, plan.environment, plan.executionArn);
      await audit({ service: plan.service, environment: plan.environment, kind: 'rollback-finished', deploymentId: plan.deploymentId, executionArn: plan.executionArn, actor: actorOf(plan.trigger), message: outcome.message, detail: { status: outcome.status, error: outcome.error, mode: t?.mode } });
      await notifyAbout(outcome.status === 'rolled-back' ? 'rollback-finished' : 'failed', plan, `${plan.service}/${plan.environment}: rollback ${outcome.status}`, outcome.message, [cli('status', plan)]);
      logger.info('rollback finished', { deploymentId: plan.deploymentId, status: outcome.status, message: outcome.message });
      return outcome;
    }
    case 'closeWindow':
      return closeWindow(ledger, e.plan as unknown as DeploymentPlan, e.executionArn, eventTime([e.executionStartTime], now).getTime() + e.windowSeconds * 1000);
    case 'windowCloseFailed':
      return windowCloseFailed(e.plan as unknown as DeploymentPlan, e.executionArn, e.slots?.idle, e.error);
    case 'releaseLock':
      await ledger.releaseLock(e.service, e.environment, e.executionArn);
      return { released: true };
  }

  /** The checks gate's decision for the plan's commit, read from GitHub now. */
  async function readChecksDecision(plan: DeploymentPlan): Promise<ChecksDecision> {
    const { checkRuns, statuses } = await readChecks(plan.github!, plan.github!.repository, plan.release.commit);
    const decision = decideChecks(plan.checks!.required, checkRuns, statuses, plan.release.commit);
    logger.info('checks gate', { deploymentId: plan.deploymentId, status: decision.status, ...(decision.status === 'pending' ? { waitingFor: decision.waitingFor } : {}), ...(decision.status === 'failed' ? { check: decision.check } : {}) });
    return decision;
  }

  /**
   * When the failure was detected: the newest alarm event on the audit timeline of this execution (or
   * of `about`, the deployment a rollback takes production away from) at or after `since`, else
   * `fallback` (default now: the step that noticed it; a rollback's start for an operator's rollback). ISO-8601.
   */
  async function detectionTime(plan: { service: string; environment: string; deploymentId: string }, since: string, about?: string, fallback: string = now.toISOString()): Promise<string> {
    const events = await ledger.timeline(plan.service, plan.environment, { limit: 50 });
    const alarm = events.find((ev) => ev.kind === 'alarm' && ev.at >= since && (ev.deploymentId === plan.deploymentId || (about !== undefined && ev.deploymentId === about)));
    const t = alarm?.at ?? fallback;
    // An alarm that reached cutover after the step (a slow event) never makes the detection later than now.
    return t < now.toISOString() ? t : now.toISOString();
  }

  /** Report to GitHub (best effort); a failure is audited, never thrown. */
  async function reportGitHub(plan: DeploymentPlan, event: DeploymentEvent): Promise<void> {
    const report = await reportToGitHub(plan, event);
    if (report.reported || !plan.github?.deployments) return;
    await audit({ service: plan.service, environment: plan.environment, kind: 'notification', deploymentId: plan.deploymentId, actor: 'cutover', message: `the GitHub deployment status (${event.kind}) could not be posted; the deployment goes on: ${report.reason}`.slice(0, 1000), detail: { github: 'failed', event: event.kind } });
  }

  /** `awaitLock`: queue the deployment behind the lock's holder (see the module doc). */
  async function awaitLock(plan: DeploymentPlan, token: string): Promise<unknown> {
    const me: PushRef = { deploymentId: plan.deploymentId, startedAt: plan.startedAt, commit: plan.release.commit };
    const base = { service: plan.service, environment: plan.environment, deploymentId: plan.deploymentId, executionArn: plan.executionArn };
    /**
     * Fail the wait of `older` (a queued push, or a lock holder at a gate) with `Cutover.Superseded`; when
     * that wait was still open, note `supersededBy` on its record and audit it.
     */
    const supersede = async (older: PushRef & { executionArn: string }, taskToken: string, where: 'queued' | PendingKind) => {
      if ((await failTask(taskToken, 'Cutover.Superseded', supersededCause(older, me, where))) !== 'answered') return;
      await ledger.markSupersededBy({ service: plan.service, environment: plan.environment, startedAt: older.startedAt, deploymentId: older.deploymentId }, plan.deploymentId);
      const waiting = where === 'queued' ? 'while queued' : `while waiting for its ${where}`;
      await audit(
        { ...base, deploymentId: older.deploymentId, executionArn: older.executionArn, kind: 'superseded', actor: 'cutover', message: `superseded by the newer push ${plan.deploymentId} (${plan.release.commit.slice(0, 7)}) ${waiting}`, detail: { by: plan.deploymentId } },
        `${older.deploymentId}-superseded`,
      );
    };
    if (await ledger.putQueuedRecord(plan)) await reportGitHub(plan, { kind: 'queued' });
    for (let attempt = 0; attempt < 5; attempt++) {
      const queued = await ledger.getQueued(plan.service, plan.environment);
      const holder = await ledger.getLock(plan.service, plan.environment);
      const decision = decideQueue(me, queued, holder, now);
      if (decision.action === 'superseded') {
        await failTask(token, 'Cutover.Superseded', supersededCause(me, decision.by, 'queued'));
        await ledger.markSupersededBy(plan, decision.by.deploymentId);
        return { waiting: false, supersededBy: decision.by.deploymentId };
      }
      if (decision.action === 'give-up') {
        await failTask(
          token,
          'Cutover.LockWaitTimedOut',
          `${plan.service}/${plan.environment} was locked for the ${Math.floor(LOCK_WAIT_MAX_SECONDS / 86_400)} days this deployment waited (now by ${holder?.deploymentId ?? 'nobody'}); nothing was changed. Start it again: ${cli('deploy', plan, ` --commit ${plan.release.commit}`)}`,
        );
        return { waiting: false, gaveUp: true };
      }
      if (!(await ledger.enqueue(plan, token, now, queued?.executionArn))) continue; // the queue changed: decide again
      if (decision.replaces && queued) await supersede(queued, queued.taskToken, 'queued');
      if (decision.supersedeHolder && holder?.pendingTaskToken && holder.startedAt) {
        await supersede({ ...holder, startedAt: holder.startedAt }, holder.pendingTaskToken, holder.pendingKind!);
      }
      const behind = holder ? `${lockHolderWhat(holder.purpose)} ${holder.deploymentId} (${holder.commit.slice(0, 7)})` : 'nothing';
      await audit({ ...base, kind: 'queued', actor: actorOf(plan.trigger), message: `queued behind ${behind}: deploys when the lock is released, unless a newer push comes first`, detail: { commit: plan.release.commit, behind: holder?.deploymentId } }, `${plan.deploymentId}-queued`);
      // A release between AcquireLock and the queue item woke nobody: look at the lock again.
      if (!(await ledger.getLock(plan.service, plan.environment))) {
        await succeedTask(token, { lockReleasedBy: 'before-queued' });
        return { waiting: false, lockFree: true };
      }
      if (attempt === 0 || decision.replaces) {
        await notifyAbout('queued', plan, `${plan.service}/${plan.environment}: ${plan.release.commit.slice(0, 7)} queued`, `Deployment ${plan.deploymentId} of ${plan.release.commit.slice(0, 7)} is queued behind ${behind}; it deploys when that ends, unless a newer push comes first.`, [cli('status', plan)]);
      }
      logger.info('queued behind the lock holder', { deploymentId: plan.deploymentId, behind: holder?.deploymentId, replaced: decision.replaces?.deploymentId, supersededHolder: decision.supersedeHolder });
      return { waiting: true, behind: holder?.deploymentId ?? null };
    }
    throw new Error(`the deploy queue of ${plan.service}/${plan.environment} kept changing while ${plan.deploymentId} tried to join it; retrying`);
  }

  /**
   * A deployment that just began waiting at a gate (image, scan, checks) has changed nothing: when a
   * newer push is queued, fail its wait with `Cutover.Superseded` (the newer push deploys instead).
   */
  async function failIfSuperseded(plan: DeploymentPlan, token: string, where: PendingKind): Promise<boolean> {
    const queued = await ledger.getQueued(plan.service, plan.environment);
    if (!queued || queued.deploymentId === plan.deploymentId) return false;
    const me: PushRef = { deploymentId: plan.deploymentId, startedAt: plan.startedAt, commit: plan.release.commit };
    if (!isNewerPush(queued, me)) return false;
    await failTask(token, 'Cutover.Superseded', supersededCause(me, queued, where));
    await ledger.markSupersededBy(plan, queued.deploymentId);
    logger.info('superseded at a gate by a queued push', { deploymentId: plan.deploymentId, by: queued.deploymentId, where });
    return true;
  }

  async function auditFinish(state: DeploymentState, outcome: Outcome): Promise<void> {
    const p = state.plan;
    const base = { service: p.service, environment: p.environment, deploymentId: p.deploymentId, executionArn: p.executionArn };
    // Answers to the deployment's waits, whoever sent them (the CLI, the console, the SDK). The CLI
    // records its own action as it sends it; those are not recorded twice.
    const recorded = (await ledger.timeline(p.service, p.environment, { deploymentId: p.deploymentId, limit: 100 })).filter((e) => e.kind === 'operator-action');
    const operatorAction = async (action: string, actor: string, message: string) => {
      if (recorded.some((e) => e.actor === actor && e.detail?.action === action)) return;
      await audit({ ...base, kind: 'operator-action', actor, message, detail: { action } }, `${p.deploymentId}-${action}`);
    };
    if (state.approval?.operator) await operatorAction('approve', state.approval.operator, `approved the deployment${state.approval.comment ? `: ${state.approval.comment}` : ''}`);
    if (state.promoteNow?.operator) await operatorAction('promote', state.promoteNow.operator, 'promoted now: skipped the remaining bakes');
    const f = state.failure;
    if (f && (f.Error === 'Cutover.Aborted' || f.Error === 'Cutover.Rejected')) {
      const verb = f.Error === 'Cutover.Aborted' ? 'abort' : 'reject';
      await operatorAction(verb, operatorIn(f.Cause) ?? 'operator', `${verb === 'abort' ? 'aborted' : 'rejected'} the deployment: ${f.Cause ?? ''}`);
    }
    if (f?.Error === 'Cutover.AlarmFiring') await audit({ ...base, kind: 'alarm', actor: 'alarm', message: f.Cause ?? 'an alarm fired' }, `${p.deploymentId}-alarm`);
    await audit(
      { ...base, kind: 'deployment-finished', actor: 'cutover', message: outcome.message, detail: { status: outcome.status, error: outcome.error, liveSlot: outcome.liveSlot, startedAt: p.startedAt } },
      `${p.deploymentId}-finished`,
    );
  }

  async function beginRollback(ledger: Ledger, plan: RollbackPlan): Promise<RollbackTarget> {
    const who = `${plan.service}/${plan.environment}`;
    try {
      await ledger.takeLock(plan.service, plan.environment, { deploymentId: plan.deploymentId, executionArn: plan.executionArn, commit: '-', purpose: 'rollback' }, now);
    } catch (err) {
      if (!(err instanceof DeploymentInProgressError)) throw err;
      throw new DeploymentInProgressError(
        `${err.message} A rollback cannot run beside it. If it is a deployment, abort it instead (cutover abort ${plan.service} ${plan.environment} --reason "<why>", or SendTaskFailure "Cutover.Aborted" on its wait): it rolls back by itself.`,
      );
    }
    try {
      const target = await decideRollback(ledger, plan, who);
      // A redeploy's child execution takes the lock itself; the rollback takes it back for the database step.
      // The queue is not woken: the redeploy goes first, a queued push after it.
      if (target.mode === 'redeploy') await ledger.releaseLock(plan.service, plan.environment, plan.executionArn, { wake: false });
      return target;
    } catch (err) {
      await ledger.releaseLock(plan.service, plan.environment, plan.executionArn);
      throw err;
    }
  }

  async function decideRollback(ledger: Ledger, plan: RollbackPlan, who: string): Promise<RollbackTarget> {
    const env = await ledger.getEnvironment(plan.service, plan.environment);
    const history = env?.current ? await ledger.history(plan.service, plan.environment, 100) : [];
    const target = chooseRollbackTarget({ plan, environment: env, history, actor: actorOf(plan.trigger) });
    const { message, mode, from } = target;
    await ledger.putNewRecord({
      ...deploymentKey(plan),
      deploymentId: plan.deploymentId,
      executionArn: plan.executionArn,
      service: plan.service,
      environment: plan.environment,
      status: 'in-progress',
      commit: target.target.commit ?? '-',
      image: target.target.image ?? '-',
      trigger: plan.trigger,
      startedAt: plan.startedAt,
      kind: 'rollback',
      reason: plan.reason,
    });
    await audit(
      { at: plan.startedAt, service: plan.service, environment: plan.environment, kind: 'rollback-started', deploymentId: plan.deploymentId, executionArn: plan.executionArn, actor: actorOf(plan.trigger), message: `rollback (${plan.reason}): ${message}`, detail: { mode, target: target.target, from, source: plan.trigger.source } },
      `${plan.deploymentId}-started`,
    );
    await notifyAbout('rollback-started', plan, `${who}: rolling back ${from.commit?.slice(0, 7) ?? ''}`.trim(), `Rollback ${plan.deploymentId} started by ${actorOf(plan.trigger)}: ${plan.reason}. It will ${message}.`, [cli('status', plan)]);
    return target;
  }

  /**
   * The kept slot could not be scaled down when the window ended: release the lock (this execution's),
   * record it on the audit timeline and notify, naming the slot left running and how to scale it down.
   */
  async function windowCloseFailed(plan: DeploymentPlan, executionArn: string, kept: SlotName | undefined, error: { Error: string; Cause?: string }): Promise<{ message: string }> {
    await ledger.releaseLock(plan.service, plan.environment, executionArn);
    const slot = kept ? plan.slots[kept] : undefined;
    const what = kept && slot ? `${kept} (ECS service ${slot.service} in cluster ${plan.cluster})` : 'the kept slot';
    const message =
      error.Error === 'Cutover.EnvironmentBusy'
        ? `${plan.service}/${plan.environment}: the rollback window of ${plan.deploymentId} ended, but ${causeText(error.Cause).replace(/\.+$/, '')}. ` +
          `If that execution deployed, the kept slot is its own now; if it failed before deploying, ${what} still runs the previous release: scale it down by hand, or the next deployment reuses it.`
        : `${plan.service}/${plan.environment}: the rollback window of ${plan.deploymentId} ended, but scaling ${what} down failed ` +
          `(${error.Error}: ${causeText(error.Cause).replace(/\.+$/, '')}). It keeps running the previous release; the next deployment reuses it, or scale it down by hand.`;
    const actions = slot ? [`aws ecs update-service --cluster ${plan.cluster} --service ${slot.service} --desired-count 0`] : [];
    await audit(
      { service: plan.service, environment: plan.environment, kind: 'rollback-window-close-failed', deploymentId: plan.deploymentId, executionArn, actor: 'cutover', message, detail: { keptSlot: kept, error: error.Error } },
      `${plan.deploymentId}-window-close-failed`,
    );
    await notifyAbout('failed', plan, `${plan.service}/${plan.environment}: rollback window close failed`, message, actions);
    logger.error('rollback window close failed', { deploymentId: plan.deploymentId, error: error.Error });
    return { message };
  }

  async function closeWindow(
    ledger: Ledger,
    plan: DeploymentPlan,
    executionArn: string,
    windowEndedAt: number,
  ): Promise<{ action: 'scale-down' | 'superseded' | 'busy' | 'give-up'; message: string; retryInSeconds?: number }> {
    const env = await ledger.getEnvironment(plan.service, plan.environment);
    if (env?.current?.deploymentId !== plan.deploymentId) {
      return { action: 'superseded', message: `deployment ${plan.deploymentId} is no longer the live release; the slots belong to what came after it` };
    }
    try {
      await ledger.takeLock(plan.service, plan.environment, { deploymentId: plan.deploymentId, executionArn, commit: plan.release.commit, purpose: 'rollback-window' }, now);
    } catch (err) {
      if (err instanceof DeploymentInProgressError) {
        const busy = decideWindowBusy(windowEndedAt, now);
        if (busy.kind === 'retry') return { action: 'busy', retryInSeconds: busy.retryInSeconds, message: 'a deployment or rollback is running; it owns the kept slot now' };
        return {
          action: 'give-up',
          message: `a deployment or rollback has held ${plan.service}/${plan.environment} for ${Math.floor(busy.busySeconds / 3600)} h since the rollback window of ${plan.deploymentId} ended (${err.message.replace(/\.+$/, '')}); the closer stops trying`,
        };
      }
      throw err;
    }
    const again = await ledger.getEnvironment(plan.service, plan.environment);
    if (again?.current?.deploymentId !== plan.deploymentId) {
      await ledger.releaseLock(plan.service, plan.environment, executionArn);
      return { action: 'superseded', message: `deployment ${plan.deploymentId} is no longer the live release` };
    }
    await ledger.closeRollbackWindow(plan.service, plan.environment, plan.deploymentId);
    const kept = otherSlot(again.current.slot);
    await audit(
      { service: plan.service, environment: plan.environment, kind: 'rollback-window-closed', deploymentId: plan.deploymentId, actor: 'cutover', message: `the rollback window of ${plan.deploymentId} ended: scaling ${kept} (the previous release) down to 0 tasks`, detail: { keptSlot: kept, seconds: plan.rollbackWindowSeconds } },
      `${plan.deploymentId}-window-closed`,
    );
    return { action: 'scale-down', message: `scaling ${kept} down: the rollback window of ${plan.deploymentId} is over` };
  }
};

/** The operator named in a cause like `<reason> (aborted by <operator>)`. */
function operatorIn(cause: string | undefined): string | undefined {
  return cause ? /\((?:aborted|rejected) by ([^)]+)\)\s*$/.exec(cause)?.[1] : undefined;
}

/** Fail `token` with `Cutover.Aborted` when an operator asked to abort while no wait was open. */
async function failIfAbortRequested(ledger: Ledger, plan: DeploymentPlan, token: string): Promise<boolean> {
  const lock = await ledger.getLock(plan.service, plan.environment);
  const request = lock?.executionArn === plan.executionArn ? lock.abortRequested : undefined;
  if (!request) return false;
  await failTask(token, 'Cutover.Aborted', `${request.reason} (aborted by ${request.by})`);
  logger.warn('abort requested earlier: failing the wait', { deploymentId: plan.deploymentId, by: request.by });
  return true;
}

/**
 * Fail `token` with `Cutover.AlarmFiring` when one of the plan's alarms is in ALARM now, or with
 * `Cutover.ResourceState` when one does not exist (as the alarm-check function does: a deleted or
 * misspelt alarm must not silently leave the wait unwatched).
 */
async function failIfAlarming(plan: DeploymentPlan, token: string, when: string): Promise<boolean> {
  if (plan.alarms.length === 0) return false;
  const check = checkAlarms(plan.alarms, await describeAlarmStates(plan.alarms), when);
  if (check.kind === 'ok') return false;
  await failTask(token, check.kind === 'missing' ? 'Cutover.ResourceState' : 'Cutover.AlarmFiring', check.message);
  logger.warn(check.kind === 'missing' ? 'alarm missing' : 'alarm already firing', { deploymentId: plan.deploymentId, cause: check.message });
  return true;
}
