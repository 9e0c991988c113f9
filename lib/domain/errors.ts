/**
 * Typed errors whose `name` is the Step Functions error name a state machine matches in
 * `Retry` / `Catch` (`ErrorEquals`). When a Lambda task throws, Step Functions uses the error's
 * name as `Error` and a JSON `{"errorType","errorMessage"}` as `Cause`.
 */

/** Base class: `name` is stable API (state machines match on it). */
export abstract class CutoverError extends Error {
  abstract override readonly name: string;
}

/** Execution or handler input is malformed. The message names the field and the fix. */
export class InvalidInputError extends CutoverError {
  override readonly name = 'Cutover.InvalidInput';
}

/** Another deployment holds the lock for this service and environment. */
export class DeploymentInProgressError extends CutoverError {
  override readonly name = 'Cutover.DeploymentInProgress';
}

/** A throttled or transient AWS failure: safe to retry (state machines retry it with backoff). */
/** A rollback was asked for, but there is no release to go back to (names what is missing and what to do). */
export class NothingToRollBackError extends CutoverError {
  override readonly name = 'Cutover.NothingToRollBack';
}

/** A release is deployed to an environment with `promotion` but did not succeed in `from` (names the fix). */
export class NotPromotableError extends CutoverError {
  override readonly name = 'Cutover.NotPromotable';
}

/** An approval that did not come from one of the environment's approvers through the approval function. */
export class NotAnApproverError extends CutoverError {
  override readonly name = 'Cutover.NotAnApprover';
}

export class TransientAwsError extends CutoverError {
  override readonly name = 'Cutover.Transient';
}

/** The AWS resources are not in the state cutover needs (e.g. a listener does not forward to the slots). */
export class ResourceStateError extends CutoverError {
  override readonly name = 'Cutover.ResourceState';
}

/** Step Functions error names that every AWS-touching Lambda task retries with backoff. */
export const RETRYABLE_TASK_ERRORS = [
  'Cutover.Transient',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;
