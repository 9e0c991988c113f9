/**
 * The cutover stack: the ledger table, the functions, the `deploy` state machine, the GitHub webhook,
 * the CodeCommit trigger (when the config has CodeCommit repositories) and the alarm rule and function
 * (when an environment lists alarms).
 */
import { ArnFormat, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { parseConfig } from '../config/load';
import type { Config } from '../config/schema';
import { alarmEventPattern } from '../domain/alarm-events';
import { codeCommitRepositories } from '../domain/event-rules';
import { AlarmTrigger } from './alarm-trigger';
import { CodeCommitTrigger } from './codecommit-trigger';
import { DeployFunctions } from './deploy-functions';
import { DeployStateMachine } from './deploy-state-machine';
import { GitHubWebhook } from './github-webhook';
import { LedgerTable } from './ledger-table';
import { acknowledgeWildcardResources } from './nag';

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
   * @default 'cutover/github-webhook-secret'
   */
  readonly webhookSecretName?: string;
  /**
   * ARNs of the ECS task and execution roles the `ecs-release` function may pass to ECS.
   * @default - any role, only to ecs-tasks.amazonaws.com
   */
  readonly taskRoleArns?: readonly string[];
  /**
   * Name of the `deploy` state machine.
   * @default 'cutover-deploy'
   */
  readonly deployStateMachineName?: string;
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
  /** The GitHub webhook (HTTP API, secret, function). */
  readonly webhook: GitHubWebhook;
  /** The CodeCommit trigger, when a service uses CodeCommit. */
  readonly codeCommit?: CodeCommitTrigger;
  /** The alarm rule and function, when an environment lists alarms. */
  readonly alarms?: AlarmTrigger;

  constructor(scope: Construct, id: string, props: CutoverStackProps) {
    super(scope, id, props);
    this.config = parseConfig(props.config, 'CutoverStackProps.config');

    this.ledger = new LedgerTable(this, 'Ledger');
    this.functions = new DeployFunctions(this, 'Functions', {
      config: this.config,
      table: this.ledger.table,
      taskRoleArns: props.taskRoleArns,
      logRetention: props.logRetention,
    });
    const deployStateMachineName = props.deployStateMachineName ?? 'cutover-deploy';
    this.deploy = new DeployStateMachine(this, 'Deploy', {
      functions: this.functions.lambdas,
      stateMachineName: deployStateMachineName,
      logRetention: props.logRetention,
    });
    // The ledger reclaims a lock whose execution is no longer running (DescribeExecution). The ARN is
    // built from the state machine's name, not its resource, to keep the template free of a cycle
    // (state machine → function ARN, function → role policy → state machine).
    const describeHolder = new iam.PolicyStatement({
      actions: ['states:DescribeExecution'],
      resources: [
        Stack.of(this).formatArn({
          service: 'states',
          resource: 'execution',
          resourceName: `${deployStateMachineName}:*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    });
    const ledgerRole = this.functions.lambdas.ledger!.role!;
    ledgerRole.addToPrincipalPolicy(describeHolder);
    acknowledgeWildcardResources(
      ledgerRole,
      [describeHolder],
      'states:DescribeExecution on executions of the deploy state machine only (execution:<state machine>:*): the ledger checks whether the execution holding a deployment lock still runs before reclaiming the lock.',
    );
    this.webhook = new GitHubWebhook(this, 'GitHubWebhook', {
      config: this.config,
      stateMachine: this.deploy.stateMachine,
      secretName: props.webhookSecretName,
      logRetention: props.logRetention,
    });
    if (codeCommitRepositories(this.config).length > 0) {
      this.codeCommit = new CodeCommitTrigger(this, 'CodeCommit', { config: this.config, stateMachine: this.deploy.stateMachine });
    }
    if (alarmEventPattern(this.config)) {
      this.alarms = new AlarmTrigger(this, 'Alarms', { config: this.config, table: this.ledger.table, logRetention: props.logRetention });
    }
  }
}
