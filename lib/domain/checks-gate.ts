/**
 * The checks gate: have the CI checks a service requires (`checks.required` in the config) succeeded on
 * the commit being deployed? Pure: what GitHub reports about the commit in, a decision out.
 *
 * GitHub has two kinds of "status checks" on a commit, and a required name may be either:
 *  - **check runs** (the Checks API; GitHub Actions jobs, GitHub Apps): `GET /repos/{owner}/{repo}/commits/{ref}/check-runs`
 *    → `{ total_count, check_runs: [{ id, name, status, conclusion, started_at, html_url, details_url, … }] }`.
 *    `status` is `queued | in_progress | completed` (and `waiting | requested | pending`, reserved for
 *    Actions); a completed run has a `conclusion`: `success | failure | neutral | cancelled | skipped |
 *    timed_out | action_required | stale` (and `startup_failure`, Actions). A re-run is a new check run
 *    with the same name: the newest one counts.
 *  - **commit statuses** (the Statuses API; older CI such as Jenkins): `GET /repos/{owner}/{repo}/commits/{ref}/status`
 *    (the combined status) → `{ state, statuses: [{ context, state, target_url, description, … }], sha, total_count }`,
 *    `state` one of `error | failure | pending | success`. Statuses are listed newest first; the newest per
 *    `context` counts.
 *
 * **The rule** (GitHub's own for required status checks of a protected branch — docs.github.com, "About
 * protected branches" / "Troubleshooting required status checks"):
 *  - a check run passes when `completed` with `success`, `neutral` or `skipped` (GitHub: "required status
 *    checks must have a successful, skipped, or neutral status"; a skipped job "will report its status as
 *    Success" and does not block a merge even when required);
 *  - a check run fails when `completed` with any other conclusion (`failure`, `cancelled`, `timed_out`,
 *    `action_required`, `stale`, `startup_failure`, or one GitHub adds later): a gate that cannot tell
 *    does not let the release through;
 *  - a check run not yet `completed` is pending;
 *  - a commit status passes on `success`, is pending on `pending`, fails on `error` / `failure` (and on any
 *    state GitHub may add);
 *  - a name that is both a check run name and a status context must pass as both (GitHub: "If a check and a
 *    commit status have the same name, both must pass when that name is required");
 *  - a name GitHub has not reported at all is pending (the CI may not have started yet); the gate's
 *    `waitSeconds` bounds that wait (the state machine's concern, not this module's).
 * The first failing required name (in the order of `required`) fails the gate at once; otherwise any
 * pending name keeps it pending; otherwise it passes.
 */

/** A check run as the Checks API returns it (only the fields the gate reads). */
export interface CheckRunLike {
  /** Check run id; a larger id is a newer run. */
  readonly id?: number;
  /** The check's name, e.g. `build` (a GitHub Actions job name). */
  readonly name: string;
  /** `queued | in_progress | completed` (also `waiting | requested | pending` for GitHub Actions). */
  readonly status: string;
  /** Set when `status` is `completed`: `success | failure | neutral | cancelled | skipped | timed_out | action_required | stale | startup_failure`. */
  readonly conclusion?: string | null;
  /** ISO 8601 time the run started (newest run wins; ties and missing times fall back to `id`). */
  readonly started_at?: string | null;
  /** The check run's page on GitHub. */
  readonly html_url?: string | null;
  /** The integrator's page for the run (used when there is no `html_url`). */
  readonly details_url?: string | null;
}

/** A commit status as the combined-status API returns it (only the fields the gate reads). */
export interface CommitStatusLike {
  /** The status's name, e.g. `ci/jenkins`. */
  readonly context: string;
  /** `error | failure | pending | success`. */
  readonly state: string;
  readonly target_url?: string | null;
  readonly description?: string | null;
  /** ISO 8601 time of the status's last update; when present, the newest per context counts (else the first listed). */
  readonly updated_at?: string | null;
}

/** The gate's answer (the state machine reads `status`). */
export type ChecksDecision =
  | { readonly status: 'passed' }
  /** `waitingFor`: the required names not finished yet, in the order of `required`. */
  | { readonly status: 'pending'; readonly waitingFor: string[] }
  | {
      readonly status: 'failed';
      /** The required name that failed. */
      readonly check: string;
      /** The check run's conclusion (e.g. `failure`, `timed_out`) or the commit status's state (`failure`, `error`). */
      readonly conclusion: string;
      /** Where to read why: the check run's `html_url` (or `details_url`), the status's `target_url`. */
      readonly url?: string;
      /** One sentence for operators: which check, what it concluded, where to look, what to do. */
      readonly message: string;
    };

/** Conclusions of a completed check run that GitHub's required status checks accept. */
export const PASSING_CONCLUSIONS: ReadonlySet<string> = new Set(['success', 'neutral', 'skipped']);

type Verdict =
  | { readonly kind: 'pass' }
  | { readonly kind: 'pending' }
  | { readonly kind: 'fail'; readonly conclusion: string; readonly url?: string; readonly what: string; readonly detail?: string };

const time = (iso: string | null | undefined): number | undefined => {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
};

/** True when `a` is a newer run than `b`: later `started_at`, then larger `id`. */
function newerRun(a: CheckRunLike, b: CheckRunLike): boolean {
  const ta = time(a.started_at);
  const tb = time(b.started_at);
  if (ta !== undefined && tb !== undefined && ta !== tb) return ta > tb;
  return (a.id ?? 0) > (b.id ?? 0);
}

/** The run that counts for `name`: the newest one, or undefined when GitHub has none. */
function newestRun(runs: readonly CheckRunLike[], name: string): CheckRunLike | undefined {
  let best: CheckRunLike | undefined;
  for (const run of runs) if (run.name === name && (!best || newerRun(run, best))) best = run;
  return best;
}

/** The status that counts for `context`: the newest by `updated_at`, else the first listed (the API lists newest first). */
function newestStatus(statuses: readonly CommitStatusLike[], context: string): CommitStatusLike | undefined {
  let best: CommitStatusLike | undefined;
  for (const s of statuses) {
    if (s.context !== context) continue;
    if (!best) best = s;
    else {
      const ts = time(s.updated_at);
      const tb = time(best.updated_at);
      if (ts !== undefined && tb !== undefined && ts > tb) best = s;
    }
  }
  return best;
}

function runVerdict(run: CheckRunLike): Verdict {
  if (run.status !== 'completed') return { kind: 'pending' };
  const conclusion = run.conclusion ?? '';
  if (PASSING_CONCLUSIONS.has(conclusion)) return { kind: 'pass' };
  if (conclusion === '') return { kind: 'pending' }; // completed without a conclusion yet: GitHub is still writing it
  return { kind: 'fail', conclusion, url: run.html_url ?? run.details_url ?? undefined, what: 'check run' };
}

function statusVerdict(status: CommitStatusLike): Verdict {
  if (status.state === 'success') return { kind: 'pass' };
  if (status.state === 'pending') return { kind: 'pending' };
  return {
    kind: 'fail',
    conclusion: status.state,
    url: status.target_url ?? undefined,
    what: 'commit status',
    detail: status.description?.trim() || undefined,
  };
}

/**
 * Decide the checks gate for one commit.
 * @param required the required check names (`checks.required`): check run names or commit status contexts,
 *   matched exactly (case-sensitive); duplicates count once
 * @param checkRuns the commit's check runs, any order (several runs of one name: the newest counts)
 * @param statuses the commit's statuses, newest first (the combined status's `statuses`, or the full list)
 * @param commit the commit, for the message (shortened to 7 characters) @default not named
 * @returns `passed` when every required name passed (see the module's rule); `failed` with the first
 *   failing name (in `required` order), its conclusion, URL and a message; otherwise `pending` with the
 *   names not finished yet
 */
export function decideChecks(
  required: readonly string[],
  checkRuns: readonly CheckRunLike[],
  statuses: readonly CommitStatusLike[],
  commit?: string,
): ChecksDecision {
  const waitingFor: string[] = [];
  const names = [...new Set(required)];
  for (const name of names) {
    const run = newestRun(checkRuns, name);
    const status = newestStatus(statuses, name);
    const verdicts = [run && runVerdict(run), status && statusVerdict(status)].filter((v): v is Verdict => v !== undefined);
    const failed = verdicts.find((v) => v.kind === 'fail');
    if (failed && failed.kind === 'fail') {
      const on = commit ? ` on ${commit.slice(0, 7)}` : '';
      const detail = failed.detail ? ` (${failed.detail.replace(/\.+$/, '')})` : '';
      const where = failed.url ? `: see ${failed.url}` : '';
      return {
        status: 'failed',
        check: name,
        conclusion: failed.conclusion,
        ...(failed.url ? { url: failed.url } : {}),
        message: `required ${failed.what} "${name}"${on} concluded ${failed.conclusion}${detail}${where}; fix it (or re-run it) and deploy again`,
      };
    }
    if (verdicts.length === 0 || verdicts.some((v) => v.kind === 'pending')) waitingFor.push(name);
  }
  return waitingFor.length > 0 ? { status: 'pending', waitingFor } : { status: 'passed' };
}

/** A commit whose checks changed, from a webhook (see {@link checksEventCommit}). */
export interface ChecksEventCommit {
  /** `owner/name` (the payload's `repository.full_name`). */
  readonly repository: string;
  /** The commit's full SHA (40 hex characters). */
  readonly sha: string;
}

const SHA = /^[0-9a-f]{40}$/i;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/**
 * Which commit a GitHub webhook says has finished a check — the deliveries that may end a checks gate's
 * wait (GitHub webhook events and payloads: `check_run`, `check_suite`, `status`):
 *  - `check_run` with `action: "completed"` → `check_run.head_sha`;
 *  - `check_suite` with `action: "completed"` → `check_suite.head_sha`;
 *  - `status` whose `state` is not `pending` (`success`, `failure`, `error`) → `sha` (status events carry no `action`).
 * Anything else — other events, `created` / `rerequested` / `requested_action` actions, pending statuses,
 * payloads without `repository.full_name` or a 40-character SHA — is not relevant: `undefined`.
 * The gate re-reads the commit's checks (the payload names one check; the gate needs all required ones).
 * @param eventName the `X-GitHub-Event` header
 * @param payload the parsed JSON body
 */
export function checksEventCommit(eventName: string, payload: unknown): ChecksEventCommit | undefined {
  const p = obj(payload);
  if (!p) return undefined;
  const repository = str(obj(p.repository)?.full_name);
  let sha: string | undefined;
  if (eventName === 'check_run' && p.action === 'completed') sha = str(obj(p.check_run)?.head_sha);
  else if (eventName === 'check_suite' && p.action === 'completed') sha = str(obj(p.check_suite)?.head_sha);
  else if (eventName === 'status' && typeof p.state === 'string' && p.state !== 'pending') sha = str(p.sha);
  if (!repository || !sha || !SHA.test(sha)) return undefined;
  return { repository, sha: sha.toLowerCase() };
}
