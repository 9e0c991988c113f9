/**
 * Where the operator CLI talks to: a running local twin (`--endpoint <url>`) or cutover's stack on AWS
 * (`--stack <name>`, default `Cutover`, with flags overriding the stack's outputs).
 *
 *  - Twin: `GET <url>/` returns the twin's index (validated with zod): the state machine ARNs, the
 *    DynamoDB endpoint and table, the region and the Step Functions endpoint. Clients are pointed at
 *    those endpoints with static local credentials.
 *  - AWS: the default credential chain and region (or `--region`); the table name, state machine
 *    ARNs and the approval function's URL come from `--table` / `--deploy-arn` / `--rollback-arn` /
 *    `--approval-url`, else from the stack's outputs (CloudFormation DescribeStacks, read once and
 *    only when something is missing).
 *
 * Errors name the missing thing and the fix.
 */
import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { z } from 'zod';
import { configureClients } from '../aws/clients';
import { callerArn } from '../aws/sts';
import { CliError } from './errors';

/** The default CloudFormation stack name (`cdk deploy` without `-c cutover:stackName=…`). */
export const DEFAULT_STACK = 'Cutover';

/** The stack outputs the CLI reads. */
export const STACK_OUTPUTS = {
  table: 'TableName',
  deploy: 'DeployStateMachineArn',
  rollback: 'RollbackStateMachineArn',
  /** The approval function's URL (a Lambda function URL, AWS_IAM auth). */
  approval: 'ApprovalUrl',
} as const;

/** Where to talk to, as given on the command line (and the environment). */
export interface TargetOptions {
  /** URL of a running local twin, e.g. `http://127.0.0.1:4780`. */
  readonly endpoint?: string;
  /** CloudFormation stack name. @default env `CUTOVER_STACK`, else {@link DEFAULT_STACK} */
  readonly stack?: string;
  /** DynamoDB table name (overrides the stack output / the twin's). */
  readonly table?: string;
  /** ARN of the deploy state machine (overrides the stack output / the twin's). */
  readonly deployArn?: string;
  /** ARN of the rollback state machine (overrides the stack output / the twin's). */
  readonly rollbackArn?: string;
  /** AWS region (AWS only). @default the SDK's (AWS_REGION, the profile) */
  readonly region?: string;
  /**
   * URL of the approval function (a Lambda function URL with AWS_IAM auth), overriding the stack output
   * `ApprovalUrl` / the twin's index `approvalUrl`. An https URL; http only for 127.0.0.1 or localhost.
   */
  readonly approvalUrl?: string;
}

export type StateMachineKind = 'deploy' | 'rollback';

/** The twin's `GET /` index: the fields the CLI needs (others are ignored). */
export const TwinIndexSchema = z.object({
  region: z.string().min(1),
  stepFunctions: z.url(),
  dynamodb: z.object({ endpoint: z.url(), tableName: z.string().min(1) }),
  stateMachineArns: z.looseObject({ deploy: z.string().min(1), rollback: z.string().min(1).optional(), 'rollback-window': z.string().optional() }),
  /** The twin's simulated time when it answered (ISO-8601): the timeline its records are in. */
  now: z.string().optional(),
  /** Simulated seconds per real second. */
  timeScale: z.number().nonnegative().optional(),
  /** The approval function's URL (`<twin>/lambda-url/approval/`); absent on twins older than it. */
  approvalUrl: z.url().optional(),
});
export type TwinIndex = z.infer<typeof TwinIndexSchema>;

/** Where the commands talk to, resolved. Clients (lib/aws/clients.ts) are configured for it. */
export interface Target {
  readonly kind: 'twin' | 'aws';
  /** For messages: `the local twin at http://…` or `stack "Cutover"`. */
  readonly description: string;
  /** The DynamoDB table (ledger). */
  readonly tableName: string;
  /**
   * ARN of a state machine.
   * @throws CliError naming the missing output and the flag that supplies it
   */
  stateMachineArn(kind: StateMachineKind): Promise<string>;
  /**
   * Time now, for relative times ("3 min ago") and audit events, in the timeline of the target's
   * records: the real clock on AWS; on a twin, its simulated clock (from the index's `now`, moved on
   * at its time scale since it was read).
   */
  now(): Date;
  /**
   * Who the commands act as, recorded on audit events beside the declared `--operator`: on AWS the
   * caller's ARN (STS GetCallerIdentity, asked once); on a twin, which has no IAM, its access key id
   * (`access-key:<AWS_ACCESS_KEY_ID, else "local">`).
   */
  callerIdentity(): Promise<string>;
  /**
   * URL of the approval function (a Lambda function URL with AWS_IAM auth; sign calls with SigV4,
   * lib/aws/function-url.ts): `--approval-url`, else the stack output `ApprovalUrl` on AWS, the
   * index's `approvalUrl` on a twin.
   * @throws CliError naming the missing output (or that the twin is too old) and the fix
   */
  approvalUrl(): Promise<string>;
}

export interface ResolveDeps {
  /** @default global fetch */
  readonly fetch?: typeof fetch;
  /** @default a CloudFormation client in the target region */
  readonly cloudFormation?: (region: string | undefined) => CloudFormationClient;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Real time now. @default Date.now */
  readonly clock?: () => number;
  /** Wait `ms` real milliseconds (between tries of a twin that is starting). @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** How long to keep asking a twin that answers 503 (starting) before giving up, real ms. @default 120000 */
  readonly startWaitMs?: number;
}

/**
 * Resolve where to talk to and configure the SDK clients for it.
 * @throws CliError when the twin cannot be reached or does not describe itself, when the stack or
 *   its outputs are missing (with the flag or command that fixes it)
 */
export async function resolveTarget(opts: TargetOptions, deps: ResolveDeps = {}): Promise<Target> {
  const env = deps.env ?? process.env;
  const clock = deps.clock ?? Date.now;
  if (opts.approvalUrl !== undefined) checkApprovalUrl(opts.approvalUrl);
  if (opts.endpoint) {
    const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    return resolveTwin(opts, deps.fetch ?? fetch, clock, sleep, deps.startWaitMs ?? 120_000, env);
  }
  if (opts.region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(opts.region)) {
    throw new CliError(`--region "${opts.region}" is not an AWS region name (e.g. us-east-1).`);
  }
  configureClients(opts.region ? { region: opts.region } : {});
  const stack = opts.stack || env.CUTOVER_STACK || DEFAULT_STACK;
  const makeCfn = deps.cloudFormation ?? ((region) => new CloudFormationClient(region ? { region } : {}));
  let outputs: Promise<Output[]> | undefined;
  const stackOutputs = () => (outputs ??= describeStackOutputs(makeCfn(opts.region), stack));
  const fromStack = async (key: string, flag: string): Promise<string> => {
    const found = findOutput(await stackOutputs(), key);
    if (!found) {
      throw new CliError(
        `stack "${stack}" has no output "${key}": update the stack (npx cdk deploy) so it has it, or pass ${flag}.`,
      );
    }
    return found;
  };
  const tableName = opts.table ?? (await fromStack(STACK_OUTPUTS.table, '--table <name>'));
  const arns: Partial<Record<StateMachineKind, string>> = { deploy: opts.deployArn, rollback: opts.rollbackArn };
  let caller: Promise<string> | undefined;
  let approvalUrl = opts.approvalUrl;
  return {
    kind: 'aws',
    description: `stack "${stack}"`,
    tableName,
    async stateMachineArn(kind) {
      return (arns[kind] ??= await fromStack(STACK_OUTPUTS[kind], `--${kind}-arn <arn>`));
    },
    now: () => new Date(clock()),
    callerIdentity: () => (caller ??= callerArn()),
    async approvalUrl() {
      return (approvalUrl ??= await fromStack(STACK_OUTPUTS.approval, '--approval-url <url>'));
    },
  };
}

/**
 * Check `--approval-url`: an https URL, or http on the loopback (a local twin, a test server).
 * @throws CliError naming the flag, the value and the form it needs
 */
function checkApprovalUrl(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`--approval-url "${value}" is not a URL: give the approval function's URL, e.g. https://<url-id>.lambda-url.<region>.on.aws/ (the stack output ApprovalUrl).`);
  }
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new CliError(
      `--approval-url "${value}" must be an https URL (http only for 127.0.0.1 or localhost), e.g. https://<url-id>.lambda-url.<region>.on.aws/: the request carries your signed credentials.`,
    );
  }
}

async function describeStackOutputs(cfn: CloudFormationClient, stack: string): Promise<Output[]> {
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
    const found = out.Stacks?.[0];
    if (!found) throw new CliError(stackMissing(stack));
    return found.Outputs ?? [];
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof Error && /does not exist/i.test(err.message)) throw new CliError(stackMissing(stack));
    throw err;
  }
}

const stackMissing = (stack: string) =>
  `CloudFormation stack "${stack}" does not exist in this account and region: deploy it (npx cdk deploy), ` +
  'name yours with --stack <name> or CUTOVER_STACK, pass --table/--deploy-arn/--rollback-arn, or use --endpoint <url> for a local twin.';

/**
 * The value of the stack output `key`: the output of that exact name, else the one output whose name
 * ends with it (CDK names outputs of nested constructs `<path><Key><hash>`).
 */
export function findOutput(outputs: readonly Output[], key: string): string | undefined {
  const exact = outputs.find((o) => o.OutputKey === key);
  if (exact?.OutputValue) return exact.OutputValue;
  const pattern = new RegExp(`${key}(?:[0-9A-F]{8})?$`);
  const candidates = outputs.filter((o) => o.OutputKey && pattern.test(o.OutputKey) && o.OutputValue);
  return candidates.length === 1 ? candidates[0]!.OutputValue : undefined;
}

/** The body of a twin's 503 while it starts or stops (lib/local/http.ts). */
const TwinNotReadySchema = z.looseObject({ status: z.string(), waitingFor: z.array(z.string()).optional(), retryAfterSeconds: z.number().positive().optional() });

async function resolveTwin(
  opts: TargetOptions,
  fetchFn: typeof fetch,
  clock: () => number,
  sleep: (ms: number) => Promise<void>,
  startWaitMs: number,
  env: NodeJS.ProcessEnv,
): Promise<Target> {
  let base: URL;
  try {
    base = new URL(opts.endpoint!);
  } catch {
    throw new CliError(`--endpoint "${opts.endpoint}" is not a URL: give the twin's address, e.g. http://127.0.0.1:4780.`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new CliError(`--endpoint "${opts.endpoint}" must be an http(s) URL, e.g. http://127.0.0.1:4780.`);
  }
  const url = base.toString().replace(/\/+$/, '');
  let body: unknown;
  try {
    const deadline = clock() + startWaitMs;
    for (;;) {
      const res = await fetchFn(`${url}/`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
      if (res.status === 503) {
        // A twin that is starting (or stopping) says what it waits for and when to ask again.
        const notReady = TwinNotReadySchema.safeParse(await res.json().catch(() => undefined));
        if (notReady.success) {
          const waitMs = (notReady.data.retryAfterSeconds ?? 2) * 1000;
          const what = notReady.data.waitingFor?.length ? ` (waiting for ${notReady.data.waitingFor.join('; ')})` : '';
          if (notReady.data.status !== 'starting' || clock() + waitMs > deadline) {
            throw new CliError(`the local twin at ${url} is ${notReady.data.status}${what}: try again once it says it is ready.`);
          }
          await sleep(waitMs);
          continue;
        }
      }
      if (!res.ok) throw new CliError(`the local twin at ${url} answered GET / with HTTP ${res.status}: is that a cutover twin (cutover local)?`);
      body = await res.json();
      break;
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof SyntaxError) throw new CliError(`the local twin at ${url} answered GET / with something that is not JSON: is that a cutover twin (cutover local)?`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
    throw new CliError(`cannot reach the local twin at ${url} (${reason}): start it with \`npm start\` (cutover local), or check --endpoint.`);
  }
  const parsed = TwinIndexSchema.safeParse(body);
  if (!parsed.success) {
    const missing = parsed.error.issues.map((i) => i.path.join('.') || '(root)');
    throw new CliError(
      `the local twin at ${url} does not describe its table and state machines (GET / lacks or has invalid: ${[...new Set(missing)].join(', ')}): update cutover and restart the twin.`,
    );
  }
  const index = parsed.data;
  const fetchedAt = clock();
  const twinNow = index.now !== undefined && !Number.isNaN(Date.parse(index.now)) ? Date.parse(index.now) : undefined;
  // The operator's own access key id when set (the twin accepts any): what its audit events record as the caller.
  // Its secret signs the approval function URL call, which the twin verifies with the account file's
  // `principals` secret (default `local`); DynamoDB and Step Functions on the twin accept any secret.
  const accessKeyId = env.AWS_ACCESS_KEY_ID || 'local';
  const secretAccessKey = (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) || 'local';
  configureClients({
    region: index.region,
    credentials: { accessKeyId, secretAccessKey },
    endpoints: { dynamodb: index.dynamodb.endpoint, sfn: index.stepFunctions },
  });
  const arns: Partial<Record<StateMachineKind, string>> = {
    deploy: opts.deployArn ?? index.stateMachineArns.deploy,
    rollback: opts.rollbackArn ?? index.stateMachineArns.rollback,
  };
  return {
    kind: 'twin',
    description: `the local twin at ${url}`,
    tableName: opts.table ?? index.dynamodb.tableName,
    async stateMachineArn(kind) {
      const arn = arns[kind];
      if (!arn) throw new CliError(`the local twin at ${url} has no ${kind} state machine: update cutover and restart the twin.`);
      return arn;
    },
    now: () => (twinNow === undefined ? new Date(clock()) : new Date(twinNow + (clock() - fetchedAt) * (index.timeScale ?? 1))),
    callerIdentity: async () => `access-key:${accessKeyId}`,
    async approvalUrl() {
      const found = opts.approvalUrl ?? index.approvalUrl;
      if (!found) throw new CliError(`the local twin at ${url} has no approval function URL (GET / lacks approvalUrl): update cutover and restart the twin.`);
      return found;
    },
  };
}
