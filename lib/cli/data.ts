/**
 * What the operator CLI reads: ledger items (through {@link Ledger}, validated with zod), the
 * environments the table knows, and executions (DescribeExecution, GetExecutionHistory) — plus the
 * pure interpretation of an execution history: the state it is in now and per-state timings.
 */
import { ScanCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { dynamoDocClient, sfnClient } from '../aws/clients';
import type { Ledger } from '../aws/ledger';
import { DeploymentRecordSchema, deploymentsPartition, LedgerItemError, parseLedgerItem } from '../domain/ledger-items';
import { CliError } from './errors';
import type { Audit, DeploymentRow, Environment, Lock } from './schemas';

/** Run a ledger read; an item that is not what cutover writes becomes a one-line CliError with the likely fix. */
async function validated<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof LedgerItemError) throw new CliError(`${err.message}: is --table the cutover ledger?`);
    throw err;
  }
}

/** A service and environment. */
export interface EnvRef {
  readonly service: string;
  readonly environment: string;
}

export const envName = (ref: EnvRef) => `${ref.service}/${ref.environment}`;

/** Key prefixes of the items that say an environment exists. */
const ENV_PREFIXES = ['ENV#', 'LOCK#', 'DEPLOYMENTS#'] as const;

/**
 * Every service and environment the table knows (has a state, a lock or a deployment record), sorted.
 * One Scan (paginated) filtered on the key prefixes, reading only `pk`.
 */
export async function listEnvironments(tableName: string): Promise<EnvRef[]> {
  const seen = new Map<string, EnvRef>();
  let start: Record<string, unknown> | undefined;
  do {
    const out = await dynamoDocClient().send(
      new ScanCommand({
        TableName: tableName,
        ProjectionExpression: 'pk',
        FilterExpression: ENV_PREFIXES.map((_, i) => `begins_with(pk, :p${i})`).join(' OR '),
        ExpressionAttributeValues: Object.fromEntries(ENV_PREFIXES.map((p, i) => [`:p${i}`, p])),
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) {
      const ref = parseEnvKey(String(item.pk ?? ''));
      if (ref) seen.set(envName(ref), ref);
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return [...seen.values()].sort((a, b) => envName(a).localeCompare(envName(b)));
}

/** `ENV#hello-world#production` → `{service, environment}` (the environment is after the last `#`). */
export function parseEnvKey(pk: string): EnvRef | undefined {
  const prefix = ENV_PREFIXES.find((p) => pk.startsWith(p));
  if (!prefix) return undefined;
  const rest = pk.slice(prefix.length);
  const cut = rest.lastIndexOf('#');
  if (cut <= 0 || cut === rest.length - 1) return undefined;
  return { service: rest.slice(0, cut), environment: rest.slice(cut + 1) };
}

/** Validated reads of the ledger's items. */
export class LedgerReader {
  constructor(
    readonly ledger: Ledger,
    readonly tableName: string,
  ) {}

  async lock(ref: EnvRef): Promise<Lock | undefined> {
    return validated(() => this.ledger.getLock(ref.service, ref.environment));
  }

  async environment(ref: EnvRef): Promise<Environment | undefined> {
    return validated(() => this.ledger.getEnvironment(ref.service, ref.environment));
  }

  /** Deployment and rollback records, newest first. */
  async history(ref: EnvRef, limit: number): Promise<DeploymentRow[]> {
    return validated(() => this.ledger.history(ref.service, ref.environment, limit));
  }

  /** Every record started at or after `startedSince` (ISO-8601), oldest first. */
  async historySince(ref: EnvRef, startedSince: string): Promise<DeploymentRow[]> {
    return validated(() => this.ledger.historySince(ref.service, ref.environment, startedSince));
  }

  /** Audit events, newest first. */
  async timeline(ref: EnvRef, opts: { limit?: number; deploymentId?: string }): Promise<Audit[]> {
    return validated(() => this.ledger.timeline(ref.service, ref.environment, opts));
  }

  /** The record of one deployment (or rollback) by id: a Query of the environment's records, newest first. */
  async deployment(ref: EnvRef, deploymentId: string): Promise<DeploymentRow | undefined> {
    let start: Record<string, unknown> | undefined;
    do {
      const out = await dynamoDocClient().send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          FilterExpression: 'deploymentId = :d',
          ExpressionAttributeValues: { ':pk': deploymentsPartition(ref.service, ref.environment), ':d': deploymentId },
          ScanIndexForward: false,
          ExclusiveStartKey: start,
        }),
      );
      const item = out.Items?.[0];
      if (item) return validated(async () => parseLedgerItem(DeploymentRecordSchema, item, `deployment record ${deploymentId}`));
      start = out.LastEvaluatedKey;
    } while (start);
    return undefined;
  }
}

/** DescribeExecution, or undefined when the execution does not exist (any more). */
export async function describeExecution(executionArn: string): Promise<DescribeExecutionCommandOutput | undefined> {
  try {
    return await sfnClient().send(new DescribeExecutionCommand({ executionArn }));
  } catch (err) {
    if (err instanceof ExecutionDoesNotExist) return undefined;
    throw err;
  }
}

/** The newest `n` history events, newest first (one GetExecutionHistory page). */
export async function recentEvents(executionArn: string, n = 50): Promise<HistoryEvent[]> {
  const out = await sfnClient().send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: n, includeExecutionData: false }));
  return out.events ?? [];
}

/** The whole history, oldest first (every page). */
export async function fullHistory(executionArn: string, includeExecutionData = false): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfnClient().send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000, includeExecutionData }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** Where an execution is, from its newest events. */
export interface CurrentState {
  /** The state entered last. */
  readonly state?: string;
  readonly enteredAt?: Date;
  /** The state was left and the next one is not entered yet. */
  readonly exited: boolean;
  /** The state is a `.waitForTaskToken` Task that is still waiting (a callback wait: bake, approval, decision). */
  readonly waitingForCallback: boolean;
}

/**
 * The state an execution is in, from its history events **newest first** (see {@link recentEvents}).
 * Pure.
 */
export function currentState(newestFirst: readonly HistoryEvent[]): CurrentState {
  let exited = false;
  let callback = false;
  let settled = false;
  for (const e of newestFirst) {
    const type = e.type ?? '';
    if (type.endsWith('StateExited')) {
      exited = true;
      continue;
    }
    if (/^(Task|LambdaFunction)(Succeeded|Failed|TimedOut)$/.test(type) && !callback) settled = true;
    if (type === 'TaskScheduled' && /waitForTaskToken/.test(e.taskScheduledEventDetails?.resource ?? '')) {
      // The newest attempt of this state: waiting unless it already settled.
      if (!settled) callback = true;
    }
    if (type.endsWith('StateEntered')) {
      return { state: e.stateEnteredEventDetails?.name, enteredAt: e.timestamp, exited, waitingForCallback: callback && !exited };
    }
  }
  return { exited, waitingForCallback: false };
}

/** One state of an execution, with its timing. */
export interface Step {
  readonly name: string;
  /** `Task`, `Choice`, `Wait`, … (from the event type). */
  readonly type: string;
  readonly enteredAt: Date;
  readonly exitedAt?: Date;
  /** Milliseconds from entering to exiting (undefined while the state runs). */
  readonly durationMs?: number;
  /** Failed attempts inside the state (errors that were retried or caught). */
  readonly errors: string[];
}

/** The states an execution went through, in order, with durations. Pure; `events` oldest first. */
export function stepTimings(events: readonly HistoryEvent[]): Step[] {
  const steps: Array<{ name: string; type: string; enteredAt: Date; exitedAt?: Date; errors: string[] }> = [];
  const open: number[] = [];
  for (const e of events) {
    const type = e.type ?? '';
    const at = e.timestamp instanceof Date ? e.timestamp : new Date(e.timestamp ?? 0);
    if (type.endsWith('StateEntered')) {
      steps.push({ name: e.stateEnteredEventDetails?.name ?? '?', type: type.replace(/StateEntered$/, ''), enteredAt: at, errors: [] });
      open.push(steps.length - 1);
    } else if (type.endsWith('StateExited')) {
      const name = e.stateExitedEventDetails?.name;
      for (let i = open.length - 1; i >= 0; i--) {
        const step = steps[open[i]!]!;
        if (step.name === name) {
          step.exitedAt = at;
          open.splice(i, 1);
          break;
        }
      }
    } else {
      const failure =
        e.taskFailedEventDetails ?? e.lambdaFunctionFailedEventDetails ?? e.taskTimedOutEventDetails ?? e.lambdaFunctionTimedOutEventDetails;
      if (failure && open.length > 0) {
        const error = (failure as { error?: string }).error ?? (/TimedOut$/.test(type) ? 'States.Timeout' : type);
        steps[open[open.length - 1]!]!.errors.push(error);
      }
    }
  }
  return steps.map((s) => ({ ...s, durationMs: s.exitedAt ? s.exitedAt.getTime() - s.enteredAt.getTime() : undefined }));
}

/** New `*StateEntered` events of a history page (newest first) after event id `afterId`, oldest first. */
export function statesEnteredSince(newestFirst: readonly HistoryEvent[], afterId: number): HistoryEvent[] {
  return newestFirst.filter((e) => (e.id ?? 0) > afterId && (e.type ?? '').endsWith('StateEntered')).reverse();
}
