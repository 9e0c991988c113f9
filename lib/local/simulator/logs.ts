/**
 * Simulated Amazon CloudWatch Logs (`logs`): GetLogEvents over the streams the `awslogs` log driver
 * would write for the twin's ECS tasks, plus streams a scenario seeds.
 *
 * Task streams. With `awslogs`, ECS writes a container's stdout/stderr to log group `awslogs-group`,
 * stream `<awslogs-stream-prefix>/<container name>/<ECS task id>` ("Using the awslogs log driver", Amazon
 * ECS Developer Guide). The living twin's ECS (lib/local/live/ecs.ts) appends each task's output to
 * `<logDir>/<cluster>/<task id>.log`; a stream `<prefix>/<container>/<task id>` of group `<group>` exists
 * here when that file exists, ECS knows the task (DescribeTasks), the task has that container, and the
 * container's definition in the task's revision (DescribeTaskDefinition) has `logDriver: 'awslogs'` with
 * `awslogs-group` = `<group>` and `awslogs-stream-prefix` = `<prefix>`. Each non-blank line of the file is
 * one event (CloudWatch Logs has no empty events; lines over 256 KB are split, as the driver does).
 * The twin records no time per line: every event's `timestamp` is the task's `startedAt` (else
 * `createdAt`), its `ingestionTime` the task's `stoppedAt` (else now), in simulated time. A group exists
 * when a seeded stream or the awslogs configuration of a task with a log file names it (the twin
 * creates groups implicitly, as with `awslogs-create-group: true`). The lazily computed ECS runs no
 * processes, so without a `logDir` there are no task streams: only seeded ones.
 *
 * The twin has one region: `awslogs-region` is not checked. A task with several containers has one log
 * file, so each of its containers' streams shows the output of all of them.
 *
 * Errors are the SDK's typed exceptions from `@aws-sdk/client-cloudwatch-logs`: ResourceNotFoundException,
 * InvalidParameterException (constraint violations, worded as AWS words them: `1 validation error
 * detected: Value 'a:b' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular
 * expression pattern: [^:*]*`), and `UnknownOperationException` for an operation not implemented here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GetLogEventsRequest, GetLogEventsResponse, OutputLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import type { ContainerDefinition, DescribeTaskDefinitionResponse, DescribeTasksResponse, Task } from '@aws-sdk/client-ecs';
import { awsError } from './errors';
import { SimulatedService } from './service';
import type { SimContext } from './util';

/**
 * The CloudWatch Logs SDK's typed exception `name` (e.g. `new ResourceNotFoundException(...)`), made by
 * the simulator's shared factory (`awsError` in ./errors).
 */
export function logsError(name: string, message: string): Error {
  return awsError('logs', name, message);
}

/** What the logs simulator needs from the ECS it serves task logs of: the SDK API, in process. */
export interface EcsApiInvoker {
  invoke(operation: string, input: unknown): Record<string, unknown>;
}

export interface LogsSimulatorOptions {
  /** The ECS whose tasks' awslogs streams are served (DescribeTasks, DescribeTaskDefinition). */
  readonly ecs: EcsApiInvoker;
  /**
   * The living twin's task log directory (`<logDir>/<cluster>/<task id>.log`, see lib/local/live/ecs.ts).
   * @default none: no task streams (the lazily computed ECS runs no processes)
   */
  readonly logDir?: string;
}

interface LogEvent {
  readonly timestamp: number;
  readonly message: string;
  readonly ingestionTime: number;
}

/** GetLogEvents answers at most this much (message bytes + 26 per event, as PutLogEvents counts) … */
const MAX_RESPONSE_BYTES = 1_048_576;
/** … and at most this many events. */
const MAX_EVENTS = 10_000;
/** Largest event message (256 KB minus the 26 bytes of per-event overhead); longer lines are split. */
const MAX_EVENT_BYTES = 262_144 - 26;
const GROUP_NAME = /^[.\-_/#A-Za-z0-9]+$/;
const GROUP_IDENTIFIER = /^[\w#+=/:,.@-]*$/;
const STREAM_NAME = /^[^:*]*$/;
const TOKEN = /^([fb])\/(\d{1,56})$/;

export class LogsSimulator extends SimulatedService {
  private readonly ecs: EcsApiInvoker;
  private readonly logDir?: string;
  /** Seeded streams: group → stream → events, oldest first. */
  private readonly seeded = new Map<string, Map<string, LogEvent[]>>();
  protected readonly operations: Readonly<Record<string, (input: never) => object>> = {
    GetLogEvents: (i: GetLogEventsRequest) => this.getLogEvents(i),
  };

  constructor(ctx: SimContext, opts: LogsSimulatorOptions) {
    super('logs', ctx);
    this.ecs = opts.ecs;
    this.logDir = opts.logDir;
  }

  // ---------------------------------------------------------------- scenario hooks

  /**
   * Append events to a stream, creating its group and the stream as needed (what PutLogEvents after
   * CreateLogGroup / CreateLogStream would leave). Blank messages are skipped.
   * @param messages event messages, oldest first
   * @param timestampMs event time, epoch ms @default now (simulated)
   */
  seedLogEvents(logGroupName: string, logStreamName: string, messages: readonly string[], timestampMs = this.ctx.clock.nowMs()): void {
    const streams = this.seeded.get(logGroupName) ?? new Map<string, LogEvent[]>();
    this.seeded.set(logGroupName, streams);
    const events = streams.get(logStreamName) ?? [];
    streams.set(logStreamName, events);
    const ingestionTime = this.ctx.clock.nowMs();
    for (const message of messages.flatMap(splitMessage)) events.push({ timestamp: timestampMs, message, ingestionTime });
  }

  // ---------------------------------------------------------------- GetLogEvents

  /**
   * GetLogEvents: the events of one stream, oldest first within a page.
   * - exactly one of `logGroupName` (1–512 of `[.\-_/#A-Za-z0-9]`) and `logGroupIdentifier` (name, or
   *   `arn:…:logs:<region>:<account>:log-group:<name>` of this account and region, without the `:*`
   *   DescribeLogGroups shows: the pattern excludes `*`);
   *   `logStreamName` required (1–512, no `:` or `*`); `limit` 1–10000 (@default as many as fit 1 MB, up
   *   to 10,000); `startTime` / `endTime` epoch ms >= 0 (events with `startTime <= timestamp < endTime`);
   *   violations → InvalidParameterException naming each field;
   * - unknown group → ResourceNotFoundException "The specified log group does not exist."; unknown
   *   stream → "The specified log stream does not exist.";
   * - without `nextToken`: `startFromHead: true` gives the oldest events, else (@default) the newest;
   *   `nextToken` is a `nextForwardToken` (`f/…`: the events after it) or `nextBackwardToken` (`b/…`: the
   *   events before it) of an earlier answer (another token → InvalidParameterException). Both tokens
   *   are always returned; at either end of the stream the token in that direction is the one given.
   */
  getLogEvents(input: GetLogEventsRequest): GetLogEventsResponse {
    const group = this.groupOf(input);
    const all = this.events(group, input.logStreamName!).filter(
      (e) => (input.startTime === undefined || e.timestamp >= input.startTime) && (input.endTime === undefined || e.timestamp < input.endTime),
    );
    const limit = input.limit ?? MAX_EVENTS;
    let token: { direction: 'f' | 'b'; index: number } | undefined;
    if (input.nextToken !== undefined) {
      const match = TOKEN.exec(input.nextToken);
      if (!match) throw logsError('InvalidParameterException', 'The specified nextToken is invalid.');
      token = { direction: match[1] as 'f' | 'b', index: Math.min(Number(match[2]), all.length) };
    }
    const forward = token ? token.direction === 'f' : input.startFromHead === true;
    let start: number;
    let end: number;
    if (forward) {
      start = token?.index ?? 0;
      end = start;
      let bytes = 0;
      while (end < all.length && end - start < limit && bytes + eventBytes(all[end]!) <= MAX_RESPONSE_BYTES) bytes += eventBytes(all[end++]!);
    } else {
      end = token?.index ?? all.length;
      start = end;
      let bytes = 0;
      while (start > 0 && end - start < limit && bytes + eventBytes(all[start - 1]!) <= MAX_RESPONSE_BYTES) bytes += eventBytes(all[--start]!);
    }
    return {
      events: all.slice(start, end).map((e): OutputLogEvent => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
      nextForwardToken: `f/${String(end).padStart(56, '0')}`,
      nextBackwardToken: `b/${String(start).padStart(56, '0')}`,
    };
  }

  /** Validate the request (every violation, as AWS lists them) and return the log group name. */
  private groupOf(input: GetLogEventsRequest): string {
    const violations: string[] = [];
    const str = (field: keyof GetLogEventsRequest, min: number, max: number, pattern?: RegExp) => {
      const value = input[field];
      if (value === undefined || value === null) return;
      if (typeof value !== 'string') return violations.push(`Value '${String(value)}' at '${field}' failed to satisfy constraint: Member must be a string`);
      if (value.length < min) violations.push(`Value '${value}' at '${field}' failed to satisfy constraint: Member must have length greater than or equal to ${min}`);
      if (value.length > max) violations.push(`Value '${value}' at '${field}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);
      if (pattern && !pattern.test(value)) {
        violations.push(`Value '${value}' at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${pattern.source.slice(1, -1)}`);
      }
    };
    const int = (field: 'limit' | 'startTime' | 'endTime', min: number, max?: number) => {
      const value = input[field] as unknown;
      if (value === undefined || value === null) return;
      if (typeof value !== 'number' || !Number.isInteger(value)) return violations.push(`Value '${String(value)}' at '${field}' failed to satisfy constraint: Member must be an integer`);
      if (value < min) violations.push(`Value '${value}' at '${field}' failed to satisfy constraint: Member must have value greater than or equal to ${min}`);
      if (max !== undefined && value > max) violations.push(`Value '${value}' at '${field}' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
    };
    if (input.logStreamName === undefined || input.logStreamName === null) {
      violations.push(`Value null at 'logStreamName' failed to satisfy constraint: Member must not be null`);
    }
    str('logGroupName', 1, 512, GROUP_NAME);
    str('logGroupIdentifier', 1, 2048, GROUP_IDENTIFIER);
    str('logStreamName', 1, 512, STREAM_NAME);
    str('nextToken', 1, 4096);
    int('limit', 1, MAX_EVENTS);
    int('startTime', 0);
    int('endTime', 0);
    if (input.startFromHead !== undefined && input.startFromHead !== null && typeof input.startFromHead !== 'boolean') {
      violations.push(`Value '${String(input.startFromHead)}' at 'startFromHead' failed to satisfy constraint: Member must be a boolean`);
    }
    if (violations.length > 0) {
      const count = violations.length === 1 ? '1 validation error detected' : `${violations.length} validation errors detected`;
      throw logsError('InvalidParameterException', `${count}: ${violations.join('; ')}`);
    }
    const { logGroupName: name, logGroupIdentifier: identifier } = input;
    if (name !== undefined && identifier !== undefined) {
      throw logsError('InvalidParameterException', 'logGroupName and logGroupIdentifier are mutually exclusive: give one of them.');
    }
    if (name === undefined && identifier === undefined) {
      throw logsError('InvalidParameterException', 'Either logGroupName or logGroupIdentifier must be given.');
    }
    if (name !== undefined) return name;
    if (!identifier!.startsWith('arn:')) return identifier!;
    const arn = /^arn:[^:]+:logs:([^:]*):(\d{12}):log-group:([^:]+)$/.exec(identifier!);
    if (!arn) throw logsError('InvalidParameterException', `Invalid log group ARN: ${identifier}; use arn:aws:logs:<region>:<account>:log-group:<name>.`);
    if (arn[1] !== this.ctx.region || arn[2] !== this.ctx.accountId) throw logsError('ResourceNotFoundException', 'The specified log group does not exist.');
    return arn[3]!;
  }

  /** The events of a stream, oldest first. @throws ResourceNotFoundException for an unknown group or stream */
  private events(group: string, stream: string): LogEvent[] {
    const seeded = this.seeded.get(group)?.get(stream);
    if (seeded) return seeded;
    const fromTask = this.taskStream(group, stream);
    if (fromTask) return fromTask;
    if (!this.seeded.has(group) && !this.taskGroups().has(group)) throw logsError('ResourceNotFoundException', 'The specified log group does not exist.');
    throw logsError('ResourceNotFoundException', 'The specified log stream does not exist.');
  }

  /** A task's awslogs stream `<prefix>/<container>/<task id>` of `group`, read from its log file; undefined if there is none. */
  private taskStream(group: string, stream: string): LogEvent[] | undefined {
    if (!this.logDir) return undefined;
    const parts = stream.split('/');
    if (parts.length < 3) return undefined;
    const taskId = parts.at(-1)!;
    const container = parts.at(-2)!;
    const prefix = parts.slice(0, -2).join('/');
    if (!/^[A-Za-z0-9_-]+$/.test(taskId)) return undefined;
    for (const cluster of this.clusterDirs()) {
      const file = join(this.logDir, cluster, `${taskId}.log`);
      if (!existsSync(file)) continue;
      const task = this.describeTasks(cluster, [taskId])[0];
      if (!task?.taskDefinitionArn || !task.containers?.some((c) => c.name === container)) continue;
      const options = this.awslogsOptions(task.taskDefinitionArn, new Map()).get(container);
      if (options?.group !== group || options.prefix !== prefix) continue;
      return this.readEvents(file, task);
    }
    return undefined;
  }

  /** Log groups named by the awslogs configuration of any task that has a log file. */
  private taskGroups(): Set<string> {
    const groups = new Set<string>();
    if (!this.logDir) return groups;
    const definitions = new Map<string, Map<string, { group?: string; prefix?: string }>>();
    for (const cluster of this.clusterDirs()) {
      let ids: string[];
      try {
        ids = readdirSync(join(this.logDir, cluster)).filter((f) => f.endsWith('.log')).map((f) => f.slice(0, -'.log'.length));
      } catch {
        continue;
      }
      for (let i = 0; i < ids.length; i += 100) {
        for (const task of this.describeTasks(cluster, ids.slice(i, i + 100))) {
          if (!task.taskDefinitionArn) continue;
          for (const o of this.awslogsOptions(task.taskDefinitionArn, definitions).values()) if (o.group) groups.add(o.group);
        }
      }
    }
    return groups;
  }

  /** Sub-directories of the log directory (one per cluster). */
  private clusterDirs(): string[] {
    try {
      return readdirSync(this.logDir!, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return [];
    }
  }

  /** DescribeTasks on the ECS; an unknown cluster or task gives nothing. */
  private describeTasks(cluster: string, tasks: string[]): Task[] {
    try {
      return (this.ecs.invoke('DescribeTasks', { cluster, tasks }) as DescribeTasksResponse).tasks ?? [];
    } catch {
      return [];
    }
  }

  /** Container name → its awslogs group and prefix, for the containers of a revision that use awslogs. */
  private awslogsOptions(
    taskDefinitionArn: string,
    cache: Map<string, Map<string, { group?: string; prefix?: string }>>,
  ): Map<string, { group?: string; prefix?: string }> {
    let byContainer = cache.get(taskDefinitionArn);
    if (byContainer) return byContainer;
    byContainer = new Map();
    cache.set(taskDefinitionArn, byContainer);
    let containers: ContainerDefinition[] = [];
    try {
      containers = (this.ecs.invoke('DescribeTaskDefinition', { taskDefinition: taskDefinitionArn }) as DescribeTaskDefinitionResponse).taskDefinition?.containerDefinitions ?? [];
    } catch {
      return byContainer;
    }
    for (const c of containers) {
      const config = c.logConfiguration;
      if (c.name && config?.logDriver === 'awslogs') {
        byContainer.set(c.name, { group: config.options?.['awslogs-group'], prefix: config.options?.['awslogs-stream-prefix'] });
      }
    }
    return byContainer;
  }

  /** A task's log file as events: one per non-blank line (split when over 256 KB). */
  private readEvents(file: string, task: Task): LogEvent[] {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return [];
    }
    const timestamp = toMs(task.startedAt ?? task.createdAt) ?? this.ctx.clock.nowMs();
    const ingestionTime = toMs(task.stoppedAt) ?? this.ctx.clock.nowMs();
    return text
      .split(/\r?\n/)
      .flatMap(splitMessage)
      .map((message) => ({ timestamp, message, ingestionTime }));
  }
}

/** A line as events: none when blank, several when over {@link MAX_EVENT_BYTES}. */
function splitMessage(line: string): string[] {
  if (line.trim() === '') return [];
  if (Buffer.byteLength(line) <= MAX_EVENT_BYTES) return [line];
  const parts: string[] = [];
  let current = '';
  let bytes = 0;
  for (const ch of line) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > MAX_EVENT_BYTES) {
      parts.push(current);
      current = '';
      bytes = 0;
    }
    current += ch;
    bytes += size;
  }
  if (current) parts.push(current);
  return parts;
}

/** Size of an event as CloudWatch Logs counts it: UTF-8 bytes of the message plus 26. */
function eventBytes(e: LogEvent): number {
  return Buffer.byteLength(e.message) + 26;
}

function toMs(d: Date | string | number | undefined): number | undefined {
  if (d === undefined) return undefined;
  const ms = new Date(d).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}
