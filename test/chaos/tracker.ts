/**
 * Which Task state made an AWS call: every call the simulator receives is tagged with the step (state
 * machine, execution, state, how many times the state was entered, attempt) whose Lambda invocation
 * made it — through public APIs only:
 *  - the Step Functions service's history-event listener (`sfn.onHistoryEvent`) says which Task state
 *    of which execution is open and counts its entries;
 *  - each Lambda invocation of the twin (`twin.lambda.invoke`, wrapped on the instance) runs in an
 *    AsyncLocalStorage context bound to the open Task state of the same function when it starts, and
 *    every invocation of that state is one attempt (a Step Functions retry invokes again);
 *  - the simulator's `tagCalls` hook stores that context on each call (`SimCall.context`).
 * The wrapper waits one macrotask (`setImmediate`) before binding, so that the history events the
 * library dispatched before calling the handler (`TaskStateEntered`) have been recorded. Calls made
 * outside any invocation (a test's own SDK calls) or by functions no Task state calls (`alarm`,
 * `github-webhook`) carry no step.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { STATE_MACHINES, stateMachineName, type FunctionName, type StateMachineName } from '../../lib/catalog';
import type { Twin } from '../../lib/local/twin';
import type { TaskState } from './states';

/** One invocation of a Task state's Lambda function (one attempt). */
export interface StepRef {
  readonly machine: StateMachineName;
  readonly executionArn: string;
  readonly state: string;
  /** 1 for the first time the execution entered the state, 2 for the second (a polling loop), ... */
  readonly entry: number;
  /** 1 for the first invocation of this entry, 2 for the first retry, ... */
  readonly attempt: number;
  readonly fn: FunctionName;
  /** Calls made so far by this invocation (the tagger counts them). */
  calls: number;
}

/** What the simulator stores on each call (`SimCall.context`). */
export interface CallTag {
  readonly step: StepRef;
  /** 1-based position of the call within its invocation. */
  readonly index: number;
}

interface OpenState {
  readonly state: string;
  readonly entry: number;
  attempts: number;
  /** Order in which states were opened or retried, to prefer the newest when two would match. */
  seq: number;
}

interface ExecutionView {
  readonly machine: StateMachineName;
  readonly firstSeenSeq: number;
  open?: OpenState;
  readonly entries: Map<string, number>;
  closed: boolean;
}

/** `arn:aws:states:<region>:<account>:execution:cutover-deploy:<name>` → `deploy`. */
export function machineOfExecution(executionArn: string): StateMachineName | undefined {
  const smName = executionArn.split(':')[6];
  return STATE_MACHINES.find((m) => stateMachineName(m.name) === smName)?.name;
}

export class StepTracker {
  private readonly als = new AsyncLocalStorage<StepRef | undefined>();
  private readonly executions = new Map<string, ExecutionView>();
  private readonly taskFn = new Map<string, FunctionName | undefined>();
  private seq = 0;
  private readonly uninstallers: Array<() => void> = [];

  /**
   * @param tasks the Task states of every machine (see ./states): which function each state invokes
   */
  constructor(
    private readonly twin: Twin,
    tasks: readonly TaskState[],
  ) {
    for (const t of tasks) this.taskFn.set(`${t.machine}\n${t.state}`, t.fn);
  }

  /**
   * Start tracking: subscribe to history events, wrap the twin's Lambda invocations and tag simulator
   * calls. Returns the function that undoes all three.
   */
  install(): () => void {
    this.uninstallers.push(this.twin.sfn.onHistoryEvent((arn, event) => this.onEvent(arn, event.type ?? '', event.stateEnteredEventDetails?.name)));
    const lambda = this.twin.lambda;
    const original = lambda.invoke.bind(lambda);
    lambda.invoke = async (arnOrName: string, event: unknown) => {
      const fn = lambda.resolve(arnOrName);
      await new Promise<void>((resolve) => setImmediate(resolve));
      const step = fn ? this.bind(fn) : undefined;
      return this.als.run(step, () => original(arnOrName, event));
    };
    this.uninstallers.push(() => {
      delete (lambda as { invoke?: unknown }).invoke; // back to the prototype's method
    });
    this.twin.sim.tagCalls(() => {
      const step = this.als.getStore();
      if (!step) return undefined;
      step.calls += 1;
      return { step, index: step.calls } satisfies CallTag;
    });
    this.uninstallers.push(() => this.twin.sim.tagCalls(undefined));
    return () => {
      for (const undo of this.uninstallers.splice(0).reverse()) undo();
    };
  }

  /** The step of the invocation running now (in its async context), if any. */
  current(): StepRef | undefined {
    return this.als.getStore();
  }

  /** A sequence number: executions first seen after it were started after this moment. */
  mark(): number {
    return this.seq;
  }

  /** True when the execution's first history event came after `mark` (see {@link mark}). */
  startedAfter(executionArn: string, mark: number): boolean {
    const view = this.executions.get(executionArn);
    return view !== undefined && view.firstSeenSeq > mark;
  }

  /** Names of the Task states `executionArn` entered, with how many times. */
  entries(executionArn: string): ReadonlyMap<string, number> {
    return this.executions.get(executionArn)?.entries ?? new Map();
  }

  private onEvent(executionArn: string, type: string, enteredName: string | undefined): void {
    let view = this.executions.get(executionArn);
    if (!view) {
      const machine = machineOfExecution(executionArn);
      if (!machine) return;
      view = { machine, firstSeenSeq: ++this.seq, entries: new Map(), closed: false };
      this.executions.set(executionArn, view);
    }
    if (type.endsWith('StateEntered') && enteredName !== undefined) {
      if (type === 'TaskStateEntered') {
        const entry = (view.entries.get(enteredName) ?? 0) + 1;
        view.entries.set(enteredName, entry);
        view.open = { state: enteredName, entry, attempts: 0, seq: ++this.seq };
      } else {
        view.open = undefined;
      }
    } else if (type === 'TaskStateExited' || type === 'TaskStateAborted') {
      view.open = undefined;
    } else if (/^Execution(Succeeded|Failed|Aborted|TimedOut)$/.test(type)) {
      view.open = undefined;
      view.closed = true;
    }
  }

  /**
   * The open Task state whose function is `fn` (the newest, if several executions have one), as one
   * more attempt; undefined when none is open (an invocation from outside the state machines).
   */
  private bind(fn: FunctionName): StepRef | undefined {
    let best: { arn: string; view: ExecutionView; open: OpenState } | undefined;
    for (const [arn, view] of this.executions) {
      const open = view.open;
      if (!open || view.closed || this.taskFn.get(`${view.machine}\n${open.state}`) !== fn) continue;
      if (!best || open.seq > best.open.seq) best = { arn, view, open };
    }
    if (!best) return undefined;
    best.open.attempts += 1;
    best.open.seq = ++this.seq;
    return { machine: best.view.machine, executionArn: best.arn, state: best.open.state, entry: best.open.entry, attempt: best.open.attempts, fn, calls: 0 };
  }
}
