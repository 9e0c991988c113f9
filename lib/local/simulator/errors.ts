/**
 * The SDK's own typed exceptions, made in one place.
 *
 * {@link awsError} looks the exception class up by name in the service's SDK package
 * (`new ServiceNotFoundException(...)` from `@aws-sdk/client-ecs`). Error codes the service returns
 * but the SDK does not model as a class (ELBv2 `ValidationError`, RDS `InvalidParameterValue`, any
 * `ThrottlingException`) become the package's base exception (`ElasticLoadBalancingV2ServiceException`,
 * ...) with that `name` — exactly what the SDK's deserializer produces for an unmodeled error code.
 */
import * as ecs from '@aws-sdk/client-ecs';
import * as elbv2 from '@aws-sdk/client-elastic-load-balancing-v2';
import * as rds from '@aws-sdk/client-rds';
import * as cloudwatch from '@aws-sdk/client-cloudwatch';
import * as secretsmanager from '@aws-sdk/client-secrets-manager';
import * as logs from '@aws-sdk/client-cloudwatch-logs';
import * as sns from '@aws-sdk/client-sns';
import * as ecr from '@aws-sdk/client-ecr';

/** The services the simulator implements (a subset of `AwsService` in lib/aws/clients.ts). */
export type SimServiceName = 'ecs' | 'elbv2' | 'rds' | 'cloudwatch' | 'secretsmanager' | 'logs' | 'sns' | 'ecr';

type ExceptionCtor = new (opts: Record<string, unknown>) => Error;

const PACKAGES: Record<SimServiceName, { module: Record<string, unknown>; base: ExceptionCtor }> = {
  ecs: { module: ecs, base: ecs.ECSServiceException as unknown as ExceptionCtor },
  elbv2: { module: elbv2, base: elbv2.ElasticLoadBalancingV2ServiceException as unknown as ExceptionCtor },
  rds: { module: rds, base: rds.RDSServiceException as unknown as ExceptionCtor },
  cloudwatch: { module: cloudwatch, base: cloudwatch.CloudWatchServiceException as unknown as ExceptionCtor },
  secretsmanager: { module: secretsmanager, base: secretsmanager.SecretsManagerServiceException as unknown as ExceptionCtor },
  logs: { module: logs, base: logs.CloudWatchLogsServiceException as unknown as ExceptionCtor },
  sns: { module: sns, base: sns.SNSServiceException as unknown as ExceptionCtor },
  ecr: { module: ecr, base: ecr.ECRServiceException as unknown as ExceptionCtor },
};

/** Error codes the SDK's `isThrottlingError` treats as throttling (@smithy/core/retry). */
const THROTTLING_NAMES = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);

/** Error codes that are server faults (HTTP 5xx) rather than client faults. */
const SERVER_NAMES = new Set([
  'InternalErrorException',
  'InternalFailure',
  'InternalServerError',
  'InternalServerException',
  'InternalServiceError',
  'InternalServiceFault',
  'ServerException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
]);

/** Error codes of an IAM denial (HTTP 403). */
const ACCESS_DENIED_NAMES = new Set(['AccessDenied', 'AccessDeniedException', 'AuthorizationError', 'AuthorizationErrorException']);

/**
 * The error codes each service answers with for the faults the simulator can inject (see
 * `faultAction` in ./faults), as the service's API returns them (JSON protocols name them
 * `...Exception`; query protocols use the common error codes):
 * - `throttling`: classified as throttling by `isThrottlingError` (@smithy/core/retry);
 * - `serverError`: a 5xx server fault, classified by `isServerError` / `isTransientError`;
 * - `accessDenied`: IAM denied the action (HTTP 403, not retryable).
 */
export interface ServiceFaultCodes {
  readonly throttling: string;
  readonly serverError: string;
  readonly accessDenied: string;
  /** IAM action prefix of the service (`ecs`, `elasticloadbalancing`, ...), for AccessDenied messages. */
  readonly iamPrefix: string;
}

export const FAULT_CODES: Readonly<Record<SimServiceName, ServiceFaultCodes>> = {
  ecs: { throttling: 'ThrottlingException', serverError: 'ServerException', accessDenied: 'AccessDeniedException', iamPrefix: 'ecs' },
  elbv2: { throttling: 'Throttling', serverError: 'InternalFailure', accessDenied: 'AccessDenied', iamPrefix: 'elasticloadbalancing' },
  rds: { throttling: 'Throttling', serverError: 'InternalFailure', accessDenied: 'AccessDenied', iamPrefix: 'rds' },
  cloudwatch: { throttling: 'Throttling', serverError: 'InternalServiceFault', accessDenied: 'AccessDenied', iamPrefix: 'cloudwatch' },
  secretsmanager: { throttling: 'ThrottlingException', serverError: 'InternalServiceError', accessDenied: 'AccessDeniedException', iamPrefix: 'secretsmanager' },
  logs: { throttling: 'ThrottlingException', serverError: 'ServiceUnavailableException', accessDenied: 'AccessDeniedException', iamPrefix: 'logs' },
  sns: { throttling: 'ThrottledException', serverError: 'InternalErrorException', accessDenied: 'AuthorizationErrorException', iamPrefix: 'sns' },
  ecr: { throttling: 'ThrottlingException', serverError: 'ServerException', accessDenied: 'AccessDeniedException', iamPrefix: 'ecr' },
};

/** The validation error code each service returns for a bad or missing input field. */
export const VALIDATION_ERROR: Record<SimServiceName, string> = {
  ecs: 'InvalidParameterException',
  elbv2: 'ValidationError',
  rds: 'InvalidParameterValue',
  cloudwatch: 'InvalidParameterValueException',
  secretsmanager: 'InvalidParameterException',
  logs: 'InvalidParameterException',
  sns: 'InvalidParameterException',
  ecr: 'InvalidParameterException',
};

/** The missing-required-field error code each service returns. */
const MISSING_ERROR: Record<SimServiceName, string> = {
  ...VALIDATION_ERROR,
  cloudwatch: 'MissingRequiredParameterException',
};

/**
 * Make the SDK's typed exception for `service` named `name`.
 * - `$fault` is `'server'` for 5xx names (`ServiceUnavailable`, `ServerException`, ...), else `'client'`;
 * - `$metadata.httpStatusCode` is 400 (client), 403 for IAM denials (`AccessDenied`, `AccessDeniedException`,
 *   `AuthorizationErrorException`), 429 for `TooManyRequestsException`, 500/503 (server);
 * - throttling names also carry `$retryable: { throttling: true }`, so `isThrottlingError` from
 *   `@smithy/core/retry` classifies them as the SDK does.
 */
export function awsError(service: SimServiceName, name: string, message: string): Error {
  const pkg = PACKAGES[service];
  const candidate = pkg.module[name];
  const modeled =
    typeof candidate === 'function' && (candidate as { prototype: unknown }).prototype instanceof pkg.base
      ? (candidate as ExceptionCtor)
      : undefined;
  const server = SERVER_NAMES.has(name);
  const httpStatusCode =
    name === 'TooManyRequestsException' ? 429 : name.startsWith('ServiceUnavailable') ? 503 : server ? 500 : ACCESS_DENIED_NAMES.has(name) ? 403 : 400;
  const $metadata = { httpStatusCode };
  const err = modeled
    ? new modeled({ message, $metadata })
    : new pkg.base({ name, message, $fault: server ? 'server' : 'client', $metadata });
  const fields = err as Error & { $fault?: string; $retryable?: { throttling?: boolean }; Message?: string };
  if (server) fields.$fault = 'server';
  if (THROTTLING_NAMES.has(name)) fields.$retryable = { throttling: true };
  return err;
}

/**
 * Throwing helpers bound to one service, used by every simulated service so that errors, validation
 * and lookups look alike.
 */
export class ServiceErrors {
  constructor(readonly service: SimServiceName) {}

  /** Throw the service's typed exception `name` (see {@link awsError}). */
  fail(name: string, message: string): never {
    throw awsError(this.service, name, message);
  }

  /** Throw the service's validation exception (ECS `InvalidParameterException`, ELBv2 `ValidationError`, ...). */
  invalid(message: string): never {
    return this.fail(VALIDATION_ERROR[this.service], message);
  }

  /**
   * Check that each of `fields` is present in `input` (not undefined/null/empty string/empty array);
   * throws the service's missing-parameter error naming the first one absent, as AWS does.
   */
  require(input: object, ...fields: string[]): void {
    const record = input as Record<string, unknown>;
    for (const field of fields) {
      const value = record[field];
      if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) {
        this.fail(MISSING_ERROR[this.service], `The parameter ${field} must be provided and must not be blank.`);
      }
    }
  }

  /** Check that `value`, if given, is an integer in [min, max]; else the validation exception naming `field`. */
  integerInRange(field: string, value: unknown, min: number, max: number): void {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.invalid(`Invalid value ${String(value)} for ${field}: must be an integer from ${min} to ${max}.`);
    }
  }
}
