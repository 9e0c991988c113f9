/**
 * cutover's state machines (`deploy`, `rollback`, `rollback-window`): a `state-machines/*.asl.json` file
 * with its `${…FunctionArn}` placeholders substituted by the ARNs of the cutover functions and its
 * `${…StateMachineArn}` placeholders by the ARNs of the other state machines (CloudFormation
 * `DefinitionSubstitutions`).
 */
import { readFileSync } from 'node:fs';
import { Aws, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { FUNCTIONS, PARTITION_PLACEHOLDER, placeholdersIn, stateMachineFile, type FunctionName } from '../catalog';
import { acknowledge, acknowledgeWildcardResources } from './nag';

/** Names of the functions a state machine calls (those with a placeholder in `FUNCTIONS`). */
export type StateMachineFunctionName = Extract<(typeof FUNCTIONS)[number], { placeholder: string }>['name'];

/** The functions a state machine may call, by name. */
export type StateMachineFunctions = Readonly<Record<StateMachineFunctionName, lambda.IFunction>>;

/**
 * `definitionSubstitutions` for a state machine: every placeholder of `FUNCTIONS` → that function's ARN,
 * and `${Partition}` → the stack's partition (service-integration ARNs such as
 * `arn:${Partition}:states:::lambda:invoke.waitForTaskToken` differ in aws-cn / aws-us-gov).
 * @throws if a function with a placeholder is missing from `functions`
 */
export function definitionSubstitutions(functions: Partial<Record<FunctionName, lambda.IFunction>>): Record<string, string> {
  const substitutions: Record<string, string> = { [PARTITION_PLACEHOLDER]: Aws.PARTITION };
  for (const spec of FUNCTIONS) {
    if (!('placeholder' in spec)) continue;
    const fn = functions[spec.name];
    if (!fn) throw new Error(`functions.${spec.name}: missing; the state machines reference it as \${${spec.placeholder}}. Pass the "${spec.name}" function.`);
    substitutions[spec.placeholder] = fn.functionArn;
  }
  return substitutions;
}

/**
 * Read a definition file and check that every `${Placeholder}` in it has a substitution.
 * @returns the definition text (minified JSON)
 * @throws naming the file, the placeholder and the fix
 */
export function loadDefinition(file: string, substitutions: Readonly<Record<string, string>>, prop = 'definitionFile'): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${prop}: cannot read state machine definition ${file}: ${(err as Error).message}. Pass an existing .asl.json file.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${prop}: ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const missing = placeholdersIn(text).filter((p) => !(p in substitutions));
  if (missing.length > 0) {
    throw new Error(
      `${prop}: ${file} uses ${missing.map((p) => `\${${p}}`).join(', ')}, which no function provides; ` +
        `use one of ${Object.keys(substitutions).map((p) => `\${${p}}`).join(', ')} or add the function with that placeholder to FUNCTIONS in lib/catalog.ts.`,
    );
  }
  return JSON.stringify(json);
}

export interface DeployStateMachineProps {
  /** The functions the definition calls; each placeholder of `FUNCTIONS` is substituted with its function's ARN. */
  readonly functions: StateMachineFunctions;
  /**
   * ARNs of the state machines the definition starts (`arn:aws:states:::states:startExecution`), by
   * their placeholder in `STATE_MACHINES` (e.g. `RollbackWindowStateMachineArn`). Build them from the
   * names (`Stack.formatArn`) so that two state machines can start each other without a cycle. The
   * role may start exactly these (and, for `.sync`, describe and stop their executions).
   * @default - none: a definition that starts another state machine fails synth, naming the placeholder
   */
  readonly startableStateMachines?: Readonly<Record<string, string>>;
  /**
   * The ASL definition file (JSONPath) with `${Placeholder}` tokens.
   * @default stateMachineFile('deploy.asl.json')
   */
  readonly definitionFile?: string;
  /**
   * Name of the state machine.
   * @default 'cutover-deploy'
   */
  readonly stateMachineName?: string;
  /**
   * How long the execution log group keeps its logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A Standard state machine with full execution logging (level ALL, with execution data) to its own log
 * group and X-Ray tracing; its role may invoke exactly the functions it calls.
 */
export class DeployStateMachine extends Construct {
  /** The state machine. */
  readonly stateMachine: sfn.StateMachine;
  /** The execution log group. */
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: DeployStateMachineProps) {
    super(scope, id);
    const name = props.stateMachineName ?? 'cutover-deploy';
    if (!Token.isUnresolved(name) && !/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
      throw new Error(`DeployStateMachineProps.stateMachineName: "${name}" is not a valid state machine name; use 1-80 letters, digits, "-" or "_".`);
    }
    const startable = props.startableStateMachines ?? {};
    const substitutions = { ...definitionSubstitutions(props.functions), ...startable };
    const definition = loadDefinition(props.definitionFile ?? stateMachineFile('deploy.asl.json'), substitutions, 'DeployStateMachineProps.definitionFile');

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: name,
      stateMachineType: sfn.StateMachineType.STANDARD,
      // The definition goes into the template (DefinitionString), so `cdk diff` shows its changes;
      // `DefinitionBody.fromFile` would upload it as an S3 asset instead.
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: substitutions,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    // Only the functions this definition calls, and unqualified ARNs only: the definition invokes
    // $LATEST (grantInvoke would also allow `<arn>:*`).
    const called = placeholdersIn(definition);
    for (const spec of FUNCTIONS) {
      const fn = props.functions[spec.name as keyof StateMachineFunctions] as lambda.IFunction | undefined;
      if (fn && 'placeholder' in spec && called.includes(spec.placeholder)) fn.grantInvokeLatestVersion(this.stateMachine);
    }
    // cfn-lint validates the definition without applying DefinitionSubstitutions, so every
    // `arn:${Partition}:states:::…` Task resource (and OutputPath on a Succeed state, which ASL allows)
    // is an E3601 false positive there; the definition itself is checked by test/state-machines.
    (this.stateMachine.node.defaultChild as sfn.CfnStateMachine).addMetadata('cfn-lint', {
      config: { ignore_checks: ['E3601'], ignore_reason: 'E3601: cfn-lint does not apply DefinitionSubstitutions (${Partition}, function ARNs); ASL allows OutputPath on Succeed states' },
    });
    const used = Object.entries(startable).filter(([placeholder]) => placeholdersIn(definition).includes(placeholder));
    if (used.length > 0) this.allowStarting(used.map(([, arn]) => arn), definition.includes(':states:::states:startExecution.sync'));

    acknowledge(
      this.stateMachine.role,
      'AwsSolutions-IAM5[Resource::*]',
      'Added by Step Functions for execution logging (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and X-Ray (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets); none supports resource-level permissions.',
    );
  }

  /** The role of the state machine. */
  get role(): iam.IRole {
    return this.stateMachine.role;
  }

  /**
   * Let the role start executions of `stateMachineArns`; with `sync`, also describe and stop them and
   * manage the EventBridge rule Step Functions uses to learn that a child finished (IAM policies for
   * "Run a Job (.sync)" of Step Functions: StartExecution, DescribeExecution, StopExecution, and
   * events:PutTargets/PutRule/DescribeRule on StepFunctionsGetEventsForStepFunctionsExecutionRule).
   */
  private allowStarting(stateMachineArns: string[], sync: boolean): void {
    const stack = Stack.of(this);
    const statements = [new iam.PolicyStatement({ sid: 'StartExecutions', actions: ['states:StartExecution'], resources: stateMachineArns })];
    if (sync) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'FollowExecutions',
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: stateMachineArns.map((arn) => `${arn.replace(':stateMachine:', ':execution:')}:*`),
        }),
        new iam.PolicyStatement({
          sid: 'SyncEventsRule',
          actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
          resources: [stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForStepFunctionsExecutionRule' })],
        }),
      );
    }
    for (const st of statements) this.stateMachine.addToRolePolicy(st);
    if (sync) {
      acknowledgeWildcardResources(
        this.stateMachine.role,
        statements.slice(1, 2),
        'states:DescribeExecution / StopExecution on the executions of the state machine it starts with .sync:2 only (execution:<state machine>:*), as Step Functions requires to follow a child execution.',
      );
    }
  }
}
