/**
 * The Step Functions API over HTTP (AWS JSON 1.0 protocol), so `SFNClient`, the AWS CLI and the
 * console-like tools of the twin talk to {@link LocalStepFunctions} as they would to AWS:
 * `POST /` with `X-Amz-Target: AWSStepFunctions.<Operation>`, a JSON body with camelCase members,
 * timestamps as epoch seconds, and errors as `400 {"__type": "<ErrorName>", "message": "..."}`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { LocalStepFunctions } from './service';
import { isSfnServiceError } from './errors';

export interface StepFunctionsHttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const TARGET_PREFIX = 'AWSStepFunctions.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';

type Operation = (service: LocalStepFunctions, input: Record<string, unknown>) => unknown;

// Wire members are the SDK's member names; each method validates what it reads.
/* eslint-disable @typescript-eslint/no-explicit-any */
const operations: Record<string, Operation> = {
  CreateStateMachine: (s, i) => s.createStateMachine(i as any),
  DescribeStateMachine: (s, i) => s.describeStateMachine(i as any),
  ListStateMachines: (s, i) => s.listStateMachines(i as any),
  StartExecution: (s, i) => s.startExecution(i as any),
  DescribeExecution: (s, i) => s.describeExecution(i as any),
  ListExecutions: (s, i) => s.listExecutions(i as any),
  GetExecutionHistory: (s, i) => s.getExecutionHistory(i as any),
  StopExecution: (s, i) => s.stopExecution(i as any),
  SendTaskSuccess: (s, i) => s.sendTaskSuccess(i as any),
  SendTaskFailure: (s, i) => s.sendTaskFailure(i as any),
  SendTaskHeartbeat: (s, i) => s.sendTaskHeartbeat(i as any),
};
/* eslint-enable @typescript-eslint/no-explicit-any */

/** True when the request carries a Step Functions `X-Amz-Target`. */
export function isStepFunctionsRequest(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): boolean {
  const target = headerValue(headers, 'x-amz-target');
  return typeof target === 'string' && target.startsWith(TARGET_PREFIX);
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/** Dates become epoch seconds (fractional), undefined members disappear — as the AWS JSON protocol serializes. */
function toWire(value: unknown): unknown {
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toWire);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toWire(v);
    return out;
  }
  return value;
}

function respond(statusCode: number, payload: unknown, extra: Record<string, string> = {}): StepFunctionsHttpResponse {
  const body = JSON.stringify(payload);
  return {
    statusCode,
    headers: {
      'content-type': CONTENT_TYPE,
      'content-length': String(Buffer.byteLength(body)),
      'x-amzn-requestid': randomUUID(),
      ...extra,
    },
    body,
  };
}

function failure(statusCode: number, type: string, message: string): StepFunctionsHttpResponse {
  return stepFunctionsError(statusCode, type, message);
}

/**
 * An error response of the Step Functions API in the AWS JSON 1.0 shape: `statusCode`, header
 * `x-amzn-ErrorType: <type>`, body `{"__type": "<type>", "message": "...", ...extra}`. E.g. AWS's
 * common `ServiceUnavailable` (503, "the request has failed due to a temporary failure of the
 * server"), which the SDKs and the AWS CLI retry, or `InternalFailure` (500).
 * @param extra more members of the body (the SDK keeps them on the exception object)
 */
export function stepFunctionsError(statusCode: number, type: string, message: string, extra: Record<string, unknown> = {}): StepFunctionsHttpResponse {
  return respond(statusCode, { ...extra, __type: type, message }, { 'x-amzn-errortype': type });
}

/**
 * Handles one Step Functions API call. `target` is the `X-Amz-Target` header value
 * (e.g. `AWSStepFunctions.StartExecution`), `body` the raw request body.
 */
export async function handleStepFunctionsRequest(service: LocalStepFunctions, target: string, body: string): Promise<StepFunctionsHttpResponse> {
  const name = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
  const operation = name !== undefined && Object.hasOwn(operations, name) ? operations[name] : undefined;
  if (!operation) return failure(400, 'UnknownOperationException', `Unknown operation: '${target}'`);
  let input: unknown;
  try {
    input = body && body.trim() ? JSON.parse(body) : {};
  } catch {
    return failure(400, 'SerializationException', 'The request body is not valid JSON');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return failure(400, 'SerializationException', 'The request body must be a JSON object');
  }
  try {
    const output = await operation(service, input as Record<string, unknown>);
    return respond(200, toWire(output ?? {}));
  } catch (err) {
    if (isSfnServiceError(err)) return failure(400, err.name, err.message);
    return failure(500, 'InternalFailure', err instanceof Error ? err.message : String(err));
  }
}
