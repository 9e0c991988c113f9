/**
 * Verification of a release (issue 12 part 4), pure: what the plan carries, how one HTTP check's
 * answer is judged, when to try again, and the cause a failed check gives (`Cutover.VerifyFailed`).
 *
 * The HTTP checks run through the environment's **test** listener before any production traffic (the
 * new release is the only target there), and again through the **production** listener once it has
 * 100% (post-deployment verification, before the deployment is recorded as succeeded). Each round runs
 * every check once; a round with a failure is tried again after `intervalSeconds` (a Wait state) until
 * `attempts` rounds ran.
 */
import type { VerifyConfig } from '../config/schema';

/** One HTTP check, as configured (`verify.http[]`). */
export interface HttpCheck {
  /** Path and query, starting with `/`. */
  readonly path: string;
  /** HTTP status the release must answer. */
  readonly expectStatus: number;
  /** Text the body must contain (case-sensitive), if any. */
  readonly expectBodyContains?: string;
  /** Seconds one request may take. */
  readonly timeoutSeconds: number;
}

/** What a deployment plan carries of `verify` (null without it). */
export interface VerifyPlan {
  readonly http: HttpCheck[];
  /** Whether there are HTTP checks (read by the state machine's Choice states). */
  readonly hasHttp: boolean;
  /** Rounds of HTTP checks before a failure counts (1–10). */
  readonly attempts: number;
  /** Seconds between two rounds (the `WaitBeforeVerify*` states' SecondsPath). */
  readonly intervalSeconds: number;
  /** Run the HTTP checks through the production listener at 100%, before recording success. */
  readonly afterPromotion: boolean;
  /** The smoke-test command (exec form) run as a one-off task of the new release with CUTOVER_TEST_URL, or null. */
  readonly command: string[] | null;
  /** Whether there is a command (read by the state machine's Choice states). */
  readonly hasCommand: boolean;
  /** Seconds between checks of the command's task (`WaitForSmokeTest`): see {@link smokeCheckIntervalSeconds}. */
  readonly commandCheckIntervalSeconds: number;
  /** Checks of the command's task before it is stopped and counted as failed (commandTimeoutSeconds / interval). */
  readonly commandChecks: number;
}

/** Shortest wait between checks of the smoke-test task, seconds. */
export const SMOKE_CHECK_INTERVAL_SECONDS = 10;
/** At most this many checks of the smoke-test task (each ~9 history events; the execution's 25,000-event limit). */
export const SMOKE_MAX_CHECKS = 60;

/** Seconds between checks of a smoke-test task that may run `timeoutSeconds`: 10 s, longer past 600 s (3600 s → 60 s). */
export function smokeCheckIntervalSeconds(timeoutSeconds: number): number {
  return Math.max(SMOKE_CHECK_INTERVAL_SECONDS, Math.ceil(timeoutSeconds / SMOKE_MAX_CHECKS));
}

/** The plan's `verify` from the environment's config, or null without one. */
export function verifyPlan(verify: VerifyConfig | undefined): VerifyPlan | null {
  if (!verify) return null;
  return {
    http: verify.http.map((c) => ({ path: c.path, expectStatus: c.expectStatus, ...(c.expectBodyContains !== undefined ? { expectBodyContains: c.expectBodyContains } : {}), timeoutSeconds: c.timeoutSeconds })),
    hasHttp: verify.http.length > 0,
    attempts: verify.attempts,
    intervalSeconds: verify.intervalSeconds,
    afterPromotion: verify.afterPromotion && verify.http.length > 0,
    command: verify.command ?? null,
    hasCommand: verify.command !== undefined,
    commandCheckIntervalSeconds: smokeCheckIntervalSeconds(verify.commandTimeoutSeconds),
    commandChecks: Math.ceil(verify.commandTimeoutSeconds / smokeCheckIntervalSeconds(verify.commandTimeoutSeconds)),
  };
}

/** What one request got: a response (status, the body's first bytes) or an error (timeout, refused). */
export type HttpAnswer =
  | { readonly kind: 'response'; readonly status: number; readonly body: string; readonly ms: number }
  | { readonly kind: 'error'; readonly error: string; readonly ms: number };

/** The judgement of one check. */
export interface CheckResult {
  readonly path: string;
  readonly ok: boolean;
  /** One line: what was expected and what came. */
  readonly detail: string;
  readonly status?: number;
}

/** Bytes of the body a cause quotes. */
export const BODY_QUOTE_BYTES = 200;

/** The first `bytes` bytes of `text` as UTF-8, not cutting a character in two. */
export function firstBytes(text: string, bytes: number = BODY_QUOTE_BYTES): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= bytes) return text;
  let end = bytes;
  // Back up to a character boundary (a UTF-8 continuation byte is 10xxxxxx).
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return `${buf.subarray(0, end).toString('utf8')}…`;
}

/** Judge one check's answer. */
export function judgeHttpCheck(check: HttpCheck, answer: HttpAnswer): CheckResult {
  if (answer.kind === 'error') return { path: check.path, ok: false, detail: `GET ${check.path}: no answer (${answer.error})` };
  const quote = JSON.stringify(firstBytes(answer.body));
  if (answer.status !== check.expectStatus) {
    return { path: check.path, ok: false, status: answer.status, detail: `GET ${check.path} answered ${answer.status}, expected ${check.expectStatus}; body: ${quote}` };
  }
  if (check.expectBodyContains !== undefined && !answer.body.includes(check.expectBodyContains)) {
    return { path: check.path, ok: false, status: answer.status, detail: `GET ${check.path} answered ${answer.status} without ${JSON.stringify(check.expectBodyContains)} in its body: ${quote}` };
  }
  return { path: check.path, ok: true, status: answer.status, detail: `GET ${check.path} answered ${answer.status} in ${answer.ms} ms` };
}

/** The outcome of one round of checks, for the state machine. */
export interface VerifyRound {
  /** Every check passed. */
  readonly passed: boolean;
  /** Not passed, and another round may run (`attempt < attempts`). */
  readonly retry: boolean;
  /** Rounds run so far (1 after the first). */
  readonly attempt: number;
  readonly target: 'test' | 'production';
  readonly results: CheckResult[];
  /** One paragraph: the failed checks (becomes `Cutover.VerifyFailed`'s cause), or that all passed. */
  readonly message: string;
}

/**
 * Decide a round.
 * @param attempt the round just run (1-based)
 * @param url the listener's base URL the checks went to
 */
export function decideRound(plan: VerifyPlan, target: 'test' | 'production', attempt: number, url: string, results: CheckResult[]): VerifyRound {
  const failed = results.filter((r) => !r.ok);
  const passed = failed.length === 0;
  const listener = target === 'test' ? 'the test listener (no production traffic on the new release)' : 'the production listener (100% on the new release)';
  const message = passed
    ? `${results.length} HTTP check(s) passed through ${listener} at ${url}`
    : `${failed.length} of ${results.length} HTTP check(s) failed through ${listener} at ${url} after ${attempt} attempt(s): ${failed.map((f) => f.detail).join('; ')}`;
  return { passed, retry: !passed && attempt < plan.attempts, attempt, target, results, message };
}
