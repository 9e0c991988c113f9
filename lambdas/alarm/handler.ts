/**
 * alarm — a watched CloudWatch alarm went to ALARM: end the bake it interrupts, now.
 *
 * Invoked by the EventBridge rule of lib/domain/alarm-events.ts (`alarmEventPattern`) with a
 * "CloudWatch Alarm State Change" event whose `detail.state.value` is `ALARM`. For each environment of
 * the config whose `alarms` name the alarm:
 *  - if a deployment is baking (the environment's lock holds a `bake` task token), it fails that token
 *    with `Cutover.AlarmFiring` and the alarm's name and reason (SendTaskFailure): the deploy state
 *    machine's `Bake` state catches it and rolls back at once, instead of at the bake's end;
 *  - a deployment that is not baking yet needs nothing: it checks the alarms before it moves traffic
 *    (`PreflightAlarms`) and when each bake starts (`awaitBake`), which closes the race with this event.
 * A token whose wait is already over (the bake just ended) is reported `closed`, not an error, so a
 * redelivered event is harmless (idempotent).
 *
 * Returns `{ alarm, reason, environments: [{ service, environment, action, deploymentId?, detail }] }`,
 * `action` one of `failed-bake` | `bake-already-over` | `not-baking` | `no-deployment`.
 * Throws: `Cutover.InvalidInput` for an event that is not an alarm state change (names the field);
 * `Cutover.Transient` on throttling (EventBridge retries the invocation).
 * Env: `CUTOVER_CONFIG`, `TABLE_NAME`.
 */
import { Ledger } from '../../lib/aws/ledger';
import { failTask } from '../../lib/aws/task-tokens';
import { configFromEnv } from '../../lib/config/load';
import { alarmReason, AlarmStateChangeSchema, environmentsWatching } from '../../lib/domain/alarm-events';
import { InvalidInputError } from '../../lib/domain/errors';
import { logger } from '../../lib/observability';

export interface AlarmAction {
  service: string;
  environment: string;
  action: 'failed-bake' | 'bake-already-over' | 'not-baking' | 'no-deployment';
  deploymentId?: string;
  detail: string;
}

function tableName(): string {
  const name = process.env.TABLE_NAME;
  if (!name) throw new Error('TABLE_NAME is not set: the alarm function needs the DynamoDB table name.');
  return name;
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
  const ledger = new Ledger(tableName());
  const environments: AlarmAction[] = [];
  for (const { service, environment } of environmentsWatching(configFromEnv(), alarm.detail.alarmName)) {
    const lock = await ledger.getLock(service, environment);
    if (!lock) {
      environments.push({ service, environment, action: 'no-deployment', detail: 'no deployment is running' });
      continue;
    }
    if (lock.pendingKind !== 'bake' || !lock.pendingTaskToken) {
      environments.push({ service, environment, action: 'not-baking', deploymentId: lock.deploymentId, detail: 'the deployment checks the alarms before it moves traffic and when each bake starts' });
      continue;
    }
    const answer = await failTask(lock.pendingTaskToken, 'Cutover.AlarmFiring', reason);
    const action = answer === 'answered' ? 'failed-bake' : 'bake-already-over';
    environments.push({
      service,
      environment,
      action,
      deploymentId: lock.deploymentId,
      detail: answer === 'answered' ? 'the bake ended with Cutover.AlarmFiring: the deployment rolls back now' : 'the bake was already over; its end-of-bake alarm check decides',
    });
    logger.warn('alarm during a bake', { alarm: alarm.detail.alarmName, service, environment, deploymentId: lock.deploymentId, action });
  }
  return { alarm: alarm.detail.alarmName, reason, environments };
};
