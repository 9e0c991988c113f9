/**
 * Step Functions adapter: start an execution by name, idempotently. Used by the GitHub webhook (named
 * by the delivery id), the alarm function (named by the event id) and the operator CLI (named by a
 * UUID it makes), so a retried or redelivered request starts nothing twice.
 *
 * Follows the StartExecution API (Standard workflows): an execution name is unique per state machine
 * for 90 days. The same name with the same input while it runs answers the running execution; with
 * another input, or once it closed, it fails with `ExecutionAlreadyExists`. Either way the execution
 * of that name exists: this adapter answers with it (`alreadyStarted: true`) after DescribeExecution.
 */
import { DescribeExecutionCommand, ExecutionAlreadyExists, StartExecutionCommand, type ExecutionStatus } from '@aws-sdk/client-sfn';
import { sfnClient } from './clients';
import { withRetryClassification } from './errors';
import { executionArnFor } from '../domain/github-push';

/** What {@link startExecutionByName} started (or found). */
export interface StartedExecution {
  readonly executionArn: string;
  /** The execution's name (the last part of its ARN). */
  readonly name: string;
  /** `true` when an execution of this name existed already (a retry or a redelivery). */
  readonly alreadyStarted: boolean;
  /** Status of the existing execution (`RUNNING`, `SUCCEEDED`, ...); absent for a new one. */
  readonly status?: ExecutionStatus;
}

const NAME = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * An execution name from any text: characters Step Functions does not allow in names (whitespace,
 * brackets, wildcards, punctuation, control characters) become `-`; at most 80 characters.
 * @throws Error for a text that leaves nothing
 */
export function executionName(text: string): string {
  const name = text.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80);
  if (!name) throw new Error('executionName: the text gives an empty execution name');
  return name;
}

/**
 * Start `stateMachineArn` as execution `name` with `input`, or answer the execution of that name that
 * exists already (StartExecution, then DescribeExecution on `ExecutionAlreadyExists`).
 * @param input JSON-serialisable execution input (at most 256 KiB serialised)
 * @throws Error for a `name` that is not 1-80 of `[A-Za-z0-9_-]` (use {@link executionName})
 * @throws Cutover.Transient on throttling / 5xx; other SDK errors (AccessDenied, StateMachineDoesNotExist,
 *   InvalidExecutionInput …) as they are
 */
export async function startExecutionByName(params: { stateMachineArn: string; name: string; input: unknown }): Promise<StartedExecution> {
  const { stateMachineArn, name } = params;
  if (!NAME.test(name)) throw new Error(`startExecutionByName: name "${name}" is not 1-80 characters of A-Z a-z 0-9 _ -`);
  const input = JSON.stringify(params.input);
  try {
    const out = await withRetryClassification(() => sfnClient().send(new StartExecutionCommand({ stateMachineArn, name, input })));
    return { executionArn: out.executionArn!, name, alreadyStarted: false };
  } catch (err) {
    if (!(err instanceof ExecutionAlreadyExists || (err as { name?: string } | null)?.name === 'ExecutionAlreadyExists')) throw err;
  }
  const executionArn = executionArnFor(stateMachineArn, name) ?? `${stateMachineArn}:${name}`;
  const described = await withRetryClassification(() => sfnClient().send(new DescribeExecutionCommand({ executionArn })));
  return { executionArn: described?.executionArn ?? executionArn, name, alreadyStarted: true, ...(described?.status ? { status: described.status } : {}) };
}
