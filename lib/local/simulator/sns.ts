/**
 * Simulated Amazon SNS (`sns`): topics and Publish, for cutover's deployment notifications
 * (lib/aws/notify.ts).
 *
 * There are no subscriptions: every accepted message is kept in {@link SnsSimulator.published} (in
 * order) and handed to the {@link SnsSimulator.onPublish} listeners — the twin's stand-in for the email,
 * chat or queue subscribers a user attaches to the topic on AWS.
 *
 * Operations and their rules (Amazon SNS API Reference: CreateTopic, ListTopics, Publish):
 * - CreateTopic: `Name` of 1–256 ASCII letters, digits, `_` and `-` (a FIFO topic's name ends with
 *   `.fifo` and it has the attribute `FifoTopic: 'true'`); idempotent by name — the existing topic's ARN
 *   comes back, unless the request's attributes or tags differ from the topic's
 *   (InvalidParameterException). ARN: `arn:aws:sns:<region>:<account>:<name>`.
 * - ListTopics: every topic's ARN, in creation order, 100 per page (`NextToken`).
 * - Publish to a topic (`TopicArn`, or a topic ARN as `TargetArn`): the topic must exist
 *   (NotFoundException); `Message` non-empty; `Subject`, when given, 1–100 characters with no line
 *   breaks or control characters; `MessageStructure: 'json'` needs a JSON object with a string
 *   `default`; message attributes need a name of 1–256 of `[A-Za-z0-9_.-]` (no `AWS.`/`Amazon.`
 *   prefix, no leading, trailing or doubled `.`), a `DataType` of `String`, `String.Array`, `Number` or
 *   `Binary` (optionally `.<custom>`) and a non-empty value (InvalidParameterValueException); the
 *   message plus its attributes fit the topic's `MaximumMessageSize` (@default 262,144 bytes). A FIFO
 *   topic needs `MessageGroupId` and `MessageDeduplicationId` (unless `ContentBasedDeduplication`);
 *   a repeated deduplication id within 5 simulated minutes is accepted but not delivered (not recorded).
 *   Returns a `MessageId` (a UUID), plus a `SequenceNumber` on FIFO topics. Publishing to phone numbers
 *   and platform endpoints is not simulated (InvalidParameterException).
 *
 * Errors are the SDK's typed exceptions from `@aws-sdk/client-sns` (`NotFoundException`,
 * `InvalidParameterException`, `InvalidParameterValueException`); injected faults (`ThrottledException`,
 * `AuthorizationErrorException`, ...) go through the simulator's `injectFault({ service: 'sns', ... })`.
 */
import { createHash, randomUUID } from 'node:crypto';
import type {
  CreateTopicInput,
  CreateTopicResponse,
  ListTopicsInput,
  ListTopicsResponse,
  MessageAttributeValue,
  PublishInput,
  PublishResponse,
} from '@aws-sdk/client-sns';
import { SimulatedService } from './service';
import { copy, paginate, type SimContext } from './util';

/** One message the simulated SNS accepted (and would have delivered to the topic's subscribers). */
export interface SnsPublishedMessage {
  /** The `MessageId` Publish returned. */
  readonly messageId: string;
  readonly topicArn: string;
  /** The `Subject`, when one was given. */
  readonly subject?: string;
  /** The `Message` as published (the raw JSON text when `MessageStructure` is `json`). */
  readonly message: string;
  /** Message attributes by name: the `StringValue`, or the `BinaryValue` in base64. */
  readonly attributes: Record<string, string>;
  /** Simulated time of the Publish. */
  readonly at: Date;
}

/** Called with a copy of every accepted message; may return a promise (a rejection is logged). */
export type SnsPublishListener = (message: SnsPublishedMessage) => void | Promise<void>;

interface SimTopic {
  arn: string;
  name: string;
  attributes: Record<string, string>;
  tags: Record<string, string>;
  fifo: boolean;
  /** FIFO deduplication: id → simulated time (epoch ms) it was first seen. */
  dedup: Map<string, number>;
}

const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}$/;
const FIFO_TOPIC_NAME = /^[A-Za-z0-9_-]{1,251}\.fifo$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const DATA_TYPE = /^(String|Number|Binary)(\..+)?$|^String\.Array$/;
/** MessageGroupId / MessageDeduplicationId: up to 128 alphanumeric and punctuation characters. */
const FIFO_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;
/** Subject: no C0/C1 control characters (line breaks included). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const DEFAULT_MAX_MESSAGE_BYTES = 262_144;
const MAX_MAX_MESSAGE_BYTES = 1_048_576;
const MAX_SUBJECT_CHARS = 100;
const PAGE_SIZE = 100;
const DEDUP_WINDOW_MS = 5 * 60_000;

export class SnsSimulator extends SimulatedService {
  /** Every accepted message, oldest first. Tests may clear it (`published.length = 0`). */
  readonly published: SnsPublishedMessage[] = [];
  private readonly topics = new Map<string, SimTopic>();
  private readonly listeners = new Set<SnsPublishListener>();
  private sequence = 10_000_000_000_000_000_000n;

  protected readonly operations = {
    CreateTopic: (i: CreateTopicInput) => this.createTopic(i),
    ListTopics: (i: ListTopicsInput) => this.listTopics(i),
    Publish: (i: PublishInput) => this.publish(i),
  };

  constructor(ctx: SimContext) {
    super('sns', ctx);
  }

  // ---------------------------------------------------------------- scenario hooks

  /** Create a standard topic (or keep the existing one of that name). @returns its ARN */
  seedTopic(name: string): string {
    return this.topics.get(name)?.arn ?? this.createTopic({ Name: name }).TopicArn!;
  }

  /**
   * Call `listener` with every message accepted from now on (after it is added to {@link published}).
   * @returns a function that removes the listener
   */
  onPublish(listener: SnsPublishListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---------------------------------------------------------------- CreateTopic

  /**
   * CreateTopic: a standard topic, or a FIFO one (`FifoTopic: 'true'`, name ending in `.fifo`).
   * Idempotent by name: the same name with the same (or no) attributes and tags returns the same ARN.
   * Attributes checked: `FifoTopic`, `ContentBasedDeduplication` (FIFO only) `'true'|'false'`;
   * `MaximumMessageSize` 1024–1048576; others are kept as given.
   */
  createTopic(input: CreateTopicInput): CreateTopicResponse {
    this.errors.require(input, 'Name');
    const name = input.Name!;
    const attributes = { ...(input.Attributes ?? {}) };
    const tags = Object.fromEntries((input.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
    const fifo = this.booleanAttribute(attributes, 'FifoTopic');
    if (fifo ? !FIFO_TOPIC_NAME.test(name) : !TOPIC_NAME.test(name)) {
      this.errors.invalid(
        fifo
          ? 'Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.'
          : 'Invalid parameter: Topic Name',
      );
    }
    if (this.booleanAttribute(attributes, 'ContentBasedDeduplication') && !fifo) {
      this.errors.invalid('Invalid parameter: Attributes Reason: ContentBasedDeduplication can only be set for FIFO topics');
    }
    if (attributes.MaximumMessageSize !== undefined) {
      const size = Number(attributes.MaximumMessageSize);
      if (!/^\d+$/.test(attributes.MaximumMessageSize) || size < 1024 || size > MAX_MAX_MESSAGE_BYTES) {
        this.errors.invalid('Invalid parameter: Attributes Reason: MaximumMessageSize must be an integer from 1024 to 1048576');
      }
    }
    const existing = this.topics.get(name);
    if (existing) {
      if (Object.entries(attributes).some(([k, v]) => (existing.attributes[k] ?? defaultAttribute(k)) !== v)) {
        this.errors.invalid('Invalid parameter: Attributes Reason: Topic already exists with different attributes');
      }
      if (input.Tags !== undefined && !sameRecord(existing.tags, tags)) {
        this.errors.invalid('Invalid parameter: Tags Reason: Topic already exists with different tags');
      }
      return { TopicArn: existing.arn };
    }
    const topic: SimTopic = { arn: this.arn('sns', name), name, attributes, tags, fifo, dedup: new Map() };
    this.topics.set(name, topic);
    return { TopicArn: topic.arn };
  }

  // ---------------------------------------------------------------- ListTopics

  /** ListTopics: topic ARNs in creation order, 100 per page; an unknown `NextToken` → InvalidParameterException. */
  listTopics(input: ListTopicsInput): ListTopicsResponse {
    const { page, next } = paginate(
      [...this.topics.values()],
      { token: input.NextToken, defaultSize: PAGE_SIZE, min: 1, max: PAGE_SIZE, sizeField: 'NextToken' },
      this.errors,
      () => this.errors.invalid('Invalid parameter: NextToken'),
    );
    return { Topics: page.map((t) => ({ TopicArn: t.arn })), NextToken: next };
  }

  // ---------------------------------------------------------------- Publish

  /** Publish to a topic; see the module comment for every rule. */
  publish(input: PublishInput): PublishResponse {
    const topic = this.target(input);
    if (input.Message === undefined || input.Message === null || input.Message === '') this.errors.invalid('Invalid parameter: Empty message');
    const message = input.Message;
    if (input.Subject !== undefined && input.Subject !== null) this.checkSubject(input.Subject);
    if (input.MessageStructure !== undefined && input.MessageStructure !== null) this.checkStructure(input.MessageStructure, message);
    const attributes = this.checkAttributes(input.MessageAttributes ?? {});
    const limit = topic.attributes.MaximumMessageSize ? Number(topic.attributes.MaximumMessageSize) : DEFAULT_MAX_MESSAGE_BYTES;
    if (messageBytes(message, input.MessageAttributes ?? {}) > limit) this.errors.invalid('Invalid parameter: Message too long');

    let sequenceNumber: string | undefined;
    if (topic.fifo) {
      const dedupId = this.checkFifo(topic, input, message);
      const nowMs = this.nowMs();
      for (const [id, at] of topic.dedup) if (nowMs - at >= DEDUP_WINDOW_MS) topic.dedup.delete(id);
      this.sequence += 1n;
      sequenceNumber = String(this.sequence);
      // A duplicate within the deduplication interval is accepted but not delivered.
      if (topic.dedup.has(dedupId)) return { MessageId: randomUUID(), SequenceNumber: sequenceNumber };
      topic.dedup.set(dedupId, nowMs);
    } else if (input.MessageGroupId !== undefined) {
      this.checkFifoId('MessageGroupId', input.MessageGroupId);
    }

    const record: SnsPublishedMessage = {
      messageId: randomUUID(),
      topicArn: topic.arn,
      ...(input.Subject !== undefined && input.Subject !== null ? { subject: input.Subject } : {}),
      message,
      attributes,
      at: this.ctx.clock.now(),
    };
    this.published.push(record);
    this.emit(record);
    return sequenceNumber === undefined ? { MessageId: record.messageId } : { MessageId: record.messageId, SequenceNumber: sequenceNumber };
  }

  // ---------------------------------------------------------------- helpers

  private target(input: PublishInput): SimTopic {
    const given = [input.TopicArn, input.TargetArn, input.PhoneNumber].filter((v) => v !== undefined && v !== null && v !== '');
    if (given.length === 0) this.errors.invalid('Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter');
    if (given.length > 1) this.errors.invalid('Invalid parameter: TopicArn or TargetArn Reason: Only one of TopicArn, TargetArn or PhoneNumber may be given');
    if (input.PhoneNumber) this.errors.invalid('Invalid parameter: PhoneNumber Reason: the cutover simulator publishes to topics only');
    const arn = (input.TopicArn ?? input.TargetArn)!;
    if (!TOPIC_ARN.test(arn)) {
      this.errors.invalid(`Invalid parameter: ${input.TopicArn ? 'TopicArn' : 'TargetArn Reason: the cutover simulator publishes to topics only'}`);
    }
    const topic = [...this.topics.values()].find((t) => t.arn === arn);
    return topic ?? this.errors.fail('NotFoundException', 'Topic does not exist');
  }

  private checkSubject(subject: string): void {
    if (subject === '' || [...subject].length > MAX_SUBJECT_CHARS || CONTROL.test(subject)) {
      this.errors.invalid('Invalid parameter: Subject');
    }
  }

  private checkStructure(structure: string, message: string): void {
    if (structure !== 'json') this.errors.invalid('Invalid parameter: MessageStructure');
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      this.errors.invalid('Invalid parameter: Message Structure - JSON message body failed to parse');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || typeof (parsed as Record<string, unknown>).default !== 'string') {
      this.errors.invalid('Invalid parameter: Message Structure - No default entry in JSON message body');
    }
  }

  private checkAttributes(input: Record<string, MessageAttributeValue>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(input)) {
      const lower = name.toLowerCase();
      if (!ATTRIBUTE_NAME.test(name) || name.startsWith('.') || name.endsWith('.') || name.includes('..') || lower.startsWith('aws.') || lower.startsWith('amazon.')) {
        this.errors.fail('InvalidParameterValueException', `Invalid parameter: MessageAttributes Reason: '${name}' is not a valid message attribute name.`);
      }
      const dataType = value?.DataType ?? '';
      if (!DATA_TYPE.test(dataType)) {
        this.errors.fail(
          'InvalidParameterValueException',
          `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`,
        );
      }
      const binary = dataType.startsWith('Binary');
      const present = binary ? value.BinaryValue !== undefined && value.BinaryValue.length > 0 : typeof value.StringValue === 'string' && value.StringValue !== '';
      if (!present) {
        this.errors.fail(
          'InvalidParameterValueException',
          `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${dataType.split('.')[0]}'.`,
        );
      }
      if (dataType.startsWith('Number') && !Number.isFinite(Number(value.StringValue))) {
        this.errors.fail('InvalidParameterValueException', `The message attribute '${name}' with type 'Number' must contain a valid numeric value.`);
      }
      if (dataType === 'String.Array' && !isAttributeArray(value.StringValue!)) {
        this.errors.fail('InvalidParameterValueException', `The message attribute '${name}' with type 'String.Array' must contain a JSON array of strings, numbers, booleans or nulls.`);
      }
      out[name] = binary ? Buffer.from(value.BinaryValue!).toString('base64') : value.StringValue!;
    }
    return out;
  }

  /** The FIFO rules of Publish. @returns the deduplication id in effect */
  private checkFifo(topic: SimTopic, input: PublishInput, message: string): string {
    if (input.MessageGroupId === undefined || input.MessageGroupId === null || input.MessageGroupId === '') {
      this.errors.invalid('Invalid parameter: The MessageGroupId parameter is required for FIFO topics');
    }
    this.checkFifoId('MessageGroupId', input.MessageGroupId);
    if (input.MessageDeduplicationId !== undefined && input.MessageDeduplicationId !== null) {
      this.checkFifoId('MessageDeduplicationId', input.MessageDeduplicationId);
      return input.MessageDeduplicationId;
    }
    if (topic.attributes.ContentBasedDeduplication !== 'true') {
      this.errors.invalid('Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly');
    }
    return createHash('sha256').update(message).digest('hex');
  }

  private checkFifoId(field: string, value: string): void {
    if (!FIFO_ID.test(value)) this.errors.invalid(`Invalid parameter: ${field} Reason: up to 128 alphanumeric and punctuation characters`);
  }

  private booleanAttribute(attributes: Record<string, string>, name: string): boolean {
    const value = attributes[name];
    if (value === undefined) return false;
    if (value !== 'true' && value !== 'false') this.errors.invalid(`Invalid parameter: Attributes Reason: ${name} must be true or false`);
    return value === 'true';
  }

  private emit(record: SnsPublishedMessage): void {
    for (const listener of [...this.listeners]) {
      try {
        const result = listener(copy(record));
        if (result instanceof Promise) result.catch((err: unknown) => console.error('cutover simulator: SNS publish listener failed:', err));
      } catch (err) {
        console.error('cutover simulator: SNS publish listener failed:', err);
      }
    }
  }
}

/** What CreateTopic compares an attribute the topic was created without against. */
function defaultAttribute(name: string): string | undefined {
  if (name === 'FifoTopic' || name === 'ContentBasedDeduplication') return 'false';
  if (name === 'MaximumMessageSize') return String(DEFAULT_MAX_MESSAGE_BYTES);
  return undefined;
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/** The size SNS checks against MaximumMessageSize: the message and every attribute's name, type and value, in bytes. */
function messageBytes(message: string, attributes: Record<string, MessageAttributeValue>): number {
  let bytes = Buffer.byteLength(message, 'utf8');
  for (const [name, value] of Object.entries(attributes)) {
    bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value.DataType ?? '', 'utf8');
    bytes += value.BinaryValue !== undefined ? value.BinaryValue.length : Buffer.byteLength(value.StringValue ?? '', 'utf8');
  }
  return bytes;
}

function isAttributeArray(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) && parsed.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v));
  } catch {
    return false;
  }
}
