/**
 * Step Functions callback answers (SendTaskSuccess / SendTaskFailure) for cutover's `.waitForTaskToken`
 * waits: bakes, approvals and database decisions. A token whose wait is already over is not an error
 * for cutover (an alarm that arrives as the bake ends, a second operator answering): it is reported as
 * `closed` (the SDK's `TaskTimedOut`, `TaskDoesNotExist` or `InvalidToken`).
 */
import { InvalidToken, SendTaskFailureCommand, SendTaskSuccessCommand, TaskDoesNotExist, TaskTimedOut } from '@aws-sdk/client-sfn';
import { sfnClient } from './clients';
import { withRetryClassification } from './errors';

/** `answered`: the waiting state got the answer; `closed`: that wait was already over (nothing changed). */
export type TokenAnswer = 'answered' | 'closed';

const isClosed = (err: unknown) => err instanceof TaskTimedOut || err instanceof TaskDoesNotExist || err instanceof InvalidToken;

/**
 * Fail a waiting task (SendTaskFailure). `error` is the name a Catch matches (e.g. `Cutover.AlarmFiring`);
 * `cause` is capped at 32768 characters (the API's limit).
 * @throws Cutover.Transient on throttling; other SDK errors as they are
 */
export async function failTask(taskToken: string, error: string, cause: string): Promise<TokenAnswer> {
  try {
    await withRetryClassification(() => sfnClient().send(new SendTaskFailureCommand({ taskToken, error: error.slice(0, 256), cause: cause.slice(0, 32_768) })));
    return 'answered';
  } catch (err) {
    if (isClosed(err)) return 'closed';
    throw err;
  }
}

/**
 * Succeed a waiting task (SendTaskSuccess) with `output` (JSON-serialisable, at most 256 KiB).
 * @throws Cutover.Transient on throttling; other SDK errors as they are
 */
export async function succeedTask(taskToken: string, output: unknown): Promise<TokenAnswer> {
  try {
    await withRetryClassification(() => sfnClient().send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })));
    return 'answered';
  } catch (err) {
    if (isClosed(err)) return 'closed';
    throw err;
  }
}
