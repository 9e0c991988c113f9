/**
 * The twin's demo, played by `npm start`: the sample application's releases v2, v3 and v4 pushed to
 * GitHub one after the other (real `@octokit/webhooks-examples` push payloads, signed with the
 * webhook secret), deployed by the real state machine onto the living twin while a load generator
 * sends steady traffic through the production listener.
 *
 *  1. v2 carries a schema migration (a new column with a backfill): snapshot → migration task →
 *     green → canary → promote, with zero failed requests.
 *  2. v3 answers part of its requests with 5xx: the error-count alarm goes to ALARM from the load
 *     balancer's real metrics, cutover rolls back, traffic returns to v2.
 *  3. v4's migration fails: schema and rows stay as they were, the deployment is recorded as failed
 *     with the migration's error.
 *  4. v5's image is never built: after `imageTimeoutSeconds` it fails with `Cutover.ImageNotFound`,
 *     having changed nothing (no snapshot, the lock released, production still on v2).
 *  5. v6's image has a critical vulnerability: the scan gate refuses it (`Cutover.ScanRefused`) before
 *     anything changes.
 *  6. v7 is healthy but `GET /orders/count` answers 503: its smoke test through the test listener fails
 *     (`verify`), and it is rolled back before the production listener ever forwards to it.
 *
 * Pushes play in the real order: the git push (webhook) first; the deployment takes the lock and waits
 * for the commit's required checks (`⏳ waiting for checks build, test`); "CI" reports them on the
 * twin's GitHub API double a simulated 45 s later (its `check_run` webhooks end the wait), then the
 * deployment waits for its image (`⏳ waiting for image …`), which "CI" pushes to the twin's ECR 45 s
 * after that; ECR's push event ends the wait, and the release is pinned by its digest.
 * Whenever the database policy (`approve`) asks an operator, the demo answers "keep": the migrations
 * are transactional, so nothing needs restoring and no write is discarded.
 * Every check is made against the living twin (weights, tasks, database rows, alarm history), not
 * only the execution status. At the end it says how much of the demo's real time the simulated clock
 * stood still because real work held it (lib/local/clock.ts), and while it plays, every hold released
 * by its real-time bound is printed as a `!` line (a sign of an overloaded machine).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { deliverWebhook, type WebhookResponse } from './webhook-delivery';
import { createRequire } from 'node:module';
import { DescribeAlarmHistoryCommand, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { SendTaskSuccessCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import type { PushEvent } from '@octokit/webhooks-types';
import { DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { cloudWatchClient, rdsClient, sfnClient } from '../aws/clients';
import { parseEcrImage } from '../domain/image-events';
import type { EnvironmentConfig } from '../config/schema';
import { databaseShape, missingIds, type DatabaseShape } from './live/db-inspect';
import { figuresBetween, formatFigures, LoadGenerator, type LoadFigures } from './live/load-generator';
import type { HoldStats } from './clock';
import type { LiveEcs } from './simulator';
import type { Twin } from './twin';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT_DIR } from '../catalog';
import { promotionExecutionName } from '../domain/promotion';

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
export function nextPush(previous: PushEvent, message: string, at: Date = new Date()): PushEvent {
  const push = structuredClone(previous);
  const id = randomBytes(20).toString('hex');
  push.before = previous.after;
  push.after = id;
  push.head_commit = { ...push.head_commit!, id, tree_id: randomBytes(20).toString('hex'), message, timestamp: at.toISOString() };
  push.commits = [{ ...push.head_commit }];
  return push;
}

export type { WebhookResponse } from './webhook-delivery';

/** POST a push to the twin's webhook endpoint the way GitHub delivers it (signed, with GitHub's headers). */
export async function deliverPush(url: string, secret: string, push: unknown, deliveryId = randomUUID()): Promise<WebhookResponse> {
  return deliverWebhook(url, secret, 'push', push, deliveryId);
}

export interface DemoCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** What one push did, as measured on the living twin. */
export interface StepReport {
  release: string;
  /** The pushed commit (the image tag of the release). */
  commit: string;
  executionArn: string;
  status: string;
  error?: string;
  /** Load-generator figures of the requests sent while the deployment ran. */
  traffic: LoadFigures;
  before: DatabaseShape;
  after: DatabaseShape;
  /** Writes acknowledged before the step that are missing after it. */
  missing: number[];
  /** Real milliseconds the deployment took. */
  realMs: number;
}

export interface DemoResult {
  ok: boolean;
  checks: DemoCheck[];
  steps: StepReport[];
}

export interface DemoOptions {
  /** Where lines go. @default console.log */
  readonly write?: (line: string) => void;
  /** Requests per real second of the load generator. @default 40 */
  readonly ratePerSecond?: number;
}

/** The releases the demo pushes, in order, with the commit message of their push. */
export const DEMO_RELEASES = [
  { version: 'v2', message: 'v2: orders get a priority (migration adds a column and backfills it)' },
  { version: 'v3', message: 'v3: new pricing code (answers some requests with 500)' },
  { version: 'v4', message: 'v4: order tags (its migration fails)' },
  { version: 'v5', message: 'v5: invoices (its tests pass, but CI never pushes its image)' },
  { version: 'v6', message: 'v6: invoices again (its image has a critical vulnerability)' },
  { version: 'v7', message: 'v7: order export (GET /orders/count is broken: its smoke test fails)' },
] as const;

/** The finding the demo's v6 image carries (the xz backdoor). */
export const DEMO_CRITICAL_FINDING = { name: 'CVE-2024-3094', severity: 'CRITICAL' } as const;

/** Simulated seconds "CI" takes to build and push a release's image after the git push. */
export const DEMO_CI_SECONDS = 90;

/**
 * Play the three pushes on a living twin (`Twin.start({ live })`). Resolves with every check; `ok`
 * only when v2 was promoted with zero failed requests, v3 rolled back by an alarm computed from real
 * metrics, v4 left schema and rows unchanged, and no acknowledged write went missing.
 */
export async function playDemo(twin: Twin<LiveEcs>, options: DemoOptions = {}): Promise<DemoResult> {
  const write = options.write ?? ((line: string) => console.log(line));
  const live = twin.live;
  const checks: DemoCheck[] = [];
  const steps: StepReport[] = [];
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    write(`  ${ok ? '✔' : '✘'} ${name}: ${detail}`);
  };
  const [serviceName, service] = Object.entries(twin.config.services)[0]!;
  // Pushes to the demo's branch deploy to the branch's environment (staging in the sample); the one that
  // promotes from it (production) gets the releases that succeed there.
  const pushed = examplePush();
  const environmentName = service.branches[pushed.ref.replace('refs/heads/', '')] ?? Object.keys(service.environments)[0]!;
  const env = service.environments[environmentName]!;
  const next = Object.entries(service.environments).find(([, e]) => e.promotion?.from === environmentName);
  const dbIdentifier = env.database?.instanceIdentifier ?? env.database?.clusterIdentifier;
  if (!dbIdentifier) throw new Error(`The demo needs a database in ${serviceName}/${environmentName}.`);
  const dbUrl = live.databaseUrl(dbIdentifier);
  const prodUrl = live.loadBalancer.url(routeArn(env.production));
  const table = 'orders';

  const load = new LoadGenerator({ url: prodUrl, ratePerSecond: options.ratePerSecond ?? 40 });
  const nextUrl = next ? live.loadBalancer.url(routeArn(next[1].production)) : undefined;
  const nextLoad = nextUrl ? new LoadGenerator({ url: nextUrl, ratePerSecond: Math.max(5, Math.round((options.ratePerSecond ?? 40) / 2)) }) : undefined;
  const holdsBefore = twin.clock.holdStats();
  const demoStarted = Date.now();
  let overdue = 0;
  const stopWarnings = twin.clock.onWarning((w) => {
    overdue++;
    write(`  ! ${w.message}`);
  });
  load.start();
  nextLoad?.start();
  const answering = new Set<string>();
  const unsubscribe = twin.sfn.onHistoryEvent((executionArn: string, event: HistoryEvent) => {
    if (event.type === 'TaskStateEntered' && event.stateEnteredEventDetails?.name === 'AwaitDatabaseDecision' && !answering.has(executionArn)) {
      answering.add(executionArn);
      void answerDecision(twin, serviceName, environmentName, executionArn, write);
    }
  });
  try {
    await load.waitForWrites(20);
    const start = await databaseShape(dbUrl);
    write(`\n● ${liveRelease(twin, env)} serves ${environmentName} at ${prodUrl}; ${table}: ${start.rows[table] ?? 0} rows; traffic: ${formatFigures(load.figures())}`);
    if (next && nextUrl) write(`● ${liveRelease(twin, next[1])} serves ${next[0]} at ${nextUrl}; it takes releases that succeed in ${environmentName} (promotion${next[1].promotion!.auto ? ', automatic' : ''}${next[1].approval !== 'none' ? `, approval ${next[1].approval}` : ''}${next[1].windows.length ? `, windows ${next[1].windows.map((w) => `${w.days.length === 7 ? 'daily' : w.days.join(',')} ${w.start}-${w.end} ${w.timezone}`).join('; ')}` : ''})`);

    let push = examplePush();
    for (const [i, release] of DEMO_RELEASES.entries()) {
      // Committed a simulated 10 minutes before the push (lead time for changes starts at the commit).
      const committed = new Date(twin.clock.now().getTime() - 600_000);
      push = i === 0 ? { ...push, head_commit: { ...push.head_commit!, message: release.message, timestamp: committed.toISOString() } } : nextPush(push, release.message, committed);
      const image = `${env.imageRepository}:${push.after}`;
      const built = release.version !== 'v5';
      // v6 is v2's code with a vulnerable dependency: another image (another digest), a critical finding.
      const critical = release.version === 'v6';
      // v7 is v2's code whose /orders/count answers 503: green starts and is healthy, its smoke test fails.
      const broken = release.version === 'v7';
      const base = critical || broken ? live.registry.resolve(`${env.imageRepository}:v2`) : built ? live.registry.resolve(`${env.imageRepository}:${release.version}`) : undefined;
      const source = critical && base ? { ...base, environment: { ...base.environment, BUILD: 'v6' } } : broken && base ? { ...base, environment: { ...base.environment, BUILD: 'v7', BROKEN_PATH: '/orders/count' } } : base;
      const callsBefore = twin.sim.calls.length;
      // The slot that does not serve production now: where this release goes (blue/green).
      const weightsBefore = twin.sim.elbv2.weights(routeArn(env.production));
      const idleTg = [env.slots.blue.targetGroupArn, env.slots.green.targetGroupArn].find((arn) => (weightsBefore[arn] ?? 0) === 0);
      if (built && !source) throw new Error(`The twin registry has no ${env.imageRepository}:${release.version} to build the demo's release from.`);
      write(`\n● Push ${i + 1}: ${push.repository.full_name} ${push.ref} ${push.after.slice(0, 7)} "${release.message}"`);
      const snapshotsBefore = await snapshotCount(dbIdentifier);
      // CI: the image comes after the push, as on GitHub; the deployment waits for it.
      const ci = async (executionArn: string) => {
        const required = service.checks?.required ?? [];
        if (required.length > 0 && twin.github && 'github' in service.repository) {
          const waitingForChecks = await waitForGate(twin, serviceName, environmentName, executionArn, 'checks');
          write(`  ⏳ waiting for checks ${required.join(', ')} of ${push.after.slice(0, 7)}${waitingForChecks ? '' : ' (the wait did not start)'}`);
          await twin.clock.sleep(DEMO_CI_SECONDS / 2);
          for (const name of required) twin.github.setCheckRun(service.repository.github, push.after, { name, status: 'completed', conclusion: 'success', html_url: `https://github.com/${service.repository.github}/actions/runs/${push.after.slice(0, 8)}` });
        }
        const waiting = await waitForGate(twin, serviceName, environmentName, executionArn, 'image');
        write(`  ⏳ waiting for image ${image.split('/').pop()}${waiting ? '' : ' (the wait did not start)'}`);
        if (!built) {
          write(`  CI never pushes ${image.split('/').pop()} (its push to ECR failed)`);
          return;
        }
        await twin.clock.sleep(required.length > 0 ? DEMO_CI_SECONDS / 2 : DEMO_CI_SECONDS);
        live.registry.push(image, source!, { findings: critical ? [DEMO_CRITICAL_FINDING] : [] });
        write(`  CI pushed image ${image.split('/').pop()} (${release.version}) ${DEMO_CI_SECONDS} s (simulated) after the push${critical ? `; ECR's scan finds ${DEMO_CRITICAL_FINDING.name} (${DEMO_CRITICAL_FINDING.severity})` : ''}`);
      };
      const step = await deployStep(twin, push, release.version, load, dbUrl, table, write, ci);
      steps.push(step);
      const onLive = productionRelease(twin, env);
      if (release.version === 'v2') {
        const t = step.traffic.total;
        check(
          'v2 promoted with zero failed requests',
          step.status === 'SUCCEEDED' && onLive === push.after && t.failed === 0 && t.serverErrors === 0 && t.sent > 0,
          `execution ${step.status}; ${environmentName} 100% on ${onLive === push.after ? 'v2' : String(onLive)}; ${t.sent} requests during the deployment, ${t.serverErrors} 5xx, ${t.failed} failed`,
        );
        const added = step.after.columns[table]?.filter((c) => !step.before.columns[table]?.includes(c)) ?? [];
        check('v2 migration applied', added.length > 0, `new column(s) on ${table}: ${added.join(', ') || 'none'}`);
        if (next && nextLoad && step.status === 'SUCCEEDED') await promotionStep(twin, { serviceName, from: environmentName, to: next[0], env: next[1], deploymentId: step.executionArn.split(':').pop()!, commit: push.after, load: nextLoad, write, check });
      } else if (release.version === 'v3') {
        const alarm = await alarmCause(env.alarms);
        check(
          'v3 rolled back by an alarm from real metrics',
          step.status === 'FAILED' && step.error === 'Cutover.RolledBackOnAlarm' && alarm.computed && onLive === v2Commit(steps),
          `execution ${step.status} (${step.error ?? '-'}); ${alarm.detail}; ${environmentName} 100% on ${onLive === v2Commit(steps) ? 'v2' : String(onLive)}`,
        );
      } else if (release.version === 'v6') {
        const snapshotsAfter = await snapshotCount(dbIdentifier);
        // Released by this deployment (the previous release's rollback-window closer may hold it a moment).
        const lock = await twin.ledger.getLock(serviceName, environmentName).then((l) => (l?.executionArn === step.executionArn ? l : undefined));
        check(
          'v6 with a critical vulnerability is refused before anything changes',
          step.status === 'FAILED' && step.error === 'Cutover.ScanRefused' && snapshotsAfter === snapshotsBefore && !lock && onLive === v2Commit(steps),
          `execution ${step.status} (${step.error ?? '-'}); snapshots ${snapshotsBefore} → ${snapshotsAfter}; lock ${lock ? 'HELD' : 'released'}; ${environmentName} still on ${onLive === v2Commit(steps) ? 'v2' : String(onLive)}`,
        );
      } else if (release.version === 'v7') {
        // No production request reached v7: the production listener never forwarded to its slot.
        const prodArn = routeArn(env.production);
        const shifted = twin.sim.calls.slice(callsBefore).filter((c) => c.operation === 'ModifyListener' && (c.input as { ListenerArn?: string } | undefined)?.ListenerArn === prodArn && !c.fault);
        const greenWeights = shifted.map((c) => weightOn(c.input, idleTg));
        const cause = (await recordCause(twin, serviceName, environmentName, step.executionArn)) ?? '';
        check(
          'v7 with a failing smoke test is never shown to users',
          step.status === 'FAILED' && /HTTP check\(s\) failed through the test listener/.test(cause) && greenWeights.every((w) => w === 0) && onLive === v2Commit(steps),
          `execution ${step.status} (${step.error ?? '-'}); ${cause.replace(/^[^:]*: /, '').slice(0, 200)}…; ${environmentName}'s production listener changes during v7: ${greenWeights.length ? greenWeights.map((w) => `${w}% to v7`).join(', ') : 'none'}; ${environmentName} still on ${onLive === v2Commit(steps) ? 'v2' : String(onLive)}`,
        );
      } else if (release.version === 'v5') {
        const snapshotsAfter = await snapshotCount(dbIdentifier);
        // Released by this deployment (the previous release's rollback-window closer may hold it a moment).
        const lock = await twin.ledger.getLock(serviceName, environmentName).then((l) => (l?.executionArn === step.executionArn ? l : undefined));
        check(
          'v5 without an image fails having changed nothing',
          step.status === 'FAILED' && step.error === 'Cutover.ImageNotFound' && snapshotsAfter === snapshotsBefore && !lock && onLive === v2Commit(steps),
          `execution ${step.status} (${step.error ?? '-'}); snapshots ${snapshotsBefore} → ${snapshotsAfter}; lock ${lock ? 'HELD' : 'released'}; ${environmentName} still on ${onLive === v2Commit(steps) ? 'v2' : String(onLive)}`,
        );
      } else {
        const sameSchema = JSON.stringify(step.before.columns) === JSON.stringify(step.after.columns);
        check(
          'v4 migration failed, schema unchanged',
          step.status === 'FAILED' && (step.error ?? '').startsWith('Cutover.') && sameSchema && onLive === v2Commit(steps),
          `execution ${step.status} (${step.error ?? '-'}: ${(await recordCause(twin, serviceName, environmentName, step.executionArn)) ?? '-'}); schema ${sameSchema ? 'unchanged' : 'CHANGED'}; ${environmentName} still on v2`,
        );
      }
      check(`no write lost across ${release.version}`, step.missing.length === 0, step.missing.length === 0 ? 'every acknowledged write is in the database' : `${step.missing.length} acknowledged writes missing, e.g. ids ${step.missing.slice(0, 5).join(', ')}`);
    }
    if (next) {
      const failed = steps.filter((x) => x.status !== 'SUCCEEDED');
      const started = new Set(twin.sfn.listExecutions({ stateMachineArn: twin.deployStateMachineArn, maxResults: 1000 }).executions.map((e) => e.name));
      const promoted = failed.filter((x) => started.has(promotionExecutionName(x.executionArn.split(':').pop()!, next[0])));
      check(
        `no release that failed in ${environmentName} reached ${next[0]}`,
        failed.length > 0 && promoted.length === 0 && productionRelease(twin, next[1]) === v2Commit(steps),
        `${failed.map((x) => x.release).join(', ')} failed in ${environmentName}: ${promoted.length === 0 ? 'none was offered to' : `${promoted.map((x) => x.release).join(', ')} started in`} ${next[0]}, which runs ${productionRelease(twin, next[1]) === v2Commit(steps) ? 'v2' : String(productionRelease(twin, next[1]))}`,
      );
    }
    const metrics = await runCli(twin, ['metrics', serviceName, '--since', '1d']);
    write(`\n$ cutover metrics ${serviceName} --since 1d\n${metrics.output.replace(/^/gm, '  ')}`);
    check('cutover metrics prints the four DORA figures', metrics.code === 0 && ['deployment frequency', 'lead time', 'change failure rate', 'time to restore'].every((h) => metrics.output.includes(h)) && metrics.output.includes(environmentName), `exit ${metrics.code}`);
  } finally {
    unsubscribe();
    stopWarnings();
    await load.stop();
    await nextLoad?.stop();
  }
  const end = await missingIds(dbUrl, table, load.acknowledgedIds());
  check('no write lost in the whole demo', end.length === 0, `${load.acknowledgedIds().length} acknowledged writes, ${end.length} missing; traffic: ${formatFigures(load.figures())}`);
  write(`  ${describeHolds(holdsBefore, twin.clock.holdStats(), Date.now() - demoStarted, overdue)}`);
  return { ok: checks.every((c) => c.ok), checks, steps };
}

/**
 * One line on the clock's holds between two {@link SimClock.holdStats}, e.g. `simulated clock held by
 * real work for 31% of the demo's 38.2 s real (task start 6.1 s · one-off task 3.0 s · …); no hold
 * reached its real-time bound`.
 * @param realMs real milliseconds between the two
 * @param overdue holds released by their bound meanwhile
 */
export function describeHolds(before: HoldStats, after: HoldStats, realMs: number, overdue: number): string {
  const held = after.heldRealMs - before.heldRealMs;
  const kinds = Object.entries(after.byKind)
    .map(([kind, k]) => [kind, k.realMs - (before.byKind[kind]?.realMs ?? 0)] as const)
    .filter(([, ms]) => ms >= 50)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, ms]) => `${kind} ${(ms / 1000).toFixed(1)} s`);
  const share = realMs > 0 ? Math.round((100 * held) / realMs) : 0;
  const bound = overdue === 0 ? 'no hold reached its real-time bound' : `${overdue} hold(s) reached their real-time bound (the ! lines)`;
  return `simulated clock held by real work for ${share}% of the demo's ${(realMs / 1000).toFixed(1)} s real${kinds.length ? ` (${kinds.join(' · ')})` : ''}; ${bound}`;
}

/** The commit of release v2: what production must run after v3's and v4's failures. */
function v2Commit(steps: StepReport[]): string | undefined {
  return steps.find((s) => s.release === 'v2')?.commit;
}

async function deployStep(
  twin: Twin<LiveEcs>,
  push: PushEvent,
  version: string,
  load: LoadGenerator,
  dbUrl: string,
  table: string,
  write: (l: string) => void,
  ci: (executionArn: string) => Promise<void>,
): Promise<StepReport> {
  const before = await databaseShape(dbUrl);
  const ackedBefore = load.acknowledgedIds();
  const figuresBefore = load.figures();
  const started = Date.now();
  const r = await deliverPush(twin.url, twin.webhookSecret, push);
  write(`  webhook → ${r.status} ${JSON.stringify(r.body)}`);
  const arn = String(r.body.executionArn ?? '');
  if (arn) await ci(arn);
  const done = arn ? await twin.sfn.waitForExecution(arn) : undefined;
  const realMs = Date.now() - started;
  const traffic = figuresBetween(figuresBefore, load.figures());
  await load.waitForWrites(5);
  const after = await databaseShape(dbUrl);
  const missing = await missingIds(dbUrl, table, ackedBefore);
  write(`  requests during the deployment: ${formatFigures(traffic)}`);
  if (traffic.total.serverErrors + traffic.total.failed > 0 && traffic.lastError) write(`    last error: ${traffic.lastError}`);
  write(`  ${table}: ${before.rows[table] ?? 0} rows before → ${after.rows[table] ?? 0} after; columns ${JSON.stringify(after.columns[table] ?? [])}`);
  return {
    release: version,
    commit: push.after,
    executionArn: arn,
    status: done?.status ?? 'NOT_STARTED',
    error: done?.error,
    traffic,
    before,
    after,
    missing,
    realMs,
  };
}

function routeArn(route: { listenerArn: string } | { ruleArn: string }): string {
  return 'listenerArn' in route ? route.listenerArn : route.ruleArn;
}

/** The image tag of the slot that has 100% of production traffic (undefined when split). */
function productionRelease(twin: Twin<LiveEcs>, env: EnvironmentConfig): string | undefined {
  const weights = twin.sim.elbv2.weights(routeArn(env.production));
  const slot = (['blue', 'green'] as const).find((s) => (weights[env.slots[s].targetGroupArn] ?? 0) === 100);
  if (!slot) return undefined;
  const svc = twin.sim.ecs.describeService(env.cluster, env.slots[slot].service);
  const td = svc?.taskDefinition ? twin.sim.ecs.describeTaskDefinition({ taskDefinition: svc.taskDefinition }).taskDefinition : undefined;
  const image = td?.containerDefinitions?.find((c) => c.name === env.containerName)?.image;
  if (!image) return undefined;
  // A release pinned by digest: the commit is the tag that points at that digest.
  const ref = parseEcrImage(image);
  if (ref?.digest) return twin.sim.ecr.tagsOf(ref.repositoryName, ref.digest).find((t) => /^[0-9a-f]{40}$/.test(t)) ?? ref.digest;
  return image.split(':').pop();
}

/** Percent of a ModifyListener call's forward weights on target group `tg` (0 when it gets none). */
function weightOn(input: unknown, tg: string | undefined): number {
  const groups = (input as { DefaultActions?: Array<{ ForwardConfig?: { TargetGroups?: Array<{ TargetGroupArn?: string; Weight?: number }> } }> } | undefined)?.DefaultActions?.[0]?.ForwardConfig?.TargetGroups ?? [];
  const total = groups.reduce((sum, g) => sum + (g.Weight ?? 0), 0);
  const on = groups.find((g) => g.TargetGroupArn === tg)?.Weight ?? 0;
  return total > 0 ? Math.round((100 * on) / total) : 0;
}

/** DB snapshots of the demo's database (a deployment that changed nothing took none). */
async function snapshotCount(dbIdentifier: string): Promise<number> {
  const out = await rdsClient().send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: dbIdentifier }));
  return out.DBSnapshots?.length ?? 0;
}

/** Wait (real time, bounded) until the deployment `executionArn` holds the lock waiting at gate `kind` (its checks, its image). */
async function waitForGate(twin: Twin<LiveEcs>, service: string, environment: string, executionArn: string, kind: 'checks' | 'image'): Promise<boolean> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const lock = await twin.ledger.getLock(service, environment);
    if (lock?.executionArn === executionArn && lock.pendingKind === kind) return true;
    const done = twin.sfn.describeExecution({ executionArn });
    if (done.status !== 'RUNNING') return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

function liveRelease(twin: Twin<LiveEcs>, env: EnvironmentConfig): string {
  return `Release ${productionRelease(twin, env) ?? '(split traffic)'}`;
}

/** Whether the alarm that fired got there by evaluation of real metrics (not SetAlarmState), and its reason. */
async function alarmCause(alarms: readonly string[]): Promise<{ computed: boolean; detail: string }> {
  for (const name of alarms) {
    const history = await cloudWatchClient().send(new DescribeAlarmHistoryCommand({ AlarmName: name, HistoryItemType: 'StateUpdate', MaxRecords: 20 }));
    const toAlarm = history.AlarmHistoryItems?.find((h) => h.HistorySummary?.includes('to ALARM'));
    if (toAlarm) {
      const data = JSON.parse(toAlarm.HistoryData ?? '{}') as { newState?: { stateReason?: string } };
      const reason = data.newState?.stateReason ?? toAlarm.HistorySummary ?? '';
      return { computed: reason.startsWith('Threshold Crossed'), detail: `${name} → ALARM: ${reason}` };
    }
  }
  const states = await cloudWatchClient().send(new DescribeAlarmsCommand({ AlarmNames: [...alarms] }));
  return { computed: false, detail: `no alarm went to ALARM (${states.MetricAlarms?.map((a) => `${a.AlarmName} ${a.StateValue}`).join(', ')})` };
}

async function recordCause(twin: Twin<LiveEcs>, service: string, environment: string, executionArn: string): Promise<string | undefined> {
  const record = (await twin.ledger.history(service, environment, 10)).find((r) => executionArn.endsWith(`:${r.deploymentId}`));
  return record ? `${record.status}: ${record.message ?? record.error ?? ""}`.slice(0, 300) : undefined;
}

/** Play the operator for the `approve` database policy: read the pending question, answer "keep". */
async function answerDecision(twin: Twin<LiveEcs>, service: string, environment: string, executionArn: string, write: (l: string) => void) {
  for (let attempt = 0; attempt < 500; attempt++) {
    const record = (await twin.ledger.history(service, environment, 5)).find((r) => executionArn.endsWith(`:${r.deploymentId}`));
    if (record?.pendingTaskToken && record.pendingKind === 'database-decision') {
      write(`  ? operator asked: ${record.pendingQuestion}`);
      await sfnClient().send(
        new SendTaskSuccessCommand({ taskToken: record.pendingTaskToken, output: JSON.stringify({ decision: 'keep', operator: 'demo operator' }) }),
      );
      write('  ✎ operator (demo) answered: keep the database (the migration is transactional; nothing to restore)');
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  write('  ! no pending database decision found');
}

/** Real ms an operator's CLI command may hold the simulated clock (then simulated time runs on). */
const CLI_HOLD_MAX_REAL_MS = 60_000;

/**
 * Run the operator CLI (`bin/cutover.ts`, a child process) against the twin, as an operator would:
 * `cutover <args> --endpoint <twin> --operator demo`, signing as the access key `local` (secret
 * `local`) whatever the user's shell holds, with `env` added to its environment (e.g.
 * `AWS_ACCESS_KEY_ID`: on the twin, the access key is the caller's identity). The simulated clock
 * stands still while it runs (at most 60 s real), as for other real work. Resolves with its exit code
 * and output.
 */
export function runCli(twin: Twin<LiveEcs>, args: string[], env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  // The operator's command is real work: a new Node.js process loading the CLI takes seconds of CPU on
  // a busy 2-core machine, which at x60 would be minutes of simulated time (and a burst of slow answers
  // spread over several alarm periods). Holding the clock keeps it to the moment the operator acted.
  // (So a command run here must not wait for simulated time to pass, e.g. `deploy --wait`.)
  const release = twin.clock.hold(`the operator's command cutover ${args[0] ?? ''}`, { kind: 'operator CLI', maxRealMs: CLI_HOLD_MAX_REAL_MS });
  return new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT_DIR, 'bin/cutover.ts'), ...args, '--endpoint', twin.url, '--operator', 'demo operator'], {
      cwd: ROOT_DIR,
      // The demo's identities are the sample account's keys, whatever AWS credentials the user's shell holds.
      env: { ...process.env, NODE_NO_WARNINGS: '1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += String(d)));
    child.stderr.on('data', (d) => (output += String(d)));
    child.on('close', (code) => resolve({ code: code ?? 1, output: output.trimEnd() }));
    child.on('error', (err) => resolve({ code: 1, output: String(err) }));
  }).finally(release);
}

/**
 * The promotion of v2: the environment that promotes from the pushed one starts the same release (the
 * same digest) after the soak; it waits for its change window if closed (the demo overrides it with a
 * reason: a demo cannot wait for tomorrow) and for its approval, which the demo gives with `cutover
 * approve`; then it must succeed with zero failed requests and run the digest the first environment ran.
 */
async function promotionStep(
  twin: Twin<LiveEcs>,
  p: { serviceName: string; from: string; to: string; env: EnvironmentConfig; deploymentId: string; commit: string; load: LoadGenerator; write: (l: string) => void; check: (name: string, ok: boolean, detail: string) => void },
): Promise<void> {
  const { write, check } = p;
  const name = promotionExecutionName(p.deploymentId, p.to);
  write(`\n● Promotion: ${p.commit.slice(0, 7)} (v2) succeeded in ${p.from}; after ${p.env.promotion!.soakSeconds} s of soak (simulated) ${p.to} ${p.env.promotion!.auto ? 'deploys' : 'is offered'} the same image`);
  const figuresBefore = p.load.figures();
  let arn: string | undefined;
  for (let i = 0; i < 3000 && !arn; i++) {
    arn = twin.sfn.listExecutions({ stateMachineArn: twin.deployStateMachineArn, maxResults: 100 }).executions.find((e) => e.name === name)?.executionArn;
    if (!arn) await new Promise((r) => setTimeout(r, 20));
  }
  if (!arn) {
    check(`v2 promoted to ${p.to}`, false, `no deployment ${name} started in ${p.to}`);
    return;
  }
  write(`  ${p.to}: deployment ${name} started (trigger promotion of ${p.deploymentId})`);
  const answered = new Set<string>();
  let nonApprover: { code: number; output: string } | undefined;
  for (let i = 0; i < 6000; i++) {
    const status = twin.sfn.describeExecution({ executionArn: arn }).status;
    if (status !== 'RUNNING') break;
    const lock = await twin.ledger.getLock(p.serviceName, p.to);
    if (lock?.executionArn === arn && lock.pendingKind && !answered.has(lock.pendingKind) && (lock.pendingKind === 'window' || lock.pendingKind === 'approval')) {
      answered.add(lock.pendingKind);
      const args =
        lock.pendingKind === 'window'
          ? ['override-window', p.serviceName, p.to, '--reason', 'demo: it plays now, outside the window']
          : ['approve', p.serviceName, p.to, '--comment', 'v2 soaked in staging; same digest'];
      write(`  ⏳ ${p.to} waits for ${lock.pendingKind === 'window' ? `its change window (until ${lock.pendingUntil})` : 'an approval'}`);
      if (lock.pendingKind === 'approval' && p.env.approvers) {
        // First someone who is not an approver tries: the approval function refuses them (the twin
        // verifies the SigV4 signature; access key "bob" is a developer in the sample account file).
        write(`  $ AWS_ACCESS_KEY_ID=bob cutover ${args.join(' ')}`);
        const refused = await runCli(twin, args, { AWS_ACCESS_KEY_ID: 'bob' });
        write(refused.output.replace(/^/gm, '    '));
        nonApprover = refused;
      }
      write(`  $ cutover ${args.join(' ')}`);
      const out = await runCli(twin, args);
      write(out.output.replace(/^/gm, '    '));
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const done = await twin.sfn.waitForExecution(arn);
  const traffic = figuresBetween(figuresBefore, p.load.figures());
  const records = await twin.ledger.history(p.serviceName, p.to, 10);
  const record = records.find((r) => r.deploymentId === name);
  const source = (await twin.ledger.history(p.serviceName, p.from, 20)).find((r) => r.deploymentId === p.deploymentId);
  write(`  requests to ${p.to} during its deployment: ${formatFigures(traffic)}`);
  if (p.env.approvers) {
    check(
      `an approval of ${p.to} by someone who is not an approver is refused`,
      !!nonApprover && nonApprover.code !== 0 && /is not an approver/.test(nonApprover.output) && !!record?.approval && record.approval.callerArn !== undefined && !/\/bob$/.test(record.approval.callerArn),
      nonApprover ? `bob: exit ${nonApprover.code}; approved by ${record?.approval?.callerArn ?? '?'} (matched ${record?.approval?.matched ?? '?'})` : 'no approval wait was seen',
    );
  }
  check(
    `v2 promoted to ${p.to}: approved with cutover approve, the same digest, zero failed requests`,
    done.status === 'SUCCEEDED' && answered.has('approval') && !!record && record.image === source?.image && productionRelease(twin, p.env) === p.commit && traffic.total.failed === 0 && traffic.total.serverErrors === 0,
    `execution ${done.status}${done.error ? ` (${done.error})` : ''}; image ${record?.image ?? '?'} ${record?.image === source?.image ? '= the one staging ran' : `≠ staging's ${source?.image}`}; ${record?.windowOverride ? `window overridden (${record.windowOverride.reason})` : 'inside its change window'}; ${traffic.total.sent} requests, ${traffic.total.serverErrors} 5xx, ${traffic.total.failed} failed`,
  );
}

