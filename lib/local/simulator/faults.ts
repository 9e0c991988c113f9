/**
 * Fault and latency injection for the simulator, per service and operation.
 *
 * Two ways to inject:
 * - {@link FaultSpec} (`sim.injectFault`): a queue of faults for the next matching calls, consumed in
 *   order — for tests that fail a known call a known number of times;
 * - {@link FaultPolicy} (`sim.setFaultPolicy`): a function asked about every call (after the queue),
 *   which returns what to do to it — for sweeps that scope faults by who makes the call (the call's
 *   `context`, see `Simulator.tagCalls`).
 *
 * {@link faultAction} knows how each {@link FaultKind} looks for each API, as AWS answers: the
 * service's throttling / server-fault / access-denied codes ({@link FAULT_CODES}), the SDK's
 * client-side `TimeoutError`, and each operation's own "not found" for a resource that vanished.
 */
import { awsError, FAULT_CODES, type SimServiceName } from './errors';

export interface FaultSpec {
  readonly service: SimServiceName;
  /** Operation name without `Command` (e.g. `UpdateService`), or `'*'` for every operation of the service. */
  readonly operation: string;
  /**
   * Error code to reject with, e.g. `ThrottlingException`, `Throttling`, `ServiceUnavailable`, or a
   * modelled exception such as `ServiceNotFoundException` (made with the SDK's class). Throttling
   * codes are classified as throttling by `isThrottlingError` from `@smithy/core/retry`.
   * @default no error (a latency-only fault); one of `error` and `latencyMs` is required
   */
  readonly error?: string;
  /** Error message. @default `Rate exceeded` for throttling codes, else `Injected fault: <error>` */
  readonly message?: string;
  /** How many matching calls the fault affects; then it is gone. @default 1 */
  readonly times?: number;
  /** Real milliseconds to wait before answering (or failing) each affected call. @default 0 */
  readonly latencyMs?: number;
}

/** A call as a fault policy sees it (the simulator's `SimCall`). */
export interface FaultCall {
  readonly service: SimServiceName;
  /** Operation name without `Command`, e.g. `UpdateService`. */
  readonly operation: string;
  /** The command input as sent. */
  readonly input: unknown;
  /** What `Simulator.tagCalls` returned when the call arrived (e.g. the step that made it). */
  readonly context?: unknown;
}

/** What happens to one call. */
export interface FaultAction {
  /**
   * Error to reject with: the service's typed exception of that code (see `awsError`), or with
   * `clientSide`, an SDK client-side error of that name (e.g. `TimeoutError`).
   * @default none: no error (latency and/or `respond` only)
   */
  readonly error?: string;
  /** @default `Rate exceeded` for throttling codes, else `Injected fault: <error>` */
  readonly message?: string;
  /**
   * `before`: the call fails without reaching the service (nothing changes). `after`: the service runs
   * the call — its effect happens — and then the caller gets the error: an answer lost on the way back.
   * @default 'before'
   */
  readonly phase?: 'before' | 'after';
  /**
   * The error is the SDK's own client-side error (`Object.assign(new Error(message), { name: error })`,
   * as `@smithy/node-http-handler` makes `TimeoutError`), not a service exception. @default false
   */
  readonly clientSide?: boolean;
  /** Real milliseconds to wait first. @default 0 */
  readonly latencyMs?: number;
  /**
   * Replace the service's answer (the call runs; the caller sees this instead), e.g. a vanished ECS
   * service that DescribeServices lists under `failures` as `MISSING`. Ignored when `error` is set.
   */
  readonly respond?: (output: Record<string, unknown>, input: unknown) => Record<string, unknown>;
  /** Short description for the call log (`SimCall.fault`). @default the error code, or `respond` */
  readonly label?: string;
}

/** Decides, per call, whether and how it fails. Return undefined to let the call through. */
export type FaultPolicy = (call: FaultCall) => FaultAction | undefined;

/**
 * Kinds of fault a sweep injects:
 * - `throttling`: the service's throttling error (retryable);
 * - `server-error`: a 5xx server fault (retryable);
 * - `timeout`: the SDK's client-side `TimeoutError` after the request took effect (retryable; the
 *   caller cannot tell whether it took effect, so a retry must be idempotent);
 * - `access-denied`: IAM denies the action (not retryable);
 * - `vanished`: the resource the call names is gone — the operation's own not-found answer.
 */
export type FaultKind = 'throttling' | 'server-error' | 'timeout' | 'access-denied' | 'vanished';

export const FAULT_KINDS: readonly FaultKind[] = ['throttling', 'server-error', 'timeout', 'access-denied', 'vanished'];

/**
 * The message of the SDK's request timeout (`@smithy/node-http-handler` with `requestTimeout` and
 * `throwOnRequestTimeout`), the `TimeoutError` a `timeout` fault raises.
 */
export const TIMEOUT_MESSAGE = (ms: number) => `@smithy/node-http-handler - [ERROR] a request has exceeded the configured ${ms} ms requestTimeout.`;

/** Real-AWS-like "resource vanished" answers, per service and operation. */
type Vanished = { readonly error: string; readonly message: (input: Record<string, any>) => string } | { readonly respond: NonNullable<FaultAction['respond']> };

/** ECS Describe* report unknown services/tasks under `failures` with reason `MISSING`, not as an error. */
function missing(listKey: 'services' | 'tasks', arnKey: 'serviceArn' | 'taskArn', nameKey: 'serviceName' | undefined): Vanished {
  return {
    respond: (output, input) => {
      const requested = ((input as Record<string, unknown>)?.[listKey] as string[] | undefined) ?? [];
      const found = (output[listKey] as Array<Record<string, string>> | undefined) ?? [];
      const arnOf = (ref: string) =>
        found.find((item) => item[arnKey] === ref || (nameKey && item[nameKey] === ref) || item[arnKey]?.endsWith(`/${ref}`))?.[arnKey] ?? ref;
      return { ...output, [listKey]: [], failures: requested.map((ref) => ({ arn: arnOf(ref), reason: 'MISSING' })) };
    },
  };
}

const VANISHED: Readonly<Record<SimServiceName, Readonly<Record<string, Vanished>>>> = {
  ecs: {
    DescribeServices: missing('services', 'serviceArn', 'serviceName'),
    DescribeTasks: missing('tasks', 'taskArn', undefined),
    DescribeTaskDefinition: { error: 'ClientException', message: () => 'Unable to describe task definition.' },
    RunTask: { error: 'ClusterNotFoundException', message: () => 'Cluster not found.' },
    StopTask: { error: 'InvalidParameterException', message: () => 'The referenced task was not found.' },
    UpdateService: { error: 'ServiceNotFoundException', message: () => 'Service not found.' },
    ListTasks: { error: 'ServiceNotFoundException', message: () => 'Service not found.' },
  },
  elbv2: {
    DescribeListeners: { error: 'ListenerNotFoundException', message: () => 'One or more listeners not found' },
    ModifyListener: { error: 'ListenerNotFoundException', message: (i) => `Listener '${i.ListenerArn}' not found` },
    DescribeRules: { error: 'RuleNotFoundException', message: () => 'One or more rules not found' },
    ModifyRule: { error: 'RuleNotFoundException', message: (i) => `Rule '${i.RuleArn}' not found` },
    DescribeTargetHealth: { error: 'TargetGroupNotFoundException', message: (i) => `Target groups '${i.TargetGroupArn}' not found` },
    DescribeTargetGroups: { error: 'TargetGroupNotFoundException', message: () => 'One or more target groups not found' },
  },
  rds: {
    CreateDBSnapshot: { error: 'DBInstanceNotFoundFault', message: (i) => `DBInstance ${i.DBInstanceIdentifier} not found.` },
    CreateDBClusterSnapshot: { error: 'DBClusterNotFoundFault', message: (i) => `DBCluster ${i.DBClusterIdentifier} not found.` },
    DescribeDBSnapshots: { error: 'DBSnapshotNotFoundFault', message: (i) => `DBSnapshot ${i.DBSnapshotIdentifier} not found.` },
    DescribeDBClusterSnapshots: { error: 'DBClusterSnapshotNotFoundFault', message: (i) => `DBClusterSnapshot ${i.DBClusterSnapshotIdentifier} not found.` },
    DescribeDBInstances: { error: 'DBInstanceNotFoundFault', message: (i) => `DBInstance ${i.DBInstanceIdentifier} not found.` },
    DescribeDBClusters: { error: 'DBClusterNotFoundFault', message: (i) => `DBCluster ${i.DBClusterIdentifier} not found.` },
    RestoreDBInstanceFromDBSnapshot: { error: 'DBSnapshotNotFoundFault', message: (i) => `DBSnapshot ${i.DBSnapshotIdentifier} not found.` },
    RestoreDBClusterFromSnapshot: { error: 'DBClusterSnapshotNotFoundFault', message: (i) => `DBClusterSnapshot ${i.SnapshotIdentifier} not found.` },
    ModifyDBInstance: { error: 'DBInstanceNotFoundFault', message: (i) => `DBInstance ${i.DBInstanceIdentifier} not found.` },
    ModifyDBCluster: { error: 'DBClusterNotFoundFault', message: (i) => `DBCluster ${i.DBClusterIdentifier} not found.` },
    CreateDBInstance: { error: 'DBClusterNotFoundFault', message: (i) => `DBCluster ${i.DBClusterIdentifier} not found.` },
  },
  cloudwatch: {
    // DescribeAlarms lists the alarms that exist: vanished ones are simply absent.
    DescribeAlarms: { respond: (output) => ({ ...output, MetricAlarms: [], CompositeAlarms: [] }) },
    SetAlarmState: { error: 'ResourceNotFound', message: (i) => `Alarm ${i.AlarmName} not found` },
  },
  logs: {
    GetLogEvents: { error: 'ResourceNotFoundException', message: () => 'The specified log stream does not exist.' },
  },
  sns: {
    Publish: { error: 'NotFoundException', message: () => 'Topic does not exist' },
  },
  secretsmanager: {
    GetSecretValue: { error: 'ResourceNotFoundException', message: () => "Secrets Manager can't find the specified secret." },
  },
  ecr: {
    DescribeImages: { error: 'RepositoryNotFoundException', message: (i) => `The repository with name '${i.repositoryName}' does not exist` },
  },
};

/**
 * How a fault of `kind` looks for one call, as AWS would answer it.
 * @param requestTimeoutMs the request timeout named in a `timeout` fault's message @default 5000
 * @returns undefined when the operation has no such fault (`vanished` for an operation that names no
 *   existing resource, e.g. ECS RegisterTaskDefinition)
 */
export function faultAction(kind: FaultKind, call: Pick<FaultCall, 'service' | 'operation' | 'input'>, requestTimeoutMs = 5000): FaultAction | undefined {
  const codes = FAULT_CODES[call.service];
  switch (kind) {
    case 'throttling':
      return { error: codes.throttling, message: 'Rate exceeded' };
    case 'server-error':
      return { error: codes.serverError, message: 'We encountered an internal error. Please try again.' };
    case 'timeout':
      return { error: 'TimeoutError', clientSide: true, phase: 'after', message: TIMEOUT_MESSAGE(requestTimeoutMs), label: 'TimeoutError (after the call took effect)' };
    case 'access-denied': {
      const action = `${codes.iamPrefix}:${call.operation}`;
      return {
        error: codes.accessDenied,
        message: `User: arn:aws:sts::123456789012:assumed-role/cutover-function/cutover is not authorized to perform: ${action} because no identity-based policy allows the ${action} action`,
      };
    }
    case 'vanished': {
      const v = VANISHED[call.service][call.operation];
      if (!v) return undefined;
      if ('respond' in v) return { respond: v.respond, label: 'vanished (answer without the resource)' };
      return { error: v.error, message: v.message((call.input ?? {}) as Record<string, any>) };
    }
  }
}

/** The error a fault action raises for `service`. */
export function faultError(service: SimServiceName, action: FaultAction): Error {
  const name = action.error!;
  const message = action.message ?? (/throttl|rate|toomany/i.test(name) ? 'Rate exceeded' : `Injected fault: ${name}`);
  if (action.clientSide) return Object.assign(new Error(message), { name });
  return awsError(service, name, message);
}

/** Pending queued faults (consumed in the order they were injected) and the fault policy. */
export class Faults {
  private readonly pending: { spec: FaultSpec; remaining: number }[] = [];
  private policy: FaultPolicy | undefined;

  /**
   * Add a fault.
   * @throws Error when neither `error` nor `latencyMs` is given, or `times` is not a positive integer
   */
  inject(spec: FaultSpec): void {
    const times = spec.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new Error(`injectFault: times must be a positive integer, got ${times}`);
    if (spec.error === undefined && !(spec.latencyMs !== undefined && spec.latencyMs >= 0)) {
      throw new Error('injectFault: give an error code (e.g. "ThrottlingException") and/or latencyMs >= 0');
    }
    this.pending.push({ spec, remaining: times });
  }

  /** Set (or, with undefined, remove) the policy asked about every call the queue leaves alone. */
  setPolicy(policy: FaultPolicy | undefined): void {
    this.policy = policy;
  }

  /** Remove all pending queued faults and the policy. */
  clear(): void {
    this.pending.length = 0;
    this.policy = undefined;
  }

  /**
   * What to do to `call`: the first pending queued fault matching it (using up one of its `times`),
   * else the policy's answer. A policy that throws lets the call through.
   */
  take(call: FaultCall): FaultAction | undefined {
    const index = this.pending.findIndex((f) => f.spec.service === call.service && (f.spec.operation === call.operation || f.spec.operation === '*'));
    if (index >= 0) {
      const fault = this.pending[index]!;
      fault.remaining -= 1;
      if (fault.remaining === 0) this.pending.splice(index, 1);
      const { error, message, latencyMs } = fault.spec;
      return { error, message, latencyMs };
    }
    try {
      return this.policy?.(call);
    } catch {
      return undefined;
    }
  }
}
