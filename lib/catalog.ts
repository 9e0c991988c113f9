/**
 * The one list of cutover's Lambda functions and state machines, shared by the CDK app
 * (lib/constructs) and the local twin (lib/local), so both wire exactly the same pieces.
 *
 * A state machine is a file `state-machines/<file>` with `${Placeholder}` tokens; every Lambda a
 * state machine calls appears there as `${<placeholder>}` and is substituted with the function's ARN
 * (CDK: `definitionSubstitutions`; twin: a local ARN that dispatches to the in-process handler).
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Repository root (this file lives in lib/). */
export const ROOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface FunctionSpec {
  /** Directory under `lambdas/`, also the function's short name. */
  readonly name: string;
  /** Placeholder used in `.asl.json` files for this function's ARN (without `${}`), if a state machine calls it. */
  readonly placeholder?: string;
  /** One line: what it does. */
  readonly description: string;
}

export const FUNCTIONS = [
  { name: 'github-webhook', description: 'Verifies GitHub push webhooks and starts deploy executions' },
  { name: 'plan', placeholder: 'PlanFunctionArn', description: 'Validates deploy input and resolves the deployment plan from config' },
  { name: 'ledger', placeholder: 'LedgerFunctionArn', description: 'Deployment lock and deployment records (DynamoDB)' },
  { name: 'ecs-release', placeholder: 'EcsReleaseFunctionArn', description: 'Task definition revisions, migration tasks, green service updates (ECS)' },
  { name: 'database', placeholder: 'DatabaseFunctionArn', description: 'Snapshots and snapshot restore (RDS / Aurora)' },
  { name: 'traffic', placeholder: 'TrafficFunctionArn', description: 'Listener weights between the blue and green target groups (ELBv2)' },
  { name: 'alarm-check', placeholder: 'AlarmCheckFunctionArn', description: 'Reads the state of the environment alarms (CloudWatch)' },
  { name: 'alarm', description: 'Reacts to a watched alarm going to ALARM: fails the running bake at once (EventBridge rule)' },
  { name: 'image-events', description: 'Ends a deployment\'s wait for its image when ECR reports the push (EventBridge rule)' },
  { name: 'approval', description: 'Answers an approval gate for the identified caller, if the environment\'s approvers include them (function URL, AWS_IAM)' },
] as const satisfies readonly FunctionSpec[];

export type FunctionName = (typeof FUNCTIONS)[number]['name'];

/** Absolute path of a function's handler entry file. */
export function functionEntry(name: FunctionName): string {
  return join(ROOT_DIR, 'lambdas', name, 'handler.ts');
}

export interface StateMachineSpec {
  /** Short name; the deployed state machine is named `cutover-<name>`. */
  readonly name: string;
  /** File under `state-machines/`. */
  readonly file: string;
  /**
   * Placeholder (without `${}`) other definitions use for this state machine's ARN, e.g. to start it
   * with `arn:aws:states:::states:startExecution`.
   */
  readonly placeholder: string;
  /** One line: what it does. */
  readonly description: string;
}

export const STATE_MACHINES = [
  {
    name: 'deploy',
    file: 'deploy.asl.json',
    placeholder: 'DeployStateMachineArn',
    description: 'Snapshot, migrations, blue/green release, traffic steps with bakes and approval gates, automatic rollback',
  },
  {
    name: 'rollback',
    file: 'rollback.asl.json',
    placeholder: 'RollbackStateMachineArn',
    description: 'Rolls a promoted release back: to the kept slot inside the rollback window, else by redeploying the last known good release',
  },
  {
    name: 'rollback-window',
    file: 'rollback-window.asl.json',
    placeholder: 'RollbackWindowStateMachineArn',
    description: 'Keeps the previous slot running for the rollback window after a promotion, then scales it down',
  },
] as const satisfies readonly StateMachineSpec[];

export type StateMachineName = (typeof STATE_MACHINES)[number]['name'];

/** The deployed name of a state machine: `cutover-<name>`. */
export function stateMachineName(name: StateMachineName): string {
  return `cutover-${name}`;
}

/** Absolute path of a state machine definition file. */
export function stateMachineFile(file: string): string {
  return join(ROOT_DIR, 'state-machines', file);
}

/** Placeholder for the AWS partition (`aws`, `aws-cn`, ...) in service-integration ARNs. */
export const PARTITION_PLACEHOLDER = 'Partition';

/** DynamoDB table key schema shared by the CDK table and the twin's table (string keys `pk`, `sk`). */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/** Every `${Name}` placeholder in a definition text. */
export function placeholdersIn(definitionText: string): string[] {
  return [...new Set([...definitionText.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!))].sort();
}
