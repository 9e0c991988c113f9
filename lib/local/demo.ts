/**
 * The twin's demo, played by `npm start`: two real GitHub pushes through the webhook endpoint.
 *  1. A push of Codertocat/Hello-World master (the real @octokit/webhooks-examples payload, signed
 *     with the webhook secret) deploys: lock, snapshot, migrations, green, canary with alarm checks,
 *     promote, record, unlock.
 *  2. A second push; during its canary bake the service's alarm goes to ALARM (the scenario calls
 *     CloudWatch SetAlarmState). cutover rolls back on its own; the database policy of the sample
 *     config is `approve`, so the demo plays the operator and answers "keep".
 * Each outcome is checked against the simulated AWS state, not just the execution status.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { SendTaskSuccessCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import type { PushEvent } from '@octokit/webhooks-types';
import { cloudWatchClient, sfnClient } from '../aws/clients';
import type { Twin } from './twin';

const require = createRequire(import.meta.url);

/** The real push of a head commit to Codertocat/Hello-World refs/heads/master from @octokit/webhooks-examples. */
export function examplePush(): PushEvent {
  const defs = require('@octokit/webhooks-examples') as Array<{ name: string; examples: PushEvent[] }>;
  const push = defs
    .find((d) => d.name === 'push')
    ?.examples.find((p) => p.repository.full_name === 'Codertocat/Hello-World' && p.ref === 'refs/heads/master' && p.head_commit);
  if (!push) throw new Error('@octokit/webhooks-examples has no push to Codertocat/Hello-World master with a head commit');
  return structuredClone(push);
}

/** A later push on the same branch: same payload shape, a new head commit. */
export function nextPush(previous: PushEvent, message: string): PushEvent {
  const push = structuredClone(previous);
  const id = randomBytes(20).toString('hex');
  push.before = previous.after;
  push.after = id;
  push.head_commit = { ...push.head_commit!, id, tree_id: randomBytes(20).toString('hex'), message, timestamp: new Date().toISOString() };
  push.commits = [{ ...push.head_commit }];
  return push;
}

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

/** POST a push to the twin's webhook endpoint the way GitHub delivers it (signed, with GitHub's headers). */
export async function deliverPush(url: string, secret: string, push: unknown, deliveryId = randomUUID()): Promise<WebhookResponse> {
  const body = JSON.stringify(push);
  const res = await fetch(`${url}/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/cutover-demo',
      'x-github-event': 'push',
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export interface DemoCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DemoResult {
  ok: boolean;
  checks: DemoCheck[];
}

/** Play both pushes. Resolves with every check; `ok` only when both outcomes are as expected. */
export async function playDemo(twin: Twin, write: (line: string) => void = console.log): Promise<DemoResult> {
  const checks: DemoCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    write(`  ${ok ? '✔' : '✘'} ${name}: ${detail}`);
  };
  const [serviceName, service] = Object.entries(twin.config.services)[0]!;
  const [environmentName, env] = Object.entries(service.environments)[0]!;

  // 1. A push that deploys.
  const first = examplePush();
  write(`\n● Push 1: ${first.repository.full_name} ${first.ref} ${first.head_commit!.id.slice(0, 7)} "${first.head_commit!.message.split('\n')[0]}"`);
  const r1 = await deliverPush(twin.url, twin.webhookSecret, first);
  write(`  webhook → ${r1.status} ${JSON.stringify(r1.body)}`);
  const arn1 = String(r1.body.executionArn ?? '');
  const d1 = arn1 ? await twin.sfn.waitForExecution(arn1) : undefined;
  const weights1 = twin.sim.elbv2.weights(productionArn(env.production));
  const liveAfter1 = (weights1[env.slots.green.targetGroupArn] ?? 0) === 100 ? 'green' : (weights1[env.slots.blue.targetGroupArn] ?? 0) === 100 ? 'blue' : 'split';
  check(
    'push 1 deployed',
    r1.status === 202 && d1?.status === 'SUCCEEDED' && liveAfter1 !== 'split',
    `execution ${d1?.status ?? 'not started'}; production traffic 100% on ${liveAfter1}`,
  );

  // 2. A push whose canary trips the alarm.
  const second = nextPush(first, 'Release 2: a change that raises the error rate');
  const alarmName = env.alarms[0];
  write(`\n● Push 2: ${second.head_commit!.id.slice(0, 7)} "${second.head_commit!.message}" — its canary will trip ${alarmName ?? '(no alarm configured)'}`);
  let arn2 = '';
  let alarmSet = false;
  let answered = false;
  const unsubscribe = twin.sfn.onHistoryEvent((executionArn: string, event: HistoryEvent) => {
    if (executionArn !== arn2) return;
    const state = event.stateEnteredEventDetails?.name;
    if (event.type === 'WaitStateEntered' && state === 'Bake' && !alarmSet && alarmName) {
      alarmSet = true;
      void cloudWatchClient()
        .send(
          new SetAlarmStateCommand({
            AlarmName: alarmName,
            StateValue: 'ALARM',
            StateReason: 'Threshold Crossed: 1 out of the last 1 datapoints [12.0] was greater than the threshold (5.0).',
          }),
        )
        .then(() => write(`  ⚑ scenario: ${alarmName} → ALARM`));
    }
    if (event.type === 'TaskStateEntered' && state === 'AwaitDatabaseDecision' && !answered) {
      answered = true;
      void answerDecision(twin, serviceName, environmentName, executionArn, write);
    }
  });
  try {
    const r2 = await deliverPush(twin.url, twin.webhookSecret, second);
    write(`  webhook → ${r2.status} ${JSON.stringify(r2.body)}`);
    arn2 = String(r2.body.executionArn ?? '');
    const d2 = arn2 ? await twin.sfn.waitForExecution(arn2) : undefined;
    const weights2 = twin.sim.elbv2.weights(productionArn(env.production));
    const live = liveAfter1 === 'split' ? 'blue' : liveAfter1;
    const idle = live === 'blue' ? 'green' : 'blue';
    const onLive = weights2[env.slots[live].targetGroupArn] ?? 0;
    const idleService = twin.sim.ecs.describeService(env.cluster, env.slots[idle].service);
    const records = await twin.ledger.history(serviceName, environmentName, 5);
    const record = records.find((r) => arn2.endsWith(`:${r.deploymentId}`));
    check(
      'push 2 rolled back on alarm',
      r2.status === 202 &&
        d2?.status === 'FAILED' &&
        d2.error === 'Cutover.RolledBackOnAlarm' &&
        onLive === 100 &&
        idleService?.desiredCount === 0 &&
        record?.status === 'rolled-back',
      `execution ${d2?.status ?? 'not started'} (${d2?.error ?? '-'}); production traffic ${onLive}% on ${live}; ${idle} desired count ${idleService?.desiredCount ?? '?'}; record ${record?.status ?? 'missing'}`,
    );
  } finally {
    unsubscribe();
    if (alarmName) await cloudWatchClient().send(new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: 'OK', StateReason: 'demo reset' }));
  }
  return { ok: checks.every((c) => c.ok), checks };
}

function productionArn(route: { listenerArn: string } | { ruleArn: string }): string {
  return 'listenerArn' in route ? route.listenerArn : route.ruleArn;
}

/** Play the operator for the `approve` database policy: read the pending question, answer "keep". */
async function answerDecision(twin: Twin, service: string, environment: string, executionArn: string, write: (l: string) => void) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const record = (await twin.ledger.history(service, environment, 5)).find((r) => executionArn.endsWith(`:${r.deploymentId}`));
    if (record?.pendingTaskToken) {
      write(`  ? operator asked: ${record.pendingQuestion}`);
      await sfnClient().send(
        new SendTaskSuccessCommand({ taskToken: record.pendingTaskToken, output: JSON.stringify({ decision: 'keep', operator: 'demo operator' }) }),
      );
      write('  ✎ operator (demo) answered: keep the database');
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  write('  ! no pending database decision found');
}
