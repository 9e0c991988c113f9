/**
 * The four DORA metrics ("four keys") of one service and environment over a period, computed from its
 * deployment records (lib/domain/ledger-items.ts; what each status and time field means is documented
 * there and in the README's "Records" section). Pure: no clock, no I/O.
 *
 * Definitions (after the DORA State of DevOps reports; the README says the same):
 *  - a **deployment** is a record of kind `deploy`, not a rollback's redeploy (`trigger.source:
 *    rollback`, which is remediation), that reached production traffic (`trafficAt`). Queued,
 *    superseded, refused and failed-before-traffic records are not deployments;
 *  - **deployment frequency**: deployments that went live (`promotedAt`) in the period — DORA's "how
 *    often an organization successfully releases to production" — as a count, per day and per week;
 *  - **lead time for changes**: commit time (`committedAt`) → live (`promotedAt`), per deployment that
 *    went live in the period; median and p90 (nearest rank), seconds. Deployments without a commit
 *    time (CodeCommit, console) are counted in `unknownCommitTime`;
 *  - **change failure rate**: of the deployments that reached production traffic in the period
 *    (`trafficAt`), the percent (0–100) that failed there: rolled back during the deployment
 *    (`rolled-back`, `rollback-failed`) or later (`rolledBackBy`);
 *  - **time to restore** (DORA's "failed deployment recovery time"): per incident — a record (either
 *    kind) with `detectedAt` in the period — `detectedAt` (the alarm's state change, or the rollback's
 *    start) → `restoredAt` (production traffic on a healthy release again); median and p90 seconds.
 *    Incidents not restored (`rollback-failed`, or still running) are listed in `unrestored`.
 * Performance bands follow the 2023/2024 reports: see {@link bandOf}.
 */
import { DateTime } from 'luxon';
import type { DeploymentRecord } from './ledger-items';

/** Percentile figures of a sample of durations, seconds; null without samples. */
export interface DurationSummary {
  readonly samples: number;
  readonly medianSeconds: number | null;
  readonly p90Seconds: number | null;
}

export type Band = 'elite' | 'high' | 'medium' | 'low';

/** The four keys of one service and environment over a period. */
export interface DoraReport {
  readonly service: string;
  readonly environment: string;
  /** ISO-8601 `since` (inclusive) and `until` (exclusive); `days` = their distance in days (fractional). */
  readonly period: { readonly since: string; readonly until: string; readonly days: number };
  readonly deploymentFrequency: { readonly deployments: number; readonly perDay: number; readonly perWeek: number; readonly band: Band };
  readonly leadTime: DurationSummary & { readonly unknownCommitTime: number; readonly band: Band | null };
  /** `rate`: percent 0–100 of `total`, null when `total` is 0. */
  readonly changeFailureRate: { readonly failed: number; readonly total: number; readonly rate: number | null; readonly failedDeployments: readonly string[]; readonly band: Band | null };
  readonly timeToRestore: DurationSummary & { readonly unrestored: readonly string[]; readonly band: Band | null };
}

const DAY = 86_400;
const ms = (iso: string | undefined): number | undefined => (iso === undefined ? undefined : Date.parse(iso));
const within = (iso: string | undefined, since: number, until: number): boolean => {
  const t = ms(iso);
  return t !== undefined && !Number.isNaN(t) && t >= since && t < until;
};

/** Nearest-rank percentile of sorted values (`p` 0–100). */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(durations: number[]): DurationSummary {
  const sorted = [...durations].sort((a, b) => a - b);
  return { samples: sorted.length, medianSeconds: percentile(sorted, 50), p90Seconds: percentile(sorted, 90) };
}

/** Seconds from `a` to `b` (ISO-8601), never negative (clocks of different sources may disagree slightly). */
const secondsBetween = (a: string, b: string): number => Math.max(0, (Date.parse(b) - Date.parse(a)) / 1000);

/**
 * The DORA performance band of a figure (2023/2024 State of DevOps thresholds):
 * frequency ≥ 1/day elite, ≥ 1/week high, ≥ 1/month medium; lead time and time to restore (median)
 * < 1 h … elite, < 1 day high, < 1 week medium (lead time: < 1 day elite, < 1 week high, < 1 month
 * medium); change failure rate ≤ 5 % elite, ≤ 10 % high, ≤ 15 % medium; otherwise low.
 */
export function bandOf(metric: 'frequency' | 'lead-time' | 'change-failure-rate' | 'time-to-restore', value: number): Band {
  switch (metric) {
    case 'frequency':
      return value >= 1 ? 'elite' : value >= 1 / 7 ? 'high' : value >= 1 / 30 ? 'medium' : 'low';
    case 'lead-time':
      return value < DAY ? 'elite' : value < 7 * DAY ? 'high' : value < 30 * DAY ? 'medium' : 'low';
    case 'change-failure-rate':
      return value <= 5 ? 'elite' : value <= 10 ? 'high' : value <= 15 ? 'medium' : 'low';
    case 'time-to-restore':
      return value < 3600 ? 'elite' : value < DAY ? 'high' : value < 7 * DAY ? 'medium' : 'low';
  }
}

/**
 * Compute the report (see the module doc for every definition).
 * @param records the environment's records, any order (others are ignored)
 * @throws Error when `since` or `until` is not an ISO-8601 time or `since` is not before `until`
 */
export function computeDora(records: readonly DeploymentRecord[], scope: { service: string; environment: string; since: string; until: string }): DoraReport {
  const since = Date.parse(scope.since);
  const until = Date.parse(scope.until);
  if (Number.isNaN(since) || Number.isNaN(until)) throw new Error(`the period needs ISO-8601 times; got since "${scope.since}", until "${scope.until}"`);
  if (since >= until) throw new Error(`the period is empty: since ${scope.since} is not before until ${scope.until}`);
  const days = (until - since) / (DAY * 1000);
  const mine = records.filter((r) => r.service === scope.service && r.environment === scope.environment);
  const deployments = mine.filter((r) => (r.kind ?? 'deploy') === 'deploy' && r.trigger.source !== 'rollback' && r.trafficAt !== undefined);

  const live = deployments.filter((r) => within(r.promotedAt, since, until));
  const perDay = live.length / days;
  const withCommit = live.filter((r) => r.committedAt !== undefined);
  const lead = summary(withCommit.map((r) => secondsBetween(r.committedAt!, r.promotedAt!)));

  const reached = deployments.filter((r) => within(r.trafficAt, since, until));
  const failed = reached.filter((r) => r.status === 'rolled-back' || r.status === 'rollback-failed' || r.rolledBackBy !== undefined);
  const rate = reached.length ? (failed.length / reached.length) * 100 : null;

  const incidents = mine.filter((r) => within(r.detectedAt, since, until));
  const restored = incidents.filter((r) => r.restoredAt !== undefined);
  const unrestored = incidents.filter((r) => r.restoredAt === undefined && (r.status === 'rollback-failed' || r.status === 'in-progress')).map((r) => r.deploymentId);
  const restore = summary(restored.map((r) => secondsBetween(r.detectedAt!, r.restoredAt!)));

  return {
    service: scope.service,
    environment: scope.environment,
    period: { since: new Date(since).toISOString(), until: new Date(until).toISOString(), days },
    deploymentFrequency: { deployments: live.length, perDay, perWeek: perDay * 7, band: bandOf('frequency', perDay) },
    leadTime: { ...lead, unknownCommitTime: live.length - withCommit.length, band: lead.medianSeconds === null ? null : bandOf('lead-time', lead.medianSeconds) },
    changeFailureRate: { failed: failed.length, total: reached.length, rate, failedDeployments: failed.map((r) => r.deploymentId), band: rate === null ? null : bandOf('change-failure-rate', rate) },
    timeToRestore: { ...restore, unrestored, band: restore.medianSeconds === null ? null : bandOf('time-to-restore', restore.medianSeconds) },
  };
}

const PERIOD = /^(\d{1,4})([hdw])$/;

/**
 * The start of a period: `30d`, `12h`, `2w` before `now`, or an ISO-8601 date / time (`2026-11-01`).
 * @throws Error naming the value and the accepted forms
 */
export function parseSince(text: string, now: Date): string {
  const m = PERIOD.exec(text.trim());
  if (m) {
    const n = Number(m[1]);
    if (n === 0) throw new Error(`--since: "${text}" is an empty period; use e.g. 30d`);
    const seconds = n * (m[2] === 'h' ? 3600 : m[2] === 'd' ? DAY : 7 * DAY);
    return new Date(now.getTime() - seconds * 1000).toISOString();
  }
  const iso = DateTime.fromISO(text.trim(), { zone: 'utc' });
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim()) && iso.isValid) {
    // Luxon rejects days that do not exist (2026-02-30), which Date.parse would roll over; no offset means UTC.
    const t = iso.toMillis();
    if (t >= now.getTime()) throw new Error(`--since: ${text} is not in the past`);
    return new Date(t).toISOString();
  }
  throw new Error(`--since: "${text}" is not a period; use 30d, 12h, 2w or an ISO date like 2026-11-01`);
}

/** A duration for tables: `—`, `45 s`, `12 min`, `3.5 h`, `2.1 d`. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < DAY) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / DAY).toFixed(1)} d`;
}

/** One CloudWatch metric value cutover publishes (EMF, namespace `Cutover`, dimensions service and environment). */
export interface DoraMetricValue {
  readonly name: 'Deployments' | 'ChangeAttempts' | 'ChangeFailures' | 'LeadTime' | 'TimeToRestore';
  readonly unit: 'Count' | 'Seconds';
  readonly value: number;
}

/**
 * The metric values an event of the ledger publishes, so that CloudWatch can graph and alarm on the
 * four keys (sum over a period; change failure rate = ChangeFailures / ChangeAttempts with metric math):
 *  - `finished`: a deployment (not a rollback's redeploy) ended; one that reached production traffic is
 *    a ChangeAttempt; `succeeded` adds Deployments 1 and LeadTime (commit → live, seconds, when the
 *    commit time is known); `rolled-back` / `rollback-failed` adds ChangeFailures 1;
 *  - `rolled-back-later`: a rollback took production from a promoted deployment: ChangeFailures 1;
 *  - `restored`: production traffic is on a healthy release again: TimeToRestore (detection → restore, seconds).
 */
export function doraMetricValues(
  event:
    | { readonly kind: 'finished'; readonly status: string; readonly source: string; readonly reachedTraffic: boolean; readonly committedAt?: string; readonly promotedAt?: string }
    | { readonly kind: 'rolled-back-later' }
    | { readonly kind: 'restored'; readonly detectedAt: string; readonly restoredAt: string },
): DoraMetricValue[] {
  switch (event.kind) {
    case 'finished': {
      if (event.source === 'rollback' || !event.reachedTraffic) return [];
      const values: DoraMetricValue[] = [{ name: 'ChangeAttempts', unit: 'Count', value: 1 }];
      if (event.status === 'succeeded') {
        values.push({ name: 'Deployments', unit: 'Count', value: 1 });
        if (event.committedAt && event.promotedAt) values.push({ name: 'LeadTime', unit: 'Seconds', value: secondsBetween(event.committedAt, event.promotedAt) });
      }
      if (event.status === 'rolled-back' || event.status === 'rollback-failed') values.push({ name: 'ChangeFailures', unit: 'Count', value: 1 });
      return values;
    }
    case 'rolled-back-later':
      return [{ name: 'ChangeFailures', unit: 'Count', value: 1 }];
    case 'restored':
      return [{ name: 'TimeToRestore', unit: 'Seconds', value: secondsBetween(event.detectedAt, event.restoredAt) }];
  }
}
