/**
 * The operator commands of the `cutover` CLI, as a library: each takes a {@link CommandContext} (where
 * to talk to, who the operator is, how to print) and its arguments, and resolves to the process exit
 * code. Operator mistakes and refusals throw {@link CliError} (one line for stderr, exit code 1).
 *
 *  - read:    {@link status}, {@link history}
 *  - start:   {@link deploy}, {@link retry}, {@link rollback} (StartExecution; `wait` follows it)
 *  - answer:  {@link approve}, {@link reject}, {@link promote}, {@link abort} (the running deployment's
 *             callback wait: SendTaskSuccess / SendTaskFailure on the task token stored on the lock)
 *
 * Every action appends an `operator-action` event to the audit timeline after its AWS call succeeded.
 */
import { randomUUID } from 'node:crypto';
import type { DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import * as z from 'zod/mini';
import type { Ledger } from '../aws/ledger';
import { startExecutionByName } from '../aws/sfn';
import { failTask, succeedTask } from '../aws/task-tokens';
import { isRollbackWindowOpen } from '../domain/ledger-decisions';
import type { PendingKind } from '../domain/ledger-items';
import { ExplicitDeployInputSchema, type ExplicitDeployInput } from '../domain/deploy-input';
import { RollbackInputSchema, type RollbackInput } from '../domain/rollback-input';
import { promotionInput } from '../domain/promotion';
import { computeDora, formatDuration, parseSince, type DoraReport } from '../domain/dora-metrics';
import {
  currentState,
  describeExecution,
  envName,
  fullHistory,
  listEnvironments,
  recentEvents,
  statesEnteredSince,
  stepTimings,
  type CurrentState,
  type EnvRef,
  type LedgerReader,
} from './data';
import { CliError } from './errors';
import { duration, fields, isoSeconds, json, shortCommit, shorten, table, when } from './format';
import { OutcomeSchema, parseJson, type Audit, type DeploymentRow, type Environment, type Lock } from './schemas';
import type { StateMachineKind, Target } from './target';

export interface Io {
  /** A line (or lines) of the command's output. */
  stdout(text: string): void;
  /** Progress and diagnostics (also where progress goes with `--json`). */
  stderr(text: string): void;
}

export interface CommandContext {
  readonly target: Target;
  readonly ledger: Ledger;
  readonly reader: LedgerReader;
  /** Recorded as the actor of every action and sent in every answer. */
  readonly operator: string;
  /** The caller's AWS identity (`sts:GetCallerIdentity` ARN), recorded beside `operator` when known. */
  readonly callerArn?: string;
  /** Machine-readable output (`--json`): one JSON document on stdout. */
  readonly json: boolean;
  readonly io: Io;
  /** Real milliseconds between DescribeExecution polls of `--wait`. @default 1000 */
  readonly pollMs: number;
  /** Real milliseconds a started execution may take to take the lock before the command stops waiting. */
  readonly acceptTimeoutMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * Call the approval function (`lambdas/approval`, a function URL with AWS_IAM auth; SigV4-signed with
   * the operator's credentials) with an approve / reject request.
   * @returns its HTTP status and JSON body (`{ message, ... }`)
   */
  readonly callApprovalFunction: (request: ApprovalFunctionRequest) => Promise<ApprovalFunctionAnswer>;
}

/** What `cutover approve` / `reject` send the approval function (lambdas/approval/handler.ts). */
export interface ApprovalFunctionRequest {
  readonly service: string;
  readonly environment: string;
  readonly decision: 'approve' | 'reject';
  readonly operator: string;
  readonly comment?: string;
  readonly reason?: string;
}

/** The approval function's answer: HTTP status, the parsed JSON body (if any) and the raw text. */
export interface ApprovalFunctionAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

const quote = (s: string) => (/^[\w./:@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
const cmd = (ref: EnvRef, verb: string, rest = '') => `cutover ${verb} ${quote(ref.service)} ${quote(ref.environment)}${rest ? ` ${rest}` : ''}`;

// ───────────────────────────── waits and what answers them ─────────────────────────────

const WAIT_LABEL: Record<PendingKind, string> = {
  bake: 'the bake to end',
  approval: 'an operator approval',
  'database-decision': 'a database decision',
  image: 'its image to be pushed to ECR',
  scan: 'the scan of its image',
  checks: "its commit's required checks (GitHub)",
  window: 'its change window to open',
};

/** What happens when a wait reaches its `pendingUntil` without an answer. */
const UNTIL_TEXT: Record<PendingKind, string> = {
  bake: 'then the alarms are checked once more and traffic moves on',
  approval: 'without an answer the deployment rolls back (Cutover.ApprovalTimedOut)',
  'database-decision': 'without an answer the database is kept as it is',
  image: 'without the image the deployment fails (Cutover.ImageNotFound), having changed nothing',
  scan: 'without a scan result the deployment is refused (Cutover.ScanNotComplete), having changed nothing',
  checks: 'without the checks passing the deployment is refused (Cutover.ChecksNotComplete), having changed nothing',
  window: 'then the window is open and the deployment starts changing things',
};

/**
 * The part of a pending question for people at a terminal: without the `<service>/<environment>: `
 * prefix and without the sentences that explain the raw Step Functions answer (the CLI's commands
 * replace them).
 */
export function questionSummary(question: string, ref?: EnvRef): string {
  let text = question.trim();
  if (ref && text.startsWith(`${envName(ref)}: `)) text = text.slice(envName(ref).length + 2);
  const sentences = text.split(/(?<=[.;?!])\s+/);
  const kept = sentences.filter((s) => !/SendTask(Success|Failure)/.test(s));
  return (kept.length > 0 ? kept : sentences).join(' ').trim();
}

/** The commands that answer a wait of `kind`. */
export function waitActions(ref: EnvRef, kind: PendingKind): string[] {
  switch (kind) {
    case 'bake':
      return [cmd(ref, 'promote'), cmd(ref, 'abort', '--reason <text>')];
    case 'approval':
      return [cmd(ref, 'approve', '[--comment <text>]'), cmd(ref, 'reject', '--reason <text>')];
    case 'database-decision':
      return [cmd(ref, 'approve', '--decision restore'), cmd(ref, 'approve', '--decision keep')];
    case 'image':
    case 'scan':
    case 'checks':
      return [cmd(ref, 'abort', '--reason <text>')];
    case 'window':
      return [cmd(ref, 'override-window', '--reason <text>'), cmd(ref, 'abort', '--reason <text>')];
  }
}

/** The running execution holding an environment's lock, and the callback wait it is in (if any). */
interface Running {
  readonly lock: Lock;
  readonly execution?: DescribeExecutionCommandOutput;
  readonly current: CurrentState;
  /** The wait the deployment is in now (the lock's pending wait, while its state still waits). */
  readonly wait?: { kind: PendingKind; token: string; question: string; until?: string };
}

async function readRunning(lock: Lock): Promise<Running> {
  const execution = await describeExecution(lock.executionArn);
  const current = execution?.status === 'RUNNING' ? currentState(await recentEvents(lock.executionArn)) : { exited: false, waitingForCallback: false };
  const wait =
    current.waitingForCallback && lock.pendingKind && lock.pendingTaskToken
      ? { kind: lock.pendingKind, token: lock.pendingTaskToken, question: lock.pendingQuestion ?? '', ...(lock.pendingUntil ? { until: lock.pendingUntil } : {}) }
      : undefined;
  return { lock, execution, current, wait };
}

const isRunning = (r: Running) => r.execution?.status === 'RUNNING';

/** Where the running execution is, for messages: `it waits for …` / `it is in state X, not waiting for an operator`. */
function describeWait(ref: EnvRef, r: Running): string {
  if (r.wait) {
    const q = questionSummary(r.wait.question, ref);
    return `it waits for ${WAIT_LABEL[r.wait.kind]}${q ? ` (${q.replace(/\.$/, '')})` : ''}; answer with: ${waitActions(ref, r.wait.kind).join(' | ')}`;
  }
  return `it is not waiting for an operator (now in ${r.current.state ? `state ${r.current.state}` : 'an unknown state'})`;
}

/**
 * The running deployment of `ref` and its wait.
 * @throws CliError when nothing runs (naming an unknown environment), or the lock's execution has ended
 */
async function running(ctx: CommandContext, ref: EnvRef): Promise<Running> {
  const lock = await ctx.reader.lock(ref);
  if (!lock) {
    const known = await knows(ctx, ref);
    throw new CliError(
      known
        ? `no deployment of ${envName(ref)} is running, so nothing waits for an operator (see ${cmd(ref, 'status')}).`
        : `no deployment of ${envName(ref)} is running: ${await unknownEnvironment(ctx, ref)}`,
    );
  }
  const r = await readRunning(lock);
  if (!isRunning(r)) {
    throw new CliError(
      `deployment ${lock.deploymentId} of ${envName(ref)} is not running (its execution is ${r.execution?.status ?? 'gone'}), so nothing waits for an operator; its stale lock is reclaimed by the next deployment.`,
    );
  }
  return r;
}

/** Whether the table knows the environment at all (state, lock or records). */
async function knows(ctx: CommandContext, ref: EnvRef): Promise<boolean> {
  const [env, records] = await Promise.all([ctx.reader.environment(ref), ctx.reader.history(ref, 1)]);
  return env !== undefined || records.length > 0;
}

async function unknownEnvironment(ctx: CommandContext, ref: EnvRef): Promise<string> {
  const known = await listEnvironments(ctx.target.tableName);
  return (
    `nothing is known about ${envName(ref)} in ${ctx.target.description} (table ${ctx.target.tableName}): no deployment ran there; check the service and environment names. ` +
    (known.length > 0 ? `Known: ${known.map(envName).join(', ')}.` : 'The table has no deployments yet.')
  );
}

const closedWait = (ref: EnvRef, r: Running) =>
  new CliError(
    `the wait is already over: deployment ${r.lock.deploymentId} of ${envName(ref)} no longer waits for ${WAIT_LABEL[r.wait!.kind]} (it ended, timed out or was answered meanwhile); see ${cmd(ref, 'status')}.`,
  );

async function auditAction(
  ctx: CommandContext,
  ref: EnvRef,
  at: Date,
  message: string,
  detail: Record<string, unknown>,
  execution?: { deploymentId: string; executionArn: string },
): Promise<void> {
  await ctx.ledger.audit({
    at: at.toISOString(),
    service: ref.service,
    environment: ref.environment,
    kind: 'operator-action',
    ...(execution ? { deploymentId: execution.deploymentId, executionArn: execution.executionArn } : {}),
    actor: ctx.operator,
    ...(ctx.callerArn ? { caller: ctx.callerArn } : {}),
    message,
    detail: { ...detail, ...(execution ? { deploymentId: execution.deploymentId } : {}) },
  });
}

// ───────────────────────────── status ─────────────────────────────

export interface EnvironmentStatus {
  service: string;
  environment: string;
  live: { slot: string; release: Environment['current'] | null } | null;
  rollbackWindow: (NonNullable<Environment['rollbackWindow']> & { open: boolean }) | null;
  running: {
    deploymentId: string;
    executionArn: string;
    purpose: string;
    commit: string | null;
    since: string;
    trigger: string | null;
    execution: { status: string; state: string | null; stateEnteredAt: string | null };
    /** `until`: ISO-8601 end of the wait by its own timeout, when the lock records one. */
    waitingFor: { kind: PendingKind; question: string; until: string | null; actions: string[] } | null;
    actions: string[];
    abortRequested: Lock['abortRequested'] | null;
  } | null;
  last: Pick<DeploymentRow, 'deploymentId' | 'kind' | 'status' | 'commit' | 'startedAt' | 'finishedAt' | 'error' | 'message'> | null;
  /** The push queued behind the running execution (it deploys next, unless a newer push comes first), or null. */
  queued: Pick<DeploymentRow, 'deploymentId' | 'commit' | 'startedAt'> | null;
  /**
   * Where releases stand in the promotion: the release offered here after its success in the
   * environment this one promotes from (deploy it with `cutover promote-release`), or null.
   */
  offered: { deploymentId: string; fromEnvironment: string; commit: string; image: string; offeredAt: string; command: string } | null;
}

/** `cli:alice`, `retry:alice (of 1234…)`, `github-push:octocat`. */
export function triggerText(trigger: DeploymentRow['trigger'] | undefined): string {
  if (!trigger) return '—';
  const actor = trigger.actor && !trigger.actor.startsWith(`${trigger.source}:`) ? `:${trigger.actor}` : trigger.actor ? trigger.actor.slice(trigger.source.length) : '';
  return `${trigger.source}${actor}${trigger.of ? ` (of ${trigger.of})` : ''}`;
}

async function environmentStatus(ctx: CommandContext, ref: EnvRef): Promise<EnvironmentStatus | undefined> {
  const [env, lock, records, offer] = await Promise.all([ctx.reader.environment(ref), ctx.reader.lock(ref), ctx.reader.history(ref, 10), ctx.ledger.getOffer(ref.service, ref.environment)]);
  if (!env && !lock && records.length === 0 && !offer) return undefined;
  const now = ctx.target.now();
  let runningStatus: EnvironmentStatus['running'] = null;
  if (lock) {
    const r = await readRunning(lock);
    const record = records.find((x) => x.deploymentId === lock.deploymentId);
    const stale = !isRunning(r);
    runningStatus = {
      deploymentId: lock.deploymentId,
      executionArn: lock.executionArn,
      purpose: lock.purpose ?? 'deploy',
      commit: lock.commit && lock.commit !== '-' ? lock.commit : (record?.commit ?? null),
      since: lock.acquiredAt,
      trigger: record ? triggerText(record.trigger) : null,
      execution: {
        status: r.execution?.status ?? 'MISSING',
        state: stale ? null : (r.current.state ?? null),
        stateEnteredAt: !stale && r.current.enteredAt ? new Date(r.current.enteredAt).toISOString() : null,
      },
      waitingFor: r.wait ? { kind: r.wait.kind, question: r.wait.question, until: r.wait.until ?? null, actions: waitActions(ref, r.wait.kind) } : null,
      actions: stale ? [] : r.wait ? waitActions(ref, r.wait.kind) : (lock.purpose ?? 'deploy') === 'deploy' ? [cmd(ref, 'abort', '--reason <text>')] : [],
      abortRequested: lock.abortRequested ?? null,
    };
  }
  const last = records.find((x) => x.status !== 'in-progress' && x.status !== 'queued');
  const queued = records.find((x) => x.status === 'queued');
  return {
    service: ref.service,
    environment: ref.environment,
    live: env ? { slot: env.liveSlot, release: env.current ?? (env.lastGoodCommit ? { slot: env.liveSlot, commit: env.lastGoodCommit, image: env.lastGoodImage, deploymentId: env.lastGoodDeploymentId } : null) } : null,
    rollbackWindow: env?.rollbackWindow ? { ...env.rollbackWindow, open: isRollbackWindowOpen(env.rollbackWindow, now) } : null,
    running: runningStatus,
    last: last
      ? { deploymentId: last.deploymentId, kind: last.kind ?? 'deploy', status: last.status, commit: last.commit, startedAt: last.startedAt, finishedAt: last.finishedAt, error: last.error ?? null, message: last.message }
      : null,
    queued: queued ? { deploymentId: queued.deploymentId, commit: queued.commit, startedAt: queued.startedAt } : null,
    offered: offer ? { deploymentId: offer.deploymentId, fromEnvironment: offer.fromEnvironment, commit: offer.commit, image: offer.image, offeredAt: offer.offeredAt, command: cmd(ref, 'promote-release') } : null,
  };
}

function releaseText(r: { commit?: string; image?: string; deploymentId?: string; promotedAt?: string; source?: string } | null | undefined, now: Date): string {
  if (!r) return 'a release cutover did not deploy';
  const parts = [r.commit && r.commit !== '-' ? `release ${shortCommit(r.commit)}` : 'an earlier release'];
  if (r.image) parts.push(`image ${r.image}`);
  const extra = [r.deploymentId ? `deployment ${r.deploymentId}` : '', r.source ? `via ${r.source}` : '', r.promotedAt ? `live since ${when(r.promotedAt, now)}` : '']
    .filter(Boolean)
    .join(', ');
  return `${parts.join(', ')}${extra ? ` (${extra})` : ''}`;
}

/** The status of one environment as text. */
export function renderStatus(s: EnvironmentStatus, now: Date): string {
  const ref = { service: s.service, environment: s.environment };
  const rows: Array<[string, string | undefined]> = [];
  rows.push(['live', s.live ? `${s.live.slot}: ${releaseText(s.live.release, now)}` : 'no release deployed by cutover yet']);
  const rollingBack = s.running && s.running.execution.status === 'RUNNING' && s.running.purpose === 'rollback' ? s.running : null;
  if (rollingBack) {
    // A rollback runs: offering another one would only be refused (Cutover.DeploymentInProgress).
    rows.push(['rollback', `rollback ${rollingBack.deploymentId} is running (see below); the live row shows where production traffic is now`]);
  } else if (s.rollbackWindow) {
    const w = s.rollbackWindow;
    rows.push([
      'rollback',
      `${w.open ? 'window open' : 'window closing'} until ${when(w.until, now)}: ${w.keptSlot} keeps ${w.kept?.commit ? `release ${shortCommit(w.kept.commit)}` : 'the previous release'} running; roll back at once with ${cmd(ref, 'rollback', '--reason <text>')}`,
    ]);
  } else {
    rows.push(['rollback', 'no window open (a rollback redeploys the previous release)']);
  }
  const r = s.running;
  if (!r) {
    rows.push(['running', 'nothing']);
  } else if (r.execution.status !== 'RUNNING') {
    rows.push(['running', `nothing (a stale lock of ${r.purpose} ${r.deploymentId} remains: its execution is ${r.execution.status}; the next deployment reclaims it)`]);
  } else {
    const what = r.purpose === 'deploy' ? 'deployment' : r.purpose === 'rollback' ? 'rollback' : r.purpose;
    rows.push(['running', `${what} ${r.deploymentId}${r.commit ? `, commit ${shortCommit(r.commit)}` : ''}, since ${when(r.since, now)}${r.trigger ? `, by ${r.trigger}` : ''}`]);
    rows.push(['state', r.execution.state ? `${r.execution.state}${r.execution.stateEnteredAt ? ` (entered ${when(r.execution.stateEnteredAt, now)})` : ''}` : 'starting']);
    if (r.waitingFor) {
      rows.push(['waits for', `${WAIT_LABEL[r.waitingFor.kind]}: ${questionSummary(r.waitingFor.question, ref)}`]);
      if (r.waitingFor.until) rows.push(['until', `${when(r.waitingFor.until, now)}: ${UNTIL_TEXT[r.waitingFor.kind]}`]);
    }
    else rows.push(['waits for', 'nothing from an operator']);
    if (r.abortRequested) rows.push(['abort', `requested by ${r.abortRequested.by} at ${when(r.abortRequested.at, now)}: ${r.abortRequested.reason} (takes effect at the next bake or approval wait)`]);
    if (r.actions.length > 0) rows.push(['act', r.actions.join('\n')]);
  }
  if (s.live?.release && 'source' in s.live.release && s.live.release.source === 'promotion') {
    rows.push(['promotion', `the live release was promoted here${'deploymentId' in s.live.release && s.live.release.deploymentId ? ` (deployment ${s.live.release.deploymentId})` : ''} after it succeeded in the environment before`]);
  }
  if (s.offered) {
    const o = s.offered;
    rows.push(['offered', `release ${shortCommit(o.commit)} succeeded in ${o.fromEnvironment} (deployment ${o.deploymentId}, ${when(o.offeredAt, now)}): promote the same image ${o.image} with ${o.command}`]);
  }
  if (s.queued) {
    rows.push(['queued', `deployment ${s.queued.deploymentId}, commit ${shortCommit(s.queued.commit)}, pushed ${when(s.queued.startedAt, now)}: deploys when the lock is released, unless a newer push comes first`]);
  }
  if (s.last) {
    const l = s.last;
    rows.push([
      'last',
      `${l.kind === 'rollback' ? 'rollback' : 'deployment'} ${l.deploymentId} ${l.status}${l.commit && l.commit !== '-' ? `, commit ${shortCommit(l.commit)}` : ''}, ${l.finishedAt ? `finished ${when(l.finishedAt, now)}` : `started ${when(l.startedAt, now)}`}${l.error ? ` (${l.error})` : ''}`,
    ]);
  }
  return `${envName(ref)}\n${fields(rows)}`;
}

/**
 * `cutover status [service] [environment]`: live slot and release, rollback window, the running
 * deployment and what it waits for. Without an environment: every one the table knows (of `service`).
 */
export async function status(ctx: CommandContext, service?: string, environment?: string): Promise<number> {
  let refs: EnvRef[];
  if (service && environment) {
    refs = [{ service, environment }];
  } else {
    const all = await listEnvironments(ctx.target.tableName);
    refs = service ? all.filter((r) => r.service === service) : all;
    if (refs.length === 0) {
      throw new CliError(
        service
          ? `nothing is known about service "${service}" in ${ctx.target.description} (table ${ctx.target.tableName}). ${all.length > 0 ? `Known: ${all.map(envName).join(', ')}.` : 'The table has no deployments yet.'}`
          : `the table ${ctx.target.tableName} (${ctx.target.description}) has no deployments yet: start one with cutover deploy <service> <environment> --commit <sha>.`,
      );
    }
  }
  const statuses = await Promise.all(refs.map((ref) => environmentStatus(ctx, ref)));
  if (service && environment && !statuses[0]) throw new CliError(await unknownEnvironment(ctx, refs[0]!));
  const found = statuses.filter((s): s is EnvironmentStatus => s !== undefined);
  if (ctx.json) {
    ctx.io.stdout(json(service && environment ? found[0] : found));
  } else {
    const now = ctx.target.now();
    ctx.io.stdout(found.map((s) => renderStatus(s, now)).join('\n\n'));
  }
  return 0;
}

// ───────────────────────────── metrics ─────────────────────────────

/** Records started this long before the period still count (a deployment may go live, or be rolled back, days after it started). */
const METRICS_LOOKBACK_MS = 14 * 86_400_000;

/**
 * `cutover metrics <service> [environment] [--since 30d] [--json]`: the four DORA figures per
 * environment (lib/domain/dora-metrics.ts has their definitions; the README says the same), computed
 * from the ledger's records over `since` → now: a table, or the reports as JSON.
 * @throws CliError for a bad --since, or a service / environment the ledger does not know
 */
export async function metrics(ctx: CommandContext, service: string, environment: string | undefined, opts: { since?: string } = {}): Promise<number> {
  const now = ctx.target.now();
  let since: string;
  try {
    since = parseSince(opts.since ?? '30d', now);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const all = await listEnvironments(ctx.target.tableName);
  const refs = environment ? [{ service, environment }] : all.filter((r) => r.service === service);
  if (refs.length === 0 || (environment && !all.some((r) => r.service === service && r.environment === environment))) {
    throw new CliError(await unknownEnvironment(ctx, { service, environment: environment ?? '' }));
  }
  const lookback = new Date(Date.parse(since) - METRICS_LOOKBACK_MS).toISOString();
  const reports = await Promise.all(
    refs.map(async (ref) => computeDora(await ctx.reader.historySince(ref, lookback), { ...ref, since, until: now.toISOString() })),
  );
  if (ctx.json) {
    ctx.io.stdout(json(environment ? reports[0] : reports));
    return 0;
  }
  ctx.io.stdout(renderDora(reports));
  return 0;
}

/** The reports of one service as a table (one row per environment), with each figure's DORA band. */
export function renderDora(reports: readonly DoraReport[]): string {
  if (reports.length === 0) return 'no environments';
  const p = reports[0]!.period;
  const rate = (r: DoraReport) => (r.changeFailureRate.rate === null ? '—' : `${r.changeFailureRate.rate.toFixed(1)}%`);
  const band = (b: string | null) => (b ? ` (${b})` : '');
  const rows = reports.map((r) => [
    r.environment,
    `${r.deploymentFrequency.deployments} (${r.deploymentFrequency.perDay.toFixed(2)}/day)${band(r.deploymentFrequency.band)}`,
    `${formatDuration(r.leadTime.medianSeconds)} / ${formatDuration(r.leadTime.p90Seconds)}${band(r.leadTime.band)}${r.leadTime.unknownCommitTime ? ` [${r.leadTime.unknownCommitTime} without commit time]` : ''}`,
    `${r.changeFailureRate.failed} of ${r.changeFailureRate.total} = ${rate(r)}${band(r.changeFailureRate.band)}`,
    `${formatDuration(r.timeToRestore.medianSeconds)} / ${formatDuration(r.timeToRestore.p90Seconds)}${band(r.timeToRestore.band)}${r.timeToRestore.unrestored.length ? ` [${r.timeToRestore.unrestored.length} not restored]` : ''}`,
  ]);
  const header = ['environment', 'deployment frequency', 'lead time (median / p90)', 'change failure rate', 'time to restore (median / p90)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [
    `${reports[0]!.service}: DORA metrics from ${p.since.slice(0, 16).replace('T', ' ')}Z to ${p.until.slice(0, 16).replace('T', ' ')}Z (${p.days.toFixed(1)} days)`,
    line(header),
    ...rows.map(line),
    'Definitions: README "DORA metrics". Bands: DORA State of DevOps (elite, high, medium, low).',
  ].join('\n');
}

// ───────────────────────────── history ─────────────────────────────

/** The message without its `<service>/<environment>: ` prefix (the table is about one environment). */
function withoutPrefix(message: string, r: DeploymentRow): string {
  const prefix = r.service && r.environment ? `${r.service}/${r.environment}: ` : undefined;
  return prefix && message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

/** One line for the RESULT column: error and message, or a rollback's reason. */
function resultText(r: DeploymentRow): string {
  const parts: string[] = [];
  if (r.rolledBackBy) parts.push(`rolled back by ${r.rolledBackBy}.`);
  if (r.kind === 'rollback' && r.reason) parts.push(`reason: ${r.reason}.`);
  if (r.error) parts.push(`${r.error}:`);
  if (r.message) parts.push(withoutPrefix(r.message, r));
  else if (r.status === 'in-progress') parts.push(r.pendingKind ? `waiting (${r.pendingKind})` : 'running');
  return parts.join(' ');
}

function recordDuration(r: DeploymentRow, now: Date): string {
  const start = Date.parse(r.startedAt);
  if (r.finishedAt) return duration(Date.parse(r.finishedAt) - start);
  return r.status === 'in-progress' ? `${duration(now.getTime() - start)} so far` : '—';
}

/** A record for `--json`: without the table keys and the task token (a credential to answer a wait). */
export function publicRecord(record: DeploymentRow): Omit<DeploymentRow, 'pk' | 'sk' | 'pendingTaskToken'> {
  const { pk: _pk, sk: _sk, pendingTaskToken: _token, ...rest } = record as DeploymentRow & { pk?: unknown; sk?: unknown; pendingTaskToken?: unknown };
  return rest;
}

/** Deployments and rollbacks as a table, newest first. */
export function renderHistory(records: readonly DeploymentRow[], now: Date, resultWidth = 90): string {
  return table(
    [
      { header: 'ID' },
      { header: 'KIND' },
      { header: 'STATUS' },
      { header: 'COMMIT' },
      { header: 'TRIGGER' },
      { header: 'STARTED' },
      { header: 'DURATION', align: 'right' },
      { header: 'RESULT' },
    ],
    records.map((r) => [
      r.deploymentId,
      r.kind ?? 'deploy',
      r.status,
      r.commit && r.commit !== '-' ? shortCommit(r.commit) : '—',
      triggerText(r.trigger),
      when(r.startedAt, now),
      recordDuration(r, now),
      shorten(resultText(r), resultWidth),
    ]),
  );
}

/** Audit events as a table, in the order given. */
export function renderTimeline(events: readonly Audit[], now: Date): string {
  return table(
    [{ header: 'AT' }, { header: 'KIND' }, { header: 'ACTOR' }, { header: 'MESSAGE' }],
    events.map((e) => [when(e.at, now), e.kind, e.actor, shorten(e.message, 120)]),
  );
}

export interface HistoryOptions {
  /** Records to show, newest first. @default 20 */
  readonly limit?: number;
  /** Show this deployment's audit events and execution steps instead. */
  readonly deployment?: string;
}

/** `cutover history <service> <environment> [--limit n] [--deployment id]`. */
export async function history(ctx: CommandContext, ref: EnvRef, opts: HistoryOptions = {}): Promise<number> {
  if (opts.deployment) return deploymentDetail(ctx, ref, opts.deployment);
  const records = await ctx.reader.history(ref, opts.limit ?? 20);
  if (records.length === 0 && !(await knows(ctx, ref))) throw new CliError(await unknownEnvironment(ctx, ref));
  if (ctx.json) {
    ctx.io.stdout(json(records.map(publicRecord)));
    return 0;
  }
  const now = ctx.target.now();
  ctx.io.stdout(records.length === 0 ? `${envName(ref)}: no deployments yet.` : `${envName(ref)}: ${records.length} most recent (newest first)\n${renderHistory(records, now)}`);
  return 0;
}

async function deploymentDetail(ctx: CommandContext, ref: EnvRef, deploymentId: string): Promise<number> {
  const record = await ctx.reader.deployment(ref, deploymentId);
  const audit = (await ctx.reader.timeline(ref, { deploymentId, limit: 500 })).reverse();
  if (!record && audit.length === 0) {
    throw new CliError(`no deployment ${deploymentId} of ${envName(ref)} in the ledger: list them with ${cmd(ref, 'history')}.`);
  }
  const executionArn = record?.executionArn ?? audit.find((e) => e.executionArn)?.executionArn;
  const execution = executionArn ? await describeExecution(executionArn) : undefined;
  const events = execution && executionArn ? await fullHistory(executionArn) : [];
  const steps = stepTimings(events);
  const start = steps[0]?.enteredAt.getTime();
  if (ctx.json) {
    ctx.io.stdout(
      json({
        deployment: record ? publicRecord(record) : null,
        audit,
        execution: execution
          ? { executionArn, status: execution.status, startDate: execution.startDate, stopDate: execution.stopDate ?? null, error: execution.error ?? null, cause: execution.cause ?? null }
          : null,
        steps: steps.map((s) => ({ name: s.name, type: s.type, enteredAt: s.enteredAt.toISOString(), exitedAt: s.exitedAt?.toISOString() ?? null, durationMs: s.durationMs ?? null, errors: s.errors })),
      }),
    );
    return 0;
  }
  const now = ctx.target.now();
  const out: string[] = [];
  if (record) {
    out.push(`${record.kind === 'rollback' ? 'Rollback' : 'Deployment'} ${record.deploymentId} of ${envName(ref)}`);
    out.push(
      fields([
        ['status', record.status + (record.rolledBackBy ? ` (rolled back by ${record.rolledBackBy})` : '')],
        ['commit', record.commit],
        ['image', record.image],
        ['trigger', triggerText(record.trigger)],
        ['reason', record.reason],
        ['started', when(record.startedAt, now)],
        ['finished', record.finishedAt ? `${when(record.finishedAt, now)}, after ${recordDuration(record, now)}` : undefined],
        ['error', record.error ?? undefined],
        ['message', record.message],
        ['execution', record.executionArn],
      ]),
    );
  } else {
    out.push(`Deployment ${deploymentId} of ${envName(ref)} (no record: it never took the lock)`);
  }
  out.push('', `Audit timeline (${audit.length} event${audit.length === 1 ? '' : 's'}, oldest first)`);
  out.push(audit.length > 0 ? renderTimeline(audit, now) : '  (none)');
  out.push('', execution ? `Execution steps (${execution.status}${execution.error ? ` ${execution.error}` : ''})` : 'Execution steps: the execution is gone (Step Functions keeps closed executions for 90 days)');
  if (steps.length > 0) {
    out.push(
      table(
        [{ header: 'STEP' }, { header: 'TYPE' }, { header: 'ENTERED' }, { header: 'AT', align: 'right' }, { header: 'DURATION', align: 'right' }, { header: 'NOTES' }],
        steps.map((s) => [
          s.name,
          s.type,
          isoSeconds(s.enteredAt),
          start === undefined ? '' : `t+${duration(s.enteredAt.getTime() - start)}`,
          s.durationMs === undefined ? (execution?.status === 'RUNNING' ? 'running' : '—') : duration(s.durationMs),
          s.errors.length > 0 ? `errors: ${s.errors.join(', ')}` : '',
        ]),
      ),
    );
  }
  if (execution?.cause) out.push('', `cause: ${shorten(execution.cause, 400)}`);
  ctx.io.stdout(out.join('\n'));
  return 0;
}

// ───────────────────────────── start executions ─────────────────────────────

/** Field paths of the inputs → the flag an operator gives. */
const FLAG_OF: Record<string, string> = {
  'release.commit': '--commit',
  'release.image': '--image',
  'release.message': '--message',
  strategy: '--strategy',
  reason: '--reason',
  toDeployment: '--to',
  'trigger.actor': '--operator',
  service: '<service>',
  environment: '<environment>',
};

function validate<T>(schema: z.core.$ZodType<T>, input: unknown): T {
  const parsed = z.safeParse(schema, input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.join('.');
  throw new CliError(`${FLAG_OF[path] ?? path}: ${issue.message}`);
}

interface Started {
  readonly executionArn: string;
  readonly deploymentId: string;
}

/**
 * Start an execution named by a fresh UUID (what StartExecution would pick), through the idempotent
 * adapter: the SDK's own retries of a request that reached AWS start nothing twice.
 */
async function start(ctx: CommandContext, kind: StateMachineKind, input: unknown): Promise<Started> {
  const stateMachineArn = await ctx.target.stateMachineArn(kind);
  const out = await startExecutionByName({ stateMachineArn, name: randomUUID(), input });
  return { executionArn: out.executionArn, deploymentId: out.executionArn.slice(out.executionArn.lastIndexOf(':') + 1) };
}

/** Errors of executions that were refused before they changed anything (bad input, the lock held). */
const REFUSED = new Set(['Cutover.InvalidInput', 'Cutover.DeploymentInProgress', 'States.Runtime']);

/**
 * Wait until the execution holds the environment's lock (it was accepted) or has closed; gives up
 * quietly after `acceptTimeoutMs`.
 */
async function untilAccepted(ctx: CommandContext, ref: EnvRef, started: Started): Promise<DescribeExecutionCommandOutput | 'accepted' | 'pending'> {
  const deadline = Date.now() + ctx.acceptTimeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, ctx.pollMs)) {
    const d = await describeExecution(started.executionArn);
    if (d && d.status !== 'RUNNING' && d.status !== 'PENDING_REDRIVE') return d;
    const lock = await ctx.reader.lock(ref);
    if (lock?.executionArn === started.executionArn) return 'accepted';
    if (Date.now() >= deadline) return 'pending';
    await ctx.sleep(delay);
  }
}

/** Print a closed execution's result; the exit code (0 only when it succeeded). */
function finalResult(ctx: CommandContext, what: string, started: Started, d: DescribeExecutionCommandOutput): number {
  const ok = d.status === 'SUCCEEDED';
  const outcome = OutcomeSchema.safeParse(parseJson(d.output));
  const took = d.startDate && d.stopDate ? duration(new Date(d.stopDate).getTime() - new Date(d.startDate).getTime()) : undefined;
  if (ctx.json) {
    ctx.io.stdout(
      json({
        deploymentId: started.deploymentId,
        executionArn: started.executionArn,
        status: d.status,
        error: d.error ?? null,
        cause: d.cause ?? null,
        output: parseJson(d.output) ?? null,
      }),
    );
  } else if (ok) {
    ctx.io.stdout(`✔ ${what} ${started.deploymentId} SUCCEEDED${took ? ` in ${took}` : ''}${outcome.success && outcome.data.message ? `: ${outcome.data.message}` : ''}`);
  } else {
    ctx.io.stdout(`✘ ${what} ${started.deploymentId} ${d.status}${d.error ? ` (${d.error})` : ''}${d.cause ? `: ${d.cause}` : ''}`);
  }
  return ok ? 0 : 1;
}

/**
 * Follow an execution until it closes: poll DescribeExecution every `pollMs`, print each state it
 * enters (and what a callback wait waits for).
 */
async function follow(ctx: CommandContext, ref: EnvRef, what: string, started: Started): Promise<number> {
  const progress = (line: string) => (ctx.json ? ctx.io.stderr(line) : ctx.io.stdout(line));
  let lastId = 0;
  let announcedWait = '';
  let lastPrinted = '';
  for (;;) {
    const d = await describeExecution(started.executionArn);
    if (!d) throw new CliError(`execution ${started.executionArn} does not exist (any more).`);
    const events = await recentEvents(started.executionArn, 100);
    for (const e of statesEnteredSince(events, lastId)) {
      // The steps that do something: Task states. A polling loop (Wait → Check… → Choice) shows once.
      if (e.type !== 'TaskStateEntered') continue;
      const name = e.stateEnteredEventDetails?.name ?? '?';
      if (name === lastPrinted) continue;
      lastPrinted = name;
      progress(`  ${e.timestamp ? isoSeconds(e.timestamp) : ''}  ▶ ${name}`);
    }
    lastId = Math.max(lastId, ...events.map((e) => e.id ?? 0));
    if (d.status !== 'RUNNING' && d.status !== 'PENDING_REDRIVE') return finalResult(ctx, what, started, d);
    const cur = currentState(events);
    if (cur.waitingForCallback && cur.state) {
      const lock = await ctx.reader.lock(ref);
      const key = `${cur.state}@${String(cur.enteredAt)}`;
      if (lock?.executionArn === started.executionArn && lock.pendingKind && key !== announcedWait) {
        announcedWait = key;
        progress(`      waits for ${WAIT_LABEL[lock.pendingKind]}: ${waitActions(ref, lock.pendingKind).join(' | ')}`);
      }
    }
    await ctx.sleep(ctx.pollMs);
  }
}

/** After StartExecution: make sure it was accepted (or report why not), audit, then follow or report. */
async function afterStart(
  ctx: CommandContext,
  ref: EnvRef,
  what: 'deployment' | 'rollback',
  started: Started,
  audit: { at: Date; message: string; detail: Record<string, unknown> },
  wait: boolean,
): Promise<number> {
  const accepted = await untilAccepted(ctx, ref, started);
  if (typeof accepted === 'object' && accepted.status === 'FAILED' && accepted.error && REFUSED.has(accepted.error)) {
    throw new CliError(`${what} ${started.deploymentId} of ${envName(ref)} was refused (${accepted.error}): ${accepted.cause ?? 'no cause given'}`);
  }
  await auditAction(ctx, ref, audit.at, audit.message, audit.detail, started);
  if (wait) {
    if (!ctx.json) ctx.io.stdout(`Started ${what} ${started.deploymentId} of ${envName(ref)}; following it (every ${duration(ctx.pollMs)}):`);
    return follow(ctx, ref, what, started);
  }
  if (typeof accepted === 'object') return finalResult(ctx, what, started, accepted);
  if (ctx.json) {
    ctx.io.stdout(json({ deploymentId: started.deploymentId, executionArn: started.executionArn, status: 'RUNNING', accepted: accepted === 'accepted' }));
  } else {
    ctx.io.stdout(
      `Started ${what} ${started.deploymentId} of ${envName(ref)}${accepted === 'accepted' ? ' (it holds the lock)' : ' (not yet holding the lock)'}.\n` +
        `  execution ${started.executionArn}\n  follow it with ${cmd(ref, 'status')} or ${cmd(ref, 'history', `--deployment ${started.deploymentId}`)}`,
    );
  }
  return 0;
}

export interface DeployOptions {
  readonly commit: string;
  readonly image?: string;
  readonly message?: string;
  /** This deployment's strategy instead of the environment's: `all-at-once`, or the config's strategy JSON. */
  readonly strategy?: string;
  /** Let the deployment through a closed change window or a freeze; the reason is recorded. */
  readonly overrideWindow?: string;
  readonly wait?: boolean;
}

/** `--strategy`: `all-at-once` or a strategy object as JSON (validated with the deploy input). */
function strategyOption(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  if (value === 'all-at-once') return { type: 'all-at-once' };
  try {
    return JSON.parse(value);
  } catch {
    throw new CliError(`--strategy: "${value}" is neither "all-at-once" nor JSON like '{"type":"canary","percent":10,"bakeSeconds":300}'.`);
  }
}

/** `cutover deploy <service> <environment> --commit <sha> [--image] [--message] [--wait]`. */
export async function deploy(ctx: CommandContext, ref: EnvRef, opts: DeployOptions): Promise<number> {
  const input: ExplicitDeployInput = validate(ExplicitDeployInputSchema, {
    service: ref.service,
    environment: ref.environment,
    release: { commit: opts.commit, ...(opts.image ? { image: opts.image } : {}), ...(opts.message ? { message: opts.message } : {}) },
    trigger: { source: 'cli', actor: ctx.operator },
    ...(opts.strategy !== undefined ? { strategy: strategyOption(opts.strategy) } : {}),
    ...(opts.overrideWindow !== undefined ? { windowOverride: { reason: requireReason(opts.overrideWindow), operator: ctx.operator } } : {}),
  });
  const at = ctx.target.now();
  const started = await start(ctx, 'deploy', input);
  return afterStart(
    ctx,
    ref,
    'deployment',
    started,
    { at, message: `${ctx.operator} started deployment ${started.deploymentId} of commit ${shortCommit(opts.commit)} from the CLI`, detail: { action: 'deploy', commit: opts.commit, image: opts.image, message: opts.message, ...(opts.overrideWindow ? { overrideWindow: opts.overrideWindow } : {}) } },
    opts.wait === true,
  );
}

export interface PromoteReleaseOptions {
  /** The commit to promote (7-40 hex); @default the release offered to the environment */
  readonly commit?: string;
  /** Deploy it although it did not succeed in the environment this one promotes from (needs `reason`). */
  readonly force?: boolean;
  readonly reason?: string;
  readonly wait?: boolean;
}

/**
 * `cutover promote-release <service> <environment> [--commit <sha>] [--force --reason <why>] [--wait]`:
 * deploy to `environment` the release that succeeded in the environment it promotes from
 * (`promotion.from`) — the same commit and image digest. Without `--commit`, the release offered to it
 * (the offer item a success there left, `promotion.auto: false`). The deploy state machine's
 * `CheckPromotion` enforces the rule server-side: a release that did not succeed there is refused
 * (`Cutover.NotPromotable`) unless `--force --reason` (recorded).
 * @throws CliError when nothing is offered and no --commit is given, or --force comes without --reason
 */
export async function promoteRelease(ctx: CommandContext, ref: EnvRef, opts: PromoteReleaseOptions = {}): Promise<number> {
  if (opts.force && !opts.reason?.trim()) throw new CliError('--force needs --reason: say why a release that did not succeed in the previous environment goes here (it is recorded).');
  if (opts.reason && !opts.force) throw new CliError('--reason goes with --force (a normal promotion needs no reason); drop it, or add --force to override the promotion rule.');
  const offer = await ctx.ledger.getOffer(ref.service, ref.environment);
  const offered = offer && (!opts.commit || offer.commit.toLowerCase().startsWith(opts.commit.toLowerCase()) || opts.commit.toLowerCase().startsWith(offer.commit.toLowerCase())) ? offer : undefined;
  if (!offered && !opts.commit) {
    throw new CliError(`no release is offered to ${envName(ref)}: name one with --commit <sha> (it must have succeeded in the environment ${ref.environment} promotes from), or see ${cmd(ref, 'status')}.`);
  }
  const extra = opts.force ? { promotionOverride: { reason: requireReason(opts.reason), operator: ctx.operator } } : {};
  const input: ExplicitDeployInput = validate(
    ExplicitDeployInputSchema,
    offered
      ? promotionInput(ref.service, ref.environment, { deploymentId: offered.deploymentId, fromEnvironment: offered.fromEnvironment, commit: offered.commit, image: offered.image, migrations: offered.migrations, ...(offered.message ? { message: offered.message } : {}), ...(offered.committedAt ? { committedAt: offered.committedAt } : {}) }, ctx.operator, extra)
      : { service: ref.service, environment: ref.environment, release: { commit: opts.commit! }, trigger: { source: 'promotion', actor: ctx.operator }, ...extra },
  );
  const at = ctx.target.now();
  const started = await start(ctx, 'deploy', input);
  const what = offered ? `release ${shortCommit(offered.commit)} from ${offered.fromEnvironment} (deployment ${offered.deploymentId}, image ${offered.image})` : `commit ${shortCommit(opts.commit!)}`;
  return afterStart(
    ctx,
    ref,
    'deployment',
    started,
    { at, message: `${ctx.operator} promoted ${what} to ${ref.environment}${opts.force ? ` with --force: ${opts.reason}` : ''} (deployment ${started.deploymentId})`, detail: { action: 'promote-release', commit: input.release.commit, image: input.release.image, force: opts.force === true, ...(opts.reason ? { reason: opts.reason } : {}) } },
    opts.wait === true,
  );
}

/** The release a deployment deployed: from its execution input, else from its record. */
async function releaseOf(record: DeploymentRow): Promise<ExplicitDeployInput['release']> {
  const execution = await describeExecution(record.executionArn);
  const input = ExplicitDeployInputSchema.safeParse(parseJson(execution?.input));
  if (input.success) {
    const { commit, image, message, migrations, ref } = input.data.release;
    return { commit, image: image ?? record.image, ...(message ? { message } : {}), ...(migrations !== undefined ? { migrations } : {}), ...(ref ? { ref } : {}) };
  }
  if (!record.commit) throw new CliError(`deployment ${record.deploymentId} has no commit on its record and its execution input is gone: deploy the commit again with cutover deploy.`);
  return { commit: record.commit, ...(record.image ? { image: record.image } : {}) };
}

/** `cutover retry <service> <environment> <deploymentId> [--wait]`: a failed deployment's release again. */
export async function retry(ctx: CommandContext, ref: EnvRef, deploymentId: string, opts: { wait?: boolean } = {}): Promise<number> {
  const record = await ctx.reader.deployment(ref, deploymentId);
  if (!record) {
    const known = await knows(ctx, ref);
    throw new CliError(
      known
        ? `no deployment ${deploymentId} of ${envName(ref)} in the ledger: list them with ${cmd(ref, 'history')}.`
        : `no deployment ${deploymentId}: ${await unknownEnvironment(ctx, ref)}`,
    );
  }
  if (record.kind === 'rollback') throw new CliError(`${deploymentId} is a rollback, not a deployment: to roll back again, run ${cmd(ref, 'rollback', '--reason <text>')}.`);
  if (record.status === 'in-progress') {
    throw new CliError(`deployment ${deploymentId} of ${envName(ref)} is still running: there is nothing to retry yet (see ${cmd(ref, 'status')}).`);
  }
  if (record.status === 'succeeded') {
    throw new CliError(`deployment ${deploymentId} of ${envName(ref)} succeeded: there is nothing to retry (deploy a new commit with ${cmd(ref, 'deploy', '--commit <sha>')}).`);
  }
  const release = await releaseOf(record);
  const input = validate(ExplicitDeployInputSchema, {
    service: ref.service,
    environment: ref.environment,
    release,
    trigger: { source: 'retry', actor: ctx.operator, of: deploymentId },
  });
  const at = ctx.target.now();
  const started = await start(ctx, 'deploy', input);
  return afterStart(
    ctx,
    ref,
    'deployment',
    started,
    {
      at,
      message: `${ctx.operator} retried ${record.status} deployment ${deploymentId} (commit ${shortCommit(release.commit)}) as ${started.deploymentId}`,
      detail: { action: 'retry', of: deploymentId, commit: release.commit, image: release.image },
    },
    opts.wait === true,
  );
}

export interface RollbackOptions {
  readonly reason: string;
  /** The succeeded deployment whose release to go back to. */
  readonly to?: string;
  readonly wait?: boolean;
}

/** `cutover rollback <service> <environment> --reason <text> [--to <deploymentId>] [--wait]`. */
export async function rollback(ctx: CommandContext, ref: EnvRef, opts: RollbackOptions): Promise<number> {
  const input: RollbackInput = validate(RollbackInputSchema, {
    service: ref.service,
    environment: ref.environment,
    reason: opts.reason,
    ...(opts.to ? { toDeployment: opts.to } : {}),
    trigger: { source: 'cli', actor: ctx.operator },
  });
  if (opts.to) {
    const target = await ctx.reader.deployment(ref, opts.to);
    if (!target) throw new CliError(`--to: no deployment ${opts.to} of ${envName(ref)} in the ledger: list them with ${cmd(ref, 'history')}.`);
    if (target.status !== 'succeeded' || target.kind === 'rollback') {
      throw new CliError(`--to: ${target.kind === 'rollback' ? 'rollback' : 'deployment'} ${opts.to} ${target.kind === 'rollback' ? 'is a rollback' : `is ${target.status}`}; roll back to a deployment that succeeded.`);
    }
  }
  const at = ctx.target.now();
  const started = await start(ctx, 'rollback', input);
  return afterStart(
    ctx,
    ref,
    'rollback',
    started,
    {
      at,
      message: `${ctx.operator} started rollback ${started.deploymentId}${opts.to ? ` to deployment ${opts.to}` : ''}: ${input.reason}`,
      detail: { action: 'rollback', reason: input.reason, ...(opts.to ? { toDeployment: opts.to } : {}) },
    },
    opts.wait === true,
  );
}

// ───────────────────────────── answer waits ─────────────────────────────

function printAction(ctx: CommandContext, text: string, data: Record<string, unknown>): number {
  ctx.io.stdout(ctx.json ? json(data) : text);
  return 0;
}

export interface ApproveOptions {
  readonly comment?: string;
  readonly decision?: 'restore' | 'keep';
}

/**
 * `cutover approve <service> <environment> [--comment] [--decision restore|keep]`: an approval gate
 * (SendTaskSuccess `{approved, operator, comment}`) or a database decision (`{decision, operator}`).
 */
export async function approve(ctx: CommandContext, ref: EnvRef, opts: ApproveOptions = {}): Promise<number> {
  const r = await running(ctx, ref);
  const id = r.lock.deploymentId;
  if (r.wait?.kind === 'approval') {
    if (opts.decision) throw new CliError(`--decision answers a database decision, but deployment ${id} of ${envName(ref)} waits for an approval: run ${cmd(ref, 'approve')} without --decision.`);
    return answerApproval(ctx, ref, { service: ref.service, environment: ref.environment, decision: 'approve', operator: ctx.operator, ...(opts.comment ? { comment: opts.comment } : {}) });
  }
  if (r.wait?.kind === 'database-decision') {
    if (!opts.decision) {
      throw new CliError(
        `deployment ${id} of ${envName(ref)} waits for a database decision (${questionSummary(r.wait.question, ref).replace(/\.$/, '')}): answer with --decision restore (restores the snapshot, discarding the writes since it) or --decision keep.`,
      );
    }
    const at = ctx.target.now();
    const answer = await succeedTask(r.wait.token, { decision: opts.decision, operator: ctx.operator });
    if (answer === 'closed') throw closedWait(ref, r);
    await auditAction(ctx, ref, at, `${ctx.operator} decided to ${opts.decision} the database of deployment ${id}`, { action: 'database-decision', decision: opts.decision }, r.lock);
    return printAction(ctx, `Answered deployment ${id} of ${envName(ref)}: ${opts.decision === 'restore' ? 'restore the snapshot' : 'keep the database as it is'} (decided by ${ctx.operator}).`, { action: 'database-decision', service: ref.service, environment: ref.environment, deploymentId: id, executionArn: r.lock.executionArn, operator: ctx.operator, decision: opts.decision });
  }
  throw new CliError(`deployment ${id} of ${envName(ref)} is not waiting for an approval or a database decision: ${describeWait(ref, r)}.`);
}

/** `cutover reject <service> <environment> --reason <text>`: SendTaskFailure `Cutover.Rejected` on an approval gate. */
export async function reject(ctx: CommandContext, ref: EnvRef, opts: { reason: string }): Promise<number> {
  const reason = requireReason(opts.reason);
  const r = await running(ctx, ref);
  const id = r.lock.deploymentId;
  if (r.wait?.kind !== 'approval') throw new CliError(`deployment ${id} of ${envName(ref)} is not waiting for an approval: ${describeWait(ref, r)}.`);
  return answerApproval(ctx, ref, { service: ref.service, environment: ref.environment, decision: 'reject', operator: ctx.operator, reason });
}

const ApprovalAnswerBodySchema = z.looseObject({ message: z.string() });

/**
 * Approve or reject through the approval function, which checks the caller (SigV4-verified) against
 * the environment's approvers, records the approval, answers the wait and audits it.
 * @throws CliError with the function's own message (not an approver, not waiting, wait closed), or
 *   naming the managed policy when IAM refused the call
 */
async function answerApproval(ctx: CommandContext, ref: EnvRef, request: ApprovalFunctionRequest): Promise<number> {
  const answer = await ctx.callApprovalFunction(request);
  const body = ApprovalAnswerBodySchema.safeParse(answer.body);
  if (answer.status === 200 && body.success) {
    ctx.io.stdout(ctx.json ? json(answer.body) : body.data.message);
    return 0;
  }
  if (body.success) {
    const twinHint =
      answer.status === 403 && ctx.target.kind === 'twin'
        ? ' On the local twin the access key is the identity: act as an approver with AWS_ACCESS_KEY_ID=<a key the twin account file\'s principals map to one>.'
        : '';
    throw new CliError(`${body.data.message}${twinHint}`);
  }
  if (answer.status === 403) {
    // IAM refused the call before the function ran (a function URL answers {"Message":"Forbidden"}).
    throw new CliError(
      `AWS refused your call to the approval function (HTTP 403${ctx.callerArn ? `, as ${ctx.callerArn}` : ''}): your identity needs lambda:InvokeFunctionUrl and lambda:InvokeFunction on it — ` +
        'attach the stack\'s <stack>-approver (or -operator) managed policy, and check your credentials and region.',
    );
  }
  throw new CliError(`the approval function answered HTTP ${answer.status}${answer.text ? `: ${answer.text.slice(0, 500)}` : ''}; ${request.decision === 'approve' ? 'the deployment was not approved' : 'the deployment was not rejected'} — see ${cmd(ref, 'status')}.`);
}

/**
 * `cutover override-window <service> <environment> --reason <text>`: let a deployment that waits for
 * its change window (or for a freeze to end) go on now: SendTaskSuccess `{override: true, operator,
 * reason}` on its `window` wait. The deployment records the override (who, why) on its record and audit
 * timeline. A deployment not yet started takes `cutover deploy --override-window <reason>` instead.
 * @throws CliError when no deployment waits for its window, or without a reason
 */
export async function overrideWindow(ctx: CommandContext, ref: EnvRef, opts: { reason: string }): Promise<number> {
  const reason = requireReason(opts.reason);
  const r = await running(ctx, ref);
  const id = r.lock.deploymentId;
  if (r.wait?.kind !== 'window') throw new CliError(`deployment ${id} of ${envName(ref)} is not waiting for its change window: ${describeWait(ref, r)}.`);
  const at = ctx.target.now();
  const answer = await succeedTask(r.wait.token, { override: true, operator: ctx.operator, reason, ...(ctx.callerArn ? { callerArn: ctx.callerArn } : {}) });
  if (answer === 'closed') throw closedWait(ref, r);
  await auditAction(ctx, ref, at, `${ctx.operator} overrode the change window of deployment ${id}: ${reason}`, { action: 'override-window', reason }, r.lock);
  return printAction(ctx, `Overrode the change window of deployment ${id} of ${envName(ref)} (${ctx.operator}): it starts changing things now. Reason recorded: ${reason}`, { action: 'override-window', service: ref.service, environment: ref.environment, deploymentId: id, executionArn: r.lock.executionArn, operator: ctx.operator, reason });
}

/** `cutover promote <service> <environment>`: end the bake with SendTaskSuccess `{action: 'promote-now'}`. */
export async function promote(ctx: CommandContext, ref: EnvRef): Promise<number> {
  const r = await running(ctx, ref);
  const id = r.lock.deploymentId;
  if (r.wait?.kind !== 'bake') throw new CliError(`deployment ${id} of ${envName(ref)} is not baking: ${describeWait(ref, r)}.`);
  const at = ctx.target.now();
  const answer = await succeedTask(r.wait.token, { action: 'promote-now', operator: ctx.operator });
  if (answer === 'closed') throw closedWait(ref, r);
  await auditAction(ctx, ref, at, `${ctx.operator} promoted deployment ${id} now: 100% without the remaining bakes`, { action: 'promote' }, r.lock);
  return printAction(ctx, `Promoted deployment ${id} of ${envName(ref)} now (${ctx.operator}): traffic goes to 100% without the remaining bakes.`, { action: 'promote', service: ref.service, environment: ref.environment, deploymentId: id, executionArn: r.lock.executionArn, operator: ctx.operator });
}

function requireReason(reason: string | undefined): string {
  const text = (reason ?? '').trim();
  if (!text) throw new CliError('--reason: say why (it is recorded on the deployment and in the audit timeline).');
  if (text.length > 2000) throw new CliError(`--reason: at most 2000 characters (got ${text.length}).`);
  return text;
}

/**
 * `cutover abort <service> <environment> --reason <text>`: a bake or approval wait fails with
 * `Cutover.Aborted` (the deployment rolls back); otherwise the abort is requested on the lock and
 * takes effect at the next bake or approval wait.
 */
export async function abort(ctx: CommandContext, ref: EnvRef, opts: { reason: string }): Promise<number> {
  const reason = requireReason(opts.reason);
  const r = await running(ctx, ref);
  const id = r.lock.deploymentId;
  const purpose = r.lock.purpose ?? 'deploy';
  if (purpose !== 'deploy') {
    throw new CliError(`${envName(ref)} is not being deployed: its lock is held by ${purpose} ${id}, which cannot be aborted.`);
  }
  if (r.wait?.kind === 'database-decision') {
    throw new CliError(
      `deployment ${id} of ${envName(ref)} is already rolling back and waits for a database decision (${questionSummary(r.wait.question, ref).replace(/\.$/, '')}): answer with ${waitActions(ref, 'database-decision').join(' | ')}.`,
    );
  }
  const cause = `${reason} (aborted by ${ctx.operator})`;
  const at = ctx.target.now();
  const base = { service: ref.service, environment: ref.environment, deploymentId: id, executionArn: r.lock.executionArn, operator: ctx.operator, reason };
  if (r.wait) {
    const answer = await failTask(r.wait.token, 'Cutover.Aborted', cause);
    if (answer === 'answered') {
      const during = r.wait.kind === 'bake' ? 'the bake' : r.wait.kind === 'approval' ? 'the approval wait' : `the wait for ${WAIT_LABEL[r.wait.kind]}`;
      await auditAction(ctx, ref, at, `${ctx.operator} aborted deployment ${id} during ${during}: ${reason}`, { action: 'abort', reason, during: r.wait.kind }, r.lock);
      const next = r.wait.kind === 'bake' || r.wait.kind === 'approval' ? 'it rolls back now' : 'it ends now, having changed nothing';
      return printAction(ctx, `Aborted deployment ${id} of ${envName(ref)} (${ctx.operator}): ${next}. Follow it with ${cmd(ref, 'status')}.`, { action: 'abort', ...base, result: 'aborted' });
    }
    // The wait ended meanwhile: fall through to a requested abort for the next wait.
  }
  const requested = await ctx.ledger.requestAbort(ref.service, ref.environment, r.lock.executionArn, { by: ctx.operator, reason, at: at.toISOString() });
  if (!requested) throw new CliError(`deployment ${id} of ${envName(ref)} finished meanwhile: there is nothing to abort (see ${cmd(ref, 'history')}).`);
  await auditAction(ctx, ref, at, `${ctx.operator} requested an abort of deployment ${id}: ${reason}`, { action: 'abort-requested', reason, state: r.current.state }, r.lock);
  return printAction(
    ctx,
    `Abort requested for deployment ${id} of ${envName(ref)} (${ctx.operator}): it is ${r.current.state ? `in state ${r.current.state}` : 'running'}, not in a bake or approval wait, so the abort takes effect at its next bake or approval wait (a deployment that finishes before reaching one is not rolled back by it).`,
    { action: 'abort', ...base, result: 'requested', state: r.current.state ?? null },
  );
}
