/**
 * An in-process AWS simulator with AWS semantics, plugged into the SDK client factory as an
 * {@link InProcessTransport} (`configureClients({ transport: sim })` in lib/aws/clients.ts).
 *
 * It implements the parts of ECS, ELBv2, RDS, CloudWatch, CloudWatch Logs, Secrets Manager, SNS and ECR that cutover uses:
 * the same input validation, resource states computed lazily from a {@link SimClock} (no timers:
 * `clock.advance()` makes things happen), pagination, and the SDK's own typed exceptions. Faults and
 * latency can be injected per operation, and every call is logged in {@link Simulator.calls}.
 */
import type { AwsService, InProcessTransport } from '../../aws/clients';
import type { Config } from '../../config/schema';
import type { SimClock } from '../clock';
import { LiveEcs, type LiveEcsOptions } from '../live/ecs';
import { CloudWatchSimulator } from './cloudwatch';
import { EcsSimulator, type EcsSimulatorOptions } from './ecs';
import { Elbv2Simulator } from './elbv2';
import { awsError, type SimServiceName } from './errors';
import { faultError, Faults, type FaultAction, type FaultPolicy, type FaultSpec } from './faults';
import { LogsSimulator } from './logs';
import { RdsSimulator, type RdsSimulatorOptions } from './rds';
import { SecretsSimulator } from './secrets';
import { seedFromConfig, type SeedOptions } from './seed';
import type { SimulatedService } from './service';
import { nameFromArn } from './util';
import { SnsSimulator } from './sns';
import { EcrSimulator } from './ecr';

export { SimClock } from '../clock';
export type { AlarmStateChangeEvent, AlarmStateListener } from './cloudwatch';
export type { ImageHealth, RunTaskInfo, RunTaskOutcome } from './ecs';
export { forwardAction, listenerArnOfRule, loadBalancerArnOfListener } from './elbv2';
export { awsError, type SimServiceName } from './errors';
export { FAULT_KINDS, faultAction, type FaultAction, type FaultCall, type FaultKind, type FaultPolicy, type FaultSpec } from './faults';
export { logsError } from './logs';
export type { SeedOptions } from './seed';
export type { SnsPublishedMessage, SnsPublishListener } from './sns';
export type { EcrEvent, EcrFinding, EcrImageInfo, EcrSeverity } from './ecr';
export { EcrSimulator, ecrDigest } from './ecr';
export { CloudWatchSimulator, EcsSimulator, Elbv2Simulator, LiveEcs, LogsSimulator, RdsSimulator, SecretsSimulator, SnsSimulator };

export interface SimulatorOptions extends EcsSimulatorOptions, RdsSimulatorOptions {
  /** Simulated time; every resource state is derived from it. */
  readonly clock: SimClock;
  /** Region in the ARNs the simulator makes. @default 'us-east-1' */
  readonly region?: string;
  /** Account id in the ARNs the simulator makes. @default '123456789012' */
  readonly accountId?: string;
  /**
   * The living twin's ECS (lib/local/live/ecs.ts): tasks are real child processes registered with a
   * real load balancer. Without it, ECS is the lazily computed {@link EcsSimulator}.
   */
  readonly liveEcs?: Omit<LiveEcsOptions, 'elbv2'>;
}

/** One call that reached the simulator (logged before faults are applied). */
export interface SimCall {
  readonly service: SimServiceName;
  /** Operation name without `Command`, e.g. `UpdateService`. */
  readonly operation: string;
  /** The command input as sent (a copy). */
  readonly input: unknown;
  /** Simulated time of the call. */
  readonly at: Date;
  /** What the tagger set with {@link Simulator.tagCalls} returned for this call (e.g. the step that made it). */
  readonly context?: unknown;
  /** Set when an injected fault affected the call: its error code, or its `label`. */
  fault?: string;
  /**
   * True once the service ran the call successfully (its effect happened), even if the caller then
   * got an injected error (a fault with `phase: 'after'`); undefined while running, or when the
   * call failed before or in the service.
   */
  served?: boolean;
}

/** RunTask client tokens are remembered this long (ECS: 24 hours), in simulated milliseconds. */
const RUN_TASK_TOKEN_TTL_MS = 24 * 3600 * 1000;

/**
 * @typeParam Ecs which ECS runs behind the API: the lazily computed {@link EcsSimulator} (default), or
 *   the living twin's {@link LiveEcs} when constructed with `liveEcs` (use {@link Simulator.live}).
 */
export class Simulator<Ecs extends EcsSimulator | LiveEcs = EcsSimulator> implements InProcessTransport {
  readonly clock: SimClock;
  readonly region: string;
  readonly accountId: string;
  /**
   * Scenario hooks: `describeService`; on the {@link EcsSimulator} also `setImageHealth`,
   * `setRunTaskOutcome`, `seedStableService`; on the {@link LiveEcs} `tasksOf`.
   */
  readonly ecs: Ecs;
  /** Scenario hooks: `weights`, `pickTargetGroup`, `seedListener`, `seedRule`, `seedTargetGroup`. */
  readonly elbv2: Elbv2Simulator;
  /** Scenario hooks: data payloads (`instanceData`, `setInstanceData`, ...), `seedInstance`, `seedCluster`. */
  readonly rds: RdsSimulator;
  /**
   * Scenario hooks: `onStateChange`, `seedAlarm`, `seedMetricAlarm`; metrics from the twin's own
   * services through `publishServiceMetrics`; alarm evaluation with `evaluateAlarms` / `startEvaluation`.
   */
  readonly cloudwatch: CloudWatchSimulator;
  /** Scenario hooks: `seedSecret`. */
  readonly secrets: SecretsSimulator;
  /**
   * CloudWatch Logs: the awslogs streams of the live ECS's tasks (read from `liveEcs.logDir`); scenario
   * hook `seedLogEvents` (any simulator); faults through {@link injectFault} with `service: 'logs'`.
   */
  readonly logs: LogsSimulator;
  /**
   * SNS topics and Publish (deployment notifications). Scenario hooks: `seedTopic`, `onPublish`; every
   * accepted message is in `published`; faults through {@link injectFault} with `service: 'sns'`.
   */
  readonly sns: SnsSimulator;
  /**
   * ECR (CreateRepository, DescribeRepositories, DescribeImages, BatchGetImage, PutImage,
   * DescribeImageScanFindings): repositories, images, pushes and basic scans. Scenario hooks:
   * `seedRepository`, `pushImage`, `setScanFindings`, `onImageAction` / `onScanComplete` (the
   * EventBridge events), `imageByDigest`, `tagsOf`, `autoPush` (tests not about the image wait).
   */
  readonly ecr: EcrSimulator;
  /** Every call made through {@link send}, oldest first. Tests may clear it (`calls.length = 0`). */
  readonly calls: SimCall[] = [];
  private readonly faults = new Faults();
  private readonly services: Record<SimServiceName, SimulatedService>;
  private tagger: (() => unknown) | undefined;
  /** `<cluster>\n<clientToken>` → the RunTask request (without the token) and its answer. */
  private readonly runTaskTokens = new Map<string, { request: string; output: Record<string, unknown>; atMs: number }>();

  constructor(opts: SimulatorOptions) {
    this.clock = opts.clock;
    this.region = opts.region ?? 'us-east-1';
    this.accountId = opts.accountId ?? '123456789012';
    const ctx = { clock: this.clock, region: this.region, accountId: this.accountId };
    this.elbv2 = new Elbv2Simulator(ctx);
    this.ecs = (opts.liveEcs ? new LiveEcs(ctx, { ...opts.liveEcs, elbv2: this.elbv2 }) : new EcsSimulator(ctx, this.elbv2, opts)) as Ecs;
    this.rds = new RdsSimulator(ctx, opts);
    this.cloudwatch = new CloudWatchSimulator(ctx);
    this.secrets = new SecretsSimulator(ctx);
    this.logs = new LogsSimulator(ctx, { ecs: this.ecs, logDir: opts.liveEcs?.logDir });
    this.sns = new SnsSimulator(ctx);
    this.ecr = new EcrSimulator(ctx);
    this.services = {
      ecs: this.ecs,
      elbv2: this.elbv2,
      rds: this.rds,
      cloudwatch: this.cloudwatch,
      secretsmanager: this.secrets,
      logs: this.logs,
      sns: this.sns,
      ecr: this.ecr,
    };
  }

  /** True for ecs, elbv2, rds, cloudwatch, logs, secretsmanager, sns and ecr. */
  handles(service: AwsService): boolean {
    return Object.hasOwn(this.services, service);
  }

  /**
   * Run one SDK command: log it, apply a matching injected fault (the queue of {@link injectFault},
   * then the policy of {@link setFaultPolicy}), then run it against the simulated state.
   * ECS RunTask honours `clientToken` as ECS does (for both ECS engines): a retry with the same token
   * and the same parameters within 24 hours returns the first answer and starts no task; the same
   * token with other parameters fails with `ConflictException`.
   * @param operation the command name without `Command`, e.g. `DescribeServices`
   * @param input the command input, exactly as the SDK v3 command takes it
   * @returns the command output (without `$metadata`), a copy of the simulator's state
   * @throws (rejects with) the SDK's typed exception, e.g. `ServiceNotFoundException` from @aws-sdk/client-ecs,
   *   or an injected fault's error
   */
  async send(service: AwsService, operation: string, input: unknown): Promise<Record<string, unknown>> {
    if (!this.handles(service)) throw new Error(`The cutover simulator does not handle the ${service} service`);
    const name = service as SimServiceName;
    const context = this.tagger?.();
    const call: SimCall = { service: name, operation, input: safeCopy(input), at: this.clock.now(), ...(context !== undefined ? { context } : {}) };
    this.calls.push(call);
    const action: FaultAction | undefined = this.faults.take(call);
    if (action && (action.error !== undefined || action.respond)) call.fault = action.label ?? action.error ?? 'respond';
    if (action?.latencyMs) await new Promise((resolve) => setTimeout(resolve, action.latencyMs));
    if (action?.error !== undefined && action.phase !== 'after') throw faultError(name, action);
    const output = this.run(name, operation, input);
    call.served = true;
    if (action?.error !== undefined) throw faultError(name, action);
    return action?.respond ? action.respond(output, input) : output;
  }

  /**
   * Tag every call from now on with what `tagger` returns when the call arrives (stored in
   * {@link SimCall.context}, seen by a fault policy): e.g. an AsyncLocalStorage's store naming the
   * step that made the call. Undefined removes the tagger.
   */
  tagCalls(tagger: (() => unknown) | undefined): void {
    this.tagger = tagger;
  }

  /**
   * Ask `policy` about every call from now on (after the queue of {@link injectFault}); undefined
   * removes it. See {@link FaultAction} for what it can do to a call (fail before or after the call
   * takes effect, wait, answer without a resource) and `faultAction` for AWS-like faults by kind.
   */
  setFaultPolicy(policy: FaultPolicy | undefined): void {
    this.faults.setPolicy(policy);
  }

  /**
   * Make upcoming calls fail and/or slow down (see {@link FaultSpec}); faults are consumed in order.
   * @example sim.injectFault({ service: 'ecs', operation: 'UpdateService', error: 'ThrottlingException', times: 2 })
   * @example sim.injectFault({ service: 'logs', operation: 'GetLogEvents', error: 'AccessDeniedException' })
   * @example sim.injectFault({ service: 'sns', operation: 'Publish', error: 'AuthorizationErrorException' })
   */
  injectFault(spec: FaultSpec): void {
    this.faults.inject(spec);
  }

  /** Remove all pending injected faults and the fault policy. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** The service's answer to a call (a copy), RunTask through its client token. */
  private run(name: SimServiceName, operation: string, input: unknown): Record<string, unknown> {
    if (name === 'ecs' && operation === 'RunTask') return this.runTask(input as Record<string, unknown> | undefined);
    return structuredClone(this.services[name].invoke(operation, input));
  }

  /**
   * RunTask with ECS's client-token idempotency ("Ensuring idempotency", Amazon ECS API Reference):
   * the token (1-64 ASCII characters 33-126) is scoped to the cluster and kept 24 hours.
   */
  private runTask(input: Record<string, unknown> | undefined): Record<string, unknown> {
    const token = input?.clientToken;
    if (token === undefined || token === null) return structuredClone(this.services.ecs.invoke('RunTask', input));
    if (typeof token !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(token)) {
      throw awsError('ecs', 'InvalidParameterException', 'clientToken must be 1-64 ASCII characters in the range 33-126.');
    }
    const { clientToken: _token, ...request } = input!;
    const key = `${nameFromArn(String(input!.cluster ?? 'default'))}\n${token}`;
    const text = stableJson(request);
    const nowMs = this.clock.nowMs();
    const seen = this.runTaskTokens.get(key);
    if (seen && nowMs - seen.atMs < RUN_TASK_TOKEN_TTL_MS) {
      if (seen.request !== text) throw awsError('ecs', 'ConflictException', 'The specified client token has already been used in a request with different parameters.');
      return structuredClone(seen.output);
    }
    const output = structuredClone(this.services.ecs.invoke('RunTask', input));
    this.runTaskTokens.set(key, { request: text, output: structuredClone(output), atMs: nowMs });
    return output;
  }

  /** A simulator whose ECS tasks are real processes (`opts.liveEcs` is required). */
  static live(opts: SimulatorOptions & { liveEcs: Omit<LiveEcsOptions, 'elbv2'> }): Simulator<LiveEcs> {
    return new Simulator<LiveEcs>(opts);
  }

  /** Stop what runs for real (the live ECS's processes); a no-op for the lazily computed simulator. */
  async close(): Promise<void> {
    if (this.ecs instanceof LiveEcs) await this.ecs.close();
  }

  /**
   * Create the AWS resources `config` refers to, as a user's account would have them before the first
   * deployment (see {@link seedFromConfig} in ./seed for the full list). Not logged in {@link calls}.
   */
  seedFromConfig(config: Config, opts: SeedOptions = {}): void {
    if (!(this.ecs instanceof EcsSimulator)) throw new Error('seedFromConfig seeds the lazily computed simulator; the living twin seeds itself (lib/local/live/seed.ts).');
    seedFromConfig(this as Simulator<EcsSimulator>, config, opts);
  }
}

/** JSON with object keys sorted, so equal requests compare equal whatever their key order. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function safeCopy(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return value;
  }
}
