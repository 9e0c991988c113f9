/**
 * alarm — a watched CloudWatch alarm went to ALARM: act on it now.
 *
 * Invoked by the EventBridge rule of lib/domain/alarm-events.ts (`alarmEventPattern`) with a
 * "CloudWatch Alarm State Change" event whose `detail.state.value` is `ALARM`. For each environment of
 * the config whose `alarms` name the alarm:
 *  - a deployment is baking or waiting for approval (the environment's lock holds a `bake` /
 *    `approval` task token): fail that token with `Cutover.AlarmFiring` and the alarm's name and reason
 *    (SendTaskFailure); the deploy state machine rolls back at once, instead of at the bake's end;
 *  - a deployment is running but not in such a wait: nothing — it checks the alarms before it moves
 *    traffic (`PreflightAlarms`) and when each bake starts (`awaitBake`), which closes the race;
 *  - no deployment runs and the rollback window of the last promotion is open: start the rollback
 *    state machine, which flips production back to the kept slot (execution name from the event id,
 *    so a redelivered event starts nothing twice);
 *  - the window is over: with `alarmAfterWindow: redeploy` start the rollback state machine (it
 *    redeploys the last known good release); with `notify` (the default), and always when the live
 *    release is itself a rollback's redeploy, publish a notification naming the rollback command.
 *
 * Time: every decision is judged at the moment the alarm went to ALARM (`detail.state.timestamp`, else
 * the event's `time`, else the clock when it arrived): an event delivered late is judged by when it
 * fired. The decision itself is `decideAlarmAction` (lib/domain/ledger-decisions.ts), a pure function.
 *
 * Returns `{ alarm, reason, environments: [{ service, environment, action, deploymentId?, executionArn?, detail }] }`,
 * `action` one of `failed-bake` | `failed-approval` | `wait-already-over` | `not-baking` | `rollback-running` |
 * `rollback-started` | `rollback-already-started` | `notified` | `no-deployment`.
 * Throws: `Cutover.InvalidInput` for an event that is not an alarm state change (names the field);
 * `Cutover.Transient` on throttling (EventBridge retries the invocation).
 * Env: `CUTOVER_CONFIG`, `TABLE_NAME`, `ROLLBACK_STATE_MACHINE_ARN`, `NOTIFICATION_TOPIC_ARN` (optional).
 */
import { clockNow } from '../../lib/aws/clock';
import { requiredEnv } from '../../lib/aws/env';
import { Ledger } from '../../lib/aws/ledger';
import { notify } from '../../lib/aws/notify';
import { executionName, startExecutionByName } from '../../lib/aws/sfn';
import { failTask } from '../../lib/aws/task-tokens';
import { configFromEnv } from '../../lib/config/load';
import { alarmReason, AlarmStateChangeSchema, environmentsWatching, type AlarmStateChange } from '../../lib/domain/alarm-events';
import { InvalidInputError } from '../../lib/domain/errors';
import { decideAlarmAction, eventTime, type AlarmDecision } from '../../lib/domain/ledger-decisions';
import type { EnvironmentState } from '../../lib/domain/ledger-items';
import type { RollbackInput } from '../../lib/domain/rollback-input';
import { logger } from '../../lib/observability';

export interface AlarmAction {
  service: string;
  environment: string;
  action:
    | 'failed-bake'
    | 'failed-approval'
    | 'stopped-gate-rollback-started'
    | 'wait-already-over'
    | 'not-baking'
    | 'rollback-running'
    | 'rollback-started'
    | 'rollback-already-started'
    | 'notified'
    | 'no-deployment';
  deploymentId?: string;
  /** The rollback execution started (or already started for this event). */
  executionArn?: string;
  detail: string;
}

const env = (name: string, what: string) => requiredEnv(name, 'alarm', what);

export const handler = async (event: unknown): Promise<{ alarm: string; reason: string; environments: AlarmAction[] }> => {
  const parsed = AlarmStateChangeSchema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidInputError(`alarm: not a CloudWatch alarm state change event: ${issue.path.join('.') || '(event)'}: ${issue.message}`);
  }
  const alarm = parsed.data;
  const reason = alarmReason(alarm);
  if (alarm.detail.state.value !== 'ALARM') {
    return { alarm: alarm.detail.alarmName, reason, environments: [] };
  }
  // When the alarm fired: the time AWS gives, the clock only when the event carries none.
  const firedAt = eventTime([alarm.detail.state.timestamp, alarm.time], clockNow());
  const config = configFromEnv();
  const ledger = new Ledger(env('TABLE_NAME', 'the DynamoDB table name'));
  const environments: AlarmAction[] = [];
  for (const { service, environment } of environmentsWatching(config, alarm.detail.alarmName)) {
    const lock = await ledger.getLock(service, environment);
    // A deployment waiting for its image changed nothing: the live release (and its window) still matter.
    const state = lock && lock.pendingKind !== 'image' ? undefined : await ledger.getEnvironment(service, environment);
    const decision = decideAlarmAction({ lock, environment: state, alarmAfterWindow: config.services[service]!.environments[environment]!.alarmAfterWindow, firedAt });
    const action: AlarmAction = { service, environment, ...(await act(decision, { alarm, reason, service, environment, state, lock, firedAt, ledger })) };
    environments.push(action);
    await ledger.audit({
      // The event's own time: a redelivered event writes the same item again, not a second one.
      at: firedAt.toISOString(),
      service,
      environment,
      kind: 'alarm',
      ...(action.deploymentId ? { deploymentId: action.deploymentId } : {}),
      actor: `alarm:${alarm.detail.alarmName}`,
      message: `${reason} → ${action.action}: ${action.detail}`,
      detail: { action: action.action, eventId: alarm.id, ...(action.executionArn ? { executionArn: action.executionArn } : {}) },
    }, `alarm-${alarm.id}`);
    logger.warn('alarm', { alarm: alarm.detail.alarmName, service, environment, action: action.action, deploymentId: action.deploymentId });
  }
  return { alarm: alarm.detail.alarmName, reason, environments };
};

interface ActContext {
  readonly alarm: AlarmStateChange;
  readonly reason: string;
  readonly service: string;
  readonly environment: string;
  readonly state: EnvironmentState | undefined;
  /** The environment's lock when the decision was made (the deployment whose wait an alarm fails). */
  readonly lock?: { readonly deploymentId: string; readonly startedAt?: string };
  /** When the alarm went to ALARM (the event's own time). */
  readonly firedAt: Date;
  readonly ledger: Ledger;
}

/** Carry out the decision (SendTaskFailure, StartExecution or Publish) and say what happened. */
async function act(decision: AlarmDecision, c: ActContext): Promise<Omit<AlarmAction, 'service' | 'environment'>> {
  switch (decision.kind) {
    case 'rollback-running':
      return { action: 'rollback-running', deploymentId: decision.deploymentId, detail: `${decision.purpose} ${decision.deploymentId} holds the environment; it decides on its own` };
    case 'not-baking':
      return { action: 'not-baking', deploymentId: decision.deploymentId, detail: 'the deployment checks the alarms before it moves traffic and when each bake starts' };
    case 'no-deployment':
      return { action: 'no-deployment', detail: 'no deployment is running and cutover has promoted no release here yet' };
    case 'fail-wait': {
      // The failure is detected now, at the alarm's own time (DORA time to restore starts here): on the
      // record before the token fails, so the rollback's own record of it finds it.
      if (c.lock?.startedAt && c.lock.deploymentId === decision.deploymentId) {
        await c.ledger.setRecordFields({ service: c.service, environment: c.environment, startedAt: c.lock.startedAt, deploymentId: decision.deploymentId }, {}, { detectedAt: c.firedAt.toISOString() });
      }
      const answer = await failTask(decision.taskToken, 'Cutover.AlarmFiring', c.reason);
      if (answer === 'closed') {
        return { action: 'wait-already-over', deploymentId: decision.deploymentId, detail: `the ${decision.wait} was already over; the deployment's next alarm check decides` };
      }
      return {
        action: decision.wait === 'bake' ? 'failed-bake' : 'failed-approval',
        deploymentId: decision.deploymentId,
        detail: `the ${decision.wait === 'bake' ? 'bake' : 'approval wait'} ended with Cutover.AlarmFiring: the deployment rolls back now`,
      };
    }
    case 'notify': {
      const current = c.state!.current!;
      const rollbackCommand = `cutover rollback ${c.service} ${c.environment} --reason "<why>"`;
      const why =
        decision.why === 'live-is-rollback'
          ? 'the live release is itself a rollback\'s redeploy, so cutover does not roll back again by itself'
          : 'the rollback window is over and alarmAfterWindow is "notify"';
      await notify({
        kind: 'alarm',
        service: c.service,
        environment: c.environment,
        ...(current.deploymentId ? { deploymentId: current.deploymentId } : {}),
        subject: `${c.service}/${c.environment}: alarm ${c.alarm.detail.alarmName}`,
        message: `${c.reason}\nThe live release is ${current.commit?.slice(0, 7) ?? `on ${current.slot}`}${current.deploymentId ? ` (deployment ${current.deploymentId})` : ''}; ${why}.`,
        actions: [rollbackCommand, `cutover history ${c.service} ${c.environment}`],
      });
      return { action: 'notified', deploymentId: current.deploymentId, detail: `${why}; notified (roll back with: ${rollbackCommand})` };
    }
    case 'stop-gate-and-rollback': {
      const answer = await failTask(decision.taskToken, 'Cutover.AlarmFiring', `${c.reason} (the live release alarms inside its rollback window: this deployment, still waiting for its image, stops having changed nothing, and the live release rolls back)`);
      const started = await act({ kind: 'start-rollback', how: 'kept-slot', keptSlot: decision.keptSlot, ...(decision.deploymentId ? { deploymentId: decision.deploymentId } : {}) }, c);
      const stopped = answer === 'closed' ? `deployment ${decision.waitingDeploymentId} was no longer waiting for its image` : `deployment ${decision.waitingDeploymentId} (waiting for its image) stopped`;
      return { ...started, action: started.action === 'rollback-started' ? 'stopped-gate-rollback-started' : started.action, detail: `${stopped}; ${started.detail}` };
    }
    case 'start-rollback': {
      const input: RollbackInput = {
        service: c.service,
        environment: c.environment,
        reason: c.reason.slice(0, 500),
        trigger: { source: 'alarm', actor: `alarm:${c.alarm.detail.alarmName}`.slice(0, 255), deliveryId: c.alarm.id.slice(0, 128) },
      };
      const how = decision.how === 'kept-slot' ? `to the kept slot ${decision.keptSlot}` : 'by redeploying the last known good release';
      const started = await startExecutionByName({
        stateMachineArn: env('ROLLBACK_STATE_MACHINE_ARN', 'the rollback state machine ARN'),
        // Named by the event id: a redelivered event starts nothing twice.
        name: executionName(`alarm-${c.alarm.id}`),
        input,
      });
      if (started.alreadyStarted) {
        return { action: 'rollback-already-started', deploymentId: decision.deploymentId, executionArn: started.executionArn, detail: 'this alarm event already started a rollback (a redelivery)' };
      }
      return { action: 'rollback-started', deploymentId: decision.deploymentId, executionArn: started.executionArn, detail: `rolling ${decision.deploymentId ?? 'the live release'} back ${how}` };
    }
  }
}
