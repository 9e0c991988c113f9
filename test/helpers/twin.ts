/**
 * Test helper: a local twin (lib/local/twin.ts) running the real `deploy` state machine and the real
 * Lambda handlers against the simulator, plus small readers of the observable state a test asserts:
 * production weights, a slot's desired count, the deployment record and the lock in DynamoDB, the
 * execution's history, and the simulator's call log.
 *
 * One twin per process at a time: the twin configures the SDK client factory and `CUTOVER_CONFIG`
 * globally. Always `await t.stop()` (in `after` / `afterEach`) so the process exits.
 *
 * Time: {@link TEST_TIME_SCALE} simulated seconds per real second. Real lag cannot fail these tests:
 * a Lambda Task's `TimeoutSeconds` is real seconds in the twin (its handler runs in real time), and
 * while a handler runs it holds the twin's simulated clock (lib/local/clock.ts), so a slow ledger call
 * (2-3 requests to dynalite: ~15 ms on an idle 2-core machine, ~55 ms on a loaded one) is neither a
 * `States.Timeout` nor simulated time. What the scale still bounds is the tests' own real-time
 * reactions: a test that acts while the execution waits (an operator's answer during a 30 s bake,
 * an alarm between two polls) needs the wait to last long enough in real time — 75 ms for a 30 s
 * bake at 400. Simulated durations are shortened instead ({@link FAST_SIMULATOR}) so a deployment
 * still takes well under a second.
 */
import { readFileSync } from 'node:fs';
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { cloudWatchClient } from '../../lib/aws/clients';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { ModifyListenerInput } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ROOT_DIR } from '../../lib/catalog';
import { parseConfig } from '../../lib/config/load';
import type { Config, EnvironmentConfig } from '../../lib/config/schema';
import type { ExplicitDeployInput } from '../../lib/domain/deploy-input';
import type { SlotName } from '../../lib/domain/slots';
import { parseEcrImage } from '../../lib/domain/image-events';
import type { DeploymentRecord, LockItem } from '../../lib/aws/ledger';
import { arnPartitionAndAccount } from '../../lib/domain/approvers';
import { toFunctionUrlEvent } from '../../lib/local/function-url';
import { loadTwinAccountFile } from '../../lib/local/live/account';
import { Twin, type LiveTwinOptions, type TwinOptions } from '../../lib/local/twin';
import { productionOnly } from './plans';
import type { ExecutionDescription } from '../../lib/local/stepfunctions/service';

export const SAMPLE_CONFIG_FILE = join(ROOT_DIR, 'lib/config/samples/hello-world.json');
/** The sample config's hello-world/production alone (no staging): `productionOnly` of the sample, as a file. */
export const PRODUCTION_ONLY_CONFIG_FILE = join(ROOT_DIR, 'test/fixtures/hello-world-production.json');
/** The sample twin account (images v1-v4, listeners, health checks, alarms, initial release v1). */
export const SAMPLE_ACCOUNT_FILE = join(ROOT_DIR, 'lib/config/samples/hello-world.twin.json');

/**
 * Options of a living twin (`Twin.start({ live })`) for tests: the sample twin account, every
 * listener on a free port (tests run side by side), state in `stateDir`.
 * @param extra overrides, e.g. `{ reset: true }`
 */
export function sampleLiveOptions(stateDir: string, extra: Partial<LiveTwinOptions> = {}): LiveTwinOptions {
  const { account, images } = loadTwinAccountFile(SAMPLE_ACCOUNT_FILE);
  const listenerPorts = Object.fromEntries(Object.keys(account.listenerPorts).map((arn) => [arn, 0]));
  return { account, images, stateDir, listenerPorts, ...extra };
}
/** The sample config's only service and environment. */
export const SERVICE = 'hello-world';
/** The sample config's 5xx alarm. */
export const ALARM_5XX = 'hello-world-production-5xx';
export const ENVIRONMENT = 'production';

/** Simulated seconds per real second (see the file comment for what bounds it). */
export const TEST_TIME_SCALE = 400;

/**
 * Simulator durations (simulated seconds) shorter than AWS's so a deployment needs few polls: a
 * snapshot is available at the first check (30 s), green is stable at the first check (15 s), each
 * restore-and-swap step is done by the next poll (30 s).
 */
export const FAST_SIMULATOR = { deploymentSeconds: 10, snapshotSeconds: 10, restoreSeconds: 20, renameSeconds: 10 } as const;

/** A canary whose bake (2 alarm checks) is short, for tests where the bake length does not matter. */
export const SHORT_CANARY = { type: 'canary', percent: 10, bakeSeconds: 30 } as const;

/** The sample config as plain JSON (a fresh copy to edit). */
export function sampleConfigJson(): { services: Record<string, { environments: Record<string, Record<string, unknown>> }> } {
  const raw = JSON.parse(readFileSync(SAMPLE_CONFIG_FILE, 'utf8'));
  productionOnly(raw);
  // The sample's GitHub access (checks gate, GitHub Deployments) belongs to the tests about it
  // (deploy-checks-github), which add it back: elsewhere a deployment would wait for check runs.
  // The simulator's listeners serve no HTTP, so the sample's verify checks are dropped too.
  for (const svc of Object.values(raw.services) as Array<Record<string, unknown> & { environments: Record<string, Record<string, unknown>> }>) {
    delete svc.checks;
    delete svc.github;
    // Likewise its smoke checks (deploy-verify adds them, with listeners it serves).
    for (const env of Object.values(svc.environments)) delete env.verify;
  }
  return raw;
}

/** The sample config, validated (defaults applied). */
export function sampleConfig(): Config {
  return parseConfig(sampleConfigJson(), SAMPLE_CONFIG_FILE);
}

/**
 * A variant of the sample config: `edit` changes the raw JSON of hello-world/production (e.g.
 * `env.databaseFailurePolicy = 'keep'`); the result goes through `parseConfig` like a user's file.
 */
export function configVariant(edit: (env: Record<string, any>) => void, editService: (service: Record<string, any>) => void = () => {}): Config {
  const raw = sampleConfigJson();
  edit(raw.services[SERVICE]!.environments[ENVIRONMENT]!);
  editService(raw.services[SERVICE]!);
  return parseConfig(raw, 'test config variant');
}

/**
 * Add to a raw service config an environment `name` that is a copy of its production environment on
 * resources of its own (cluster, ECS services, target groups, load balancer and listeners, database,
 * alarms `<service>-<name>-…`). Returns the new environment's raw JSON to edit.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function addEnvironmentLikeProduction(service: Record<string, any>, name: string): Record<string, any> {
  const prod = service.environments[ENVIRONMENT];
  const copy = JSON.parse(JSON.stringify(prod));
  // Another load balancer / target group: its name gets the environment, its id is the production one reversed.
  const arn = (a: string) => a.replace(/hello-world/g, `hello-world-${name}`).replace(/[0-9a-f]{16}$/, (id) => id.split('').reverse().join(''));
  copy.cluster = `${prod.cluster}-${name}`;
  for (const slot of ['blue', 'green']) {
    copy.slots[slot].service = `hello-world-${name}-${slot}`;
    copy.slots[slot].targetGroupArn = arn(prod.slots[slot].targetGroupArn);
  }
  copy.production = { listenerArn: arn(prod.production.listenerArn) };
  if (prod.test) copy.test = { listenerArn: arn(prod.test.listenerArn) };
  copy.alarms = (prod.alarms as string[]).map((a) => a.replace('production', name));
  if (copy.database?.instanceIdentifier) copy.database.instanceIdentifier = `hello-world-${name}`;
  service.environments[name] = copy;
  return copy;
}

/** A session of the `release-managers` role (the sample's production approvers) in the sample's account. */
export const APPROVER_ARN = 'arn:aws:sts::123456789012:assumed-role/release-managers/ada';
/** A session of a role that approves nothing. */
export const DEVELOPER_ARN = 'arn:aws:sts::123456789012:assumed-role/developers/bob';

/**
 * The event the approval function gets from its function URL once AWS verified the caller's SigV4
 * signature (`requestContext.authorizer.iam.userArn` = `callerArn`), for a JSON `body`.
 */
export function approvalFunctionEvent(callerArn: string, body: Record<string, unknown>) {
  const { account } = arnPartitionAndAccount(callerArn);
  return toFunctionUrlEvent(
    { method: 'POST', url: '/', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) },
    { accessKeyId: 'AKIATESTS', arn: callerArn, accountId: account, userId: `AROATESTS:${callerArn.split('/').pop()}` },
    { accountId: account },
  );
}

/** The GitHub token secret the tests' configs name (the twin seeds it with its double's token). */
export const GITHUB_TOKEN_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cutover/github-token-AbCdEf';

/** A random 40-character commit SHA. */
export const randomCommit = (): string => randomBytes(20).toString('hex');

/** Explicit deploy input (lib/domain/deploy-input.ts) for hello-world/production with a fresh commit. */
export function deployInput(release: Partial<ExplicitDeployInput['release']> = {}): ExplicitDeployInput {
  return {
    service: SERVICE,
    environment: ENVIRONMENT,
    release: { commit: randomCommit(), message: 'test release', ...release },
    trigger: { source: 'console', actor: 'state-machine tests' },
  };
}

export interface StartedDeployment {
  readonly executionArn: string;
  /** The execution name = the deployment id in the ledger. */
  readonly name: string;
  readonly input: ExplicitDeployInput | undefined;
}

export interface TestTwinOptions {
  /** @default the sample config */
  readonly config?: Config;
  /** @default TEST_TIME_SCALE */
  readonly timeScale?: number;
  /** @default FAST_SIMULATOR */
  readonly simulator?: TwinOptions['simulator'];
  /**
   * Every release image counts as pushed to the twin's ECR already (the tests that are not about the
   * image wait). `false`: only what the test pushes (`sim.ecr.pushImage`) exists.
   * @default true
   */
  readonly autoPushImages?: boolean;
}

let executionCounter = 0;

export class TestTwin {
  readonly env: EnvironmentConfig;

  private constructor(readonly twin: Twin) {
    this.env = twin.config.services[SERVICE]!.environments[ENVIRONMENT]!;
  }

  static async start(opts: TestTwinOptions = {}): Promise<TestTwin> {
    const twin = await Twin.start({
      config: opts.config ?? sampleConfig(),
      port: 0,
      timeScale: opts.timeScale ?? TEST_TIME_SCALE,
      simulator: opts.simulator ?? FAST_SIMULATOR,
      autoPushImages: opts.autoPushImages ?? true,
    });
    return new TestTwin(twin);
  }

  get sim() {
    return this.twin.sim;
  }

  stop(): Promise<void> {
    return this.twin.stop();
  }

  /**
   * StartExecution of the deploy state machine.
   * @param input an object (sent as JSON) or a raw string (sent as is, e.g. `"[1,2]"`)
   */
  startDeployment(input: ExplicitDeployInput | string | unknown = deployInput(), name = `test-${process.pid}-${++executionCounter}-${randomBytes(3).toString('hex')}`): StartedDeployment {
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    const { executionArn } = this.twin.sfn.startExecution({ stateMachineArn: this.twin.deployStateMachineArn, name, input: text });
    return { executionArn, name, input: typeof input === 'object' ? (input as ExplicitDeployInput) : undefined };
  }

  /** Resolves when the execution has closed. */
  wait(d: StartedDeployment): Promise<ExecutionDescription> {
    return this.twin.sfn.waitForExecution(d.executionArn);
  }

  /** Start a deployment and wait for it to close. */
  async deploy(input: ExplicitDeployInput | string | unknown = deployInput()): Promise<{ d: StartedDeployment; result: ExecutionDescription }> {
    const d = this.startDeployment(input);
    return { d, result: await this.wait(d) };
  }

  /** The whole history of an execution, oldest first. */
  history(d: StartedDeployment): HistoryEvent[] {
    return this.twin.sfn.getExecutionHistory({ executionArn: d.executionArn, maxResults: 1000 }).events;
  }

  /** Names of the states entered, in order (Task retries are not new entries, as on AWS). */
  statesEntered(d: StartedDeployment): string[] {
    return this.history(d)
      .filter((e) => e.type?.endsWith('StateEntered'))
      .map((e) => e.stateEnteredEventDetails!.name!);
  }

  /**
   * Call `fn` once, when the execution of `d`'s name enters `state` (subscribe before starting: pass
   * the name you will start with). Returns the unsubscribe function.
   */
  onStateEntered(executionArnEndsWith: string, state: string, fn: () => void): () => void {
    let fired = false;
    return this.twin.sfn.onHistoryEvent((arn, event) => {
      if (fired || !arn.endsWith(`:${executionArnEndsWith}`)) return;
      if (event.type?.endsWith('StateEntered') && event.stateEnteredEventDetails?.name === state) {
        fired = true;
        fn();
      }
    });
  }

  /**
   * Resolves once the execution has entered `state` (at once if it already has). Rejects, naming the
   * execution's outcome, when it closes without entering it, or after `timeoutMs` — so that a test
   * waiting for a state never hangs.
   */
  untilStateEntered(d: StartedDeployment, state: string, timeoutMs = 30_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        off();
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const off = this.onStateEntered(d.name, state, () => finish());
      const timer = setTimeout(() => finish(new Error(`${d.name} did not enter ${state} within ${timeoutMs} ms`)), timeoutMs);
      if (this.statesEntered(d).includes(state)) finish();
      void this.wait(d).then((e) => {
        if (!this.statesEntered(d).includes(state)) finish(new Error(`${d.name} ended ${e.status} (${e.error}: ${e.cause}) without entering ${state}`));
        else finish();
      });
    });
  }

  /** Production (or, with `'test'`, test) forward weights by slot (percent). */
  weights(which: 'production' | 'test' = 'production'): Record<SlotName, number> {
    const route = this.env[which];
    if (!route) throw new Error(`the environment has no ${which} route`);
    const byTg = this.sim.elbv2.weights('listenerArn' in route ? route.listenerArn : route.ruleArn);
    return { blue: byTg[this.env.slots.blue.targetGroupArn] ?? 0, green: byTg[this.env.slots.green.targetGroupArn] ?? 0 };
  }

  /** The slot's ECS service as DescribeServices shows it now. */
  service(slot: SlotName) {
    const svc = this.sim.ecs.describeService(this.env.cluster, this.env.slots[slot].service);
    if (!svc) throw new Error(`no ECS service for slot ${slot}`);
    return svc;
  }

  desiredCount(slot: SlotName): number {
    return this.service(slot).desiredCount ?? NaN;
  }

  /** Image of the configured container in the task definition the slot's service runs. */
  imageOf(slot: SlotName): string | undefined {
    const { taskDefinition } = this.sim.ecs.describeTaskDefinition({ taskDefinition: this.service(slot).taskDefinition! });
    return taskDefinition?.containerDefinitions?.find((c) => c.name === this.env.containerName)?.image;
  }

  /** The deployment record of `d` in the ledger table (undefined when none was written). */
  async record(d: StartedDeployment): Promise<DeploymentRecord | undefined> {
    return (await this.twin.ledger.history(SERVICE, ENVIRONMENT, 100)).find((r) => r.deploymentId === d.name);
  }

  /** The lock item of hello-world/production, if held. */
  /**
   * Call the approval function as its function URL does once AWS verified the caller's SigV4
   * signature: `callerArn` is the identity (`requestContext.authorizer.iam.userArn`).
   * @returns the HTTP status and the parsed JSON body
   */
  async callApproval(
    request: { decision: 'approve' | 'reject'; operator?: string; comment?: string; reason?: string; service?: string; environment?: string },
    callerArn: string = APPROVER_ARN,
  ): Promise<{ status: number; body: Record<string, any> }> {
    const event = approvalFunctionEvent(callerArn, { service: SERVICE, environment: ENVIRONMENT, operator: 'ada', ...request });
    const out = (await this.twin.lambda.invoke('approval', event)) as { statusCode: number; body: string };
    return { status: out.statusCode, body: JSON.parse(out.body) as Record<string, any> };
  }

  lock(): Promise<LockItem | undefined> {
    return this.twin.ledger.getLock(SERVICE, ENVIRONMENT);
  }

  /** Poll until `read` returns a truthy value (real time). */
  async waitFor<T>(what: string, read: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (value) return value as NonNullable<T>;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Wait until the record of `d` carries a pending operator decision; returns its task token. */
  async pendingDecision(d: StartedDeployment): Promise<{ token: string; question: string }> {
    const r = await this.waitFor('a pending database decision', async () => {
      const status = this.twin.sfn.describeExecution({ executionArn: d.executionArn });
      if (status.status !== 'RUNNING') throw new Error(`${d.name} ended ${status.status} (${status.error}: ${status.cause}) without asking for a decision`);
      const rec = await this.record(d);
      return rec?.pendingTaskToken && rec.pendingKind === 'database-decision' ? rec : undefined;
    }, 30_000);
    return { token: r.pendingTaskToken!, question: r.pendingQuestion ?? '' };
  }

  /**
   * Weight of `slot` in every ModifyListener call to the production listener, in call order (what
   * production traffic went through, as cutover set it).
   */
  weightsSet(slot: SlotName): number[] {
    const route = this.env.production;
    const arn = 'listenerArn' in route ? route.listenerArn : route.ruleArn;
    const tg = this.env.slots[slot].targetGroupArn;
    return this.sim.calls
      .filter((c) => c.service === 'elbv2' && (c.operation === 'ModifyListener' || c.operation === 'ModifyRule'))
      .map((c) => c.input as ModifyListenerInput & { RuleArn?: string; Actions?: ModifyListenerInput['DefaultActions'] })
      .filter((i) => (i.ListenerArn ?? i.RuleArn) === arn)
      .map((i) => {
        const forward = (i.DefaultActions ?? i.Actions ?? []).find((a) => a.Type === 'forward');
        return forward?.ForwardConfig?.TargetGroups?.find((g) => g.TargetGroupArn === tg)?.Weight ?? 0;
      });
  }

  /**
   * Push `<imageRepository>:<commit>` of `environment` to the twin's ECR (as CI would) and return the
   * digest-pinned reference a deployment of that commit runs (`<repositoryUri>@sha256:…`), e.g. to
   * mark it crashing with `sim.ecs.setImageHealth`.
   */
  pushImage(commit: string, environment: string = ENVIRONMENT): string {
    const repositoryUri = this.twin.config.services[SERVICE]!.environments[environment]!.imageRepository;
    const ref = parseEcrImage(`${repositoryUri}:${commit}`)!;
    const { digest } = this.sim.ecr.pushImage(ref.repositoryName, commit);
    return `${ref.repositoryUri}@${digest}`;
  }

  /**
   * What a deployment of `commit` runs: `<repositoryUri>@<digest>` of the tag `<commit>` in the twin's
   * ECR (a release is pinned by digest), read from ECR itself.
   * @throws Error when ECR has no such tag
   */
  releaseImage(commit: string, environment: string = ENVIRONMENT): string {
    const ref = parseEcrImage(`${this.twin.config.services[SERVICE]!.environments[environment]!.imageRepository}:${commit}`)!;
    const out = this.sim.ecr.invoke('DescribeImages', { repositoryName: ref.repositoryName, imageIds: [{ imageTag: commit }] }) as { imageDetails?: Array<{ imageDigest?: string }> };
    return `${ref.repositoryUri}@${out.imageDetails![0]!.imageDigest!}`;
  }

  /** Simulator calls that change AWS state (anything but Describe* / List* / Get*). */
  writeCalls() {
    return this.sim.calls.filter((c) => !/^(Describe|List|Get)/.test(c.operation));
  }

  /** UpdateService calls to the slot's service. */
  updateServiceCalls(slot: SlotName) {
    return this.sim.calls.filter(
      (c) => c.service === 'ecs' && c.operation === 'UpdateService' && (c.input as { service?: string }).service === this.env.slots[slot].service,
    );
  }
}

/** Error events of the Lambda attempts of `state` in a history: `LambdaFunctionFailed` / `...Succeeded` in order. */
export function lambdaAttempts(events: HistoryEvent[], state: string): Array<{ type: string; error?: string }> {
  const out: Array<{ type: string; error?: string }> = [];
  let inState = false;
  for (const e of events) {
    if (e.type?.endsWith('StateEntered')) inState = e.stateEnteredEventDetails?.name === state;
    if (!inState) continue;
    if (e.type === 'LambdaFunctionFailed') out.push({ type: e.type, error: e.lambdaFunctionFailedEventDetails?.error });
    if (e.type === 'LambdaFunctionTimedOut') out.push({ type: e.type, error: 'States.Timeout' });
    if (e.type === 'LambdaFunctionSucceeded') out.push({ type: e.type });
    if (e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === state) inState = false;
  }
  return out;
}

/**
 * SetAlarmState on the twin's CloudWatch (the twin's SDK clients must be configured, i.e. a twin runs):
 * the alarm changes state and, going to ALARM, emits the "CloudWatch Alarm State Change" event the
 * twin routes to the `alarm` function.
 */
export function setAlarm(StateValue: 'ALARM' | 'OK', AlarmName: string = ALARM_5XX) {
  return cloudWatchClient().send(
    new SetAlarmStateCommand({ AlarmName, StateValue, StateReason: 'Threshold Crossed: 1 out of the last 1 datapoints [12.0] was greater than the threshold (5.0).' }),
  );
}
