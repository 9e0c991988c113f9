/**
 * Reading, validating and preparing Amazon States Language definitions for the local runner.
 *
 * The definition a caller gives is validated as Step Functions would (asl-validator, plus the parts
 * aws-local-stepfunctions cannot run) and kept verbatim for DescribeStateMachine. The copy handed to
 * the library is rewritten so simulated time and AWS defaults hold:
 *  - Task `TimeoutSeconds`/`HeartbeatSeconds` are enforced by the service (scaled); the library's own
 *    task timer (default 60 s, real time) is pushed out to the longest timer Node allows;
 *  - `TimeoutSecondsPath`/`HeartbeatSecondsPath` are resolved from the state input by the service: the
 *    library copy carries each path as a hidden Parameters field ({@link TIMER_PARAMETER}) that the
 *    service reads and strips before the handler sees its parameters;
 *  - retriers' `IntervalSeconds`/`MaxDelaySeconds` are scaled in place (real time at the time scale),
 *    so `BackoffRate` and `JitterStrategy` keep their exact meaning;
 *  - the execution's `TimeoutSeconds` is removed from the copy and enforced by the service on the
 *    simulated clock ({@link PreparedDefinition.executionTimeoutSeconds});
 *  - every Wait state (`Seconds`, `SecondsPath`, `Timestamp`, `TimestampPath`) becomes a Task run by
 *    the service, which waits on the simulated clock (so a held clock holds the wait too);
 *  - `$$.State.Name` in payload templates becomes the literal state name;
 *  - `$$.Execution.StartTime` (in payload templates, Choice rules and InputPath / OutputPath /
 *    ItemsPath) reads {@link START_TIME_CONTEXT_FIELD} instead: the library sets its own `StartTime`
 *    from the real clock, the service sets this one to the execution's `startDate` (simulated time
 *    when it runs on a clock);
 *  - `ResultPath: "$"` is dropped and bracket ResultPaths become dot paths (library 3.0.0 bugs: it
 *    would store the result under a key named "$").
 */
import { createRequire } from 'node:module';

export type StateType = 'Task' | 'Parallel' | 'Map' | 'Pass' | 'Wait' | 'Choice' | 'Succeed' | 'Fail';
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface AslDefinition {
  StartAt: string;
  States: Record<string, JsonObject>;
  TimeoutSeconds?: number;
  Comment?: string;
  Version?: string;
  [key: string]: Json | undefined;
}

/** Longest delay `setTimeout` honours (2^31-1 ms), in whole seconds. */
export const MAX_TIMER_SECONDS = 2_147_483;
/** Resource of the Task that stands in for a Wait the service times itself. */
export const LOCAL_WAIT_RESOURCE = 'arn:aws:states:::cutover-local:wait';

/**
 * Hidden Parameters key through which the library hands the service a Task's `TimeoutSecondsPath` /
 * `HeartbeatSecondsPath` values (evaluated against the state input, as Parameters' own paths are).
 * The service removes it before calling the handler.
 */
export const TIMER_PARAMETER = '__cutoverLocalTimers';

export interface TaskInfo {
  readonly name: string;
  readonly resource: string;
  /** `.waitForTaskToken` integration: the task ends on SendTaskSuccess/Failure. */
  readonly callback: boolean;
  /** Literal `TimeoutSeconds` (simulated seconds); the service enforces it. */
  readonly timeoutSeconds?: number;
  /** Literal `HeartbeatSeconds` (simulated seconds); enforced for callback tasks. */
  readonly heartbeatSeconds?: number;
  /** `TimeoutSecondsPath` / `HeartbeatSecondsPath`: their values arrive in {@link TIMER_PARAMETER}. */
  readonly timerPaths?: { readonly timeoutSecondsPath?: string; readonly heartbeatSecondsPath?: string };
}

export type DynamicWait =
  | { readonly kind: 'Seconds'; readonly seconds: number }
  | { readonly kind: 'SecondsPath'; readonly path: string }
  | { readonly kind: 'TimestampPath'; readonly path: string }
  | { readonly kind: 'Timestamp'; readonly timestamp: string };

export interface StateInfo {
  readonly name: string;
  /** The state's type in the caller's definition (a rewritten Wait is still `Wait`). */
  readonly type: StateType;
  readonly definition: JsonObject;
}

export interface PreparedDefinition {
  /** The copy aws-local-stepfunctions runs. */
  readonly runnable: AslDefinition;
  /** Every state, nested ones included (names are unique across a state machine). */
  readonly states: ReadonlyMap<string, StateInfo>;
  readonly tasks: ReadonlyMap<string, TaskInfo>;
  /** Every Wait state, run by the service instead of the library (times in simulated seconds). */
  readonly dynamicWaits: ReadonlyMap<string, DynamicWait>;
  /** The definition's `TimeoutSeconds` (simulated), enforced by the service; undefined when it has none. */
  readonly executionTimeoutSeconds?: number;
}

type Validator = (
  definition: unknown,
  options: { checkPaths: boolean; checkArn: boolean },
) => { isValid: boolean; errors: Array<Record<string, string>>; errorsText: (separator?: string) => string };

let validator: Validator | undefined;
function aslValidator(): Validator {
  // asl-validator 4 is CommonJS without type declarations.
  validator ??= createRequire(import.meta.url)('asl-validator') as Validator;
  return validator;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Calls `visit` for every state, recursing into Parallel branches and Map processors. */
export function walkStates(def: { States?: unknown }, visit: (name: string, state: JsonObject) => void): void {
  if (!isObject(def.States)) return;
  for (const [name, state] of Object.entries(def.States)) {
    if (!isObject(state)) continue;
    visit(name, state);
    if (Array.isArray(state.Branches)) for (const b of state.Branches) if (isObject(b)) walkStates(b, visit);
    for (const key of ['ItemProcessor', 'Iterator'] as const) {
      const sub = state[key];
      if (isObject(sub)) walkStates(sub, visit);
    }
  }
}

/**
 * Parses and validates a definition. Returns the parsed definition, or the problems found (each a
 * line naming the state and the fix), as Step Functions' `InvalidDefinition` would list them.
 */
export function validateDefinition(text: string): { definition?: AslDefinition; problems: string[] } {
  // asl-validator compiles its schemas on every call (100+ ms): remember recent verdicts.
  const known = verdicts.get(text);
  if (known) return { definition: known.definition && structuredClone(known.definition), problems: [...known.problems] };
  const verdict = validateUncached(text);
  if (verdicts.size >= 64) verdicts.delete(verdicts.keys().next().value!);
  verdicts.set(text, verdict);
  return { definition: verdict.definition && structuredClone(verdict.definition), problems: [...verdict.problems] };
}

const verdicts = new Map<string, { definition?: AslDefinition; problems: string[] }>();

function validateUncached(text: string): { definition?: AslDefinition; problems: string[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { problems: [`INVALID_JSON_DESCRIPTION: ${(err as Error).message}`] };
  }
  if (!isObject(parsed)) return { problems: ['SCHEMA_VALIDATION_FAILED: the definition must be a JSON object'] };
  // asl-validator annotates the object it checks (QueryLanguage on every state): give it a copy.
  const result = aslValidator()(structuredClone(parsed), { checkPaths: true, checkArn: true });
  const problems = result.isValid ? [] : result.errorsText('\n').split('\n').filter(Boolean);
  if (problems.length === 0) problems.push(...localLimitations(parsed));
  return problems.length ? { problems } : { definition: parsed as unknown as AslDefinition, problems };
}

/** What Step Functions accepts but the local runner cannot run, named so nobody debugs a silent difference. */
function localLimitations(def: JsonObject): string[] {
  const problems: string[] = [];
  const unsupported = 'is not supported by the local runner (aws-local-stepfunctions runs JSONPath states only)';
  if (def.QueryLanguage === 'JSONata') problems.push(`UNSUPPORTED_LOCALLY: QueryLanguage JSONata ${unsupported}; write JSONPath`);
  walkStates(def, (name, state) => {
    if (state.QueryLanguage === 'JSONata') problems.push(`UNSUPPORTED_LOCALLY: state '${name}': QueryLanguage JSONata ${unsupported}`);
    for (const field of ['Assign', 'Arguments', 'Output', 'Items', 'ItemReader', 'ItemBatcher', 'ResultWriter']) {
      if (field in state) problems.push(`UNSUPPORTED_LOCALLY: state '${name}': field '${field}' ${unsupported}`);
    }
    const processor = state.ItemProcessor;
    if (isObject(processor) && isObject(processor.ProcessorConfig) && processor.ProcessorConfig.Mode === 'DISTRIBUTED') {
      problems.push(`UNSUPPORTED_LOCALLY: state '${name}': distributed Map ${unsupported}`);
    }
    if (typeof state.Resource === 'string' && state.Resource.includes('${')) {
      problems.push(`INVALID_RESOURCE: state '${name}': Resource '${state.Resource}' still has a \${placeholder}; substitute it before creating the state machine`);
    }
  });
  return problems;
}

/**
 * Member of the context object's `Execution` that holds the execution's start time as the service
 * knows it (`startDate`, ISO 8601). References to `$$.Execution.StartTime` are rewritten to it,
 * because aws-local-stepfunctions overwrites `Execution.StartTime` with the real time when a run
 * begins. (`$$.Execution` or `$$` taken whole still shows the library's own `StartTime`.)
 */
export const START_TIME_CONTEXT_FIELD = 'CutoverLocalStartTime';

/** `$$.Execution.StartTime` (not followed by more name characters) anywhere in a path or intrinsic. */
const START_TIME_REF = /\$\$\.Execution\.StartTime(?![\w])/g;

/** A path or intrinsic function with every `$$.Execution.StartTime` reading {@link START_TIME_CONTEXT_FIELD}. */
export function rewriteStartTimePath(path: string): string {
  // A replacer function's result is used literally (no `$` patterns).
  return path.replace(START_TIME_REF, () => `$$.Execution.${START_TIME_CONTEXT_FIELD}`);
}

/** A payload template with every `$$.Execution.StartTime` in its `.$` values rewritten (see {@link rewriteStartTimePath}). */
function rewriteStartTimeTemplate(template: Json): Json {
  if (Array.isArray(template)) return template.map(rewriteStartTimeTemplate);
  if (!isObject(template)) return template;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(template)) {
    out[key] = key.endsWith('.$') && typeof value === 'string' ? rewriteStartTimePath(value) : rewriteStartTimeTemplate(value);
  }
  return out;
}

/** Fields of a Choice rule that hold a path (`Variable`, `StringEqualsPath`, ...). */
function rewriteStartTimeChoiceRule(rule: Json): Json {
  if (Array.isArray(rule)) return rule.map(rewriteStartTimeChoiceRule);
  if (!isObject(rule)) return rule;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(rule)) {
    if (typeof value === 'string' && (key === 'Variable' || key.endsWith('Path'))) out[key] = rewriteStartTimePath(value);
    else if (key === 'And' || key === 'Or' || key === 'Not') out[key] = rewriteStartTimeChoiceRule(value);
    else out[key] = value;
  }
  return out;
}

/** `$$.State.Name` (not followed by more path) inside an intrinsic function. */
const STATE_NAME_REF = /\$\$\.State\.Name(?![\w.[])/g;

function intrinsicLiteral(s: string): string {
  return `'${s.replace(/[\\'{}]/g, (c) => `\\${c}`)}'`;
}

/** Replaces references to `$$.State.Name` in a payload template with the literal name. */
export function inlineStateName(template: Json, stateName: string): Json {
  if (Array.isArray(template)) return template.map((v) => inlineStateName(v, stateName));
  if (!isObject(template)) return template;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$') && typeof value === 'string') {
      if (value === '$$.State.Name') {
        out[key.slice(0, -2)] = stateName;
        continue;
      }
      if (value.startsWith('States.') && value.includes('$$.State.Name')) {
        out[key] = value.replace(STATE_NAME_REF, intrinsicLiteral(stateName));
        continue;
      }
    }
    out[key] = inlineStateName(value, stateName);
  }
  return out;
}

/**
 * Builds the library's copy of a validated definition (see the module documentation).
 * @param realSeconds converts simulated seconds to real seconds at the time scale (for retry intervals)
 */
export function prepareDefinition(definition: AslDefinition, realSeconds: (simulated: number) => number): PreparedDefinition {
  const runnable = structuredClone(definition);
  const states = new Map<string, StateInfo>();
  const tasks = new Map<string, TaskInfo>();
  const dynamicWaits = new Map<string, DynamicWait>();

  const executionTimeoutSeconds = typeof runnable.TimeoutSeconds === 'number' ? runnable.TimeoutSeconds : undefined;
  delete runnable.TimeoutSeconds;

  walkStates(runnable, (name, state) => {
    const original = structuredClone(state);
    const type = state.Type as StateType;
    states.set(name, { name, type, definition: original });

    for (const field of ['Parameters', 'ItemSelector', 'ResultSelector'] as const) {
      if (field in state) state[field] = rewriteStartTimeTemplate(inlineStateName(state[field] as Json, name));
    }
    for (const field of ['InputPath', 'OutputPath', 'ItemsPath'] as const) {
      if (typeof state[field] === 'string') state[field] = rewriteStartTimePath(state[field] as string);
    }
    if (Array.isArray(state.Choices)) state.Choices = rewriteStartTimeChoiceRule(state.Choices);

    // aws-local-stepfunctions 3.0.0 stores `ResultPath: "$"` under a key named "$" and misreads
    // bracket notation; "$" means "replace", which is what an absent ResultPath does there.
    if ('ResultPath' in state) {
      const path = libraryResultPath(state.ResultPath);
      if (path === undefined) delete state.ResultPath;
      else state.ResultPath = path;
    }
    if (Array.isArray(state.Catch)) {
      state.Catch = state.Catch.map((c) => {
        if (!isObject(c) || !('ResultPath' in c)) return c;
        const { ResultPath, ...rest } = c;
        const path = libraryResultPath(ResultPath);
        return path === undefined ? rest : { ...rest, ResultPath: path };
      });
    }

    if (Array.isArray(state.Retry)) {
      state.Retry = state.Retry.map((r) => {
        if (!isObject(r)) return r;
        const scaled: JsonObject = { ...r, IntervalSeconds: realSeconds(typeof r.IntervalSeconds === 'number' ? r.IntervalSeconds : 1) };
        if (typeof r.MaxDelaySeconds === 'number') scaled.MaxDelaySeconds = Math.max(realSeconds(r.MaxDelaySeconds), Number.MIN_VALUE);
        return scaled;
      });
    }

    if (type === 'Task') {
      const resource = String(state.Resource);
      const timeoutSecondsPath = typeof state.TimeoutSecondsPath === 'string' ? state.TimeoutSecondsPath : undefined;
      const heartbeatSecondsPath = typeof state.HeartbeatSecondsPath === 'string' ? state.HeartbeatSecondsPath : undefined;
      tasks.set(name, {
        name,
        resource,
        callback: resource.endsWith('.waitForTaskToken'),
        timeoutSeconds: typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined,
        heartbeatSeconds: typeof state.HeartbeatSeconds === 'number' ? state.HeartbeatSeconds : undefined,
        ...(timeoutSecondsPath || heartbeatSecondsPath ? { timerPaths: { timeoutSecondsPath, heartbeatSecondsPath } } : {}),
      });
      // The service enforces every timeout (literal or from a path) in simulated time. Without one,
      // AWS never times a task out (the library would at 60 s).
      if (timeoutSecondsPath || heartbeatSecondsPath) {
        const timers: JsonObject = {};
        if (timeoutSecondsPath) timers['timeoutSeconds.$'] = timeoutSecondsPath;
        if (heartbeatSecondsPath) timers['heartbeatSeconds.$'] = heartbeatSecondsPath;
        // Without Parameters the handler gets the whole state input: carry it along and unwrap it.
        if (isObject(state.Parameters)) state.Parameters = { ...state.Parameters, [TIMER_PARAMETER]: timers };
        else state.Parameters = { [TIMER_PARAMETER]: { ...timers, 'stateInput.$': '$' } };
        delete state.TimeoutSecondsPath;
        delete state.HeartbeatSecondsPath;
      }
      state.TimeoutSeconds = MAX_TIMER_SECONDS;
    }

    if (type === 'Wait') {
      const wait: DynamicWait =
        typeof state.Seconds === 'number'
          ? { kind: 'Seconds', seconds: state.Seconds }
          : typeof state.SecondsPath === 'string'
            ? { kind: 'SecondsPath', path: state.SecondsPath }
            : typeof state.TimestampPath === 'string'
              ? { kind: 'TimestampPath', path: state.TimestampPath }
              : { kind: 'Timestamp', timestamp: String(state.Timestamp) };
      dynamicWaits.set(name, wait);
      for (const key of ['Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath']) delete state[key];
      state.Type = 'Task';
      state.Resource = LOCAL_WAIT_RESOURCE;
      state.TimeoutSeconds = MAX_TIMER_SECONDS;
    }
  });

  return { runnable, states, tasks, dynamicWaits, ...(executionTimeoutSeconds === undefined ? {} : { executionTimeoutSeconds }) };
}

/** A ResultPath as the library handles it: `$` → absent (replace), `$['a']['b']` → `$.a.b`. */
function libraryResultPath(path: Json | undefined): Json | undefined {
  if (typeof path !== 'string') return path; // null: discard the result
  if (path === '$') return undefined;
  const keys: string[] = [];
  const re = /\.([^.[\]]+)|\[\s*'([^'.[\]]*)'\s*\]|\[\s*"([^".[\]]*)"\s*\]/y;
  let i = 1;
  while (path.startsWith('$') && i < path.length) {
    re.lastIndex = i;
    const m = re.exec(path);
    if (!m) return path; // leave anything else to the library
    keys.push(m[1] ?? m[2] ?? m[3]!);
    i = re.lastIndex;
  }
  return keys.length ? `$.${keys.join('.')}` : path;
}

/**
 * Evaluates a Reference Path (`$`, `.field`, `['field']`, `[0]`) the way Wait's `SecondsPath` and
 * `TimestampPath` need. Returns `undefined` when the path selects nothing; throws on other syntax.
 */
export function evaluateReferencePath(path: string, input: unknown): unknown {
  if (!path.startsWith('$')) throw new Error(`'${path}' is not a reference path`);
  const re = /\.([^.[\]]+)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]|\[\s*(\d+)\s*\]/y;
  let value: unknown = input;
  let i = 1;
  while (i < path.length) {
    re.lastIndex = i;
    const m = re.exec(path);
    if (!m) throw new Error(`unsupported reference path syntax in '${path}'`);
    i = re.lastIndex;
    const key = m[1] ?? m[2] ?? m[3];
    if (key !== undefined) {
      value = isObject(value) ? value[key] : undefined;
    } else {
      const index = Number(m[4]);
      value = Array.isArray(value) ? value[index] : undefined;
    }
    if (value === undefined) return undefined;
  }
  return value;
}

/**
 * Splits a Task resource into the `resourceType` / `resource` pair Step Functions puts in history:
 * `arn:aws:states:::lambda:invoke.waitForTaskToken` → `lambda` / `invoke.waitForTaskToken`,
 * `arn:aws:states:::aws-sdk:ecs:describeServices` → `aws-sdk:ecs` / `describeServices`.
 */
export function describeResource(resource: string): { resourceType: string; resource: string } {
  const m = /^arn:[^:]+:states:[^:]*:[^:]*:(.+)$/.exec(resource);
  if (m) {
    const parts = m[1]!.split(':');
    if (parts[0] === 'activity') return { resourceType: 'activity', resource };
    let op = parts.pop()!;
    // `states:startExecution.sync:2`: the `:2` belongs to the operation.
    if (/^\d+$/.test(op) && parts.length > 1) op = `${parts.pop()!}:${op}`;
    return { resourceType: parts.join(':') || 'states', resource: op };
  }
  const service = /^arn:[^:]+:([^:]+):/.exec(resource)?.[1];
  return { resourceType: service ?? 'unknown', resource };
}

/** A Task whose Resource is a Lambda function ARN (history uses `LambdaFunction*` events for it). */
export function isLambdaFunctionArn(resource: string): boolean {
  return /^arn:[^:]+:lambda:[^:]+:\d{12}:function:/.test(resource);
}
