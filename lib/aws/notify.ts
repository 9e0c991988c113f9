/**
 * Deployment notifications over Amazon SNS.
 *
 * {@link notify} publishes one message to the topic named by the `NOTIFICATION_TOPIC_ARN` environment
 * variable with SNS Publish (`PublishCommand` of `@aws-sdk/client-sns`; Amazon SNS API Reference,
 * "Publish"):
 * - `Subject`: {@link Notification.subject} made safe for SNS — one line of printable ASCII, at most
 *   {@link MAX_SUBJECT_CHARS} characters, cut with `...` (see {@link notificationSubject}). SNS requires a
 *   subject of fewer than 100 characters without line breaks or control characters (older revisions of
 *   the API reference also required ASCII); email subscribers see it as the mail's subject.
 * - `Message`: the body for humans, then the actions under `To act:`, one per line (see
 *   {@link notificationMessage}); at most {@link MAX_MESSAGE_BYTES} bytes (256 KiB, the default
 *   `MaximumMessageSize` of a topic) together with the attributes — a longer body is cut.
 * - `MessageAttributes` (all `DataType: 'String'`): `kind`, `service`, `environment` and, when known,
 *   `deploymentId`, so subscribers can filter with a subscription filter policy, e.g.
 *   `{"environment": ["production"], "kind": ["failed", "rolled-back", "awaiting-approval"]}`.
 *   Empty values are left out (SNS rejects an attribute without a value).
 *
 * A notification is a side effect: it never fails a deployment step. {@link notify} never throws or
 * rejects; a failure (no permission, unknown topic, KMS key, throttling after the SDK's retries, ...) is
 * logged as a warning and reported as `'failed'`.
 */
import {
  AuthorizationErrorException,
  InvalidParameterException,
  InvalidParameterValueException,
  KMSAccessDeniedException,
  KMSDisabledException,
  KMSInvalidStateException,
  KMSNotFoundException,
  NotFoundException,
  PublishCommand,
  type MessageAttributeValue,
  type PublishCommandInput,
} from '@aws-sdk/client-sns';
import { logger } from '../observability';
import { snsClient } from './clients';

/** The environment variable holding the notification topic's ARN (`arn:aws:sns:<region>:<account>:<name>`). */
export const NOTIFICATION_TOPIC_ENV = 'NOTIFICATION_TOPIC_ARN';
/** Longest `Subject` notify sends (SNS: fewer than 100 characters … taken as at most 100, as SNS accepts). */
export const MAX_SUBJECT_CHARS = 100;
/** Largest message SNS accepts on a topic with the default `MaximumMessageSize`: body plus attributes, in bytes. */
export const MAX_MESSAGE_BYTES = 262_144;

export type NotificationKind =
  | 'started'
  | 'queued'
  | 'superseded'
  | 'awaiting-approval'
  | 'awaiting-decision'
  | 'waiting-window'
  | 'refused'
  | 'promotion-offered'
  | 'succeeded'
  | 'rolled-back'
  | 'failed'
  | 'rollback-started'
  | 'rollback-finished'
  | 'alarm';

export interface Notification {
  kind: NotificationKind;
  /** The service deployed (config `services[].name`), e.g. `hello-world`. */
  service: string;
  /** The environment, e.g. `production`. */
  environment: string;
  /** The deployment's id, when there is one (an alarm outside a deployment has none). */
  deploymentId?: string;
  /**
   * One line; SNS Subject (≤ 100 chars, cut with an ellipsis and no newlines). Sent as printable ASCII:
   * line breaks and control characters become spaces, accents are dropped, `…` becomes `...`, other
   * non-ASCII characters `?` (see {@link notificationSubject}).
   */
  subject: string;
  /** The body for humans (several lines allowed). */
  message: string;
  /** How to act, one line each (e.g. `cutover approve hello-world production`), appended under "To act:". */
  actions?: string[];
}

/** What became of a notification: sent, not configured (no topic), or SNS refused / was unreachable. */
export type NotifyOutcome = 'published' | 'skipped' | 'failed';

/**
 * Publish `n` to the topic in `NOTIFICATION_TOPIC_ARN` (SNS Publish).
 * @returns `'published'` when SNS accepted it; `'skipped'` (debug log) when the variable is unset or
 *   blank; `'failed'` (warning log with the SDK error's name and message) for any error
 * @throws never — a notification must not fail a deployment step
 */
export async function notify(n: Notification): Promise<NotifyOutcome> {
  const topicArn = process.env[NOTIFICATION_TOPIC_ENV]?.trim();
  const context = { kind: n?.kind, service: n?.service, environment: n?.environment, deploymentId: n?.deploymentId };
  if (!topicArn) {
    safeLog('debug', `Notification not sent: ${NOTIFICATION_TOPIC_ENV} is not set`, { notification: context });
    return 'skipped';
  }
  let messageId: string | undefined;
  try {
    const out = await snsClient().send(new PublishCommand(notificationPublishInput(n, topicArn)));
    messageId = out?.MessageId;
  } catch (err) {
    safeLog('warn', 'Notification not sent: SNS Publish failed', {
      notification: context,
      topicArn,
      reason: failureReason(err),
      error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
    });
    return 'failed';
  }
  safeLog('info', 'Notification published', { notification: context, topicArn, messageId });
  return 'published';
}

/**
 * The SNS Publish input for `n` (pure; what {@link notify} sends).
 * @param topicArn the topic's ARN
 */
export function notificationPublishInput(n: Notification, topicArn: string): PublishCommandInput {
  const attributes = notificationAttributes(n);
  const subject = notificationSubject(n.subject, `cutover ${n.kind}: ${n.service} ${n.environment}`);
  return {
    TopicArn: topicArn,
    Subject: subject,
    Message: notificationMessage(n, MAX_MESSAGE_BYTES - attributesBytes(attributes), subject),
    MessageAttributes: attributes,
  };
}

/**
 * A subject SNS accepts: one line of printable ASCII (U+0020–U+007E), trimmed, at most
 * {@link MAX_SUBJECT_CHARS} characters, cut at the end with `...`.
 * Line breaks, tabs and other control characters become single spaces; accented letters lose their
 * accents (`é` → `e`); `…` → `...`, dashes → `-`, curly quotes → straight ones; any other non-ASCII
 * character → `?`.
 * @param fallback used when nothing printable is left of `subject`
 */
export function notificationSubject(subject: string, fallback = 'cutover notification'): string {
  const ascii = (text: string) =>
    String(text ?? '')
      .replace(/…/g, '...')
      .replace(/[\u2010-\u2015\u2212]/g, '-')
      .replace(/[\u2018\u2019\u201a\u201b]/g, "'")
      .replace(/[\u201c\u201d\u201e\u201f]/g, '"')
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
      .replace(/[^\x20-\x7e]/gu, '?')
      .replace(/ {2,}/g, ' ')
      .trim();
  const text = ascii(subject) || ascii(fallback) || 'cutover notification';
  return text.length <= MAX_SUBJECT_CHARS ? text : `${text.slice(0, MAX_SUBJECT_CHARS - 3).trimEnd()}...`;
}

/**
 * The message text: `n.message`, then, if there are actions, a blank line, `To act:` and one action per
 * line (indented by two spaces; line breaks inside an action become spaces). When the whole exceeds
 * `maxBytes` UTF-8 bytes, the body is cut (at a character boundary) and marked `… (message truncated)`;
 * the actions are kept. Never empty (SNS rejects an empty message): an empty body becomes `subject`.
 */
export function notificationMessage(n: Pick<Notification, 'message' | 'actions'>, maxBytes = MAX_MESSAGE_BYTES, subject = 'cutover notification'): string {
  const actions = (n.actions ?? []).map((a) => String(a).replace(/\s*[\r\n]+\s*/g, ' ').trim()).filter((a) => a !== '');
  const tail = actions.length > 0 ? `\n\nTo act:\n${actions.map((a) => `  ${a}`).join('\n')}` : '';
  const body = String(n.message ?? '').replace(/\s+$/, '') || subject;
  const whole = body + tail;
  if (Buffer.byteLength(whole, 'utf8') <= maxBytes) return whole;
  const marker = '\n… (message truncated)';
  const room = maxBytes - Buffer.byteLength(tail + marker, 'utf8');
  if (room <= 0) return truncateUtf8(whole, maxBytes);
  return truncateUtf8(body, room) + marker + tail;
}

/** `kind`, `service`, `environment`, `deploymentId` as String message attributes, without empty values. */
function notificationAttributes(n: Notification): Record<string, MessageAttributeValue> {
  const values: Record<string, string | undefined> = {
    kind: n.kind,
    service: n.service,
    environment: n.environment,
    deploymentId: n.deploymentId,
  };
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && String(value) !== '') out[name] = { DataType: 'String', StringValue: String(value) };
  }
  return out;
}

/** How SNS counts attributes against the message size: name, data type and value bytes. */
function attributesBytes(attributes: Record<string, MessageAttributeValue>): number {
  let bytes = 0;
  for (const [name, v] of Object.entries(attributes)) {
    bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(v.DataType ?? '', 'utf8') + Buffer.byteLength(v.StringValue ?? '', 'utf8');
  }
  return bytes;
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that does not split a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--; // do not start the cut inside a multi-byte sequence
  return buf.subarray(0, end).toString('utf8');
}

/** A short, operator-facing reason for the SDK's typed exceptions of SNS Publish. */
function failureReason(err: unknown): string {
  if (err instanceof NotFoundException) return `the topic does not exist (check ${NOTIFICATION_TOPIC_ENV})`;
  if (err instanceof AuthorizationErrorException) return 'not authorized to publish to the topic (sns:Publish)';
  if (
    err instanceof KMSAccessDeniedException ||
    err instanceof KMSDisabledException ||
    err instanceof KMSInvalidStateException ||
    err instanceof KMSNotFoundException
  ) {
    return "the topic's KMS key cannot be used (kms:GenerateDataKey / kms:Decrypt)";
  }
  if (err instanceof InvalidParameterException || err instanceof InvalidParameterValueException) return 'SNS rejected the message';
  return 'SNS could not be reached or failed';
}

/** Log without throwing (a broken log sink must not fail the step either). */
function safeLog(level: 'debug' | 'info' | 'warn', message: string, fields: Record<string, unknown>): void {
  try {
    logger[level](message, fields);
  } catch {
    // nothing left to do
  }
}
