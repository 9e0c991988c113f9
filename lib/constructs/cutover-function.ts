/**
 * One cutover Lambda function: `lambdas/<name>/handler.ts` bundled by esbuild (ESM, no Docker), on
 * arm64 with the newest Node.js runtime, X-Ray tracing, its own log group with a retention, and a role
 * that starts with nothing but writing to that log group.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, type IConstruct } from 'constructs';
import { FUNCTIONS, functionEntry, type FunctionName } from '../catalog';
import { BUNDLED_CONFIG_FILE, CONFIG_FILE_ENV_VAR } from '../config/load';
import type { Config } from '../config/schema';
import { acknowledge, acknowledgeWildcardResources } from './nag';

/** Memory of the functions on the alarm → rollback path (`alarm`, `traffic`), MiB: CPU share, hence cold start, grows with it. */
export const ROLLBACK_PATH_MEMORY_MB = 1024;

/** Runtime of every cutover function. */
export const CUTOVER_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** Lambda's limit on the total size of a function's environment variables (keys and values). */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/**
 * Module replacements of every Lambda bundle (esbuild `alias`, paths relative to the repository root,
 * where NodejsFunction runs esbuild): see lib/aws/lambda-credentials.ts. `npm run bench -- --bundles`
 * builds the bundles with the same options and reports their size and import time.
 */
export const LAMBDA_ESBUILD_ALIAS: Readonly<Record<string, string>> = { '@aws-sdk/credential-provider-node': './lib/aws/lambda-credentials.ts' };

/** Banner that lets an ESM bundle `require` CommonJS dependencies. */
export const ESM_REQUIRE_BANNER = "import { createRequire } from 'module';const require = createRequire(import.meta.url);";

export interface CutoverFunctionProps {
  /** Which function of `FUNCTIONS` (lib/catalog.ts): the entry is `lambdas/<name>/handler.ts`, export `handler`. */
  readonly name: FunctionName;
  /**
   * Environment variables in addition to `POWERTOOLS_SERVICE_NAME=cutover` and `NODE_OPTIONS=--enable-source-maps`.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * The validated cutover config, for a function that reads it (`configFromEnv`): written into the
   * function's bundle as `cutover-config.json` and named by `CUTOVER_CONFIG_FILE`, so that its size is
   * bounded by the bundle (250 MB unzipped), not by Lambda's 4 KB environment.
   * @default - the function gets no config
   */
  readonly config?: Config;
  /**
   * Maximum run time of one invocation.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MiB (128-10240).
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * How long the function's log group keeps its logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * How many customer managed policies the role may have (IAM quota "Managed policies per role":
   * 10 by default, adjustable up to 20 with Service Quotas). Permissions that need more fail synth.
   * @default MAX_MANAGED_POLICIES_PER_ROLE (10)
   */
  readonly maxManagedPolicies?: number;
  /**
   * Where Lambda sends an **asynchronous** invocation (an EventBridge rule target) that failed after
   * its retries (the function's DeadLetterConfig; the role may SendMessage to it). Give it for a
   * function that EventBridge invokes, or a failed event is lost.
   * @default - none: the function is only invoked synchronously (a Step Functions Task or API
   *   Gateway), whose caller sees the failure and retries
   */
  readonly asyncDeadLetterQueue?: sqs.IQueue;
}

/**
 * A cutover Lambda function. Give it permissions with {@link CutoverFunction.addToRolePolicy}, which
 * requires a reason for every wildcard resource (recorded as a cdk-nag acknowledgement).
 */
export class CutoverFunction extends Construct {
  /** The Lambda function. */
  readonly lambda: NodejsFunction;
  /** The function's execution role. */
  readonly role: iam.Role;
  /** The function's log group. */
  readonly logGroup: logs.LogGroup;
  /** How many customer managed policies the role may have. */
  private readonly maxManagedPolicies: number;

  constructor(scope: Construct, id: string, props: CutoverFunctionProps) {
    super(scope, id);
    const spec = FUNCTIONS.find((f) => f.name === props.name);
    if (!spec) {
      throw new Error(`CutoverFunctionProps.name: "${props.name}" is not a cutover function; use one of ${FUNCTIONS.map((f) => f.name).join(', ')} (FUNCTIONS in lib/catalog.ts).`);
    }
    const memorySize = props.memorySize ?? 256;
    if (!Token.isUnresolved(memorySize) && (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240)) {
      throw new Error(`CutoverFunctionProps.memorySize: ${memorySize} is not a valid Lambda memory size; use a whole number of MiB from 128 to 10240.`);
    }
    this.maxManagedPolicies = validateMaxManagedPolicies(props.maxManagedPolicies ?? MAX_MANAGED_POLICIES_PER_ROLE, 'CutoverFunctionProps.maxManagedPolicies');
    const timeout = props.timeout ?? Duration.seconds(30);
    if (!timeout.isUnresolved() && (timeout.toMilliseconds() < 1000 || timeout.toSeconds() > 900)) {
      throw new Error(`CutoverFunctionProps.timeout: ${timeout.toHumanString()} is outside Lambda's limits; use 1 second to 15 minutes.`);
    }
    const environment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: 'cutover',
      NODE_OPTIONS: '--enable-source-maps',
      ...(props.config ? { [CONFIG_FILE_ENV_VAR]: BUNDLED_CONFIG_FILE } : {}),
      ...props.environment,
    };
    const size = Object.entries(environment)
      .filter(([, v]) => !Token.isUnresolved(v))
      .reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (size > LAMBDA_ENVIRONMENT_LIMIT_BYTES - 512) {
      throw new Error(
        `CutoverFunctionProps.environment: the environment of function "${props.name}" is ${size} bytes; Lambda allows ${LAMBDA_ENVIRONMENT_LIMIT_BYTES} bytes in total ` +
          '(ARNs added at deploy time need ~512 more). Pass large values as files in the bundle (as the config is: CutoverFunctionProps.config), not as variables.',
      );
    }

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `cutover ${props.name}: ${spec.description}`,
    });
    this.logGroup.grantWrite(this.role);

    this.lambda = new NodejsFunction(this, 'Function', {
      entry: functionEntry(props.name),
      handler: 'handler',
      description: spec.description,
      runtime: CUTOVER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      role: this.role,
      environment,
      ...(props.asyncDeadLetterQueue ? { deadLetterQueue: props.asyncDeadLetterQueue } : {}),
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        // Ship the SDK versions the handlers were tested with, not the runtime's.
        bundleAwsSDK: true,
        // Lambda's credentials are in the environment: the env-only provider, not the SDK's whole chain.
        esbuildArgs: Object.fromEntries(Object.entries(LAMBDA_ESBUILD_ALIAS).map(([from, to]) => [`--alias:${from}`, to])),
        ...(props.config ? { commandHooks: configFileHooks(props.config) } : {}),
      },
    });

    acknowledge(
      this.role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords, added by Lambda for active tracing) supports no resource-level permissions.',
    );
    if (!props.asyncDeadLetterQueue) {
      acknowledge(
        this.lambda,
        'Serverless-LambdaDLQ',
        `cutover ${props.name} is only invoked synchronously (a Step Functions Task, API Gateway or its function URL); a DLQ applies to asynchronous invocations only. Failures return to the caller, which retries.`,
      );
    }
  }

  /**
   * Add a statement to the function's role.
   * @param wildcardReason required when a resource contains `*`: why the action cannot be scoped further
   *   (it becomes the cdk-nag `AwsSolutions-IAM5` acknowledgement of each such resource)
   */
  addToRolePolicy(statement: iam.PolicyStatement, wildcardReason?: string): void {
    this.addToManagedPolicies(statement);
    if (statement.resources.some((r) => r.includes('*'))) {
      if (!wildcardReason) throw new Error(`A statement with a wildcard resource (${statement.actions.join(', ')}) needs a reason.`);
      acknowledgeWildcardResources(this.role, [statement], wildcardReason);
    }
  }

  /** Customer managed policies of the role, filled in order up to {@link MANAGED_POLICY_BUDGET} characters each. */
  private readonly policies: Array<{ policy: iam.ManagedPolicy; size: number }> = [];

  /**
   * Put a statement into the role's customer managed policies, in order, each up to
   * {@link MANAGED_POLICY_BUDGET} characters: a statement with more resources than the current policy
   * has room for is cut into parts (same actions and conditions) that fill it, then the next. Inline
   * policies share 10,240 characters per role, and CDK's own overflow split does not measure resolved
   * ARNs (a 50-service fleet produced 14,745-character managed policies, which IAM refuses).
   * @throws Error when the role would need more than `maxManagedPolicies` policies
   */
  private addToManagedPolicies(statement: iam.PolicyStatement): void {
    const room = () => MANAGED_POLICY_BUDGET - (this.policies.at(-1)?.size ?? MANAGED_POLICY_BUDGET);
    const whole = estimatedPolicySize(this, statement);
    // A statement that fits a policy stays whole: in the current policy, else in a new one.
    if (whole <= MANAGED_POLICY_BUDGET - EMPTY_POLICY_SIZE) {
      if (whole > room()) this.newPolicy();
      const target = this.policies.at(-1)!;
      target.policy.addStatements(statement);
      target.size += whole;
      return;
    }
    // A larger one is cut into parts (same actions and conditions) that fill each policy in turn.
    let rest = statement.resources;
    let n = 0;
    while (rest.length > 0) {
      let take = 0;
      while (take < rest.length && estimatedPolicySize(this, partOf(statement, rest.slice(0, take + 1), n + 1)) <= room()) take++;
      if (take === 0) {
        if (this.policies.length > 0 && this.policies.at(-1)!.size > EMPTY_POLICY_SIZE) {
          this.newPolicy();
          continue;
        }
        if (this.policies.length === 0) {
          this.newPolicy();
          continue;
        }
        take = 1; // one resource larger than a whole policy: IAM will say so at deploy time
      }
      const part = partOf(statement, rest.slice(0, take), ++n);
      const target = this.policies.at(-1)!;
      target.policy.addStatements(part);
      target.size += estimatedPolicySize(this, part);
      rest = rest.slice(take);
    }
  }

  private newPolicy(): void {
    if (this.policies.length === this.maxManagedPolicies) {
      throw new Error(
        `CutoverStackProps.config: the permissions of function "${this.node.id}" need more than ${this.maxManagedPolicies} managed policies of ${MANAGED_POLICY_BUDGET} characters ` +
          `(IAM allows ${MAX_MANAGED_POLICIES_PER_ROLE} managed policies per role by default, up to ${MAX_MANAGED_POLICIES_QUOTA} with a quota increase: then set CutoverStackProps.maxManagedPoliciesPerRole, context cutover:managedPoliciesPerRole). ` +
          'Split the services over several cutover stacks (context cutover:stackName and cutover:config per stack; stacks never collide).',
      );
    }
    this.policies.push({ policy: new iam.ManagedPolicy(this.role, `Policy${this.policies.length + 1}`, { roles: [this.role] }), size: EMPTY_POLICY_SIZE });
  }
}

/**
 * Bundling hooks that copy the config into the bundle's output directory as {@link BUNDLED_CONFIG_FILE}
 * (from a file named after its content hash, so that the asset hash follows the config).
 */
function configFileHooks(config: Config): { beforeBundling(): string[]; beforeInstall(): string[]; afterBundling(inputDir: string, outputDir: string): string[] } {
  const text = `${JSON.stringify(config)}\n`;
  const dir = join(tmpdir(), 'cutover-config');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`);
  writeFileSync(file, text);
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir, outputDir) => [`cp "${file}" "${join(outputDir, BUNDLED_CONFIG_FILE)}"`],
  };
}

/**
 * IAM's limit on a customer managed policy is 6,144 characters without whitespace (IAM quotas); the
 * budget leaves room for the estimate's error.
 */
export const MANAGED_POLICY_BUDGET = 5800;
/** IAM's default quota of managed policies attached to one role (IAM quotas: "Managed policies per role"). */
export const MAX_MANAGED_POLICIES_PER_ROLE = 10;
/** The most that quota can be raised to (Service Quotas, IAM "Managed policies per role"). */
export const MAX_MANAGED_POLICIES_QUOTA = 20;

/**
 * Check a number of managed policies per role against IAM's quota.
 * @returns the number
 * @throws Error naming `prop`, the value and the accepted range (1 to {@link MAX_MANAGED_POLICIES_QUOTA})
 */
export function validateMaxManagedPolicies(value: number, prop: string): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_MANAGED_POLICIES_QUOTA) {
    throw new Error(`${prop}: ${value} is not a number of managed policies IAM allows per role; use a whole number from 1 to ${MAX_MANAGED_POLICIES_QUOTA} (${MAX_MANAGED_POLICIES_PER_ROLE} unless the IAM quota "Managed policies per role" was raised).`);
  }
  return value;
}
/** `{"Version":"2012-10-17","Statement":[]}` */
const EMPTY_POLICY_SIZE = 40;

/**
 * Size in characters (no whitespace) of a statement once CloudFormation resolves it, with the longest
 * partition (`aws-us-gov`), a long region name and a 12-digit account; other references (function or
 * table ARNs) count 200 characters.
 */
export function estimatedPolicySize(scope: IConstruct, statement: iam.PolicyStatement): number {
  const pseudo: Record<string, string> = { 'AWS::Partition': 'aws-us-gov', 'AWS::Region': 'ap-southeast-5', 'AWS::AccountId': '111122223333', 'AWS::URLSuffix': 'amazonaws.com.cn' };
  const resolve = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(resolve);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.Ref === 'string') return pseudo[o.Ref] ?? 'x'.repeat(200);
      if ('Fn::GetAtt' in o) return 'x'.repeat(200);
      if ('Fn::Join' in o) {
        const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
        return (resolve(items) as unknown[]).map(String).join(delimiter);
      }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolve(x)]));
    }
    return v;
  };
  return JSON.stringify(resolve(Stack.of(scope).resolve(statement.toStatementJson()))).replace(/\s/g, '').length + 1;
}

/** Part `n` of a statement: the same actions, effect and conditions on `resources`. */
function partOf(statement: iam.PolicyStatement, resources: string[], n: number): iam.PolicyStatement {
  return new iam.PolicyStatement({
    ...(statement.sid ? { sid: `${statement.sid}${n}` } : {}),
    effect: statement.effect,
    actions: statement.actions,
    resources,
    ...(Object.keys(statement.conditions ?? {}).length > 0 ? { conditions: statement.conditions } : {}),
  });
}
