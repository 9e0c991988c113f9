/**
 * The optimized Step Functions → Step Functions integration ("nested workflows") for the local
 * service: Task states whose Resource is
 *
 *  - `arn:<partition>:states:::states:startExecution` — Request Response: StartExecution, then go on;
 *  - `arn:<partition>:states:::states:startExecution.sync` — Run a Job: start the child and wait until
 *    it closes; the task's result is the child's DescribeExecution, `Input` / `Output` as JSON strings;
 *  - `arn:<partition>:states:::states:startExecution.sync:2` — the same with `Input` / `Output` parsed
 *    into JSON values;
 *  - `arn:<partition>:states:::states:startExecution.waitForTaskToken` — start the child and wait for
 *    a SendTaskSuccess / SendTaskFailure with the token (the service does the waiting).
 *
 * AWS behaviour followed (AWS Step Functions Developer Guide, "Start a new AWS Step Functions state
 * machine from a running execution" (connect-stepfunctions) and "IAM policies for AWS Step Functions"
 * (stepfunctions-iam: the `.sync` policy grants `states:DescribeExecution` and `states:StopExecution`
 * on the child's executions); the result and error shapes as recorded against AWS in LocalStack's
 * snapshot tests `tests/aws/services/stepfunctions/v2/callback/test_callback.snapshot.json`
 * (`test_start_execution_sync`, `..._sync2`, `..._sync_delegate_failure`, `..._sync_delegate_timeout`)
 * and `.../services/test_sfn_task_service.snapshot.json`, and LocalStack's / moto's
 * `state_task_service_sfn.py`):
 *  - Parameters are the StartExecution API's, PascalCase: `StateMachineArn` (required), `Name`,
 *    `Input`. `Input` that is not a string is serialized to JSON; a string is passed as is (it must be
 *    JSON); no `Input` starts the child with `{}`.
 *  - Request Response result: StartExecution's response in PascalCase — `ExecutionArn`, `StartDate` —
 *    plus the `SdkHttpMetadata` / `SdkResponseMetadata` every optimized request-response integration
 *    adds.
 *  - `.sync` / `.sync:2` result: DescribeExecution of the child in PascalCase (`ExecutionArn`,
 *    `StateMachineArn`, `Name`, `Status`, `StartDate`, `StopDate`, `Input`, `InputDetails`, `Output`,
 *    `OutputDetails`; keys sorted as AWS shows them).
 *  - A child that ends FAILED, TIMED_OUT or ABORTED fails the task with `States.TaskFailed`; the cause
 *    is that DescribeExecution (with the child's `Error` / `Cause`, no `Output`) as a JSON string.
 *  - A StartExecution API error fails the task with `StepFunctions.<Code>Exception` (e.g.
 *    `StepFunctions.ExecutionAlreadyExistsException`) and the cause
 *    `<message> (Service: AWSStepFunctions; Status Code: 400; Error Code: <Code>; Request ID: …; Proxy: null)`.
 *    StartExecution itself is idempotent: the same `Name` and `Input` while that execution is RUNNING
 *    returns it again (a `.sync` task then waits for it); a closed one, or other input, is
 *    ExecutionAlreadyExists.
 *  - A `.sync` task that ends while its child runs (the parent was stopped, timed out or closed, or
 *    the task's `TimeoutSeconds` passed) stops the child (StopExecution).
 *
 * Local choices (not AWS facts): timestamps (`StartDate`, `StopDate`) are epoch milliseconds; the
 * cause given to the child's StopExecution names the parent; the HTTP metadata is synthesized.
 */
import { randomUUID } from 'node:crypto';
import { isSfnServiceError } from './errors';
import type { ExecutionDescription, StartExecutionParams, TaskContext, TaskHandler } from './service';

/** How a `states:startExecution` Task waits: the Resource's suffix. */
export type StartExecutionPattern = 'request-response' | 'sync' | 'sync:2' | 'callback';

const START_EXECUTION_RESOURCE = /^arn:aws[a-z-]*:states:::states:startExecution(\.sync:2|\.sync|\.waitForTaskToken)?$/;

/**
 * The integration pattern of a Step Functions StartExecution Resource, or `undefined` for any other
 * Resource. `arn:aws:states:::states:startExecution.sync:2` → `'sync:2'`; any partition is accepted.
 */
export function startExecutionPattern(resource: string): StartExecutionPattern | undefined {
  const m = START_EXECUTION_RESOURCE.exec(resource);
  if (!m) return undefined;
  switch (m[1]) {
    case undefined:
      return 'request-response';
    case '.sync':
      return 'sync';
    case '.sync:2':
      return 'sync:2';
    default:
      return 'callback';
  }
}

/** What the integration needs from the local Step Functions service ({@link LocalStepFunctions}). */
export interface NestedExecutionHost {
  /** StartExecution (idempotent for the same name and input while RUNNING). @throws SFN typed exceptions */
  startExecution(params: StartExecutionParams): { executionArn: string; startDate: Date };
  /** DescribeExecution. @throws ExecutionDoesNotExist */
  describeExecution(params: { executionArn: string }): ExecutionDescription;
  /** Resolves with DescribeExecution once the execution has closed. */
  waitForExecution(executionArn: string): Promise<ExecutionDescription>;
  /** StopExecution (no-op for a closed execution). */
  stopExecution(params: { executionArn: string; error?: string; cause?: string }): unknown;
}

/** The Parameters of a `states:startExecution` Task. */
interface StartExecutionParameters {
  readonly StateMachineArn: string;
  readonly Name?: string;
  readonly Input?: unknown;
}

const SUPPORTED_PARAMETERS = new Set(['StateMachineArn', 'Name', 'Input']);

/** An error whose `name` the service reports as the task's Step Functions error, `message` as its cause. */
function taskError(name: string, cause: string): Error {
  const err = new Error(cause);
  err.name = name;
  return err;
}

/**
 * The Task handler for a Step Functions StartExecution Resource (see the file comment for the exact
 * AWS semantics), or `undefined` when `resource` is not one.
 *
 * @param resource the Task's Resource, e.g. `arn:aws:states:::states:startExecution.sync:2`
 * @param host the service that runs the child executions — or a function returning it (resolved
 *   when a task runs, so the handler can be wired before the service exists)
 * @returns a handler taking the Task's effective Parameters (`{ StateMachineArn, Name?, Input? }`);
 *   it rejects with an error named `StepFunctions.<Code>Exception` when StartExecution fails,
 *   `States.TaskFailed` when a waited-for child ends other than SUCCEEDED (cause: its
 *   DescribeExecution as JSON), `States.Runtime` for Parameters that are not an object with a string
 *   `StateMachineArn` or that carry other fields
 */
export function startExecutionTask(resource: string, host: NestedExecutionHost | (() => NestedExecutionHost)): TaskHandler | undefined {
  const pattern = startExecutionPattern(resource);
  if (!pattern) return undefined;
  const service = typeof host === 'function' ? host : () => host;
  return async (input: unknown, ctx: TaskContext) => {
    const params = readParameters(input, ctx.stateName);
    const sfn = service();
    let started: { executionArn: string; startDate: Date };
    try {
      started = sfn.startExecution({
        stateMachineArn: params.StateMachineArn,
        ...(params.Name !== undefined ? { name: params.Name } : {}),
        input: serializeInput(params.Input),
      });
    } catch (err) {
      throw apiError(err);
    }
    if (pattern === 'request-response' || pattern === 'callback') {
      return startExecutionResult(started);
    }
    const closed = await untilClosed(sfn, started.executionArn, ctx);
    const description = describeForTask(closed, pattern);
    if (closed.status === 'SUCCEEDED') return description;
    throw taskError('States.TaskFailed', JSON.stringify(description));
  };
}

function readParameters(input: unknown, stateName: string): StartExecutionParameters {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw taskError('States.Runtime', `Task state '${stateName}': the Parameters of states:startExecution must be an object with StateMachineArn, got ${JSON.stringify(input)}`);
  }
  const extra = Object.keys(input).filter((k) => !SUPPORTED_PARAMETERS.has(k));
  if (extra.length > 0) {
    throw taskError('States.Runtime', `Task state '${stateName}': the field(s) ${extra.map((k) => `'${k}'`).join(', ')} are not supported by Step Functions for states:startExecution (supported: StateMachineArn, Name, Input)`);
  }
  const p = input as Record<string, unknown>;
  if (typeof p.StateMachineArn !== 'string') {
    throw taskError('States.Runtime', `Task state '${stateName}': states:startExecution needs a string StateMachineArn, got ${JSON.stringify(p.StateMachineArn)}`);
  }
  if (p.Name !== undefined && typeof p.Name !== 'string') {
    throw taskError('States.Runtime', `Task state '${stateName}': states:startExecution Name must be a string, got ${JSON.stringify(p.Name)}`);
  }
  return p as unknown as StartExecutionParameters;
}

/** `Input` as StartExecution takes it: a string as is, no input as `{}`, anything else as JSON. */
function serializeInput(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '{}';
  return JSON.stringify(value);
}

/** A StartExecution API error as the optimized integration reports it. */
function apiError(err: unknown): Error {
  if (!isSfnServiceError(err)) return err instanceof Error ? err : new Error(String(err));
  const code = err.name;
  const name = `StepFunctions.${code.endsWith('Exception') ? code : `${code}Exception`}`;
  const status = err.$metadata?.httpStatusCode ?? 400;
  return taskError(name, `${err.message} (Service: AWSStepFunctions; Status Code: ${status}; Error Code: ${code}; Request ID: ${randomUUID()}; Proxy: null)`);
}

/** StartExecution's response as the Request Response integration returns it. */
function startExecutionResult(started: { executionArn: string; startDate: Date }): Record<string, unknown> {
  const requestId = randomUUID();
  const body = JSON.stringify({ executionArn: started.executionArn, startDate: started.startDate.getTime() / 1000 });
  const headers = {
    'Content-Length': String(Buffer.byteLength(body)),
    'Content-Type': 'application/x-amz-json-1.0',
    Date: started.startDate.toUTCString(),
    'x-amzn-RequestId': requestId,
  };
  return {
    ExecutionArn: started.executionArn,
    SdkHttpMetadata: {
      AllHttpHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      HttpHeaders: headers,
      HttpStatusCode: 200,
    },
    SdkResponseMetadata: { RequestId: requestId },
    StartDate: started.startDate.getTime(),
  };
}

/**
 * Resolves with the child's DescribeExecution once it has closed. When the waiting task ends first
 * (`ctx.signal`: the parent stopped or closed, the task timed out), stops the child and rejects.
 */
function untilClosed(sfn: NestedExecutionHost, executionArn: string, ctx: TaskContext): Promise<ExecutionDescription> {
  const signal = ctx.signal;
  return new Promise<ExecutionDescription>((resolve, reject) => {
    const onAbort = () => {
      try {
        sfn.stopExecution({
          executionArn,
          cause: `The parent execution ${ctx.executionArn} stopped waiting for it (Task state '${ctx.stateName}' ended).`,
        });
      } catch {
        // already gone: nothing to stop
      }
      reject(signal?.reason instanceof Error ? signal.reason : new Error(`Task state '${ctx.stateName}' ended`));
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    sfn.waitForExecution(executionArn).then(
      (closed) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(closed);
      },
      (err: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * DescribeExecution in the PascalCase shape the `.sync` integrations return (and put in the
 * `States.TaskFailed` cause), keys sorted; `.sync:2` parses `Input` and `Output`.
 */
function describeForTask(d: ExecutionDescription, pattern: 'sync' | 'sync:2'): Record<string, unknown> {
  const json = pattern === 'sync:2';
  const succeeded = d.status === 'SUCCEEDED';
  const out: Record<string, unknown> = {
    Cause: d.cause,
    Error: d.error,
    ExecutionArn: d.executionArn,
    Input: json ? parseJson(d.input) : d.input,
    InputDetails: { Included: true },
    Name: d.name,
    Output: succeeded ? (json ? parseJson(d.output) : d.output) : undefined,
    OutputDetails: succeeded ? { Included: true } : undefined,
    StartDate: d.startDate.getTime(),
    StateMachineArn: d.stateMachineArn,
    Status: d.status,
    StopDate: d.stopDate?.getTime(),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}
