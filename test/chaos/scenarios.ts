/**
 * The runs the fault sweep repeats, one per path through the state machines: between them they enter
 * every Task state that can be reached without a fault (and two that a scenario's own fault reaches).
 * Each is a real deployment (or rollback, or window close) on a fresh twin: the sample config with a
 * few edits, the same state machine files and handlers.
 *
 * A scenario names the state machine whose steps it sweeps (`machine`), prepares the account (its
 * setup runs before any fault is armed), starts the execution under test (the subject) and says what
 * the simulated operator answers when the run waits for one.
 */
import { randomBytes } from 'node:crypto';
import { succeedTask } from '../../lib/aws/task-tokens';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LISTENER_URLS_ENV } from '../../lib/aws/smoke-http';
import { parseEcrImage } from '../../lib/domain/image-events';
import type { Config } from '../../lib/config/schema';
import type { LockItem, PendingKind } from '../../lib/domain/ledger-items';
import type { StateMachineName } from '../../lib/catalog';
import type { FaultCall, FaultAction } from '../../lib/local/simulator';
import { faultAction } from '../../lib/local/simulator';
import type { ExecutionDescription } from '../../lib/local/stepfunctions/service';
import type { Twin } from '../../lib/local/twin';
import { addEnvironmentLikeProduction, configVariant, ENVIRONMENT, GITHUB_TOKEN_SECRET_ARN, SERVICE } from '../helpers/twin';
import type { CallTag } from './tracker';

/** The execution under test and what to check it against. */
export interface Subject {
  readonly executionArn: string;
  readonly name: string;
  readonly machine: StateMachineName;
  /** The deployment (or rollback) whose ledger record must end final. */
  readonly deploymentId: string;
  /** Notification kinds, one of which must be published for `deploymentId` by the end. */
  readonly finalKinds: readonly string[];
  /** For a deployment: the release image that must serve production when it succeeds. */
  readonly releaseImage?: string;
}

/** What a scenario's hooks may use. */
export interface ScenarioContext {
  readonly twin: Twin;
  /** Start a deployment of a fresh commit (the sample's hello-world/production) and return its ARN and name. */
  startDeploy(message?: string): { executionArn: string; name: string; image: string };
  /** Resolves when the execution has closed. */
  wait(executionArn: string): Promise<ExecutionDescription>;
  /** Executions of a state machine, oldest first. */
  executionsOf(machine: StateMachineName): Array<{ executionArn: string; name: string; status: string }>;
  /** Wait (real time, polling) until `read` is truthy. @throws Error naming `what` after `timeoutMs` */
  until<T>(what: string, read: () => T | Promise<T>, timeoutMs?: number): Promise<NonNullable<T>>;
}

export interface Scenario {
  readonly id: string;
  /** One line: the path it takes. */
  readonly title: string;
  /** The state machine whose Task states this scenario sweeps. */
  readonly machine: StateMachineName;
  /** The database failure policy of its config. */
  readonly policy: 'restore' | 'approve' | 'keep';
  /** What the simulated operator answers to a database decision (policy `approve`). @default 'keep' */
  readonly decision?: 'restore' | 'keep';
  /** A deploy state at whose first entry (in the subject deployment) the 5xx alarm goes to ALARM. */
  readonly alarmOnEntering?: string;
  /** The config (built when a run starts). */
  config(): Config;
  /** Prepare the account before the subject starts (no fault is armed yet). */
  prepare?(ctx: ScenarioContext): Promise<void>;
  /** Start the execution under test (faults are armed) and say what to check. */
  start(ctx: ScenarioContext): Promise<Subject>;
  /** The scenario's own fault, in every run of it (also the baseline), to reach a state no clean run reaches. */
  readonly ownFault?: (call: FaultCall) => FaultAction | undefined;
  /** How the clean run (the baseline) ends. */
  readonly expected: { readonly status: 'SUCCEEDED' | 'FAILED'; readonly error?: string };
}

/** The sample config with the environment edits every scenario shares, then `edit`. */
function config(edit: (env: Record<string, any>) => void): Config {
  return configVariant((env) => {
    env.rollbackWindowSeconds = 3600;
    edit(env);
  });
}

const DEPLOY_FINAL = ['succeeded', 'failed', 'rolled-back'] as const;
const ROLLBACK_FINAL = ['rollback-finished', 'failed'] as const;

/** Start a deployment as the subject. */
function deploySubject(ctx: ScenarioContext): Subject {
  const d = ctx.startDeploy('chaos release');
  return { executionArn: d.executionArn, name: d.name, machine: 'deploy', deploymentId: d.name, finalKinds: DEPLOY_FINAL, releaseImage: d.image };
}

/** Deploy and require success (setup). */
async function deployOk(ctx: ScenarioContext, message: string): Promise<{ executionArn: string; name: string }> {
  const d = ctx.startDeploy(message);
  const result = await ctx.wait(d.executionArn);
  if (result.status !== 'SUCCEEDED') throw new Error(`setup deployment ${d.name} ended ${result.status}: ${result.error}: ${result.cause}`);
  return d;
}

/**
 * Resolves with the environment's lock once its deployment (`executionArn`'s, when given) waits for
 * `kind` with its task token stored — what CI or an operator reacts to.
 */
function untilWaiting(ctx: ScenarioContext, kind: PendingKind, executionArn?: string): Promise<LockItem> {
  return ctx.until(
    `the ${kind} wait`,
    async () => {
      const lock = await ctx.twin.ledger.getLock(SERVICE, ENVIRONMENT);
      return lock?.pendingKind === kind && lock.pendingTaskToken && (!executionArn || lock.executionArn === executionArn) ? lock : undefined;
    },
    20_000,
  );
}

/** Wait until every rollback-window execution has closed (setup). */
async function windowsClosed(ctx: ScenarioContext): Promise<void> {
  await ctx.until('the rollback windows to close', () => ctx.executionsOf('rollback-window').every((e) => e.status !== 'RUNNING'), 20_000);
}

function startRollback(ctx: ScenarioContext, reason: string): Subject {
  const name = `chaos-rb-${Math.random().toString(16).slice(2, 10)}`;
  const { executionArn } = ctx.twin.sfn.startExecution({
    stateMachineArn: ctx.twin.stateMachineArn('rollback'),
    name,
    input: JSON.stringify({ service: SERVICE, environment: ENVIRONMENT, reason, trigger: { source: 'cli', actor: 'chaos' } }),
  });
  return { executionArn, name, machine: 'rollback', deploymentId: name, finalKinds: ROLLBACK_FINAL };
}

/** Every call the `Rollback` step of a deployment makes to ELBv2 is denied (to reach RecordRollbackFailed). */
function rollbackDenied(call: FaultCall): FaultAction | undefined {
  const tag = call.context as CallTag | undefined;
  if (tag?.step.machine !== 'deploy' || tag.step.state !== 'Rollback' || call.service !== 'elbv2') return undefined;
  return faultAction('access-denied', call);
}

/** Every ECS call of the window's `ScaleDownKeptSlot` is denied (to reach RecordCloseFailure). */
function keptSlotScaleDownDenied(call: FaultCall): FaultAction | undefined {
  const tag = call.context as CallTag | undefined;
  if (tag?.step.machine !== 'rollback-window' || tag.step.state !== 'ScaleDownKeptSlot' || call.service !== 'ecs') return undefined;
  return faultAction('access-denied', call);
}

/** A promotion with a 60 s window; the subject is the window's execution (rollback-window). */
async function windowSubject(ctx: ScenarioContext): Promise<Subject> {
  const d = await deployOk(ctx, 'v2');
  const window = await ctx.until('the rollback window execution', () => ctx.executionsOf('rollback-window').at(-1));
  return { executionArn: window.executionArn, name: window.name, machine: 'rollback-window', deploymentId: d.name, finalKinds: ['succeeded'] };
}

const windowConfig = () =>
  configVariant((env) => {
    env.databaseFailurePolicy = 'keep';
    env.strategy = { type: 'all-at-once' };
    env.rollbackWindowSeconds = 60;
  });

/** The scenarios, in the order that picks each Task state's home scenario (the first that enters it). */
export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'deploy-canary',
    title: 'deploy: snapshot, migration, green, test listener, approval gate with approvers (VerifyApproval), 10% canary with a bake, promoted',
    machine: 'deploy',
    policy: 'restore',
    config: () =>
      config((env) => {
        env.databaseFailurePolicy = 'restore';
        env.strategy = { type: 'canary', percent: 10, bakeSeconds: 30 };
        env.approval = 'before-traffic';
        env.approvers = ['release-managers'];
      }),
    start: async (ctx) => deploySubject(ctx),
    expected: { status: 'SUCCEEDED' },
  },
  {
    id: 'deploy-image-scan-wait',
    title: 'deploy: the image comes after the push (AwaitImage), its scan after that (AwaitScan, findings under maxSeverity); promoted',
    machine: 'deploy',
    policy: 'keep',
    config: () =>
      config((env) => {
        env.databaseFailurePolicy = 'keep';
        env.strategy = { type: 'all-at-once' };
        env.imageTimeoutSeconds = 300;
        env.scan = { maxSeverity: 'HIGH', waitSeconds: 300 };
      }),
    prepare: async (ctx) => {
      ctx.twin.sim.ecr.autoPush = false;
    },
    start: async (ctx) => {
      const subject = deploySubject(ctx);
      const ref = parseEcrImage(subject.releaseImage!)!;
      // CI: the image after the push, its scan after that. A fault that ends the deployment first leaves this undone.
      void (async () => {
        await untilWaiting(ctx, 'image');
        const { digest } = ctx.twin.sim.ecr.pushImage(ref.repositoryName, ref.tag!);
        await untilWaiting(ctx, 'scan');
        ctx.twin.sim.ecr.setScanFindings(ref.repositoryName, digest, [{ name: 'CVE-2024-0001', severity: 'MEDIUM' }]);
      })().catch(() => undefined);
      return subject;
    },
    expected: { status: 'SUCCEEDED' },
  },
  {
    id: 'deploy-alarm-restore',
    title: 'deploy: an alarm during the canary bake rolls back; policy restore restores the snapshot',
    machine: 'deploy',
    policy: 'restore',
    alarmOnEntering: 'Bake',
    config: () =>
      config((env) => {
        env.databaseFailurePolicy = 'restore';
        env.strategy = { type: 'canary', percent: 10, bakeSeconds: 300 };
      }),
    start: async (ctx) => deploySubject(ctx),
    expected: { status: 'FAILED', error: 'Cutover.RolledBackOnAlarm' },
  },
  {
    id: 'deploy-alarm-approve',
    title: 'deploy: an alarm during the bake rolls back; policy approve asks, the operator keeps the database',
    machine: 'deploy',
    policy: 'approve',
    decision: 'keep',
    alarmOnEntering: 'Bake',
    config: () =>
      config((env) => {
        env.databaseFailurePolicy = 'approve';
        env.strategy = { type: 'canary', percent: 10, bakeSeconds: 300 };
      }),
    start: async (ctx) => deploySubject(ctx),
    expected: { status: 'FAILED', error: 'Cutover.RolledBackOnAlarm' },
  },
  {
    id: 'deploy-rollback-denied',
    title: "deploy: an alarm during the bake, and the rollback's listener calls are denied (scenario fault) → RecordRollbackFailed",
    machine: 'deploy',
    policy: 'keep',
    alarmOnEntering: 'Bake',
    ownFault: rollbackDenied,
    config: () =>
      config((env) => {
        env.databaseFailurePolicy = 'keep';
        env.strategy = { type: 'canary', percent: 10, bakeSeconds: 300 };
      }),
    start: async (ctx) => deploySubject(ctx),
    expected: { status: 'FAILED', error: 'Cutover.RollbackFailed' },
  },
  {
    id: 'deploy-checks-wait',
    title: "deploy: the commit's required checks still run at the push (AwaitChecks); CI's check_run webhooks pass them; promoted",
    machine: 'deploy',
    policy: 'keep',
    config: () =>
      configVariant(
        (env) => {
          env.rollbackWindowSeconds = 3600;
          env.databaseFailurePolicy = 'keep';
          env.strategy = { type: 'all-at-once' };
        },
        (svc) => {
          svc.github = { tokenSecretArn: GITHUB_TOKEN_SECRET_ARN };
          svc.checks = { required: ['build'], waitSeconds: 600 };
        },
      ),
    start: async (ctx) => {
      const subject = deploySubject(ctx);
      const commit = ctx.twin.sfn.describeExecution({ executionArn: subject.executionArn }).input;
      const sha = (JSON.parse(commit ?? '{}') as { release?: { commit?: string } }).release?.commit ?? '';
      // CI: the build check completes after the push. A fault that ends the deployment first leaves this undone.
      void (async () => {
        await untilWaiting(ctx, 'checks');
        ctx.twin.ciPassed(SERVICE, sha);
      })().catch(() => undefined);
      return subject;
    },
    expected: { status: 'SUCCEEDED' },
  },
  {
    id: 'deploy-verify',
    title: 'deploy: smoke checks through the test listener before traffic (VerifyTest) and the production listener at 100% (VerifyProduction); promoted',
    machine: 'deploy',
    policy: 'keep',
    config: () =>
      config((env) => {
        env.databaseFailurePolicy = 'keep';
        env.strategy = { type: 'all-at-once' };
        env.verify = { http: [{ path: '/health' }], command: ['npm', 'run', 'smoke'], attempts: 2, intervalSeconds: 5 };
      }),
    // The simulator's listeners serve no HTTP: both listeners point at a local server answering 200.
    prepare: async (ctx) => {
      const server = createServer((_req, res) => res.writeHead(200).end('{"status":"ok"}'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      server.unref();
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const env = ctx.twin.config.services[SERVICE]!.environments[ENVIRONMENT]!;
      const arn = (r: { listenerArn: string } | { ruleArn: string }) => ('listenerArn' in r ? r.listenerArn : r.ruleArn);
      process.env[LISTENER_URLS_ENV] = JSON.stringify({ [arn(env.production)]: url, ...(env.test ? { [arn(env.test)]: url } : {}) });
    },
    start: async (ctx) => deploySubject(ctx),
    expected: { status: 'SUCCEEDED' },
  },
  {
    id: 'deploy-queued',
    title: 'deploy: a push while another deployment runs waits in the queue (WaitForLock), then deploys when the lock is released',
    machine: 'deploy',
    policy: 'keep',
    config: () =>
      config((env) => {
        env.databaseFailurePolicy = 'keep';
        env.strategy = { type: 'all-at-once' };
      }),
    // The deployment running before the push starts in `prepare` (not swept: faults hit the push only),
    // and is past its migration (the run's migration task is the push's own).
    prepare: async (ctx) => {
      const running = ctx.startDeploy('running before the push');
      await ctx.until(
        'the first deployment to be past its migration, holding the lock',
        () => ctx.twin.sfn.getExecutionHistory({ executionArn: running.executionArn, maxResults: 1000 }).events.some((e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === 'DeployGreen'),
        20_000,
      );
    },
    start: async (ctx) => deploySubject(ctx),
    expected: { status: 'SUCCEEDED' },
  },
  {
    id: 'deploy-window-override',
    title: 'deploy: ready during a freeze, it waits for its change window (AwaitChangeWindow) until an operator overrides it with a reason (AcceptWindowOverride); promoted',
    machine: 'deploy',
    policy: 'keep',
    config: () =>
      config((env) => {
        env.databaseFailurePolicy = 'keep';
        env.strategy = { type: 'all-at-once' };
        env.freezes = [{ from: new Date(Date.now() - 86_400_000).toISOString(), until: new Date(Date.now() + 10 * 86_400_000).toISOString(), reason: 'chaos freeze' }];
      }),
    start: async (ctx) => {
      const subject = deploySubject(ctx);
      // The operator: overrides the window once the deployment waits for it. A fault that ends the deployment first leaves this undone.
      void (async () => {
        const lock = await untilWaiting(ctx, 'window', subject.executionArn);
        await succeedTask(lock.pendingTaskToken!, { override: true, operator: 'chaos', reason: 'chaos: override the freeze' });
      })().catch(() => undefined);
      return subject;
    },
    expected: { status: 'SUCCEEDED' },
  },
  {
    id: 'deploy-promotion',
    title: 'deploy: production promotes from staging (forced with a reason: CheckPromotion) and to eu (auto): soaks, OfferPromotion, StartPromotedDeployment; promoted',
    machine: 'deploy',
    policy: 'keep',
    config: () =>
      configVariant(
        (env) => {
          env.rollbackWindowSeconds = 3600;
          env.databaseFailurePolicy = 'keep';
          env.strategy = { type: 'all-at-once' };
        },
        (service) => {
          const staging = addEnvironmentLikeProduction(service, 'staging');
          staging.strategy = { type: 'all-at-once' };
          const eu = addEnvironmentLikeProduction(service, 'eu');
          eu.promotion = { from: ENVIRONMENT, auto: true };
          delete eu.approval;
          service.environments[ENVIRONMENT].promotion = { from: 'staging', auto: false };
        },
      ),
    start: async (ctx) => {
      const name = `chaos-promo-${Math.random().toString(16).slice(2, 10)}`;
      const commit = randomBytes(20).toString('hex');
      const image = `${ctx.twin.config.services[SERVICE]!.environments[ENVIRONMENT]!.imageRepository}:${commit}`;
      const input = { service: SERVICE, environment: ENVIRONMENT, release: { commit, message: 'chaos promotion' }, trigger: { source: 'promotion', actor: 'chaos' }, promotionOverride: { reason: 'chaos: staging skipped', operator: 'chaos' } };
      const { executionArn } = ctx.twin.sfn.startExecution({ stateMachineArn: ctx.twin.stateMachineArn('deploy'), name, input: JSON.stringify(input) });
      return { executionArn, name, machine: 'deploy', deploymentId: name, finalKinds: DEPLOY_FINAL, releaseImage: image };
    },
    expected: { status: 'SUCCEEDED' },
  },
  {
    id: 'deploy-redeploy-refused',
    title: "deploy: a rollback's redeploy while another deployment holds the lock is refused (RecordLockRefusal), having changed nothing",
    machine: 'deploy',
    policy: 'keep',
    config: () =>
      config((env) => {
        env.databaseFailurePolicy = 'keep';
        env.strategy = { type: 'all-at-once' };
      }),
    prepare: async (ctx) => {
      const running = ctx.startDeploy('holds the lock');
      await ctx.until('the running deployment to hold the lock', async () => (await ctx.twin.ledger.getLock(SERVICE, ENVIRONMENT))?.executionArn === running.executionArn, 20_000);
    },
    start: async (ctx) => {
      const name = `chaos-redeploy-${Math.random().toString(16).slice(2, 10)}`;
      const commit = randomBytes(20).toString('hex');
      const input = { service: SERVICE, environment: ENVIRONMENT, release: { commit, migrations: false }, trigger: { source: 'rollback', actor: 'chaos', of: 'chaos-rb' }, strategy: { type: 'all-at-once' } };
      const { executionArn } = ctx.twin.sfn.startExecution({ stateMachineArn: ctx.twin.stateMachineArn('deploy'), name, input: JSON.stringify(input) });
      return { executionArn, name, machine: 'deploy', deploymentId: name, finalKinds: ['refused'] };
    },
    expected: { status: 'FAILED', error: 'Cutover.DeploymentInProgress' },
  },
  {
    id: 'rollback-refused',
    title: 'rollback with nothing promoted yet: refused (Cutover.NothingToRollBack) and recorded (RecordRefusal), having changed nothing',
    machine: 'rollback',
    policy: 'keep',
    config: () => config((env) => (env.databaseFailurePolicy = 'keep')),
    start: async (ctx) => ({ ...startRollback(ctx, 'chaos: nothing to go back to'), finalKinds: ['refused'] }),
    expected: { status: 'FAILED', error: 'Cutover.NothingToRollBack' },
  },
  {
    id: 'rollback-kept-slot',
    title: 'rollback inside the window: flip to the kept slot, scale the rolled-back slot down, restore the snapshot (policy restore)',
    machine: 'rollback',
    policy: 'restore',
    config: () =>
      config((env) => {
        env.databaseFailurePolicy = 'restore';
        env.strategy = { type: 'all-at-once' };
      }),
    prepare: async (ctx) => {
      await deployOk(ctx, 'v2');
    },
    start: async (ctx) => startRollback(ctx, 'chaos: errors after the release'),
    expected: { status: 'SUCCEEDED' },
  },
  {
    id: 'rollback-redeploy',
    title: 'rollback after the window: redeploy the last good release (child deploy), lock for the database, policy approve (operator keeps)',
    machine: 'rollback',
    policy: 'approve',
    decision: 'keep',
    config: () =>
      configVariant((env) => {
        env.databaseFailurePolicy = 'approve';
        env.strategy = { type: 'all-at-once' };
        env.rollbackWindowSeconds = 60;
      }),
    prepare: async (ctx) => {
      await deployOk(ctx, 'v2');
      await windowsClosed(ctx);
      await deployOk(ctx, 'v3');
      await windowsClosed(ctx);
    },
    start: async (ctx) => startRollback(ctx, 'chaos: v3 is bad'),
    expected: { status: 'SUCCEEDED' },
  },
  {
    id: 'rollback-kept-slot-down',
    title: 'rollback inside the window, but the kept slot has no healthy targets: traffic stays, the lock is released, nothing known to redeploy',
    machine: 'rollback',
    policy: 'keep',
    config: () =>
      config((env) => {
        env.databaseFailurePolicy = 'keep';
        env.strategy = { type: 'all-at-once' };
      }),
    prepare: async (ctx) => {
      await deployOk(ctx, 'v2');
      // The kept slot (blue, the seeded release) lost its tasks: wait until its targets are gone.
      const env = ctx.twin.config.services[SERVICE]!.environments[ENVIRONMENT]!;
      ctx.twin.sim.ecs.invoke('UpdateService', { cluster: env.cluster, service: env.slots.blue.service, desiredCount: 0 });
      await ctx.until('blue to have no healthy target', () => {
        const out = ctx.twin.sim.elbv2.invoke('DescribeTargetHealth', { TargetGroupArn: env.slots.blue.targetGroupArn }) as {
          TargetHealthDescriptions?: Array<{ TargetHealth?: { State?: string } }>;
        };
        return !(out.TargetHealthDescriptions ?? []).some((t) => t.TargetHealth?.State === 'healthy');
      });
    },
    start: async (ctx) => startRollback(ctx, 'chaos: errors, kept slot gone'),
    expected: { status: 'FAILED', error: 'Cutover.RollbackFailed' },
  },
  {
    id: 'window-close',
    title: "rollback window: after a promotion, the window's end scales the kept slot down and releases the lock",
    machine: 'rollback-window',
    policy: 'keep',
    config: windowConfig,
    start: windowSubject,
    expected: { status: 'SUCCEEDED' },
  },
  {
    id: 'window-close-denied',
    title: "rollback window: the kept slot's scale-down is denied (scenario fault) → the lock is released anyway, the close fails",
    machine: 'rollback-window',
    policy: 'keep',
    ownFault: keptSlotScaleDownDenied,
    config: windowConfig,
    start: windowSubject,
    expected: { status: 'FAILED', error: 'Cutover.RollbackWindowCloseFailed' },
  },
];
