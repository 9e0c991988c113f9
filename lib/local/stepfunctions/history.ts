/**
 * Turns aws-local-stepfunctions' event log into Step Functions `HistoryEvent`s, shaped as
 * GetExecutionHistory returns them: sequential ids, `previousEventId`, `timestamp` (Date), the AWS
 * event type and its `*EventDetails` member.
 *
 * The library reports states entering/exiting/failing/retrying/being caught; the service adds what
 * only it knows — each task invocation (parameters, raw result, error) — through
 * {@link HistorySource.takeInvocation}. A Task attempt becomes `TaskScheduled` + `TaskStarted` and
 * then `TaskSucceeded` / `TaskFailed` / `TaskTimedOut` (`LambdaFunction*` when the Resource is a
 * Lambda function ARN, plus `TaskSubmitted` for `.waitForTaskToken`). A retry shows the failure and
 * then `TaskScheduled` again, without a second `TaskStateEntered` — as in AWS.
 */
import type { HistoryEvent, HistoryEventType } from '@aws-sdk/client-sfn';
import type { StateMachine } from 'aws-local-stepfunctions';
import { describeResource, isLambdaFunctionArn, type StateInfo, type StateType } from './definition';

/** One event of the library's `eventLogs`. */
export type LibraryEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** A call the service made for a Task state (one per attempt). */
export interface TaskInvocation {
  readonly stateName: string;
  readonly resource: string;
  readonly callback: boolean;
  readonly parameters: unknown;
  readonly scheduledAt: number;
  readonly timeoutSeconds?: number;
  readonly heartbeatSeconds?: number;
  /** For `.waitForTaskToken`: when the handler returned (the "submit"). */
  submitted?: { readonly at: number; readonly output: unknown };
  outcome?: 'succeeded' | 'failed';
  output?: unknown;
  settledAt?: number;
}

export interface HistorySource {
  readonly region: string;
  readonly roleArn: string;
  /** The execution input exactly as given to StartExecution. */
  readonly input: string;
  readonly states: ReadonlyMap<string, StateInfo>;
  /** The oldest invocation of `stateName` not yet in the history. */
  takeInvocation(stateName: string): TaskInvocation | undefined;
  /** Error and cause given to StopExecution. */
  abortDetails(): { error?: string; cause?: string };
  /** True when the run was aborted because the execution's `TimeoutSeconds` passed (recorded as a timeout). */
  timedOut?(): boolean;
  /** The service's clock (epoch ms), for an attempt that ends without a settle time. @default Date.now */
  now?(): number;
}

const DEFAULT_FAIL_CAUSE = 'Execution failed because of a Fail state';
const NOT_TRUNCATED = { truncated: false };

/** A Fail state without Error/Cause: the library invents `FailStateError` and a message; AWS reports none. */
export function normalizeFailure(error: unknown, cause: unknown): { error?: string; cause?: string } {
  const e = typeof error === 'string' && error !== 'FailStateError' ? error : undefined;
  const c = cause === undefined || cause === null ? undefined : typeof cause === 'string' ? cause : JSON.stringify(cause);
  return { error: e, cause: c === DEFAULT_FAIL_CAUSE ? undefined : c };
}

function json(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

function compact<T extends object>(details: T): T {
  return Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined)) as T;
}

export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];
  /** States entered and not yet left, by `name#mapIndex`, for `*StateAborted` on StopExecution. */
  private readonly open = new Map<string, StateType>();
  private readonly current = new Map<string, TaskInvocation | undefined>();

  constructor(
    private readonly source: HistorySource,
    private readonly emit: (event: HistoryEvent) => void,
  ) {}

  /** Record a library event (or one the service makes up in the same shape), at its `timestamp` (epoch ms). */
  record(ev: LibraryEvent): void {
    const at = ev.timestamp;
    switch (ev.type) {
      case 'ExecutionStarted':
        this.push('ExecutionStarted', at, {
          executionStartedEventDetails: { input: this.source.input, inputDetails: NOT_TRUNCATED, roleArn: this.source.roleArn },
        });
        return;
      case 'ExecutionSucceeded':
        this.push('ExecutionSucceeded', at, { executionSucceededEventDetails: { output: json(ev.output), outputDetails: NOT_TRUNCATED } });
        return;
      case 'ExecutionFailed':
        this.push('ExecutionFailed', at, { executionFailedEventDetails: compact(normalizeFailure(ev.Error, ev.Cause)) });
        return;
      case 'ExecutionAborted':
        if (this.source.timedOut?.()) {
          this.push('ExecutionTimedOut', at, { executionTimedOutEventDetails: { error: 'States.Timeout' } });
          return;
        }
        this.abortOpenStates(at);
        this.push('ExecutionAborted', at, { executionAbortedEventDetails: compact(this.source.abortDetails()) });
        return;
      case 'ExecutionTimeout':
        this.push('ExecutionTimedOut', at, { executionTimedOutEventDetails: { error: 'States.Timeout' } });
        return;
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const member = ({ MapIterationStarted: 'mapIterationStartedEventDetails', MapIterationSucceeded: 'mapIterationSucceededEventDetails', MapIterationFailed: 'mapIterationFailedEventDetails' } as const)[ev.type];
        this.push(ev.type, at, { [member]: { name: ev.parentState.name, index: ev.index } });
        return;
      }
      case 'ParallelBranchStarted':
      case 'ParallelBranchSucceeded':
      case 'ParallelBranchFailed':
        return; // AWS has no per-branch events
      default:
        this.stateEvent(ev);
    }
  }

  private stateEvent(ev: Extract<LibraryEvent, { state: unknown }>): void {
    const name = ev.state.name;
    const type = this.source.states.get(name)?.type ?? (ev.state.type as StateType);
    const key = `${name}#${ev.index ?? ''}`;
    const at = ev.timestamp;
    const isTask = type === 'Task';
    switch (ev.type) {
      case 'StateEntered': {
        this.open.set(key, type);
        this.push(`${type}StateEntered` as HistoryEventType, at, {
          stateEnteredEventDetails: { name, input: json(ev.state.input), inputDetails: NOT_TRUNCATED },
        });
        if (type === 'Parallel' || type === 'Map') this.push(`${type}StateStarted` as HistoryEventType, at, {});
        if (isTask) this.startAttempt(key, name);
        return;
      }
      case 'StateRetried':
        if (isTask) this.startAttempt(key, name);
        else if (type === 'Parallel' || type === 'Map') this.push(`${type}StateStarted` as HistoryEventType, at, {});
        return;
      case 'StateExited': {
        this.open.delete(key);
        if (isTask) this.endAttempt(key, undefined);
        if (type === 'Parallel' || type === 'Map') this.push(`${type}StateSucceeded` as HistoryEventType, at, {});
        this.push(`${type}StateExited` as HistoryEventType, at, {
          stateExitedEventDetails: { name, output: json(ev.state.output), outputDetails: NOT_TRUNCATED },
        });
        return;
      }
      case 'StateFailed': {
        const failure = normalizeFailure(ev.Error, ev.Cause);
        if (isTask) this.endAttempt(key, failure);
        if (type === 'Parallel' || type === 'Map') this.push(`${type}StateFailed` as HistoryEventType, at, {});
        return;
      }
      case 'StateCaught':
        return; // the library follows it with StateExited (output = the catcher's ResultPath result)
    }
  }

  private startAttempt(key: string, name: string): void {
    const inv = this.source.takeInvocation(name);
    this.current.set(key, inv);
    if (!inv) return; // the state's input processing failed before any call
    const at = inv.scheduledAt;
    if (isLambdaFunctionArn(inv.resource)) {
      this.push('LambdaFunctionScheduled', at, {
        lambdaFunctionScheduledEventDetails: compact({ resource: inv.resource, input: json(inv.parameters), inputDetails: NOT_TRUNCATED, timeoutInSeconds: inv.timeoutSeconds }),
      });
      this.push('LambdaFunctionStarted', at, {});
      return;
    }
    const { resourceType, resource } = describeResource(inv.resource);
    this.push('TaskScheduled', at, {
      taskScheduledEventDetails: compact({
        resourceType,
        resource,
        region: this.source.region,
        parameters: json(inv.parameters),
        timeoutInSeconds: inv.timeoutSeconds,
        heartbeatInSeconds: inv.heartbeatSeconds,
      }),
    });
    this.push('TaskStarted', at, { taskStartedEventDetails: { resourceType, resource } });
  }

  /** `failure` undefined: the state exited normally. */
  private endAttempt(key: string, failure: { error?: string; cause?: string } | undefined): void {
    const inv = this.current.get(key);
    this.current.delete(key);
    if (!inv) return;
    const at = inv.settledAt ?? this.source.now?.() ?? Date.now();
    const lambda = isLambdaFunctionArn(inv.resource);
    const { resourceType, resource } = describeResource(inv.resource);
    if (inv.callback && inv.submitted) {
      this.push('TaskSubmitted', inv.submitted.at, {
        taskSubmittedEventDetails: { resourceType, resource, output: json(inv.submitted.output), outputDetails: NOT_TRUNCATED },
      });
    }
    if (inv.outcome === 'succeeded' || !failure) {
      // A failure after a successful call is the result processing (ResultSelector/ResultPath).
      if (lambda) this.push('LambdaFunctionSucceeded', at, { lambdaFunctionSucceededEventDetails: { output: json(inv.output), outputDetails: NOT_TRUNCATED } });
      else this.push('TaskSucceeded', at, { taskSucceededEventDetails: { resourceType, resource, output: json(inv.output), outputDetails: NOT_TRUNCATED } });
      return;
    }
    const timedOut = failure.error === 'States.Timeout';
    if (lambda) {
      if (timedOut) this.push('LambdaFunctionTimedOut', at, { lambdaFunctionTimedOutEventDetails: compact(failure) });
      else this.push('LambdaFunctionFailed', at, { lambdaFunctionFailedEventDetails: compact(failure) });
    } else if (timedOut) {
      this.push('TaskTimedOut', at, { taskTimedOutEventDetails: compact({ resourceType, resource, ...failure }) });
    } else {
      this.push('TaskFailed', at, { taskFailedEventDetails: compact({ resourceType, resource, ...failure }) });
    }
  }

  private abortOpenStates(at: number): void {
    for (const type of this.open.values()) {
      if (type === 'Task' || type === 'Wait' || type === 'Map' || type === 'Parallel') {
        this.push(`${type}StateAborted` as HistoryEventType, at, {});
      }
    }
    this.open.clear();
  }

  private push(type: HistoryEventType, at: number, details: Partial<HistoryEvent>): void {
    const id = this.events.length + 1;
    // A history's timestamps never go back (as AWS's): library events carry the library's time mapped
    // onto the service clock, task events the service clock itself, and on a fast simulated clock the
    // two may be a few simulated seconds apart in either order.
    const previous = this.events.at(-1)?.timestamp?.getTime() ?? -Infinity;
    const event: HistoryEvent = { timestamp: new Date(Math.max(at, previous)), type, id, previousEventId: id - 1, ...details };
    this.events.push(event);
    this.emit(event);
  }
}

/** The event without execution data, for GetExecutionHistory's `includeExecutionData: false`. */
export function withoutExecutionData(event: HistoryEvent): HistoryEvent {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith('EventDetails') && typeof value === 'object' && value !== null) {
      const details = { ...(value as Record<string, unknown>) };
      for (const field of ['input', 'inputDetails', 'output', 'outputDetails']) delete details[field];
      out[key] = details;
    } else {
      out[key] = value;
    }
  }
  return out as unknown as HistoryEvent;
}
