/**
 * The cutover stack: the ledger table, the functions, the `deploy`, `rollback` and `rollback-window`
 * state machines, the notification topic, the GitHub webhook, the CodeCommit trigger (when the config
 * has CodeCommit repositories), the alarm rule and function (when an environment lists alarms) and
 * the image rule and `image-events` function (when an environment's image is in Amazon ECR), the
 * `approval` function behind its function URL (AWS_IAM), and the managed policies for people.
 * Outputs: `TableName`, `DeployStateMachineArn`, `RollbackStateMachineArn`, `NotificationTopicArn`
 * (what `cutover status --stack <name>` reads), `ApprovalUrl` (what `cutover approve` / `reject`
 * call), plus the webhook's and the managed policies'.
 */
import { ArnFormat, CfnOutput, Stack, Token, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { parseConfig } from '../config/load';
import type { Config } from '../config/schema';
import { alarmEventPattern } from '../domain/alarm-events';
import { codeCommitRepositories } from '../domain/event-rules';
import { imageEventPattern } from '../domain/image-events';
import { stateMachineFile } from '../catalog';
import { AlarmTrigger } from './alarm-trigger';
import { ApprovalFunction } from './approval-function';
import { CodeCommitTrigger } from './codecommit-trigger';
import { validateMaxManagedPolicies } from './cutover-function';
import { DeployFunctions } from './deploy-functions';
import { DeployStateMachine } from './deploy-state-machine';
import { GitHubWebhook } from './github-webhook';
import { ImageTrigger } from './image-trigger';
import { LedgerTable } from './ledger-table';
import { taskTokenStatements } from './permissions';
import { acknowledgeWildcardResources } from './nag';
import { NotificationTopic } from './notification-topic';
import { OperatorPolicies } from './operator-policies';
import { STATE_MACHINES, stateMachineName, type StateMachineName } from '../catalog';

/** Step Functions' limit on a state machine name (CreateStateMachine, name: 1-80 characters). */
const MAX_STATE_MACHINE_NAME = 80;

export interface CutoverStackProps extends StackProps {
  /**
   * The cutover config (see lib/config/schema.ts). Validated again here, so an invalid object fails
   * synth with the path of each bad field and the fix.
   */
  readonly config: Config;
  /**
   * How long every log group of the stack (functions, state machine, API access logs) keeps its logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Name of the Secrets Manager secret holding the GitHub webhook secret.
   * @default `<stack name>/github-webhook-secret`
   */
  readonly webhookSecretName?: string;
  /**
   * ARNs of the ECS task and execution roles of the services' task definitions: a new task definition
   * revision (and the migration task) keeps them, so `ecs-release` must pass them to ECS
   * (`iam:PassRole`, only to ecs-tasks.amazonaws.com). Required: cutover never passes any role.
   * In `bin/app.ts`, the context `cutover:taskRoleArns` (a JSON array, or ARNs separated by commas).
   */
  readonly taskRoleArns: readonly string[];
  /**
   * How many customer managed policies a function's role may have. IAM allows 10 per role unless the
   * account's quota ("Managed policies per role", Service Quotas) was raised, up to 20; one stack holds
   * about 80 services with 10 and about 150 with 20 (the `database` function's role fills first).
   * In `bin/app.ts`, the context `cutover:managedPoliciesPerRole`.
   * @default 10
   */
  readonly maxManagedPoliciesPerRole?: number;
  /**
   * Name of the `deploy` state machine.
   * @default `<stack name>-deploy`
   */
  readonly deployStateMachineName?: string;
  /**
   * Name of the `rollback` state machine.
   * @default `<stack name>-rollback`
   */
  readonly rollbackStateMachineName?: string;
  /**
   * Name of the `rollback-window` state machine.
   * @default `<stack name>-rollback-window`
   */
  readonly rollbackWindowStateMachineName?: string;
}

export class CutoverStack extends Stack {
  /** The validated config (defaults applied). */
  readonly config: Config;
  /** Locks and deployment records. */
  readonly ledger: LedgerTable;
  /** The functions the state machine calls. */
  readonly functions: DeployFunctions;
  /** The `deploy` state machine. */
  readonly deploy: DeployStateMachine;
  /** The `rollback` state machine (alarm after a promotion, `cutover rollback`, the console). */
  readonly rollback: DeployStateMachine;
  /** The `rollback-window` state machine (scales the kept slot down when the window ends). */
  readonly rollbackWindow: DeployStateMachine;
  /** The notification topic (started, awaiting approval, succeeded, rolled back, failed, alarm). */
  readonly notifications: NotificationTopic;
  /** Managed IAM policies for people: viewer, deployer, approver, operator (lib/constructs/operator-policies.ts). */
  readonly operatorPolicies: OperatorPolicies;
  /** The GitHub webhook (HTTP API, secret, function). */
  readonly webhook: GitHubWebhook;
  /** The CodeCommit trigger, when a service uses CodeCommit. */
  readonly codeCommit?: CodeCommitTrigger;
  /** The alarm rule and function, when an environment lists alarms. */
  readonly alarms?: AlarmTrigger;
  /** The image rule and `image-events` function, when an environment's `imageRepository` is an Amazon ECR repository. */
  readonly images?: ImageTrigger;
  /**
   * The `approval` function and its function URL (AWS_IAM): approvals and rejections, checked against
   * the environment's `approvers` (lib/constructs/approval-function.ts).
   */
  readonly approval: ApprovalFunction;

  constructor(scope: Construct, id: string, props: CutoverStackProps) {
    super(scope, id, props);
    this.config = parseConfig(props.config, 'CutoverStackProps.config');
    if (!props.taskRoleArns || props.taskRoleArns.length === 0) {
      throw new Error(
        'CutoverStackProps.taskRoleArns: list the task and execution role ARNs of your services\' task definitions, which ecs-release passes on to each new revision ' +
          '(context cutover:taskRoleArns, e.g. -c cutover:taskRoleArns=arn:aws:iam::111122223333:role/app-task,arn:aws:iam::111122223333:role/app-execution). ' +
          'Find them with `aws ecs describe-task-definition --task-definition <family> --query "taskDefinition.[taskRoleArn,executionRoleArn]"`.',
      );
    }

    this.ledger = new LedgerTable(this, 'Ledger');
    const maxManagedPoliciesPerRole =
      props.maxManagedPoliciesPerRole === undefined ? undefined : validateMaxManagedPolicies(props.maxManagedPoliciesPerRole, 'CutoverStackProps.maxManagedPoliciesPerRole');
    this.functions = new DeployFunctions(this, 'Functions', {
      config: this.config,
      table: this.ledger.table,
      taskRoleArns: props.taskRoleArns,
      logRetention: props.logRetention,
      maxManagedPoliciesPerRole,
    });
    this.notifications = new NotificationTopic(this, 'Notifications');
    // From the stack name, so that two cutover stacks in one account and region never collide.
    const nameOf = (given: string | undefined, suffix: StateMachineName, prop: string): string => {
      if (given !== undefined) return given;
      const name = `${this.stackName}-${suffix}`;
      if (!Token.isUnresolved(name) && name.length > MAX_STATE_MACHINE_NAME) {
        throw new Error(
          `CutoverStackProps.${prop}: the default "${name}", from the stack name "${this.stackName}" (${this.stackName.length} characters), is ${name.length} characters; ` +
            `Step Functions allows ${MAX_STATE_MACHINE_NAME}. Use a stack name of at most ${MAX_STATE_MACHINE_NAME - '-rollback-window'.length} characters (context cutover:stackName) or set ${prop}.`,
        );
      }
      return name;
    };
    const names: Record<StateMachineName, string> = {
      deploy: nameOf(props.deployStateMachineName, 'deploy', 'deployStateMachineName'),
      rollback: nameOf(props.rollbackStateMachineName, 'rollback', 'rollbackStateMachineName'),
      'rollback-window': nameOf(props.rollbackWindowStateMachineName, 'rollback-window', 'rollbackWindowStateMachineName'),
    };
    // ARNs from names, not resources: the state machines start each other and the functions start and
    // describe them, which as references would make cycles (state machine → function → role → state machine).
    const arnOf = (name: StateMachineName, resource: 'stateMachine' | 'execution' = 'stateMachine') =>
      Stack.of(this).formatArn({ service: 'states', resource, resourceName: resource === 'execution' ? `${names[name]}:*` : names[name], arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const startable = Object.fromEntries(STATE_MACHINES.map((m) => [m.placeholder, arnOf(m.name)]));
    const machine = (id: string, name: StateMachineName) =>
      new DeployStateMachine(this, id, {
        functions: this.functions.lambdas,
        definitionFile: stateMachineFile(STATE_MACHINES.find((m) => m.name === name)!.file),
        stateMachineName: names[name],
        startableStateMachines: startable,
        logRetention: props.logRetention,
      });
    this.deploy = machine('Deploy', 'deploy');
    this.rollback = machine('Rollback', 'rollback');
    this.rollbackWindow = machine('RollbackWindow', 'rollback-window');

    // The ledger reclaims a lock whose execution is no longer running (DescribeExecution); any of the
    // three state machines' executions can hold a lock. It also publishes notifications.
    const describeHolder = new iam.PolicyStatement({
      actions: ['states:DescribeExecution'],
      resources: STATE_MACHINES.map((m) => arnOf(m.name, 'execution')),
    });
    const ledgerFn = this.functions.functions.ledger;
    const ledgerRole = ledgerFn.role;
    ledgerRole.addToPrincipalPolicy(describeHolder);
    acknowledgeWildcardResources(
      ledgerRole,
      [describeHolder],
      'states:DescribeExecution on executions of cutover\'s own state machines only (execution:<state machine>:*): the ledger checks whether the execution holding a deployment lock still runs before reclaiming the lock.',
    );
    ledgerFn.lambda.addEnvironment('NOTIFICATION_TOPIC_ARN', this.notifications.topic.topicArn);
    this.notifications.topic.grantPublish(ledgerRole);

    this.webhook = new GitHubWebhook(this, 'GitHubWebhook', {
      config: this.config,
      stateMachine: this.deploy.stateMachine,
      table: this.ledger.table,
      secretName: props.webhookSecretName ?? `${this.stackName}/github-webhook-secret`,
      logRetention: props.logRetention,
    });

    // GitHub API access (services with `github`): the ledger reads checks and reports GitHub
    // Deployments; the webhook reads checks when a check_run / status webhook comes and answers the
    // checks gate's wait (SendTaskSuccess). Only the configured token secrets.
    const tokenSecrets = githubTokenSecretResources(this.config);
    if (tokenSecrets.length > 0) {
      const readToken = () => new iam.PolicyStatement({ sid: 'GitHubToken', actions: ['secretsmanager:GetSecretValue'], resources: tokenSecrets });
      ledgerFn.addToRolePolicy(readToken(), tokenSecrets.some((r) => r.includes('*')) ? GITHUB_TOKEN_WILDCARD_REASON : undefined);
      this.webhook.function.addToRolePolicy(readToken(), tokenSecrets.some((r) => r.includes('*')) ? GITHUB_TOKEN_WILDCARD_REASON : undefined);
    }
    if (Object.values(this.config.services).some((svc) => svc.checks)) {
      for (const st of taskTokenStatements(['states:SendTaskSuccess'])) this.webhook.function.addToRolePolicy(st.statement, st.wildcardReason);
    }
    if (codeCommitRepositories(this.config).length > 0) {
      this.codeCommit = new CodeCommitTrigger(this, 'CodeCommit', { config: this.config, stateMachine: this.deploy.stateMachine });
    }
    if (alarmEventPattern(this.config)) {
      this.alarms = new AlarmTrigger(this, 'Alarms', {
        config: this.config,
        table: this.ledger.table,
        rollbackStateMachineArn: arnOf('rollback'),
        topic: this.notifications.topic,
        logRetention: props.logRetention,
      });
    }
    if (imageEventPattern(this.config)) {
      this.images = new ImageTrigger(this, 'Images', {
        config: this.config,
        table: this.ledger.table,
        logRetention: props.logRetention,
        maxManagedPolicies: maxManagedPoliciesPerRole,
      });
    }

    this.approval = new ApprovalFunction(this, 'Approval', {
      table: this.ledger.table,
      logRetention: props.logRetention,
      maxManagedPolicies: maxManagedPoliciesPerRole,
    });

    // Managed policies for the people who run cutover (viewer, deployer, approver, operator).
    this.operatorPolicies = new OperatorPolicies(this, 'OperatorPolicies', {
      stateMachineNames: { deploy: names.deploy, rollback: names.rollback, rollbackWindow: names['rollback-window'] },
      table: this.ledger.table,
      topic: this.notifications.topic,
      approvalFunction: this.approval.function.lambda,
    });

    new CfnOutput(this, 'TableName', { description: 'cutover ledger table (locks, records, environment state, audit timeline)', value: this.ledger.table.tableName });
    new CfnOutput(this, 'DeployStateMachineArn', { description: 'Start a deployment: {"service","environment","release":{"commit"}}', value: this.deploy.stateMachine.stateMachineArn });
    new CfnOutput(this, 'RollbackStateMachineArn', { description: 'Start a rollback: {"service","environment","reason","toDeployment"?}', value: this.rollback.stateMachine.stateMachineArn });
    new CfnOutput(this, 'NotificationTopicArn', { description: 'Subscribe to deployment notifications (message attributes kind, service, environment)', value: this.notifications.topic.topicArn });
    new CfnOutput(this, 'ApprovalUrl', {
      description: 'Function URL (AWS_IAM) that cutover approve / reject call: approvals checked against the environment approvers',
      value: this.approval.url.url,
    });
  }
}

const GITHUB_TOKEN_WILDCARD_REASON =
  'secretsmanager:GetSecretValue on the configured GitHub token secrets only; a secret ARN given without its 6-character suffix is matched as <arn>-?????? (Secrets Manager appends the suffix).';

/**
 * The ARNs of the GitHub token secrets the config names (`services.*.github.tokenSecretArn`), for
 * GetSecretValue: a full ARN as it is, a partial one (without Secrets Manager's `-xxxxxx` suffix) as
 * `<arn>-??????` (Secrets Manager's guidance for policies on partial ARNs).
 */
export function githubTokenSecretResources(config: Config): string[] {
  const arns = new Set<string>();
  for (const svc of Object.values(config.services)) {
    if (!svc.github) continue;
    const arn = svc.github.tokenSecretArn;
    arns.add(/-[A-Za-z0-9]{6}$/.test(arn) ? arn : `${arn}-??????`);
  }
  return [...arns];
}
