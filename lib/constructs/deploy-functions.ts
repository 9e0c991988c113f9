/**
 * The functions the `deploy` state machine calls, each with the permissions its step needs, scoped to
 * the resources in the config (see ./permissions.ts).
 */
import { Duration, Token } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FUNCTIONS } from '../catalog';
import type { Config } from '../config/schema';
import { CutoverFunction, ROLLBACK_PATH_MEMORY_MB } from './cutover-function';
import type { StateMachineFunctionName, StateMachineFunctions } from './deploy-state-machine';
import { alarmCheckStatements, databaseStatements, ecrImageStatements, ecsReleaseStatements, ledgerTableStatements, taskTokenStatements, trafficStatements, type ScopedStatement } from './permissions';

const IAM_ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

export interface DeployFunctionsProps {
  /** The validated cutover config: `plan` receives it as `CUTOVER_CONFIG`; permissions are scoped to its resources. */
  readonly config: Config;
  /** The table of locks and deployment records (`ledger` gets read/write, as `TABLE_NAME`). */
  readonly table: dynamodb.ITable;
  /**
   * ARNs of the ECS task and execution roles `ecs-release` may pass when it registers a revision or
   * runs the migration task (only to ecs-tasks.amazonaws.com: iam:PassedToService). Required, non-empty.
   */
  readonly taskRoleArns: readonly string[];
  /**
   * How long the functions' log groups keep their logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * How many customer managed policies each function's role may have (IAM quota, 10 by default, up to 20).
   * @default MAX_MANAGED_POLICIES_PER_ROLE (10)
   */
  readonly maxManagedPoliciesPerRole?: number;
}

/** `plan`, `ledger`, `ecs-release`, `database`, `traffic`, `alarm-check` (30 s, 256 MiB each). */
export class DeployFunctions extends Construct {
  /** Each function by name. */
  readonly functions: Readonly<Record<StateMachineFunctionName, CutoverFunction>>;

  constructor(scope: Construct, id: string, props: DeployFunctionsProps) {
    super(scope, id);
    for (const [i, roleArn] of props.taskRoleArns.entries()) {
      if (!Token.isUnresolved(roleArn) && !IAM_ROLE_ARN.test(roleArn)) {
        throw new Error(`DeployFunctionsProps.taskRoleArns[${i}]: "${roleArn}" is not an IAM role ARN; use arn:aws:iam::<account>:role/<name>.`);
      }
    }
    const environment: Partial<Record<StateMachineFunctionName, Record<string, string>>> = {
      ledger: { TABLE_NAME: props.table.tableName },
    };
    // The image gate (findImage, and awaitImage's second look) reads the configured ECR repositories.
    const images = ecrImageStatements(this, props.config);
    const statements: Partial<Record<StateMachineFunctionName, ScopedStatement[]>> = {
      'ecs-release': [...ecsReleaseStatements(this, props.config, props.taskRoleArns), ...images],
      database: databaseStatements(this, props.config),
      traffic: trafficStatements(this, props.config),
      'alarm-check': alarmCheckStatements(this, props.config),
      // awaitBake checks the alarms as a bake starts and fails its own token when one is already in ALARM;
      // awaitImage ends its own wait (SendTaskSuccess) when the image arrived before the token was stored.
      ledger: [
        ...alarmCheckStatements(this, props.config),
        ...taskTokenStatements(images.length > 0 ? ['states:SendTaskFailure', 'states:SendTaskSuccess'] : ['states:SendTaskFailure']),
        ...images,
      ],
    };

    const functions: Partial<Record<StateMachineFunctionName, CutoverFunction>> = {};
    for (const spec of FUNCTIONS) {
      if (!('placeholder' in spec)) continue;
      const fn = new CutoverFunction(this, pascal(spec.name), {
        name: spec.name,
        // traffic moves production traffic back on a rollback: sized for latency, as the alarm function is.
        ...(spec.name === 'traffic' ? { memorySize: ROLLBACK_PATH_MEMORY_MB } : {}),
        // Only plan reads the config (the others get everything they need in their event).
        ...(spec.name === 'plan' ? { config: props.config } : {}),
        timeout: Duration.seconds(30),
        logRetention: props.logRetention,
        maxManagedPolicies: props.maxManagedPoliciesPerRole,
        environment: environment[spec.name],
      });
      for (const s of statements[spec.name] ?? []) fn.addToRolePolicy(s.statement, s.wildcardReason);
      functions[spec.name] = fn;
    }
    for (const st of ledgerTableStatements(props.table.tableArn)) functions.ledger!.addToRolePolicy(st.statement);
    this.functions = functions as Record<StateMachineFunctionName, CutoverFunction>;
  }

  /** The Lambda functions by name, as the state machine needs them. */
  get lambdas(): StateMachineFunctions {
    return Object.fromEntries(Object.entries(this.functions).map(([k, f]) => [k, f.lambda])) as unknown as Record<StateMachineFunctionName, lambda.IFunction>;
  }
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}
