/**
 * The fault sweep: for every AWS-touching Task state of the deploy, rollback and rollback-window
 * state machines and every fault kind the simulator injects, one real run on a fresh twin with that
 * fault at that step, and the end state checked against cutover's invariants.
 *
 * - {@link runScenario} runs one scenario (./scenarios), with or without a fault target, and checks it.
 * - {@link planSweep} turns the scenarios' clean runs (baselines) into cases: each Task state is swept
 *   in its home scenario (the first that makes AWS calls in it); states without AWS calls, or that no
 *   scenario enters, are reported with the reason.
 * - {@link runSweep} runs a plan.
 *
 * How faults persist (see README text in /tmp/cutover-readme-part6.md):
 * - transient kinds (`throttling`, `server-error`, `timeout`) affect the step's first attempt only —
 *   every call of the first attempt of each run of the state (a polling state is run again and again);
 *   `timeout` is swept per call position instead: the k-th call of the first attempt takes effect and
 *   its answer is lost (the SDK's `TimeoutError`), so a retry meets what the lost call did;
 * - persistent kinds (`access-denied`, `vanished`) affect every call of the step, every attempt.
 * A fault is scoped to the calls made by the state's Lambda invocations (./tracker), in executions
 * started after the scenario's setup.
 */
import { parseEcrImage } from '../../lib/domain/image-events';
import { performance } from 'node:perf_hooks';
import type { SnsPublishedMessage } from '../../lib/local/simulator';
import { faultAction, FAULT_KINDS, type FaultAction, type FaultCall, type FaultKind, type SimCall } from '../../lib/local/simulator';
import type { ExecutionDescription } from '../../lib/local/stepfunctions/service';
import { Twin } from '../../lib/local/twin';
import type { StateMachineName } from '../../lib/catalog';
import { approvalFunctionEvent, APPROVER_ARN, ENVIRONMENT, FAST_SIMULATOR, randomCommit, SERVICE, setAlarm, TEST_TIME_SCALE } from '../helpers/twin';
import { SCENARIOS, type Scenario, type ScenarioContext, type Subject } from './scenarios';
import { allTaskStates, type TaskState } from './states';
import { StepTracker, type CallTag } from './tracker';

/** Transient kinds affect only a step's first attempt; the others every attempt. */
export const TRANSIENT: ReadonlySet<FaultKind> = new Set(['throttling', 'server-error', 'timeout']);

export interface FaultTarget {
  readonly machine: StateMachineName;
  readonly state: string;
  readonly kind: FaultKind;
  /** Only the call at this 1-based position of the step's first attempt (used for `timeout`). */
  readonly position?: number;
}

/** What a clean run showed about one Task state of the scenario's machine. */
export interface StepProfile {
  readonly state: string;
  /** Times the state was entered (most, over the machine's executions in the run). */
  readonly entries: number;
  /** Distinct `service:Operation` the state's invocations called, in first-call order. */
  readonly operations: string[];
  /** Most calls made by one first attempt of the state. */
  readonly firstAttemptCalls: number;
}

export type Outcome = 'succeeded' | 'rolled back' | 'failed' | 'rollback failed' | 'closed' | 'close failed' | 'hung';

export interface RunResult {
  readonly scenario: string;
  readonly target?: FaultTarget;
  readonly status: string;
  readonly error?: string;
  readonly cause?: string;
  readonly outcome: Outcome;
  /** The target fault's calls: `service:Operation → fault`. */
  readonly faulted: string[];
  /** Invariants broken, each one sentence. Empty = the case passed. */
  readonly broken: string[];
  /** What is worth knowing but breaks nothing (e.g. a notification SNS refused under the fault). */
  readonly notes: string[];
  /** Only for clean runs: the Task states of the scenario's machine that it entered. */
  readonly profile?: StepProfile[];
  readonly realMs: number;
}

export interface RunOptions {
  /** Real milliseconds the execution under test may take. @default 30000 */
  readonly timeoutMs?: number;
  /** The clean run of this scenario, to compare transient-fault outcomes with. */
  readonly baseline?: Pick<RunResult, 'status' | 'error'>;
}

const RESTORE_OPERATIONS = new Set(['RestoreDBInstanceFromDBSnapshot', 'RestoreDBClusterFromSnapshot']);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * One run of `scenario` on a fresh twin, with the fault `target` (or none: the clean run), checked.
 * @throws only when the twin cannot start or the scenario's setup fails (those are not cases)
 */
export async function runScenario(scenario: Scenario, target?: FaultTarget, opts: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const tasks = allTaskStates();
  const twin = await Twin.start({ config: scenario.config(), port: 0, timeScale: TEST_TIME_SCALE, simulator: FAST_SIMULATOR });
  const tracker = new StepTracker(twin, tasks);
  const uninstall = tracker.install();
  const env = twin.config.services[SERVICE]!.environments[ENVIRONMENT]!;
  const ctx = context(twin);
  const cleanups: Array<() => void> = [];
  try {
    twin.sim.setFaultPolicy((call) => scenario.ownFault?.(call));
    await scenario.prepare?.(ctx);

    // Arm: from here on, executions are the run's, and the target's fault applies to them.
    const mark = tracker.mark();
    const callsFrom = twin.sim.calls.length;
    const publishedFrom = twin.sim.sns.published.length;
    const migrationTasksBefore = migrationTasks(twin, env.cluster);
    twin.sim.setFaultPolicy((call) => scenario.ownFault?.(call) ?? targetFault(call, target, tracker, mark));

    if (scenario.alarmOnEntering) {
      let fired = false;
      cleanups.push(
        twin.sfn.onHistoryEvent((arn, event) => {
          if (fired || event.type !== 'TaskStateEntered' || event.stateEnteredEventDetails?.name !== scenario.alarmOnEntering) return;
          if (!arn.includes(':execution:cutover-deploy:') || !tracker.startedAfter(arn, mark)) return;
          fired = true;
          void setAlarm('ALARM').catch(() => undefined);
        }),
      );
    }
    const operator = simulatedOperator(twin, scenario);
    cleanups.push(operator.stop);

    const subject = await scenario.start(ctx);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([ctx.wait(subject.executionArn), new Promise<undefined>((resolve) => (timer = setTimeout(resolve, timeoutMs, undefined)))]);
    clearTimeout(timer);
    operator.stop();
    const description = closed ?? twin.sfn.describeExecution({ executionArn: subject.executionArn });
    await settle(twin, subject, Math.min(10_000, timeoutMs));
    twin.sim.setFaultPolicy(undefined);

    const calls = twin.sim.calls.slice(callsFrom);
    const published = twin.sim.sns.published.slice(publishedFrom);
    const faulted = calls.filter((c) => c.fault && isTargetCall(c, target)).map((c) => `${c.service}:${c.operation} → ${c.fault}`);
    const checks = await checkEndState({
      twin,
      scenario,
      subject,
      description,
      calls,
      published,
      target,
      faultedCount: faulted.length,
      migrationTasks: migrationTasks(twin, env.cluster) - migrationTasksBefore,
      baseline: opts.baseline,
    });
    return {
      scenario: scenario.id,
      ...(target ? { target } : {}),
      status: description.status,
      ...(description.error ? { error: description.error } : {}),
      ...(description.cause ? { cause: description.cause } : {}),
      outcome: checks.outcome,
      faulted,
      broken: checks.broken,
      notes: checks.notes,
      ...(target ? {} : { profile: profileOf(calls, tracker, twin, scenario.machine, mark, tasks) }),
      realMs: Math.round(performance.now() - started),
    };
  } finally {
    for (const undo of cleanups) undo();
    uninstall();
    await twin.stop();
  }
}

/** The target's fault for one call, or undefined when the call is not the target's. */
function targetFault(call: FaultCall, target: FaultTarget | undefined, tracker: StepTracker, mark: number): FaultAction | undefined {
  if (!target) return undefined;
  const tag = call.context as CallTag | undefined;
  if (!tag) return undefined;
  const step = tag.step;
  if (step.machine !== target.machine || step.state !== target.state || !tracker.startedAfter(step.executionArn, mark)) return undefined;
  if (TRANSIENT.has(target.kind) && step.attempt !== 1) return undefined;
  if (target.position !== undefined && tag.index !== target.position) return undefined;
  return faultAction(target.kind, call);
}

function isTargetCall(call: SimCall, target: FaultTarget | undefined): boolean {
  const tag = call.context as CallTag | undefined;
  return !!target && tag?.step.machine === target.machine && tag.step.state === target.state;
}

function context(twin: Twin): ScenarioContext {
  let n = 0;
  const env = twin.config.services[SERVICE]!.environments[ENVIRONMENT]!;
  return {
    twin,
    startDeploy: (message = 'chaos release') => {
      const commit = randomCommit();
      const name = `chaos-${process.pid}-${++n}-${commit.slice(0, 6)}`;
      const input = { service: SERVICE, environment: ENVIRONMENT, release: { commit, message }, trigger: { source: 'console', actor: 'chaos sweep' } };
      const { executionArn } = twin.sfn.startExecution({ stateMachineArn: twin.deployStateMachineArn, name, input: JSON.stringify(input) });
      return { executionArn, name, image: `${env.imageRepository}:${commit}` };
    },
    wait: (arn) => twin.sfn.waitForExecution(arn),
    executionsOf: (machine) =>
      twin.sfn
        .listExecutions({ stateMachineArn: twin.stateMachineArn(machine), maxResults: 1000 })
        .executions.slice()
        .reverse()
        .map((e) => ({ executionArn: e.executionArn!, name: e.name!, status: e.status! })),
    until: async (what, read, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await read();
        if (value) return value as NonNullable<Awaited<typeof value>>;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(5);
      }
    },
  };
}

/** Simulated seconds the operator takes to answer a wait, from the moment its token is visible. */
export const OPERATOR_RESPONSE_SECONDS = 30;

/**
 * The operator of the scenario: approves approval gates and answers database decisions (with the
 * scenario's `decision`) {@link OPERATOR_RESPONSE_SECONDS} simulated seconds after their task token
 * appears on the lock or a record — as a person would, not within the milliseconds in which the wait's
 * own Lambda invocation may still fail it (that race would make runs differ). Polls every 10 ms.
 */
function simulatedOperator(twin: Twin, scenario: Scenario): { stop: () => void } {
  let running = true;
  const answered = new Set<string>();
  const seenAt = new Map<string, number>();
  const answer = (token: string | undefined, kind: string | undefined) => {
    if (!token || answered.has(token)) return;
    const now = twin.clock.nowMs();
    const seen = seenAt.get(token) ?? now;
    seenAt.set(token, seen);
    if (now - seen < OPERATOR_RESPONSE_SECONDS * 1000) return;
    if (kind === 'approval') {
      // As `cutover approve` does: through the approval function, as an approver (it checks the
      // environment's approvers, records the approval and answers the wait). Tried again at the next
      // poll unless it answered (200) or the wait is over (409, 404).
      answered.add(token);
      void twin.lambda
        .invoke('approval', approvalFunctionEvent(APPROVER_ARN, { service: SERVICE, environment: ENVIRONMENT, decision: 'approve', operator: 'chaos' }))
        .then((out) => {
          if (![200, 404, 409].includes((out as { statusCode?: number })?.statusCode ?? 0)) answered.delete(token);
        })
        .catch(() => answered.delete(token));
      return;
    }
    let output: unknown;
    if (kind === 'database-decision') output = { decision: scenario.decision ?? 'keep', operator: 'chaos' };
    else return;
    answered.add(token);
    try {
      twin.sfn.sendTaskSuccess({ taskToken: token, output: JSON.stringify(output) });
    } catch {
      // the wait ended meanwhile (timeout, failure): nothing to answer
    }
  };
  void (async () => {
    while (running) {
      try {
        const lock = await twin.ledger.getLock(SERVICE, ENVIRONMENT);
        answer(lock?.pendingTaskToken, lock?.pendingKind);
        for (const r of await twin.ledger.history(SERVICE, ENVIRONMENT, 20)) answer(r.pendingTaskToken, r.pendingKind);
      } catch {
        // the twin is stopping
      }
      await sleep(10);
    }
  })();
  return {
    stop: () => {
      running = false;
    },
  };
}

/**
 * Wait until nothing but rollback windows waiting for their end still runs (a window that is closing
 * holds the lock for a moment). Gives up after `timeoutMs`.
 */
async function settle(twin: Twin, subject: Subject, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const busy = () =>
    (['deploy', 'rollback', 'rollback-window'] as const).some((machine) =>
      twin.sfn
        .listExecutions({ stateMachineArn: twin.stateMachineArn(machine), statusFilter: 'RUNNING', maxResults: 1000 })
        .executions.some((e) => {
          if (e.executionArn === subject.executionArn) return true;
          if (machine !== 'rollback-window') return true;
          const last = twin.sfn.getExecutionHistory({ executionArn: e.executionArn!, reverseOrder: true, maxResults: 1 }).events[0];
          return !(last?.type === 'WaitStateEntered' && last.stateEnteredEventDetails?.name === 'WaitForWindowEnd');
        }),
    );
  while (busy() && Date.now() < deadline) await sleep(5);
}

/** Migration tasks ECS knows of (running or stopped) in the cluster. */
function migrationTasks(twin: Twin, cluster: string): number {
  let count = 0;
  for (const desiredStatus of ['RUNNING', 'STOPPED']) {
    const out = twin.sim.ecs.invoke('ListTasks', { cluster, startedBy: 'cutover-migration', desiredStatus, maxResults: 100 }) as { taskArns?: string[] };
    count += out.taskArns?.length ?? 0;
  }
  return count;
}

interface CheckInput {
  readonly twin: Twin;
  readonly scenario: Scenario;
  readonly subject: Subject;
  readonly description: ExecutionDescription;
  readonly calls: SimCall[];
  readonly published: SnsPublishedMessage[];
  readonly target?: FaultTarget;
  readonly faultedCount: number;
  readonly migrationTasks: number;
  readonly baseline?: Pick<RunResult, 'status' | 'error'>;
}

/** The invariants, checked on the account as the run left it. */
async function checkEndState(input: CheckInput): Promise<{ outcome: Outcome; broken: string[]; notes: string[] }> {
  const { twin, scenario, subject, description, calls, target } = input;
  const broken: string[] = [];
  const notes: string[] = [];
  const env = twin.config.services[SERVICE]!.environments[ENVIRONMENT]!;
  const record = (await twin.ledger.history(SERVICE, ENVIRONMENT, 100)).find((r) => r.deploymentId === subject.deploymentId);

  // 1. The execution ended, and how.
  const status = description.status;
  let outcome: Outcome;
  if (status === 'RUNNING') {
    outcome = 'hung';
    broken.push(`the ${subject.machine} execution was still RUNNING at the time limit`);
    twin.sfn.stopExecution({ executionArn: subject.executionArn, error: 'Chaos.Hung', cause: 'stopped by the fault sweep' });
  } else if (status === 'SUCCEEDED') {
    outcome = subject.machine === 'deploy' ? 'succeeded' : subject.machine === 'rollback' ? 'rolled back' : 'closed';
  } else {
    if (status !== 'FAILED') broken.push(`the execution ended ${status}, not SUCCEEDED or FAILED`);
    outcome =
      subject.machine === 'rollback-window'
        ? 'close failed'
        : description.error === 'Cutover.RollbackFailed' && subject.machine === 'deploy'
          ? 'rollback failed'
          : record?.status === 'rolled-back' && subject.machine === 'deploy'
            ? 'rolled back'
            : 'failed';
  }

  // 2. Transient faults are recovered by retries: the run ends as the clean run does.
  if (target && TRANSIENT.has(target.kind) && input.baseline && input.faultedCount > 0) {
    if (status !== input.baseline.status || (description.error ?? undefined) !== (input.baseline.error ?? undefined)) {
      broken.push(`a transient fault was not recovered: the clean run ends ${input.baseline.status}${input.baseline.error ? ` (${input.baseline.error})` : ''}, this one ${status}${description.error ? ` (${description.error}: ${description.cause})` : ''}`);
    }
  }

  // 3. A failure the faulted step caused is explained: the cause names the step or what it did.
  if (target && status === 'FAILED' && stepFailed(twin, subject.executionArn, target.state)) {
    const cause = `${description.error ?? ''} ${description.cause ?? ''}`.toLowerCase();
    const faultedOps = new Set(calls.filter((c) => c.fault && isTargetCall(c, target)).map((c) => c.operation));
    const names = [target.state, ...faultedOps].map((n) => n.toLowerCase());
    if (!names.some((n) => cause.includes(n))) {
      broken.push(`the cause names neither the step ${target.state} nor what it did (${[...faultedOps].join(', ') || 'no call faulted'}): "${description.error}: ${description.cause}"`);
    }
  }

  // 4. Production traffic is on slots with healthy targets (and on the new release after a success).
  const route = env.production;
  const routeArn = 'listenerArn' in route ? route.listenerArn : route.ruleArn;
  const weights = twin.sim.elbv2.weights(routeArn);
  const serving = Object.entries(weights).filter(([, w]) => w > 0);
  if (serving.length === 0) broken.push('production traffic goes nowhere (no target group has weight)');
  for (const [tg, w] of serving) {
    const health = twin.sim.elbv2.invoke('DescribeTargetHealth', { TargetGroupArn: tg }) as { TargetHealthDescriptions?: Array<{ TargetHealth?: { State?: string } }> };
    const healthy = (health.TargetHealthDescriptions ?? []).filter((t) => t.TargetHealth?.State === 'healthy').length;
    if (healthy === 0) broken.push(`production sends ${w}% to ${slotOf(env, tg)}, which has no healthy target`);
  }
  if (status === 'SUCCEEDED' && subject.machine === 'deploy' && subject.releaseImage) {
    const live = serving.length === 1 && serving[0]![1] > 0 ? slotOf(env, serving[0]![0]) : undefined;
    const image = live && imageOf(twin, env.cluster, env.slots[live as 'blue' | 'green']?.service, env.containerName);
    // A release runs pinned by digest: the digest its tag pointed at in the twin's ECR.
    const pinned = image ? parseEcrImage(image) : undefined;
    const wanted = parseEcrImage(subject.releaseImage);
    const same = image === subject.releaseImage || (pinned?.digest !== undefined && wanted?.tag !== undefined && pinned.repositoryName === wanted.repositoryName && twin.sim.ecr.tagsOf(pinned.repositoryName, pinned.digest).includes(wanted.tag));
    if (!same) broken.push(`the deployment SUCCEEDED but production is ${JSON.stringify(weights)}, on ${live ?? 'several slots'} running ${image ?? 'unknown'}, not ${subject.releaseImage}`);
  }

  // 5. The lock is released.
  const lock = await twin.ledger.getLock(SERVICE, ENVIRONMENT);
  if (lock) broken.push(`the lock is still held by ${lock.deploymentId} (${lock.purpose ?? 'deploy'})`);

  // 6. The deployment is recorded, and the record is final and says what the execution did.
  if (!record) broken.push(`no ledger record of ${subject.deploymentId}`);
  else if (record.status === 'in-progress') broken.push(`the record of ${subject.deploymentId} is still in-progress`);
  else {
    const expected: readonly string[] =
      subject.machine === 'rollback-window'
        ? ['succeeded'] // the window's subject record is the promoted deployment's
        : status === 'SUCCEEDED'
          ? [subject.machine === 'deploy' ? 'succeeded' : 'rolled-back']
          : ['failed', 'rolled-back', 'rollback-failed', 'refused'];
    if (!expected.includes(record.status)) broken.push(`the record of ${subject.deploymentId} says ${record.status}, but the execution ended ${status}`);
  }

  // 7. A notification of the outcome went out (or SNS refused it under the injected fault).
  const attempts = calls.filter((c) => {
    if (c.service !== 'sns' || c.operation !== 'Publish') return false;
    const attrs = (c.input as { MessageAttributes?: Record<string, { StringValue?: string }> }).MessageAttributes ?? {};
    return attrs.deploymentId?.StringValue === subject.deploymentId && subject.finalKinds.includes(attrs.kind?.StringValue ?? '');
  });
  const sent = input.published.filter((m) => m.attributes.deploymentId === subject.deploymentId && subject.finalKinds.includes(m.attributes.kind ?? ''));
  if (sent.length === 0) {
    if (attempts.length > 0 && attempts.every((c) => c.fault)) notes.push(`SNS refused the outcome notification under the injected fault (${attempts[0]!.fault})`);
    else broken.push(`no outcome notification (${subject.finalKinds.join(' / ')}) was published for ${subject.deploymentId}`);
  }

  // 8. No database restored unless the policy allows it.
  const restoreAllowed = scenario.policy === 'restore' || (scenario.policy === 'approve' && scenario.decision === 'restore');
  const restores = calls.filter((c) => c.served && c.service === 'rds' && RESTORE_OPERATIONS.has(c.operation));
  if (restores.length > 0 && !restoreAllowed) broken.push(`the database was restored (${restores.map((c) => c.operation).join(', ')}) though the policy is ${scenario.policy}${scenario.decision ? ` and the operator chose ${scenario.decision}` : ''}`);

  // 9. Retried steps are idempotent: one revision, one migration task, one snapshot, one restore per execution.
  const perExecution = (operation: string) => {
    const counts = new Map<string, number>();
    for (const c of calls) {
      const tag = c.context as CallTag | undefined;
      if (c.served && c.operation === operation && tag) counts.set(tag.step.executionArn, (counts.get(tag.step.executionArn) ?? 0) + 1);
    }
    return Math.max(0, ...counts.values());
  };
  for (const op of ['RegisterTaskDefinition', 'CreateDBSnapshot', 'CreateDBClusterSnapshot', ...RESTORE_OPERATIONS]) {
    const n = perExecution(op);
    if (n > 1) broken.push(`${op} took effect ${n} times in one execution (a retried step is not idempotent)`);
  }
  if (input.migrationTasks > 1) broken.push(`${input.migrationTasks} migration tasks were started for one deployment (RunTask retried without idempotency)`);

  return { outcome, broken, notes };
}

/** The slot whose target group is `tg`, or the ARN. */
function slotOf(env: { slots: Record<string, { targetGroupArn: string }> }, tg: string): string {
  return Object.entries(env.slots).find(([, s]) => s.targetGroupArn === tg)?.[0] ?? tg;
}

function imageOf(twin: Twin, cluster: string, service: string | undefined, container: string): string | undefined {
  if (!service) return undefined;
  const svc = twin.sim.ecs.describeService(cluster, service);
  if (!svc?.taskDefinition) return undefined;
  const { taskDefinition } = twin.sim.ecs.describeTaskDefinition({ taskDefinition: svc.taskDefinition });
  return taskDefinition?.containerDefinitions?.find((c) => c.name === container)?.image;
}

/** True when a run of `state` in the execution ended failed (its last attempt failed and no retry followed). */
function stepFailed(twin: Twin, executionArn: string, state: string): boolean {
  const events = twin.sfn.getExecutionHistory({ executionArn, maxResults: 1000 }).events;
  let inState = false;
  let lastFailed = false;
  let failedRun = false;
  for (const e of events) {
    if (e.type === 'TaskStateEntered') {
      inState = e.stateEnteredEventDetails?.name === state;
      lastFailed = false;
    }
    if (!inState) continue;
    if (/^(LambdaFunction|Task)(Failed|TimedOut)$/.test(e.type ?? '')) lastFailed = true;
    if (/^(LambdaFunction|Task)Succeeded$/.test(e.type ?? '')) lastFailed = false;
    if (e.type === 'TaskStateExited') {
      if (lastFailed) failedRun = true;
      inState = false;
    }
  }
  return failedRun || (inState && lastFailed);
}

/** The Task states of `machine` the run entered, with the calls their invocations made. */
function profileOf(calls: SimCall[], tracker: StepTracker, twin: Twin, machine: StateMachineName, mark: number, tasks: readonly TaskState[]): StepProfile[] {
  const executions = twin.sfn
    .listExecutions({ stateMachineArn: twin.stateMachineArn(machine), maxResults: 1000 })
    .executions.map((e) => e.executionArn!)
    .filter((arn) => tracker.startedAfter(arn, mark));
  const out: StepProfile[] = [];
  for (const t of tasks.filter((task) => task.machine === machine)) {
    const entries = Math.max(0, ...executions.map((arn) => tracker.entries(arn).get(t.state) ?? 0));
    if (entries === 0) continue;
    const mine = calls.filter((c) => {
      const tag = c.context as CallTag | undefined;
      return tag?.step.machine === machine && tag.step.state === t.state && executions.includes(tag.step.executionArn);
    });
    const operations = [...new Set(mine.map((c) => `${c.service}:${c.operation}`))];
    const firstAttempt = new Map<object, number>();
    for (const c of mine) {
      const tag = c.context as CallTag;
      if (tag.step.attempt === 1) firstAttempt.set(tag.step, Math.max(firstAttempt.get(tag.step) ?? 0, tag.index));
    }
    out.push({ state: t.state, entries, operations, firstAttemptCalls: Math.max(0, ...firstAttempt.values()) });
  }
  return out;
}

// ------------------------------------------------------------------------------------ the plan

/** One cell of the table: a Task state and a fault kind. */
export interface PlannedCell {
  readonly machine: StateMachineName;
  readonly state: string;
  readonly kind: FaultKind;
  /** The home scenario's id, or undefined when the cell is not run (see `skip`). */
  readonly scenario?: string;
  /** Runs of the cell (one, or one per call position for `timeout`). */
  readonly targets: FaultTarget[];
  /** Why the cell is not run. */
  readonly skip?: string;
}

export interface Plan {
  readonly cells: PlannedCell[];
  /** Per Task state: its home scenario, or why it has none. */
  readonly states: Array<{ machine: StateMachineName; state: string; home?: string; operations: string[]; reason?: string }>;
}

/**
 * Cases from the scenarios' clean runs: each Task state (from the ASL files) is swept in its home
 * scenario — the first (in {@link SCENARIOS} order) that made AWS calls in it.
 * @param baselines clean runs by scenario id (with `profile`)
 */
export function planSweep(baselines: ReadonlyMap<string, RunResult>, scenarios: readonly Scenario[] = SCENARIOS, kinds: readonly FaultKind[] = FAULT_KINDS): Plan {
  const cells: PlannedCell[] = [];
  const states: Plan['states'] = [];
  for (const task of allTaskStates()) {
    const candidates = scenarios.filter((s) => s.machine === task.machine);
    const profiles = candidates.map((s) => ({ s, p: baselines.get(s.id)?.profile?.find((p) => p.state === task.state) }));
    const home = profiles.find((x) => x.p && x.p.operations.length > 0);
    if (!home) {
      const entered = profiles.find((x) => x.p);
      const reason = entered
        ? `no AWS call to fault: ${task.fn ? `${task.fn} function, DynamoDB / Step Functions only` : describeIntegration(task)} (entered in ${entered.s.id})`
        : `no scenario enters it${task.comment ? ` (${task.comment})` : ''}`;
      states.push({ machine: task.machine, state: task.state, operations: [], reason });
      for (const kind of kinds) cells.push({ machine: task.machine, state: task.state, kind, targets: [], skip: entered ? 'no AWS call' : 'not exercised' });
      continue;
    }
    const profile = home.p!;
    states.push({ machine: task.machine, state: task.state, home: home.s.id, operations: profile.operations });
    for (const kind of kinds) {
      const base = { machine: task.machine, state: task.state, kind };
      if (kind === 'vanished' && !profile.operations.some((op) => faultAction('vanished', { service: op.split(':')[0] as never, operation: op.split(':')[1]!, input: {} }))) {
        cells.push({ ...base, scenario: home.s.id, targets: [], skip: 'nothing it calls can vanish' });
        continue;
      }
      const targets: FaultTarget[] =
        kind === 'timeout'
          ? Array.from({ length: Math.max(1, profile.firstAttemptCalls) }, (_, i) => ({ ...base, position: i + 1 }))
          : [base];
      cells.push({ ...base, scenario: home.s.id, targets });
    }
  }
  return { cells, states };
}

function describeIntegration(task: TaskState): string {
  const m = /:::(states|lambda):([A-Za-z.:0-9]+)$/.exec(task.resource);
  return m ? `Step Functions integration ${m[1]}:${m[2]}${m[1] === 'states' ? ' (the execution it starts is swept as its own machine)' : ''}` : task.resource;
}

export interface CellResult extends PlannedCell {
  readonly runs: RunResult[];
}

export interface SweepResult {
  readonly baselines: Map<string, RunResult>;
  readonly plan: Plan;
  readonly cells: CellResult[];
}

export interface SweepOptions {
  /** Only these scenarios (ids). @default all */
  readonly scenarios?: readonly string[];
  /** Only cells whose `<machine>/<state>` or state name matches. @default all */
  readonly states?: (machine: StateMachineName, state: string) => boolean;
  /** Only these kinds. @default all five */
  readonly kinds?: readonly FaultKind[];
  /** Progress, one line per run. */
  readonly progress?: (line: string) => void;
  /** See {@link RunOptions.timeoutMs}. */
  readonly timeoutMs?: number;
}

/** Clean runs of the scenarios, then every planned case. */
export async function runSweep(opts: SweepOptions = {}): Promise<SweepResult> {
  const scenarios = SCENARIOS.filter((s) => !opts.scenarios || opts.scenarios.includes(s.id));
  const baselines = new Map<string, RunResult>();
  for (const s of scenarios) {
    const r = await runScenario(s, undefined, { timeoutMs: opts.timeoutMs });
    baselines.set(s.id, r);
    const expected = r.status === s.expected.status && (s.expected.error === undefined || r.error === s.expected.error);
    if (!expected) r.broken.push(`the clean run ended ${r.status}${r.error ? ` (${r.error}: ${r.cause})` : ''}, expected ${s.expected.status}${s.expected.error ? ` (${s.expected.error})` : ''}`);
    opts.progress?.(`baseline ${s.id}: ${r.outcome}${r.broken.length ? ` ✘ ${r.broken.join('; ')}` : ''} (${r.realMs} ms)`);
  }
  const plan = planSweep(baselines, scenarios, opts.kinds ?? FAULT_KINDS);
  const cells: CellResult[] = [];
  for (const cell of plan.cells) {
    if (opts.states && !opts.states(cell.machine, cell.state)) continue;
    const runs: RunResult[] = [];
    for (const target of cell.targets) {
      const scenario = scenarios.find((s) => s.id === cell.scenario)!;
      const r = await runScenario(scenario, target, { timeoutMs: opts.timeoutMs, baseline: baselines.get(scenario.id) });
      runs.push(r);
      opts.progress?.(
        `${cell.machine}/${cell.state} × ${cell.kind}${target.position ? ` (call ${target.position})` : ''}: ${r.outcome}${r.faulted.length === 0 ? ' (no call faulted)' : ''}${r.broken.length ? ` ✘ ${r.broken.join('; ')}` : ''} (${r.realMs} ms)`,
      );
    }
    cells.push({ ...cell, runs });
  }
  return { baselines, plan, cells };
}
