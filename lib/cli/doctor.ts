/**
 * `cutover doctor`: a read-only preflight of the AWS resources a cutover config names, run before the
 * first deployment against an account (`--stack`, `--region`: the default credential chain) or a local
 * twin (`--endpoint`). For every service and environment it checks, one row each:
 *
 *  - the ECS cluster is ACTIVE, and both slot services (blue and green) exist in it and are ACTIVE;
 *  - each slot's task definition has the container `containerName` (and whether its image comes from
 *    `imageRepository`: a warning when not, since cutover deploys `<imageRepository>:<commit>`);
 *  - the production listener (or rule) forwards to exactly the two slot target groups; the test
 *    listener (or rule) only to slot target groups (cutover points it at the idle slot);
 *  - every alarm exists (metric or composite);
 *  - the database (DB instance or Aurora cluster) exists, runs PostgreSQL and is available;
 *  - the migration command is a plausible exec-form argv;
 *  - the stack's function roles may do what a deployment of this environment does (IAM
 *    SimulatePrincipalPolicy), or `skipped: <why>` where that cannot be simulated (a twin has no IAM;
 *    the caller may not call the simulator).
 *
 * Each row is ✔ (ok), ! (warning), ✘ (fail, with the fix naming the resource and the config field) or
 * – (skipped). The command exits 1 when any row is ✘. It never writes: only Describe*, List*, Get*
 * and SimulatePrincipalPolicy calls (lib/aws/inspect.ts).
 */
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { ContextEntry } from '@aws-sdk/client-iam';
import { z } from 'zod';
import { FUNCTIONS, type FunctionName } from '../catalog';
import { configureClients } from '../aws/clients';
import * as inspect from '../aws/inspect';
import { loadConfigFile } from '../config/load';
import type { Config, EnvironmentConfig, TrafficRoute } from '../config/schema';
import { snapshotIdentifier } from '../domain/plan';
import { explainError, CliError } from './errors';
import { table } from './format';
import { resolveTarget, DEFAULT_STACK, type ResolveDeps, type TargetOptions } from './target';

/** ✔ ok, ! warning (exit 0), ✘ fail (exit 1), – skipped (could not be checked here; exit 0). */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export const STATUS_SYMBOL: Readonly<Record<CheckStatus, string>> = { ok: '✔', warn: '!', fail: '✘', skip: '–' };

/** One row of the doctor's report. */
export interface DoctorRow {
  /** Service name (a key of `services`); undefined for a row about the whole stack. */
  readonly service?: string;
  readonly environment?: string;
  /** What was checked, e.g. `ECS service blue`, `alarm hello-world-5xx`, `IAM traffic`. */
  readonly check: string;
  readonly status: CheckStatus;
  /** What was found, one sentence. */
  readonly detail: string;
  /** For ✘ and !: what to do, naming the resource and the config field. */
  readonly fix?: string;
}

/** Where the IAM rows come from. */
export type IamSource =
  /** Simulate the function roles of this CloudFormation stack. */
  | { readonly stack: string; readonly region?: string }
  /** IAM cannot be simulated here: every IAM row is skipped with this reason. */
  | { readonly skip: string };

/** What {@link runDoctor} checks. */
export interface DoctorInput {
  readonly config: Config;
  /** Only this service. @default every service */
  readonly service?: string;
  /** Only this environment (with `service`). @default every environment */
  readonly environment?: string;
  readonly iam: IamSource;
}

/** The functions whose permissions depend on the environment, and what each needs. */
type RoleFunction = Extract<FunctionName, 'ecs-release' | 'traffic' | 'database' | 'alarm-check' | 'ledger'>;

const field = (service: string, environment: string, path: string) => `services.${service}.environments.${environment}.${path}`;

/**
 * Run every check of the selected environments (in config order) and return the rows.
 * Unexpected errors of a call become a ✘ row naming the call and the error (the check could not be made).
 * @throws CliError when `service` / `environment` name nothing in the config
 */
export async function runDoctor(input: DoctorInput): Promise<DoctorRow[]> {
  const { config } = input;
  if (input.service !== undefined && !(input.service in config.services)) {
    throw new CliError(`service "${input.service}" is not in the config; configured: ${Object.keys(config.services).join(', ')}.`);
  }
  const selected: Array<[string, string, EnvironmentConfig]> = [];
  for (const [service, s] of Object.entries(config.services)) {
    if (input.service !== undefined && service !== input.service) continue;
    if (input.environment !== undefined && !(input.environment in s.environments)) {
      throw new CliError(`environment "${input.environment}" is not configured for service "${service}"; configured: ${Object.keys(s.environments).join(', ')}.`);
    }
    for (const [environment, env] of Object.entries(s.environments)) {
      if (input.environment !== undefined && environment !== input.environment) continue;
      selected.push([service, environment, env]);
    }
  }

  const rows: DoctorRow[] = [];
  const roles = 'skip' in input.iam ? { skip: input.iam.skip } : await stackRoles(input.iam.stack, input.iam.region, rows);
  for (const [service, environment, env] of selected) {
    const at = { service, environment };
    const push = (row: Omit<DoctorRow, 'service' | 'environment'>) => rows.push({ ...at, ...row });
    const slots = await checkEcs(service, environment, env, push);
    await checkRoute(service, environment, env, 'production', env.production, push);
    if (env.test) await checkRoute(service, environment, env, 'test', env.test, push);
    await checkAlarms(service, environment, env, push);
    await checkDatabase(service, environment, env, push);
    await checkIam(service, environment, env, slots, roles, 'skip' in input.iam ? undefined : input.iam.region, push);
  }
  return rows;
}

/** A row for a call that failed unexpectedly: the check could not be made. */
function callFailed(check: string, call: string, err: unknown): Omit<DoctorRow, 'service' | 'environment'> {
  return { check, status: 'fail', detail: `could not check: ${call} failed: ${explainError(err)}`, fix: `make ${call} work for your credentials (it is read-only) and run the doctor again` };
}

// ---------------------------------------------------------------- ECS

/** What the ECS checks found, for the IAM checks. */
interface SlotFindings {
  readonly clusterArn?: string;
  readonly serviceArns: Partial<Record<'blue' | 'green', string>>;
  readonly taskDefinitions: inspect.TaskDefinitionInfo[];
}

type Push = (row: Omit<DoctorRow, 'service' | 'environment'>) => void;

async function checkEcs(service: string, environment: string, env: EnvironmentConfig, push: Push): Promise<SlotFindings> {
  const findings: SlotFindings = { serviceArns: {}, taskDefinitions: [] };
  let cluster: inspect.ClusterInfo | undefined;
  let failed = false;
  try {
    cluster = await inspect.describeCluster(env.cluster);
  } catch (err) {
    push(callFailed('ECS cluster', `ecs:DescribeClusters ${env.cluster}`, err));
    failed = true;
  }
  const notChecked = (why: string) => {
    for (const slot of ['blue', 'green'] as const) {
      push({ check: `ECS service ${slot}`, status: 'skip', detail: `not checked: ${why}` });
    }
  };
  if (!cluster) {
    if (!failed) {
      push({
        check: 'ECS cluster',
        status: 'fail',
        detail: `ECS cluster "${env.cluster}" does not exist in this account and region`,
        fix: `create the ECS cluster "${env.cluster}" (with both slot services), or set ${field(service, environment, 'cluster')} to the cluster your services run in`,
      });
    }
    notChecked(failed ? `the cluster "${env.cluster}" could not be described` : `the cluster "${env.cluster}" was not found`);
    return findings;
  }
  const withCluster = { ...findings, clusterArn: cluster.arn };
  if (cluster.status !== 'ACTIVE') {
    push({
      check: 'ECS cluster',
      status: 'fail',
      detail: `ECS cluster "${env.cluster}" is ${cluster.status}, not ACTIVE`,
      fix: `use an ACTIVE cluster: recreate "${env.cluster}" or set ${field(service, environment, 'cluster')} to an active one`,
    });
  } else {
    push({ check: 'ECS cluster', status: 'ok', detail: `"${env.cluster}" is ACTIVE` });
  }

  let services: Map<string, inspect.ServiceInfo>;
  try {
    services = await inspect.describeServices(env.cluster, [env.slots.blue.service, env.slots.green.service]);
  } catch (err) {
    if (inspect.errorName(err) === 'ClusterNotFoundException') notChecked(`the cluster "${env.cluster}" was not found`);
    else for (const slot of ['blue', 'green'] as const) push(callFailed(`ECS service ${slot}`, `ecs:DescribeServices in ${env.cluster}`, err));
    return withCluster;
  }
  const taskDefinitionOf: Partial<Record<'blue' | 'green', string>> = {};
  for (const slot of ['blue', 'green'] as const) {
    const name = env.slots[slot].service;
    const s = services.get(name);
    const check = `ECS service ${slot}`;
    if (!s || s.status === 'INACTIVE') {
      push({
        check,
        status: 'fail',
        detail: s ? `ECS service "${name}" in cluster "${env.cluster}" is INACTIVE (deleted)` : `ECS service "${name}" does not exist in cluster "${env.cluster}"`,
        fix:
          `create the ${slot} slot's ECS service "${name}" in cluster "${env.cluster}" (registered with target group ${env.slots[slot].targetGroupArn}; ` +
          `it may run 0 tasks), or set ${field(service, environment, `slots.${slot}.service`)} to an existing service`,
      });
      continue;
    }
    withCluster.serviceArns[slot] = s.arn;
    if (s.status !== 'ACTIVE') {
      push({ check, status: 'fail', detail: `ECS service "${name}" is ${s.status}, not ACTIVE`, fix: `wait until "${name}" is ACTIVE or recreate it; a DRAINING service is being deleted` });
    } else {
      push({ check, status: 'ok', detail: `"${name}" is ACTIVE (task definition ${s.taskDefinition ? shortTaskDefinition(s.taskDefinition) : 'none'})` });
    }
    if (s.taskDefinition) taskDefinitionOf[slot] = s.taskDefinition;
  }

  const described = new Map<string, inspect.TaskDefinitionInfo | undefined | Error>();
  for (const slot of ['blue', 'green'] as const) {
    const arn = taskDefinitionOf[slot];
    const check = `container ${slot}`;
    if (!arn) {
      if (services.get(env.slots[slot].service)) push({ check, status: 'skip', detail: `not checked: the ${slot} service has no task definition` });
      continue;
    }
    if (!described.has(arn)) {
      try {
        described.set(arn, await inspect.describeTaskDefinition(arn));
      } catch (err) {
        described.set(arn, err as Error);
      }
    }
    const td = described.get(arn);
    if (td instanceof Error) {
      push(callFailed(check, `ecs:DescribeTaskDefinition ${shortTaskDefinition(arn)}`, td));
      continue;
    }
    if (!td) {
      push({ check, status: 'fail', detail: `task definition ${shortTaskDefinition(arn)} of "${env.slots[slot].service}" cannot be described`, fix: `update the service "${env.slots[slot].service}" to a registered task definition` });
      continue;
    }
    if (!withCluster.taskDefinitions.some((t) => t.arn === td.arn)) withCluster.taskDefinitions.push(td);
    const container = td.containers.find((c) => c.name === env.containerName);
    if (!container) {
      push({
        check,
        status: 'fail',
        detail: `task definition ${shortTaskDefinition(td.arn)} has no container "${env.containerName}" (it has: ${td.containers.map((c) => c.name).join(', ') || 'none'})`,
        fix: `set ${field(service, environment, 'containerName')} to the container whose image a release replaces (one of: ${td.containers.map((c) => c.name).join(', ')}), or name that container "${env.containerName}" in ${td.family}`,
      });
      continue;
    }
    const repository = imageRepositoryOf(container.image);
    if (repository !== env.imageRepository) {
      push({
        check,
        status: 'warn',
        detail: `"${env.containerName}" in ${shortTaskDefinition(td.arn)} runs ${container.image}, not an image of ${env.imageRepository}`,
        fix: `check ${field(service, environment, 'imageRepository')}: cutover will deploy ${env.imageRepository}:<commit> into "${env.containerName}"`,
      });
    } else {
      push({ check, status: 'ok', detail: `"${env.containerName}" in ${shortTaskDefinition(td.arn)} runs ${container.image}` });
    }
  }
  return withCluster;
}

/** `family:revision` of a task definition ARN (or the input when it is not one). */
function shortTaskDefinition(arn: string): string {
  return arn.includes('task-definition/') ? arn.slice(arn.indexOf('task-definition/') + 'task-definition/'.length) : arn;
}

/** The repository of an image reference: without `:tag` and `@digest` (a registry's `:port` is kept). */
export function imageRepositoryOf(image: string): string {
  const noDigest = image.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

// ---------------------------------------------------------------- ELBv2

async function checkRoute(service: string, environment: string, env: EnvironmentConfig, which: 'production' | 'test', route: TrafficRoute, push: Push): Promise<void> {
  const isListener = 'listenerArn' in route;
  const arn = isListener ? route.listenerArn : route.ruleArn;
  const what = `${isListener ? 'listener' : 'listener rule'} ${arn}`;
  const configField = field(service, environment, `${which}.${isListener ? 'listenerArn' : 'ruleArn'}`);
  const check = `${which} ${isListener ? 'listener' : 'rule'}`;
  let actions: Awaited<ReturnType<typeof inspect.describeRouteActions>>;
  try {
    actions = await inspect.describeRouteActions(route);
  } catch (err) {
    push(callFailed(check, `elasticloadbalancing:${isListener ? 'DescribeListeners' : 'DescribeRules'} ${arn}`, err));
    return;
  }
  if (!actions) {
    push({ check, status: 'fail', detail: `${what} does not exist`, fix: `set ${configField} to the ARN of your ${which} ${isListener ? 'listener' : 'listener rule'} (aws elbv2 describe-listeners)` });
    return;
  }
  const targets = inspect.forwardTargets(actions);
  const slotOf = (tg: string) => (tg === env.slots.blue.targetGroupArn ? 'blue' : tg === env.slots.green.targetGroupArn ? 'green' : undefined);
  if (!targets || targets.length === 0) {
    push({
      check,
      status: 'fail',
      detail: `${what} has no forward action (its actions: ${actions.map((a) => a.Type).join(', ') || 'none'})`,
      fix: `make the ${isListener ? 'default action of the listener' : 'rule\'s action'} a weighted forward to the blue and green target groups (${which === 'production' ? 'weights 100 / 0' : 'the idle slot'}); cutover shifts traffic by forward weights`,
    });
    return;
  }
  const extra = targets.filter((t) => !slotOf(t.targetGroupArn));
  const present = new Set(targets.map((t) => slotOf(t.targetGroupArn)).filter(Boolean));
  const missing = which === 'production' ? (['blue', 'green'] as const).filter((s) => !present.has(s)) : [];
  const weights = targets.map((t) => `${slotOf(t.targetGroupArn) ?? t.targetGroupArn} ${t.weight}`).join(', ');
  if (extra.length > 0 || missing.length > 0 || (which === 'test' && present.size === 0)) {
    const problems: string[] = [];
    const fixes: string[] = [];
    if (extra.length > 0) {
      problems.push(`it also forwards to ${extra.map((t) => `${t.targetGroupArn} (weight ${t.weight})`).join(', ')}, which is not a slot`);
      fixes.push(
        `remove ${extra.map((t) => t.targetGroupArn).join(', ')} from the forward action of ${what} (cutover rewrites the forward action to the blue and green target groups only, so that traffic would stop at the first shift), ` +
          `or correct ${field(service, environment, 'slots.blue.targetGroupArn')} / ${field(service, environment, 'slots.green.targetGroupArn')}`,
      );
    }
    if (missing.length > 0) {
      problems.push(`it does not forward to the ${missing.join(' and ')} target group${missing.length > 1 ? 's' : ''} (${missing.map((s) => env.slots[s].targetGroupArn).join(', ')})`);
      fixes.push(
        `add ${missing.map((s) => `${env.slots[s].targetGroupArn} (${field(service, environment, `slots.${s}.targetGroupArn`)})`).join(' and ')} to its forward action` +
          `${missing.length === 1 ? ' with weight 0' : ''}, so both slots' targets are registered and health-checked before traffic moves`,
      );
    }
    if (which === 'test' && present.size === 0 && extra.length === 0) problems.push('it forwards to no slot target group');
    push({ check, status: 'fail', detail: `${what}: ${problems.join('; ')}`, fix: fixes.join('; ') || `forward it to the idle slot's target group` });
    return;
  }
  push({ check, status: 'ok', detail: `forwards to ${weights}` });
}

// ---------------------------------------------------------------- CloudWatch

async function checkAlarms(service: string, environment: string, env: EnvironmentConfig, push: Push): Promise<void> {
  if (env.alarms.length === 0) {
    push({ check: 'alarms', status: 'warn', detail: 'no alarms configured: bakes watch nothing and no alarm rolls a deployment back', fix: `list the CloudWatch alarms of this service in ${field(service, environment, 'alarms')}` });
    return;
  }
  let found: Map<string, inspect.AlarmInfo>;
  try {
    found = await inspect.describeAlarms(env.alarms);
  } catch (err) {
    for (const name of env.alarms) push(callFailed(`alarm ${name}`, 'cloudwatch:DescribeAlarms', err));
    return;
  }
  for (const name of env.alarms) {
    const alarm = found.get(name);
    if (!alarm) {
      push({
        check: `alarm ${name}`,
        status: 'fail',
        detail: `CloudWatch alarm "${name}" does not exist in this account and region`,
        fix: `create it or remove it from ${field(service, environment, 'alarms')} (a missing alarm fails every bake's alarm check)`,
      });
    } else {
      push({ check: `alarm ${name}`, status: 'ok', detail: `${alarm.kind} alarm, now ${alarm.state}` });
    }
  }
}

// ---------------------------------------------------------------- RDS and the migration command

/** Database states in which snapshots and restores fail until an operator acts. */
const DB_BROKEN_STATES = /^(stopped|stopping|failed|deleting|inaccessible-encryption-credentials.*|incompatible-.*|storage-full|insufficient-capacity|restore-error)$/;

async function checkDatabase(service: string, environment: string, env: EnvironmentConfig, push: Push): Promise<void> {
  const db = env.database;
  if (!db) {
    push({ check: 'database', status: 'skip', detail: 'none configured: no snapshots, no migrations' });
    return;
  }
  const kind = db.instanceIdentifier !== undefined ? 'instance' : 'cluster';
  const id = (db.instanceIdentifier ?? db.clusterIdentifier)!;
  const idField = field(service, environment, kind === 'instance' ? 'database.instanceIdentifier' : 'database.clusterIdentifier');
  const label = kind === 'instance' ? `DB instance "${id}"` : `Aurora DB cluster "${id}"`;
  let info: inspect.DatabaseInfo | undefined;
  try {
    info = await inspect.describeDatabase(kind, id);
  } catch (err) {
    push(callFailed('database', `rds:${kind === 'instance' ? 'DescribeDBInstances' : 'DescribeDBClusters'} ${id}`, err));
    info = undefined;
    checkMigration(service, environment, env, push);
    return;
  }
  const wanted = kind === 'instance' ? 'postgres' : 'aurora-postgresql';
  if (!info) {
    push({
      check: 'database',
      status: 'fail',
      detail: `${label} does not exist in this account and region`,
      fix: `set ${idField} to your ${kind === 'instance' ? 'RDS for PostgreSQL DB instance' : 'Aurora PostgreSQL DB cluster'} identifier${kind === 'instance' ? ' (an Aurora database is configured with clusterIdentifier)' : ' (a single DB instance is configured with instanceIdentifier)'}`,
    });
  } else if (info.engine !== wanted) {
    const aurora = kind === 'instance' && info.engine.startsWith('aurora');
    push({
      check: 'database',
      status: 'fail',
      detail: `${label} runs ${info.engine}${info.engineVersion ? ` ${info.engineVersion}` : ''}, not ${wanted}`,
      fix: aurora
        ? `"${id}" is an instance of Aurora cluster "${info.clusterIdentifier ?? '?'}": replace ${idField} with ${field(service, environment, 'database.clusterIdentifier')}: "${info.clusterIdentifier ?? '<cluster>'}" (cutover snapshots Aurora clusters)`
        : `cutover deploys PostgreSQL databases only: point ${idField} at a ${wanted} database, or remove ${field(service, environment, 'database')}`,
    });
  } else if (info.status !== 'available') {
    const broken = DB_BROKEN_STATES.test(info.status);
    push({
      check: 'database',
      status: broken ? 'fail' : 'warn',
      detail: `${label} (${info.engine} ${info.engineVersion ?? ''}) is ${info.status}, not available`.replace(' )', ')'),
      fix: broken
        ? `bring ${label} to "available" (e.g. start it: aws rds start-db-${kind === 'instance' ? 'instance' : 'cluster'}); snapshots and migrations need it`
        : `${info.status} usually passes on its own; a deployment's snapshot waits for it`,
    });
  } else {
    push({ check: 'database', status: 'ok', detail: `${label}: ${info.engine}${info.engineVersion ? ` ${info.engineVersion}` : ''}, available` });
  }
  checkMigration(service, environment, env, push);
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh']);

/**
 * Whether quotes in a POSIX shell script are balanced: `'…'` (no escapes inside), `"…"` (with `\`
 * escapes) and `\` outside quotes.
 * @returns undefined when balanced, else the quote left open (`'` or `"`)
 */
export function unbalancedQuote(script: string): "'" | '"' | undefined {
  let open: "'" | '"' | undefined;
  for (let i = 0; i < script.length; i++) {
    const c = script[i];
    if (open === "'") {
      if (c === "'") open = undefined;
    } else if (open === '"') {
      if (c === '\\') i++;
      else if (c === '"') open = undefined;
    } else if (c === '\\') i++;
    else if (c === "'" || c === '"') open = c;
  }
  return open;
}

/**
 * Problems of a migration command (exec form: ECS runs `command[0]` with the other elements as its
 * arguments, no shell): one element holding a whole command line, quotes that would reach the program
 * literally, a `sh -c` without a script or with unbalanced quotes in it.
 * @returns the problems, each `[what, fix]`; empty when plausible
 */
export function migrationCommandProblems(command: readonly string[]): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  if (command.length === 0) return [['the command is empty', 'give the command as an array, e.g. ["npm","run","migrate"]']];
  const program = basename(command[0]!);
  if (SHELLS.has(program)) {
    const c = command.findIndex((a, i) => i > 0 && /^-[a-z]*c[a-z]*$/.test(a));
    if (c > 0) {
      const script = command[c + 1];
      if (script === undefined || script.trim() === '') {
        problems.push([`${command[0]} ${command[c]} has no script after it`, `put the shell command line right after "${command[c]}", e.g. ["sh","-c","npm run migrate"]`]);
      } else {
        const open = unbalancedQuote(script);
        if (open) problems.push([`the ${program} script ${JSON.stringify(script)} leaves a ${open === "'" ? 'single' : 'double'} quote open`, `close the ${open} quote in the script`]);
      }
      return problems;
    }
  }
  if (command.length === 1 && /\s/.test(command[0]!.trim())) {
    const words = command[0]!.trim().split(/\s+/);
    problems.push([
      `${JSON.stringify(command[0])} is one element: ECS would run a program named "${command[0]}"`,
      `split it into its words, e.g. ${JSON.stringify(words)}, or run it through a shell: ["sh","-c",${JSON.stringify(command[0])}]`,
    ]);
  } else if (/^\s|\s$/.test(command[0]!)) {
    problems.push([`the program ${JSON.stringify(command[0])} has leading or trailing spaces`, `remove the spaces: ${JSON.stringify(command[0]!.trim())}`]);
  }
  for (const arg of command) {
    if (/^'.*'$|^".*"$/s.test(arg) && arg.length >= 2) {
      problems.push([`the element ${JSON.stringify(arg)} is quoted: exec form passes the quotes to the program`, `drop the quotes: ${JSON.stringify(arg.slice(1, -1))}`]);
    } else if (unbalancedQuote(arg)) {
      problems.push([`the element ${JSON.stringify(arg)} has an unbalanced quote (a shell string split into elements?)`, 'give each argument as its own element without shell quoting, or run a shell: ["sh","-c","<command line>"]']);
    }
  }
  return problems;
}

function checkMigration(service: string, environment: string, env: EnvironmentConfig, push: Push): void {
  const command = env.database!.migration.command;
  const problems = migrationCommandProblems(command);
  const configField = field(service, environment, 'database.migration.command');
  if (problems.length > 0) {
    push({ check: 'migration command', status: 'fail', detail: problems.map(([what]) => what).join('; '), fix: `in ${configField}: ${problems.map(([, fix]) => fix).join('; ')}` });
  } else {
    push({ check: 'migration command', status: 'ok', detail: `${JSON.stringify(command)} (exec form, run as a one-off task of the new image)` });
  }
}

// ---------------------------------------------------------------- IAM

/** The stack's function roles, or why IAM rows are skipped / failed. */
type Roles = { readonly skip: string } | { readonly byFunction: ReadonlyMap<FunctionName, { arn: string; name: string }> };

const isAccessDenied = (err: unknown) => /^(AccessDenied|AccessDeniedException|UnauthorizedOperation)$/.test(inspect.errorName(err) ?? '');

/** The function a role's description names (`cutover <function>: …`, lib/constructs/cutover-function.ts). */
export function functionOfRole(description: string): FunctionName | undefined {
  const m = /^cutover ([a-z-]+):/.exec(description);
  return FUNCTIONS.find((f) => f.name === m?.[1])?.name;
}

async function stackRoles(stack: string, region: string | undefined, rows: DoctorRow[]): Promise<Roles> {
  let roles: inspect.StackRole[];
  try {
    roles = await inspect.listStackRoles(stack, region);
  } catch (err) {
    if (isAccessDenied(err)) return { skip: `AccessDenied on cloudformation:ListStackResources for stack "${stack}" (${(err as Error).message}); allow it to check the function roles` };
    if (inspect.errorName(err) === 'ValidationError' && /does not exist/i.test((err as Error).message)) {
      const fix = `deploy cutover's stack first (npx cdk deploy), or name yours with --stack <name> / CUTOVER_STACK`;
      rows.push({ check: 'cutover stack', status: 'fail', detail: `CloudFormation stack "${stack}" does not exist in this account and region`, fix });
      return { skip: `not checked: stack "${stack}" does not exist` };
    }
    rows.push({ ...callFailed('cutover stack', `cloudformation:ListStackResources ${stack}`, err) });
    return { skip: `not checked: the roles of stack "${stack}" could not be listed` };
  }
  const byFunction = new Map<FunctionName, { arn: string; name: string }>();
  for (const role of roles) {
    let got: { arn: string; description: string };
    try {
      got = await inspect.getRole(role.roleName, region);
    } catch (err) {
      if (isAccessDenied(err)) return { skip: `AccessDenied on iam:GetRole (${(err as Error).message}); allow iam:GetRole and iam:SimulatePrincipalPolicy on the stack's roles to check them` };
      if (inspect.errorName(err) === 'NoSuchEntity' || inspect.errorName(err) === 'NoSuchEntityException') continue;
      throw err;
    }
    const fn = functionOfRole(got.description);
    if (fn) byFunction.set(fn, { arn: got.arn, name: role.roleName });
  }
  rows.push({ check: 'cutover stack', status: 'ok', detail: `stack "${stack}": ${byFunction.size} function role(s) (${[...byFunction.keys()].join(', ') || 'none'})` });
  return { byFunction };
}

/** What one function does for one environment, as IAM simulation requests. */
interface Need {
  readonly actions: readonly string[];
  readonly resource: string;
  readonly context?: readonly ContextEntry[];
}

/** Partition, region and account of the environment (from its production route's ARN). */
function arnParts(env: EnvironmentConfig): { partition: string; region: string; account: string } {
  const arn = 'listenerArn' in env.production ? env.production.listenerArn : env.production.ruleArn;
  const [, partition, , region, account] = arn.split(':');
  return { partition: partition!, region: region!, account: account! };
}

/**
 * The IAM requests a deployment of this environment makes, by function (mirrors
 * lib/constructs/permissions.ts: what each function's policy must allow).
 */
export function roleNeeds(service: string, environment: string, env: EnvironmentConfig, found: { clusterArn?: string; serviceArns?: Partial<Record<'blue' | 'green', string>>; taskDefinitions?: readonly inspect.TaskDefinitionInfo[] } = {}): Map<RoleFunction, Need[]> {
  const { partition, region, account } = arnParts(env);
  const arn = (svc: string, resource: string) => `arn:${partition}:${svc}:${region}:${account}:${resource}`;
  const needs = new Map<RoleFunction, Need[]>();
  const clusterArn = found.clusterArn || arn('ecs', `cluster/${env.cluster}`);
  const serviceArns = (['blue', 'green'] as const).map((s) => found.serviceArns?.[s] || arn('ecs', `service/${env.cluster}/${env.slots[s].service}`));
  const ecs: Need[] = [
    ...serviceArns.map((resource) => ({ actions: ['ecs:DescribeServices', 'ecs:UpdateService'], resource })),
    { actions: ['ecs:RegisterTaskDefinition', 'ecs:DescribeTaskDefinition'], resource: '*' },
  ];
  if (env.database) {
    const family = found.taskDefinitions?.[0]?.family || `${service}-${environment}`;
    ecs.push({
      actions: ['ecs:RunTask'],
      resource: arn('ecs', `task-definition/${family}:1`),
      context: [{ ContextKeyName: 'ecs:cluster', ContextKeyValues: [clusterArn], ContextKeyType: 'string' }],
    });
    ecs.push({ actions: ['ecs:DescribeTasks', 'ecs:StopTask'], resource: arn('ecs', `task/${env.cluster}/0123456789abcdef0123456789abcdef`) });
  }
  for (const role of new Set((found.taskDefinitions ?? []).flatMap((t) => t.roleArns))) {
    ecs.push({ actions: ['iam:PassRole'], resource: role, context: [{ ContextKeyName: 'iam:PassedToService', ContextKeyValues: ['ecs-tasks.amazonaws.com'], ContextKeyType: 'string' }] });
  }
  needs.set('ecs-release', ecs);

  const routes = [env.production, env.test].filter((r): r is TrafficRoute => r !== undefined);
  needs.set('traffic', [
    ...routes.map((r) => ('listenerArn' in r ? { actions: ['elasticloadbalancing:ModifyListener'], resource: r.listenerArn } : { actions: ['elasticloadbalancing:ModifyRule'], resource: r.ruleArn })),
    { actions: ['elasticloadbalancing:DescribeListeners', 'elasticloadbalancing:DescribeRules', 'elasticloadbalancing:DescribeTargetHealth'], resource: '*' },
  ]);

  if (env.database) {
    const snapshot = snapshotIdentifier(service, environment, 'cutover-doctor');
    const restore = env.databaseFailurePolicy !== 'keep';
    if (env.database.instanceIdentifier !== undefined) {
      const id = env.database.instanceIdentifier;
      needs.set('database', [
        { actions: ['rds:CreateDBSnapshot', 'rds:DescribeDBInstances', ...(restore ? ['rds:ModifyDBInstance', 'rds:RestoreDBInstanceFromDBSnapshot'] : [])], resource: arn('rds', `db:${id}`) },
        { actions: ['rds:CreateDBSnapshot', 'rds:DescribeDBSnapshots', ...(restore ? ['rds:RestoreDBInstanceFromDBSnapshot'] : [])], resource: arn('rds', `snapshot:${snapshot}`) },
      ]);
    } else {
      const id = env.database.clusterIdentifier!;
      needs.set('database', [
        { actions: ['rds:CreateDBClusterSnapshot', 'rds:DescribeDBClusters', ...(restore ? ['rds:ModifyDBCluster', 'rds:RestoreDBClusterFromSnapshot'] : [])], resource: arn('rds', `cluster:${id}`) },
        { actions: ['rds:CreateDBClusterSnapshot', 'rds:DescribeDBClusterSnapshots', ...(restore ? ['rds:RestoreDBClusterFromSnapshot'] : [])], resource: arn('rds', `cluster-snapshot:${snapshot}`) },
      ]);
    }
  }
  if (env.alarms.length > 0) {
    const alarms = env.alarms.map((name) => ({ actions: ['cloudwatch:DescribeAlarms'], resource: arn('cloudwatch', `alarm:${name}`) }));
    needs.set('alarm-check', alarms);
    needs.set('ledger', alarms);
  }
  return needs;
}

async function checkIam(
  service: string,
  environment: string,
  env: EnvironmentConfig,
  found: SlotFindings,
  roles: Roles,
  region: string | undefined,
  push: Push,
): Promise<void> {
  if ('skip' in roles) {
    push({ check: 'IAM roles', status: 'skip', detail: `skipped: ${roles.skip}` });
    return;
  }
  for (const [fn, needs] of roleNeeds(service, environment, env, found)) {
    const check = `IAM ${fn}`;
    const role = roles.byFunction.get(fn);
    if (!role) {
      push({ check, status: 'fail', detail: `the stack has no role for the ${fn} function`, fix: `update cutover's stack (npx cdk deploy with this config) so it has the ${fn} function and its role` });
      continue;
    }
    const denied: inspect.SimulatedDecision[] = [];
    let skipped: string | undefined;
    for (const need of needs) {
      try {
        for (const d of await inspect.simulatePrincipalPolicy(role.arn, need.actions, need.resource, need.context, region)) {
          if (d.decision !== 'allowed') denied.push({ ...d, resource: d.resource === '*' ? need.resource : d.resource });
        }
      } catch (err) {
        if (isAccessDenied(err)) {
          skipped = `AccessDenied on iam:SimulatePrincipalPolicy (${(err as Error).message}); allow it on ${role.arn} to check this role`;
          break;
        }
        push(callFailed(check, `iam:SimulatePrincipalPolicy ${role.name}`, err));
        skipped = '';
        break;
      }
    }
    if (skipped !== undefined) {
      if (skipped) push({ check, status: 'skip', detail: `skipped: ${skipped}` });
      continue;
    }
    if (denied.length > 0) {
      push({
        check,
        status: 'fail',
        detail: `role ${role.name} may not ${denied.map((d) => `${d.action} on ${d.resource} (${d.decision})`).join(', ')}`,
        fix:
          `update cutover's stack with this config (npx cdk deploy -c cutover:config=<this config>): its policies are scoped to the configured resources; ` +
          `an explicit deny comes from a permissions boundary, an SCP or another policy on ${role.name}`,
      });
    } else {
      const actions = new Set(needs.flatMap((n) => n.actions));
      push({ check, status: 'ok', detail: `role ${role.name} may ${[...actions].join(', ')} on this environment's resources` });
    }
  }
}

// ---------------------------------------------------------------- output

/** The `--json` document. */
export interface DoctorReport {
  /** What was checked: `stack "Cutover"` or `the local twin at http://…`. */
  readonly target: string;
  readonly config: string;
  /** False when any row is ✘ (the exit status is then 1). */
  readonly ok: boolean;
  readonly summary: Readonly<Record<CheckStatus, number>>;
  readonly checks: readonly DoctorRow[];
}

/** The report of `rows`: ok unless a row failed; counts per status. */
export function doctorReport(target: string, config: string, rows: readonly DoctorRow[]): DoctorReport {
  const summary = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const r of rows) summary[r.status]++;
  return { target, config, ok: summary.fail === 0, summary, checks: rows };
}

/**
 * The report as text: a table (one row per check: status symbol, service/environment, check, what was
 * found), then each ✘ and ! with its fix, then the verdict.
 */
export function formatDoctorReport(report: DoctorReport): string {
  const where = (r: DoctorRow) => (r.service ? `${r.service}/${r.environment}` : '(stack)');
  const lines = [
    `cutover doctor: ${report.config} against ${report.target}`,
    '',
    table(
      [{ header: '' }, { header: 'ENVIRONMENT' }, { header: 'CHECK' }, { header: 'RESULT' }],
      report.checks.map((r) => [STATUS_SYMBOL[r.status], where(r), r.check, r.detail]),
    ),
  ];
  const toFix = report.checks.filter((r) => r.fix && (r.status === 'fail' || r.status === 'warn'));
  if (toFix.length > 0) {
    lines.push('', 'To fix:');
    for (const r of toFix) lines.push(`  ${STATUS_SYMBOL[r.status]} ${where(r)} ${r.check}: ${r.fix}`);
  }
  const s = report.summary;
  lines.push(
    '',
    `${s.ok} ✔  ${s.warn} !  ${s.fail} ✘  ${s.skip} –  ` +
      (report.ok ? 'ready for a first deployment' + (s.warn > 0 ? ' (read the warnings)' : '') : `not ready: fix the ✘ row${s.fail > 1 ? 's' : ''} and run cutover doctor again`),
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------- the command

/** Options of `cutover doctor` (the global target options plus its own). */
export interface DoctorCommandOptions extends TargetOptions {
  readonly config?: string;
  readonly json?: boolean;
}

export interface DoctorCommandDeps {
  readonly io: { stdout(text: string): void; stderr(text: string): void };
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly resolve?: ResolveDeps;
  /** Directory whose cdk.json names the default config. @default process.cwd() */
  readonly cwd?: string;
}

/**
 * The config file: `--config`, else the `cutover:config` context of ./cdk.json (what `cdk deploy`
 * deploys).
 * @throws CliError when neither names one
 */
export function doctorConfigPath(option: string | undefined, cwd: string): string {
  if (option) return option;
  const cdkJson = resolve(cwd, 'cdk.json');
  let context: unknown;
  try {
    context = (JSON.parse(readFileSync(cdkJson, 'utf8')) as { context?: Record<string, unknown> }).context?.['cutover:config'];
  } catch {
    context = undefined;
  }
  if (typeof context === 'string' && context !== '') return resolve(cwd, context);
  throw new CliError('which config? pass --config <file> (the cutover config you deploy with; ./cdk.json has no "cutover:config" context to default to).');
}

/** The part of a twin's `GET /` the doctor needs besides what resolveTarget reads: the URL of its simulated AWS account. */
const TwinAwsIndexSchema = z.looseObject({ aws: z.url(), region: z.string().min(1) });

/**
 * Run `cutover doctor`: read the config, point the clients at the target, run the checks, print the
 * table (or `--json`).
 * @returns the exit status: 1 when any check failed, else 0
 * @throws CliError for a bad config path, an unreachable twin or a twin without its AWS API
 */
export async function doctorCommand(service: string | undefined, environment: string | undefined, opts: DoctorCommandOptions, deps: DoctorCommandDeps): Promise<number> {
  const env = deps.env ?? process.env;
  const configPath = doctorConfigPath(opts.config, deps.cwd ?? process.cwd());
  const config = loadConfigFile(configPath);
  let target: string;
  let iam: IamSource;
  if (opts.endpoint) {
    const twin = await resolveTarget(opts, { env, ...deps.resolve });
    const base = opts.endpoint.replace(/\/+$/, '');
    const fetchFn = deps.resolve?.fetch ?? fetch;
    const index = TwinAwsIndexSchema.safeParse(await (await fetchFn(`${base}/`, { headers: { accept: 'application/json' } })).json().catch(() => undefined));
    if (!index.success) {
      throw new CliError(
        `${twin.description} does not serve its simulated AWS account (its GET / has no "aws" URL for ECS, ELBv2, RDS and CloudWatch): update cutover and restart the twin.`,
      );
    }
    configureClients({ region: index.data.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, transport: inspect.twinAwsTransport(index.data.aws, fetchFn) });
    target = twin.description;
    iam = { skip: 'the local twin has no IAM (nothing to simulate)' };
  } else {
    if (opts.region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(opts.region)) {
      throw new CliError(`--region "${opts.region}" is not an AWS region name (e.g. us-east-1).`);
    }
    configureClients(opts.region ? { region: opts.region } : {});
    const stack = opts.stack || env.CUTOVER_STACK || DEFAULT_STACK;
    target = `stack "${stack}"${opts.region ? ` in ${opts.region}` : ''}`;
    iam = { stack, region: opts.region };
  }
  const rows = await runDoctor({ config, service, environment, iam });
  const report = doctorReport(target, configPath, rows);
  deps.io.stdout(opts.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
  return report.ok ? 0 : 1;
}
