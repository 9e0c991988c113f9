/**
 * A local AWS Step Functions (Standard) service: the same `.asl.json` definitions, run in-process by
 * aws-local-stepfunctions, behind the Step Functions API's operations, shapes and typed exceptions.
 *
 * Task states call local handlers ({@link TaskResolver}); `.waitForTaskToken` tasks hand the handler a
 * task token and wait for SendTaskSuccess / SendTaskFailure / timeout / missing heartbeat, as on AWS.
 *
 * Time: Wait states (all four forms), callback Task `TimeoutSeconds`/`HeartbeatSeconds`, `.sync` Task
 * `TimeoutSeconds` and the execution's `TimeoutSeconds` are timers of the simulated clock (a
 * {@link SimClock}'s `setTimer`: they pause while real work holds the clock, and `advance()` brings
 * them forward); retry intervals are real time at the time scale (backoff and jitter kept). Other
 * Tasks run their handlers in-process in real time, so their `TimeoutSeconds` is real time, and
 * while such a handler runs it holds the clock (`hold`): the real duration of a handler is never
 * simulated time, so it can neither time out a simulated wait nor shorten one. A `.sync` task does not
 * hold the clock (its child execution waits on it), nor does a callback task once its handler
 * returned (the wait for SendTaskSuccess is simulated time). Exceptions, all documented:
 *  - `TimeoutSecondsPath` / `HeartbeatSecondsPath` are resolved from the state input and enforced like
 *    their literal forms (scaled for callback tasks);
 *  - Timestamp waits wait until the timestamp on `clock.now()` (simulated), or — without a clock —
 *    scale the remaining wall-clock gap;
 *  - `$$.State.Name` works in payload templates (inlined); `$$.State.EnteredTime` is the time the
 *    path is evaluated (exact for Parameters); `$$.State.RetryCount` is absent;
 *  - `$$.Execution.StartTime` is the execution's `startDate` (references to it are rewritten, see
 *    {@link START_TIME_CONTEXT_FIELD}); taken whole, `$$.Execution` shows the library's own value;
 *  - tasks of a failed Parallel branch's siblings keep running until the execution closes;
 *  - with a clock that has no timers (a {@link ClockLike} with `realMs` only), timers are real
 *    `setTimeout`s of `realMs(seconds)` armed when a state starts, and nothing holds the clock.
 *
 * Dates: with a clock that has `now()` (the twin's {@link SimClock}), every date the service reports
 * is on that clock — state machines' `creationDate`, executions' `startDate` / `stopDate`, history
 * event timestamps, `$$.Execution.StartTime` and `$$.State.EnteredTime` — so they share one timeline
 * with the handlers (which read the same clock, lib/aws/clock.ts) and the simulated AWS. Without a
 * clock (or one without `now`), they are real time.
 */
import './polyfill';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type RunOptions,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import type {
  CreateStateMachineOutput,
  DescribeExecutionOutput,
  DescribeStateMachineOutput,
  ExecutionListItem,
  ExecutionStatus,
  GetExecutionHistoryOutput,
  HistoryEvent,
  ListExecutionsOutput,
  ListStateMachinesOutput,
  StartExecutionOutput,
  StateMachineListItem,
  StopExecutionOutput,
} from '@aws-sdk/client-sfn';
import {
  MAX_TIMER_SECONDS,
  evaluateReferencePath,
  prepareDefinition,
  validateDefinition,
  type AslDefinition,
  type DynamicWait,
  type StateInfo,
  type TaskInfo,
  TIMER_PARAMETER,
  START_TIME_CONTEXT_FIELD,
} from './definition';
import { HistoryRecorder, normalizeFailure, withoutExecutionData, type TaskInvocation } from './history';
import { sfnError } from './errors';
import { SimClock } from '../clock';

export interface TaskContext {
  readonly executionArn: string;
  readonly stateName: string;
  /** Set for `.waitForTaskToken` resources: the token `$$.Task.Token` yielded for this attempt. */
  readonly taskToken?: string;
  /**
   * Aborted when this task attempt ends by anything but the handler's own result: the task timed
   * out or missed a heartbeat, the execution was stopped or closed, or (callback tasks) a
   * SendTaskSuccess / SendTaskFailure answered it. A handler that waits on something it started (a
   * `.sync` job, e.g. a nested execution) stops that work then, as Step Functions does.
   */
  readonly signal: AbortSignal;
}

/**
 * Runs a Task. Resolves with the task's result (ignored for `.waitForTaskToken`, whose result comes from
 * SendTaskSuccess). A rejection fails the task: the error's `name` becomes the Step Functions error,
 * its `message` the cause.
 */
export type TaskHandler = (input: unknown, ctx: TaskContext) => Promise<unknown>;

/** Finds the handler for a Task's `Resource`; `undefined` fails the execution with `States.Runtime`. */
export type TaskResolver = (resource: string, stateName: string) => TaskHandler | undefined;

/** The part of the twin's simulated clock this service uses ({@link SimClock} has all of it). */
export interface ClockLike {
  /** Real milliseconds that `simulatedSeconds` take (retry intervals; timers without `setTimer`). */
  realMs(simulatedSeconds: number): number;
  /**
   * Simulated now: Timestamp waits, and every date the service reports (creation, start and stop
   * dates, history timestamps, `$$.Execution.StartTime`, `$$.State.EnteredTime`). Without it, those
   * are real time.
   */
  now?(): Date | number;
  /**
   * Run `fn` when `delaySeconds` simulated seconds have passed (see {@link SimClock.setTimer}).
   * @returns a function that cancels the timer
   */
  setTimer?(delaySeconds: number, fn: () => void): () => void;
  /**
   * Stop simulated time while a handler runs (see {@link SimClock.hold}).
   * @returns the release function
   */
  hold?(what: string, opts?: { maxRealMs?: number; message?: string | (() => string); kind?: string }): () => void;
}

export interface LocalStepFunctionsProps {
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '123456789012' */
  readonly accountId?: string;
  /** Simulated seconds per real second; ignored when `clock` is given. @default 1 */
  readonly timeScale?: number;
  /**
   * Simulated clock; takes precedence over `timeScale`. The twin passes its {@link SimClock}, so
   * that the real work of the other services (task starts, health checks, databases) holds Wait
   * states and callback timeouts too. @default a SimClock of its own at `timeScale`
   */
  readonly clock?: ClockLike;
  /**
   * Real seconds an in-process handler (a Task without `TimeoutSeconds`) may hold the clock; after
   * that simulated time runs on and the clock reports a warning naming the state. @default 60
   */
  readonly handlerHoldSeconds?: number;
  readonly resolveTask: TaskResolver;
}

export interface CreateStateMachineParams {
  readonly name: string;
  readonly definition: string;
  /** @default `arn:aws:iam::<account>:role/cutover-local-stepfunctions` */
  readonly roleArn?: string;
  /** Only STANDARD runs locally. @default 'STANDARD' */
  readonly type?: string;
}

export interface StartExecutionParams {
  readonly stateMachineArn: string;
  /** @default a UUID */
  readonly name?: string;
  /** @default '{}' */
  readonly input?: string;
}

export type HistoryListener = (executionArn: string, event: HistoryEvent) => void;

/** DescribeExecution's output with the members this service always sets. */
export type ExecutionDescription = DescribeExecutionOutput & {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
};

const MAX_PAYLOAD_BYTES = 256 * 1024;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
/** Step Functions' name rule: 1-80 characters, none of these. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;
const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^:]+$/;
const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$/;
/** A "Run a Job" (`.sync`, `.sync:2`) service integration Resource. */
const SYNC_RESOURCE = /\.sync(:\d+)?$/;

interface StateMachineRecord {
  readonly arn: string;
  readonly name: string;
  readonly definitionText: string;
  readonly definition: AslDefinition;
  readonly roleArn: string;
  readonly creationDate: Date;
  readonly executions: ExecutionRecord[];
}

interface ExecutionRecord {
  readonly seq: number;
  readonly arn: string;
  readonly name: string;
  readonly machine: StateMachineRecord;
  readonly input: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  stopDetails?: { error?: string; cause?: string };
  history: HistoryEvent[];
  started: boolean;
  abort?: () => void;
  /** Cancels every task call still running (execution closed). */
  readonly inflight: Set<(err: Error) => void>;
  readonly invocations: Map<string, TaskInvocation[]>;
  /** Token minted by `$$.Task.Token`, claimed by the next task call. */
  pendingToken?: string;
  /** The execution's `TimeoutSeconds` passed (the run was aborted for it). */
  timedOut?: boolean;
  /** Cancels the execution's `TimeoutSeconds` timer. */
  cancelTimeout?: () => void;
  done: Promise<void>;
}

interface OpenTask {
  readonly execution: ExecutionRecord;
  succeed(output: unknown): void;
  fail(err: Error): void;
  heartbeat(): void;
}

/** An error raised by a task (handler, SendTaskFailure): `name` = Step Functions error, message = cause. */
class TaskError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** An error the state machine must neither retry nor catch (the library reads these two flags). */
class FatalError extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

type LocalHandler = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>[string];
type ErrorClass = new () => Error;
let timeoutErrorClass: Promise<ErrorClass> | undefined;

/**
 * The library's own `States.Timeout` class (not exported): retriers and catchers matching
 * `States.TaskFailed` skip timeouts only when the error is an instance of it. Obtained once by letting
 * a one-millisecond task time out.
 */
function statesTimeoutError(): Promise<Error> {
  timeoutErrorClass ??= (async (): Promise<ErrorClass> => {
    const probe = new StateMachine(
      { StartAt: 'T', States: { T: { Type: 'Task', Resource: 'arn:aws:states:::cutover-local:probe', TimeoutSeconds: 0.001, End: true } } } as StateMachineDefinition,
      { validationOptions: { noValidate: true } },
    );
    const run = probe.run(null, { overrides: { taskResourceLocalHandlers: { T: () => new Promise<null>(() => {}) } } });
    try {
      await run.result;
    } catch (err) {
      const cause = (err as Error).cause;
      if (cause instanceof Error && cause.name === 'States.Timeout') return cause.constructor as ErrorClass;
    }
    return class extends Error {
      constructor() {
        super('States.Timeout');
        this.name = 'States.Timeout';
      }
    };
  })();
  return timeoutErrorClass.then((C) => new C());
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function requireString(value: unknown, member: string): string {
  if (typeof value !== 'string') {
    throw sfnError('ValidationException', `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  return value;
}

function validateName(name: string, what: string): void {
  if (name.length < 1 || name.length > 80 || FORBIDDEN_NAME_CHARS.test(name)) {
    throw sfnError('InvalidName', `Invalid Name: '${name}' (${what} names are 1-80 characters without whitespace, brackets, wildcards, control characters or any of " # % \\ ^ | ~ \` $ & , ; : /)`);
  }
}

function pageSize(maxResults: number | undefined): number {
  if (maxResults === undefined || maxResults === null || maxResults === 0) return DEFAULT_PAGE;
  if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > MAX_PAGE) {
    throw sfnError('ValidationException', `1 validation error detected: Value '${maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value between 0 and ${MAX_PAGE}`);
  }
  return maxResults;
}

function encodeToken(scope: string, cursor: string | number): string {
  return Buffer.from(JSON.stringify({ s: scope, c: cursor })).toString('base64url');
}

function decodeToken(token: string | undefined, scope: string): string | number | undefined {
  if (token === undefined || token === null || token === '') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; c?: unknown };
    if (parsed.s === scope && (typeof parsed.c === 'string' || typeof parsed.c === 'number')) return parsed.c;
  } catch {
    // fall through
  }
  throw sfnError('InvalidToken', `Invalid Token: '${token}'`);
}

function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export class LocalStepFunctions {
  readonly region: string;
  readonly accountId: string;
  private readonly realMs: (simulatedSeconds: number) => number;
  private readonly clock?: ClockLike;
  /** Timers in simulated seconds: the clock's, or real `setTimeout`s of `realMs` for a clock without timers. */
  private readonly setTimer: (simulatedSeconds: number, fn: () => void) => () => void;
  private readonly hold?: NonNullable<ClockLike['hold']>;
  private readonly handlerHoldMs: number;
  private readonly resolveTask: TaskResolver;
  private readonly machines = new Map<string, StateMachineRecord>();
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly openTasks = new Map<string, OpenTask>();
  private readonly closedTokens = new Set<string>();
  private readonly listeners = new Set<HistoryListener>();
  private seq = 0;

  constructor(props: LocalStepFunctionsProps) {
    this.region = props.region ?? 'us-east-1';
    this.accountId = props.accountId ?? '123456789012';
    this.resolveTask = props.resolveTask;
    this.clock = props.clock;
    const timeScale = props.timeScale ?? 1;
    if (!props.clock && !(Number.isFinite(timeScale) && timeScale > 0)) {
      throw new Error(`LocalStepFunctions: timeScale must be a positive number (simulated seconds per real second), got ${timeScale}`);
    }
    this.realMs = props.clock ? (s) => props.clock!.realMs(s) : (s) => (s * 1000) / timeScale;
    const clock: ClockLike = props.clock ?? new SimClock({ timeScale });
    if (clock.setTimer) {
      this.setTimer = (s, fn) => clock.setTimer!(s, fn);
    } else {
      this.setTimer = (s, fn) => {
        const t = setTimeout(fn, this.realTimerMs(s));
        return () => clearTimeout(t);
      };
    }
    if (clock.hold) this.hold = (what, opts) => clock.hold!(what, opts);
    const holdSeconds = props.handlerHoldSeconds ?? 60;
    if (!(holdSeconds > 0)) throw new Error(`LocalStepFunctions: handlerHoldSeconds must be real seconds > 0, got ${holdSeconds}`);
    this.handlerHoldMs = holdSeconds * 1000;
  }

  /** The ARN a state machine called `name` has in this service. */
  stateMachineArn(name: string): string {
    return `arn:aws:states:${this.region}:${this.accountId}:stateMachine:${name}`;
  }

  // ---------------------------------------------------------------- state machines

  createStateMachine(params: CreateStateMachineParams): CreateStateMachineOutput & { stateMachineArn: string; creationDate: Date } {
    const name = requireString(params?.name, 'name');
    const definitionText = requireString(params.definition, 'definition');
    validateName(name, 'state machine');
    const type = params.type ?? 'STANDARD';
    if (type !== 'STANDARD') throw sfnError('StateMachineTypeNotSupported', `State machine type '${type}' is not supported locally; use STANDARD`);
    const roleArn = params.roleArn ?? `arn:aws:iam::${this.accountId}:role/cutover-local-stepfunctions`;
    const { definition, problems } = validateDefinition(definitionText);
    if (!definition) throw sfnError('InvalidDefinition', `Invalid State Machine Definition: '${problems.join(', ')}'`);
    const arn = this.stateMachineArn(name);
    const existing = this.machines.get(arn);
    if (existing) {
      if (existing.definitionText === definitionText && existing.roleArn === roleArn) {
        return { stateMachineArn: arn, creationDate: existing.creationDate };
      }
      throw sfnError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
    }
    const record: StateMachineRecord = { arn, name, definitionText, definition, roleArn, creationDate: this.nowDate(), executions: [] };
    this.machines.set(arn, record);
    return { stateMachineArn: arn, creationDate: record.creationDate };
  }

  describeStateMachine(params: { stateMachineArn: string }): DescribeStateMachineOutput {
    const m = this.machine(params?.stateMachineArn);
    return {
      stateMachineArn: m.arn,
      name: m.name,
      status: 'ACTIVE',
      definition: m.definitionText,
      roleArn: m.roleArn,
      type: 'STANDARD',
      creationDate: m.creationDate,
      loggingConfiguration: { level: 'OFF', includeExecutionData: false },
      tracingConfiguration: { enabled: false },
    };
  }

  listStateMachines(params: { maxResults?: number; nextToken?: string } = {}): ListStateMachinesOutput & { stateMachines: StateMachineListItem[] } {
    const size = pageSize(params.maxResults);
    const after = decodeToken(params.nextToken, 'ListStateMachines');
    const all = [...this.machines.values()].sort((a, b) => a.name.localeCompare(b.name));
    const rest = after === undefined ? all : all.filter((m) => m.name.localeCompare(String(after)) > 0);
    const page = rest.slice(0, size);
    return compact({
      stateMachines: page.map((m) => ({ stateMachineArn: m.arn, name: m.name, type: 'STANDARD' as const, creationDate: m.creationDate })),
      nextToken: rest.length > size ? encodeToken('ListStateMachines', page[page.length - 1]!.name) : undefined,
    });
  }

  // ---------------------------------------------------------------- executions

  startExecution(params: StartExecutionParams): StartExecutionOutput & { executionArn: string; startDate: Date } {
    const machine = this.machine(params?.stateMachineArn);
    const name = params.name ?? randomUUID();
    if (typeof name !== 'string') throw sfnError('InvalidName', 'Invalid Name: the name must be a string');
    validateName(name, 'execution');
    const input = params.input ?? '{}';
    if (typeof input !== 'string') throw sfnError('InvalidExecutionInput', 'Invalid State Machine Execution Input: the input must be a JSON string');
    if (byteLength(input) > MAX_PAYLOAD_BYTES) {
      throw sfnError('InvalidExecutionInput', `Invalid State Machine Execution Input: the input is ${byteLength(input)} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
    }
    try {
      JSON.parse(input);
    } catch (err) {
      throw sfnError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${(err as Error).message}'`);
    }
    const arn = `arn:aws:states:${this.region}:${this.accountId}:execution:${machine.name}:${name}`;
    const existing = this.executions.get(arn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) return { executionArn: arn, startDate: existing.startDate };
      throw sfnError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const record: ExecutionRecord = {
      seq: ++this.seq,
      arn,
      name,
      machine,
      input,
      startDate: this.nowDate(),
      status: 'RUNNING',
      history: [],
      started: false,
      inflight: new Set(),
      invocations: new Map(),
      done: Promise.resolve(),
    };
    this.executions.set(arn, record);
    machine.executions.push(record);
    // Run after the caller has its answer (a first Task must not call a handler inside StartExecution).
    record.done = Promise.resolve().then(() => this.run(record));
    return { executionArn: arn, startDate: record.startDate };
  }

  describeExecution(params: { executionArn: string }): ExecutionDescription {
    const e = this.execution(params?.executionArn);
    return compact({
      executionArn: e.arn,
      stateMachineArn: e.machine.arn,
      name: e.name,
      status: e.status,
      startDate: e.startDate,
      stopDate: e.stopDate,
      input: e.input,
      inputDetails: { included: true },
      output: e.status === 'SUCCEEDED' ? e.output : undefined,
      outputDetails: e.status === 'SUCCEEDED' ? { included: true } : undefined,
      error: e.error,
      cause: e.cause,
    });
  }

  listExecutions(params: { stateMachineArn?: string; statusFilter?: ExecutionStatus | string; maxResults?: number; nextToken?: string }): ListExecutionsOutput & { executions: ExecutionListItem[] } {
    const machine = this.machine(params?.stateMachineArn);
    const size = pageSize(params.maxResults);
    const before = decodeToken(params.nextToken, machine.arn);
    const filtered = machine.executions
      .filter((e) => !params.statusFilter || e.status === params.statusFilter)
      .filter((e) => before === undefined || e.seq < Number(before))
      .sort((a, b) => b.seq - a.seq);
    const page = filtered.slice(0, size);
    return compact({
      executions: page.map(
        (e): ExecutionListItem => compact({ executionArn: e.arn, stateMachineArn: machine.arn, name: e.name, status: e.status, startDate: e.startDate, stopDate: e.stopDate }),
      ),
      nextToken: filtered.length > size ? encodeToken(machine.arn, page[page.length - 1]!.seq) : undefined,
    });
  }

  getExecutionHistory(params: {
    executionArn: string;
    reverseOrder?: boolean;
    maxResults?: number;
    nextToken?: string;
    includeExecutionData?: boolean;
  }): GetExecutionHistoryOutput & { events: HistoryEvent[] } {
    const e = this.execution(params?.executionArn);
    const size = pageSize(params.maxResults);
    const reverse = params.reverseOrder === true;
    const cursor = decodeToken(params.nextToken, `${e.arn}:${reverse ? 'r' : 'f'}`);
    let events = reverse ? [...e.history].reverse() : e.history;
    if (cursor !== undefined) events = events.filter((ev) => (reverse ? ev.id! < Number(cursor) : ev.id! > Number(cursor)));
    const page = events.slice(0, size);
    return compact({
      events: params.includeExecutionData === false ? page.map(withoutExecutionData) : page.map((ev) => ({ ...ev })),
      nextToken: events.length > size ? encodeToken(`${e.arn}:${reverse ? 'r' : 'f'}`, page[page.length - 1]!.id!) : undefined,
    });
  }

  stopExecution(params: { executionArn: string; error?: string; cause?: string }): StopExecutionOutput & { stopDate: Date } {
    const e = this.execution(params?.executionArn);
    if (e.status !== 'RUNNING') return { stopDate: e.stopDate! };
    e.status = 'ABORTED';
    e.stopDate = this.nowDate();
    e.stopDetails = compact({ error: params.error ?? undefined, cause: params.cause ?? undefined });
    e.error = e.stopDetails.error;
    e.cause = e.stopDetails.cause;
    e.abort?.();
    this.closeExecution(e);
    return { stopDate: e.stopDate };
  }

  // ---------------------------------------------------------------- callbacks

  sendTaskSuccess(params: { taskToken: string; output: string }): Record<string, never> {
    const task = this.openTask(params?.taskToken);
    const output = requireString(params.output, 'output');
    if (byteLength(output) > MAX_PAYLOAD_BYTES) throw sfnError('InvalidOutput', `Invalid Output: the output is ${byteLength(output)} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch (err) {
      throw sfnError('InvalidOutput', `Invalid Output: '${(err as Error).message}'`);
    }
    task.succeed(parsed);
    return {};
  }

  sendTaskFailure(params: { taskToken: string; error?: string; cause?: string }): Record<string, never> {
    const task = this.openTask(params?.taskToken);
    task.fail(new TaskError(params.error ?? '', params.cause ?? ''));
    return {};
  }

  sendTaskHeartbeat(params: { taskToken: string }): Record<string, never> {
    this.openTask(params?.taskToken).heartbeat();
    return {};
  }

  // ---------------------------------------------------------------- local extras

  /** Calls `listener` for every history event of every execution as it is recorded. Returns an unsubscribe function. */
  onHistoryEvent(listener: HistoryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with DescribeExecution once the execution has closed and its history is complete. */
  async waitForExecution(executionArn: string): Promise<ExecutionDescription> {
    const e = this.execution(executionArn);
    await e.done;
    return this.describeExecution({ executionArn });
  }

  /** Aborts every running execution and waits until they have wound down (test teardown). */
  async stop(): Promise<void> {
    const running = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
    for (const e of running) this.stopExecution({ executionArn: e.arn, cause: 'The local Step Functions service stopped' });
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  // ---------------------------------------------------------------- internals

  private machine(arn: unknown): StateMachineRecord {
    const value = requireString(arn, 'stateMachineArn');
    if (!STATE_MACHINE_ARN.test(value)) throw sfnError('InvalidArn', `Invalid Arn: '${value}' is not a state machine ARN`);
    const m = this.machines.get(value);
    if (!m) throw sfnError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${value}'`);
    return m;
  }

  private execution(arn: unknown): ExecutionRecord {
    const value = requireString(arn, 'executionArn');
    if (!EXECUTION_ARN.test(value)) throw sfnError('InvalidArn', `Invalid Arn: '${value}' is not an execution ARN`);
    const e = this.executions.get(value);
    if (!e) throw sfnError('ExecutionDoesNotExist', `Execution Does Not Exist: '${value}'`);
    return e;
  }

  private openTask(token: unknown): OpenTask {
    const value = requireString(token, 'taskToken');
    if (value.length < 1 || value.length > 2048) throw sfnError('InvalidToken', 'Invalid Token: a task token is 1-2048 characters');
    const task = this.openTasks.get(value);
    if (task) return task;
    if (this.closedTokens.has(value)) throw sfnError('TaskTimedOut', 'Task Timed Out: the task of this token has already completed, failed or timed out');
    throw sfnError('TaskDoesNotExist', 'Task Does Not Exist: no open task has this token');
  }

  private realTimerMs(simulatedSeconds: number): number {
    return Math.min(Math.max(this.realMs(simulatedSeconds), 0), MAX_TIMER_SECONDS * 1000);
  }

  /** Now on the clock (epoch ms): the simulated time of a clock with `now()`, else real time. */
  private simNowMs(): number {
    const now = this.clock?.now?.();
    return now === undefined ? Date.now() : typeof now === 'number' ? now : now.getTime();
  }

  /**
   * A real timestamp (epoch ms, at most a few ms ago: an event the library stamped) on the clock: now
   * on the clock, less the real time since, at the clock's nominal rate.
   */
  private clockStamp(realMs: number): number {
    const simMsPerRealMs = 1000 / this.realMs(1);
    const lag = Math.max(0, Date.now() - realMs);
    return this.simNowMs() - (Number.isFinite(simMsPerRealMs) ? lag * simMsPerRealMs : 0);
  }

  /** {@link simNowMs} as a Date. */
  private nowDate(): Date {
    return new Date(this.simNowMs());
  }

  private notify(arn: string, event: HistoryEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(arn, event);
      } catch {
        // a listener's failure must not break the execution
      }
    }
  }

  private async run(e: ExecutionRecord): Promise<void> {
    const prepared = prepareDefinition(e.machine.definition, (s) => this.realTimerMs(s) / 1000);
    const recorder = new HistoryRecorder(
      {
        region: this.region,
        roleArn: e.machine.roleArn,
        input: e.input,
        states: prepared.states,
        takeInvocation: (name) => e.invocations.get(name)?.shift(),
        abortDetails: () => e.stopDetails ?? {},
        timedOut: () => e.timedOut === true,
        now: () => this.simNowMs(),
      },
      (event) => this.notify(e.arn, event),
    );
    e.history = recorder.events;

    if (e.status !== 'RUNNING') {
      // Stopped before it began.
      recorder.record({ type: 'ExecutionStarted', timestamp: e.startDate.getTime(), input: JSON.parse(e.input) });
      recorder.record({ type: 'ExecutionAborted', timestamp: e.stopDate!.getTime() });
      return;
    }

    const taskResourceLocalHandlers: Record<string, LocalHandler> = {};
    for (const info of prepared.tasks.values()) {
      taskResourceLocalHandlers[info.name] = (input) => this.invokeTask(e, info, input) as ReturnType<LocalHandler>;
    }
    for (const [name, wait] of prepared.dynamicWaits) {
      taskResourceLocalHandlers[name] = (input) => this.dynamicWait(e, name, wait, input) as ReturnType<LocalHandler>;
    }

    const mintToken = (): string => (e.pendingToken ??= `AQ${randomBytes(48).toString('base64url')}`);
    const enteredTime = (): string => this.nowDate().toISOString();
    const context = {
      Execution: { Id: e.arn, Name: e.name, RoleArn: e.machine.roleArn, RedriveCount: 0, [START_TIME_CONTEXT_FIELD]: e.startDate.toISOString() },
      StateMachine: { Id: e.machine.arn, Name: e.machine.name },
      State: {
        get EnteredTime() {
          return enteredTime();
        },
      },
      Task: {
        get Token() {
          return mintToken();
        },
      },
    };

    let run: ReturnType<StateMachine['run']>;
    try {
      const machine = new StateMachine(prepared.runnable as unknown as StateMachineDefinition, { validationOptions: { noValidate: true } });
      if (this.clock?.now) stampEventsOnClock(machine, e.startDate.getTime(), (realMs) => this.clockStamp(realMs));
      run = machine.run(JSON.parse(e.input), { overrides: { taskResourceLocalHandlers }, context });
    } catch (err) {
      e.status = 'FAILED';
      e.error = 'States.Runtime';
      e.cause = (err as Error).message;
      e.stopDate = this.nowDate();
      recorder.record({ type: 'ExecutionStarted', timestamp: e.startDate.getTime(), input: JSON.parse(e.input) });
      recorder.record({ type: 'ExecutionFailed', timestamp: e.stopDate.getTime(), Error: e.error, Cause: e.cause });
      return;
    }
    e.started = true;
    e.abort = run.abort;
    if (prepared.executionTimeoutSeconds !== undefined) {
      // The execution's TimeoutSeconds, in simulated time: abort the run, recorded as a timeout.
      e.cancelTimeout = this.setTimer(prepared.executionTimeoutSeconds, () => {
        if (e.status !== 'RUNNING') return;
        e.timedOut = true;
        run.abort();
      });
    }

    const drained = (async () => {
      for await (const ev of run.eventLogs) recorder.record(ev);
    })();
    const settled = run.result.then(
      (output) => this.finish(e, 'SUCCEEDED', { output: JSON.stringify(output ?? null) }),
      (err: unknown) => {
        if (err instanceof ExecutionAbortedError) return e.timedOut ? this.finish(e, 'TIMED_OUT', { error: 'States.Timeout' }) : this.finish(e, 'ABORTED', {});
        if (err instanceof ExecutionTimeoutError) return this.finish(e, 'TIMED_OUT', { error: 'States.Timeout' });
        const cause = err instanceof ExecutionError ? (err.cause as Error | undefined) : (err as Error);
        const failure = normalizeFailure(cause?.name ?? 'States.Runtime', cause?.message);
        return this.finish(e, 'FAILED', failure);
      },
    );
    await Promise.all([drained, settled]);
  }

  private finish(e: ExecutionRecord, status: ExecutionStatus, fields: { output?: string; error?: string; cause?: string }): void {
    if (e.status === 'RUNNING') {
      e.status = status;
      e.stopDate = this.nowDate();
      e.output = fields.output;
      e.error = fields.error;
      e.cause = fields.cause;
    }
    this.closeExecution(e);
  }

  /** Ends every task call still open (timers, tokens) once the execution is closed. */
  private closeExecution(e: ExecutionRecord): void {
    e.cancelTimeout?.();
    e.pendingToken = undefined;
    const closed = new FatalError('States.Runtime', `Execution ${e.arn} is closed`);
    for (const cancel of [...e.inflight]) cancel(closed);
  }

  private invokeTask(e: ExecutionRecord, taskInfo: TaskInfo, rawInput: unknown): Promise<unknown> {
    const minted = e.pendingToken;
    e.pendingToken = undefined;
    if (e.status !== 'RUNNING') return Promise.reject(new FatalError('States.Runtime', `Execution ${e.arn} is closed`));
    const timers = resolveTimerPaths(taskInfo, rawInput);
    if ('problem' in timers) return Promise.reject(new FatalError('States.Runtime', timers.problem));
    const { info, input } = timers;
    const taskToken = info.callback ? (minted ?? `AQ${randomBytes(48).toString('base64url')}`) : undefined;
    const invocation: TaskInvocation = {
      stateName: info.name,
      resource: info.resource,
      callback: info.callback,
      parameters: input,
      scheduledAt: this.simNowMs(),
      timeoutSeconds: info.timeoutSeconds,
      heartbeatSeconds: info.callback ? info.heartbeatSeconds : undefined,
    };
    const queue = e.invocations.get(info.name) ?? [];
    queue.push(invocation);
    e.invocations.set(info.name, queue);

    return new Promise((resolve, reject) => {
      let settled = false;
      let cancelTimeout: (() => void) | undefined;
      let cancelHeartbeat: (() => void) | undefined;
      let releaseHold: (() => void) | undefined;
      const attempt = new AbortController();
      const settle = (err: Error | undefined, value?: unknown, fromHandler = false) => {
        if (settled) return;
        settled = true;
        if (!fromHandler) attempt.abort(err ?? new Error(`Task '${info.name}' ended`));
        cancelTimeout?.();
        cancelHeartbeat?.();
        releaseHold?.();
        e.inflight.delete(cancel);
        if (taskToken) {
          this.openTasks.delete(taskToken);
          this.closedTokens.add(taskToken);
        }
        invocation.settledAt = this.simNowMs();
        if (err) {
          invocation.outcome = 'failed';
          reject(err);
        } else {
          invocation.outcome = 'succeeded';
          invocation.output = value;
          resolve(value);
        }
      };
      const cancel = (err: Error) => settle(err);
      const timedOut = (what: string) => {
        void statesTimeoutError().then((err) => {
          err.message = what;
          settle(err);
        });
      };
      e.inflight.add(cancel);
      // A `.sync` task waits for a job (e.g. a nested execution) that runs in simulated time, and a
      // callback task, once its handler returned, waits for the outside world in simulated time.
      const waitsOutside = info.callback || SYNC_RESOURCE.test(info.resource);
      if (info.timeoutSeconds !== undefined) {
        const timeoutSeconds = info.timeoutSeconds;
        const onTimeout = () => timedOut(`Task timed out after ${timeoutSeconds} seconds`);
        if (waitsOutside) {
          cancelTimeout = this.setTimer(timeoutSeconds, onTimeout);
        } else {
          // A handler that runs in-process runs in real time, so its timeout is real time too (scaling it
          // would time out a 20 ms DynamoDB write at a large time scale).
          const t = setTimeout(onTimeout, Math.min(timeoutSeconds * 1000, MAX_TIMER_SECONDS * 1000));
          cancelTimeout = () => clearTimeout(t);
        }
      }
      const armHeartbeat = () => {
        if (!info.callback || info.heartbeatSeconds === undefined) return;
        cancelHeartbeat?.();
        const seconds = info.heartbeatSeconds;
        cancelHeartbeat = this.setTimer(seconds, () => timedOut(`No heartbeat in ${seconds} seconds`));
      };
      armHeartbeat();
      if (taskToken) {
        this.openTasks.set(taskToken, {
          execution: e,
          succeed: (output) => settle(undefined, output),
          fail: (err) => settle(err),
          heartbeat: armHeartbeat,
        });
      }

      const handler = this.resolveTask(info.resource, info.name);
      if (!handler) {
        settle(new FatalError('States.Runtime', `No local handler for resource '${info.resource}' (Task state '${info.name}')`));
        return;
      }
      if (this.hold && !SYNC_RESOURCE.test(info.resource)) {
        // The handler's real run time is not simulated time (a callback task's wait after it is).
        const maxRealMs = info.timeoutSeconds !== undefined && !info.callback ? info.timeoutSeconds * 1000 + 1000 : this.handlerHoldMs;
        releaseHold = this.hold(`the handler of Task state '${info.name}' (${info.resource}) in execution ${e.name}`, {
          maxRealMs,
          kind: 'handler',
          message: () =>
            `The handler of Task state '${info.name}' (${info.resource}) in execution ${e.name} has run ${Math.round(maxRealMs / 1000)} s real; ` +
            `the twin's simulated clock runs on without it. The handler may hang (a request that never answers), or the machine is overloaded ` +
            `(free the CPU, or run the twin with a smaller --time-scale).`,
        });
      }
      let call: Promise<unknown>;
      try {
        call = Promise.resolve(handler(input, { executionArn: e.arn, stateName: info.name, signal: attempt.signal, ...(taskToken ? { taskToken } : {}) }));
      } catch (err) {
        call = Promise.reject(err);
      }
      void call.then(
        () => releaseHold?.(),
        () => releaseHold?.(),
      );
      call.then(
        (result) => {
          if (!info.callback) settle(undefined, result ?? null, true);
          else invocation.submitted ??= { at: Math.min(this.simNowMs(), invocation.settledAt ?? Infinity), output: result ?? null };
        },
        (err: unknown) => settle(err instanceof Error ? new TaskError(err.name, err.message) : new TaskError('Error', String(err)), undefined, true),
      );
    });
  }

  /** A Wait state (any form), timed on the simulated clock. */
  private dynamicWait(e: ExecutionRecord, name: string, wait: DynamicWait, input: unknown): Promise<unknown> {
    e.pendingToken = undefined;
    if (e.status !== 'RUNNING') return Promise.reject(new FatalError('States.Runtime', `Execution ${e.arn} is closed`));
    let seconds: number;
    if (wait.kind === 'Seconds') {
      seconds = wait.seconds;
    } else if (wait.kind === 'SecondsPath') {
      const value = evaluateReferencePath(wait.path, input);
      if (!Number.isInteger(value) || (value as number) < 0) {
        return Promise.reject(new FatalError('States.Runtime', `Wait state '${name}': SecondsPath '${wait.path}' must select a non-negative integer, got ${JSON.stringify(value)}`));
      }
      seconds = value as number;
    } else {
      const ts = wait.kind === 'Timestamp' ? wait.timestamp : evaluateReferencePath(wait.path, input);
      const when = typeof ts === 'string' ? Date.parse(ts) : NaN;
      if (Number.isNaN(when)) {
        return Promise.reject(new FatalError('States.Runtime', `Wait state '${name}': ${wait.kind === 'Timestamp' ? 'Timestamp' : `TimestampPath '${wait.path}'`} must be an RFC 3339 timestamp, got ${JSON.stringify(ts)}`));
      }
      seconds = Math.max(0, (when - this.simNowMs()) / 1000);
    }
    return new Promise((resolve, reject) => {
      const cancel = (err: Error) => {
        cancelTimer();
        e.inflight.delete(cancel);
        reject(err);
      };
      const cancelTimer = this.setTimer(seconds, () => {
        e.inflight.delete(cancel);
        resolve(input);
      });
      e.inflight.add(cancel);
    });
  }
}

export type { StateInfo };

/** What {@link stampEventsOnClock} reaches inside aws-local-stepfunctions 3.x (not part of its typed API). */
interface LibraryInternals {
  execute?: (input: unknown, options: { eventLogger?: { dispatch(event: { type: string; timestamp: number }): void } }, cleanup: unknown) => unknown;
}

/**
 * Make a library run stamp its events on the service's clock: aws-local-stepfunctions stamps each
 * event with `Date.now()` when it dispatches it, and the service reads them asynchronously, so they
 * are re-stamped at dispatch (the run's root event logger: events of Map and Parallel iterations are
 * forwarded to it a moment after their own dispatch, and keep that lag at the clock's rate). Stamps
 * never go back in dispatch order; `ExecutionStarted` is the execution's `startDate`, as on AWS.
 * Without the library internal this relies on (`execute` receiving the logger), events keep the real time.
 * @param startedAt the execution's startDate (epoch ms on the clock)
 * @param toClock converts a real timestamp (epoch ms) to the clock's
 */
function stampEventsOnClock(machine: StateMachine, startedAt: number, toClock: (realMs: number) => number): void {
  const internals = machine as unknown as LibraryInternals;
  const execute = internals.execute;
  if (typeof execute !== 'function') return;
  internals.execute = function (this: unknown, input, options, cleanup) {
    const logger = options?.eventLogger;
    if (logger && typeof logger.dispatch === 'function') {
      const dispatch = logger.dispatch;
      let last = startedAt;
      logger.dispatch = (event) => {
        last = event.type === 'ExecutionStarted' ? startedAt : Math.max(last, toClock(event.timestamp));
        event.timestamp = last;
        dispatch.call(logger, event);
      };
    }
    return execute.call(this, input, options, cleanup);
  };
}

/**
 * A Task's `TimeoutSecondsPath` / `HeartbeatSecondsPath` values, handed over in {@link TIMER_PARAMETER}
 * (see lib/local/stepfunctions/definition.ts): returns the task info with literal seconds and the
 * parameters without the hidden field, or the `States.Runtime` problem AWS reports when a path does
 * not select a positive integer.
 */
function resolveTimerPaths(info: TaskInfo, input: unknown): { info: TaskInfo; input: unknown } | { problem: string } {
  if (!info.timerPaths || typeof input !== 'object' || input === null || !(TIMER_PARAMETER in input)) return { info, input };
  const { [TIMER_PARAMETER]: timers, ...rest } = input as Record<string, unknown>;
  const t = (timers ?? {}) as { timeoutSeconds?: unknown; heartbeatSeconds?: unknown; stateInput?: unknown };
  const check = (field: string, path: string | undefined, value: unknown): number | string | undefined => {
    if (!path) return undefined;
    if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 99_999_999) {
      return `Task state '${info.name}': ${field} '${path}' must select a positive integer (1-99999999), got ${JSON.stringify(value)}`;
    }
    return value as number;
  };
  const timeout = check('TimeoutSecondsPath', info.timerPaths.timeoutSecondsPath, t.timeoutSeconds);
  if (typeof timeout === 'string') return { problem: timeout };
  const heartbeat = check('HeartbeatSecondsPath', info.timerPaths.heartbeatSecondsPath, t.heartbeatSeconds);
  if (typeof heartbeat === 'string') return { problem: heartbeat };
  return {
    info: { ...info, timeoutSeconds: timeout ?? info.timeoutSeconds, heartbeatSeconds: heartbeat ?? info.heartbeatSeconds },
    input: 'stateInput' in t ? t.stateInput : rest,
  };
}
