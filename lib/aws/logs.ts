/**
 * CloudWatch Logs adapter: the last lines a container wrote, read from the stream its `awslogs` log
 * driver writes to.
 *
 * With the `awslogs` driver, ECS sends a container's stdout and stderr to log group `awslogs-group` in
 * region `awslogs-region`, stream `<awslogs-stream-prefix>/<container name>/<ECS task id>` (see
 * "Using the awslogs log driver" in the Amazon ECS Developer Guide; the prefix is required on Fargate;
 * without one, on EC2, the stream is named after the Docker container id, which cutover cannot know).
 * The tail is read with GetLogEvents (`startFromHead: false`: the newest events; each page lists its
 * events oldest first).
 *
 * Reading a tail is best effort: no awslogs configuration, no such group or stream
 * (ResourceNotFoundException), or no permission (AccessDeniedException) mean "no tail", not an error.
 */
import { AccessDeniedException, GetLogEventsCommand, ResourceNotFoundException } from '@aws-sdk/client-cloudwatch-logs';
import type { LogConfiguration } from '@aws-sdk/client-ecs';
import { logsClient } from './clients';
import { withRetryClassification } from './errors';

/** A CloudWatch Logs stream. */
export interface LogStreamRef {
  readonly logGroupName: string;
  readonly logStreamName: string;
  /** Region of the log group (`awslogs-region`). @default the logs client's default region */
  readonly region?: string;
}

/** A task's container, as far as its logs are concerned. */
export interface TaskLogSource {
  /** Task ARN (`arn:aws:ecs:<region>:<account>:task/<cluster>/<task id>`) or bare task id. */
  readonly taskArn: string;
  /** Container name, as in the task definition. */
  readonly containerName: string;
  /** The container's `logConfiguration` in the task's task definition revision; undefined when it has none. */
  readonly logConfiguration?: LogConfiguration;
}

/** The last lines of a stream. */
export interface LogTail {
  readonly logGroupName: string;
  readonly logStreamName: string;
  /** The kept lines, oldest first; each is one log event's message, cleaned (see {@link trimLogTail}). */
  readonly lines: string[];
  /** `lines` joined with the separator; at most `maxBytes` UTF-8 bytes. */
  readonly text: string;
  /** True when older lines were dropped, or the kept oldest line was shortened, to fit `maxBytes`. */
  readonly truncated: boolean;
}

export interface LogTailOptions {
  /** How many of the newest events to read (GetLogEvents `limit`, 1–10000). @default 20 */
  readonly maxLines?: number;
  /** Budget of `text`, in UTF-8 bytes (at least 16). @default 1024 */
  readonly maxBytes?: number;
  /** Between lines in `text`. @default '\n' */
  readonly separator?: string;
}

/**
 * Where `awslogs` writes a task container's output.
 * @returns undefined unless the driver is `awslogs` with both `awslogs-group` and `awslogs-stream-prefix`
 *   (without a prefix the stream is named after the Docker container id)
 */
export function awslogsStream(source: TaskLogSource): LogStreamRef | undefined {
  const config = source.logConfiguration;
  if (config?.logDriver !== 'awslogs') return undefined;
  const group = config.options?.['awslogs-group'];
  const prefix = config.options?.['awslogs-stream-prefix'];
  const taskId = source.taskArn.split('/').at(-1);
  if (!group || !prefix || !taskId) return undefined;
  const region = config.options?.['awslogs-region'];
  return { logGroupName: group, logStreamName: `${prefix}/${source.containerName}/${taskId}`, ...(region ? { region } : {}) };
}

/**
 * Read the tail of a task container's awslogs stream: GetLogEvents with `startFromHead: false` and
 * `limit: maxLines`, in the region of `awslogs-region`; then {@link trimLogTail}.
 * @returns undefined when the container has no awslogs configuration (see {@link awslogsStream}), the
 *   group or stream does not exist (ResourceNotFoundException), reading is not allowed
 *   (AccessDeniedException), or the stream has no event
 * @throws RangeError for `maxLines` outside 1–10000 or `maxBytes` < 16; TransientAwsError for throttling
 *   and 5xx (see ./errors); any other SDK error (e.g. InvalidParameterException) as it is
 */
export async function readTaskLogTail(source: TaskLogSource, opts: LogTailOptions = {}): Promise<LogTail | undefined> {
  const maxLines = opts.maxLines ?? 20;
  const maxBytes = opts.maxBytes ?? 1024;
  if (!Number.isInteger(maxLines) || maxLines < 1 || maxLines > 10_000) throw new RangeError(`maxLines must be an integer from 1 to 10000, got ${maxLines}`);
  if (!Number.isInteger(maxBytes) || maxBytes < 16) throw new RangeError(`maxBytes must be an integer >= 16, got ${maxBytes}`);
  const stream = awslogsStream(source);
  if (!stream) return undefined;
  let messages: string[];
  try {
    const out = await withRetryClassification(
      () =>
        logsClient(stream.region).send(
          new GetLogEventsCommand({ logGroupName: stream.logGroupName, logStreamName: stream.logStreamName, startFromHead: false, limit: maxLines }),
        ),
      `CloudWatch Logs GetLogEvents ${stream.logGroupName} ${stream.logStreamName}`,
    );
    messages = (out?.events ?? []).map((e) => e.message ?? '');
  } catch (err) {
    if (err instanceof ResourceNotFoundException || err instanceof AccessDeniedException) return undefined;
    throw err;
  }
  const { lines, truncated } = trimLogTail(messages, maxBytes, opts.separator ?? '\n');
  if (lines.length === 0) return undefined;
  return { logGroupName: stream.logGroupName, logStreamName: stream.logStreamName, lines, text: lines.join(opts.separator ?? '\n'), truncated };
}

// Escape sequences (colours, cursor moves) and other control characters, which a record should not carry.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

/**
 * Keep the newest lines that fit a byte budget.
 * Each message is cleaned first: ANSI escape sequences and control characters removed, tabs and line
 * breaks inside a message turned into spaces, surrounding whitespace trimmed; blank messages dropped.
 * Then lines are kept from the newest back while `lines.join(separator)` stays within `maxBytes` UTF-8
 * bytes; if not even the newest line fits, its start is kept (cut on a character boundary) with `…`.
 * @param messages log event messages, oldest first
 * @param maxBytes budget in UTF-8 bytes (>= 4)
 * @returns the kept lines, oldest first, and whether anything was dropped or cut
 */
export function trimLogTail(messages: readonly string[], maxBytes: number, separator = '\n'): { lines: string[]; truncated: boolean } {
  const cleaned = messages
    .map((m) => m.replace(ANSI, '').replace(/[\t\r\n]+/g, ' ').replace(CONTROL, '').trim())
    .filter((m) => m.length > 0);
  const kept: string[] = [];
  let used = 0;
  const sep = Buffer.byteLength(separator);
  for (let i = cleaned.length - 1; i >= 0; i--) {
    const line = cleaned[i]!;
    const cost = Buffer.byteLength(line) + (kept.length > 0 ? sep : 0);
    if (used + cost > maxBytes) {
      if (kept.length === 0) kept.push(cutToBytes(line, maxBytes));
      return { lines: kept.reverse(), truncated: true };
    }
    kept.push(line);
    used += cost;
  }
  return { lines: kept.reverse(), truncated: false };
}

/** The start of `text` that fits `maxBytes` UTF-8 bytes including a trailing `…` (3 bytes). */
function cutToBytes(text: string, maxBytes: number): string {
  let out = '';
  let used = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch);
    if (used + size > maxBytes - 3) break;
    out += ch;
    used += size;
  }
  return `${out}…`;
}
