/**
 * One cutover Lambda function: `lambdas/<name>/handler.ts` bundled by esbuild (ESM, no Docker), on
 * arm64 with the newest Node.js runtime, X-Ray tracing, its own log group with a retention, and a role
 * that starts with nothing but writing to that log group.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FUNCTIONS, functionEntry, type FunctionName } from '../catalog';
import { BUNDLED_CONFIG_FILE, CONFIG_FILE_ENV_VAR } from '../config/load';
import type { Config } from '../config/schema';
import { acknowledge, acknowledgeWildcardResources } from './nag';

/** Runtime of every cutover function. */
export const CUTOVER_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** Lambda's limit on the total size of a function's environment variables (keys and values). */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

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
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        // Ship the SDK versions the handlers were tested with, not the runtime's.
        bundleAwsSDK: true,
        ...(props.config ? { commandHooks: configFileHooks(props.config) } : {}),
      },
    });

    acknowledge(
      this.role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords, added by Lambda for active tracing) supports no resource-level permissions.',
    );
    acknowledge(
      this.lambda,
      'Serverless-LambdaDLQ',
      `cutover ${props.name} is only invoked synchronously (Step Functions Task or API Gateway); a DLQ applies to asynchronous invocations only. Failures return to the caller, which retries.`,
    );
  }

  /**
   * Add a statement to the function's role.
   * @param wildcardReason required when a resource contains `*`: why the action cannot be scoped further
   *   (it becomes the cdk-nag `AwsSolutions-IAM5` acknowledgement of each such resource)
   */
  addToRolePolicy(statement: iam.PolicyStatement, wildcardReason?: string): void {
    this.role.addToPrincipalPolicy(statement);
    if (statement.resources.some((r) => r.includes('*'))) {
      if (!wildcardReason) throw new Error(`A statement with a wildcard resource (${statement.actions.join(', ')}) needs a reason.`);
      acknowledgeWildcardResources(this.role, [statement], wildcardReason);
    }
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
