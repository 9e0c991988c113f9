/**
 * The Step Functions API's typed exceptions, built from the SDK's own classes so a caller in-process
 * and a caller over HTTP (`SFNClient`) see the same `instanceof`-able errors.
 */
import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidArn,
  InvalidDefinition,
  InvalidExecutionInput,
  InvalidName,
  InvalidOutput,
  InvalidToken,
  StateMachineAlreadyExists,
  StateMachineDoesNotExist,
  StateMachineTypeNotSupported,
  TaskDoesNotExist,
  TaskTimedOut,
  ValidationException,
  type SFNServiceException,
} from '@aws-sdk/client-sfn';

const classes = {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidArn,
  InvalidDefinition,
  InvalidExecutionInput,
  InvalidName,
  InvalidOutput,
  InvalidToken,
  StateMachineAlreadyExists,
  StateMachineDoesNotExist,
  StateMachineTypeNotSupported,
  TaskDoesNotExist,
  TaskTimedOut,
  ValidationException,
} as const;

export type SfnErrorName = keyof typeof classes;

/** A typed `@aws-sdk/client-sfn` exception (`$fault: 'client'`) with `message`. */
export function sfnError(name: SfnErrorName, message: string): SFNServiceException {
  const Cls = classes[name] as unknown as new (opts: { message: string; $metadata: object }) => SFNServiceException;
  return new Cls({ message, $metadata: {} });
}

/** True for the service's own typed exceptions (they carry `$fault`). */
export function isSfnServiceError(err: unknown): err is SFNServiceException {
  return err instanceof Error && typeof (err as { $fault?: unknown }).$fault === 'string';
}
