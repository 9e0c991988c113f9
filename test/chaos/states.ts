/**
 * The Task states of cutover's state machines, read from the `.asl.json` files of the catalog (not a
 * hand-kept list): a new Task state is swept as soon as it exists.
 */
import { readFileSync } from 'node:fs';
import { FUNCTIONS, STATE_MACHINES, stateMachineFile, type FunctionName, type StateMachineName } from '../../lib/catalog';

export interface TaskState {
  /** The state machine's short name (`deploy`, `rollback`, `rollback-window`). */
  readonly machine: StateMachineName;
  /** The state's name (unique within the machine, including states nested in Parallel/Map). */
  readonly state: string;
  /** The `Resource`, placeholders kept (e.g. `${LedgerFunctionArn}`, `arn:${Partition}:states:::states:startExecution.sync:2`). */
  readonly resource: string;
  /**
   * The cutover Lambda function the state invokes (direct ARN, or `lambda:invoke*` with
   * `Parameters.FunctionName`); undefined for other integrations (e.g. Step Functions' own).
   */
  readonly fn?: FunctionName;
  /** `.waitForTaskToken`: the task waits for a callback after its handler returns. */
  readonly callback: boolean;
  /** The state's `Comment`, if any. */
  readonly comment?: string;
}

/** `${LedgerFunctionArn}` → `ledger`. */
function functionOf(ref: unknown): FunctionName | undefined {
  if (typeof ref !== 'string') return undefined;
  const placeholder = /^\$\{([A-Za-z0-9_]+)\}$/.exec(ref)?.[1];
  return FUNCTIONS.find((f) => 'placeholder' in f && f.placeholder === placeholder)?.name;
}

/**
 * Every Task state of `machine`'s definition file, in file order, including those inside Parallel
 * branches and Map iterators.
 * @throws Error when the file cannot be read or is not JSON
 */
export function taskStatesOf(machine: StateMachineName): TaskState[] {
  const spec = STATE_MACHINES.find((m) => m.name === machine);
  if (!spec) throw new Error(`No state machine ${machine} in the catalog`);
  const definition = JSON.parse(readFileSync(stateMachineFile(spec.file), 'utf8')) as { States: Record<string, Record<string, unknown>> };
  const out: TaskState[] = [];
  const walk = (states: Record<string, Record<string, unknown>>) => {
    for (const [state, def] of Object.entries(states)) {
      if (def.Type === 'Task') {
        const resource = String(def.Resource);
        const params = (def.Parameters ?? {}) as Record<string, unknown>;
        const fn = functionOf(resource) ?? (/:::lambda:invoke/.test(resource) ? functionOf(params.FunctionName) : undefined);
        out.push({
          machine,
          state,
          resource,
          ...(fn ? { fn } : {}),
          callback: resource.endsWith('.waitForTaskToken'),
          ...(typeof def.Comment === 'string' ? { comment: def.Comment } : {}),
        });
      }
      for (const branch of (def.Branches as Array<{ States: Record<string, Record<string, unknown>> }> | undefined) ?? []) walk(branch.States);
      const processor = (def.ItemProcessor ?? def.Iterator) as { States: Record<string, Record<string, unknown>> } | undefined;
      if (processor) walk(processor.States);
    }
  };
  walk(definition.States);
  return out;
}

/** The Task states of every state machine in the catalog, machine by machine. */
export function allTaskStates(): TaskState[] {
  return STATE_MACHINES.flatMap((m) => taskStatesOf(m.name));
}
