/**
 * Managed IAM policies for the people who run cutover, one per role (seed 003's roles; GitHub
 * environments' reviewers), scoped to this stack's state machines, ledger table, topic and approval
 * function. Attach them to your IAM roles or groups (or permission sets) — cutover creates no role for
 * people:
 *
 *  - **viewer** — monitor: `cutover status`, `history`, `metrics`; the executions in the console.
 *  - **deployer** — viewer + start deployments (`cutover deploy`, `retry`, `promote-release`) and
 *    write its own audit events.
 *  - **approver** — viewer + approve or reject (`cutover approve`, `reject`) through the approval
 *    function only (lib/constructs/approval-function.ts: a function URL with `AuthType: AWS_IAM`),
 *    which checks the SigV4-verified caller against the environment's `approvers`, answers the wait and
 *    writes the approval and its audit event itself. The approver gets no `states:SendTaskSuccess` /
 *    `SendTaskFailure` (which support no resource-level permission, so could not be narrowed to
 *    approvals) and no audit write. Invoking a function URL needs `lambda:InvokeFunctionUrl` and, since
 *    October 2025, `lambda:InvokeFunction` too: the latter only with `lambda:InvokedViaFunctionUrl`,
 *    so the function cannot be invoked directly with a forged request (what aws-cdk-lib's
 *    `grantInvokeUrl` grants).
 *  - **operator** — deployer + approver (the approval function) + answer the other waits
 *    (`cutover abort`, `promote`, `override-window`, database decisions: SendTaskSuccess /
 *    SendTaskFailure), roll back (`cutover rollback`), abort (the ledger's abort request on the lock).
 *    An operator's SendTaskSuccess is not an approval of an environment with `approvers`: the deploy
 *    state machine accepts only an approval the approval function recorded for one of them.
 *
 * Audit writes are limited to the audit timeline's items (`dynamodb:LeadingKeys` `AUDIT#*`), the
 * operator's lock update to lock items (`LOCK#*`): nobody edits a deployment record by hand.
 */
import { ArnFormat, CfnOutput, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeWildcardResources } from './nag';

export interface OperatorPoliciesProps {
  /** Names of the deploy, rollback and rollback-window state machines (ARNs are built from them: no reference cycle). */
  readonly stateMachineNames: { readonly deploy: string; readonly rollback: string; readonly rollbackWindow: string };
  /** The ledger table (records, locks, environment state, audit timeline). */
  readonly table: dynamodb.ITable;
  /** The notification topic. */
  readonly topic: sns.ITopic;
  /**
   * The approval function (lib/constructs/approval-function.ts), whose function URL (`AuthType:
   * AWS_IAM`) the approver and operator may invoke.
   */
  readonly approvalFunction: lambda.IFunction;
  /**
   * Prefix of the managed policies' names: `<prefix>-viewer`, `-deployer`, `-approver`, `-operator`.
   * @default the stack name
   */
  readonly namePrefix?: string;
}

/** The roles, from least to most. */
export const OPERATOR_ROLES = ['viewer', 'deployer', 'approver', 'operator'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

export class OperatorPolicies extends Construct {
  /** The managed policy of each role. */
  readonly policies: Readonly<Record<OperatorRole, iam.ManagedPolicy>>;

  constructor(scope: Construct, id: string, props: OperatorPoliciesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const prefix = props.namePrefix ?? stack.stackName;
    const machine = (name: string) => stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const executions = (name: string) => stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${name}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const names = [props.stateMachineNames.deploy, props.stateMachineNames.rollback, props.stateMachineNames.rollbackWindow];

    const read = [
      new iam.PolicyStatement({ sid: 'ReadStateMachines', actions: ['states:DescribeStateMachine', 'states:ListExecutions'], resources: names.map(machine) }),
      new iam.PolicyStatement({ sid: 'ReadExecutions', actions: ['states:DescribeExecution', 'states:GetExecutionHistory'], resources: names.map(executions) }),
      new iam.PolicyStatement({ sid: 'ReadLedger', actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:DescribeTable'], resources: [props.table.tableArn] }),
      new iam.PolicyStatement({ sid: 'ReadTopic', actions: ['sns:GetTopicAttributes', 'sns:ListSubscriptionsByTopic'], resources: [props.topic.topicArn] }),
      new iam.PolicyStatement({ sid: 'ReadStackOutputs', actions: ['cloudformation:DescribeStacks'], resources: [stack.stackId] }),
    ];
    const writeAudit = new iam.PolicyStatement({
      sid: 'WriteAuditTimeline',
      actions: ['dynamodb:PutItem'],
      resources: [props.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['AUDIT#*'] } },
    });
    const answer = new iam.PolicyStatement({ sid: 'AnswerWaits', actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: ['*'] });
    const startDeploy = new iam.PolicyStatement({ sid: 'StartDeployments', actions: ['states:StartExecution'], resources: [machine(props.stateMachineNames.deploy)] });
    const startRollback = new iam.PolicyStatement({ sid: 'StartRollbacks', actions: ['states:StartExecution'], resources: [machine(props.stateMachineNames.rollback)] });
    const requestAbort = new iam.PolicyStatement({
      sid: 'RequestAbort',
      actions: ['dynamodb:UpdateItem'],
      resources: [props.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['LOCK#*'] } },
    });

    // What aws-cdk-lib's grantInvokeUrl grants: the URL with IAM auth, and the function only through
    // its URL (both are needed since October 2025; the condition stops a direct Invoke).
    const invokeApproval = [
      new iam.PolicyStatement({
        sid: 'InvokeApprovalFunction',
        actions: ['lambda:InvokeFunctionUrl'],
        resources: [props.approvalFunction.functionArn],
        conditions: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
      }),
      new iam.PolicyStatement({
        sid: 'InvokeApprovalFunctionViaUrl',
        actions: ['lambda:InvokeFunction'],
        resources: [props.approvalFunction.functionArn],
        conditions: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } },
      }),
    ];

    const statements: Record<OperatorRole, iam.PolicyStatement[]> = {
      viewer: read,
      deployer: [...read, startDeploy, writeAudit],
      approver: [...read, ...invokeApproval],
      operator: [...read, startDeploy, startRollback, ...invokeApproval, answer, writeAudit, requestAbort],
    };
    const descriptions: Record<OperatorRole, string> = {
      viewer: 'cutover viewer: status, history, metrics, executions (read only)',
      deployer: 'cutover deployer: viewer + start deployments (deploy, retry, promote-release)',
      approver: 'cutover approver: viewer + approve / reject through the approval function (function URL, AWS_IAM), which checks the environment approvers',
      operator: 'cutover operator: deployer + approver + answer waits (abort, promote, override-window, database decisions), rollback and abort',
    };
    const policies = {} as Record<OperatorRole, iam.ManagedPolicy>;
    for (const role of OPERATOR_ROLES) {
      const policy = new iam.ManagedPolicy(this, role, { managedPolicyName: `${prefix}-${role}`, description: descriptions[role], statements: statements[role] });
      acknowledgeWildcardResources(
        policy,
        statements[role].filter((s) => s.sid === 'ReadExecutions'),
        'states:DescribeExecution / GetExecutionHistory on the executions of cutover\'s own state machines only (execution:<state machine>:*): execution names are not known in advance.',
      );
      if (statements[role].includes(answer)) {
        acknowledge(
          policy,
          'AwsSolutions-IAM5[Resource::*]',
          'states:SendTaskSuccess / SendTaskFailure support no resource-level permission (Service Authorization Reference for AWS Step Functions: no resource type); only holders of a task token (read from the ledger) can answer a wait.',
        );
      }
      new CfnOutput(this, `${role}PolicyArn`, { description: descriptions[role], value: policy.managedPolicyArn });
      policies[role] = policy;
    }
    this.policies = policies;
  }
}
