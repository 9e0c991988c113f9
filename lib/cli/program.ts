/**
 * The operator commands of the `cutover` CLI as commander commands (bin/cutover.ts adds them to its
 * program): options, help texts and argument parsing here; the work in ./commands.ts.
 *
 * Global options (accepted before or after the command): where to talk to (`--endpoint` for a local
 * twin, else `--stack` / `--table` / `--deploy-arn` / `--rollback-arn` / `--approval-url` / `--region` on AWS), who the
 * operator is (`--operator`), and `--json`.
 */
import { userInfo } from 'node:os';
import { Command, InvalidArgumentError, Option, type OptionValues } from 'commander';
import { invokeFunctionUrl } from '../aws/function-url';
import { Ledger } from '../aws/ledger';
import * as commands from './commands';
import { doctorCommand, type DoctorCommandOptions } from './doctor';
import { LedgerReader, type EnvRef } from './data';
import { CliError } from './errors';
import { DEFAULT_STACK, resolveTarget, type ResolveDeps, type TargetOptions } from './target';

/** The global options as commander parses them. */
export interface GlobalOptions extends TargetOptions {
  readonly operator?: string;
  readonly json?: boolean;
}

export interface OperatorProgramDeps {
  readonly io?: commands.Io;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly resolve?: ResolveDeps;
  /** Real milliseconds between polls of `--wait`. @default 1000 */
  readonly pollMs?: number;
  /** Called with the exit code when a command has finished. @default sets process.exitCode */
  readonly exit?: (code: number) => void;
}

const defaultIo: commands.Io = {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
};

/** The operator's name: `--operator`, else `CUTOVER_OPERATOR`, else the OS user name. */
export function operatorName(option: string | undefined, env: NodeJS.ProcessEnv): string {
  let name = option ?? env.CUTOVER_OPERATOR;
  if (name === undefined) {
    try {
      name = userInfo().username;
    } catch {
      name = env.USER ?? env.USERNAME;
    }
  }
  const trimmed = (name ?? '').trim();
  if (!trimmed) throw new CliError('--operator: say who you are (or set CUTOVER_OPERATOR): every action records its operator.');
  if (trimmed.length > 255) throw new CliError(`--operator: at most 255 characters (got ${trimmed.length}).`);
  return trimmed;
}

/** Build the context a command runs in: resolve the target (configures the SDK clients). */
export async function createContext(opts: GlobalOptions, deps: OperatorProgramDeps = {}): Promise<commands.CommandContext> {
  const env = deps.env ?? process.env;
  const operator = operatorName(opts.operator, env);
  const target = await resolveTarget(opts, { env, ...deps.resolve });
  const ledger = new Ledger(target.tableName);
  // Who acts, as AWS knows it (not only the --operator name anyone can set): recorded on every audit event.
  const callerArn = await target.callerIdentity().catch(() => undefined);
  return {
    target,
    ledger,
    reader: new LedgerReader(ledger, target.tableName),
    operator,
    ...(callerArn ? { callerArn } : {}),
    json: opts.json === true,
    io: deps.io ?? defaultIo,
    pollMs: deps.pollMs ?? 1000,
    acceptTimeoutMs: 30_000,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    callApprovalFunction: async (request) => invokeFunctionUrl(await target.approvalUrl(), request),
  };
}

function integer(flag: string, min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be a whole number from ${min} to ${max}.`);
    return n;
  };
}

/** The global options, added to `program` (commander accepts them before or after the command). */
export function addGlobalOptions(program: Command): Command {
  return program
    .option('--endpoint <url>', 'talk to a running local twin (cutover local) at this URL, e.g. http://127.0.0.1:4780, instead of AWS')
    .option('--stack <name>', `CloudFormation stack whose outputs name the table and state machines (env CUTOVER_STACK; default "${DEFAULT_STACK}")`)
    .option('--table <name>', 'DynamoDB table of the ledger (default: the stack output TableName)')
    .option('--deploy-arn <arn>', 'ARN of the deploy state machine (default: the stack output DeployStateMachineArn)')
    .option('--rollback-arn <arn>', 'ARN of the rollback state machine (default: the stack output RollbackStateMachineArn)')
    .option('--approval-url <url>', 'https URL of the approval function (default: the stack output ApprovalUrl, or the twin\'s)')
    .option('--region <name>', 'AWS region, e.g. eu-west-1 (default: AWS_REGION or your profile)')
    .option('--operator <name>', 'who you are, recorded on every action and sent with every answer (env CUTOVER_OPERATOR; default: your OS user name)')
    .option('--json', 'print JSON (machine-readable) instead of tables and sentences');
}

/**
 * Add the operator commands to `program` (which should have {@link addGlobalOptions}).
 */
export function addOperatorCommands(program: Command, deps: OperatorProgramDeps = {}): Command {
  const exit = deps.exit ?? ((code: number) => void (process.exitCode = code));
  const run =
    (fn: (ctx: commands.CommandContext, ref: EnvRef, command: Command) => Promise<number>) =>
    async (...args: unknown[]): Promise<void> => {
      const command = args[args.length - 1] as Command;
      const [service, environment] = command.processedArgs as [string, string];
      const ctx = await createContext(command.optsWithGlobals<GlobalOptions>(), deps);
      exit(await fn(ctx, { service, environment }, command));
    };
  const opts = <T extends OptionValues>(command: Command) => command.opts<T>();

  program
    .command('status')
    .description('Show what is live, the rollback window, the running deployment and what it waits for (every environment the ledger knows, when none is named).')
    .argument('[service]', 'service name (a key of "services" in the config)')
    .argument('[environment]', 'environment name, e.g. production')
    .action(
      run((ctx, ref) => commands.status(ctx, ref.service, ref.environment)),
    );

  program
    .command('metrics')
    .description('DORA metrics per environment from the ledger: deployment frequency, lead time for changes, change failure rate, time to restore (definitions in the README).')
    .argument('<service>', 'service name')
    .argument('[environment]', 'one environment (default: every environment of the service the ledger knows)')
    .option('--since <period>', 'the period: 30d, 12h, 2w, or an ISO date like 2026-11-01', '30d')
    .action(run((ctx, ref, command) => commands.metrics(ctx, ref.service, ref.environment, opts<{ since?: string }>(command))));

  program
    .command('history')
    .description('List deployments and rollbacks, newest first; with --deployment, one deployment\'s audit events and execution steps with their durations.')
    .argument('<service>', 'service name')
    .argument('<environment>', 'environment name')
    .option('-n, --limit <n>', 'number of deployments to list (1-1000)', integer('--limit', 1, 1000), 20)
    .option('-d, --deployment <id>', 'show this deployment (its id = its execution name)')
    .action(run((ctx, ref, command) => commands.history(ctx, ref, opts<{ limit: number; deployment?: string }>(command))));

  program
    .command('deploy')
    .description('Start a deployment of a commit (StartExecution of the deploy state machine) and wait until it holds the lock.')
    .argument('<service>', 'service name')
    .argument('<environment>', 'environment name')
    .requiredOption('--commit <sha>', 'git commit SHA to deploy (7-40 lower-case hex characters)')
    .option('--image <ref>', 'full image reference (default: <imageRepository>:<commit> from the config)')
    .option('--message <text>', 'release message for records and notifications (e.g. the commit subject)')
    .option('--strategy <strategy>', 'this deployment\'s traffic strategy instead of the environment\'s: "all-at-once", or JSON like \'{"type":"canary","percent":10,"bakeSeconds":300}\' (percent 1-100, seconds)')
    .option('--override-window <reason>', 'deploy even outside the environment\'s change windows or in a freeze; the reason is recorded')
    .option('--wait', 'follow the deployment (polls every second, prints each step) and exit 1 unless it succeeds')
    .action(run((ctx, ref, command) => commands.deploy(ctx, ref, opts<commands.DeployOptions>(command))));

  program
    .command('promote-release')
    .description('Deploy to an environment the release that succeeded in the environment it promotes from (same commit and image digest): the offered one, or --commit.')
    .argument('<service>', 'service name')
    .argument('<environment>', 'environment to promote to (its config has promotion: { from })')
    .option('--commit <sha>', 'the release to promote (default: the one offered after its success in the previous environment)')
    .option('--force', 'deploy it even if it did not succeed in the previous environment (needs --reason; recorded)')
    .option('--reason <text>', 'why --force (recorded on the deployment and the audit timeline)')
    .option('--wait', 'follow the deployment and exit 1 unless it succeeds')
    .action(run((ctx, ref, command) => commands.promoteRelease(ctx, ref, opts<commands.PromoteReleaseOptions>(command))));

  program
    .command('override-window')
    .description('Let a deployment that waits for its change window (or for a freeze to end) go on now; the reason is recorded.')
    .argument('<service>', 'service name')
    .argument('<environment>', 'environment name')
    .requiredOption('--reason <text>', 'why the window is overridden (recorded on the deployment and the audit timeline)')
    .action(run((ctx, ref, command) => commands.overrideWindow(ctx, ref, opts<{ reason: string }>(command))));

  program
    .command('retry')
    .description('Deploy the release of a failed or rolled-back deployment again (same commit, image and message).')
    .argument('<service>', 'service name')
    .argument('<environment>', 'environment name')
    .argument('<deploymentId>', 'the failed deployment (see `cutover history`)')
    .option('--wait', 'follow the new deployment (polls every second) and exit 1 unless it succeeds')
    .action(run((ctx, ref, command) => commands.retry(ctx, ref, command.processedArgs[2] as string, opts<{ wait?: boolean }>(command))));

  program
    .command('rollback')
    .description('Roll production back (StartExecution of the rollback state machine): to the kept slot inside the rollback window, else by redeploying the previous good release.')
    .argument('<service>', 'service name')
    .argument('<environment>', 'environment name')
    .requiredOption('--reason <text>', 'why (recorded on the rollback, in the audit timeline and in notifications)')
    .option('--to <deploymentId>', 'a succeeded deployment whose release to go back to (default: the previous release)')
    .option('--wait', 'follow the rollback (polls every second) and exit 1 unless it succeeds')
    .action(run((ctx, ref, command) => commands.rollback(ctx, ref, opts<commands.RollbackOptions>(command))));

  program
    .command('approve')
    .description(
      'Answer the running deployment\'s approval gate (it continues) through the approval function, which checks you are one of the environment\'s approvers (SigV4-signed; stack output ApprovalUrl), or its database decision with --decision.',
    )
    .argument('<service>', 'service name')
    .argument('<environment>', 'environment name')
    .option('--comment <text>', 'a comment recorded with the approval')
    .addOption(
      new Option('--decision <choice>', 'answer to a database decision: restore (the snapshot; discards the writes since it) or keep').choices(['restore', 'keep']),
    )
    .action(run((ctx, ref, command) => commands.approve(ctx, ref, opts<commands.ApproveOptions>(command))));

  program
    .command('reject')
    .description('Reject the running deployment at its approval gate, through the approval function (approvers only, when the environment names them): it rolls back (Cutover.Rejected).')
    .argument('<service>', 'service name')
    .argument('<environment>', 'environment name')
    .requiredOption('--reason <text>', 'why (recorded and shown in the deployment\'s cause)')
    .action(run((ctx, ref, command) => commands.reject(ctx, ref, opts<{ reason: string }>(command))));

  program
    .command('promote')
    .description('End the running deployment\'s bake now and go to 100% without the remaining steps and bakes.')
    .argument('<service>', 'service name')
    .argument('<environment>', 'environment name')
    .action(run((ctx, ref) => commands.promote(ctx, ref)));

  program
    .command('abort')
    .description('Abort the running deployment: during a bake or approval it rolls back at once; otherwise at its next bake or approval wait.')
    .argument('<service>', 'service name')
    .argument('<environment>', 'environment name')
    .requiredOption('--reason <text>', 'why (recorded and shown in the deployment\'s cause)')
    .action(run((ctx, ref, command) => commands.abort(ctx, ref, opts<{ reason: string }>(command))));

  program
    .command('doctor')
    .description('Check, read-only, that what the config names is ready for a first deployment: cluster, slot services, containers, listeners, alarms, database, migration command, the functions\' IAM roles. Exit 1 if a check fails.')
    .argument('[service]', 'only this service (default: every service of the config)')
    .argument('[environment]', 'only this environment of the service')
    .option('-c, --config <file>', 'cutover config (JSON) (default: the "cutover:config" context of ./cdk.json, as cdk deploy uses)')
    .action(async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const [service, environment] = command.processedArgs as [string | undefined, string | undefined];
      exit(await doctorCommand(service, environment, command.optsWithGlobals<DoctorCommandOptions>(), { io: deps.io ?? defaultIo, env: deps.env, resolve: deps.resolve }));
    });

  return program;
}
