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
 * Returns `{ alarm, reason, environments: [{ service, environment, action, deploymentId?, executionArn?, detail }] }`,
 * `action` one of `failed-bake` | `failed-approval` | `wait-already-over` | `not-baking` | `rollback-running` |
 * `rollback-started` | `rollback-already-started` | `notified` | `no-deployment`.
 * Throws: `Cutover.InvalidInput` for an event that is not an alarm state change (names the field);
 * `Cutover.Transient` on throttling (EventBridge retries the invocation).
 * Env: `CUTOVER_CONFIG`, `TABLE_NAME`, `ROLLBACK_STATE_MACHINE_ARN`, `NOTIFICATION_TOPIC_ARN` (optional).
 */
import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { sfnClient } from '../../lib/aws/clients';
import { withRetryClassification } from '../../lib/aws/errors';
import { Ledger, type LockItem } from '../../lib/aws/ledger';
import { notify } from '../../lib/aws/notify';
import { failTask } from '../../lib/aws/task-tokens';
import { configFromEnv } from '../../lib/config/load';
import { alarmReason, AlarmStateChangeSchema, environmentsWatching, type AlarmStateChange } from '../../lib/domain/alarm-events';
import { InvalidInputError } from '../../lib/domain/errors';
import type { RollbackInput } from '../../lib/domain/rollback-input';
import { logger } from '../../lib/observability';

export interface AlarmAction {
  service: string;
  environment: string;
  action:
    | 'failed-bake'
    | 'failed-approval'
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

function env(name: string, what: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the alarm function needs ${what}.`);
  return value;
}

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
  const config = configFromEnv();
  const ledger = new Ledger(env('TABLE_NAME', 'the DynamoDB table name'));
  const environments: AlarmAction[] = [];
  for (const { service, environment } of environmentsWatching(config, alarm.detail.alarmName)) {
    const lock = await ledger.getLock(service, environment);
    const result = lock ? await duringExecution(lock, reason) : await afterPromotion(ledger, alarm, reason, service, environment, config.services[service]!.environments[environment]!.alarmAfterWindow);
    const action: AlarmAction = { service, environment, ...result };
    environments.push(action);
    await ledger.audit({
      // The event's own time: a redelivered event writes the same item again, not a second one.
      at: alarm.detail.state.timestamp && !Number.isNaN(Date.parse(alarm.detail.state.timestamp)) ? new Date(alarm.detail.state.timestamp).toISOString() : alarm.time ?? new Date().toISOString(),
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

/** A deployment (or rollback) holds the lock: end its bake or approval wait. */
async function duringExecution(lock: LockItem, reason: string): Promise<Omit<AlarmAction, 'service' | 'environment'>> {
  if (lock.purpose === 'rollback' || lock.purpose === 'rollback-window') {
    return { action: 'rollback-running', deploymentId: lock.deploymentId, detail: `${lock.purpose} ${lock.deploymentId} holds the environment; it decides on its own` };
  }
  if ((lock.pendingKind !== 'bake' && lock.pendingKind !== 'approval') || !lock.pendingTaskToken) {
    return { action: 'not-baking', deploymentId: lock.deploymentId, detail: 'the deployment checks the alarms before it moves traffic and when each bake starts' };
  }
  const answer = await failTask(lock.pendingTaskToken, 'Cutover.AlarmFiring', reason);
  if (answer === 'closed') {
    return { action: 'wait-already-over', deploymentId: lock.deploymentId, detail: `the ${lock.pendingKind} was already over; the deployment's next alarm check decides` };
  }
  return {
    action: lock.pendingKind === 'bake' ? 'failed-bake' : 'failed-approval',
    deploymentId: lock.deploymentId,
    detail: `the ${lock.pendingKind === 'bake' ? 'bake' : 'approval wait'} ended with Cutover.AlarmFiring: the deployment rolls back now`,
  };
}

/** No deployment runs: roll back the live release (inside the window, or per `alarmAfterWindow`), or notify. */
async function afterPromotion(
  ledger: Ledger,
  alarm: AlarmStateChange,
  reason: string,
  service: string,
  environment: string,
  afterWindow: 'notify' | 'redeploy',
): Promise<Omit<AlarmAction, 'service' | 'environment'>> {
  const state = await ledger.getEnvironment(service, environment);
  const current = state?.current;
  if (!state || !current) return { action: 'no-deployment', detail: 'no deployment is running and cutover has promoted no release here yet' };
  const rollbackCommand = `cutover rollback ${service} ${environment} --reason "<why>"`;
  // A window whose time is over is closing (or its closer could not run): treat it as over.
  const windowOpen = state.rollbackWindow !== undefined && !(Date.parse(state.rollbackWindow.until) < Date.now());
  if (!windowOpen && (afterWindow === 'notify' || current.source === 'rollback')) {
    const why =
      current.source === 'rollback'
        ? 'the live release is itself a rollback\'s redeploy, so cutover does not roll back again by itself'
        : 'the rollback window is over and alarmAfterWindow is "notify"';
    await notify({
      kind: 'alarm',
      service,
      environment,
      ...(current.deploymentId ? { deploymentId: current.deploymentId } : {}),
      subject: `${service}/${environment}: alarm ${alarm.detail.alarmName}`,
      message: `${reason}\nThe live release is ${current.commit?.slice(0, 7) ?? `on ${current.slot}`}${current.deploymentId ? ` (deployment ${current.deploymentId})` : ''}; ${why}.`,
      actions: [rollbackCommand, `cutover history ${service} ${environment}`],
    });
    return { action: 'notified', deploymentId: current.deploymentId, detail: `${why}; notified (roll back with: ${rollbackCommand})` };
  }
  const input: RollbackInput = {
    service,
    environment,
    reason: reason.slice(0, 500),
    trigger: { source: 'alarm', actor: `alarm:${alarm.detail.alarmName}`.slice(0, 255), deliveryId: alarm.id.slice(0, 128) },
  };
  const name = `alarm-${alarm.id}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80);
  const stateMachineArn = env('ROLLBACK_STATE_MACHINE_ARN', 'the rollback state machine ARN');
  const how = windowOpen ? `to the kept slot ${state.rollbackWindow!.keptSlot}` : 'by redeploying the last known good release';
  try {
    const out = await withRetryClassification(() => sfnClient().send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) })));
    return { action: 'rollback-started', deploymentId: current.deploymentId, executionArn: out.executionArn, detail: `rolling ${current.deploymentId ?? 'the live release'} back ${how}` };
  } catch (err) {
    if (!(err instanceof ExecutionAlreadyExists)) throw err;
    return { action: 'rollback-already-started', deploymentId: current.deploymentId, executionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`, detail: 'this alarm event already started a rollback (a redelivery)' };
  }
}
